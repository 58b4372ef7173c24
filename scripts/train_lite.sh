#!/usr/bin/env bash
# Trains the built-in samcell-lite model from scratch and measures it on the held-out split,
# exactly as recorded in MODEL_CARD.md. Run from the repository root:
#
#   SAMCELL_DATA=/path/to/data scripts/train_lite.sh [WORK_DIR]
#
# SAMCELL_DATA must hold usiigaci-phc/train/{images,masks} (45 images, setN.tif + setN.png).
# Validation split: set5, set10, ..., set45 (every fifth image, 9 images); training: the other 36.
# Everything is written below WORK_DIR (default: lite-train): split/ (links to the data),
# train_set/ and val_set/ (`samcell prepare`), run/ (`samcell train`), val_labels/
# (`samcell segment`) and eval/ (`samcell eval`). The weights to ship are run/best.safetensors.
set -euo pipefail

: "${SAMCELL_DATA:?set SAMCELL_DATA to the folder holding usiigaci-phc/}"
WORK="${1:-lite-train}"
SRC="$SAMCELL_DATA/usiigaci-phc/train"
SEED="${SAMCELL_LITE_SEED:-7}"
EPOCHS_MIN="${SAMCELL_LITE_MIN_EPOCHS:-60}"
EPOCHS_MAX="${SAMCELL_LITE_MAX_EPOCHS:-60}"

cargo build --release --locked -p samcell-cli
BIN="$(pwd)/target/release/samcell"

mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
rm -rf "$WORK/split"
for part in train val; do
  mkdir -p "$WORK/split/$part/images" "$WORK/split/$part/masks"
done
for n in $(seq 1 45); do
  part=train
  if (( n % 5 == 0 )); then part=val; fi
  ln -s "$(cd "$SRC" && pwd)/images/set$n.tif" "$WORK/split/$part/images/set$n.tif"
  ln -s "$(cd "$SRC" && pwd)/masks/set$n.png" "$WORK/split/$part/masks/set$n.png"
done

for part in train val; do
  "$BIN" prepare --format folders --images "$WORK/split/$part/images" --masks "$WORK/split/$part/masks" \
    --out "$WORK/${part}_set" --overwrite
done

RESUME=()
if [ -d "$WORK/run/state" ]; then RESUME=(--resume); fi
"$BIN" train --arch lite --from-scratch --arch-config default \
  --data "$WORK/train_set" --val-data "$WORK/val_set" --out "$WORK/run" "${RESUME[@]}" \
  --seed "$SEED" --batch-size 4 --lr 1e-3 --weight-decay 0.01 --warmup 50 \
  --min-epochs "$EPOCHS_MIN" --max-epochs "$EPOCHS_MAX" --patience 15 --checkpoint-every 50

"$BIN" segment --model "lite:$WORK/run/best.safetensors" "$WORK/split/val/images" \
  --output "$WORK/val_labels" --overwrite
"$BIN" eval --pred "$WORK/val_labels" --gt "$WORK/split/val/masks" --output "$WORK/eval"
