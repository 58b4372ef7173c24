#!/usr/bin/env bash
# Submits a sharded samcell segment run to Slurm: a job array of SHARDS tasks
# (samcell-array.sbatch), then a summarize job (samcell-summarize.sbatch) that starts when every
# task has ended, done or failed (afterany), and merges their records into OUT/run.json and
# OUT/summary.csv. Prints the two job ids.
#
#   submit.sh [--shards N] [--sbatch OPTION]... [--logs DIR] [--wait] INPUT OUT [SEGMENT_OPTION...]
#
#   --shards N        array tasks (default 8); each gets a share of the images balanced by pixels
#   --sbatch OPTION   one more sbatch option for both jobs, e.g. --sbatch --partition=cpu
#                     --sbatch --account=lab (repeat it); for the array only use --array-sbatch
#   --array-sbatch O  one more sbatch option for the array only, e.g. --array-sbatch --mem=16G
#   --logs DIR        the jobs' log files (default OUT/slurm-logs; created)
#   --wait            wait for the summarize job and exit with its status (0: every image done)
#
# SEGMENT_OPTIONs (and further inputs) go to every `samcell segment` task. SAMCELL names the
# program if it is not `samcell` on PATH (it is passed to the jobs through the environment).
# Re-running the same command after a failure re-runs only what is missing: finished images are
# skipped.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SHARDS=8
WAIT=()
LOGS=""
BOTH=()
ARRAY=()
usage() { sed -n '7,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --shards) SHARDS="${2:?}"; shift 2 ;;
    --sbatch) BOTH+=("${2:?}"); shift 2 ;;
    --array-sbatch) ARRAY+=("${2:?}"); shift 2 ;;
    --logs) LOGS="${2:?}"; shift 2 ;;
    --wait) WAIT=(--wait); shift ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) echo "submit.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || usage
INPUT="$1"
OUT="$2"
shift 2
case "$SHARDS" in
  ''|*[!0-9]*|0) echo "submit.sh: --shards needs a whole number >= 1" >&2; exit 2 ;;
esac
LOGS="${LOGS:-$OUT/slurm-logs}"
mkdir -p "$LOGS"

# The jobs get the submitting environment (sbatch's default --export=ALL) with these added.
export INPUT OUT
array_id="$(sbatch --parsable "${BOTH[@]}" "${ARRAY[@]}" --array="0-$((SHARDS - 1))" \
  --output="$LOGS/samcell-%A_%a.log" "$HERE/samcell-array.sbatch" "$@")"
array_id="${array_id%%;*}"
echo "array job $array_id: $SHARDS shards of samcell segment into $OUT"
summarize=(sbatch --parsable "${BOTH[@]}" "${WAIT[@]}" --dependency="afterany:$array_id"
  --kill-on-invalid-dep=yes --output="$LOGS/samcell-summarize-%j.log"
  "$HERE/samcell-summarize.sbatch" "$OUT")
if [ ${#WAIT[@]} -eq 0 ]; then
  summary_id="$("${summarize[@]}")"
  echo "summarize job ${summary_id%%;*} after it; logs in $LOGS"
else
  echo "summarize job after it (waiting for it; logs in $LOGS):"
  status=0
  "${summarize[@]}" || status=$?
  echo "summarize job ended with exit status $status"
  exit "$status"
fi
