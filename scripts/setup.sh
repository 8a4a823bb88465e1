#!/usr/bin/env bash
# Creates .venv and installs livebg with its test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# Another package may pull in opencv-python-headless, which shadows opencv-python's cv2 and
# has no window support (needed by `livebg cam --preview`); keep the full build.
if .venv/bin/python -m pip show -q opencv-python-headless >/dev/null 2>&1; then
  .venv/bin/python -m pip uninstall -q -y opencv-python-headless
  .venv/bin/python -m pip install -q --force-reinstall --no-deps "opencv-python>=4.8"
fi
