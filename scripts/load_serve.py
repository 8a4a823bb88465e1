#!/usr/bin/env python3
"""Bounded load on `livebg serve`, on loopback only; it stops by itself.

1. `livebg image` on the photos (the baseline, photos/s from the difference of two runs, so the
   model's start-up is not counted), in this run.
2. `livebg serve` started on a free loopback port; N concurrent photo clients for --seconds
   (at most --max-requests), then photo requests until --memory-requests in all (RSS after the
   first 100 and at the end), then a burst of video jobs past the queue.
3. Prints requests/s, p50/p95/p99 latency, answers by status, queue rejections, the server's RSS
   at start, after warm-up, after 100 and at the end, and the throughput ratio over the baseline.
4. The hostile phase (bounded: a fixed list of requests, stopped after --hostile-seconds):
   photos of mixed sizes up to the megapixel limit (and one over it), large bg_files, video
   jobs cancelled while queued and while running, event-stream clients that drop, forms of
   thousands of small parts. Prints answers by status, 5xx, answers without a JSON body, 429s
   while fewer than --queue-size jobs were queued, RSS and threads after warm-up and after the
   phase, and whether --data-dir holds only finished results.

    python scripts/load_serve.py                       # 4 clients, 60 s, 1000 photos, selfie
    python scripts/load_serve.py --model rvm           # RVM (weights from ../shared/models)
    python scripts/load_serve.py --phase hostile       # only the hostile phase (after a warm-up)
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from livebg.percentile import percentile

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
PORTRAITS = sorted((SHARED / "media" / "portraits").glob("*.jpg"))
VIDEO = SHARED / "media" / "videos" / "doctor_960x540.mp4"
RVM = SHARED / "models" / "rvm_mobilenetv3_fp32.onnx"


def rss_mb(pid: int) -> float:
    return _status(pid, "VmRSS:") / 1024


def threads(pid: int) -> int:
    return int(_status(pid, "Threads:"))


def _status(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return float(line.split()[1])
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


# -- the hostile phase ---------------------------------------------------------------------------
BACKGROUND = SHARED / "media" / "backgrounds" / "porch-691330_1280.jpg"
FINISHED = ("done", "failed", "cancelled")


def scaled_jpeg(source: Path, pixels: float, dest: Path, *, png: bool = False) -> Path:
    """``source`` scaled to about ``pixels`` (its aspect kept), as JPEG (or PNG)."""
    import cv2

    image = cv2.imread(str(source))
    h, w = image.shape[:2]
    k = (pixels / (w * h)) ** 0.5
    size = (int(w * k), int(h * k))
    while size[0] * size[1] > pixels:
        size = (size[0] - 1, size[1])
    image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    _, data = cv2.imencode(".png" if png else ".jpg", image, [] if png else [cv2.IMWRITE_JPEG_QUALITY, 90])
    dest.write_bytes(data.tobytes())
    return dest


def small_clip(dest: Path, frames: int = 48, size: tuple[int, int] = (320, 180)) -> Path:
    from fractions import Fraction

    import av

    with av.open(str(VIDEO)) as src, av.open(str(dest), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"preset": "ultrafast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for n, frame in enumerate(src.decode(video=0)):
            if n == frames:
                break
            small = frame.reformat(width=size[0], height=size[1], format="yuv420p")
            small.pts, small.time_base = n, Fraction(1, 30)
            for packet in stream.encode(small):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dest


class Hostile:
    """Every answer of the hostile phase, by status, and what it found wrong."""

    def __init__(self, url: str, pid: int, queue_size: int, seconds: float):
        self.url, self.pid, self.queue_size = url, pid, queue_size
        self.deadline = time.monotonic() + seconds
        self.statuses: dict[int, int] = {}
        self.not_json: list[str] = []  # answers that should have been JSON and were not (or no answer)
        self.early_429: list[str] = []  # 429 from /v1/jobs while fewer than queue_size jobs were queued
        self.lock = threading.Lock()
        self.http = httpx.Client(base_url=url, timeout=300)

    def left(self) -> bool:
        return time.monotonic() < self.deadline

    def note(self, what: str, call, *, json_expected: bool | None = None) -> httpx.Response | None:
        """Send one request (``call(http)``); ``json_expected`` None: JSON unless a 2xx answer
        that is an image, a video or empty."""
        try:
            answer = call(self.http)
        except httpx.HTTPError as exc:
            with self.lock:
                self.statuses[0] = self.statuses.get(0, 0) + 1
                self.not_json.append(f"{what}: no answer ({type(exc).__name__})")
            return None
        with self.lock:
            self.statuses[answer.status_code] = self.statuses.get(answer.status_code, 0) + 1
        wants = json_expected if json_expected is not None else answer.status_code >= 300
        if wants and answer.status_code != 204:
            try:
                body = answer.json()
                ok = isinstance(body, dict) and (answer.status_code < 400 or "error" in body)
            except ValueError:
                ok = False
            if not ok:
                with self.lock:
                    self.not_json.append(f"{what}: {answer.status_code} {answer.text[:80]!r}")
        return answer

    def queued(self) -> int:
        return sum(j["state"] == "queued" for j in self.http.get("/v1/jobs").json()["jobs"])

    def submit(self, what: str, files: dict, data: dict | None = None) -> dict | None:
        """POST /v1/jobs, noting a 429 given while fewer than --queue-size jobs were queued (only
        this phase's client submits jobs, one at a time, so the count cannot grow meanwhile)."""
        before = self.queued()
        answer = self.note(what, lambda h: h.post("/v1/jobs", files=files, data=data or {}), json_expected=True)
        if answer is not None and answer.status_code == 429 and before < self.queue_size:
            self.early_429.append(f"{what}: 429 with {before} queued")
        return answer.json() if answer is not None and answer.status_code == 202 else None

    def wait_state(self, job_id: str, states: tuple[str, ...], timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        state = "?"
        while time.monotonic() < deadline:
            state = self.http.get(f"/v1/jobs/{job_id}").json().get("state", "gone")
            if state in states:
                break
            time.sleep(0.05)
        return state

    def delete(self, what: str, job_id: str) -> None:
        self.note(what, lambda h: h.delete(f"/v1/jobs/{job_id}"))

    # -- the parts of the phase --------------------------------------------------------------------
    def photos(self, sized: list[tuple[str, bytes]], bg_files: list[tuple[str, bytes]], small: bytes) -> None:
        """Photos of every size, two at a time, then small photos on large backgrounds."""
        work = [("photo " + name, {"file": (name, data)}) for name, data in sized]
        work += [("photo on bg_file " + name, {"file": ("small.jpg", small), "bg_file": (name, data)})
                 for name, data in bg_files]
        lock = threading.Lock()

        def client() -> None:
            while self.left():
                with lock:
                    if not work:
                        return
                    what, files = work.pop(0)
                self.note(what, lambda h, files=files: h.post("/v1/images", files=files, data={"bg": "white"}))

        pair = [threading.Thread(target=client) for _ in range(2)]
        for t in pair:
            t.start()
        for t in pair:
            t.join()

    def jobs(self, long_video: bytes, clip: bytes, big_bg: tuple[str, bytes]) -> None:
        """Jobs cancelled while queued and while running, a full queue, a job with a large
        bg_file, and one left to finish (its result is what --data-dir may keep)."""
        long = {"file": ("doctor.mp4", long_video)}
        running = self.submit("job A (long)", long)
        if running is None:
            return
        self.wait_state(running["id"], ("running",))
        queued = [self.submit(f"job queued {n}", long) for n in range(self.queue_size)]
        self.submit("job past the full queue", long)  # a 429 here is right: the queue is full
        for job in queued:
            if job is not None:
                self.delete("delete a queued job", job["id"])
        # the slots are free at once: these must be accepted although A still runs
        again = [self.submit(f"job after the deletes {n}", long) for n in range(self.queue_size)]
        self.delete("delete the running job", running["id"])
        if again[0] is not None:  # the next one starts: cancel it while it runs
            self.wait_state(again[0]["id"], ("running",))
            time.sleep(0.5)
            self.delete("delete a running job", again[0]["id"])
        for job in again[1:]:
            if job is not None:
                self.delete("delete a queued job", job["id"])
        with_bg = self.submit("job with a large bg_file", {"file": ("clip.mp4", clip), "bg_file": big_bg})
        kept = self.submit("job left to finish", {"file": ("clip.mp4", clip)})
        for job in (with_bg, kept):
            if job is not None:
                self.wait_state(job["id"], FINISHED, timeout=max(5.0, self.deadline - time.monotonic()))
        if with_bg is not None:
            self.delete("delete a finished job", with_bg["id"])

    def dropped_streams(self, clients: int, long_video: bytes) -> None:
        """Event-stream clients of a running job that read the first event and drop: half
        close their socket, half reset it."""
        job = self.submit("job watched by dropping clients", {"file": ("doctor.mp4", long_video)})
        if job is None:
            return
        self.wait_state(job["id"], ("running",))
        host, port = self.url.rsplit("/", 1)[-1].split(":")
        for n in range(clients):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(f"GET /v1/jobs/{job['id']}/events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                head = sock.recv(4096)
                status = int(head.split()[1]) if head.startswith(b"HTTP/1.1") else 0
                with self.lock:
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                if n % 2:  # SO_LINGER 0: the close resets the connection
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        with self.http.stream("GET", f"/v1/jobs/{job['id']}/events") as events:  # one that stays a little
            for line in events.iter_lines():
                if line.startswith("data: "):
                    break
        self.delete("delete the watched job", job["id"])

    def many_parts(self) -> None:
        tiny = [("file", (f"p{i}.jpg", b"\xff\xd8x")) for i in range(1500)]
        fields = {f"field{i}": "x" for i in range(3000)}
        self.note("3000 fields", lambda h: h.post("/v1/images", data=fields, files={"file": ("a.jpg", b"x")}))
        self.note("1500 tiny files", lambda h: h.post("/v1/images", files=tiny))
        self.note("1500 tiny files, then 20 MB", lambda h: h.post("/v1/images", files=[*tiny, ("bg_file", ("bg.jpg", b"\0" * 20_000_000))]))
        self.note("3000 fields to /v1/jobs", lambda h: h.post("/v1/jobs", data=fields, files={"file": ("a.mp4", b"x")}))

    def settle(self, seconds: float = 15.0) -> float:
        """Wait for the jobs to end and the server to go quiet (its idle threads end after 10 s)."""
        started = time.monotonic()
        while time.monotonic() - started < 120:
            jobs = self.http.get("/v1/jobs").json()["jobs"]
            if all(j["state"] in FINISHED for j in jobs):
                break
            time.sleep(0.2)
        time.sleep(seconds)
        return time.monotonic() - started


def data_dir_problems(data: Path, http: httpx.Client) -> list[str]:
    """Files in --data-dir other than the records and results of finished jobs."""
    known = {j["id"]: j for j in http.get("/v1/jobs").json()["jobs"]}
    problems = []
    for path in sorted(p for p in data.rglob("*") if p.is_file()):
        parts = path.relative_to(data).parts
        job = known.get(parts[1]) if len(parts) == 3 and parts[0] == "jobs" else None
        if job is None or job["state"] not in FINISHED or parts[2] != "job.json" and not (job["state"] == "done" and parts[2].startswith("result.")):
            problems.append(str(path.relative_to(data)))
    return problems


def hostile_phase(url: str, pid: int, work: Path, args) -> bool:
    """Warm up (photos, one video job, an event stream), measure, run the hostile phase,
    let it settle, measure again; print the table and return whether every goal was met."""
    print("making the hostile phase's media …", flush=True)
    limit = 50e6  # the server's --max-megapixels (its default)
    portrait = PORTRAITS[-1]
    sized = [(f"{mp:g}MP.jpg", scaled_jpeg(portrait, mp * 1e6, work / f"{mp:g}MP.jpg").read_bytes())
             for mp in (0.3, 2, 12, 30)]
    sized.append(("limit.jpg", scaled_jpeg(portrait, limit - 1000, work / "limit.jpg").read_bytes()))
    sized.append(("over.jpg", scaled_jpeg(portrait, limit * 1.02, work / "over.jpg").read_bytes()))  # 413
    bg_files = [("bg49MP.jpg", scaled_jpeg(BACKGROUND, 49e6, work / "bg49.jpg").read_bytes()),
                ("bg12MP.png", scaled_jpeg(BACKGROUND, 12e6, work / "bg12.png", png=True).read_bytes())]
    small = PORTRAITS[0].read_bytes()
    clip = small_clip(work / "clip.mp4").read_bytes()
    long_video = VIDEO.read_bytes()

    h = Hostile(url, pid, args.queue_size, args.hostile_seconds)
    # warm-up: each kind of work once (at small sizes), so what is loaded on first use is loaded
    for name, data in sized[:2]:
        h.note("warm-up photo", lambda c, f={"file": (name, data)}: c.post("/v1/images", files=f, data={"bg": "white"}))
    h.note("warm-up photos on a bg_file", lambda c: c.post("/v1/images", files=[
        ("file", ("a.jpg", small)), ("file", ("b.jpg", small)), ("bg_file", ("bg.jpg", BACKGROUND.read_bytes()))]))
    job = h.submit("warm-up job", {"file": ("clip.mp4", clip), "bg_file": ("bg.jpg", BACKGROUND.read_bytes())})
    if job is not None:
        with h.http.stream("GET", f"/v1/jobs/{job['id']}/events") as events:
            for _ in events.iter_lines():
                pass
        h.delete("warm-up delete", job["id"])
    h.settle()
    warm = (rss_mb(pid), threads(pid))
    h.statuses.clear()
    h.not_json.clear()
    h.deadline = time.monotonic() + args.hostile_seconds
    started = time.monotonic()
    peak_threads = [warm[1]]
    watching = threading.Event()

    def watch() -> None:
        while not watching.wait(0.2):
            peak_threads[0] = max(peak_threads[0], threads(pid))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    photos = threading.Thread(target=h.photos, args=(sized, bg_files, small))
    photos.start()
    h.jobs(long_video, clip, bg_files[0])
    h.dropped_streams(30, long_video)
    photos.join()
    h.many_parts()
    phase_seconds = time.monotonic() - started
    after_now = (rss_mb(pid), threads(pid))
    settled = h.settle()
    watching.set()
    after = (rss_mb(pid), threads(pid))
    problems = data_dir_problems(work / "data", h.http)
    fives = sum(n for s, n in h.statuses.items() if s >= 500)
    growth = after[0] / warm[0] - 1
    goals = {
        "0 answers 5xx": fives == 0,
        "0 answers without JSON": not h.not_json,
        "no 429 below --queue-size": not h.early_429,
        "RSS within 25 %": abs(growth) <= 0.25,
        "threads ± 2": abs(after[1] - warm[1]) <= 2,
        "--data-dir finished only": not problems,
    }
    print()
    print(f"| hostile phase ({phase_seconds:.0f} s, bounded at {args.hostile_seconds:g} s; queue {args.queue_size} + 1 worker) | figure |")
    print("|---|---|")
    print(f"| answers by status | {', '.join(f'{s}: {n}' for s, n in sorted(h.statuses.items()))} |")
    print(f"| answers 5xx | {fives} |")
    print(f"| answers without a JSON body (or none) | {len(h.not_json)}{': ' + '; '.join(h.not_json[:3]) if h.not_json else ''} |")
    print(f"| 429 while fewer than {args.queue_size} jobs were queued | {len(h.early_429)}{': ' + '; '.join(h.early_429[:3]) if h.early_429 else ''} |")
    print(f"| server RSS: after warm-up / right after the phase / {settled:.0f} s later | {warm[0]:.0f} / {after_now[0]:.0f} / "
          f"{after[0]:.0f} MB ({growth * 100:+.1f} %, goal within 25 %) |")
    print(f"| server threads: after warm-up / peak / right after / {settled:.0f} s later | {warm[1]} / {peak_threads[0]} / "
          f"{after_now[1]} / {after[1]} (goal ± 2) |")
    print(f"| --data-dir holds only finished results | {'yes' if not problems else 'no: ' + ', '.join(problems[:4])} |")
    print(f"| goals met | {', '.join(k for k, ok in goals.items() if ok) or 'none'}"
          f"{'; missed: ' + ', '.join(k for k, ok in goals.items() if not ok) if not all(goals.values()) else ''} |")
    h.http.close()
    return all(goals.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=2000, help="cap of the timed phase")
    parser.add_argument("--memory-requests", type=int, default=1000, help="photo requests in all (memory check)")
    parser.add_argument("--model", default="selfie")
    parser.add_argument("--queue-size", type=int, default=2)
    parser.add_argument("--burst", type=int, default=0, help="video jobs sent at once (default: queue + 4)")
    parser.add_argument("--phase", choices=("all", "throughput", "hostile"), default="all")
    parser.add_argument("--hostile-seconds", type=float, default=300.0, help="the hostile phase stops after this")
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
        baseline = 0.0
        if args.phase != "hostile":
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
        ok = True
        if args.phase != "hostile":
            ok = throughput(url, server.pid, photos, baseline, args)
        if args.phase != "throughput":
            ok = hostile_phase(url, server.pid, work, args) and ok
        return 0 if ok else 1
    finally:
        if server is not None:
            server.terminate()
            try:
                server.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)


def throughput(url: str, pid: int, photos: list[Path], baseline: float, args) -> bool:
    """Phases 2 and 3: photo clients, the memory check and the video burst; prints their table."""
    rss_start = rss_mb(pid)
    load = Load(url, photos)
    load.photo_requests(args.clients, seconds=120, total=20)  # warm-up: the model's first calls
    rss_warm = rss_mb(pid)
    load.photo_requests(args.clients, seconds=3600, total=100 - load.count)
    rss_100 = rss_mb(pid)
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
    rss_end = rss_mb(pid)
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
    p50, p95, p99 = (percentile(latencies, q, empty=float("nan")) * 1000 for q in (50, 95, 99))
    print(f"| latency p50 / p95 / p99 | {p50:.0f} / {p95:.0f} / {p99:.0f} ms |")
    print(f"| answers by status (timed phase) | {', '.join(f'{s}: {n}' for s, n in sorted(timed_statuses.items()))} |")
    print(f"| failed photo requests (all {load.count}) | {sum(n for s, n in all_statuses.items() if s != 200)} |")
    print(f"| video burst: {burst} jobs at once, queue {args.queue_size} + 1 worker | "
          f"{', '.join(f'{s}: {answers.count(s)}' for s in sorted(set(answers)))} "
          f"({answers.count(429)} rejected with 429, {sum(1 for s in answers if s >= 500 or s == 0)} 5xx or no answer) |")
    print(f"| server RSS: start / after warm-up / after 100 / after {load.count} | {rss_start:.0f} / {rss_warm:.0f} / "
          f"{rss_100:.0f} / {rss_end:.0f} MB |")
    print(f"| RSS growth from 100 to {load.count} requests | {(rss_end / rss_100 - 1) * 100:+.1f} % (goal within 5 %) |")
    return errors == 0 and all(s in (202, 429) for s in answers)


if __name__ == "__main__":
    sys.exit(main())
