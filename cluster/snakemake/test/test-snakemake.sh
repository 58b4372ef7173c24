#!/usr/bin/env bash
# End-to-end test of the Snakemake recipe (cluster/snakemake) with Snakemake's local executor,
# 3 shards over 6 synthetic images on 2 cores:
#  1. shard 1 fails (a wrapper of samcell exits 1 for it): with --keep-going the other shards
#     finish, summarize does not run, snakemake fails;
#  2. snakemake again: only shard 1 and summarize run; every image was segmented exactly once
#     over the two runs, run.json and summary.csv are whole;
#  3. snakemake again: nothing to do, nothing rewritten;
#  4. a shard whose outputs are lost: snakemake again redoes exactly that shard's images and
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
# samcell, except that shard 1 fails while the file fail-shard-1 exists
cat >samcell-flaky <<WRAPPER
#!/usr/bin/env bash
if [ -e "$WORK/fail-shard-1" ] && [[ " \$* " == *" --shard 1/$SHARDS "* ]]; then
  echo "shard 1 fails on purpose" >&2
  exit 1
fi
exec "$SAMCELL_BIN" "\$@"
WRAPPER
chmod +x samcell-flaky
snake=(timeout 300 "$SNAKEMAKE" --snakefile "$SNAKE_DIR/Snakefile" --cores 2 --directory "$WORK"
  --config "input=[images]" output=out "shards=$SHARDS" "samcell=$WORK/samcell-flaky")

step "snakemake $("$SNAKEMAKE" --version): $SHARDS shards on 2 cores, shard 1 failing"
touch fail-shard-1
if "${snake[@]}" --keep-going >snakemake-0.txt 2>&1; then
  tail -n 40 snakemake-0.txt >&2
  fail "snakemake succeeded with a failing shard"
fi
if [ ! -f "out/run-shard-0-of-$SHARDS.json" ] || [ ! -f "out/run-shard-2-of-$SHARDS.json" ]; then
  tail -n 40 snakemake-0.txt >&2
  fail "the shards that did not fail did not finish"
fi
[ ! -e "out/run-shard-1-of-$SHARDS.json" ] || fail "the failed shard's record was kept"
[ ! -e out/run.json ] || fail "summarize ran after a failed shard"

step "snakemake again: shard 1 and summarize run"
rm fail-shard-1
"${snake[@]}" >snakemake-1.txt 2>&1 || { tail -n 40 snakemake-1.txt >&2; cat out/logs/*.log >&2 || true; fail "snakemake exited non-zero"; }
ran="$(grep -c "^localrule segment_shard:\|^rule segment_shard:" snakemake-1.txt || true)"
[ "$ran" = 1 ] || { tail -n 60 snakemake-1.txt >&2; fail "snakemake ran $ran shard jobs after one failed, not 1"; }
python3 "$CLUSTER/test/check_run.py" out images "$SHARDS" --logs out/logs/segment-shard-*.log ||
  fail "the results of the failed and the repeated run"

step "snakemake again: nothing to do"
before="$(ls -l --time-style=+%s.%N out)"
"${snake[@]}" >snakemake-2.txt 2>&1 || { tail -n 40 snakemake-2.txt >&2; fail "the second snakemake exited non-zero"; }
grep -q "Nothing to be done" snakemake-2.txt || { tail -n 40 snakemake-2.txt >&2; fail "the second snakemake ran jobs"; }
[ "$before" = "$(ls -l --time-style=+%s.%N out)" ] || fail "the second snakemake changed the output folder"

step "losing shard 1's outputs: snakemake again redoes them"
lose_shard out 1 "$SHARDS" >lost.txt
mapfile -t lost <lost.txt
"${snake[@]}" >snakemake-3.txt 2>&1 || { tail -n 40 snakemake-3.txt >&2; fail "the third snakemake exited non-zero"; }
ran="$(grep -c "^localrule segment_shard:\|^rule segment_shard:" snakemake-3.txt || true)"
[ "$ran" = 1 ] || { tail -n 60 snakemake-3.txt >&2; fail "the third snakemake ran $ran shard jobs, not 1"; }
redone=()
for name in "${lost[@]}"; do redone+=(--redone "$name"); done
python3 "$CLUSTER/test/check_run.py" out images "$SHARDS" "${redone[@]}" --rerun-shards 1 \
  --logs "out/logs/segment-shard-1-of-$SHARDS.log" || fail "the re-run's results"
step "Snakemake recipe: passed"
