#!/usr/bin/env python3
"""Live benchmark: a video replayed as a 30 fps camera through the whole `livebg cam` path
into a recording virtual camera, for a fixed time, once per model.

    python scripts/bench_live.py                       # 1280x720 at 30 fps, 20 s per model
    python scripts/bench_live.py --seconds 10 --models selfie --size 960x540
    python scripts/bench_live.py --models selfie --size 960x540,1280x720 --sinks I420,RGB --load 0,1,2
    python scripts/bench_live.py --models selfie rvm --rvm-weights ../shared/models/rvm_mobilenetv3_fp32.onnx \
        --size 640x480,1280x720 --device cpu

``--sinks``: the pixel format the virtual camera takes natively (v4l2loopback takes I420, the
OBS backend RGB-like formats): livebg converts to it before handing the frame over. ``pipewire``:
the PipeWire camera itself, on a private PipeWire daemon started for the run (tests/support/pipewire_daemon.py),
with a reader connected as an app would be; its column "to reader" gives the rate the reader got
frames at and the time from hand-over to the reader (p50 / p95), and "lost at sink" the frames
it missed after its first one.
``--load N``: N other processes keep a core busy each for the whole run (Zoom or Meet take a
core of their own beside livebg); 0 is an idle machine.

The 720p test video is made at run time in a temporary directory from
../shared/media/videos/doctor_960x540.mp4 (nothing is written into the repository).
Columns: frames per second handed to the virtual camera; latency from capture to hand-over
(p50/p95); age of the mask used (p95: how much older the frame the mask came from was);
frames dropped at capture (the oldest waiting frame, when processing fell behind); frames
lost at the sink (composited but not received by the virtual camera; should be 0); masks made
(how many frames the model saw); the model's time per call (p50); the process's CPU while
frames flowed, in cores (1.00 = one core busy; the --load processes are not counted).

``--rvm-weights FILE``: RVM's ONNX file, given to the ``rvm`` rows only (as ``--weights``);
without it ``rvm`` is looked up in livebg's cache. Arguments the script does not know (``--device
cpu``, ``--threads 1``) go to every ``livebg cam`` run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DEFAULT_VIDEO = SHARED / "media" / "videos" / "doctor_960x540.mp4"
DEEPLAB_ONNX = SHARED / "models" / "deeplabv3_mobilenetv2_voc_257x257.onnx"


def make_camera_video(source: Path, out: Path, *, width: int, height: int, fps: int, seconds: float) -> Path:
    """Re-encode ``source`` as width x height at exactly ``fps`` (frames re-timed, not resampled)."""
    import av
    from av.video.frame import PictureType

    frames = int(seconds * fps) + fps
    with av.open(str(source)) as src, av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        written = 0
        while written < frames:
            src.seek(0)
            for frame in src.decode(video=0):
                image = frame.reformat(width=width, height=height, format="yuv420p", interpolation="BICUBIC")
                image.pts, image.time_base = written, Fraction(1, fps)
                image.pict_type = PictureType.NONE  # x264 chooses the types, not the source's GOP
                for packet in stream.encode(image):
                    dst.mux(packet)
                written += 1
                if written >= frames:
                    break
        for packet in stream.encode():
            dst.mux(packet)
    return out


def available_models(asked: list[str] | None) -> list[str]:
    if asked:
        return asked
    models = ["selfie", "selfie_landscape"]
    if DEEPLAB_ONNX.is_file():
        models.append(str(DEEPLAB_ONNX))
    try:  # a torchvision model only when its checkpoint is already in torchvision's cache
        from livebg.segment.weights import resolve_model

        for name in ("lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large", "deeplabv3_resnet50"):
            spec = resolve_model(name)
            if spec.path is not None and spec.path.is_file():
                models.append(name)
                break
    except Exception:  # noqa: BLE001 - no torchvision or no cache: just skip those models
        pass
    return models


def busy_cores(n: int) -> list:
    """``n`` processes that each keep a core busy until terminated."""
    import subprocess

    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


class CpuWhileFlowing:
    """This process's CPU time (all threads) from the first frame the virtual camera received to
    the last, in cores: model loading, warm-up and shutdown are left out."""

    def __init__(self, record):
        self.record = record
        self.samples: list[tuple[int, float, float]] = []  # (frames received, wall s, CPU s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-cpu", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            t = os.times()
            self.samples.append((len(self.record.frames), time.perf_counter(), t.user + t.system))

    def __enter__(self) -> "CpuWhileFlowing":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def cores(self) -> float:
        flowing = [s for s in self.samples if s[0] > 0]
        if not flowing:
            return float("nan")
        final = next(s for s in flowing if s[0] == flowing[-1][0])  # the first sample that saw the last frame
        if final[1] <= flowing[0][1]:
            return float("nan")
        return (final[2] - flowing[0][2]) / (final[1] - flowing[0][1])


class PipeWireReader:
    """An app reading the PipeWire camera ``name``: connects once the node is there, keeps
    (time received, hand-over to here in ms, the frame's sequence number) per frame in ``frames``."""

    def __init__(self, session, name: str, width: int, height: int, fps: float):
        self.frames: list[tuple[float, float, int]] = []
        self._args = (session, name, width, height, fps)
        self._stream = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-pipewire-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from livebg.sinks import pipewire

        session, name, width, height, fps = self._args
        while not self._stop.is_set() and f'node.name = "{name}"' not in session.nodes():
            self._stop.wait(0.2)
        if self._stop.is_set():
            return

        def received(_data: bytes, pts: int, seq: int) -> None:
            self.frames.append((time.perf_counter(), (time.monotonic_ns() - pts) / 1e6, seq))

        self._stream = pipewire.Stream(name=f"{name}-reader", direction=pipewire.DIRECTION_INPUT, width=width,
                                       height=height, fps=fps, target=name, on_frame=received, copy_frames=False,
                                       properties={"media.type": "Video", "media.category": "Capture",
                                                   "media.role": "Camera"})

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        if self._stream is not None:
            self._stream.close()


def run_one(model: str, video: Path, seconds: float, extra: list[str], native: str = "I420", load: int = 0,
            session=None, size: tuple[int, int] = (0, 0), fps: float = 30.0) -> dict:
    """One ``livebg cam`` run into a recording backend taking ``native``, or, for ``pipewire``,
    into the PipeWire camera on ``session`` with a reader connected."""
    sys.path.insert(0, str(REPO))  # tests.support is a package of the repository
    from livebg.cli import main
    from tests.support.live_fakes import recording_backend

    name = f"bench-{abs(hash((model, time.time())))}"
    if native == "pipewire":
        record = PipeWireReader(session, name, *size, fps)
        vcam = ["--vcam-backend", "pipewire", "--vcam-device", name]
    else:
        record = recording_backend(name, native=native, keep_frames=False)
        vcam = ["--vcam-backend", name]
    hogs = busy_cores(load)
    try:
        with tempfile.TemporaryDirectory() as tmp, CpuWhileFlowing(record) as cpu:
            stats_path = Path(tmp) / "stats.json"
            code = main(["cam", "--source", str(video), *vcam, "--duration", str(seconds),
                         "--model", model, "--stats-json", str(stats_path), "-q", *extra])
            stats = json.loads(stats_path.read_text()) if code == 0 else {}
    finally:
        for hog in hogs:
            hog.terminate()
            hog.wait()
        if native == "pipewire":
            record.close()
    if code != 0:
        raise SystemExit(f"livebg cam failed for model {model} (exit {code})")
    stats["sink"], stats["load"] = native, load
    stats["received"] = len(record.frames)
    if native == "pipewire":
        # what the reader missed from its first frame on (frames before it connected are not counted)
        seqs = [seq for _, _, seq in record.frames]
        stats["lost_at_sink"] = (seqs[-1] - seqs[0] + 1 - len(seqs)) if seqs else stats["frames_out"]
        to_reader = sorted(ms for _, ms, _ in record.frames)
        stats["to_reader_p50_ms"] = to_reader[len(to_reader) // 2] if to_reader else float("nan")
        stats["to_reader_p95_ms"] = to_reader[int(0.95 * (len(to_reader) - 1))] if to_reader else float("nan")
        times = [t for t, _, _ in record.frames]
        stats["reader_fps"] = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else float("nan")
    else:
        stats["lost_at_sink"] = stats["frames_out"] - len(record.frames)
    stats["cpu_cores"] = cpu.cores()
    stats["model_label"] = Path(model).stem if model.endswith(".onnx") else model
    return stats


def table(rows: list[dict]) -> str:
    head = ("model", "size", "sink", "busy cores", "out fps", "latency p50 ms", "latency p95 ms",
            "to reader fps, p50 / p95 ms", "mask age p50 / p95 ms (frames)", "dropped at capture", "lost at sink",
            "masks", "model ms p50", "CPU cores")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        frame_ms = 1000 / r["source_fps"]
        age = (f"{r['mask_age_p50_ms']:.0f} / {r['mask_age_p95_ms']:.0f} "
               f"({r['mask_age_p50_ms'] / frame_ms:.1f} / {r['mask_age_p95_ms'] / frame_ms:.1f})")
        reader = (f"{r['reader_fps']:.1f}, {r['to_reader_p50_ms']:.2f} / {r['to_reader_p95_ms']:.2f}"
                  if "to_reader_p95_ms" in r else "—")
        cells = (r["model_label"], r["size"], r["sink"], str(r["load"]), f"{r['fps']:.1f}", f"{r['latency_p50_ms']:.1f}", f"{r['latency_p95_ms']:.1f}",
                 reader, age, f"{r['dropped']} of {r['frames_in']}", str(r["lost_at_sink"]), str(r["masks"]),
                 f"{r['segment_p50_ms']:.1f}", f"{r['cpu_cores']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="video to replay as the camera")
    parser.add_argument("--size", default="1280x720", help="camera sizes WxH, comma-separated (default 1280x720)")
    parser.add_argument("--sinks", default="I420", help="virtual camera formats, comma-separated: I420, RGB, or pipewire "
                                                        "for the PipeWire camera on a private daemon (default I420)")
    parser.add_argument("--load", default="0", help="busy competing processes, comma-separated (default 0)")
    parser.add_argument("--fps", type=int, default=30, help="camera rate (default 30)")
    parser.add_argument("--seconds", type=float, default=20.0, help="run time per model (default 20)")
    parser.add_argument("--models", nargs="+", help="models to run (default: selfie, selfie_landscape, the "
                                                    "DeepLabV3 ONNX in ../shared, a cached torchvision model)")
    parser.add_argument("--bg", default="blur", help="background (default blur)")
    parser.add_argument("--rvm-weights", type=Path, help="RVM's ONNX file for the rvm rows (default: livebg's cache); "
                                                          "adds rvm to the default models")
    args, extra = parser.parse_known_args()
    models = available_models(args.models)
    if args.rvm_weights is not None:
        if not args.rvm_weights.is_file():
            parser.error(f"--rvm-weights {args.rvm_weights}: no such file")
        if not args.models:
            models.append("rvm")
    sinks = [sink.strip() for sink in args.sinks.split(",")]
    session = None
    if "pipewire" in sinks:  # a private daemon this process joins for the run, stopped at the end
        sys.path.insert(0, str(REPO))  # tests.support is a package of the repository
        from tests.support.pipewire_daemon import PipeWireSession

        session = PipeWireSession()
        for key in ("PIPEWIRE_REMOTE", "PIPEWIRE_RUNTIME_DIR"):
            os.environ.pop(key, None)
        os.environ["XDG_RUNTIME_DIR"] = session.env["XDG_RUNTIME_DIR"]
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = session.env["DBUS_SESSION_BUS_ADDRESS"]
    try:
        rows = run_all(args, models, sinks, session, extra)
    finally:
        if session is not None:
            session.close()
    print(table(rows))
    return 0


def run_all(args, models: list[str], sinks: list[str], session, extra: list[str]) -> list[dict]:
    rows = []
    for size in args.size.split(","):
        width, height = (int(v) for v in size.lower().split("x"))
        with tempfile.TemporaryDirectory(prefix="livebg-bench-") as tmp:
            video = make_camera_video(args.video, Path(tmp) / "camera.mp4", width=width, height=height,
                                      fps=args.fps, seconds=args.seconds)
            for model in models:
                weights = ["--weights", str(args.rvm_weights)] if model == "rvm" and args.rvm_weights else []
                for native in sinks:
                    for load in (int(n) for n in args.load.split(",")):
                        print(f"bench: {model} {size} {native} load {load} for {args.seconds:.0f} s …",
                              file=sys.stderr, flush=True)
                        row = run_one(model, video, args.seconds, ["--bg", args.bg, *weights, *extra],
                                      native, load, session, (width, height), args.fps)
                        row["size"] = f"{width}x{height}@{args.fps}"
                        rows.append(row)
    return rows


if __name__ == "__main__":
    sys.exit(main())
