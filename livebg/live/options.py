"""`livebg cam` options, its argument parser and the hotkey table.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from livebg.errors import ConfigError
from livebg.sinks.files import check_writable

EFFECTS = ("blur", "gray", "white", "original")  # after the --bg itself, in the order `b` cycles them

HOTKEYS: tuple[tuple[str, str], ...] = (
    ("h", "show or hide this help"),
    ("b", "next background effect: your --bg, blur, gray, white, original"),
    ("n / p", "next / previous background image from the --bg folder"),
    ("space", "replacement on/off (pass-through)"),
    ("m", "mirror on/off"),
    ("i", "input side by side on/off (preview only)"),
    ("o", "overlay (fps, latency) on/off"),
    ("q / Esc", "quit"),
)


# -- options ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LiveOptions:
    source: str = "0"
    width: int = 0
    height: int = 0
    fps: float = 0.0
    mirror: bool = False
    vcam: bool = True
    vcam_device: str | None = None
    vcam_backend: str | None = "auto"
    preview: bool = False
    duration: float = 0.0  # 0: until stopped
    stats_json: str | None = None
    stats_log: str | None = None  # a JSON line of statistics every stats_every seconds (long runs, soak tests)
    stats_every: float = 60.0
    max_pending: int = 2  # frames the capture holds for a slow consumer before dropping the oldest
    alpha_out: str | None = None  # a directory: the matte composited onto each frame, NNNNN.png by source frame

    def validate(self) -> "LiveOptions":
        if (self.width or self.height) and not (self.width > 0 and self.height > 0):
            raise ConfigError(f"--width {self.width} --height {self.height}: give both, as positive pixel counts")
        if self.vcam and (self.width % 2 or self.height % 2):
            raise ConfigError(f"{self.width}x{self.height}: virtual cameras need even sizes; use e.g. --width 1280 --height 720")
        if self.fps < 0 or self.fps > 240:
            raise ConfigError(f"--fps {self.fps} is out of range: use 1..240")
        if self.duration < 0:
            raise ConfigError(f"--duration {self.duration} is negative: give seconds, or leave it out to run until stopped")
        if self.stats_json:
            parent = Path(self.stats_json).expanduser().parent
            if not parent.is_dir():
                raise ConfigError(f"--stats-json directory {parent} does not exist: create it or choose another path")
            check_writable(parent, "--stats-json")
        if self.stats_log:
            parent = Path(self.stats_log).expanduser().parent
            if not parent.is_dir():
                raise ConfigError(f"--stats-log directory {parent} does not exist: create it or choose another path")
            check_writable(parent, "--stats-log")
        if self.alpha_out:
            target = Path(self.alpha_out).expanduser()
            if target.exists() and not target.is_dir():
                raise ConfigError(f"--alpha-out {self.alpha_out} is a file: give a directory (new or empty) for the PNGs")
            if target.is_dir() and any(target.iterdir()):
                raise ConfigError(f"--alpha-out directory {self.alpha_out} is not empty: choose a new or empty directory")
            if not target.parent.is_dir():
                raise ConfigError(f"--alpha-out directory {target.parent} does not exist: create it or choose another path")
            check_writable(target.parent, "--alpha-out")
        if not 0.5 <= self.stats_every <= 86400:
            raise ConfigError(f"--stats-every {self.stats_every} is out of range: use 0.5..86400 seconds")
        return self


def help_lines() -> list[str]:
    return ["keys:"] + [f"  {keys:<8} {what}" for keys, what in HOTKEYS]


# -- command line -----------------------------------------------------------------------------
def add_cam_parser(subparsers, add_common_options: Callable[[argparse.ArgumentParser], None]) -> None:
    p = subparsers.add_parser(
        "cam", help="live: webcam in, virtual camera and/or preview window out",
        description="Replace the background of a webcam live: output to a virtual camera (pick 'livebg' in "
                    "Zoom or Meet) and/or a preview window.")
    p.add_argument("--source", default="0", help="camera index (default 0), /dev/videoN, or a video file or URL "
                                                 "replayed at its own frame rate as if it were a camera")
    p.add_argument("--width", type=int, default=0, help="capture width (cameras: asked of the device; files: scaled)")
    p.add_argument("--height", type=int, default=0, help="capture height")
    p.add_argument("--fps", dest="cam_fps", type=float, default=0.0, metavar="FPS",
                   help="capture rate (cameras: asked of the device; files: replay rate instead of the file's own)")
    p.add_argument("--mirror", action="store_true", help="mirror the picture, as a selfie view (hotkey m)")
    p.add_argument("--vcam", action=argparse.BooleanOptionalAction, default=True,
                   help="send the result to a virtual camera (default: on)")
    p.add_argument("--vcam-device", help="virtual camera device, e.g. /dev/video10 (default: the first one found); "
                                         "with --vcam-backend pipewire the camera's name (default livebg)")
    p.add_argument("--vcam-backend", default="auto",
                   help="v4l2loopback, pipewire (a PipeWire camera node, for Firefox, Chrome and OBS on PipeWire "
                        "desktops), obs, or another pyvirtualcam backend; default auto: v4l2loopback where a loopback "
                        "device exists, else pipewire where PipeWire runs, else the platform's")
    p.add_argument("--preview", action="store_true", help="show the result in a window with hotkeys (h lists them)")
    p.add_argument("--duration", type=float, default=0.0, metavar="SECONDS", help="stop after this many seconds")
    p.add_argument("--stats-json", metavar="FILE", help="also write the summary statistics to FILE as JSON")
    p.add_argument("--stats-log", metavar="FILE", help="append a JSON line of statistics to FILE every --stats-every "
                                                       "seconds (memory, latency, drops: for long runs)")
    p.add_argument("--stats-every", type=float, default=60.0, metavar="SECONDS", help="interval of --stats-log (default 60)")
    p.add_argument("--alpha-out", dest="cam_alpha_out", metavar="DIR",
                   help="also write the matte composited onto each frame, DIR/NNNNN.png (8-bit), NNNNN the source "
                        "frame's index (a replayed file's frame number, a camera's capture count): to score live "
                        "quality with the mask's age included (scripts/evaluate.py --live)")
    add_common_options(p)


def options_from_args(args: argparse.Namespace) -> LiveOptions:
    return LiveOptions(source=args.source, width=args.width, height=args.height, fps=args.cam_fps,
                       mirror=args.mirror, vcam=args.vcam, vcam_device=args.vcam_device,
                       vcam_backend=args.vcam_backend, preview=args.preview, duration=args.duration,
                       stats_json=args.stats_json, stats_log=args.stats_log, stats_every=args.stats_every,
                       alpha_out=getattr(args, "cam_alpha_out", None)).validate()
