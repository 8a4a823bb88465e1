"""Fixtures for every test folder: an offline cache, the shared media, RVM's weights, the bad
inputs the error tests feed the CLI, and the ``--device``/``--dtype`` options. The builders and
fakes they use are in ``tests/support/`` (imported as ``tests.support``).

Every test folder is a package (it has an ``__init__.py``), so two folders may hold test files
of the same name; the repository root is on sys.path (``pythonpath = ["."]`` in pyproject.toml)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import RVM_FILE, SHARED

# Fixtures on real frames shared by the tests of the YUV 4:2:0 path in several folders.
pytest_plugins = ["tests.support.fastpath"]
SLOW_GROUPS = ("browser", "ray", "rvm", "live_timing", "x11", "pipewire")  # registered in pyproject.toml


def pytest_collection_modifyitems(config, items):
    """Every test of a slow group is also `slow` (`-m "not slow"` leaves them out); a test that
    asks for RVM's weights (the ``rvm_cache`` fixture) is of the rvm group."""
    for item in items:
        if "rvm_cache" in getattr(item, "fixturenames", ()) and item.get_closest_marker("rvm") is None:
            item.add_marker(pytest.mark.rvm)
        if any(item.get_closest_marker(group) for group in SLOW_GROUPS):
            item.add_marker(pytest.mark.slow)

# A suite started in the background by a non-interactive shell (`nohup pytest … &`) inherits
# SIGINT ignored; the tests of Ctrl-C handling need Python's own handler, as in a terminal.
import signal as _signal  # noqa: E402

if _signal.getsignal(_signal.SIGINT) is _signal.SIG_IGN:
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def offline_cache(tmp_path_factory):
    """Every test (and the livebg processes they start) gets an empty cache of its own and no
    downloads: `auto` then falls back to the bundled selfie model, as on an offline machine,
    and nothing is written to the user's ~/.cache. Tests of RVM put the shared copy of its
    weights into a cache with ``rvm_cache``."""
    import os

    saved = {k: os.environ.get(k) for k in ("LIVEBG_CACHE", "LIVEBG_OFFLINE")}
    os.environ["LIVEBG_CACHE"] = str(tmp_path_factory.mktemp("livebg-cache"))
    os.environ["LIVEBG_OFFLINE"] = "1"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def rvm_cache(tmp_path, monkeypatch) -> Path:
    """A livebg cache holding RVM's release file (the shared copy, under its release name), as
    after a first download: the real loading code finds it and checks its sha256."""
    import shutil

    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copyfile(RVM_FILE, cache / RVM_FILE.name)
    monkeypatch.setenv("LIVEBG_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        raise RuntimeError(f"{SHARED} is missing: the tests need the shared models and media beside the repository")
    return SHARED


# -- bad inputs for the error tests (test_errors_*.py) ---------------------------------------------
@pytest.fixture(scope="session")
def media(tmp_path_factory, shared) -> dict[str, Path]:
    """Broken videos, backgrounds and models, made from a valid noise video (``media["valid"]``)."""
    from tests.support.cli_process import make_bad_media

    return make_bad_media(tmp_path_factory.mktemp("bad-inputs"), shared)


@pytest.fixture
def out_dir(tmp_path) -> Path:
    """An empty output directory that a refused job must leave empty."""
    d = tmp_path / "out"
    d.mkdir()
    return d
