#!/bin/bash
# make deploy-test-slurm: runs a ferd experiment through Deploy/slurm/ferd.sbatch on a one-node Slurm cluster
# started here, and checks what docs/DEPLOY.md#slurm promises.
#
#   Deploy/slurm/test/run.sh [FERD_BINARY]     (default: .build/release/ferd; run as root)
#
# It installs Debian's slurm-wlm, munge and sqlite3 when missing, writes a slurm.conf for this machine (its real
# CPUs and memory, select/cons_tres, proctrack/linuxproc and task/none so that no cgroups are needed, no
# accounting) under the state folder, starts a private munged, slurmctld and slurmd (own socket and ports), makes
# a synthetic dataset and runs a small experiment (8 trials, 8 epochs, 3 workers as array tasks 0-2) in three
# submissions:
#   1. with --time=1: Slurm stops it at the time limit before it is complete;
#   2. the same command again: it resumes; worker-2 (array task 2) is cancelled with scancel while its trial has
#      stored 2 epochs of this attempt and has 3 or more to go; the experiment completes;
#   3. the same command once more: nothing is re-run and every task ends at once.
# Then every trial must be DONE with exactly one result, the cancelled trial must have been finished by a later
# attempt resumed from its checkpoint, the cancelled task must be CANCELLED and task 0 COMPLETED.
# The daemons are stopped at the end whatever happens; on a failure the logs' tails are printed.
# Settings: FERD_SLURM_TEST_DIR (state folder, default .build/deploy-test/slurm; emptied first),
# FERD_SLURM_TEST_PORTS (slurmctld port, then slurmd and ferd use the next ones; default 16817).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../../.." && pwd)
ferd=$(realpath -m "${1:-$repo/.build/release/ferd}")
state=$(realpath -m "${FERD_SLURM_TEST_DIR:-$repo/.build/deploy-test/slurm}")
ctld_port=${FERD_SLURM_TEST_PORTS:-16817}
slurmd_port=$((ctld_port + 1))
ferd_port=$((ctld_port + 2))
started=$(date +%s)

say() { echo "deploy-test-slurm [$(( $(date +%s) - started ))s]: $*"; }
fail() {
  echo "deploy-test-slurm: FAILED: $*" >&2
  show_logs >&2
  exit 1
}
show_logs() {
  local f
  for f in "$state"/munge/munged.log "$state"/log/slurmctld.log "$state"/log/slurmd.log "$state"/slurm-out/*.out \
           "$state"/shared/logs/*.log; do
    [ -f "$f" ] || continue
    echo "---- last lines of $f"
    tail -n 15 "$f"
  done
}

[ "$(id -u)" = 0 ] || fail "run as root: it installs slurm-wlm and munge with apt-get and starts munged, slurmctld and slurmd"
[ -x "$ferd" ] || fail "no ferd binary at $ferd; build it with 'make release' or pass its path"

missing=""
for p in slurm-wlm munge sqlite3; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  say "installing$missing"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; } \
    >/dev/null || fail "apt-get could not install$missing"
fi

for port in "$ctld_port" "$slurmd_port" "$ferd_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "port $port is in use (another Slurm?); stop it or set FERD_SLURM_TEST_PORTS to a free range"
  fi
done

rm -rf "$state"
mkdir -p "$state"/{log,spool,ctld,slurm-out,shared,munge,munge-run}
chown munge:munge "$state/munge" "$state/munge-run"
chmod 700 "$state/munge"
chmod 755 "$state/munge-run" "$state"   # munged needs its socket's folders searchable by everyone
export SLURM_CONF=$state/slurm.conf
socket=$state/munge-run/munge.socket

stop_all() {
  local pidfile pid n
  if [ -f "$state/slurmctld.pid" ]; then
    for job in $(squeue -h -o %A 2>/dev/null | sort -u); do scancel "$job" 2>/dev/null || true; done
    for n in $(seq 30); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 1; done
  fi
  for pidfile in "$state/slurmd.pid" "$state/slurmctld.pid" "$state/munge/munged.pid"; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || continue
    for n in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { echo "deploy-test-slurm: $pidfile's process $pid did not stop; killing it"; kill -9 "$pid"; }
  done
  return 0
}
trap stop_all EXIT

say "starting munged (socket $socket)"
runuser -u munge -- mungekey -c -k "$state/munge/munge.key"
runuser -u munge -- /usr/sbin/munged --socket="$socket" --key-file="$state/munge/munge.key" \
  --pid-file="$state/munge/munged.pid" --log-file="$state/munge/munged.log" --seed-file="$state/munge/munged.seed" \
  || fail "munged did not start; see $state/munge/munged.log"

host=$(hostname)
node=$(slurmd -C | head -n 1)
case "$node" in NodeName=*" CPUs="*" RealMemory="*) ;; *) fail "slurmd -C printed '$node', not this node's description";; esac
node=${node/NodeName=* CPUs=/NodeName=$host CPUs=}
cat > "$SLURM_CONF" <<EOF
# Written by Deploy/slurm/test/run.sh: one node, no cgroups, no accounting.
ClusterName=ferdtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
KillWait=30
MinJobAge=600
$node State=UNKNOWN
# FORCE:3 lets the 3 one-CPU workers share a 2-core machine; a real partition need not.
PartitionName=ferd Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:3
EOF

say "starting slurmctld and slurmd ($node)"
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start"
for n in $(seq 60); do
  [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break
  [ "$n" = 60 ] && fail "the node is not idle after 60 s (sinfo: $(sinfo -h 2>&1))"
  sleep 1
done

shared=$state/shared
say "making the synthetic dataset in $shared"
"$ferd" synth --out "$shared/data" --clips 280 --size 64 --frames 8 --variability mild --balanced >/dev/null \
  || fail "ferd synth failed"
"$ferd" prepare --data "$shared/data" --out "$shared/cache" --size 56 >/dev/null || fail "ferd prepare failed"
cat > "$state/experiment.yaml" <<'EOF'
# Deploy/slurm/test/run.sh: 4 folds × 2 λ = 8 trials of the small preset, 8 epochs each.
name: slurm-test
data:
  path: data
  layout: reorganised
folds: [1, 2, 3, 4]
seeds: 1
retries: 4
trial_time_limit: 10m
grid:
  preset: small
  attention: gca
  lambda: [0, 0.1]
  r: 16
  lr: 0.01
  weight_decay: 0.0001
  epochs: 8
  batch: 8
  schedule: step
EOF

run=$shared/run
db=$run/ferd.db
# The one command of docs/DEPLOY.md#slurm, with this test's paths; "$@" adds sbatch options.
submit() {
  FERD=$ferd FERD_DIR=$run FERD_CONFIG=$state/experiment.yaml FERD_PORT=$ferd_port \
  FERD_COORDINATOR_ARGS="--data $shared/data --cache $shared/cache" \
    sbatch --parsable --array=0-2 --cpus-per-task=1 --mem=1G --output="$state/slurm-out/slurm-%A_%a.out" "$@" \
    "$repo/Deploy/slurm/ferd.sbatch" || fail "sbatch refused the submission"
}
# Waits until job $1 has left the queue, at most $2 seconds.
wait_gone() {
  local n
  for n in $(seq "$2"); do [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0; sleep 1; done
  fail "job $1 is still in the queue after $2 s: $(squeue -h -j "$1")"
}
sql() { sqlite3 -readonly "$db" "$1"; }
task_state() { scontrol show job "${1}_$2" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }

say "1. submitting with --time=1 (Slurm stops it at its time limit)"
job1=$(submit --time=1 --signal=B:USR1@5)
wait_gone "$job1" 240
grep -q "DUE TO TIME LIMIT" "$state/slurm-out/slurm-${job1}_0.out" \
  || fail "task 0 of job $job1 was not stopped by the time limit"
done1=$(sql "SELECT count(*) FROM trials WHERE state = 'DONE'")
[ "$done1" -lt 8 ] || fail "all 8 trials finished within the 1-minute limit; the resume is not tested (make the experiment longer)"
say "   job $job1 hit its time limit with $done1 of 8 trials DONE"

say "2. submitting the same command again (it resumes); cancelling worker-2 during its trial"
t2=$(date +%s)
job2=$(submit)
cancelled=""
for n in $(seq 180); do
  # A trial whose attempt has stored 2 epochs (so a resume checkpoint of this attempt is stored) and has 3 or more
  # to go: on SIGTERM the worker finishes the epoch it is in, which must not be the last (that would end DONE).
  row=$(sql "SELECT t.id, t.attempts FROM trials t JOIN epoch_metrics m ON m.trial = t.id AND m.attempt = t.attempts
             WHERE t.state = 'RUNNING' AND t.worker = 'worker-2' GROUP BY t.id HAVING count(*) >= 2 AND max(m.epoch) <= 5
             LIMIT 1")
  if [ -n "$row" ]; then cancelled=$row; break; fi
  [ -z "$(squeue -h -j "$job2")" ] && fail "job $job2 ended before worker-2 ran a trial"
  sleep 1
done
[ -n "$cancelled" ] || fail "worker-2 did not store 2 early epochs of a trial within 180 s"
trial=${cancelled%%|*}; attempt=${cancelled##*|}
scancel "${job2}_2" || fail "scancel ${job2}_2 failed"
say "   scancel ${job2}_2 while trial $trial (attempt $attempt) was running on worker-2"
wait_gone "$job2" 600
say "   job $job2 finished in $(( $(date +%s) - t2 )) s"

say "3. submitting once more: nothing is left to run"
job3=$(submit)
wait_gone "$job3" 120

say "checking"
grep -q "resuming the experiment" "$state/slurm-out/slurm-${job2}_0.out" || fail "task 0 of job $job2 did not resume"
grep -q "0 trials to run, 8 already done" "$run/logs/coordinator-$job3.log" \
  || fail "job $job3's coordinator did not find all 8 trials done"
[ "$(task_state "$job2" 2)" = CANCELLED ] || fail "task ${job2}_2 is $(task_state "$job2" 2), not CANCELLED"
for task in 0 1; do
  [ "$(task_state "$job2" "$task")" = COMPLETED ] || fail "task ${job2}_$task is $(task_state "$job2" "$task"), not COMPLETED"
done
grep -q "ExitCode=0:0" <(scontrol show job "${job2}_0") || fail "task ${job2}_0 did not exit 0"
for task in 0 1 2; do
  [ "$(task_state "$job3" "$task")" = COMPLETED ] || fail "task ${job3}_$task is $(task_state "$job3" "$task"), not COMPLETED"
done
[ "$(sql "SELECT count(*) FROM trials")" = 8 ] || fail "the leaderboard has $(sql "SELECT count(*) FROM trials") trials, not 8"
not_done=$(sql "SELECT group_concat(id || ':' || state) FROM trials WHERE state <> 'DONE'")
[ -z "$not_done" ] || fail "trials not DONE: $not_done"
[ "$(sql "SELECT count(*) FROM results")" = 8 ] || fail "$(sql "SELECT count(*) FROM results") results for 8 trials"
[ "$(sql "SELECT count(DISTINCT trial) FROM results")" = 8 ] || fail "a trial has more than one result"
final=$(sql "SELECT attempt FROM results WHERE trial = $trial")
[ "$final" -gt "$attempt" ] || fail "trial $trial's result is from attempt $final, not from one after the cancelled attempt $attempt"
first=$(sql "SELECT min(epoch) FROM epoch_metrics WHERE trial = $trial AND attempt = $final")
[ "$first" -gt 1 ] || fail "trial $trial's attempt $final started at epoch $first, not from the cancelled attempt's checkpoint"
retried=$(sql "SELECT count(*) FROM trials WHERE attempts >= 2")
"$ferd" status --db "$db" | sed 's/^/   /'
echo "   trial  attempts  result from attempt  its first epoch"
sql "SELECT t.id, t.attempts, r.attempt, (SELECT min(epoch) FROM epoch_metrics m WHERE m.trial = t.id AND m.attempt = r.attempt)
     FROM trials t JOIN results r ON r.trial = t.id ORDER BY t.id" | tr '|' ' ' | awk '{printf "   %5s %9s %20s %16s\n", $1, $2, $3, $4}'
say "PASSED: 8 trials DONE, one result each; $retried retried (time limit, scancel); trial $trial, cancelled in attempt $attempt, finished by attempt $final from epoch $first; $(( $(date +%s) - started )) s in all"
