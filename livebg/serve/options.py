"""`livebg serve`: its flags, the checks before binding (address, token), and running uvicorn."""
from __future__ import annotations

import argparse
import ipaddress
import os
import socket
from pathlib import Path

from livebg.errors import ConfigError, say, set_quiet

TOKEN_HELP = "bearer token every /v1 request must carry (repeat for several clients, each owning its jobs; or env LIVEBG_TOKEN, comma-separated)"


def add_serve_parser(subparsers) -> argparse.ArgumentParser:
    from livebg.serve.settings import ServeSettings

    d = ServeSettings()
    p = subparsers.add_parser(
        "serve", help="serve the photo and video jobs over HTTP, with a web page",
        description="An HTTP API (/v1/images, /v1/jobs; OpenAPI docs at /docs) and a web page at / for the "
                    "same jobs as `livebg image` and `livebg video`. Needs `pip install 'livebg[serve]'`.")
    p.add_argument("--host", default=d.host, help=f"address to listen on (default {d.host}: this machine only; "
                                                  "any other address needs --token)")
    p.add_argument("--port", type=int, default=d.port, help=f"port (default {d.port}; 0: any free port)")
    p.add_argument("--token", action="append", help=TOKEN_HELP)
    p.add_argument("--workers", type=int, default=None, help="video jobs run at once (default 1: a job keeps the cores or the GPU busy by itself)")
    p.add_argument("--queue-size", type=int, default=d.queue_size,
                   help=f"video jobs waiting beyond the running ones; past it: 429 (default {d.queue_size})")
    p.add_argument("--photo-concurrency", type=int, default=d.photo_concurrency,
                   help=f"photos processed at once; more wait their turn (default {d.photo_concurrency})")
    p.add_argument("--max-upload-mb", type=float, default=d.max_upload_mb,
                   help=f"largest upload, MB (default {d.max_upload_mb:g})")
    p.add_argument("--max-megapixels", type=float, default=d.max_megapixels,
                   help=f"largest photo or video frame, megapixels (default {d.max_megapixels:g})")
    p.add_argument("--max-video-seconds", type=float, default=d.max_video_seconds,
                   help=f"longest video (default {d.max_video_seconds:g})")
    p.add_argument("--data-dir", default=None,
                   help="where uploads and results live (default: $LIVEBG_CACHE/serve or ~/.cache/livebg/serve)")
    p.add_argument("--retention-hours", type=float, default=d.retention_hours,
                   help=f"finished jobs and their files are removed after this long (default {d.retention_hours:g})")
    p.add_argument("--shutdown-grace", type=float, default=d.shutdown_grace,
                   help=f"on SIGTERM, seconds running jobs get to finish before they are marked failed "
                        f"(default {d.shutdown_grace:g})")
    p.add_argument("--cors-origin", action="append", default=None, metavar="ORIGIN",
                   help="allow browser pages from this origin (repeatable; default: none, CORS off)")
    p.add_argument("--url-input", action="store_true",
                   help="let requests name an http(s) URL instead of uploading (public addresses only)")
    p.add_argument("--config", help="a TOML preset for every job's defaults (path, or a name in configs/)")
    p.add_argument("--model", help="default model for requests that do not name one (default: auto)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where models run (default: auto)")
    p.add_argument("-q", "--quiet", action="store_true", help="no request log")
    return p


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings_from_args(args: argparse.Namespace):
    from livebg.config import apply_settings, load_config
    from livebg.serve.settings import ServeSettings, default_data_dir

    tokens = list(args.token or [])
    if not tokens and os.environ.get("LIVEBG_TOKEN"):
        tokens = [t.strip() for t in os.environ["LIVEBG_TOKEN"].split(",") if t.strip()]
    for token in tokens:
        if len(token) < 16:
            raise ConfigError("a --token must be at least 16 characters: make one with "
                              "`python -c 'import secrets; print(secrets.token_urlsafe(24))'`")
    if not is_loopback(args.host) and not tokens:
        raise ConfigError(f"--host {args.host} lets other machines in, and there is no token: pass "
                          f"--token TOKEN (or set LIVEBG_TOKEN), or listen on 127.0.0.1")
    for name in ("queue_size", "photo_concurrency"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    for name in ("max_upload_mb", "max_megapixels", "max_video_seconds", "retention_hours"):
        if not getattr(args, name) > 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be above 0")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port: use 1..65535 (0: any free one)")
    base = apply_settings(load_config(args.config), model=args.model, device=args.device)
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
    return ServeSettings(host=args.host, port=args.port, tokens=tuple(tokens), workers=args.workers,
                         queue_size=args.queue_size, photo_concurrency=args.photo_concurrency,
                         max_upload_mb=args.max_upload_mb, max_megapixels=args.max_megapixels,
                         max_video_seconds=args.max_video_seconds, data_dir=data_dir,
                         retention_hours=args.retention_hours, shutdown_grace=args.shutdown_grace,
                         cors_origins=tuple(args.cors_origin or ()), url_input=args.url_input, base=base,
                         access_log=not args.quiet)


def run_serve(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise ConfigError("livebg serve needs its web packages: pip install 'livebg[serve]' "
                          "(scripts/setup.sh installs them)") from None
    from livebg.serve.app import create_app
    from livebg.serve.memory import tune
    from livebg.serve.models import ModelCache

    tune()  # before the model's threads allocate: freed memory can go back (serve/memory.py)
    settings = settings_from_args(args)
    sock = bind(settings.host, settings.port)  # a taken port fails before the model loads
    models = ModelCache()
    try:
        default, reason = models.load(settings.base.model)  # once, before the first request
    except BaseException:
        sock.close()
        raise
    say(f"{default.describe()} — {reason} (requests may name another model: loaded once on first use)")
    app = create_app(settings, models=models)
    set_quiet(True)  # each job's own report lines (paths inside --data-dir) are the job's, not the server's
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=max(1, int(settings.shutdown_grace) + 5))
    server = uvicorn.Server(config)
    app.state.announce = lambda: say(f"serving on http://{_url_host(settings.host)}:{sock.getsockname()[1]}/ "
                                     f"(API docs at /docs; Ctrl-C stops)")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0 if server.started else 1


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, made here so a taken port is a one-line error before any model loads."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == 98:
            raise ConfigError(f"port {port} on {host} is taken (another server?): choose another with --port") from None
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}): check --host") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
