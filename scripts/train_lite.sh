#!/usr/bin/env bash
# Trains the built-in samcell-lite model from scratch and measures it on the held-out split,
# exactly as recorded in MODEL_CARD.md. Run from the repository root:
#
#   SAMCELL_DATA=/path/to/data scripts/train_lite.sh [WORK_DIR]
#
# SAMCELL_DATA must hold usiigaci-phc/train/{images,masks} (45 images, setN.tif + setN.png).
# Validation split: set5, set10, ..., set45 (every fifth image, 9 images); training: the other 36.
# Training has two stages: run/ trains from scratch (60 epochs, peak lr 1e-3), run2/ continues
# from run/best.safetensors with a fresh optimiser and schedule (140 epochs, peak lr 5e-4).
# Everything is written below WORK_DIR (default: lite-train): split/ (links to the data),
# train_set/ and val_set/ (`samcell prepare`), run/ and run2/ (`samcell train`), val_labels/
# (`samcell segment`) and eval/ (`samcell eval`). The weights to ship are run2/best.safetensors.
# A killed run is resumed by running the script again with the same WORK_DIR.
set -euo pipefail

: "${SAMCELL_DATA:?set SAMCELL_DATA to the folder holding usiigaci-phc/}"
WORK="${1:-lite-train}"
SRC="$SAMCELL_DATA/usiigaci-phc/train"
SEED="${SAMCELL_LITE_SEED:-7}"
EPOCHS1="${SAMCELL_LITE_EPOCHS1:-60}"
EPOCHS2="${SAMCELL_LITE_EPOCHS2:-140}"

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

# resume_flag DIR: --resume when DIR holds a resume point of an interrupted run.
resume_flag() { if [ -d "$1/state" ]; then echo --resume; fi; }

"$BIN" train --arch lite --from-scratch --arch-config default \
  --data "$WORK/train_set" --val-data "$WORK/val_set" --out "$WORK/run" $(resume_flag "$WORK/run") \
  --seed "$SEED" --batch-size 4 --lr 1e-3 --weight-decay 0.01 --warmup 50 \
  --min-epochs "$EPOCHS1" --max-epochs "$EPOCHS1" --patience 15 --checkpoint-every 50

"$BIN" train --arch lite --init "$WORK/run/best.safetensors" \
  --data "$WORK/train_set" --val-data "$WORK/val_set" --out "$WORK/run2" $(resume_flag "$WORK/run2") \
  --seed "$SEED" --batch-size 4 --lr 5e-4 --weight-decay 0.01 --warmup 50 \
  --min-epochs "$EPOCHS2" --max-epochs "$EPOCHS2" --patience 15 --checkpoint-every 50

"$BIN" segment --model "lite:$WORK/run2/best.safetensors" "$WORK/split/val/images" \
  --output "$WORK/val_labels" --overwrite
"$BIN" eval --pred "$WORK/val_labels" --gt "$WORK/split/val/masks" --output "$WORK/eval"
