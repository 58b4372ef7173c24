#!/usr/bin/env bash
# Checks the Nextflow modules (cluster/nextflow/modules/samcell) with check_modules.py: their
# nf-core parts and meta.yml, and their script and stub blocks rendered and run with bash as
# Nextflow would run them, with samcell, on synthetic images. Nextflow itself is not run (it
# cannot be installed from the package registries this project uses).
# Needs SAMCELL_BIN and PYTHON, an interpreter with PyYAML (cluster/test.sh sets both).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CLUSTER="$(cd "$HERE/../.." && pwd)"
# shellcheck source=SCRIPTDIR/../../test/lib.sh
. "$CLUSTER/test/lib.sh"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import yaml' 2>/dev/null ||
  engine_missing "PyYAML" "pip install -r cluster/test/requirements.txt; cluster/test.sh does it in a virtual environment"
need_samcell
WORK="$(work_dir nextflow)"
trap 'remove_work "$WORK"' EXIT
python3 "$CLUSTER/test/make_images.py" "$WORK/images" 4
mkdir -p "$WORK/bin"
ln -s "$SAMCELL_BIN" "$WORK/bin/samcell"
PATH="$WORK/bin:$PATH" "$PYTHON" "$HERE/check_modules.py" "$WORK/images"
step "Nextflow modules (without Nextflow): passed"
