"""Where things are: the repository, its tests and the shared models and media beside it."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent
SHARED = REPO.parent / "shared"
RVM_FILE = SHARED / "models" / "rvm_mobilenetv3_fp32.onnx"
DOCTOR = SHARED / "media" / "videos" / "doctor_960x540.mp4"


def load_script(name: str) -> ModuleType:
    """scripts/``name``.py imported by its path (scripts/ is not a package, nor on sys.path)."""
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None, f"scripts/{name}.py is missing"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
