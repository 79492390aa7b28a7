#!/bin/bash
# jobs/study.sh - the study of issue 19 (doc/results.md): does probability
# shift work? Resumable by design: it runs only what is missing.
#
#   jobs/study.sh run      # train, probe, search and summarize every missing run
#   jobs/study.sh status   # what is done and what is missing, n per arm
#   jobs/study.sh report   # shiftnas report over the summaries, into doc/results/report-*/
#   jobs/study.sh          # this text and the settings in force
#   sbatch jobs/study.sbatch   # `run` as one 2-task Slurm job that requeues itself
#
# The runs, in this order (an interrupted study has usable pairs early):
#   paired       cnn-space.ini on its own schedule: STUDY_PAIRED_ARMS
#                interleaved per seed (shift-seed1, shift-frozen-seed1,
#                shift-seed2, ...)
#   reference    the same for STUDY_REFERENCE_ARMS (uniform, flops-uniform)
#   retrained    stand-alone ground truth: probes of the CNN panel trained
#                alone from scratch (search.strategy = fixed, same schedule,
#                run.seed STUDY_RETRAIN_SEED). The fixed rule: in each bucket
#                of the upper half of the MACs range (bucket >= K - K/2, K =
#                [search] buckets), the STUDY_RETRAIN_PER_BUCKET probes of
#                lowest number, the buckets as the panel's probes.csv of the
#                first finished paired/reference run gives them
#   sensitivity  shift, one seed, one setting changed at a time: beta's Adam
#                rate, the update interval, K; a value equal to the paired
#                study's is not run again (its shift run of that seed is it)
#   vit          vit-space.ini on its own schedule: STUDY_VIT_ARMS interleaved
#                per seed
# Every run: `shiftnas train` on STUDY_RANKS ranks (mpirun -np N; srun inside
# a Slurm job); `shiftnas probe RUN --probes jobs/probes/SPACE.txt`; for the
# paired, reference and vit runs `shiftnas search` for the targets (the same
# evolution settings for every arm); then `shiftnas report --summarize` into
# STUDY_REPO/doc/results/data/STUDY_DIR/RUN/ with a timing.txt beside it.
# STUDY_DIR: cnn-$STUDY (paired, reference, retrained), cnn-$STUDY-sensitivity,
# vit-$STUDY. RUN: ARM-seedN, retrained-probeN, shift-lrV-seedN,
# shift-intervalV-seedN, shift-kV-seedN.
#
# Resuming: a run is done when its summary directory is complete (written
# elsewhere, then renamed into place, timing.txt included). Otherwise its run
# directory (STUDY_RUNS/STUDY_DIR/RUN) is continued: `shiftnas train --resume`
# from its latest checkpoint (a finished run says so at once), then the probe,
# search and summary that are missing (probes.csv and search.csv are written
# whole or not at all). SIGTERM, SIGINT or SIGUSR1 to this script: the
# training step checkpoints (other steps are stopped and redone later) and
# the script exits 75; run it again to continue. Logs and the seconds each
# step took: STUDY_RUNS/STUDY_DIR/logs/.
#
# Exit status: 0 every planned run done, 1 a step failed (its log's last lines
# are shown), 2 usage, 75 stopped (a signal, or a checkpoint stop of train):
# run again, or (Slurm) the job requeues itself.
set -u
set -f # values (subnets, settings) are split on spaces, never globbed

jobs_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=jobs/lib.sh
. "$jobs_dir/lib.sh" # sn_log, sn_find_shiftnas

# ---------------------------------------------------------------- settings ----

words() { echo "$1" | tr ',' ' '; } # a list given with commas or spaces

STUDY=${STUDY:-2026-12}
STUDY_RUNS=${STUDY_RUNS:-runs/study}
STUDY_REPO=${STUDY_REPO:-$(cd "$jobs_dir/.." && pwd)}
STUDY_COMMIT=${STUDY_COMMIT:-0}
STUDY_PHASES=${STUDY_PHASES:-paired reference retrained sensitivity vit}
STUDY_CNN_CONFIG=${STUDY_CNN_CONFIG:-$jobs_dir/configs/cnn-space.ini}
STUDY_VIT_CONFIG=${STUDY_VIT_CONFIG:-$jobs_dir/configs/vit-space.ini}
STUDY_CNN_PROBES=${STUDY_CNN_PROBES:-$jobs_dir/probes/cnn-space.txt}
STUDY_VIT_PROBES=${STUDY_VIT_PROBES:-$jobs_dir/probes/vit-space.txt}
STUDY_PAIRED_ARMS=${STUDY_PAIRED_ARMS:-shift shift-frozen}
STUDY_PAIRED_SEEDS=${STUDY_PAIRED_SEEDS:-1 2 3 4 5}
STUDY_REFERENCE_ARMS=${STUDY_REFERENCE_ARMS:-uniform flops-uniform}
STUDY_REFERENCE_SEEDS=${STUDY_REFERENCE_SEEDS:-1 2 3}
STUDY_RETRAIN_PER_BUCKET=${STUDY_RETRAIN_PER_BUCKET:-3}
STUDY_RETRAIN_SEED=${STUDY_RETRAIN_SEED:-1}
STUDY_SENSITIVITY_SEED=${STUDY_SENSITIVITY_SEED:-1}
STUDY_SENSITIVITY_LR=${STUDY_SENSITIVITY_LR:-0.001 0.01 0.1}
STUDY_SENSITIVITY_INTERVAL=${STUDY_SENSITIVITY_INTERVAL:-50 100 200}
STUDY_SENSITIVITY_K=${STUDY_SENSITIVITY_K:-4 8 16}
STUDY_VIT_ARMS=${STUDY_VIT_ARMS:-shift shift-frozen}
STUDY_VIT_SEEDS=${STUDY_VIT_SEEDS:-1 2 3}
STUDY_TARGETS=${STUDY_TARGETS:-2M,4M,6M,8M}
STUDY_VIT_TARGETS=${STUDY_VIT_TARGETS:-2M,3M,4M,5M,6M}
STUDY_SEARCH_SET=${STUDY_SEARCH_SET:-search.evolution_evaluations=64 search.evolution_validation_images=2000 search.evolution_recalibration_batches=8}
STUDY_EPOCHS=${STUDY_EPOCHS:-}
STUDY_SET=${STUDY_SET:-}
STUDY_RANKS=${STUDY_RANKS:-2}
STUDY_MPIRUN=${STUDY_MPIRUN:-mpirun}
STUDY_MPIRUN_ARGS=${STUDY_MPIRUN_ARGS:-}
STUDY_CHECKPOINT_SECONDS=${STUDY_CHECKPOINT_SECONDS:-300}
STUDY_REPORT_ARGS=${STUDY_REPORT_ARGS:-}

usage() {
    local epochs=${STUDY_EPOCHS:-"the configuration's own"}
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$jobs_dir/study.sh"
    cat <<EOF

Settings (environment; lists take spaces or commas), now:
  STUDY                       study name: summaries in doc/results/data/{cnn,vit}-STUDY[-sensitivity]  [$STUDY]
  STUDY_RUNS                  run directories and logs (large; outside the repository)  [$STUDY_RUNS]
  STUDY_REPO                  the git repository the summaries go into  [$STUDY_REPO]
  STUDY_COMMIT                1: git commit each finished run's summary directory at once  [$STUDY_COMMIT]
  STUDY_PHASES                [$STUDY_PHASES]
  STUDY_PAIRED_ARMS, _SEEDS   [$STUDY_PAIRED_ARMS] x [$STUDY_PAIRED_SEEDS]
  STUDY_REFERENCE_ARMS, _SEEDS  [$STUDY_REFERENCE_ARMS] x [$STUDY_REFERENCE_SEEDS]
  STUDY_RETRAIN_PER_BUCKET    probes retrained per upper-half bucket  [$STUDY_RETRAIN_PER_BUCKET], seed [$STUDY_RETRAIN_SEED] (STUDY_RETRAIN_SEED)
  STUDY_SENSITIVITY_LR        search.shift_learning_rate values  [$STUDY_SENSITIVITY_LR]
  STUDY_SENSITIVITY_INTERVAL  search.shift_interval values  [$STUDY_SENSITIVITY_INTERVAL]
  STUDY_SENSITIVITY_K         search.buckets values  [$STUDY_SENSITIVITY_K], seed [$STUDY_SENSITIVITY_SEED] (STUDY_SENSITIVITY_SEED)
  STUDY_VIT_ARMS, _SEEDS      [$STUDY_VIT_ARMS] x [$STUDY_VIT_SEEDS]
  STUDY_TARGETS               CNN search targets  [$STUDY_TARGETS]
  STUDY_VIT_TARGETS           ViT search targets  [$STUDY_VIT_TARGETS]
  STUDY_SEARCH_SET            search settings, the same for every arm  [$STUDY_SEARCH_SET]
  STUDY_EPOCHS                train.epochs for every run, warm-up scaled with it (a quick smoke run)  [$epochs]
  STUDY_SET                   more SECTION.KEY=VALUE for every new run (e.g. train.max_steps=6)  [$STUDY_SET]
  STUDY_CNN_CONFIG, STUDY_CNN_PROBES  [$STUDY_CNN_CONFIG] [$STUDY_CNN_PROBES]
  STUDY_VIT_CONFIG, STUDY_VIT_PROBES  [$STUDY_VIT_CONFIG] [$STUDY_VIT_PROBES]
  STUDY_RANKS                 ranks outside Slurm (1: no mpirun)  [$STUDY_RANKS]
  STUDY_MPIRUN, STUDY_MPIRUN_ARGS   [$STUDY_MPIRUN] [$STUDY_MPIRUN_ARGS]
  STUDY_CHECKPOINT_SECONDS    [checkpoint] interval_seconds of the runs  [$STUDY_CHECKPOINT_SECONDS]
  STUDY_REPORT_ARGS           more options for \`shiftnas report\` in the report command  [$STUDY_REPORT_ARGS]
  SHIFTNAS                    the program (else shiftnas on PATH, ./shiftnas, the build tree)
  SHIFTNAS_MAX_REQUEUES       Slurm: requeues in a row without a finished run  [${SHIFTNAS_MAX_REQUEUES:-5}]
EOF
}

die() {
    echo "study.sh: $*" >&2
    exit 1
}

data_root=$STUDY_REPO/doc/results/data
in_slurm() { [ -n "${SLURM_JOB_ID:-}" ] && [ -n "${SLURM_NTASKS:-}" ]; }

# ------------------------------------------------------------------ groups ----
# A group is one summary directory (a STUDY_DIR) with its configuration,
# probe panel and search targets.

group_dir() { # cnn | cnn-sensitivity | vit
    case $1 in
        cnn) echo "cnn-$STUDY" ;;
        cnn-sensitivity) echo "cnn-$STUDY-sensitivity" ;;
        vit) echo "vit-$STUDY" ;;
    esac
}
group_config() { case $1 in vit) echo "$STUDY_VIT_CONFIG" ;; *) echo "$STUDY_CNN_CONFIG" ;; esac; }
group_probes() { case $1 in vit) echo "$STUDY_VIT_PROBES" ;; *) echo "$STUDY_CNN_PROBES" ;; esac; }
group_targets() { case $1 in vit) echo "$STUDY_VIT_TARGETS" ;; *) echo "$STUDY_TARGETS" ;; esac; }

# The --set options an arm's runs start with.
arm_sets() {
    case $1 in
        shift-frozen) echo "search.strategy=shift search.shift_frozen=true" ;;
        shift-variance) echo "search.strategy=shift search.shift_statistic=variance" ;;
        *) echo "search.strategy=$1" ;;
    esac
}

# One key of a configuration as `shiftnas train` would resolve it (with the
# epochs override and STUDY_SET), from `shiftnas config show`.
config_value() { # CONFIG SECTION KEY
    local sets=() s
    for s in $STUDY_SET; do sets+=(--set "$s"); done
    "$SN_BIN" config show --config "$1" "${sets[@]}" 2>/dev/null |
        awk -v section="[$2]" -v key="$3" '
            /^\[/ { in_section = ($0 == section); next }
            in_section { split($0, kv, "="); k = kv[1]; gsub(/ /, "", k)
                         if (k == key) { v = substr($0, index($0, "=") + 1); gsub(/^ +| +$/, "", v); print v; exit } }'
}

# The --set options every new run of a group starts with: the epochs override
# (warm-up scaled by the same factor), the checkpoint interval, STUDY_SET.
common_sets() { # group
    local config epochs warmup
    if [ -n "$STUDY_EPOCHS" ]; then
        config=$(group_config "$1")
        epochs=$(config_value "$config" train epochs)
        warmup=$(config_value "$config" train warmup_epochs)
        [ -n "$epochs" ] && [ -n "$warmup" ] || die "$config: cannot read train.epochs and warmup_epochs (shiftnas config show)"
        echo "train.epochs=$STUDY_EPOCHS train.warmup_epochs=$(awk -v w="$warmup" -v e="$epochs" -v n="$STUDY_EPOCHS" 'BEGIN { printf "%.6g", w * n / e }')"
    fi
    echo "checkpoint.interval_seconds=$STUDY_CHECKPOINT_SECONDS run.progress_seconds=60 $STUDY_SET"
}

# -------------------------------------------------------------------- plan ----
# One line per run, in the order they are run:
#   GROUP <tab> PHASE <tab> ARM <tab> RUN <tab> SEARCH(0|1) <tab> SETS
# SETS: the run's own SECTION.KEY=VALUE, space-separated (a subnet has no spaces).

same_number() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 == b + 0) }'; }

has_word() { # WORD LIST
    local w
    for w in $2; do [ "$w" = "$1" ] && return 0; done
    return 1
}

# The probes.csv that fixes the retrained probes: the first finished
# paired/reference run's, from its summary or its run directory.
retrain_source() {
    local seed arm dir
    for seed in $(words "$STUDY_PAIRED_SEEDS") $(words "$STUDY_REFERENCE_SEEDS"); do
        for arm in $(words "$STUDY_PAIRED_ARMS") $(words "$STUDY_REFERENCE_ARMS"); do
            for dir in "$data_root/$(group_dir cnn)/$arm-seed$seed" "$STUDY_RUNS/$(group_dir cnn)/$arm-seed$seed"; do
                if [ -s "$dir/probes.csv" ]; then
                    echo "$dir/probes.csv"
                    return 0
                fi
            done
        done
    done
    return 1
}

# PROBE <tab> SUBNET of the retrained probes (the fixed rule above), from a
# probes.csv (probe,bucket,macs,params,"subnet",test_loss,test_accuracy).
retrain_choice() { # probes.csv K
    awk -F'"' -v k="$2" -v per="$STUDY_RETRAIN_PER_BUCKET" '
        NR == 1 { next }
        { split($1, f, ","); probe = f[1] + 0; bucket = f[2] + 0
          if (f[1] != "" && probe >= 0 && bucket >= k - int(k / 2)) print bucket "\t" probe "\t" $2 }' "$1" |
        sort -t"$(printf '\t')" -k1,1n -k2,2n |
        awk -F'\t' -v per="$STUDY_RETRAIN_PER_BUCKET" '++n[$1] <= per { print $2 "\t" $3 }' |
        sort -n
}

plan() {
    local tab seed arm phases k src value baseline_seed
    tab=$(printf '\t')
    phases=$(words "$STUDY_PHASES")
    if has_word paired "$phases"; then
        for seed in $(words "$STUDY_PAIRED_SEEDS"); do
            for arm in $(words "$STUDY_PAIRED_ARMS"); do
                echo "cnn${tab}paired${tab}$arm${tab}$arm-seed$seed${tab}1${tab}$(arm_sets "$arm") run.seed=$seed"
            done
        done
    fi
    if has_word reference "$phases"; then
        for seed in $(words "$STUDY_REFERENCE_SEEDS"); do
            for arm in $(words "$STUDY_REFERENCE_ARMS"); do
                echo "cnn${tab}reference${tab}$arm${tab}$arm-seed$seed${tab}1${tab}$(arm_sets "$arm") run.seed=$seed"
            done
        done
    fi
    if has_word retrained "$phases"; then
        if src=$(retrain_source); then
            k=$(config_value "$STUDY_CNN_CONFIG" search buckets)
            retrain_choice "$src" "${k:-8}" | while IFS="$tab" read -r probe subnet; do
                echo "cnn${tab}retrained${tab}retrained${tab}retrained-probe$probe${tab}0${tab}search.strategy=fixed search.subnet=$subnet run.seed=$STUDY_RETRAIN_SEED"
            done
        else
            # status shows it; run reaches it after the paired runs
            echo "cnn${tab}retrained${tab}retrained${tab}-${tab}0${tab}"
        fi
    fi
    if has_word sensitivity "$phases"; then
        seed=$STUDY_SENSITIVITY_SEED
        # The paired study's shift run of this seed is the baseline point:
        # a value equal to its setting is that run, not run again.
        baseline_seed=
        if has_word paired "$phases" && has_word shift "$(words "$STUDY_PAIRED_ARMS")" &&
            has_word "$seed" "$(words "$STUDY_PAIRED_SEEDS")"; then
            baseline_seed=$seed
        fi
        sensitivity_axis lr shift_learning_rate "$STUDY_SENSITIVITY_LR"
        sensitivity_axis interval shift_interval "$STUDY_SENSITIVITY_INTERVAL"
        sensitivity_axis k buckets "$STUDY_SENSITIVITY_K"
    fi
    if has_word vit "$phases"; then
        for seed in $(words "$STUDY_VIT_SEEDS"); do
            for arm in $(words "$STUDY_VIT_ARMS"); do
                echo "vit${tab}vit${tab}$arm${tab}$arm-seed$seed${tab}1${tab}$(arm_sets "$arm") run.seed=$seed"
            done
        done
    fi
}

sensitivity_axis() { # NAME KEY VALUES (uses tab, seed, baseline_seed of plan)
    local base value
    base=$(config_value "$STUDY_CNN_CONFIG" search "$2")
    for value in $(words "$3"); do
        if [ -n "$baseline_seed" ] && [ -n "$base" ] && same_number "$value" "$base"; then
            continue
        fi
        echo "cnn-sensitivity${tab}sensitivity${tab}shift-$1${tab}shift-$1$value-seed$seed${tab}0${tab}search.strategy=shift search.$2=$value run.seed=$seed"
    done
}

# ------------------------------------------------------------- run state ----

# A summary directory is complete when it holds what the run produced and
# timing.txt (written last, then the directory renamed into place).
summary_complete() { # DEST SEARCH(0|1)
    local f
    for f in timing.txt config.ini metrics.csv probes.csv; do
        [ -s "$1/$f" ] || return 1
    done
    [ "$2" = 0 ] || [ -s "$1/search.csv" ]
}

# Where an unfinished run stands, for status.
run_progress() { # RUN_DIR
    local latest
    if [ ! -f "$1/config.ini" ]; then
        echo "not started"
    elif [ -s "$1/probes.csv" ]; then
        echo "trained and probed"
    elif latest=$(cat "$1/checkpoints/latest" 2>/dev/null) && [ -n "$latest" ]; then
        echo "checkpoint $(echo "$latest" | sed -n 's/^step-0*\([0-9][0-9]*\)\.h5$/step \1/p')"
    else
        echo "started, no checkpoint yet"
    fi
}

# ------------------------------------------------------------------ steps ----

STEP_PID=
STEP_KIND=
STOP_SIGNAL=
GOT_TERM=0

on_stop() { # SIGNAL
    STOP_SIGNAL=$1
    [ "$1" = TERM ] && GOT_TERM=1
    [ -n "$STEP_PID" ] || return 0
    if [ "$1" = TERM ] && in_slurm; then
        sn_log "SIGTERM: Slurm is ending this job and signals the step's tasks itself (they checkpoint)"
    elif [ "$STEP_KIND" = train ]; then
        sn_log "SIG$1: asking the training step to checkpoint and stop"
        kill -USR1 "$STEP_PID" 2>/dev/null
    else
        sn_log "SIG$1: stopping the $STEP_KIND step (it is redone on the next start)"
        kill -TERM "$STEP_PID" 2>/dev/null
    fi
}
trap 'on_stop USR1' USR1
trap 'on_stop TERM' TERM
trap 'on_stop INT' INT

# Runs shiftnas ARGS on the study's ranks (srun in Slurm, mpirun outside,
# the program alone for one rank) or alone (ranks = 1), output appended to
# LOG; sets STEP_STATUS. The wait is repeated when a trapped signal
# interrupts it, until the step has ended.
run_step() { # KIND(train|probe|search|summarize) RANKS(all|1) LOG ARGS...
    STEP_KIND=$1
    local ranks=$2 log=$3 launcher=()
    shift 3
    if [ "$ranks" = all ]; then
        if in_slurm; then
            local srun_args=()
            # shellcheck disable=SC2206 # several options in one variable
            [ -n "${SHIFTNAS_SRUN_ARGS:-}" ] && srun_args=($SHIFTNAS_SRUN_ARGS)
            launcher=(srun --mpi=pmix "${srun_args[@]}")
        elif [ "$STUDY_RANKS" -gt 1 ]; then
            launcher=("$STUDY_MPIRUN")
            [ "$(id -u)" = 0 ] && launcher+=(--allow-run-as-root)
            # shellcheck disable=SC2206 # several options in one variable
            launcher+=(-np "$STUDY_RANKS" $STUDY_MPIRUN_ARGS)
        fi
    fi
    if [ -n "$STOP_SIGNAL" ]; then
        STEP_STATUS=75
        return 0
    fi
    # Outside Slurm the step gets its own session: a Ctrl-C on the terminal
    # reaches this script alone, which asks the step to checkpoint (mpirun
    # would abort the ranks on its own SIGINT).
    if ! in_slurm && command -v setsid >/dev/null; then
        launcher=(setsid "${launcher[@]}")
    fi
    echo "[study $(date -u +%FT%TZ)] ${launcher[*]} $SN_BIN $*" >>"$log"
    "${launcher[@]}" "$SN_BIN" "$@" >>"$log" 2>&1 &
    STEP_PID=$!
    while :; do
        wait "$STEP_PID"
        STEP_STATUS=$?
        # a trapped signal ends `wait` early with a status above 128
        kill -0 "$STEP_PID" 2>/dev/null || break
    done
    STEP_PID=
    echo "[study $(date -u +%FT%TZ)] exit $STEP_STATUS" >>"$log"
}

# The study stops: a signal or a checkpoint stop of train (exit 75).
stop_study() { # WHAT
    sn_log "stopped during $1: the run directory keeps its checkpoint; every finished run is in $data_root"
    if ! in_slurm; then
        sn_log "run jobs/study.sh run again to continue where it stopped"
        exit 75
    fi
    if [ "$GOT_TERM" = 1 ]; then
        sn_log "SIGTERM: Slurm ends this job; a requeued job (scontrol requeue, preemption) continues, otherwise resubmit jobs/study.sbatch"
        exit 75
    fi
    # Requeues in a row without a finished run are limited: a study
    # requeues many times when it makes progress.
    local restarts=${SLURM_RESTART_COUNT:-0} max=${SHIFTNAS_MAX_REQUEUES:-5} last=0 job at
    if read -r job at 2>/dev/null <"$STUDY_RUNS/slurm-progress" && [ "$job" = "$SLURM_JOB_ID" ]; then
        last=$at
    fi
    if [ $((restarts - last)) -ge "$max" ]; then
        sn_log "ERROR: requeued $((restarts - last)) time(s) in a row without finishing a run (SHIFTNAS_MAX_REQUEUES=$max): not requeueing; resubmit jobs/study.sbatch to continue"
        exit 75
    fi
    sn_log "requeueing job $SLURM_JOB_ID: its start $((restarts + 2)) continues where this one stopped"
    if ! scontrol requeue "$SLURM_JOB_ID"; then
        sn_log "ERROR: scontrol requeue $SLURM_JOB_ID was refused; resubmit jobs/study.sbatch to continue"
        exit 75
    fi
    sleep 60 # ended by Slurm's SIGTERM
    exit 75
}

step_failed() { # WHAT LOG
    sn_log "ERROR: $1 failed (exit $STEP_STATUS); the last lines of $2:"
    tail -n 15 "$2" | sed 's/^/    /' >&2
    exit 1
}

# Seconds a step took, appended to the run's .seconds file (summed into
# timing.txt's wall_seconds across every start).
add_seconds() { # FILE STEP START
    echo "$2 $(($(date +%s) - $3))" >>"$1"
}

# Training's time is metrics.csv's last seconds: the loop's wall time that
# shiftnas sums over the run's sessions itself. add_seconds cannot: a
# session killed outright (the end of an allocation) never reaches it, and
# it would count the steps redone after a kill. The other steps' times are
# add_seconds'; train_sessions_seconds keeps what it saw of training.
write_timing() { # FILE SECONDS_FILE LOG METRICS_CSV
    local cpu kernels ranks train others
    cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n 1)
    kernels=$(sed -n 's/.*BLIS kernels \([^,]*\),.*/\1/p' "$3" | tail -n 1)
    ranks=$(sed -n 's/^ranks: \([0-9]*\),.*/\1/p' "$3" | tail -n 1)
    train=$(awk -F, 'NR > 1 && $7 != "" { s = $7 } END { printf "%.0f", s }' "$4")
    others=$(awk '$1 != "train" { s += $2 } END { print s + 0 }' "$2")
    {
        echo "wall_seconds $((train + others))"
        echo "ranks ${ranks:-$(if in_slurm; then echo "$SLURM_NTASKS"; else echo "$STUDY_RANKS"; fi)}"
        echo "cpu ${cpu:-unknown}"
        echo "blis_kernels ${kernels:-unknown}"
        echo "date $(date -u +%FT%TZ)"
        # the breakdown, and the program that made the run
        { awk '{ s[$1 == "train" ? "train_sessions" : $1] += $2 }
               END { for (k in s) print k "_seconds", s[k] }' "$2"
          echo "train_seconds $train"; } | sort
        echo "revision $("$SN_BIN" --version 2>/dev/null | sed -n 's/.*(revision \([^)]*\)).*/\1/p')"
    } >"$1"
}

commit_summary() { # GROUP_DIR RUN
    local rel=doc/results/data/$1/$2
    git -C "$STUDY_REPO" add -- "$rel" || die "git add $rel failed in $STUDY_REPO"
    if git -C "$STUDY_REPO" diff --cached --quiet -- "$rel"; then
        sn_log "$rel: already committed as it is"
        return 0
    fi
    git -C "$STUDY_REPO" commit -q -m "study: $1/$2" -- "$rel" ||
        die "git commit of $rel failed in $STUDY_REPO (the summary is kept; the next start commits it)"
    sn_log "committed $rel"
}

# Summaries that are complete but not committed (a commit that failed, an
# earlier start without STUDY_COMMIT): committed first.
commit_pending() {
    local group phase arm run search sets dir
    while IFS=$'\t' read -r group phase arm run search sets; do
        [ "$run" = - ] && continue
        dir=$(group_dir "$group")
        summary_complete "$data_root/$dir/$run" "$search" || continue
        [ -z "$(git -C "$STUDY_REPO" status --porcelain -- "doc/results/data/$dir/$run")" ] && continue
        commit_summary "$dir" "$run"
    done < <(plan)
}

# Trains, probes, searches and summarizes one run, each step only when its
# output is missing.
do_run() { # GROUP RUN SEARCH SETS
    local group=$1 run=$2 search=$3 dir config probes run_dir logs log seconds start
    dir=$(group_dir "$group")
    config=$(group_config "$group")
    probes=$(group_probes "$group")
    run_dir=$STUDY_RUNS/$dir/$run
    logs=$STUDY_RUNS/$dir/logs
    log=$logs/$run.log
    seconds=$logs/$run.seconds
    mkdir -p "$logs" || die "cannot create $logs"
    : >>"$seconds"

    local args=() s start_sets
    start_sets=$(common_sets "$group") || exit 1
    if [ -f "$run_dir/config.ini" ]; then
        sn_log "$dir/$run: continuing $run_dir ($(run_progress "$run_dir"))"
        args=(train --resume "$run_dir" --set "checkpoint.interval_seconds=$STUDY_CHECKPOINT_SECONDS")
    else
        sn_log "$dir/$run: starting $run_dir"
        : >"$seconds"
        for s in $start_sets $4; do args+=(--set "$s"); done
        args=(train --config "$config" "${args[@]}" --out "$run_dir")
    fi
    start=$(date +%s)
    run_step train all "$log" "${args[@]}"
    add_seconds "$seconds" train "$start"
    [ "$STEP_STATUS" = 75 ] || [ -n "$STOP_SIGNAL" ] && stop_study "training of $dir/$run"
    [ "$STEP_STATUS" = 0 ] || step_failed "training of $dir/$run" "$log"

    if [ ! -s "$run_dir/probes.csv" ]; then
        sn_log "$dir/$run: probes ($probes)"
        start=$(date +%s)
        run_step probe all "$log" probe "$run_dir" --probes "$probes"
        add_seconds "$seconds" probe "$start"
        [ -n "$STOP_SIGNAL" ] && stop_study "probe of $dir/$run"
        [ "$STEP_STATUS" = 0 ] || step_failed "probe of $dir/$run" "$log"
    fi

    if [ "$search" = 1 ] && [ ! -s "$run_dir/search.csv" ]; then
        local search_args=()
        for s in $STUDY_SEARCH_SET; do search_args+=(--set "$s"); done
        # search appends to its --csv: a stopped search leaves only the
        # temporary file, renamed to search.csv once the search succeeded.
        rm -f "$run_dir/search.csv.partial"
        sn_log "$dir/$run: search for $(group_targets "$group")"
        start=$(date +%s)
        run_step search all "$log" search "$run_dir" --targets "$(group_targets "$group")" \
            "${search_args[@]}" --csv "$run_dir/search.csv.partial"
        add_seconds "$seconds" search "$start"
        [ -n "$STOP_SIGNAL" ] && stop_study "search of $dir/$run"
        [ "$STEP_STATUS" = 0 ] || step_failed "search of $dir/$run" "$log"
        mv "$run_dir/search.csv.partial" "$run_dir/search.csv" || die "cannot rename $run_dir/search.csv.partial"
    fi

    # The summary is made beside the data directories (not inside one, where
    # `shiftnas report` would find a half-made run), then renamed into place.
    local staging=$data_root/.study-staging/$dir/$run dest=$data_root/$dir/$run
    rm -rf "$staging"
    mkdir -p "$(dirname "$staging")" "$data_root/$dir" || die "cannot create $(dirname "$staging")"
    start=$(date +%s)
    run_step summarize 1 "$log" report --summarize "$run_dir" "$staging"
    add_seconds "$seconds" summarize "$start"
    [ -n "$STOP_SIGNAL" ] && stop_study "summary of $dir/$run"
    [ "$STEP_STATUS" = 0 ] || step_failed "summary of $dir/$run" "$log"
    write_timing "$staging/timing.txt" "$seconds" "$log" "$run_dir/metrics.csv"
    rm -rf "$dest"
    mv "$staging" "$dest" || die "cannot move $staging to $dest"
    rmdir -p "$(dirname "$staging")" 2>/dev/null
    sn_log "$dir/$run: done -> $dest"
    if in_slurm; then echo "$SLURM_JOB_ID ${SLURM_RESTART_COUNT:-0}" >"$STUDY_RUNS/slurm-progress"; fi
    [ "$STUDY_COMMIT" = 1 ] && commit_summary "$dir" "$run"
    return 0
}

# ---------------------------------------------------------------- commands ----

cmd_run() {
    mkdir -p "$STUDY_RUNS" || die "cannot create $STUDY_RUNS"
    STUDY_RUNS=$(cd "$STUDY_RUNS" && pwd)
    # One driver per study: a second one would train the same run directories.
    exec 9>"$STUDY_RUNS/study.lock"
    flock -n 9 || die "$STUDY_RUNS: another jobs/study.sh run is running on it (or the steps of one that was killed)"
    if ! in_slurm && [ "$STUDY_RANKS" -gt 1 ]; then
        command -v "$STUDY_MPIRUN" >/dev/null || die "$STUDY_MPIRUN not found (STUDY_MPIRUN; STUDY_RANKS=1 runs without it)"
    fi
    local f
    for f in "$STUDY_CNN_CONFIG" "$STUDY_CNN_PROBES"; do
        [ -r "$f" ] || die "$f: not found"
    done
    if has_word vit "$(words "$STUDY_PHASES")"; then
        for f in "$STUDY_VIT_CONFIG" "$STUDY_VIT_PROBES"; do
            [ -r "$f" ] || die "$f: not found"
        done
    fi
    if [ "$STUDY_COMMIT" = 1 ]; then
        git -C "$STUDY_REPO" rev-parse --git-dir >/dev/null 2>&1 || die "$STUDY_REPO: not a git repository (STUDY_COMMIT=1)"
        commit_pending
    fi
    sn_log "study $STUDY with $SN_BIN: summaries in $data_root, run directories in $STUDY_RUNS, ranks: $(if in_slurm; then echo "${SLURM_NTASKS} (srun)"; else echo "$STUDY_RANKS"; fi)"

    # The plan is read again after every run: the retrained probes are
    # known once the first paired run has its probes.csv.
    local done_runs=0 group phase arm run search sets found
    while :; do
        found=0
        while IFS=$'\t' read -r group phase arm run search sets; do
            if [ "$run" = - ]; then
                die "the retrained phase needs a finished paired or reference run's probes.csv (STUDY_PHASES without them?)"
            fi
            summary_complete "$data_root/$(group_dir "$group")/$run" "$search" && continue
            found=1
            break
        done < <(plan)
        [ $found = 1 ] || break
        do_run "$group" "$run" "$search" "$sets"
        # never the same run twice in one start
        summary_complete "$data_root/$(group_dir "$group")/$run" "$search" ||
            die "$data_root/$(group_dir "$group")/$run: the summary lacks some of timing.txt, config.ini, metrics.csv, probes.csv$([ "$search" = 1 ] && echo ", search.csv")"
        done_runs=$((done_runs + 1))
        # the study's progress in the log (a Slurm job's output)
        sn_log "progress: $done_runs run(s) done in this start; $(cmd_status 2>/dev/null | sed -n 's/^time left: \(about [^(]*([^)]*)\).*/\1/p') of this machine left for the rest"
    done
    if [ $done_runs = 0 ]; then
        sn_log "nothing to do: every planned run has its summary"
    else
        sn_log "all planned runs done ($done_runs this time)"
    fi
}

cmd_status() {
    local group phase arm run search sets dir key keys=() line
    local -A done_n planned_n missing wall_sum wall_n
    local all_sum=0 all_n=0 wall
    echo "study $STUDY: summaries in $data_root/, run directories in $STUDY_RUNS/"
    while IFS=$'\t' read -r group phase arm run search sets; do
        dir=$(group_dir "$group")
        key="$phase|$dir|$arm"
        if [ -z "${planned_n[$key]+set}" ]; then
            keys+=("$key")
            planned_n[$key]=0 done_n[$key]=0 missing[$key]=
        fi
        if [ "$run" = - ]; then
            missing[$key]="not planned yet (needs the probes.csv of a finished paired or reference run)"
            continue
        fi
        planned_n[$key]=$((planned_n[$key] + 1))
        if summary_complete "$data_root/$dir/$run" "$search"; then
            done_n[$key]=$((done_n[$key] + 1))
            wall=$(sed -n 's/^wall_seconds \([0-9][0-9]*\).*/\1/p' "$data_root/$dir/$run/timing.txt" 2>/dev/null)
            if [ -n "$wall" ]; then
                wall_sum[$key]=$((${wall_sum[$key]:-0} + wall)) wall_n[$key]=$((${wall_n[$key]:-0} + 1))
                all_sum=$((all_sum + wall)) all_n=$((all_n + 1))
            fi
        else
            line="$run ($(run_progress "$STUDY_RUNS/$dir/$run"))"
            missing[$key]="${missing[$key]}${missing[$key]:+, }$line"
        fi
    done < <(plan)
    for key in "${keys[@]}"; do
        # shellcheck disable=SC2086 # phase, study directory, arm
        printf '%-12s %-28s %-18s %s of %s done%s\n' ${key//|/ } "${done_n[$key]}" "${planned_n[$key]}" \
            "${missing[$key]:+; missing: ${missing[$key]}}"
    done
    # What is left, in hours of this machine: each missing run at the mean
    # wall time of its arm's finished runs, else of every finished run.
    if [ "$all_n" -gt 0 ]; then
        local left=0 unknown=0 each
        for key in "${keys[@]}"; do
            if [ "${wall_n[$key]:-0}" -gt 0 ]; then
                each=$((wall_sum[$key] / wall_n[$key]))
            else
                each=$((all_sum / all_n)) unknown=$((unknown + planned_n[$key] - done_n[$key]))
            fi
            left=$((left + (planned_n[$key] - done_n[$key]) * each))
        done
        echo "time left: about $(awk -v s="$left" 'BEGIN { printf "%.1f", s / 3600 }') h ($left s) of this machine (each missing run at its arm's mean wall_seconds; $unknown run(s) of arms with none finished at the mean of all $all_n finished runs; not counting runs not planned yet)"
    fi
    if has_word sensitivity "$(words "$STUDY_PHASES")" && has_word paired "$(words "$STUDY_PHASES")" &&
        has_word shift "$(words "$STUDY_PAIRED_ARMS")" && has_word "$STUDY_SENSITIVITY_SEED" "$(words "$STUDY_PAIRED_SEEDS")"; then
        echo "sensitivity baseline (search.shift_learning_rate $(config_value "$STUDY_CNN_CONFIG" search shift_learning_rate), shift_interval $(config_value "$STUDY_CNN_CONFIG" search shift_interval), buckets $(config_value "$STUDY_CNN_CONFIG" search buckets)): $(group_dir cnn)/shift-seed$STUDY_SENSITIVITY_SEED"
    fi
    # Complete pairs: both arms of a seed done.
    local g a b seed seeds pairs
    for g in cnn vit; do
        if [ $g = cnn ]; then
            has_word paired "$(words "$STUDY_PHASES")" || continue
            # shellcheck disable=SC2046 # the arms, one word each
            set -- $(words "$STUDY_PAIRED_ARMS")
            seeds=$(words "$STUDY_PAIRED_SEEDS")
        else
            has_word vit "$(words "$STUDY_PHASES")" || continue
            # shellcheck disable=SC2046
            set -- $(words "$STUDY_VIT_ARMS")
            seeds=$(words "$STUDY_VIT_SEEDS")
        fi
        [ $# -ge 2 ] || continue
        a=$1 b=$2 pairs=0
        dir=$(group_dir $g)
        for seed in $seeds; do
            summary_complete "$data_root/$dir/$a-seed$seed" 1 &&
                summary_complete "$data_root/$dir/$b-seed$seed" 1 && pairs=$((pairs + 1))
        done
        echo "complete pairs ($a and $b of the same seed) in $dir: $pairs"
    done
}

cmd_report() {
    local g dir out base bin=$SN_BIN extra=()
    case $bin in /*) ;; */*) bin=$PWD/$bin ;; esac
    # shellcheck disable=SC2206 # several options in one variable
    [ -n "$STUDY_REPORT_ARGS" ] && extra=($STUDY_REPORT_ARGS)
    for g in cnn cnn-sensitivity vit; do
        dir=$data_root/$(group_dir $g)
        [ -d "$dir" ] || continue
        # the sensitivity runs against their baseline, the paired shift run
        # of their seed, given first: its K numbers the probes' buckets
        local baseline=()
        base=$data_root/$(group_dir cnn)/shift-seed$STUDY_SENSITIVITY_SEED
        [ $g = cnn-sensitivity ] && [ -d "$base" ] && baseline=("${base#"$STUDY_REPO"/}")
        # doc/results/report-GROUP/: report.md, its plots and data/ (doc/results.md
        # cites them), apart from the summaries they are made from
        out=$STUDY_REPO/doc/results/report-$(group_dir $g)
        sn_log "report: $dir -> $out"
        # from the repository, with paths relative to it: the committed
        # report names doc/results/data/..., not this machine's directories
        (cd "$STUDY_REPO" && "$bin" report "${baseline[@]}" "${dir#"$STUDY_REPO"/}" --out "${out#"$STUDY_REPO"/}" \
            "${extra[@]}") || die "shiftnas report $dir failed"
    done
}

case ${1:-} in
    run | status | report) ;;
    "" | -h | --help)
        usage
        exit 2
        ;;
    *)
        echo "study.sh: unknown command '$1' (run, status, report)" >&2
        exit 2
        ;;
esac
sn_find_shiftnas "$jobs_dir"
"cmd_$1"
