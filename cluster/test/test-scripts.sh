#!/usr/bin/env bash
# Runs shellcheck over every shell script of the cluster recipes and their tests (warnings and
# errors fail). Needs shellcheck on PATH (cluster/test.sh's virtual environment has it).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CLUSTER="$(cd "$HERE/.." && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"
command -v shellcheck >/dev/null 2>&1 ||
  engine_missing "shellcheck" "pip install -r cluster/test/requirements.txt; cluster/test.sh does it in a virtual environment"
cd "$CLUSTER"
mapfile -t scripts < <(find . -name '*.sh' -o -name '*.sbatch' | LC_ALL=C sort)
shellcheck -x --severity=warning "${scripts[@]}"
step "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): ${#scripts[@]} scripts clean"
