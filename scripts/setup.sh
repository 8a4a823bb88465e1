#!/usr/bin/env bash
# Creates .venv and installs livebg with its test tools, at the versions in constraints.txt
# (the ones the test suite passed with), and the system tools the tests need. Safe to run again.
# To move to newer releases on purpose: bash scripts/newest.sh --lock
# LIVEBG_NO_APT=1 leaves system packages alone (livebg itself needs none of them).
set -euo pipefail
cd "$(dirname "$0")/.."

# The tests of the preview window need a virtual X server, a key sender and a screenshot tool;
# the web page's tests need a headless browser and its WebDriver; the PipeWire camera's tests
# a PipeWire daemon, its session manager and GStreamer's pipewiresrc to read the camera back.
# livebg runs without them (its PipeWire camera needs only the pipewire package, on the desktop).
system_packages() {
  local missing=() tool pkg
  for pair in Xvfb:xvfb xdotool:xdotool import:imagemagick chromium:chromium chromedriver:chromium-driver \
              pipewire:pipewire wireplumber:wireplumber dbus-daemon:dbus-daemon gst-launch-1.0:gstreamer1.0-tools; do
    tool=${pair%%:*} pkg=${pair#*:}
    command -v "$tool" >/dev/null || missing+=("$pkg")
  done
  # GStreamer elements are plugins, not commands: pipewiresrc (the tests' reader) and the base and good sets
  for pair in pipewiresrc:gstreamer1.0-pipewire videoconvert:gstreamer1.0-plugins-base fdsink:gstreamer1.0-plugins-good; do
    tool=${pair%%:*} pkg=${pair#*:}
    command -v gst-inspect-1.0 >/dev/null && timeout 30 gst-inspect-1.0 "$tool" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local why="the preview-window, web-page and PipeWire-camera tests need them; livebg itself does not"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo -n); else sudo=(none); fi
  fi
  if [ "${LIVEBG_NO_APT:-}" = 1 ] || ! command -v apt-get >/dev/null || [ "${sudo[*]}" = none ]; then
    echo "setup: not installed: ${missing[*]} ($why): sudo apt-get install -y ${missing[*]}" >&2
    return 0
  fi
  echo "setup: installing ${missing[*]} ($why)" >&2
  if ! { "${sudo[@]}" apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "setup: could not install ${missing[*]} ($why): sudo apt-get install -y ${missing[*]}" >&2
  fi
}
system_packages

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e '.[test,serve,cluster]'
# Another package may pull in opencv-python-headless, which shadows opencv-python's cv2 and
# has no window support (needed by `livebg cam --preview`); keep the full build.
if .venv/bin/python -m pip show -q opencv-python-headless >/dev/null 2>&1; then
  .venv/bin/python -m pip uninstall -q -y opencv-python-headless
  .venv/bin/python -m pip install -q -c constraints.txt --force-reinstall --no-deps opencv-python
fi
