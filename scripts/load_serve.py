#!/usr/bin/env python3
"""Bounded load on `livebg serve`, on loopback only; it stops by itself.

1. `livebg image` on the photos (the baseline, photos/s from the difference of two runs, so the
   model's start-up is not counted), in this run.
2. `livebg serve` started on a free loopback port; N concurrent photo clients for --seconds
   (at most --max-requests), then photo requests until --memory-requests in all (RSS after the
   first 100 and at the end), then a burst of video jobs past the queue.
3. Prints requests/s, p50/p95/p99 latency, answers by status, queue rejections, the server's RSS
   at start, after warm-up, after 100 and at the end, and the throughput ratio over the baseline.

    python scripts/load_serve.py                       # 4 clients, 60 s, 1000 photos, selfie
    python scripts/load_serve.py --model rvm           # RVM (weights from ../shared/models)
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
PORTRAITS = sorted((SHARED / "media" / "portraits").glob("*.jpg"))
VIDEO = SHARED / "media" / "videos" / "doctor_960x540.mp4"
RVM = SHARED / "models" / "rvm_mobilenetv3_fp32.onnx"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cli_rate(photos: list[Path], model: str, env: dict[str, str], work: Path) -> float:
    """Photos/s of `livebg image` on ``photos``: (N - 1) photos over the time N take beyond one."""
    def run(files: list[Path], out: Path) -> float:
        out.mkdir()
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "livebg", "image", *map(str, files), "-o", str(out), "--bg", "white",
                        "--model", model, "-q"], check=True, env=env)
        return time.perf_counter() - started

    one = run(photos[:1], work / "cli1")
    many = run(photos, work / "clin")
    return (len(photos) - 1) / max(1e-6, many - one)


class Load:
    def __init__(self, url: str, photos: list[Path]):
        self.url = url
        self.photos = [(p.name, p.read_bytes()) for p in photos]
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.lock = threading.Lock()
        self.count = 0

    def photo_requests(self, clients: int, *, seconds: float, total: int) -> float:
        """``clients`` threads sending photos until ``seconds`` pass or ``total`` are sent; returns
        the elapsed time."""
        stop = time.monotonic() + seconds
        target = self.count + total

        def client(n: int) -> None:
            with httpx.Client(base_url=self.url, timeout=120) as http:
                i = n
                while time.monotonic() < stop:
                    with self.lock:
                        if self.count >= target:
                            return
                        self.count += 1
                    name, data = self.photos[i % len(self.photos)]
                    i += clients
                    started = time.perf_counter()
                    try:
                        status = http.post("/v1/images", files={"file": (name, data)}, data={"bg": "white"}).status_code
                    except httpx.HTTPError:
                        status = 0
                    with self.lock:
                        self.latencies.append(time.perf_counter() - started)
                        self.statuses[status] = self.statuses.get(status, 0) + 1

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=2000, help="cap of the timed phase")
    parser.add_argument("--memory-requests", type=int, default=1000, help="photo requests in all (memory check)")
    parser.add_argument("--model", default="selfie")
    parser.add_argument("--queue-size", type=int, default=2)
    parser.add_argument("--burst", type=int, default=0, help="video jobs sent at once (default: queue + 4)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="livebg-load-"))
    env = {**os.environ, "LIVEBG_CACHE": str(work / "cache"), "LIVEBG_OFFLINE": "1"}
    (work / "cache").mkdir()
    if args.model == "rvm":
        shutil.copyfile(RVM, work / "cache" / RVM.name)
    photos = [work / f"p{n:02d}_{p.name}" for n in range(8) for p in PORTRAITS]
    for target, source in zip(photos, PORTRAITS * 8):
        shutil.copyfile(source, target)
    server = None
    try:
        baseline = cli_rate(photos, args.model, env, work)
        print(f"livebg image: {baseline:.2f} photos/s ({len(photos)} photos, model {args.model})", flush=True)
        port = 18000 + os.getpid() % 1000
        server = subprocess.Popen([sys.executable, "-m", "livebg", "serve", "--host", "127.0.0.1", "--port", str(port),
                                   "--model", args.model, "--data-dir", str(work / "data"), "--queue-size",
                                   str(args.queue_size), "-q"], env=env, stderr=subprocess.PIPE, text=True)
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        rss_start = rss_mb(server.pid)
        load = Load(url, photos)
        load.photo_requests(args.clients, seconds=120, total=20)  # warm-up: the model's first calls
        rss_warm = rss_mb(server.pid)
        load.photo_requests(args.clients, seconds=3600, total=100 - load.count)
        rss_100 = rss_mb(server.pid)
        all_statuses = dict(load.statuses)
        load.latencies.clear()
        load.statuses.clear()
        before = load.count
        elapsed = load.photo_requests(args.clients, seconds=args.seconds, total=args.max_requests)
        timed = load.count - before
        rate = timed / elapsed
        latencies = list(load.latencies)
        timed_statuses = dict(load.statuses)
        remaining = args.memory_requests - load.count
        if remaining > 0:
            load.photo_requests(args.clients, seconds=3600, total=remaining)
        rss_end = rss_mb(server.pid)
        for status, n in load.statuses.items():
            all_statuses[status] = all_statuses.get(status, 0) + n

        burst = args.burst or args.queue_size + 4
        answers: list[int] = []
        video = VIDEO.read_bytes()

        def submit() -> None:
            try:
                answers.append(httpx.post(url + "/v1/jobs", files={"file": (VIDEO.name, video)}, timeout=120).status_code)
            except httpx.HTTPError:
                answers.append(0)

        threads = [threading.Thread(target=submit) for _ in range(burst)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with httpx.Client(base_url=url) as http:
            jobs = http.get("/v1/jobs").json()["jobs"]
            for job in jobs:
                http.delete(f"/v1/jobs/{job['id']}")
        errors = sum(n for s, n in timed_statuses.items() if s != 200)
        print()
        print("| phase | figure |\n|---|---|")
        print(f"| photos, {args.clients} clients, {elapsed:.0f} s | {timed} requests, {rate:.2f} requests/s |")
        print(f"| `livebg image`, same photos and model | {baseline:.2f} photos/s |")
        print(f"| HTTP / `livebg image` | **{rate / baseline:.2f}** (goal >= 0.90) |")
        print(f"| latency p50 / p95 / p99 | {percentile(latencies, 50) * 1000:.0f} / {percentile(latencies, 95) * 1000:.0f} / "
              f"{percentile(latencies, 99) * 1000:.0f} ms |")
        print(f"| answers by status (timed phase) | {', '.join(f'{s}: {n}' for s, n in sorted(timed_statuses.items()))} |")
        print(f"| failed photo requests (all {load.count}) | {sum(n for s, n in all_statuses.items() if s != 200)} |")
        print(f"| video burst: {burst} jobs at once, queue {args.queue_size} + 1 worker | "
              f"{', '.join(f'{s}: {answers.count(s)}' for s in sorted(set(answers)))} "
              f"({answers.count(429)} rejected with 429, {sum(1 for s in answers if s >= 500 or s == 0)} 5xx or no answer) |")
        print(f"| server RSS: start / after warm-up / after 100 / after {load.count} | {rss_start:.0f} / {rss_warm:.0f} / "
              f"{rss_100:.0f} / {rss_end:.0f} MB |")
        print(f"| RSS growth from 100 to {load.count} requests | {(rss_end / rss_100 - 1) * 100:+.1f} % (goal within 5 %) |")
        return 0 if errors == 0 and all(s in (202, 429) for s in answers) else 1
    finally:
        if server is not None:
            server.terminate()
            try:
                server.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
