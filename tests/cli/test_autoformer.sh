#!/bin/sh
# The paper's own space: jobs/configs/vit-autoformer-t.ini (AutoFormer-T, 224x224
# input, streamed HDF5, random-resized crops) on a synthetic ImageNet-shaped
# set (256x256x3 stored, one image per chunk, 100 classes; tests/tools/
# make_image_set). Trains shift on 1 and 2 ranks with the same bits, stops
# with a checkpoint and resumes to the same bits, searches; and refuses
# mismatched sets with one line. The runs are tiny (8 images a step): what
# is checked is that every part works at this size, not what it learns.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
tool=${SHIFTNAS_BUILD_DIR:-.}/tests/tools/make_image_set
src=${SHIFTNAS_SOURCE_DIR:-.}
mpirun=${MPIRUN:-mpirun}
for t in "$mpirun" h5diff timeout; do
    command -v "$t" >/dev/null 2>&1 || { echo "skip: $t not found"; exit 77; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-autoformer.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
unset SLURM_PROCID SLURM_NTASKS SLURM_STEP_NUM_TASKS SLURM_STEP_ID SLURM_STEPID
limit=900

on_ranks() {
    ranks=$1
    shift
    if [ "$ranks" -eq 1 ]; then
        timeout -k 10 "$limit" "$@"
    else
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            timeout -k 10 "$limit" "$mpirun" --allow-run-as-root --oversubscribe -np "$ranks" "$@"
    fi
}

"$tool" synthetic "$work/imagenet.h5" 3 256 100 200 24 7 chunked ||
    { fail "make_image_set synthetic"; echo "$passes passed, $failures failed"; exit 1; }

# 8 images a step in 2 shards; shift updates the probabilities every 2 steps
tiny="--config $src/jobs/configs/vit-autoformer-t.ini --set data.path=$work/imagenet.h5
      --set data.validation_size=16 --set data.test_limit=16 --set train.batch_size=8
      --set train.max_steps=4 --set train.eval_batch_size=8 --set distributed.shards=2
      --set search.strategy=shift --set search.shift_interval=2 --set search.shift_warmup=0
      --set search.shift_validation_images=8 --set search.evolution_validation_images=8
      --set train.warmup_epochs=0 --set space.classes=100"

# same_run A B: model.h5 and log.h5 bit-equal, metrics.csv without seconds
same_run() {
    h5diff "$work/$1/model.h5" "$work/$2/model.h5" >/dev/null 2>&1 &&
        h5diff "$work/$1/log.h5" "$work/$2/log.h5" >/dev/null 2>&1 &&
        cut -d, -f1-6 "$work/$1/metrics.csv" >"$work/m1" &&
        cut -d, -f1-6 "$work/$2/metrics.csv" >"$work/m2" && cmp -s "$work/m1" "$work/m2"
}

on_ranks 1 "$bin" train $tiny --out "$work/one" >"$work/one.log" 2>&1
if [ $? -eq 0 ] && [ -s "$work/one/model.h5" ] && grep -q "3x224x224" "$work/one.log"; then
    pass "AutoFormer-T (shift) trains on 224x224 crops of a streamed 256x256 set"
else
    fail "AutoFormer-T training on 1 rank"; tail -n 5 "$work/one.log"
fi
if grep -q "^input: " "$work/one.log" && grep -q "^memory: peak resident" "$work/one.log"; then
    pass "the run reports its input stall and peak memory"
else
    fail "input stall line missing"
fi
if [ "${SHIFTNAS_TEST_QUICK:-0}" != 1 ]; then
    on_ranks 2 "$bin" train $tiny --out "$work/two" >"$work/two.log" 2>&1 ||
        { fail "AutoFormer-T on 2 ranks"; tail -n 5 "$work/two.log"; }
    if same_run one two; then
        pass "2 ranks give the bits of 1 (weights, log, metrics)"
    else
        fail "2 ranks differ from 1"
    fi
fi
# stopped at step 2 with a checkpoint (exit 75), then resumed on 2 ranks
if [ "${SHIFTNAS_TEST_QUICK:-0}" != 1 ] && ! without_fault_injection "a stop at step 2 and a resume"; then
    SHIFTNAS_INJECT_FAULT=0:2:signal on_ranks 1 "$bin" train $tiny --out "$work/stopped" \
        >"$work/stopped.log" 2>&1
    status=$?
    if [ "$status" -eq 75 ] && [ -s "$work/stopped/checkpoints/latest" ]; then
        pass "a stop request ends the run with a checkpoint (exit 75)"
    else
        fail "stop: exit $status"; tail -n 3 "$work/stopped.log"
    fi
    on_ranks 2 "$bin" train --resume "$work/stopped" >"$work/resumed.log" 2>&1 ||
        { fail "resume"; tail -n 5 "$work/resumed.log"; }
    if same_run one stopped; then
        pass "stopped at step 2 and resumed on 2 ranks: the bits of the run straight through"
    else
        fail "the resumed run differs"
    fi
fi

# search: the generator's subnets and a small evolution, on the streamed set
timeout -k 10 "$limit" "$bin" search "$work/one" --targets 1.3G,2.0G --set search.evolution_population=4 \
    --set search.evolution_evaluations=6 --set search.evolution_validation_images=8 \
    >"$work/search.log" 2>&1
status=$?
if [ "$status" -eq 0 ] && [ "$(grep -c 'vit:' "$work/one/search.csv" 2>/dev/null)" -ge 2 ]; then
    pass "search finds subnets for 1.3G and 2.0G MACs"
else
    fail "search: exit $status"; tail -n 5 "$work/search.log"
fi

# --- mismatched sets: one line naming the file ------------------------------------
"$tool" synthetic "$work/small.h5" 3 64 100 40 4 1 || fail "make_image_set small"
expect_error "pad crop to another size" 1 "train_crop = random-resized" "$bin" train $tiny \
    --set "data.path=$work/small.h5" --set data.train_crop=pad --set data.input_size=224 --out "$work/e1"
expect_error "fixed normalisation of the wrong channel count" 1 "mean and std have 2 values" \
    "$bin" train $tiny --set data.mean=0.5,0.5 --set data.std=0.2,0.2 --out "$work/e2"
expect_error "stored images smaller than the space's input" 1 "224" "$bin" train $tiny \
    --set "data.path=$work/small.h5" --set data.input_size=64 --out "$work/e3"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
