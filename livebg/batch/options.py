"""`livebg batch` options, and the command: many and long videos, in chunks, on this machine
(``--workers N``) or on a Ray cluster (``--ray``)."""
from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from livebg.errors import DAMAGED_INPUT, PHOTOS_FAILED, ConfigError, OutputError, say

RAY_CHOICES = "auto, local or a cluster address such as 10.0.0.5:6379"


def add_batch_parser(subparsers, add_common_options: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    from livebg.batch.plan import DEFAULT_CHUNK_SECONDS

    p = subparsers.add_parser("batch", help="many or long videos, in chunks, on this machine or a Ray cluster")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="videos, folders of videos, quoted globs such as 'footage/*.mov', or JSONL manifests")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR",
                   help="folder for the outputs (NAME_livebg.mp4), created if missing; it also holds the batch's "
                        "state file and chunks while it runs")
    p.add_argument("--manifest", action="append", default=[], metavar="JOBS.jsonl",
                   help='one job a line: {"input": "a.mp4", "output": "a.mkv", "bg": "beach.jpg", "crf": 18}; '
                        "settings override the command line's")
    p.add_argument("--workers", type=int, metavar="N",
                   help="chunks at a time on this machine (default: 1, using every core); with --ray: actors per "
                        "node without a GPU (default: 1; a GPU node gets one per GPU)")
    p.add_argument("--ray", metavar="ADDRESS",
                   help=f"run on Ray: {RAY_CHOICES} (default: RAY_ADDRESS if set, else this machine without Ray)")
    p.add_argument("--chunk-seconds", type=float, default=DEFAULT_CHUNK_SECONDS, metavar="S",
                   help=f"cut videos into chunks of about S seconds, at key frames (default: {DEFAULT_CHUNK_SECONDS:g})")
    p.add_argument("--resume", action="store_true",
                   help="go on with an interrupted batch in OUT_DIR: skip outputs that exist and chunks already done")
    add_common_options(p)
    return p


def run_batch(args: argparse.Namespace, config) -> int:
    from livebg.batch.plan import gather_jobs
    from livebg.batch.run import report, run_jobs
    from livebg.sinks import check_writable

    if args.workers is not None and not 1 <= args.workers <= 256:
        raise ConfigError(f"--workers {args.workers} is out of range: use 1..256")
    if not args.chunk_seconds > 0:
        raise ConfigError(f"--chunk-seconds {args.chunk_seconds:g} must be positive, e.g. 60")
    if config.output.alpha_out:
        raise ConfigError("--alpha-out is not available in a batch: run `livebg video --alpha-out` for that video")
    if not args.inputs and not args.manifest:
        raise ConfigError("no inputs: give videos, folders of videos, quoted globs, or --manifest jobs.jsonl")
    out_dir = Path(args.output).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"-o {out_dir} is a file: give a folder for the outputs")
    jobs = gather_jobs(args.inputs, args.manifest, out_dir, config)  # every input checked before OUT_DIR is made
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out_dir} ({exc.strerror or exc}): choose a folder you can write to") from None
    check_writable(out_dir, "-o")
    address = args.ray or os.environ.get("RAY_ADDRESS", "")
    runner = _runner(address, args.workers)
    try:
        say(f"{len(jobs)} job{'s' if len(jobs) > 1 else ''}, chunks of about {args.chunk_seconds:g} s, "
            f"on {runner.describe()}", detail=True)
        summary = run_jobs(jobs, out_dir, runner, chunk_seconds=args.chunk_seconds, resume=args.resume,
                           progress=not args.quiet)
    finally:
        runner.close()
    report(summary)
    if summary.interrupted:
        return 130
    if summary.of("failed"):
        return PHOTOS_FAILED
    return DAMAGED_INPUT if any(r.damage for r in summary.of("written")) else 0


def _runner(address: str, workers: int | None):
    if address:
        from livebg.batch.ray_runner import RayRunner

        return RayRunner(address, per_node=workers or 0)
    from livebg.batch.local_runner import LocalRunner

    return LocalRunner(workers or 1)
