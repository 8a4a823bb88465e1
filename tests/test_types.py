"""The type checker as a test (as pyvirtualcam runs mypy in its suite): the base classes and
what passes between stages are checked, not hoped for. Settings: [tool.mypy] in pyproject.toml."""
from __future__ import annotations

from pathlib import Path

from mypy import api

REPO = Path(__file__).resolve().parent.parent


def test_mypy_passes_over_the_package():
    out, err, status = api.run(["--config-file", str(REPO / "pyproject.toml"), str(REPO / "livebg")])
    assert status == 0, out + err
