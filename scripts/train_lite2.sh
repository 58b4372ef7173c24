#!/usr/bin/env bash
# Trains the built-in nuclei model, samcell-lite-nuclei (one network for all three public data
# sets), from scratch and measures it on the held-out test splits, exactly as recorded in
# MODEL_CARD.md ("samcell-lite-nuclei"; scripts/train_lite.sh makes the built-in cell model).
# Run from the repository root:
#
#   SAMCELL_DATA=/path/to/data scripts/train_lite2.sh [WORK_DIR]
#
# SAMCELL_DATA must hold usiigaci-phc/, dsb2018-train/ and bacteria-timelapse/ (MODEL_CARD.md,
# "Data"). scripts/lite_splits.py links them into train / validation / test splits below
# WORK_DIR/split and checks every file against models/samcell-lite2.data.sha256. Then:
# `samcell prepare` of the training and validation splits (train_set/, val_set/), one
# `samcell train` run from scratch (run/; the validation split chooses the epoch), and for each
# data set `samcell segment` of its test split with the trained weights (test_<set>/) and
# `samcell eval` against its masks (eval_<set>/). The trained weights are run/best.safetensors.
# A killed run is resumed by running the script again with the same WORK_DIR.
set -euo pipefail

: "${SAMCELL_DATA:?set SAMCELL_DATA to the folder holding usiigaci-phc/, dsb2018-train/, bacteria-timelapse/}"
WORK="${1:-lite2-train}"
SEED="${SAMCELL_LITE_SEED:-7}"
EPOCHS="${SAMCELL_LITE_EPOCHS:-50}"

cargo build --release --locked -p samcell-cli
BIN="$(pwd)/target/release/samcell"

mkdir -p "$WORK"
python3 scripts/lite_splits.py "$SAMCELL_DATA" "$WORK" --check models/samcell-lite2.data.sha256
WORK="$(cd "$WORK" && pwd)"

for part in train val; do
  if [ ! -f "$WORK/${part}_set/manifest.json" ]; then
    "$BIN" prepare --format folders --images "$WORK/split/$part/images" \
      --masks "$WORK/split/$part/masks" --out "$WORK/${part}_set" --overwrite
  fi
done

cat > "$WORK/arch.json" <<'EOF'
{"base_width":8,"levels":4,"norm_groups":4,"crop":256,"overlap":32}
EOF

# --resume when run/ holds a resume point of an interrupted run.
resume=()
if [ -d "$WORK/run/state" ]; then resume=(--resume); fi

"$BIN" train --arch lite --from-scratch --arch-config "$WORK/arch.json" \
  --data "$WORK/train_set" --val-data "$WORK/val_set" --out "$WORK/run" "${resume[@]}" \
  --seed "$SEED" --batch-size 8 --lr 1e-3 --weight-decay 0.01 --warmup 100 \
  --min-epochs "$EPOCHS" --max-epochs "$EPOCHS" --patience "$EPOCHS" --val-crops 6 \
  --augment wide --checkpoint-every 50

for set in usiigaci dsb bacteria; do
  "$BIN" segment --model "lite:$WORK/run/best.safetensors" "$WORK/split/test-$set/images" \
    --output "$WORK/test_$set" --overwrite
  "$BIN" eval --pred "$WORK/test_$set" --gt "$WORK/split/test-$set/masks" --output "$WORK/eval_$set"
done
