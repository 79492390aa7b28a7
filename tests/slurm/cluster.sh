#!/usr/bin/env bash
# cluster.sh - a private one-node Slurm cluster on this machine.
#
# Usage: cluster.sh start|stop|status|env|clean
#
# shiftnas's test cluster (make check-slurm, tests/slurm/test_jobs.sh), also
# usable by hand to try the job scripts of jobs/ on one machine.
#
#   start   write the configuration (if the cluster is not already running),
#           start a private munged, slurmctld and slurmd, wait until the node
#           is usable, then print the line clients need:
#               export SLURM_CONF=/tmp/shiftnas-slurm/etc/slurm.conf
#           Safe to repeat: daemons that are already running are left alone.
#   stop    cancel every job of this cluster, then stop slurmd, slurmctld and
#           munged (by the PIDs in their pid files, never by name). Safe to
#           repeat.
#   status  show which daemons run and what sinfo says; exit 0 only when all
#           three daemons are up.
#   env     print only the export line (for: eval "$(cluster.sh env)").
#   clean   stop, then delete the whole state directory (fresh cluster).
#
# Everything (configuration, munge socket/key/log, Slurm state, spool, logs,
# pid files) lives under $SLURM_LOCAL_DIR (default /tmp/shiftnas-slurm; keep
# it short: the munge socket path must fit in 107 bytes); nothing
# under /etc or /run is written. The munge key is the cluster's own
# (generated with mungekey on the first start), and munged listens on its own
# socket, which slurm.conf names through AuthInfo, so a system munged (if
# any) is neither used nor disturbed.
#
# Must run as root (slurmd needs it; SlurmUser is root). Needs the Debian
# packages: slurm-wlm slurmctld slurmd slurm-client munge.
#
# Settings (environment, read when the configuration is written, i.e. on a
# start while the cluster is down; "clean" or "stop" + "start" to change):
#   SLURM_LOCAL_DIR            state directory            [/tmp/shiftnas-slurm]
#   SLURM_LOCAL_CTLD_PORT      slurmctld port             [6817]
#   SLURM_LOCAL_SLURMD_PORT    slurmd port                [6818]
#   SLURM_LOCAL_MPI_DEFAULT    MpiDefault (srun without --mpi)   [none: so
#                              a script that forgets --mpi=pmix fails here
#                              as it would on most clusters]
#   SLURM_LOCAL_CPUS           CPUs the node offers; more than the machine
#                              has oversubscribes it (SlurmdParameters=
#                              config_overrides), so several multi-task jobs
#                              run at once on a small machine  [the machine's]
#   SLURM_LOCAL_KILL_WAIT      KillWait: seconds between SIGTERM and SIGKILL
#                              when a job is cancelled, requeued or times
#                              out; a checkpoint must be written within it [30]
#   SLURM_LOCAL_CRED_EXPIRE    cred_expire (AuthInfo): a step credential's
#                              lifetime, and how long a requeued job waits
#                              before it may start again  [120]
#   SLURM_LOCAL_KILL_ON_BAD_EXIT  KillOnBadExit (0: a task that dies does
#                              not by itself end the other tasks of its step;
#                              srun --kill-on-bad-exit=1 does)  [0]
#   SLURM_LOCAL_MEMORY_MB      RealMemory of the node     [90% of slurmd -C]
#
# Batch jobs may be requeued (JobRequeue=1: scontrol requeue, and a job's own
# `scontrol requeue $SLURM_JOB_ID`, as jobs/train.sbatch does).
#
# Using it (as root):
#   eval "$(tests/slurm/cluster.sh start)"    # sets SLURM_CONF
#   srun --mpi=pmix -n 2 prog ...      # Open MPI programs need --mpi=pmix
#   srun --mpi=pmix -O -n 3 prog ...   # more tasks than CPUs: -O
#                                      # (without it srun waits forever)
#   sbatch job.sh; squeue; scancel N
#   tests/slurm/cluster.sh stop
# Logs: $SLURM_LOCAL_DIR/log/{slurmctld,slurmd}.log, munge/munged.log.
#
# Tested with Slurm 22.05.8 and munge 0.5.15 on Debian 12, in a container
# without systemd or cgroup delegation (hence proctrack/linuxproc and
# task/none). Needs neither procps nor iproute2 (processes are read from
# /proc, ports probed through bash's /dev/tcp).

set -u

STATE=${SLURM_LOCAL_DIR:-/tmp/shiftnas-slurm}
CONF=$STATE/etc/slurm.conf
MUNGE_DIR=$STATE/munge
MUNGE_SOCKET=$MUNGE_DIR/munge.socket
MUNGE_KEY=$MUNGE_DIR/munge.key
MUNGE_PID=$MUNGE_DIR/munged.pid
CTLD_PID=$STATE/run/slurmctld.pid
SLURMD_PID=$STATE/run/slurmd.pid

die() { echo "cluster.sh: $*" >&2; exit 1; }
say() { echo "cluster.sh: $*" >&2; }

# PID from a pid file if that process is alive and is the expected program
# (a stale pid file whose PID was reused by something else does not count).
live_pid() { # pidfile expected-command-name
    local file=$1 name=$2 pid comm state
    [ -r "$file" ] || return 1
    pid=$(tr -dc 0-9 <"$file")
    [ -n "$pid" ] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [ "$comm" = "$name" ] || return 1
    # A killed daemon stays a zombie until its parent (here often PID 1,
    # which in a container is not always an init) reaps it: a zombie is not
    # running. Field 3 of /proc/PID/stat is the state (the command, field 2,
    # is in parentheses and has no spaces for these daemons).
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ "$state" = Z ] && return 1
    echo "$pid"
}

need_root_and_tools() {
    [ "$(id -u)" = 0 ] || die "must run as root"
    local t
    for t in munged mungekey munge unmunge slurmctld slurmd sinfo scontrol squeue scancel; do
        command -v "$t" >/dev/null ||
            die "$t not found: apt-get install -y slurm-wlm slurmctld slurmd slurm-client munge"
    done
    id munge >/dev/null 2>&1 || die "no 'munge' user (is the munge package installed?)"
}

port_busy() { # port -> 0 when something listens on it (on 127.0.0.1)
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------- munge ----

munge_works() {
    munge -n -S "$MUNGE_SOCKET" 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1
}

start_munge() {
    if live_pid "$MUNGE_PID" munged >/dev/null; then
        munge_works && return 0
        say "munged runs but does not answer: restarting it"
        stop_daemon "$MUNGE_PID" munged
    fi
    # munged refuses directories that others can write to, and files not
    # owned by the user it runs as.
    mkdir -p "$MUNGE_DIR"
    chmod 0755 "$STATE"
    chown munge:munge "$MUNGE_DIR"
    chmod 0755 "$MUNGE_DIR"   # clients need to reach the socket
    runuser -u munge -- test -w "$MUNGE_DIR" ||
        die "user munge cannot reach $MUNGE_DIR: every directory above it must be searchable by others (e.g. chmod 755 the parent of a mktemp -d directory)"
    if [ ! -s "$MUNGE_KEY" ]; then
        runuser -u munge -- mungekey --create --keyfile="$MUNGE_KEY" ||
            die "mungekey failed"
    fi
    chown munge:munge "$MUNGE_KEY"
    chmod 0600 "$MUNGE_KEY"
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock" "$MUNGE_PID"
    # munged forks into the background and writes its pid file.
    runuser -u munge -- munged \
        --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" \
        --pid-file="$MUNGE_PID" --log-file="$MUNGE_DIR/munged.log" \
        --seed-file="$MUNGE_DIR/munged.seed" ||
        die "munged did not start; see $MUNGE_DIR/munged.log"
    for _ in $(seq 50); do
        munge_works && return 0
        sleep 0.1
    done
    die "munged started but does not answer on $MUNGE_SOCKET; see $MUNGE_DIR/munged.log"
}

# -------------------------------------------------------- configuration ----

# Field NAME=value from `slurmd -C` (the hardware slurmd itself detects, so
# the node never comes up "invalid" for claiming more than it has).
hw_field() { slurmd -C 2>/dev/null | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }

write_conf() {
    local host cpus sockets cores threads mem
    host=$(hostname -s)
    cpus=$(hw_field CPUs)
    sockets=$(hw_field SocketsPerBoard)
    cores=$(hw_field CoresPerSocket)
    threads=$(hw_field ThreadsPerCore)
    mem=$(hw_field RealMemory)
    if [ -z "$cpus" ] || [ -z "$mem" ]; then
        die "slurmd -C did not describe this machine"
    fi
    # Leave some memory for the system; a node whose RealMemory exceeds what
    # slurmd measures is drained.
    mem=${SLURM_LOCAL_MEMORY_MB:-$((mem * 9 / 10))}
    # More CPUs than the machine has: describe the node as one socket of
    # that many cores and tell slurmd to believe the configuration.
    local overrides=""
    if [ -n "${SLURM_LOCAL_CPUS:-}" ] && [ "$SLURM_LOCAL_CPUS" != "$cpus" ]; then
        cpus=$SLURM_LOCAL_CPUS
        sockets=1
        cores=$cpus
        threads=1
        overrides="SlurmdParameters=config_overrides"
    fi

    mkdir -p "$STATE/etc" "$STATE/state" "$STATE/spool" "$STATE/log" "$STATE/run"
    cat >"$CONF.new" <<EOF
# Written by tests/slurm/cluster.sh (shiftnas) on $(date -Is). A private one-node
# cluster: every path is under $STATE. Regenerated on each start while the
# cluster is down; edit cluster.sh rather than this file.
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${SLURM_LOCAL_CTLD_PORT:-6817}
SlurmdPort=${SLURM_LOCAL_SLURMD_PORT:-6818}
SlurmUser=root
SlurmdUser=root

# Authentication through our own munged (socket under $MUNGE_DIR).
AuthType=auth/munge
CredType=cred/munge
# cred_expire: also the wait of a requeued job before it is eligible again.
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=${SLURM_LOCAL_CRED_EXPIRE:-120}

# No cgroups here (container without delegation): track processes by
# parentage, no CPU binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none

# srun without --mpi. Open MPI 4.1 (Debian) needs --mpi=pmix.
MpiDefault=${SLURM_LOCAL_MPI_DEFAULT:-none}
# 0 (Slurm's default): a task that dies does not end the rest of its step
# unless srun is given --kill-on-bad-exit=1. (Under --mpi=pmix the step is
# cancelled anyway about 1 s later, when slurmstepd's PMIx server loses the
# dead task's connection.)
KillOnBadExit=${SLURM_LOCAL_KILL_ON_BAD_EXIT:-0}

# Batch jobs may be requeued (scontrol requeue; jobs/train.sbatch requeues
# itself after a checkpoint), and keep their Slurm output across restarts.
JobRequeue=1
JobFileAppend=1

SchedulerType=sched/backfill
# Scheduling passes every 2 s instead of 60 s (main) and 30 s (backfill):
# a requeued job or an array task waiting for its throttle starts as soon
# as it may. Cheap on a one-node cluster.
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# A node that was down (e.g. slurmd restarted) returns to service by itself.
ReturnToService=2
${overrides}

# No accounting, no job completion log.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# No mail on this machine (silences "Configured MailProg is invalid").
MailProg=/bin/true

StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool/slurmd.%n
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info

# Short timeouts: a one-machine cluster has nothing to wait for.
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
# Ended jobs stay visible (scontrol show job, squeue -t all) for an hour:
# there is no accounting database to ask afterwards.
MinJobAge=3600
# SIGTERM to SIGKILL when a job is cancelled, requeued or times out: time
# for the current training step and a checkpoint.
KillWait=${SLURM_LOCAL_KILL_WAIT:-30}
Waittime=0

NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Boards=1 SocketsPerBoard=${sockets:-1} CoresPerSocket=${cores:-$cpus} ThreadsPerCore=${threads:-1} RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.new" "$CONF"
}

# --------------------------------------------------------------- daemons ----

wait_for() { # seconds command...
    local limit=$1
    shift
    for _ in $(seq $((limit * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

ctld_answers() { SLURM_CONF=$CONF scontrol ping 2>/dev/null | grep -q 'is UP'; }

# slurmd answers on its port (scontrol asks the local slurmd).
slurmd_answers() { SLURM_CONF=$CONF scontrol show slurmd 2>/dev/null | grep -q 'Slurmd PID'; }

# Short node state as sinfo prints it: a suffix * (not responding), ~, #,
# !, %, @ or $ means not (yet) usable; drain/down are not usable either.
node_state() { SLURM_CONF=$CONF sinfo -h -N -o '%t' 2>/dev/null | head -1; }

node_ready() {
    case $(node_state) in
        idle | mix | alloc | comp) return 0 ;;
    esac
    return 1
}

do_start() {
    need_root_and_tools
    local ctld slurmd
    ctld=$(live_pid "$CTLD_PID" slurmctld)
    slurmd=$(live_pid "$SLURMD_PID" slurmd)

    # (Re)write the configuration only while no Slurm daemon runs, so a
    # second start never changes a live cluster's configuration under it.
    if [ -z "$ctld" ] && [ -z "$slurmd" ]; then
        local p
        for p in "${SLURM_LOCAL_CTLD_PORT:-6817}" "${SLURM_LOCAL_SLURMD_PORT:-6818}"; do
            port_busy "$p" && die "port $p is in use by another program (another slurmctld/slurmd?); set SLURM_LOCAL_CTLD_PORT / SLURM_LOCAL_SLURMD_PORT"
        done
        write_conf
    elif [ ! -r "$CONF" ]; then
        die "daemons run but $CONF is missing; run: $0 stop"
    fi

    start_munge

    if [ -z "$ctld" ]; then
        rm -f "$CTLD_PID"
        # Daemonises; keeps the jobs of an earlier run in $STATE/state
        # ("clean" for a fresh start).
        slurmctld -f "$CONF" || die "slurmctld did not start; see $STATE/log/slurmctld.log"
    fi
    wait_for 20 ctld_answers ||
        die "slurmctld does not answer; see $STATE/log/slurmctld.log"

    if [ -z "$slurmd" ]; then
        rm -f "$SLURMD_PID"
        slurmd -f "$CONF" || die "slurmd did not start; see $STATE/log/slurmd.log"
    fi
    wait_for 20 slurmd_answers || die "slurmd does not answer; see $STATE/log/slurmd.log"
    if ! wait_for 30 node_ready; then
        # A node left down/drained by an earlier run: put it back.
        SLURM_CONF=$CONF scontrol update NodeName="$(hostname -s)" State=RESUME >/dev/null 2>&1
        wait_for 15 node_ready ||
            die "node not usable (state: $(node_state)); see $STATE/log/slurmd.log and slurmctld.log"
    fi
    say "running: munged $(live_pid "$MUNGE_PID" munged), slurmctld $(live_pid "$CTLD_PID" slurmctld), slurmd $(live_pid "$SLURMD_PID" slurmd); node $(node_state)"
    echo "export SLURM_CONF=$CONF"
}

stop_daemon() { # pidfile name
    local pid
    pid=$(live_pid "$1" "$2") || { rm -f "$1"; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
        sleep 0.1
    done
    say "$2 ($pid) ignored SIGTERM for 10 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    rm -f "$1"
}

do_stop() {
    [ "$(id -u)" = 0 ] || die "must run as root"
    # Cancel this cluster's jobs first so their slurmstepd and tasks end
    # (with slurmd gone nobody would reap them).
    if live_pid "$CTLD_PID" slurmctld >/dev/null && live_pid "$SLURMD_PID" slurmd >/dev/null; then
        local jobs
        jobs=$(SLURM_CONF=$CONF squeue -h -o '%i' 2>/dev/null)
        if [ -n "$jobs" ]; then
            say "cancelling jobs: $(echo "$jobs" | tr '\n' ' ')"
            # shellcheck disable=SC2086
            SLURM_CONF=$CONF scancel $jobs 2>/dev/null
            wait_for 30 sh -c "[ -z \"\$(SLURM_CONF=$CONF squeue -h -o %i 2>/dev/null)\" ]" ||
                say "jobs still listed after 30 s: $(SLURM_CONF=$CONF squeue -h -o '%i %T' | tr '\n' ' ')"
        fi
    fi
    stop_daemon "$SLURMD_PID" slurmd
    stop_daemon "$CTLD_PID" slurmctld
    stop_daemon "$MUNGE_PID" munged
    # A slurmstepd that outlived slurmd (a step that did not end when
    # cancelled) is reported, not killed: it may not be ours.
    local left
    left=$(grep -lx slurmstepd /proc/[0-9]*/comm 2>/dev/null | cut -d/ -f3)
    [ -n "$left" ] && say "note: slurmstepd still running (PIDs $(echo "$left" | tr '\n' ' ')); they end with their tasks"
    say "stopped"
}

do_status() {
    local ok=0 name file pid
    for name in munged slurmctld slurmd; do
        case $name in
            munged) file=$MUNGE_PID ;;
            slurmctld) file=$CTLD_PID ;;
            slurmd) file=$SLURMD_PID ;;
        esac
        if pid=$(live_pid "$file" "$name"); then
            echo "$name: running (pid $pid)"
        else
            echo "$name: not running"
            ok=1
        fi
    done
    if [ $ok = 0 ]; then
        SLURM_CONF=$CONF sinfo -N -o '%N %T %C %m' 2>&1
        SLURM_CONF=$CONF squeue 2>&1
        echo "export SLURM_CONF=$CONF"
    fi
    return $ok
}

case ${1:-} in
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    clean)
        do_stop
        case $STATE in
            /tmp/?*) rm -rf "$STATE" && say "removed $STATE" ;;
            *) die "refusing to delete $STATE (not under /tmp)" ;;
        esac
        ;;
    *)
        echo "usage: $0 start|stop|status|env|clean" >&2
        exit 2
        ;;
esac
