"""A job's chunk files joined into its output without re-encoding (their packets copied, as
stream copy), with the input's audio muxed once over the whole, as ``livebg video`` muxes it.
"""
from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av

from livebg.errors import OutputError
from livebg.output import atomic_output
from livebg.sinks.video import AudioCarrier


def join_chunks(chunks: Sequence[Path], output: Path, *, audio_from: Path | None, rate: Fraction) -> int:
    """Copy the video packets of ``chunks`` (in order, encoded with identical settings) into
    ``output``; with ``audio_from``, carry its audio up to where the video ends (one frame
    past the last frame's time, as ``livebg video`` does). Written under a temporary name and
    renamed when complete. Returns the number of video packets."""
    fmt = {".mkv": "matroska", ".m4v": "mp4"}.get(output.suffix.lower(), output.suffix.lower().lstrip("."))
    packets = 0
    audio: AudioCarrier | None = None
    with atomic_output(output, errors=(av.FFmpegError, OSError)) as partial:
        try:
            with av.open(str(partial), mode="w", format=fmt) as out:
                stream: Any = None
                last_dts: int | None = None
                last_time: Fraction | None = None
                first: tuple | None = None  # the first chunk's time base and codec parameters
                for number, chunk in enumerate(chunks):
                    with av.open(str(chunk)) as source:
                        video = source.streams.video[0]
                        encoded = (video.time_base, video.codec_context.extradata, video.codec_context.width,
                                   video.codec_context.height)
                        if stream is None:
                            first = encoded
                            stream = cast(Any, out.add_stream_from_template(video))
                            stream.time_base = video.time_base
                            if audio_from is not None:
                                audio = AudioCarrier(audio_from, out, output.suffix.lower())
                        elif encoded != first:
                            raise OutputError(f"chunk {number} of {output.name} was encoded differently from the first "
                                              f"({chunk.name}): run the batch again without --resume")
                        for packet in source.demux(video):
                            if packet.size == 0:  # the demuxer's flush packet
                                continue
                            if packet.dts is not None and last_dts is not None and packet.dts <= last_dts:
                                raise OutputError(f"chunk {number} of {output.name} overlaps the one before it "
                                                  f"(dts {packet.dts} after {last_dts}): run the batch again without --resume")
                            last_dts = packet.dts if packet.dts is not None else last_dts
                            packet.stream = stream
                            stamp = packet.pts if packet.pts is not None else (packet.dts or 0)
                            time = Fraction(stamp) * Fraction(video.time_base or 0)
                            last_time = time if last_time is None else max(last_time, time)
                            out.mux(packet)
                            packets += 1
                            if audio is not None:
                                audio.mux_until(last_time)
                if audio is not None:
                    audio.mux_until(None if last_time is None else last_time + 1 / rate, final=True)
        finally:
            if audio is not None:
                audio.close()
    return packets
