#!/usr/bin/env bash
# Builds the Python reference environment (the published samcell 1.1.4 on transformers 4.57) and
# its seeded random weights inside this folder, using the shared reference harness:
#   reference/venv      Python with torch, transformers, samcell, OpenCV, scikit-image, py-ctcmetrics
#   reference/weights   sam_{tiny,vitb}_{random,scaled}.{pt,safetensors} + synthetic test images
# Needed only for regenerating fixtures, the ViT-B parity check and the benchmark's reference column.
# SAMCELL_SHARED points at the shared materials (default: ../shared beside the repository).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SHARED="${SAMCELL_SHARED:-$HERE/../../shared}"
export REFERENCE_VENV="${SAMCELL_REF_VENV:-$HERE/venv}"
export REFERENCE_WEIGHTS="${SAMCELL_REF_WEIGHTS:-$HERE/weights}"
mkdir -p "$REFERENCE_WEIGHTS"
bash "$SHARED/reference/setup.sh"
if [ ! -f "$REFERENCE_WEIGHTS/synth_704x520.png" ]; then
  (cd "$SHARED/reference" && "$REFERENCE_VENV/bin/python" make_synthetic.py "$REFERENCE_WEIGHTS")
fi
echo "reference python: $REFERENCE_VENV/bin/python; weights and images: $REFERENCE_WEIGHTS"
