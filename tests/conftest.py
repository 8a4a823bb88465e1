"""Fixtures for every test folder: an offline cache, the shared media, RVM's weights, the bad
inputs the error tests feed the CLI, and the ``--device``/``--dtype`` options (``device`` and
``dtype`` fixtures) of the tests of the CUDA path's settings. The builders and
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


# -- --device / --dtype: the CUDA path's parity and precision tests on a lent GPU -----------------
DTYPES = ("float32", "float16", "bfloat16")


def pytest_addoption(parser):
    group = parser.getgroup("livebg", "livebg's device tests")
    group.addoption("--device", choices=("cpu", "cuda"), default="cpu",
                    help="where the tests of the CUDA path's settings (reduced precision, batch and IO-binding "
                         "parity) run: cpu (default, the CPU stands in) or cuda (refused at once if no GPU is present)")
    group.addoption("--dtype", default="",
                    help="comma-separated dtypes for the precision tests (" + ", ".join(DTYPES) + "); default: "
                         "every dtype each test names with @pytest.mark.dtypes; the others are deselected")


def gpu_missing() -> str:
    """Why ``--device cuda`` cannot run here ("" when it can): torch must see a CUDA GPU and ONNX
    Runtime must have its CUDA provider (the two runtimes the device tests use)."""
    import onnxruntime
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU is present (torch.cuda.is_available() is False)"
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        return "ONNX Runtime has no CUDAExecutionProvider (install onnxruntime-gpu)"
    return ""


def chosen_dtypes(config) -> tuple[str, ...]:
    return tuple(d.strip() for d in config.getoption("--dtype").split(",") if d.strip())


def pytest_configure(config):
    unknown = [d for d in chosen_dtypes(config) if d not in DTYPES]
    if unknown:
        raise pytest.UsageError(f"--dtype {','.join(unknown)}: not a dtype of the precision tests; use "
                                + ", ".join(DTYPES))
    if config.getoption("--device") == "cuda":
        reason = gpu_missing()
        if reason:
            raise pytest.UsageError(f"--device cuda: {reason}; run on a machine with an NVIDIA GPU, or leave "
                                    "--device out to run the same tests on the CPU")


def pytest_generate_tests(metafunc):
    """A test that takes ``dtype`` runs once per dtype of its ``dtypes`` marker (ids: the names)."""
    if "dtype" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("dtypes")
        declared = marker.args if marker else DTYPES
        metafunc.parametrize("dtype", declared, ids=list(declared))


@pytest.fixture(scope="session")
def device(request) -> str:
    """"cpu" or "cuda" (``--device``): where the tests of the CUDA path's settings run."""
    return request.config.getoption("--device")


def pytest_collection_modifyitems(config, items):
    """Every test of a slow group is also `slow` (`-m "not slow"` leaves them out); a test that
    asks for RVM's weights (the ``rvm_cache`` fixture) is of the rvm group; with ``--dtype`` the
    precision tests of the other dtypes are deselected."""
    wanted = chosen_dtypes(config)
    if wanted:  # --dtype: the precision tests of other dtypes are deselected (reported), not skipped
        dropped = [i for i in items if hasattr(i, "callspec") and i.callspec.params.get("dtype", wanted[0]) not in wanted]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [i for i in items if i not in dropped]
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
