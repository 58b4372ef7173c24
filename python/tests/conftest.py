"""Shared helpers of the samcell_rs tests: where the shared image sets and the `samcell` program
are, with the rule of the Rust tests (crates/samcell-testdata): a missing material skips the test
with one line, and with SAMCELL_REQUIRE_DATA=1 (set by CI) fails it instead."""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Without a display Qt aborts the process when napari's test support starts it; the offscreen
# platform lets the session run (the napari widget tests, which need OpenGL, then skip).
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _shared_dir() -> Path:
    env = os.environ.get("SAMCELL_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def data_dir() -> Path:
    """The real image sets: $SAMCELL_DATA, else $SAMCELL_SHARED/data, else shared/data beside
    the repository."""
    env = os.environ.get("SAMCELL_DATA")
    return Path(env) if env else _shared_dir() / "data"


def data_required() -> bool:
    v = os.environ.get("SAMCELL_REQUIRE_DATA", "")
    return v not in ("", "0")


def skip(why: str) -> None:
    """Skips the calling test, or fails it under SAMCELL_REQUIRE_DATA=1."""
    if data_required():
        pytest.fail(f"{why}; SAMCELL_REQUIRE_DATA is set, so missing materials fail the test")
    pytest.skip(why)


def require_data(*files: str) -> list:
    """The files (relative to the data folder), or a skip naming the missing ones."""
    root = data_dir()
    paths = [root / f for f in files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        skip(
            f"shared data not found: {', '.join(missing)} "
            "(set SAMCELL_DATA to the folder holding usiigaci-phc/)"
        )
    return paths


def samcell_bin() -> Path:
    """The `samcell` program: $SAMCELL_BIN, else the workspace's target folder (release, then
    debug), or a skip."""
    env = os.environ.get("SAMCELL_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for profile in ("release", "debug"):
        p = target / profile / "samcell"
        if p.is_file():
            return p
    skip("the samcell program was not found (build it: cargo build -p samcell-cli, or set SAMCELL_BIN)")


def run_samcell(*args) -> subprocess.CompletedProcess:
    """Runs `samcell ARGS`; a failure shows its output."""
    r = subprocess.run(
        [str(samcell_bin()), *map(str, args)], capture_output=True, text=True
    )
    assert r.returncode == 0, f"samcell {' '.join(map(str, args))} failed:\n{r.stderr}"
    return r
