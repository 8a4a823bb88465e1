"""Blending a frame over its background with an alpha matte (RGB, RGBA), on CPU or a torch
device, and the light-wrap effect.
"""
from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np

from livebg.composite.base import Background
from livebg.composite.harmonize import Harmonizer


def composite(frame: np.ndarray, alpha: np.ndarray, background: np.ndarray | None,
              out: np.ndarray | None = None) -> np.ndarray:
    """Blend: alpha * frame + (1 - alpha) * background, in uint8 with float32 weights.

    With ``background`` None the result is RGBA with the alpha in the fourth channel.
    """
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be uint8 HxWx3, got {frame.dtype} {frame.shape}")
    if alpha.dtype != np.float32 or alpha.shape != frame.shape[:2]:
        raise ValueError(f"alpha must be float32 {frame.shape[:2]}, got {alpha.dtype} {alpha.shape}")
    if background is None:
        a8 = cv2.convertScaleAbs(alpha, alpha=255.0)
        return cv2.merge([*cv2.split(frame), a8], dst=out)
    if background is frame:
        return frame
    return cv2.blendLinear(frame, background, alpha, 1.0 - alpha, dst=out)


def blend_torch(frame, alpha, background):
    """The blend for tensors where they live (the GPU): uint8 (N)HW3 + float alpha (N)HW -> uint8.

    Works in the dtype of ``alpha`` (float16 on CUDA), converting to uint8 before any copy
    to the host so that four times fewer bytes cross the bus.
    """
    import torch

    a = alpha.unsqueeze(-1)
    f = frame.to(a.dtype)
    b = background.to(a.dtype)
    out = b + a * (f - b)
    return out.round_().clamp_(0, 255).to(torch.uint8)


class Compositor:
    """Frame + alpha -> output frame over a Background (RGB, or RGBA when transparent).

    ``device`` "cuda" blends on the GPU in float16 (``blend_torch``) and copies back uint8;
    any other torch device string (e.g. "cpu") runs that same tensor path, which is how the
    tests exercise it without a GPU. None (default) blends with OpenCV in uint8/float32.

    ``harmonize`` (0..1): move the person's colours by the change of light from their own room
    to the background (``Harmonizer``), over backgrounds that are pictures of a scene
    (``Background.is_scene``). Its statistics carry over from frame to frame: ``reset()`` when
    the stream starts over or the background is changed.
    """

    def __init__(self, background: Background, light_wrap: float = 0.0, device: str | None = None, *,
                 harmonize: float = 0.0):
        self.background = background
        self.light_wrap = light_wrap
        self.device = device
        self.harmonizer = Harmonizer(strength=harmonize) if harmonize > 0 else None

    def harmonize_note(self) -> str:
        """A line for a job whose --harmonize does nothing over its background ("" otherwise)."""
        if self.harmonizer is None or self.harmonizes:
            return ""
        return (f"--harmonize takes the light of an image or video background: over {self.background.kind or 'this one'} "
                f"it changes nothing")

    @property
    def harmonizes(self) -> bool:
        """True when the blend harmonises the person (a strength above 0, over a scene)."""
        return self.harmonizer is not None and self.background.is_scene

    def reset(self) -> None:
        """Forget what the harmonisation has seen (another stream, another background)."""
        if self.harmonizer is not None:
            self.harmonizer.reset()

    def __call__(self, frame: np.ndarray, alpha: np.ndarray, t: Fraction,
                 foreground: np.ndarray | None = None) -> np.ndarray:
        """``foreground``: the colour to blend where alpha is above 0, RGB like ``frame`` (a
        matting model's estimate of the foreground's own colour at the edge,
        ``matte.foreground.model_foreground``); None: the frame's. Backgrounds made from the
        frame (blur, gray) are made from ``frame``."""
        bg = self.background.frame_at(t, frame)
        if foreground is None or bg is frame:  # ``none``: the frame itself, nothing to take out
            return self.blend(frame, alpha, bg)
        if foreground.shape != frame.shape:
            raise ValueError(f"foreground must have the frame's shape {frame.shape}, got {foreground.shape}")
        return self.blend(foreground, alpha, bg, camera=frame)

    def blend(self, frame: np.ndarray, alpha: np.ndarray, bg: np.ndarray | None, *,
              camera: np.ndarray | None = None) -> np.ndarray:
        """The blend alone, over a background picture made already (the live loop makes it
        while the model runs): harmonisation, light wrap, then the blend on the CPU or the
        device. ``camera``: the camera's frame when ``frame`` is a matting model's foreground
        colour (the harmonisation measures the room on it)."""
        if self.harmonizer is not None and self.harmonizes and bg is not None and bg.shape == frame.shape:
            frame = self.harmonizer(frame, alpha, bg, camera)
        if bg is not None and self.light_wrap > 0 and bg is not frame:
            frame = light_wrap(frame, bg, alpha, self.light_wrap)
        if self.device is None or bg is None or bg is frame:
            return composite(frame, alpha, bg)
        return self._blend_on_device(frame, alpha, bg)

    def _blend_on_device(self, frame: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
        import torch

        cuda = str(self.device).startswith("cuda")
        dtype = torch.float16 if cuda else torch.float32

        def upload(array: np.ndarray):
            tensor = torch.from_numpy(array)
            return tensor.pin_memory().to(self.device, non_blocking=True) if cuda else tensor

        out = blend_torch(upload(frame), upload(alpha).to(dtype), upload(bg))
        return out.cpu().numpy()


def light_wrap(frame: np.ndarray, background: np.ndarray, alpha: np.ndarray, amount: float) -> np.ndarray:
    """Let blurred background light spill onto the subject's edge (only just inside the edge)."""
    h, w = frame.shape[:2]
    sigma = max(2.0, min(h, w) / 90)
    soft = cv2.GaussianBlur(alpha, (0, 0), sigma)
    # large just inside the edge, where the blurred matte falls below the sharp one; zero
    # outside the subject (alpha 0 there), so nothing spills onto the background
    edge = np.clip((alpha - soft) * (2.0 * amount), 0.0, amount)
    edge *= alpha
    glow = cv2.GaussianBlur(background, (0, 0), sigma)
    return cv2.blendLinear(glow, frame, edge, 1.0 - edge)
