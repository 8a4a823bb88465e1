"""`livebg serve` options (placeholder until the server lands)."""
from __future__ import annotations

import argparse


def add_serve_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("serve", help="serve the photo and video jobs over HTTP, with a web page")
    return p


def run_serve(args: argparse.Namespace) -> int:
    raise NotImplementedError
