#!/usr/bin/env bash
# Tests the cluster recipes in cluster/ against real engines where they can run here:
#   slurm      cluster/slurm on a one-node Slurm started by the test (needs slurm-wlm and munge)
#   snakemake  cluster/snakemake with Snakemake's local executor
#   nextflow   the Nextflow modules' nf-core parts, script and stub blocks, run with bash
#              (Nextflow itself is not run)
#   dockerfile the Dockerfile: hadolint and static checks
#   scripts    shellcheck over the recipes' shell scripts
#   docker     docker build and run: only with SAMCELL_TEST_DOCKER=1 and a Docker engine
# Each prints what it checked, or "SKIPPED: <engine> not installed (<how to get it>)"; with
# SAMCELL_REQUIRE_ENGINES=1 (CI) a missing engine fails instead. The last line counts them.
#
# Builds the samcell program as python/test.sh does (reusing cargo test's build) and installs
# cluster/test/requirements.txt (Snakemake, hadolint, PyYAML, shellcheck) into a virtual environment:
# SAMCELL_CLUSTER_VENV, default target/cluster-venv. Temporary files go to the system's
# temporary folder (SAMCELL_KEEP_WORK=1 keeps them). Arguments: the tests to run (default all).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export CARGO_PROFILE_DEV_OPT_LEVEL=1
(cd "$ROOT" && cargo build -q -p samcell-cli --locked) || { echo "FAILED: cargo build -p samcell-cli" >&2; exit 1; }
export SAMCELL_BIN="$CARGO_TARGET_DIR/debug/samcell"

VENV="${SAMCELL_CLUSTER_VENV:-$CARGO_TARGET_DIR/cluster-venv}"
if { [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"; } &&
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$HERE/test/requirements.txt"; then
  export SNAKEMAKE="$VENV/bin/snakemake" PYTHON="$VENV/bin/python"
  export PATH="$VENV/bin:$PATH"
else
  echo "cluster/test.sh: could not install cluster/test/requirements.txt into $VENV" >&2
fi

declare -A TESTS=(
  [slurm]="$HERE/slurm/test/test-slurm.sh"
  [snakemake]="$HERE/snakemake/test/test-snakemake.sh"
  [nextflow]="$HERE/nextflow/test/test-nextflow-modules.sh"
  [dockerfile]="$HERE/test/test-dockerfile.sh"
  [scripts]="$HERE/test/test-scripts.sh"
  [docker]="$HERE/test/test-docker-build.sh"
)
ORDER=(slurm snakemake nextflow dockerfile scripts docker)
[ $# -gt 0 ] && ORDER=("$@")
passed=0 failed=0 skipped=0 failures=()
for name in "${ORDER[@]}"; do
  script="${TESTS[$name]:-}"
  [ -n "$script" ] || { echo "cluster/test.sh: no test $name (${!TESTS[*]})" >&2; exit 2; }
  echo "=== $name"
  start=$SECONDS
  "$script"
  status=$?
  case "$status" in
    0) passed=$((passed + 1)); echo "=== $name: passed in $((SECONDS - start)) s" ;;
    77) skipped=$((skipped + 1)); echo "=== $name: skipped" ;;
    *) failed=$((failed + 1)); failures+=("$name"); echo "=== $name: FAILED (exit $status) in $((SECONDS - start)) s" ;;
  esac
done
[ $failed -eq 0 ] || echo "failed: ${failures[*]}"
echo "cluster: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
