#!/usr/bin/env bash
# Builds the Python package samcell_rs into a virtual environment, installs the napari plugin
# beside it (python/napari-samcell-rs) and runs the pytest suite (python/tests), with the
# `samcell` program for the parity tests.
#
# The build reuses the workspace's target folder and what `cargo test` compiled: the dev profile
# at the test profile's optimisation (samcell's crates at opt-level 1, dependencies at 3, as
# [profile.test] gives them), fast enough for the real-image tests and with nothing of the
# dependency stack rebuilt. Environment: SAMCELL_PY_VENV (the virtual environment, default
# python/.venv), PYTHON (the interpreter that makes it, default python3), and the SAMCELL_DATA /
# SAMCELL_REQUIRE_DATA rules of the Rust tests.
set -euo pipefail
cd "$(dirname "$0")"
HERE="$(pwd)"
ROOT="$(cd .. && pwd)"
VENV="${SAMCELL_PY_VENV:-$HERE/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check maturin pytest numpy tifffile pillow
# napari and a Qt binding for the napari plugin's tests (napari-samcell-rs; about a minute to
# install into a fresh environment, once); SAMCELL_PY_NAPARI=0 leaves them out (those tests then
# skip). Pinned:
#   napari 0.9.2          the viewer release the plugin (npe2 manifest, magicgui widget) is
#                         tested on
#   PyQt6 6.11.0 + Qt     napari's recommended binding (its PyQt5 support is deprecated); the
#   6.11.2                wheels bundle Qt, the X libraries are the system's (.ci/run installs
#                         them with Xvfb)
#   pytest-qt 4.5.0       qtbot, under napari's make_napari_viewer fixture
if [ "${SAMCELL_PY_NAPARI:-1}" != 0 ]; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    "napari[pyqt6]==0.9.2" "PyQt6==6.11.0" "PyQt6-Qt6==6.11.2" "pytest-qt==4.5.0"
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export CARGO_PROFILE_DEV_OPT_LEVEL=1
cargo build -q -p samcell-cli --locked
export SAMCELL_BIN="$CARGO_TARGET_DIR/debug/samcell"
VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" maturin develop -q --locked
# the plugin, on the samcell_rs just built (no dependency resolution: samcell-rs is not on PyPI)
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e napari-samcell-rs
# napari's canvas needs OpenGL, which Qt's offscreen platform does not give: without a display
# the suite runs on a virtual X server when xvfb-run is installed
RUN=()
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && command -v xvfb-run >/dev/null 2>&1; then
  RUN=(xvfb-run -a -s "-screen 0 1280x1024x24")
fi
"${RUN[@]}" "$VENV/bin/python" -m pytest -q -rs tests
