#!/usr/bin/env bash
# Starts a one-node Slurm cluster for tests: munged, slurmctld and slurmd, all with their
# configuration, state, sockets, logs and PID files in STATE_DIR (created; it should be empty
# and private, e.g. from mktemp -d), on free local ports, so it neither needs nor touches a
# system Slurm or munge. The node has this machine's CPUs and memory.
#
#   start-local-slurm.sh STATE_DIR     then: export SLURM_CONF=STATE_DIR/slurm.conf
#   stop-local-slurm.sh STATE_DIR      ends the three daemons by the PIDs recorded here
#
# Run as root, the daemons run as root (SlurmUser=root); run as another user, they run as that
# user, which can only run that user's own jobs (untested). Plugins are the simplest that work
# in a container: no cgroups (proctrack/linuxproc, task/none), no accounting, no MPI.
# Exits 0 once the node is idle; non-zero with the daemons' logs otherwise (the daemons that did
# start are stopped).
set -euo pipefail
STATE="${1:?usage: start-local-slurm.sh STATE_DIR}"
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
chmod 700 "$STATE"
mkdir -p "$STATE/munge" "$STATE/ctld" "$STATE/slurmd"

for tool in munged mungekey munge unmunge slurmctld slurmd scontrol sinfo; do
  command -v "$tool" >/dev/null || { echo "start-local-slurm: $tool not found" >&2; exit 1; }
done

# the cluster's identity: this host, its CPUs and memory (less 10% for the system)
HOST="$(hostname -s)"
CPUS="$(nproc)"
MEM_MB=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 9 / 10240 ))
USER_NAME="$(id -un)"
# two free TCP ports on the loopback interface, one for slurmctld and one for slurmd
read -r CTLD_PORT SLURMD_PORT < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)

SOCKET="$STATE/munge/munge.socket"
cat >"$STATE/slurm.conf" <<CONF
ClusterName=samcelltest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=$USER_NAME
SlurmdUser=$USER_NAME
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=600
KillWait=5
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=local Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$STATE/slurm.conf"

fail() {
  echo "start-local-slurm: $1" >&2
  for log in munged.log slurmctld.log slurmd.log; do
    if [ -s "$STATE/$log" ]; then
      echo "--- last lines of $log" >&2
      tail -n 20 "$STATE/$log" >&2
    fi
  done
  "$HERE/stop-local-slurm.sh" "$STATE" || true
  exit 1
}

# waits up to $1 seconds for the command after it to succeed
wait_for() {
  local limit=$1
  shift
  local start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    (( SECONDS - start < limit )) || return 1
    sleep 0.5
  done
}

mungekey --create --keyfile="$STATE/munge/munge.key" 2>/dev/null ||
  dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$STATE/munge/munge.key"
# Each daemon runs in the foreground of a background job, so that $! is its PID.
munged --foreground --force --socket="$SOCKET" --key-file="$STATE/munge/munge.key" \
  --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/munged.log" \
  --seed-file="$STATE/munge/munged.seed" </dev/null >>"$STATE/munged.log" 2>&1 &
echo $! >"$STATE/munged.daemon-pid"
munge_ok() { munge -n -S "$SOCKET" | unmunge -S "$SOCKET"; }
wait_for 20 munge_ok || fail "munged did not answer on $SOCKET"

slurmctld -D -f "$SLURM_CONF" </dev/null >>"$STATE/slurmctld.out" 2>&1 &
echo $! >"$STATE/slurmctld.daemon-pid"
wait_for 30 scontrol ping || fail "slurmctld did not answer"
slurmd -D -f "$SLURM_CONF" -N "$HOST" </dev/null >>"$STATE/slurmd.out" 2>&1 &
echo $! >"$STATE/slurmd.daemon-pid"
node_idle() { [ "$(sinfo -h -N -n "$HOST" -o %T)" = idle ]; }
wait_for 60 node_idle || fail "node $HOST did not become idle: $(sinfo -h -N -o '%N %T %E' 2>&1)"
echo "local Slurm up: SLURM_CONF=$SLURM_CONF (node $HOST, $CPUS CPUs, $MEM_MB MB)"
