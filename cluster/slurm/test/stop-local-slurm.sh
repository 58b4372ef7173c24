#!/usr/bin/env bash
# Stops what start-local-slurm.sh STATE_DIR started: slurmd, slurmctld and munged, each by the
# PID recorded in STATE_DIR, waiting up to 20 s for each to exit before killing it.
set -uo pipefail
STATE="${1:?usage: stop-local-slurm.sh STATE_DIR}"
for daemon in slurmd slurmctld munged; do
  file="$STATE/$daemon.daemon-pid"
  [ -s "$file" ] || continue
  pid="$(cat "$file")"
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
done
