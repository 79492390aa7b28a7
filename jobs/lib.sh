# shellcheck shell=bash
# jobs/lib.sh - what the Slurm job scripts of jobs/ share (sourced by
# train.sbatch, ablation.sbatch, search.sbatch and study.sh; not a job script
# itself).
# jobs/README.md describes the behaviour; this file is the one place it is
# implemented, so a sweep task trains exactly as a single training job does.
#
# Environment read here (all optional):
#   SHIFTNAS               the shiftnas program (default: `shiftnas` on PATH,
#                          else ./shiftnas in the submit directory, else the
#                          build tree next to jobs/)
#   SHIFTNAS_MAX_REQUEUES  how many times a job may requeue itself after a
#                          checkpoint before it gives up [5]
#   SHIFTNAS_SRUN_ARGS     extra srun options for the training step, e.g.
#                          "--oversubscribe" or "--cpu-bind=cores"
#
# Exit codes of shiftnas train that the scripts act on:
#   0   the run finished (or had already finished)
#   75  stopped early with a checkpoint (SIGUSR1, SIGTERM or [checkpoint]
#       stop_after_seconds), or a write failed for a cause that may pass
#       (EIO, ESTALE, ETIMEDOUT) with the previous checkpoint intact:
#       requeue the job; the next start resumes
#   any other code: an error; the job fails and is not requeued

sn_log() {
    printf '[shiftnas-job %s] %s\n' "$(date +%H:%M:%S)" "$*"
}

sn_die() {
    sn_log "ERROR: $*"
    exit 1
}

# ---------------------------------------------------------------- program ----

# Sets SN_BIN to the shiftnas program. $1: the jobs/ directory.
sn_find_shiftnas() {
    local jobs_dir=$1 candidate
    if [ -n "${SHIFTNAS:-}" ]; then
        SN_BIN=$SHIFTNAS
        [ -x "$SN_BIN" ] || command -v "$SN_BIN" >/dev/null 2>&1 ||
            sn_die "SHIFTNAS=$SHIFTNAS is not an executable program"
        return 0
    fi
    if candidate=$(command -v shiftnas 2>/dev/null); then
        SN_BIN=$candidate
        return 0
    fi
    for candidate in "${SLURM_SUBMIT_DIR:-$PWD}/shiftnas" "$jobs_dir/../shiftnas"; do
        if [ -f "$candidate" ] && [ -x "$candidate" ]; then
            SN_BIN=$(cd "$(dirname "$candidate")" && pwd)/shiftnas
            return 0
        fi
    done
    sn_die "shiftnas not found: set SHIFTNAS=/path/to/shiftnas (or put it on PATH, or submit from the build directory)"
}

# ------------------------------------------------------------ one srun step ----

# Runs `srun --mpi=pmix [SHIFTNAS_SRUN_ARGS] ARGS...` in the background and
# waits for it, forwarding to it the signals the batch shell receives:
#   SIGUSR1 (Slurm's `--signal=B:USR1@T` warning before the time limit, or
#           `scancel --signal=USR1 --batch`): forwarded; srun passes it to
#           every task, which finishes its step, checkpoints and exits 75.
#   SIGTERM (scancel, scontrol requeue, preemption, the time limit itself):
#           not forwarded, because Slurm signals the step's tasks itself;
#           recorded in SN_GOT_TERM so that the caller does not requeue a
#           job that Slurm is ending (or already requeueing).
# Sets SN_STATUS to srun's exit status (the highest of the tasks').
SN_STEP_PID=
SN_INTERRUPTED=0
SN_GOT_TERM=0
SN_GOT_USR1=0

sn_on_usr1() {
    SN_INTERRUPTED=1
    SN_GOT_USR1=1
    if [ -n "$SN_STEP_PID" ]; then
        sn_log "SIGUSR1 received (time limit near, or sent by hand): asking the training step to checkpoint and stop"
        kill -USR1 "$SN_STEP_PID" 2>/dev/null
    fi
}

sn_on_term() {
    SN_INTERRUPTED=1
    SN_GOT_TERM=1
    sn_log "SIGTERM received: Slurm is ending this job (scancel, requeue, preemption or time limit); the tasks checkpoint on their own SIGTERM"
}

# SIGUSR1 outside the step (before srun starts, after it ended) must not
# kill the batch shell (its default action): remember it.
trap sn_on_usr1 USR1

sn_run_step() {
    if [ "$SN_GOT_USR1" = 1 ]; then
        sn_log "SIGUSR1 arrived before training started: not starting it; stopping as if checkpointed"
        SN_STATUS=75
        return 0
    fi
    local srun_args=()
    # Word splitting intended: several options in one variable.
    # shellcheck disable=SC2206
    [ -n "${SHIFTNAS_SRUN_ARGS:-}" ] && srun_args=($SHIFTNAS_SRUN_ARGS)
    trap sn_on_usr1 USR1
    trap sn_on_term TERM
    sn_log "running: srun --mpi=pmix ${srun_args[*]} $*"
    srun --mpi=pmix "${srun_args[@]}" "$@" &
    SN_STEP_PID=$!
    # `wait` returns early (status > 128) when a trapped signal arrives; wait
    # again until srun itself has ended. (bash keeps an ended child's status,
    # so waiting again after it ended returns that status.)
    while :; do
        SN_INTERRUPTED=0
        wait "$SN_STEP_PID"
        SN_STATUS=$?
        if [ "$SN_INTERRUPTED" = 1 ] && [ "$SN_STATUS" -gt 128 ]; then
            continue
        fi
        break
    done
    SN_STEP_PID=
    trap - TERM
}

# --------------------------------------------------------------- training ----

# Keys that may be --set when a run is resumed (they do not change the
# result; shiftnas refuses the others on --resume, doc/checkpoint.md). Every
# other --set given to a job that resumes is dropped: the run's config.ini
# already holds it.
sn_resume_neutral() { # SECTION.KEY
    case $1 in
        data.path | run.progress_seconds | run.metrics_interval_steps | checkpoint.*) return 0 ;;
        distributed.check_interval | distributed.reduce | distributed.bucket_entries) return 0 ;;
    esac
    return 1
}

# sn_train CONFIG RUN_DIR [--set SECTION.KEY=VALUE ...] [-- --set ... (first start only)]
#
# Trains RUN_DIR from CONFIG, or resumes it when RUN_DIR already holds a run
# (config.ini), on every task of the allocation; then acts on the exit code
# (see the top of this file). The --set options after a `--` are given only
# when the run starts (ablation.sbatch's strategy and seed); the ones before
# it are given on every start but dropped on resume unless result-neutral.
# Exits the job script.
sn_train() {
    [ $# -ge 2 ] || sn_die "usage: CONFIG RUN_DIR [--set SECTION.KEY=VALUE ...]"
    local config=$1 run_dir=$2
    shift 2
    local sets=() first_sets=() in_first=0
    while [ $# -gt 0 ]; do
        case $1 in
            --) in_first=1 ;;
            --set)
                [ $# -ge 2 ] || sn_die "--set needs SECTION.KEY=VALUE"
                if [ $in_first = 1 ]; then first_sets+=(--set "$2"); else sets+=(--set "$2"); fi
                shift
                ;;
            --set=*)
                if [ $in_first = 1 ]; then first_sets+=(--set "${1#--set=}"); else sets+=(--set "${1#--set=}"); fi
                ;;
            *) sn_die "unexpected argument '$1' (expected --set SECTION.KEY=VALUE)" ;;
        esac
        shift
    done

    local restarts=${SLURM_RESTART_COUNT:-0} max=${SHIFTNAS_MAX_REQUEUES:-5}
    sn_log "job ${SLURM_JOB_ID:-none}${SLURM_ARRAY_TASK_ID:+ (array task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID)}, start $((restarts + 1)) (SLURM_RESTART_COUNT=$restarts, requeues allowed: $max), ${SLURM_NTASKS:-?} task(s) on ${SLURM_JOB_NODELIST:-?}"
    sn_log "program: $SN_BIN"

    # Threads per rank follow the allocation's --cpus-per-task unless given,
    # when the run starts (run.threads is part of the run's configuration: a
    # resumed run keeps its own).
    local threads_given=0 i
    for ((i = 1; i < ${#sets[@]}; i += 2)); do
        case ${sets[i]} in run.threads=*) threads_given=1 ;; esac
    done
    if [ $threads_given = 0 ] && [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then
        first_sets+=(--set "run.threads=$SLURM_CPUS_PER_TASK")
    fi

    local args=()
    if [ -f "$run_dir/config.ini" ]; then
        local kept=() dropped=()
        for ((i = 1; i < ${#sets[@]}; i += 2)); do
            if sn_resume_neutral "${sets[i]%%=*}"; then
                kept+=(--set "${sets[i]}")
            else
                dropped+=("${sets[i]}")
            fi
        done
        for ((i = 1; i < ${#first_sets[@]}; i += 2)); do dropped+=("${first_sets[i]}"); done
        if [ -e "$run_dir/checkpoints/latest" ]; then
            sn_log "resuming: $run_dir holds a run with a checkpoint ($(cat "$run_dir/checkpoints/latest" 2>/dev/null))"
        else
            sn_log "resuming: $run_dir holds a run (config.ini) but no checkpoint yet: shiftnas starts it again from step 0 there"
        fi
        [ ${#dropped[@]} -gt 0 ] &&
            sn_log "on resume these settings come from $run_dir/config.ini, not the command line: ${dropped[*]}"
        args=(train --resume "$run_dir" "${kept[@]}")
    else
        [ -f "$config" ] || sn_die "configuration $config not found (relative paths are from the submit directory $PWD)"
        sn_log "starting a new run in $run_dir from $config"
        args=(train --config "$config" "${sets[@]}" "${first_sets[@]}" --out "$run_dir")
    fi

    sn_run_step "$SN_BIN" "${args[@]}"
    local status=$SN_STATUS

    case $status in
        0)
            sn_log "training step ended with exit code 0: the run in $run_dir is complete"
            exit 0
            ;;
        75)
            if [ "$SN_GOT_TERM" = 1 ]; then
                sn_log "training step stopped with a checkpoint (exit 75) after SIGTERM: Slurm ends this job; if it requeues it (scontrol requeue, preemption) the next start resumes, otherwise resubmit the same command to resume"
                exit 75
            fi
            if [ "$restarts" -ge "$max" ]; then
                sn_log "ERROR: training step stopped with a checkpoint (exit 75), but the requeue limit is reached (requeued $restarts time(s), SHIFTNAS_MAX_REQUEUES=$max): not requeueing. The checkpoint is kept; resubmit the same command to continue from it"
                exit 75
            fi
            local why="a [checkpoint] stop_after_seconds budget or a write that may pass (EIO, ESTALE, ETIMEDOUT)"
            [ "$SN_GOT_USR1" = 1 ] && why="SIGUSR1"
            sn_log "training step stopped with a checkpoint (exit 75, after $why): requeueing job ${SLURM_JOB_ID:-?} (requeue $((restarts + 1)) of at most $max); the next start resumes from the checkpoint"
            [ -n "${SLURM_JOB_ID:-}" ] || sn_die "not inside a Slurm job: run the same command again to resume"
            # Slurm stops this script (SIGTERM) once the requeue is accepted.
            if ! scontrol requeue "$SLURM_JOB_ID"; then
                sn_log "ERROR: scontrol requeue $SLURM_JOB_ID was refused (submitted with --no-requeue, or JobRequeue=0 on this cluster?). The checkpoint is kept; resubmit the same command to continue from it"
                exit 75
            fi
            sleep 60 # ended by Slurm's SIGTERM
            exit 75
            ;;
        *)
            if [ "$SN_GOT_TERM" = 1 ]; then
                sn_log "training step ended with exit code $status after SIGTERM (killed before it could checkpoint?): Slurm ends this job; a requeued job resumes from the last complete checkpoint"
                exit "$status"
            fi
            sn_log "ERROR: training step failed with exit code $status (an error, not a checkpoint stop): not requeueing; see the messages above"
            exit "$status"
            ;;
    esac
}
