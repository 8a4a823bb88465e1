#!/usr/bin/env bash
# Creates .venv and installs livebg with its test tools, at the versions in constraints.txt
# (the ones the test suite passed with). Safe to run again.
# To move to newer releases on purpose: bash scripts/newest.sh --lock
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e '.[test,serve,cluster]'
# Another package may pull in opencv-python-headless, which shadows opencv-python's cv2 and
# has no window support (needed by `livebg cam --preview`); keep the full build.
if .venv/bin/python -m pip show -q opencv-python-headless >/dev/null 2>&1; then
  .venv/bin/python -m pip uninstall -q -y opencv-python-headless
  .venv/bin/python -m pip install -q -c constraints.txt --force-reinstall --no-deps opencv-python
fi
