"""Which device a --source value opens (sources/devices.py): missing ones fail in one line."""
from __future__ import annotations

import pytest

from livebg.errors import DeviceError, InputError
from livebg.sources.devices import open_capture_device


def test_missing_sources_fail_with_a_clear_message(tmp_path):
    with pytest.raises(DeviceError, match=r"camera /dev/video99 does not exist: list cameras"):
        open_capture_device("/dev/video99")
    with pytest.raises(DeviceError, match=r"camera 42 \(/dev/video42\) does not exist"):
        open_capture_device("42")
    with pytest.raises(InputError, match="--source nothere.mp4 not found"):
        open_capture_device("nothere.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(InputError, match="cannot be opened as a video"):
        open_capture_device(str(tmp_path / "junk.mp4"))
