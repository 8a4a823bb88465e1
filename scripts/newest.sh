#!/usr/bin/env bash
# Runs the test suite against the newest releases that pyproject.toml's ranges allow, in a venv
# of its own (.venv-newest), so that drift in a dependency is found on purpose, not by a newcomer.
#   bash scripts/newest.sh          # report only
#   bash scripts/newest.sh --lock   # and, when the suite passes, write those versions to constraints.txt
# scripts/setup.sh and CI install exactly what constraints.txt lists.
set -euo pipefail
cd "$(dirname "$0")/.."
lock=0
[ "${1:-}" = "--lock" ] && lock=1
rm -rf .venv-newest
python3 -m venv .venv-newest
.venv-newest/bin/python -m pip install -q --upgrade pip
.venv-newest/bin/python -m pip install -q --upgrade --upgrade-strategy eager -e '.[test,serve,cluster]'
if .venv-newest/bin/python -m pip show -q opencv-python-headless >/dev/null 2>&1; then
  .venv-newest/bin/python -m pip uninstall -q -y opencv-python-headless
  .venv-newest/bin/python -m pip install -q --force-reinstall --no-deps "opencv-python"
fi
echo "newest releases:"
.venv-newest/bin/python -m pip freeze --exclude-editable | grep -iE '^(torch|torchvision|onnxruntime|opencv-python|numpy|av|pyvirtualcam|pymatting|numba)=='
.venv-newest/bin/python -m pytest -q -p no:cacheprovider
if [ "$lock" = 1 ]; then
  { echo "# The versions the test suite passed with; written by: bash scripts/newest.sh --lock"
    echo "# scripts/setup.sh and .ci/run install exactly these. pyproject.toml keeps the open ranges."
    .venv-newest/bin/python -m pip freeze --exclude-editable | grep -v '^opencv-python-headless=='; } > constraints.txt
  echo "wrote constraints.txt"
fi
