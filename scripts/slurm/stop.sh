#!/bin/bash
# Stop the single-node Slurm started by scripts/slurm/start.sh: cancel the jobs left, stop
# slurmd and slurmctld, and munged if start.sh started it (each by its recorded pid).
# /etc/slurm/slurm.conf (marked as ours) and $MDARGY_SLURM_DIR stay for the next start.
set -uo pipefail

DIR=${MDARGY_SLURM_DIR:-/tmp/mdargy-slurm}

stop_pid() {  # name pidfile
    local name=$1 file=$2 pid
    [ -s "$file" ] || { echo "$name: no pid file"; return; }
    pid=$(cat "$file")
    if ! kill -0 "$pid" 2>/dev/null; then echo "$name: not running"; rm -f "$file"; return; fi
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; echo "$name: killed (pid $pid)"
    else echo "$name: stopped (pid $pid)"; fi
    rm -f "$file"
}

if [ -s "$DIR/run/slurmctld.pid" ] && command -v scancel >/dev/null; then
    jobs=$(squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then echo "cancelling jobs: $jobs"; scancel $jobs; sleep 2; fi
fi
stop_pid slurmd "$DIR/run/slurmd.pid"
stop_pid slurmctld "$DIR/run/slurmctld.pid"
stop_pid munged "$DIR/run/munged.pid"
