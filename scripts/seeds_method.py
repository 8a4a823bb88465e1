"""The seeds' method, reimplemented faithfully as the baseline livebg is measured against.

Per frame, one after another on one thread: the whole frame at full size through a
torchvision DeepLabV3, argmax over the classes, person pixels as a hard 0/255 mask, a 7x7
Gaussian blur of the mask, and the blend done in float64 on whole frames. Nothing here is
used by livebg itself; scripts/benchmark.py times it and scripts/evaluate.py scores its mask
rule (hard mask + 7x7 blur) on livebg's model.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np

BLUR_KERNEL = (7, 7)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


def seeds_alpha_from_mask(mask: np.ndarray) -> np.ndarray:
    """Hard boolean mask -> the seeds' soft alpha: 0/255, 7x7 Gaussian blur, float64 in [0, 1]."""
    hard = mask.astype(np.uint8) * 255
    return cv2.GaussianBlur(hard, BLUR_KERNEL, 0).astype(np.float64) / 255.0


def seeds_alpha_from_probability(prob: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The seeds' rule on a probability map (for models without class logits, e.g. the selfie
    model): upsample to ``size`` (w, h), threshold at 0.5 (argmax of two classes), blur."""
    full = cv2.resize(prob, size, interpolation=cv2.INTER_LINEAR)
    return seeds_alpha_from_mask(full > 0.5)


def seeds_blend(frame: np.ndarray, background: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """float64 whole-frame blend, as the seeds do it."""
    a = alpha[..., None]
    out = frame.astype(np.float64) * a + background.astype(np.float64) * (1.0 - a)
    return out.astype(np.uint8)


class SeedsMethod:
    """A torchvision segmentation model run the seeds' way: full size, float32, argmax."""

    def __init__(self, model, person_index: int):
        import torch

        self.torch = torch
        self.model = model.eval()
        self.person = person_index

    def alpha(self, frame: np.ndarray) -> np.ndarray:
        torch = self.torch
        x = (frame.astype(np.float64) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
        tensor = torch.from_numpy(x.transpose(2, 0, 1).copy()).float().unsqueeze(0)
        with torch.no_grad():
            out = self.model(tensor)["out"][0]
        mask = (out.argmax(0) == self.person).numpy()
        return seeds_alpha_from_mask(mask)

    def __call__(self, frame: np.ndarray, background: np.ndarray) -> np.ndarray:
        return seeds_blend(frame, background, self.alpha(frame))


def load_seeds_model(name: str, weights_file: str = "") -> SeedsMethod:
    from livebg.segment.weights import load_torchvision_model

    model, weights = load_torchvision_model(name, weights_file, download=False)
    return SeedsMethod(model, weights.meta["categories"].index("person"))


def blur_sigma(spec: str) -> int:
    """The strength of a ``blur`` / ``blur:N`` background, read as livebg reads it, else 0."""
    from livebg.composite.blur import BlurBackground
    from livebg.composite.factory import open_background
    from livebg.config import is_bg_keyword
    from livebg.errors import BackgroundError

    if not is_bg_keyword(spec):
        return 0
    try:
        background = open_background(spec, (16, 16))
    except BackgroundError:
        return 0
    return background.strength if isinstance(background, BlurBackground) else 0


def supported_background(spec: str) -> bool:
    """True for the backgrounds the seeds' scripts offer: a colour, blur, an image or a video file."""
    from livebg.config import solid_color

    return solid_color(spec) is not None or blur_sigma(spec) > 0 or Path(spec).is_file()


def run_seeds_video(method: SeedsMethod, input_path: str, background_path: str, output: str,
                    *, max_frames: int = 0, crf: int = 20, preset: str = "veryfast") -> tuple[int, float]:
    """Decode -> segment -> blend -> encode, frame by frame on one thread. Returns (frames, seconds)."""
    from livebg.config import solid_color  # colours read as livebg reads them

    started = time.perf_counter()
    src = av.open(input_path)
    stream = src.streams.video[0]
    stream.thread_type = "AUTO"
    color = solid_color(background_path)
    blur = blur_sigma(background_path)
    if color is not None:
        bg = np.empty((stream.codec_context.height, stream.codec_context.width, 3), np.uint8)
        bg[:] = color
    elif background_path.lower().endswith((".jpg", ".jpeg", ".png")):
        bg = cv2.cvtColor(cv2.imread(background_path), cv2.COLOR_BGR2RGB)
    else:
        bg = None
    bg_video = None if bg is not None or blur else av.open(background_path)
    bg_frames = bg_video.decode(video=0) if bg_video else None
    dst = av.open(output, mode="w")
    out = dst.add_stream("libx264", rate=stream.average_rate, options={"crf": str(crf), "preset": preset})
    out.width, out.height, out.pix_fmt = stream.codec_context.width, stream.codec_context.height, "yuv420p"
    frames = 0
    for frame in src.decode(stream):
        image = frame.to_ndarray(format="rgb24")
        if blur:  # the seeds blur the whole frame at full size
            bg_image = cv2.GaussianBlur(image, (0, 0), blur)
        elif bg_frames is not None:
            try:
                bg_image = next(bg_frames).to_ndarray(format="rgb24")
            except StopIteration:  # the seeds loop the background by reopening it
                bg_video.close()
                bg_video = av.open(background_path)
                bg_frames = bg_video.decode(video=0)
                bg_image = next(bg_frames).to_ndarray(format="rgb24")
        else:
            bg_image = bg
        bg_image = cv2.resize(bg_image, (image.shape[1], image.shape[0]))
        result = method(image, bg_image)
        for packet in out.encode(av.VideoFrame.from_ndarray(result, format="rgb24")):
            dst.mux(packet)
        frames += 1
        if max_frames and frames >= max_frames:
            break
    for packet in out.encode():
        dst.mux(packet)
    dst.close()
    src.close()
    if bg_video:
        bg_video.close()
    return frames, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("--bg", required=True, help="background image, video, colour (white, #RRGGBB) or blur[:N]")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--model", default="deeplabv3_mobilenet_v3_large")
    parser.add_argument("--weights", default="", help="checkpoint file instead of torchvision's cache")
    parser.add_argument("--max-frames", type=int, default=0)
    args = parser.parse_args(argv)
    if not supported_background(args.bg):
        parser.error(f"--bg {args.bg}: give a colour, blur[:N], or an image or video file that exists")
    method = load_seeds_model(args.model, args.weights)
    frames, seconds = run_seeds_video(method, args.input, args.bg, args.output, max_frames=args.max_frames)
    print(f"seeds' method: {frames} frames in {seconds:.1f} s ({frames / seconds:.2f} fps)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
