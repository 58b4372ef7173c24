#!/usr/bin/env python3
"""Checks the repository's Dockerfile and .dockerignore without a Docker engine.

    check_dockerfile.py SAMCELL_BIN

- hadolint (on PATH) finds nothing;
- the build stage is the official rust image at a toolchain no older than the workspace's
  rust-version and every locked dependency's (from the crates' manifests in cargo's registry
  cache, those present), and builds `cargo build --release --locked -p samcell-cli`;
- every COPY source exists, is not excluded by .dockerignore, and the sources the build needs
  are copied (workspace manifests and lock, crates/, every workspace member's manifest, the
  samcell-lite weights);
- .dockerignore keeps out target/ and the virtual environments;
- the runtime stage is Debian slim of the build stage's release, runs as a non-root user, has
  samcell as its entry point, and provides every shared library the samcell program (SAMCELL_BIN,
  the same code built for tests) links against.
It does not build the image.
"""

import fnmatch
import glob
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# libraries of Debian's libc6 and libgcc-s1, which debian:*-slim has
BASE_LIBS = {"linux-vdso.so.1", "libc.so.6", "libm.so.6", "libgcc_s.so.1", "libpthread.so.0",
             "libdl.so.2", "librt.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}


def version(text):
    return tuple(int(x) for x in (text.split(".") + ["0", "0"])[:3])


def main():
    errors = []
    samcell = sys.argv[1]
    dockerfile = (ROOT / "Dockerfile").read_text()
    lint = subprocess.run(["hadolint", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    if lint.returncode != 0:
        errors.append("hadolint:\n" + lint.stdout + lint.stderr)

    # instructions, continuation lines joined, comments dropped
    lines = re.sub(r"\\\n", " ", "\n".join(
        ln for ln in dockerfile.splitlines() if not ln.lstrip().startswith("#"))).splitlines()
    stages = []
    for ln in lines:
        m = re.match(r"\s*(\w+)\s+(.*)", ln)
        if not m:
            continue
        op, arg = m.group(1).upper(), m.group(2).strip()
        if op == "FROM":
            stages.append({"from": arg, "ops": []})
        elif stages:
            stages[-1]["ops"].append((op, arg))
    if len(stages) != 2:
        errors.append(f"{len(stages)} stages, expected a build and a runtime stage")
        return report(errors)
    build, runtime = stages

    m = re.fullmatch(r"rust:(\d+\.\d+)(?:\.\d+)?-slim-(\w+)\s+AS\s+build", build["from"], re.I)
    if not m:
        errors.append(f"build stage {build['from']!r} is not rust:X.Y-slim-RELEASE AS build")
        return report(errors)
    toolchain, release = version(m.group(1)), m.group(2)
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())
    needed = [("the workspace", workspace["workspace"]["package"]["rust-version"])]
    lock = tomllib.loads((ROOT / "Cargo.lock").read_text())
    registry = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo")) / "registry" / "src"
    seen = 0
    for pkg in lock["package"]:
        if "registry" not in pkg.get("source", ""):
            continue
        found = glob.glob(str(registry / "*" / f"{pkg['name']}-{pkg['version']}" / "Cargo.toml"))
        if not found:
            continue
        seen += 1
        rv = tomllib.loads(Path(found[0]).read_text()).get("package", {}).get("rust-version")
        if isinstance(rv, str):
            needed.append((f"{pkg['name']} {pkg['version']}", rv))
    newest = max(needed, key=lambda n: version(n[1]))
    if toolchain < version(newest[1]):
        errors.append(f"rust {m.group(1)} is older than {newest[1]}, which {newest[0]} needs")
    runs = " ".join(arg for op, arg in build["ops"] if op == "RUN")
    if "cargo build --release --locked -p samcell-cli" not in runs:
        errors.append("the build stage does not run cargo build --release --locked -p samcell-cli")

    ignore = [p.strip().rstrip("/") for p in (ROOT / ".dockerignore").read_text().splitlines()
              if p.strip() and not p.startswith("#")]
    for must in ("target", "python/.venv", ".git"):
        if must not in ignore:
            errors.append(f".dockerignore does not exclude {must}")

    def ignored(rel):
        parts = Path(rel).parts
        return any(fnmatch.fnmatch("/".join(parts[:k]), pat) for pat in ignore
                   for k in range(1, len(parts) + 1))

    copied = []
    for op, arg in build["ops"]:
        if op == "COPY" and not arg.startswith("--from"):
            *sources, _dest = arg.split()
            for src in sources:
                if not (ROOT / src).exists():
                    errors.append(f"COPY source {src} does not exist")
                elif ignored(src):
                    errors.append(f"COPY source {src} is excluded by .dockerignore")
                copied.append(src.rstrip("/"))
    members = workspace["workspace"]["members"]
    needs = ["Cargo.toml", "Cargo.lock", "models", "crates"] + [f"{m}/Cargo.toml" for m in members]
    for need in needs:
        if not any(need == c or need.startswith(c + "/") for c in copied):
            errors.append(f"the build stage does not copy {need}")

    if not re.fullmatch(r"debian:" + re.escape(release) + r"-slim", runtime["from"]):
        errors.append(f"runtime stage {runtime['from']!r} is not debian:{release}-slim")
    users = [arg for op, arg in runtime["ops"] if op == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        errors.append("the runtime stage does not switch to a non-root user")
    if ("ENTRYPOINT", '["samcell"]') not in runtime["ops"]:
        errors.append('the runtime stage has no ENTRYPOINT ["samcell"]')
    if not any(op == "COPY" and arg.startswith("--from=build") and arg.endswith("/usr/local/bin/samcell")
               for op, arg in runtime["ops"]):
        errors.append("the runtime stage does not copy samcell from the build stage to /usr/local/bin")
    ldd = subprocess.run(["ldd", samcell], capture_output=True, text=True)
    libs = {ln.split()[0].rsplit("/", 1)[-1] for ln in ldd.stdout.splitlines() if ln.strip()}
    extra = libs - BASE_LIBS
    if ldd.returncode != 0 or extra:
        errors.append(f"samcell links against libraries debian slim lacks: {sorted(extra)} ({ldd.stderr.strip()})")
    if not errors:
        print(f"Dockerfile: hadolint clean; rust {m.group(1)} >= {newest[1]} ({newest[0]}, the newest "
              f"need of the workspace and {seen} locked crates); sources copied and not ignored; "
              f"runtime debian:{release}-slim, non-root, ENTRYPOINT samcell, libraries {sorted(libs)}")
    return report(errors)


def report(errors):
    for e in errors:
        print(f"FAILED: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
