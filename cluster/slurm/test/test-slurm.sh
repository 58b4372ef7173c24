#!/usr/bin/env bash
# End-to-end test of the Slurm recipe (cluster/slurm) on a real one-node Slurm cluster that it
# starts itself (start-local-slurm.sh: munged, slurmctld, slurmd in a temporary folder):
#  1. submit.sh --wait submits the array (3 shards over 6 synthetic images) and the dependent
#     summarize job; every image is segmented exactly once and summarize exits 0;
#  2. summarize again gives the same run.json and summary.csv;
#  3. a shard whose outputs are lost: summarize exits 1 and prints the re-run command; the same
#     submit.sh command again redoes exactly that shard's images and skips the others.
# Needs SAMCELL_BIN (cluster/test.sh sets it) and Slurm with munge (Debian: apt-get install
# slurm-wlm munge); without them it skips, or fails under SAMCELL_REQUIRE_ENGINES.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SLURM_DIR="$(cd "$HERE/.." && pwd)"
CLUSTER="$(cd "$SLURM_DIR/.." && pwd)"
# shellcheck source=SCRIPTDIR/../../test/lib.sh
. "$CLUSTER/test/lib.sh"

for tool in slurmctld slurmd sbatch squeue munged; do
  command -v "$tool" >/dev/null 2>&1 ||
    engine_missing "Slurm" "$tool not found; Debian/Ubuntu: apt-get install slurm-wlm munge"
done
need_samcell
SHARDS=3

WORK="$(work_dir slurm)"
STATE="$WORK/slurm"
cleanup() {
  "$HERE/stop-local-slurm.sh" "$STATE" || true
  remove_work "$WORK"
}
trap cleanup EXIT

python3 "$CLUSTER/test/make_images.py" "$WORK/images" 6
step "starting a one-node Slurm in $STATE"
"$HERE/start-local-slurm.sh" "$STATE"
export SLURM_CONF="$STATE/slurm.conf"

cd "$WORK"
export SAMCELL="$SAMCELL_BIN"
# one CPU per task so that two tasks run at once on two cores; little memory (samcell-lite on
# small images), a short time limit
submit=(timeout 300 "$SLURM_DIR/submit.sh" --shards "$SHARDS" --wait --sbatch --cpus-per-task=1
  --sbatch --mem=1G --sbatch --time=10 images out)

step "submitting $SHARDS array tasks and the summarize job, waiting for them"
status=0
"${submit[@]}" | tee submit-1.txt || status=$?
[ "$status" = 0 ] || { tail -n 30 out/slurm-logs/*.log >&2; fail "summarize job exited $status"; }
array1="$(sed -n 's/^array job \([0-9]*\):.*/\1/p' submit-1.txt)"
python3 "$CLUSTER/test/check_run.py" out images "$SHARDS" --logs out/slurm-logs/samcell-"$array1"_*.log ||
  fail "the first run's results"

step "summarize again: same files, exit 0"
cp out/run.json run-1.json
cp out/summary.csv summary-1.csv
"$SAMCELL_BIN" summarize out >summarize-2.txt 2>&1 || { cat summarize-2.txt >&2; fail "summarize of a whole run did not exit 0"; }
cmp -s out/run.json run-1.json || fail "run.json changed on summarizing again"
cmp -s out/summary.csv summary-1.csv || fail "summary.csv changed on summarizing again"

step "losing shard 1's outputs: summarize must exit 1 and name the re-run"
lose_shard out 1 "$SHARDS" >lost.txt
mapfile -t lost <lost.txt
status=0
"$SAMCELL_BIN" summarize out >summarize-3.txt 2>&1 || status=$?
[ "$status" = 1 ] || { cat summarize-3.txt >&2; fail "summarize with a lost shard exited $status, not 1"; }
grep -q "samcell segment" summarize-3.txt || { cat summarize-3.txt >&2; fail "summarize did not print the re-run command"; }
for name in "${lost[@]}"; do
  grep -q "$name" summarize-3.txt || { cat summarize-3.txt >&2; fail "summarize did not name $name"; }
done

step "the same submit.sh command again: only ${lost[*]} are redone"
status=0
"${submit[@]}" | tee submit-2.txt || status=$?
[ "$status" = 0 ] || { tail -n 30 out/slurm-logs/*.log >&2; fail "the re-run's summarize job exited $status"; }
array2="$(sed -n 's/^array job \([0-9]*\):.*/\1/p' submit-2.txt)"
redone=()
for name in "${lost[@]}"; do redone+=(--redone "$name"); done
python3 "$CLUSTER/test/check_run.py" out images "$SHARDS" "${redone[@]}" \
  --logs out/slurm-logs/samcell-"$array2"_*.log || fail "the re-run's results"
step "Slurm recipe: passed"
