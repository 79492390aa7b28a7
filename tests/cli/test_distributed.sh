#!/bin/sh
# Data-parallel training over MPI ranks (mpirun -np N shiftnas train): the same
# bits at every rank count, reduce=slab against reduce=active, the rank-0-only
# report lines, and the failures (one line from the failing rank, every rank
# stops, no hang). Short runs on a slice of Fashion-MNIST; skipped (77)
# without the data set, mpirun or h5diff.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
src=${SHIFTNAS_SOURCE_DIR:-.}
data=/usr/share/datasets/fashion-mnist
mpirun=${MPIRUN:-mpirun}
if [ ! -r "$data/train-images-idx3-ubyte.gz" ] && [ ! -r "$data/train-images-idx3-ubyte" ]; then
    echo "skip: Fashion-MNIST not found in $data"; exit 77
fi
for tool in "$mpirun" h5diff h5ls h5dump timeout; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skip: $tool not found"; exit 77; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-dist.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
# Inside a Slurm allocation these would make a plain (launcher-less) run
# refuse to start as one of several srun copies; the srun case below sets
# them itself.
unset SLURM_PROCID SLURM_NTASKS SLURM_STEP_NUM_TASKS SLURM_STEP_ID SLURM_STEPID
started=$(date +%s)

# 70 steps per epoch of 24 images (8 shards of 3); 6 steps, so the runs end
# inside the first epoch (one evaluation and model.h5 at the end). shift
# updates the probabilities at steps 2, 4 and 6.
tiny="--set data.train_limit=2000 --set data.validation_size=300 --set data.test_limit=100
      --set train.batch_size=24 --set train.max_steps=6 --set train.eval_batch_size=50
      --set search.shift_interval=2 --set search.shift_warmup=0
      --set search.shift_validation_images=50 --set search.evolution_validation_images=0
      --set search.recalibration_batches=1"
# Seconds before a run is taken for hung (generous: the sanitizer build on
# two busy cores); `timeout -k` also ends an mpirun that ignores SIGTERM.
limit=300

# launch RANKS ARGS...: shiftnas with RANKS ranks: one without a launcher
# (the path that never calls MPI), more under mpirun. $fault, when set,
# becomes SHIFTNAS_INJECT_FAULT. Open MPI's own allocations live until exit,
# so leak checking is off for its processes (sanitizer build).
fault=
launch() {
    launch_ranks=$1
    shift
    if [ "$launch_ranks" -eq 1 ]; then
        env ${fault:+SHIFTNAS_INJECT_FAULT=$fault} timeout -k 10 "$limit" "$bin" "$@"
    else
        env ${fault:+SHIFTNAS_INJECT_FAULT=$fault} \
            ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            timeout -k 10 "$limit" "$mpirun" --allow-run-as-root --oversubscribe \
            -np "$launch_ranks" "$bin" "$@"
    fi
}

# train RANKS RUN CONFIG ARGS...: a run of jobs/configs/CONFIG with the tiny
# settings into $work/RUN (stdout in RUN.out, stderr in RUN.err); its wall
# time in $train_seconds.
train() {
    train_ranks=$1 train_run=$2 train_config=$3
    shift 3
    train_start=$(date +%s)
    # shellcheck disable=SC2086
    launch "$train_ranks" train --config "$src/jobs/configs/$train_config" $tiny "$@" \
        --out "$work/$train_run" >"$work/$train_run.out" 2>"$work/$train_run.err"
    train_status=$?
    train_seconds=$(($(date +%s) - train_start))
    return $train_status
}

# rows FILE DATASET: the length of a 1-D dataset of an HDF5 file (h5ls).
rows() {
    h5ls "$1/$2" 2>/dev/null | sed -n 's/.*Dataset {\([0-9]*\).*/\1/p'
}

# same_run A B [OBJECT...]: the run directories A and B hold identical
# model.h5 and log.h5: h5diff without a tolerance (every value and attribute
# bit-equal, exit 0), on the whole files or only on the listed objects
# (groups compare recursively; /subnets and /updates are log.h5's). h5diff
# calls an empty dataset "not comparable" and still exits 0, so the logged
# row counts are compared as well. Whole runs also compare metrics.csv
# without its seconds: the epoch end's figures, evaluated split over the
# ranks (100 test images in 2 chunks of 50: some ranks have none).
same_run() {
    a=$1 b=$2
    shift 2
    if [ $# -eq 0 ]; then
        h5diff "$a/model.h5" "$b/model.h5" >/dev/null 2>&1 &&
            h5diff "$a/log.h5" "$b/log.h5" >/dev/null 2>&1 || return 1
        cut -d, -f1-6 "$a/metrics.csv" >"$work/metrics-a"
        cut -d, -f1-6 "$b/metrics.csv" >"$work/metrics-b"
        grep -q test- "$work/metrics-a" && cmp -s "$work/metrics-a" "$work/metrics-b" || return 1
    fi
    for object in "$@"; do
        case $object in
            /subnets | /updates) file=log.h5 ;;
            *) file=model.h5 ;;
        esac
        h5diff "$a/$file" "$b/$file" "$object" "$object" >/dev/null 2>&1 || return 1
    done
    [ -n "$(rows "$a/log.h5" subnets/step)" ] &&
        [ "$(rows "$a/log.h5" subnets/step)" = "$(rows "$b/log.h5" subnets/step)" ] &&
        [ "$(rows "$a/log.h5" updates/step)" = "$(rows "$b/log.h5" updates/step)" ]
}

# --- the same bits at any rank count -------------------------------------------
# Every multi-rank run compares a hash of its trained state across ranks
# after every step (check_interval = 1), so a divergence would also stop the
# run. The 1-rank references set it too (a no-op with one rank) so that the
# configuration text stored in model.h5 is the same; that the check changes
# nothing is verified below. Every strategy runs with 1, 2, 3 and 4 ranks
# (3 ranks do not divide the 8 shards: 3+3+2). SHIFTNAS_TEST_QUICK=1 keeps
# 1-4 for shift and uniform and 1 and 3 for the others (about 40 s less).
check="--set distributed.check_interval=1"
baseline=60 # the wall time of the 2-rank shift run, measured below
for strategy in shift uniform flops-uniform sandwich attentive; do
    # shellcheck disable=SC2086
    if ! train 1 "$strategy-1" cnn-space.ini --set search.strategy=$strategy $check; then
        fail "$strategy: 1-rank run failed"; cat "$work/$strategy-1.err"; continue
    fi
    counts="2 3 4"
    if [ "${SHIFTNAS_TEST_QUICK:-0}" = 1 ]; then
        case $strategy in
            shift | uniform) ;;
            *) counts=3 ;;
        esac
    fi
    for ranks in $counts; do
        run=$strategy-$ranks
        # shellcheck disable=SC2086
        if ! train "$ranks" "$run" cnn-space.ini --set search.strategy=$strategy $check; then
            fail "$strategy: $ranks-rank run failed"; cat "$work/$run.err"; continue
        fi
        [ "$run" = shift-2 ] && baseline=$train_seconds
        if same_run "$work/$strategy-1" "$work/$run"; then
            pass "$strategy: $ranks ranks give the same model.h5, log.h5 and metrics.csv as 1"
        else
            fail "$strategy: $ranks ranks differ from 1"
            h5diff "$work/$strategy-1/model.h5" "$work/$run/model.h5" | head -n 5
            h5diff "$work/$strategy-1/log.h5" "$work/$run/log.h5" | head -n 5
        fi
    done
done
# The comparisons above are not vacuous: shift logged its 3 probability
# updates, and h5diff does see a difference between two different runs.
if [ "$(rows "$work/shift-1/log.h5" updates/step)" = 3 ] &&
   ! h5diff "$work/shift-1/model.h5" "$work/uniform-1/model.h5" /supernet /supernet >/dev/null 2>&1; then
    pass "shift logs 3 updates; h5diff tells two different runs apart"
else
    fail "shift updates logged: '$(rows "$work/shift-1/log.h5" updates/step)'; or h5diff blind"
fi

# The state check only reads: 2 ranks without it train the same weights,
# generator, subnets and probabilities (the stored configuration text
# differs, so the groups are compared, not the files).
if train 2 shift-2-unchecked cnn-space.ini --set search.strategy=shift &&
   same_run "$work/shift-2" "$work/shift-2-unchecked" /supernet /generator /subnets /updates; then
    pass "check_interval=1 does not change the result"
else
    fail "check_interval changes the result, or the run failed"; cat "$work/shift-2-unchecked.err"
fi

# reduce = slab (the whole gradient slab every step) against active (only
# the active subnet's entries): the same sums, so the same weights.
# shellcheck disable=SC2086
if train 2 shift-2-slab cnn-space.ini --set search.strategy=shift $check \
        --set distributed.reduce=slab &&
   same_run "$work/shift-2" "$work/shift-2-slab" /supernet /generator /subnets /updates; then
    pass "reduce=slab gives the same model.h5 as reduce=active"
else
    fail "reduce=slab differs from active, or the run failed"; cat "$work/shift-2-slab.err"
fi

# The frozen-beta control arm (shift_frozen): the same bits at 1 and 2
# ranks, its 3 updates logged like shift's, beta 0 and p = 1/8 in each row
# (while shift's beta moved).
# values FILE DATASET: a dataset's values, one per line (h5dump)
values() {
    h5dump -y -w 0 -d "$2" "$1" 2>/dev/null | sed -n '/DATA {/,/}/p' | sed '1d;$d' |
        tr ', ' '\n\n' | sed '/^$/d'
}
frozen="--set search.strategy=shift --set search.shift_frozen=true"
# shellcheck disable=SC2086
if train 1 frozen-1 cnn-space.ini $frozen $check && train 2 frozen-2 cnn-space.ini $frozen $check &&
   same_run "$work/frozen-1" "$work/frozen-2"; then
    pass "shift_frozen: 2 ranks give the same model.h5, log.h5 and metrics.csv as 1"
else
    fail "shift_frozen: 2 ranks differ from 1, or a run failed"
    cat "$work/frozen-1.err" "$work/frozen-2.err"
fi
if [ "$(rows "$work/frozen-1/log.h5" updates/step)" = 3 ] &&
   [ "$(values "$work/frozen-1/log.h5" /updates/beta | grep -cvx '0')" = 0 ] &&
   [ "$(values "$work/frozen-1/log.h5" /updates/beta | wc -l)" = 24 ] &&
   [ "$(values "$work/frozen-1/log.h5" /updates/probability | grep -cvx '0.125')" = 0 ] &&
   [ "$(values "$work/frozen-1/log.h5" /updates/validation_loss | grep -c 'nan')" = 0 ] &&
   [ "$(values "$work/shift-1/log.h5" /updates/beta | grep -cvx '0')" -gt 0 ]; then
    pass "shift_frozen: 3 updates with held-out losses logged, beta 0 and p uniform in each"
else
    fail "shift_frozen: the logged updates"
    values "$work/frozen-1/log.h5" /updates/beta | head -n 10
fi

# A shift run's held-out images for beta must leave some of the split to
# the search's fitness: train refuses before it starts, on every rank count.
reliability_class=config
overlap="--set search.shift_validation_images=300"
# shellcheck disable=SC2086
expect_error "train: shift images leave no fitness images, 1 rank" 1 \
    "^shiftnas train: configuration: \[search\] shift_validation_images = 300 leaves none of the 300 images of \[data\] validation_size" \
    launch 1 train --config "$src/jobs/configs/cnn-space.ini" $tiny $overlap --out "$work/overlap-1"
# shellcheck disable=SC2086
expect_rank_error "train: shift images leave no fitness images, 2 ranks: one line" \
    '^shiftnas train: rank 0: configuration: \[search\] shift_validation_images = 300 leaves none' \
    launch 2 train --config "$src/jobs/configs/cnn-space.ini" $tiny $overlap --out "$work/overlap-2"
if [ ! -e "$work/overlap-1/model.h5" ] && [ ! -e "$work/overlap-2/model.h5" ]; then
    pass "train: the refused runs wrote no model"
else
    fail "train: a refused run wrote a model"
fi

# The masked ViT supernet (the architecture gradient reduced with the
# parameters) with 3 ranks.
# shellcheck disable=SC2086
if train 1 vit-1 vit-space.ini --set search.strategy=shift $check &&
   train 3 vit-3 vit-space.ini --set search.strategy=shift $check &&
   same_run "$work/vit-1" "$work/vit-3"; then
    pass "vit-space.ini shift: 3 ranks give the same model.h5, log.h5 and metrics.csv as 1"
else
    fail "vit-space.ini: 3 ranks differ from 1, or a run failed"; cat "$work/vit-1.err" "$work/vit-3.err"
fi

# A fixed network writes no model.h5: its evaluations (every column of
# metrics.csv but the seconds) are the same with 2 ranks.
# shellcheck disable=SC2086
if train 1 fixed-1 cnn-fixed.ini && train 2 fixed-2 cnn-fixed.ini $check &&
   [ "$(grep -c ',val,\|,test,' "$work/fixed-1/metrics.csv")" -eq 2 ] &&
   [ "$(cut -d, -f1-6 "$work/fixed-1/metrics.csv")" = "$(cut -d, -f1-6 "$work/fixed-2/metrics.csv")" ]; then
    pass "cnn-fixed.ini: 2 ranks give the same losses and accuracies as 1"
else
    fail "cnn-fixed.ini: metrics differ or a run failed"
    cat "$work/fixed-1/metrics.csv" "$work/fixed-2/metrics.csv" "$work/fixed-1.err" "$work/fixed-2.err"
fi

# --- the report: rank 0 alone prints the summary lines -------------------------
out="$work/shift-2.out"
if [ "$(grep -c '^ranks: 2, ' "$out")" -eq 1 ] &&
   [ "$(grep -c '^phases per step (mean of 2 rank(s)): compute ' "$out")" -eq 1 ] &&
   [ "$(grep -c '^memory: peak resident ' "$out")" -eq 1 ] &&
   [ "$(grep -c '^shiftnas train: supernet network' "$out")" -eq 1 ] &&
   grep -q '^ranks: 1, ' "$work/shift-1.out" &&
   grep -q '^phases per step (mean of 1 rank(s)): compute ' "$work/shift-1.out"; then
    pass "ranks, phases and memory lines printed once (by rank 0)"
else
    fail "report lines missing or repeated"; cat "$out"
fi

# --- failures: one line from the failing rank, every rank stops ----------------
space="$src/jobs/configs/cnn-space.ini"
if ! without_fault_injection "injected failures on one rank (io, nan, kill)"; then
    fault=1:3:io
    # shellcheck disable=SC2086
reliability_class=numeric
    expect_rank_error "io fault on rank 1 at step 3: one line from rank 1" \
        '^shiftnas train: rank 1: step 3: injected I/O failure' \
        launch 2 train --config "$space" $tiny --out "$work/fault-io"
    fault=1:2:nan
    # shellcheck disable=SC2086
    expect_rank_error "NaN image on rank 1 at step 2: one line from rank 1" \
        '^shiftnas train: rank 1: step 2: .*NaN' \
        launch 2 train --config "$space" $tiny --out "$work/fault-nan"

    # Rank 1 SIGKILLs itself at the start of step 3 of 1000 (15 epochs with
    # evaluations, over 100 times the 6 steps of the baseline run): mpirun must
    # end the job. The kill comes before the 6-step 2-rank run ($baseline s,
    # start-up included) would have finished, so ending within $baseline + 15 s
    # means ending within about 15 s of the kill.
    fault=1:3:kill
    kill_start=$(date +%s)
    # shellcheck disable=SC2086
    launch 2 train --config "$space" $tiny --set train.max_steps=1000 --out "$work/fault-kill" \
        >"$work/kill.out" 2>"$work/kill.err"
    status=$?
    elapsed=$(($(date +%s) - kill_start))
    fault=
    if [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$elapsed" -le $((baseline + 15)) ]; then
        pass "a killed rank ends the job: exit $status after $elapsed s (6-step run: $baseline s)"
    else
        fail "killed rank: exit $status after $elapsed s (6-step run: $baseline s; 124: timeout)"
        cat "$work/kill.err"
    fi
fi

# Errors every rank meets print one line in all, not one per rank.
# shellcheck disable=SC2086
reliability_class=config
expect_rank_error "bad --set value, 2 ranks: one line" "^shiftnas train: .*batch_size.*'abc'" \
    launch 2 train --config "$space" $tiny --set train.batch_size=abc --out "$work/bad-set"
# shellcheck disable=SC2086
expect_rank_error "missing data path, 2 ranks: one line naming it" \
    "^shiftnas train: .*$work/no-data/train-images" \
    launch 2 train --config "$space" $tiny --set "data.path=$work/no-data" --out "$work/no-data-run"
# shellcheck disable=SC2086
reliability_class=ranks
expect_rank_error "3 ranks, 2 shards: refused" '^shiftnas train: .*3 ranks but only 2 shards' \
    launch 3 train --config "$space" $tiny --set distributed.shards=2 --out "$work/few-shards"
# shellcheck disable=SC2086
expect_rank_error "shards > batch_size: refused" \
    '^shiftnas train: .*shards = 32 exceeds \[train\] batch_size = 24' \
    launch 2 train --config "$space" $tiny --set distributed.shards=32 --out "$work/many-shards"
if [ ! -e "$work/bad-set" ] && [ ! -e "$work/no-data-run" ] && [ ! -e "$work/few-shards" ] &&
   [ ! -e "$work/many-shards" ]; then
    pass "refused runs leave no run directory"
else
    fail "a refused run created its run directory"
fi

# (search on several ranks, and eval's refusal of them: test_search_ranks.sh)

# Plain srun without PMI (simulated: the variables srun sets, no launcher)
# starts unrelated copies; task 0 says how to launch, the others exit
# silently, and none trains.
# shellcheck disable=SC2086
expect_error "plain srun, task 0: refused" 1 "srun --mpi=pmix" \
    env SLURM_PROCID=0 SLURM_NTASKS=2 SLURM_STEP_ID=0 SLURM_STEP_NUM_TASKS=2 \
    "$bin" train --config "$space" $tiny --out "$work/srun-0"
# shellcheck disable=SC2086
env SLURM_PROCID=1 SLURM_NTASKS=2 SLURM_STEP_ID=0 SLURM_STEP_NUM_TASKS=2 "$bin" train --config "$space" $tiny --out "$work/srun-1" \
    >"$work/out" 2>"$work/err"
status=$?
if [ "$status" -ne 0 ] && [ ! -s "$work/out" ] && [ ! -s "$work/err" ] &&
   [ ! -e "$work/srun-0" ] && [ ! -e "$work/srun-1" ]; then
    pass "plain srun, task 1: exits $status silently"
else
    fail "plain srun, task 1: exit $status"; cat "$work/out" "$work/err"
fi

# The batch script of an `sbatch -n 2` job has SLURM_PROCID=0 and
# SLURM_NTASKS=2 but no step: a plain single-process run there trains.
# shellcheck disable=SC2086
if env SLURM_PROCID=0 SLURM_NTASKS=2 SLURM_JOB_ID=1 "$bin" train --config "$space" $tiny \
       --out "$work/batch-step" >"$work/out" 2>"$work/err" && [ -f "$work/batch-step/model.h5" ]; then
    pass "a batch script's own process trains alone"
else
    fail "a batch script's own process was refused"; cat "$work/err"
fi

# A failure does not damage the model.h5 of an earlier epoch end: 100
# training images make 4 steps per epoch; an I/O failure at step 6 (rank 1
# of 2, or the only rank) leaves the model.h5 of step 4 whole, the same with
# 1 and 2 ranks, and no temporary file behind.
late="--set data.train_limit=400 --set train.max_steps=8"
if ! without_fault_injection "model.h5 after a late injected failure"; then
    fault=1:6:io
    # shellcheck disable=SC2086
    train 2 late-2 cnn-space.ini $late
    status2=$?
    fault=0:6:io
    # shellcheck disable=SC2086
    train 1 late-1 cnn-space.ini $late
    status1=$?
    fault=
    if [ "$status1" -ne 0 ] && [ "$status2" -ne 0 ] &&
       h5dump -a /step "$work/late-2/model.h5" 2>/dev/null | grep -q '(0): 4$' &&
       h5diff "$work/late-1/model.h5" "$work/late-2/model.h5" >/dev/null 2>&1 &&
       [ -n "$(rows "$work/late-2/log.h5" subnets/step)" ] && [ ! -e "$work/late-2/model.h5.tmp" ]; then
        pass "after a failure at step 6 the model.h5 of step 4 is intact (1 and 2 ranks)"
    else
        fail "model.h5 after a late failure (exit $status1, $status2)"
        cat "$work/late-1.err" "$work/late-2.err"; ls -l "$work/late-2"
    fi
fi

echo "$passes passed, $failures failed in $(($(date +%s) - started)) s"
[ "$failures" -eq 0 ]
