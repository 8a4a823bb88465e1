"""`livebg batch` options (placeholder until batch lands)."""
from __future__ import annotations

import argparse
from typing import Callable


def add_batch_parser(subparsers, add_common_options: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    p = subparsers.add_parser("batch", help="many or long videos, in chunks, on this machine or a Ray cluster")
    add_common_options(p)
    return p


def run_batch(args: argparse.Namespace, config) -> int:
    raise NotImplementedError
