"""SPA PODs, the binary parameters a PipeWire stream is configured with, for the PipeWire camera.

Only what a raw video source needs: the format it offers (EnumFormat), the buffers it wants
(Buffers) and the metadata in them (Meta). The layout is SPA's wire format: every POD is a
header (body size, type) and a body padded to 8 bytes; an object's body is its type and id
followed by (key, flags, POD) properties. The numbers are SPA's stable ABI (spa/utils/type.h,
spa/param/format.h, spa/param/video/raw.h, spa/param/buffers.h, spa/buffer/meta.h).
"""
from __future__ import annotations

import struct

# POD types (spa/utils/type.h)
ID, INT, RECTANGLE, FRACTION, OBJECT, CHOICE = 3, 4, 10, 11, 15, 19
CHOICE_RANGE = 1
# object types and param ids
OBJECT_FORMAT, OBJECT_PARAM_BUFFERS, OBJECT_PARAM_META = 0x40003, 0x40004, 0x40005
PARAM_ENUM_FORMAT, PARAM_FORMAT, PARAM_BUFFERS, PARAM_META = 3, 4, 5, 6
# format keys and values
FORMAT_MEDIA_TYPE, FORMAT_MEDIA_SUBTYPE = 1, 2
FORMAT_VIDEO_FORMAT, FORMAT_VIDEO_SIZE, FORMAT_VIDEO_FRAMERATE = 0x20001, 0x20003, 0x20004
MEDIA_TYPE_VIDEO, MEDIA_SUBTYPE_RAW = 2, 1
VIDEO_FORMAT_I420 = 2
# buffers and meta keys
BUFFERS_BUFFERS, BUFFERS_BLOCKS, BUFFERS_SIZE, BUFFERS_STRIDE = 1, 2, 3, 4
META_TYPE, META_SIZE = 1, 2
META_HEADER = 1
META_HEADER_SIZE = 32  # struct spa_meta_header: flags, offset (u32), pts, dts_offset (i64), seq (u64)


def _pad(body: bytes) -> bytes:
    return body + b"\0" * (-len(body) % 8)


def pod(kind: int, body: bytes) -> bytes:
    """One POD: its header (the unpadded body size and the type), then the body padded to 8 bytes."""
    return struct.pack("<II", len(body), kind) + _pad(body)


def pod_id(value: int) -> bytes:
    return pod(ID, struct.pack("<I", value))


def pod_int(value: int) -> bytes:
    return pod(INT, struct.pack("<i", value))


def pod_rectangle(width: int, height: int) -> bytes:
    return pod(RECTANGLE, struct.pack("<II", width, height))


def pod_fraction(num: int, denom: int) -> bytes:
    return pod(FRACTION, struct.pack("<II", num, denom))


def pod_int_range(default: int, low: int, high: int) -> bytes:
    """A choice of an Int between ``low`` and ``high``, ``default`` preferred."""
    child = struct.pack("<II", 4, INT)  # each value: 4 bytes, an Int
    return pod(CHOICE, struct.pack("<II", CHOICE_RANGE, 0) + child + struct.pack("<iii", default, low, high))


def pod_object(object_type: int, object_id: int, props: list[tuple[int, bytes]]) -> bytes:
    body = struct.pack("<II", object_type, object_id)
    for key, value in props:
        body += struct.pack("<II", key, 0) + value
    return pod(OBJECT, body)


def i420_enum_format(width: int, height: int, rate: tuple[int, int]) -> bytes:
    """The one format the camera offers: raw I420 video at ``width`` x ``height`` and ``rate`` (num, denom)."""
    return pod_object(OBJECT_FORMAT, PARAM_ENUM_FORMAT, [
        (FORMAT_MEDIA_TYPE, pod_id(MEDIA_TYPE_VIDEO)),
        (FORMAT_MEDIA_SUBTYPE, pod_id(MEDIA_SUBTYPE_RAW)),
        (FORMAT_VIDEO_FORMAT, pod_id(VIDEO_FORMAT_I420)),
        (FORMAT_VIDEO_SIZE, pod_rectangle(width, height)),
        (FORMAT_VIDEO_FRAMERATE, pod_fraction(*rate)),
    ])


def buffers(size: int, stride: int, *, count: tuple[int, int, int] = (4, 2, 8)) -> bytes:
    """Buffers of one block of ``size`` bytes, rows ``stride`` bytes apart; ``count`` (default, min, max)."""
    return pod_object(OBJECT_PARAM_BUFFERS, PARAM_BUFFERS, [
        (BUFFERS_BUFFERS, pod_int_range(*count)),
        (BUFFERS_BLOCKS, pod_int(1)),
        (BUFFERS_SIZE, pod_int(size)),
        (BUFFERS_STRIDE, pod_int(stride)),
    ])


def header_meta() -> bytes:
    """Each buffer carries a header (sequence number and timestamp)."""
    return pod_object(OBJECT_PARAM_META, PARAM_META, [
        (META_TYPE, pod_id(META_HEADER)),
        (META_SIZE, pod_int(META_HEADER_SIZE)),
    ])
