"""Command line: argument parsing only; everything else lives in the stage modules.

``main(argv) -> int`` is the entry point of both ``livebg`` and ``python -m livebg``.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from livebg import __version__
from livebg.batch.options import add_batch_parser
from livebg.config import SETTINGS, Config, apply_settings, load_config
from livebg.errors import DAMAGED_INPUT, LivebgError, say, set_quiet
from livebg.live.options import add_cam_parser
from livebg.serve.options import add_serve_parser
from livebg.signals import terminate_as_interrupt

BG_HELP = ("background: an image or video path, or white, black, green, #RRGGBB (or #RGB), blur, blur:STRENGTH, "
           "gray, transparent, none (default: blur)")
CAM_BG_HELP = ("background: an image, a folder of images (hotkeys n/p step through it), a video, or white, black, "
               "green, #RRGGBB (or #RGB), blur, blur:STRENGTH, gray, none (default: blur)")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and what to do, exit status 2
        self.exit(2, f"livebg: error: {message} (see `{self.prog} --help`)\n")


def _model_options(p: argparse.ArgumentParser, *, stream: bool) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", help="auto (default: rvm for files and photos, selfie live on a CPU), rvm, selfie, "
                                   "selfie_landscape, a torchvision model (deeplabv3_resnet101, …; see `livebg models`) "
                                   "or a path to an .onnx file")
    g.add_argument("--fast", action="store_const", const=True, default=None,
                   help="with --model auto: the bundled selfie model (several times faster than rvm on a CPU, "
                        "weaker on groups, full bodies and motion)")
    g.add_argument("--weights", help="weights file: a torchvision checkpoint, or RVM's .onnx file, instead of the cache")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where the model runs (default: auto)")
    g.add_argument("--precision", choices=("auto", "float32", "float16", "bfloat16"),
                   help="torchvision models: auto = float16 on CUDA, float32 on CPU")
    g.add_argument("--batch-size", type=int, help="frames per model call (default: 8 on CUDA, 1 on CPU)")
    g.add_argument("--infer-size", type=int, help="torchvision models: short side in pixels for inference; "
                                                    "rvm: the model's working short side for every shot (default 384 on a CPU, 320 while "
                                                    "one person fills a quarter of the frame; 512 on CUDA)")
    g.add_argument("--classes", help="comma-separated class names that count as foreground (default: person)")
    g.add_argument("--threads", type=int, help="ONNX Runtime threads (default: cores - 1)")
    g.add_argument("--no-download", dest="download", action="store_const", const=False,
                   help="never download weights (torchvision's, RVM's); fail if they are not cached")
    g.add_argument("--crop-pass", action=argparse.BooleanOptionalAction, default=None,
                   help="ONNX models (the selfie ones): run the model again on a crop around the person: "
                        "feet and hands of a small person are kept; on video the crop follows the person, "
                        "so most frames need only that one call. rvm on video (CPU): the model runs on the "
                        "box around the people only, not the whole frame (default: on)")
    if stream:
        g.add_argument("--full-pass-every", type=int, metavar="N",
                       help="crop pass on video: look at the whole frame at least every N frames, for "
                            "people outside the followed box (rvm: while the picture outside the box "
                            "changes; up to 4N frames when it does not) (default: 8; 1: every frame)")
        g.add_argument("--still-reuse", type=int, metavar="N",
                       help="rvm on video: up to N frames in a row reuse the last model call's alpha, moved along "
                            "the optical flow, while the person's outline barely changes (default: 2; 0: the "
                            "model on every frame)")


def _matte_options(p: argparse.ArgumentParser, *, stream: bool) -> None:
    g = p.add_argument_group("matte")
    if stream:  # photos are matted one by one: nothing to smooth between them
        g.add_argument("--smoothing", choices=("none", "ema", "adaptive"), help="temporal smoothing (default: adaptive)")
        g.add_argument("--smoothing-strength", type=float, help="0 (off) .. 0.95 (default: 0.8)")
    g.add_argument("--refine", choices=("bilinear", "guided"), help="edge refinement (default: guided)")
    g.add_argument("--guide-size", type=int, metavar="PX",
                   help="guided refinement: short side of the image the edges are fitted on; smaller is "
                        "cheaper, with edges a little less steady (default: 270)")
    g.add_argument("--light-wrap", type=float, help="0..1: background light spilling onto the edge (default: 0)")
    g.add_argument("--harmonize", type=float, metavar="S",
                   help="0 (off) .. 1 (full): over an image or video background, the person takes on the change "
                        "of light and colour from their own room to the background (default: 0)")


def _common(p: argparse.ArgumentParser, *, stream: bool = True, bg_help: str = BG_HELP) -> None:
    """Options every command shares; ``stream`` False (photos) leaves out the ones about
    consecutive frames (smoothing, the crop pass's whole-frame interval)."""
    p.add_argument("--bg", help=bg_help)
    p.add_argument("--config", help="a TOML preset (path, or a name in configs/: default, cpu-fast, gpu-quality)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no report lines (warnings and errors stay)")
    _model_options(p, stream=stream)
    _matte_options(p, stream=stream)


def _video_file_options(p: argparse.ArgumentParser) -> None:
    """Options of jobs that write video files (``video`` and ``batch``)."""
    p.add_argument("--bg-fit", choices=("loop", "hold", "stretch"), help="video backgrounds shorter or longer than the input (default: loop)")
    p.add_argument("--strict", action="store_const", const=True, default=None,
                   help="fail on a damaged input video instead of writing the frames it gives (exit 4 then)")
    p.add_argument("--crf", type=int, help="quality 0..51, lower is better and bigger (default: 20; .webm: VP9 at crf + 10)")
    p.add_argument("--preset", help="x264 speed preset (default: veryfast)")
    p.add_argument("--no-audio", dest="audio", action="store_const", const=False, help="drop the input's audio")
    p.add_argument("--look-ahead", action=argparse.BooleanOptionalAction, default=None,
                   help="average each frame's matte with the frames before and after it where the picture "
                        "did not change, and smooth back from 2 frames ahead: steadier edges, no trail "
                        "(default: on; off with --smoothing none)")


def _batch_options(p: argparse.ArgumentParser) -> None:
    """What ``livebg batch`` shares with ``livebg video``."""
    _video_file_options(p)
    _common(p)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="livebg", description="Replace the background of videos, photos and webcam video.")
    parser.add_argument("--version", action="version", version=f"livebg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    v = sub.add_parser("video", help="replace the background of a video file or image sequence")
    v.add_argument("input", help="video file, directory of frames, or a quoted glob such as 'frames/*.jpg'")
    v.add_argument("-o", "--output", help="output video (.mp4, .m4v, .mov, .mkv, .webm, .avi) or directory for PNG frames")
    v.add_argument("--alpha-out", help="also write the alpha matte: a directory of PNGs or a video path")
    v.add_argument("--fps", type=float, help="frame rate of an image sequence or a photo (default: 30; a video keeps its own)")
    _video_file_options(v)
    _common(v)

    i = sub.add_parser("image", help="replace the background of photos")
    i.add_argument("inputs", nargs="+", metavar="INPUT", help="photos or directories of photos")
    i.add_argument("-o", "--output", help="output file (one photo) or directory (default: current directory)")
    i.add_argument("--matting", action="store_true", help="trimap + closed-form matting for hair-fine edges (slow)")
    _common(i, stream=False)

    sub.add_parser("models", help="list the models, where their weights come from, and which are available here")

    add_cam_parser(sub, lambda p: _common(p, bg_help=CAM_BG_HELP))
    add_batch_parser(sub, _batch_options)
    add_serve_parser(sub)
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    """The preset (or defaults), overridden by every flag that was given."""
    values = {name: getattr(args, name, None) for name in SETTINGS}
    return apply_settings(load_config(args.config), **values)


def _print_models() -> None:
    from livebg.segment.weights import describe_models

    rows = describe_models()
    width = max(len(r["name"]) for r in rows)
    print(f"{'model':<{width}}  {'runs with':<11}  weights here?")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['kind']:<11}  {r['available']}")
        print(f"{'':<{width}}  from {r['source']}")
        print(f"{'':<{width}}  at   {r['where']}")
    print()
    print("Which to pick: rvm (the default for files and photos) mattes people: groups, whole bodies, motion,")
    print("hair; selfie (--fast, and live on a CPU) is several times faster, offline, best for one person near")
    print("the camera; the torchvision models segment 21 object classes (--classes person,dog) and batch frames")
    print("on a GPU (configs/gpu-quality.toml: deeplabv3_resnet101 in float16), for classes other than people.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        with terminate_as_interrupt(args.command):
            return _run(args, parser)
    except BrokenPipeError:  # `livebg models | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail again
        return 1
    finally:
        set_quiet(False)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        if args.command == "models":
            _print_models()
            return 0
        if args.command == "serve":  # settings come per request; the server's own flags are its own
            from livebg.serve.options import run_serve

            return run_serve(args)
        set_quiet(bool(getattr(args, "quiet", False)))
        config = config_from_args(args)
        if args.command == "video":
            from livebg.jobs import run_video

            if args.look_ahead and config.smoothing.method == "none":
                say("--look-ahead does nothing with --smoothing none (nothing is smoothed in time): "
                    "choose --smoothing adaptive or ema to use it")
            result = run_video(args.input, args.output, config, progress=not args.quiet)
            if result.interrupted:
                return 130
            return DAMAGED_INPUT if result.damage else 0
        if args.command == "image":
            from livebg.jobs import run_images

            run_images(args.inputs, args.output, config, progress=not args.quiet, matting=args.matting)
            return 0
        if args.command == "cam":
            from livebg.live.run import run_cam

            return run_cam(args, config)
        if args.command == "batch":
            from livebg.batch.options import run_batch

            return run_batch(args, config)
        parser.error(f"unknown command {args.command}")
    except LivebgError as exc:
        say(str(exc), error=True)
        return exc.exit_code
    except RuntimeError as exc:  # pathlib's expanduser() of ~name for a user this machine lacks
        if "home directory" not in str(exc):
            raise
        say("a path starts with ~name, and there is no such user here: write the path out", error=True)
        return 2
    except KeyboardInterrupt:
        if args.command != "image":  # photos: run_images said what it kept
            say("interrupted; nothing was written")
        return 130
    return 1
