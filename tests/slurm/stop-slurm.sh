#!/usr/bin/env bash
# Stop the daemons tests/slurm/start-slurm.sh started (by their pid files), and nothing else.
set -uo pipefail
STATE=${SEESOUND_SLURM_STATE:-/run/seesound-slurm}
[ -d "$STATE" ] || exit 0
if [ -s "$STATE/slurmctld.pid" ]; then
  ids=$(squeue -h -t PENDING,RUNNING,CONFIGURING,COMPLETING -o %i 2>/dev/null || true)
  [ -n "$ids" ] && scancel $ids 2>/dev/null
fi
for pair in slurmd:/usr/sbin/slurmd slurmctld:/usr/sbin/slurmctld munged:/usr/sbin/munged; do
  name=${pair%%:*}; exe=${pair#*:}; f="$STATE/$name.pid"
  [ -s "$f" ] || continue
  pid=$(cat "$f")
  if [ -d "/proc/$pid" ] && [ "$(readlink -f "/proc/$pid/exe")" = "$(readlink -f "$exe")" ]; then
    kill -TERM "$pid"
    for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    [ -d "/proc/$pid" ] && kill -KILL "$pid"
    echo "[stop-slurm] stopped $name ($pid)"
  fi
  rm -f "$f"
done
