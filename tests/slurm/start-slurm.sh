#!/usr/bin/env bash
# Start a real single-node SLURM cluster on this Debian machine, for tests/test_slurm.py.
#
# Installs Debian's munge + slurmctld + slurmd + slurm-client when missing, writes a one-node
# /etc/slurm/slurm.conf (no cgroups: proctrack/linuxproc, task/none; no accounting database: jobs are
# tracked with squeue, kept visible for MinJobAge), starts the daemons by hand (no systemd), and waits
# until the node is idle. Pid files of what it started go to $STATE; stop-slurm.sh stops only those.
# Needs root. Exit 0: cluster up. Exit 3: cannot run here (not root, no apt) - the reason on stderr.
set -euo pipefail

STATE=${SEESOUND_SLURM_STATE:-/run/seesound-slurm}
PARTITION=${SEESOUND_SLURM_PARTITION:-debug}
NODE=$(hostname -s)
CONF=/etc/slurm/slurm.conf  # the compiled-in path: srun inside a job ignores SLURM_CONF
SECONDS=0

say() { printf '[start-slurm %3ds] %s\n' "$SECONDS" "$*"; }
cannot() { echo "cannot start SLURM here: $*" >&2; exit 3; }
wait_for() {  # wait_for SECONDS WHAT CMD...
  local end=$(( $(date +%s) + $1 )) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || { echo "timed out waiting for $what" >&2; exit 1; }
    sleep 0.2
  done
}
own_running() {  # own_running NAME EXE: is $STATE/NAME.pid a live EXE?
  local f="$STATE/$1.pid"
  [ -s "$f" ] && [ -d "/proc/$(cat "$f")" ] && [ "$(readlink -f "/proc/$(cat "$f")/exe")" = "$(readlink -f "$2")" ]
}

[ "$(id -u)" = 0 ] || cannot "not root"
command -v apt-get >/dev/null || cannot "no apt-get (not Debian)"

missing=()
for p in munge slurm-client slurmctld slurmd; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # keep the packages' maintainer scripts from starting daemons: we start (and own) them ourselves
  policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; policy_added=1
  fi
  apt=(apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}")
  "${apt[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && "${apt[@]}" >/dev/null; } || {
    [ $policy_added = 1 ] && rm -f /usr/sbin/policy-rc.d; cannot "apt-get could not install ${missing[*]}"; }
  [ $policy_added = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
say "slurm $(dpkg-query -W -f='${Version}' slurmctld), munge $(dpkg-query -W -f='${Version}' munge) installed"

mkdir -p "$STATE" /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm /etc/slurm
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge /etc/munge
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
if ! own_running munged /usr/sbin/munged; then
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged
  wait_for 30 "munged" test -s /run/munge/munged.pid
  cp /run/munge/munged.pid "$STATE/munged.pid"
fi
wait_for 20 "munge" sh -c 'munge -n | unmunge'

# the hardware as slurmd sees it (not `nproc`: it obeys OMP_NUM_THREADS, which Python libraries set)
HW=$(slurmd -C)
CPUS=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$HW")
MEM=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$HW")
NEW_CONF=$(mktemp)
cat > "$NEW_CONF" <<CONF
# written by seesound tests/slurm/start-slurm.sh
ClusterName=seesound
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
ReturnToService=2
MinJobAge=900
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
if ! cmp -s "$NEW_CONF" "$CONF"; then
  [ -e "$CONF" ] && ! grep -q "seesound tests/slurm" "$CONF" && cp -a "$CONF" "$CONF.bak.$(date +%s)"
  install -m 0644 "$NEW_CONF" "$CONF"
  for d in slurmd slurmctld; do  # a running daemon of ours must pick up the new config
    if own_running $d /usr/sbin/$d; then kill -TERM "$(cat "$STATE/$d.pid")"; sleep 1; rm -f "$STATE/$d.pid"; fi
  done
fi
rm -f "$NEW_CONF"

if ! own_running slurmctld /usr/sbin/slurmctld; then
  rm -f "$STATE/slurmctld.pid"; /usr/sbin/slurmctld; wait_for 30 "slurmctld pid" test -s "$STATE/slurmctld.pid"
fi
wait_for 60 "slurmctld" scontrol ping
if ! own_running slurmd /usr/sbin/slurmd; then
  rm -f "$STATE/slurmd.pid"; /usr/sbin/slurmd; wait_for 30 "slurmd pid" test -s "$STATE/slurmd.pid"
fi
node_idle() {
  case "$(sinfo -h -n "$NODE" -o %t 2>/dev/null | head -1)" in
    idle|mix|alloc) return 0 ;;
    down*|drain*|fail*) scontrol update nodename="$NODE" state=resume >/dev/null 2>&1; return 1 ;;
    *) return 1 ;;
  esac
}
wait_for 120 "node $NODE idle" node_idle
say "cluster up: $(sinfo -h -o '%P %D %t %N' | head -1)"
