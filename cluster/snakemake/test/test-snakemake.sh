#!/usr/bin/env bash
# End-to-end test of the Snakemake recipe (cluster/snakemake) with Snakemake's local executor:
#  1. 3 shards over 6 synthetic images on 2 cores: every image segmented exactly once, summarize
#     ran (run.json, summary.csv whole);
#  2. snakemake again: nothing to do, nothing rewritten;
#  3. a shard whose outputs are lost: snakemake again redoes exactly that shard's images and
#     summarizes.
# Needs SAMCELL_BIN and SNAKEMAKE (cluster/test.sh sets both: snakemake from its virtual
# environment); without snakemake it skips, or fails under SAMCELL_REQUIRE_ENGINES.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SNAKE_DIR="$(cd "$HERE/.." && pwd)"
CLUSTER="$(cd "$SNAKE_DIR/.." && pwd)"
# shellcheck source=SCRIPTDIR/../../test/lib.sh
. "$CLUSTER/test/lib.sh"

SNAKEMAKE="${SNAKEMAKE:-snakemake}"
command -v "$SNAKEMAKE" >/dev/null 2>&1 ||
  engine_missing "snakemake" "pip install -r cluster/test/requirements.txt; cluster/test.sh does it in a virtual environment"
need_samcell
SHARDS=3

WORK="$(work_dir snakemake)"
cleanup() {
  remove_work "$WORK"
}
trap cleanup EXIT
python3 "$CLUSTER/test/make_images.py" "$WORK/images" 6
cd "$WORK"
snake=(timeout 300 "$SNAKEMAKE" --snakefile "$SNAKE_DIR/Snakefile" --cores 2 --directory "$WORK"
  --config "input=[images]" output=out "shards=$SHARDS" "samcell=$SAMCELL_BIN")

step "snakemake $("$SNAKEMAKE" --version): $SHARDS shards on 2 cores"
"${snake[@]}" >snakemake-1.txt 2>&1 || { tail -n 40 snakemake-1.txt >&2; cat out/logs/*.log >&2 || true; fail "snakemake exited non-zero"; }
python3 "$CLUSTER/test/check_run.py" out images "$SHARDS" --logs out/logs/segment-shard-*.log ||
  fail "the first run's results"

step "snakemake again: nothing to do"
before="$(ls -l --time-style=+%s.%N out)"
"${snake[@]}" >snakemake-2.txt 2>&1 || { tail -n 40 snakemake-2.txt >&2; fail "the second snakemake exited non-zero"; }
grep -q "Nothing to be done" snakemake-2.txt || { tail -n 40 snakemake-2.txt >&2; fail "the second snakemake ran jobs"; }
[ "$before" = "$(ls -l --time-style=+%s.%N out)" ] || fail "the second snakemake changed the output folder"

step "losing shard 1's outputs: snakemake again redoes them"
mapfile -t lost < <(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["images"]:
    print(r["name"])' "out/run-shard-1-of-$SHARDS.json")
[ "${#lost[@]}" -gt 0 ] || fail "shard 1 of $SHARDS had no images"
rm -f "out/run-shard-1-of-$SHARDS.json" "out/summary-shard-1-of-$SHARDS.csv"
for name in "${lost[@]}"; do rm -f out/"$name"_*; done
"${snake[@]}" >snakemake-3.txt 2>&1 || { tail -n 40 snakemake-3.txt >&2; fail "the third snakemake exited non-zero"; }
ran="$(grep -c "^localrule segment_shard:\|^rule segment_shard:" snakemake-3.txt || true)"
[ "$ran" = 1 ] || { tail -n 60 snakemake-3.txt >&2; fail "the third snakemake ran $ran shard jobs, not 1"; }
redone=()
for name in "${lost[@]}"; do redone+=(--redone "$name"); done
python3 "$CLUSTER/test/check_run.py" out images "$SHARDS" "${redone[@]}" --rerun-shards 1 \
  --logs "out/logs/segment-shard-1-of-$SHARDS.log" || fail "the re-run's results"
step "Snakemake recipe: passed"
