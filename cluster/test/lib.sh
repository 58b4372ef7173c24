# shellcheck shell=bash
# Helpers of the cluster recipe tests (sourced). Exit codes of a test script: 0 passed,
# 77 skipped, anything else failed.

# Whether a missing engine fails the tests: SAMCELL_REQUIRE_ENGINES set to anything but empty
# or 0 (CI sets it after installing the engines).
engines_required() {
  [ -n "${SAMCELL_REQUIRE_ENGINES:-}" ] && [ "${SAMCELL_REQUIRE_ENGINES}" != 0 ]
}

# engine_missing ENGINE HOW: the engine the test needs is not there. Prints
# "SKIPPED: ENGINE not installed (HOW)" and exits 77, or, with SAMCELL_REQUIRE_ENGINES, fails.
engine_missing() {
  if engines_required; then
    echo "FAILED: $1 not installed ($2); SAMCELL_REQUIRE_ENGINES is set, so a missing engine fails the test" >&2
    exit 1
  fi
  echo "SKIPPED: $1 not installed ($2)"
  exit 77
}

# fail MESSAGE...: the test failed.
fail() {
  echo "FAILED: $*" >&2
  exit 1
}

# step MESSAGE...: what the test does next, with the seconds since it started.
step() {
  printf '[%5.1fs] %s\n' "$SECONDS" "$*"
}

# need_samcell: SAMCELL_BIN must name the samcell program (cluster/test.sh builds it).
need_samcell() {
  if [ -z "${SAMCELL_BIN:-}" ] || [ ! -x "$SAMCELL_BIN" ]; then
    fail "SAMCELL_BIN must name the samcell program (cluster/test.sh builds it and sets it)"
  fi
}

# work_dir NAME: a fresh folder in the system's temporary folder (TMPDIR); the tests remove it
# at exit unless SAMCELL_KEEP_WORK=1.
work_dir() {
  mktemp -d -t "samcell-$1.XXXXXX"
}

# remove_work DIR: removes a work_dir folder, or keeps it (and says where) with
# SAMCELL_KEEP_WORK=1.
remove_work() {
  if [ "${SAMCELL_KEEP_WORK:-0}" = 1 ]; then echo "kept $1"; else rm -rf "$1"; fi
}

# lose_shard OUT I N: deletes shard I of N's record, summary rows and every output of its images
# from OUT, as a lost node leaves it, and prints the names of those images, one per line.
lose_shard() {
  local out="$1" i="$2" n="$3" name names
  mapfile -t names < <(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["images"]:
    print(r["name"])' "$out/run-shard-$i-of-$n.json")
  [ "${#names[@]}" -gt 0 ] || fail "shard $i of $n had no images"
  rm -f "$out/run-shard-$i-of-$n.json" "$out/summary-shard-$i-of-$n.csv"
  for name in "${names[@]}"; do
    rm -f "$out/$name"_*
    echo "$name"
  done
}
