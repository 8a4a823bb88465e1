"""Preview window for `livebg cam --preview`: an OpenCV window showing the output (optionally
beside the input) with a text overlay, and the keys pressed in it.

OpenCV windows must be driven from one thread; the live loop calls ``show`` and ``poll``
from the main thread.
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

import cv2
import numpy as np

from livebg.errors import DeviceError

MAX_WIDTH = 1920  # wider previews (side by side at 1080p) are scaled down to fit a screen
FONT = cv2.FONT_HERSHEY_SIMPLEX


def display_problem() -> str | None:
    """Why no window can be shown here, or None when a display looks available."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "--preview needs a display, and neither DISPLAY nor WAYLAND_DISPLAY is set: run it in a desktop session, or drop --preview"
    return None


def _quiet_qt_fonts() -> None:
    # opencv-python's Qt looks for fonts inside the wheel, which ships none, and warns on every
    # text draw; point it at the system's fonts when the user has not chosen a directory.
    if "QT_QPA_FONTDIR" not in os.environ:
        for candidate in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype", "/usr/share/fonts"):
            if os.path.isdir(candidate):
                os.environ["QT_QPA_FONTDIR"] = candidate
                break


def draw_text_panel(image: np.ndarray, lines: Sequence[str], *, origin: tuple[int, int] = (10, 10),
                    scale: float | None = None) -> None:
    """Draw lines of text on a dark translucent box, in place (BGR or RGB uint8)."""
    if not lines:
        return
    h, w = image.shape[:2]
    scale = scale or max(0.4, min(1.0, w / 1600))
    thickness = 1 if scale < 0.7 else 2
    line_h = int(30 * scale) + 4
    width = max(cv2.getTextSize(line, FONT, scale, thickness)[0][0] for line in lines) + 16
    x0, y0 = origin
    x1, y1 = min(w, x0 + width), min(h, y0 + line_h * len(lines) + 10)
    if x1 <= x0 or y1 <= y0:
        return
    box = image[y0:y1, x0:x1]
    cv2.convertScaleAbs(box, dst=box, alpha=0.35)  # darken, so the text reads over any picture
    for i, line in enumerate(lines):
        y = y0 + 8 + line_h * (i + 1) - 8
        cv2.putText(image, line, (x0 + 8, y), FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)


def view(rgb: np.ndarray, beside: np.ndarray | None = None) -> np.ndarray:
    """The window's BGR picture: the output, or the input and the output side by side at half
    size each, so the window stays as wide as the frame (twice the width ran off a 1280 px
    screen); never wider than MAX_WIDTH."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    width = min(rgb.shape[1], MAX_WIDTH)
    if beside is not None:
        bgr = np.hstack([cv2.cvtColor(beside, cv2.COLOR_RGB2BGR), bgr])
    if bgr.shape[1] > width:
        height = max(1, round(bgr.shape[0] * width / bgr.shape[1]))
        bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
    return bgr


class PreviewWindow:
    """An OpenCV window; ``show`` draws an RGB frame, ``poll`` returns a pressed key or None."""

    def __init__(self, *, title: str = "livebg"):
        problem = display_problem()
        if problem:
            raise DeviceError(problem)
        _quiet_qt_fonts()
        self.title = title
        self._open = False
        try:
            cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
        except cv2.error as exc:
            reason = " ".join(str(exc).split())[-160:]
            raise DeviceError(f"cannot open a preview window ({reason}): this OpenCV has no GUI support "
                              f"(opencv-python-headless?); install opencv-python, or drop --preview") from None
        self._open = True
        self._shown = False

    def show(self, rgb: np.ndarray, *, beside: np.ndarray | None = None, overlay: Sequence[str] = ()) -> None:
        """Show ``rgb`` (with ``beside``, the input, on its left when given) and an overlay text box."""
        if not self._open:
            return
        bgr = view(rgb, beside)
        draw_text_panel(bgr, overlay)
        cv2.imshow(self.title, bgr)
        self._shown = True

    def poll(self, wait_ms: int = 1) -> int | None:
        """Run the window's events for ``wait_ms``; the key pressed (lower 8 bits) or None."""
        if not self._open:
            return None
        key = cv2.waitKey(max(1, wait_ms))
        return None if key == -1 else key & 0xFF

    @property
    def closed(self) -> bool:
        """True once the user closed the window."""
        if not self._open:
            return True
        if not self._shown:
            return False
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # let the GUI process the destruction
        except cv2.error:
            pass

    def __enter__(self) -> "PreviewWindow":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
