#!/bin/sh
# [search] shift_estimator = target-input (doc/algorithm.md): the same bits at
# 1, 2 and 3 ranks; a run stopped between two probability updates resumes to
# the bits of the uninterrupted run (its checkpoint holds the weight
# snapshot); log.h5's update rows; refused in one line with the variance
# statistic. Short runs on a slice of Fashion-MNIST; skipped (77) without the
# data set, mpirun or h5diff.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
src=${SHIFTNAS_SOURCE_DIR:-.}
data=/usr/share/datasets/fashion-mnist
mpirun=${MPIRUN:-mpirun}
python=${SHIFTNAS_PYTHON:-/usr/bin/python3} # Debian's, with h5py
if [ ! -r "$data/train-images-idx3-ubyte.gz" ] && [ ! -r "$data/train-images-idx3-ubyte" ]; then
    echo "skip: Fashion-MNIST not found in $data"; exit 77
fi
for tool in "$mpirun" h5diff h5ls timeout; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skip: $tool not found"; exit 77; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-target-input.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
unset SLURM_PROCID SLURM_NTASKS SLURM_STEP_NUM_TASKS SLURM_STEP_ID SLURM_STEPID
started=$(date +%s)

# 12 steps of 24 images (8 shards of 3); probability updates after steps 3,
# 6, 9 and 12 (the first only takes the snapshot); a checkpoint every 5
# steps; the ranks compare their state, snapshot included, after every step.
tiny="--set data.train_limit=408 --set data.validation_size=120 --set data.test_limit=100
      --set train.batch_size=24 --set train.epochs=1 --set train.eval_batch_size=50
      --set search.strategy=shift --set search.shift_estimator=target-input
      --set search.shift_interval=3 --set search.shift_warmup=0
      --set search.shift_validation_images=24 --set search.recalibration_batches=1
      --set checkpoint.interval_steps=5 --set checkpoint.interval_seconds=0
      --set distributed.check_interval=1"
limit=300

# start RANKS RUN [ARGS...]: a new run of cnn-space.ini (tiny) into $work/RUN;
# output appended to RUN.out/RUN.err; its status in $status.
start() {
    start_ranks=$1 start_run=$2
    shift 2
    # shellcheck disable=SC2086
    launch "$start_ranks" train --config "$src/jobs/configs/cnn-space.ini" $tiny "$@" \
        --out "$work/$start_run" >>"$work/$start_run.out" 2>>"$work/$start_run.err"
    status=$?
}

# check_same NAME REFERENCE RUN: same_run_state (common.sh) and the final
# checkpoints' weight snapshots.
check_same() {
    ca=$work/$2/checkpoints/$(final_checkpoint "$work/$2")
    cb=$work/$3/checkpoints/$(final_checkpoint "$work/$3")
    if same_run_state "$work/$2" "$work/$3" &&
       h5diff "$ca" "$cb" /shift_snapshot /shift_snapshot >/dev/null 2>&1; then
        pass "$1"
    else
        fail "$1: differs from $2"
        h5diff "$work/$2/model.h5" "$work/$3/model.h5" /supernet /supernet | head -n 4
        h5diff "$work/$2/log.h5" "$work/$3/log.h5" | head -n 4
    fi
}

# --- the reference, and what it logged -------------------------------------------
start 1 ref
if [ "$status" -ne 0 ]; then
    fail "reference run: exit $status"; cat "$work/ref.err"; exit 1
fi
echo "reference run: $(($(date +%s) - started)) s"
grep "probability updates" "$work/ref.out"
checkpoint=$work/ref/checkpoints/$(final_checkpoint "$work/ref")
if h5ls "$checkpoint/shift_snapshot" >/dev/null 2>&1 &&
   h5diff "$checkpoint" "$work/ref/model.h5" /shift_snapshot /supernet >/dev/null 2>&1; then
    pass "the final checkpoint's snapshot is the last update's weights (the final weights)"
else
    fail "the final checkpoint's weight snapshot"; h5ls "$checkpoint" | head
fi
# Update rows: the first only took the snapshot (zero gradient, no loss);
# each later one logged one sampled bucket's held-out loss and moved beta.
if "$python" -c 'import h5py, numpy' 2>/dev/null; then
    if "$python" - "$work/ref/log.h5" <<'EOF'; then
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    step = f["updates/step"][:]
    beta = f["updates/beta"][:]
    statistic = f["updates/statistic"][:]
    loss = f["updates/validation_loss"][:]
assert list(step) == [2, 5, 8, 11], step
assert (statistic[0] == 0).all() and np.isnan(loss[0]).all() and (beta[0] == 0).all()
for row in range(1, 4):
    assert np.isfinite(loss[row]).sum() == 1, loss[row]
    assert abs(statistic[row].sum()) < 1e-9 and (statistic[row] != 0).any(), statistic[row]
assert (beta[3] != 0).any()
EOF
        pass "log.h5: 4 update rows, the first a snapshot, then one sampled bucket's loss and a gradient each"
    else
        fail "log.h5's update rows"
    fi
else
    echo "note: not checked without $python and h5py: log.h5's update rows"
fi

# --- the same bits at 1, 2 and 3 ranks ---------------------------------------------
for ranks in 2 3; do
    start "$ranks" "ranks-$ranks"
    if [ "$status" -ne 0 ]; then
        fail "$ranks ranks: exit $status"; tail -n 3 "$work/ranks-$ranks.err"; continue
    fi
    check_same "$ranks ranks give the same bits as 1" ref "ranks-$ranks"
done

# --- stopped between two updates, resumed ------------------------------------------
# SIGUSR1 raised at step 8: the checkpoint of step 8 holds the snapshot of
# step 6's update, which the update after step 9 differentiates against.
if ! without_fault_injection "a stop request at step 8 and its resume"; then
    SHIFTNAS_INJECT_FAULT=0:8:signal start 1 stopped
    if [ "$status" -ne 75 ] || [ "$(final_checkpoint "$work/stopped")" != step-000000008.h5 ]; then
        fail "SIGUSR1 at step 8: exit $status, no checkpoint of step 8"
        tail -n 3 "$work/stopped.out" "$work/stopped.err"
    else
        launch 2 train --resume "$work/stopped" >>"$work/stopped.out" 2>>"$work/stopped.err"
        status=$?
        if [ "$status" -eq 0 ] && grep -q "^resumed: step 8 of 12" "$work/stopped.out"; then
            check_same "stopped at step 8 on 1 rank, resumed on 2: the same bits" ref stopped
        else
            fail "resume after step 8: exit $status"; tail -n 3 "$work/stopped.err"
        fi
    fi
fi

# --- refused -----------------------------------------------------------------------
reliability_class=config
expect_error "target-input with the variance statistic" 1 \
    "shift_estimator = target-input needs shift_statistic = loss-change" \
    "$bin" train --config "$src/jobs/configs/cnn-space.ini" --set search.strategy=shift \
    --set search.shift_estimator=target-input --set search.shift_statistic=variance \
    --out "$work/variance"

echo "test_target_input: $passes passed, $failures failed ($(($(date +%s) - started)) s)"
[ "$failures" -eq 0 ]
