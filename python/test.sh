#!/usr/bin/env bash
# Builds the Python package samcell_rs into a virtual environment and runs its pytest suite
# (python/tests), with the `samcell` program for the parity tests.
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
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export CARGO_PROFILE_DEV_OPT_LEVEL=1
cargo build -q -p samcell-cli --locked
export SAMCELL_BIN="$CARGO_TARGET_DIR/debug/samcell"
VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" maturin develop -q --locked
"$VENV/bin/python" -m pytest -q -rs tests
