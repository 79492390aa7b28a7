#!/bin/sh
# Images beyond 28x28 grey: Fashion-MNIST recoloured into 3 and 4 channels at
# 32x32 and 36x36 (tests/tools/make_image_set), trained on the default
# shards. A multi-channel batch is cut into shards correctly when an RGB set
# learns as well as its grey twin (with the shards cut as if the batch were
# sample-major it reached 0.42 where grey reaches 0.67), and when 2 ranks
# give the bits of 1, for the fixed CNN and the CNN supernet. The same set
# streamed from the file gives the same bits; a damaged image in a streamed
# set stops every rank with one line.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
tool=${SHIFTNAS_BUILD_DIR:-.}/tests/tools/make_image_set
src=${SHIFTNAS_SOURCE_DIR:-.}
data=/usr/share/datasets/fashion-mnist
mpirun=${MPIRUN:-mpirun}
if [ ! -r "$data/train-images-idx3-ubyte.gz" ] && [ ! -r "$data/train-images-idx3-ubyte" ]; then
    echo "skip: Fashion-MNIST not found in $data"; exit 77
fi
for t in "$mpirun" h5diff timeout; do
    command -v "$t" >/dev/null 2>&1 || { echo "skip: $t not found"; exit 77; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-channels.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
unset SLURM_PROCID SLURM_NTASKS SLURM_STEP_NUM_TASKS SLURM_STEP_ID SLURM_STEPID
limit=600

on_ranks() {
    ranks=$1
    shift
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        timeout -k 10 "$limit" "$mpirun" --allow-run-as-root --oversubscribe -np "$ranks" "$@"
}

steps=150
[ "${SHIFTNAS_TEST_QUICK:-0}" = 1 ] && steps=60
"$tool" colour "$data" "$work/grey32.h5" 1 32 20000 2000 &&
    "$tool" colour "$data" "$work/rgb32.h5" 3 32 20000 2000 &&
    "$tool" colour "$data" "$work/rgba36.h5" 4 36 3000 300 ||
    { fail "make_image_set"; echo "$failures failed"; exit 1; }

# --- the fixed CNN: RGB learns like grey on the default 8 shards ----------
fixed="--config $src/jobs/configs/cnn-fixed.ini --set data.dataset=hdf5 --set train.max_steps=$steps
       --set data.validation_size=500 --set cnn.channels=16,32,32,64,64"
for set in grey32 rgb32; do
    timeout -k 10 "$limit" "$bin" train $fixed --set "data.path=$work/$set.h5" --out "$work/$set" \
        >"$work/$set.log" 2>&1 || { fail "$set: training failed"; cat "$work/$set.log"; }
done
grey=$(awk -F, '$3 == "test" { a = $5 } END { print a }' "$work/grey32/metrics.csv")
rgb=$(awk -F, '$3 == "test" { a = $5 } END { print a }' "$work/rgb32/metrics.csv")
if awk -v g="$grey" -v r="$rgb" -v steps="$steps" \
        'BEGIN { exit !(r != "" && g != "" && r >= g - 0.05 && (steps < 150 || r > 0.6)) }'; then
    pass "3-channel 32x32 set learns like its grey twin on 8 shards (test accuracy $rgb vs $grey)"
else
    fail "3-channel set learns worse than grey: $rgb vs $grey"
fi
if grep -q "3x32x32" "$work/rgb32.log"; then
    pass "the run reports 3x32x32 images"
else
    fail "image shape not reported"; head -n 8 "$work/rgb32.log"
fi

# --- 2 ranks give the bits of 1 with 3 and 4 channels -------------------
on_ranks 2 "$bin" train $fixed --set "data.path=$work/rgb32.h5" --out "$work/rgb32-2" \
    >"$work/rgb32-2.log" 2>&1 || { fail "rgb32 on 2 ranks failed"; cat "$work/rgb32-2.log"; }
cut -d, -f1-6 "$work/rgb32/metrics.csv" >"$work/m1"
cut -d, -f1-6 "$work/rgb32-2/metrics.csv" >"$work/m2" 2>/dev/null
if [ -s "$work/m2" ] && cmp -s "$work/m1" "$work/m2"; then
    pass "fixed CNN, 3 channels: 2 ranks give the losses and accuracies of 1"
else
    fail "fixed CNN, 3 channels: 2 ranks differ from 1"; diff "$work/m1" "$work/m2"
fi

supernet="--config $src/jobs/configs/cnn-space.ini --set data.dataset=hdf5 --set data.path=$work/rgba36.h5
          --set space.image_size=36 --set space.image_channels=4 --set space.classes=10
          --set data.validation_size=300 --set train.batch_size=24 --set train.max_steps=6
          --set train.eval_batch_size=50 --set search.shift_interval=2 --set search.shift_warmup=0
          --set search.shift_validation_images=50 --set search.evolution_validation_images=0
          --set search.recalibration_batches=1"
timeout -k 10 "$limit" "$bin" train $supernet --out "$work/super1" >"$work/super1.log" 2>&1 ||
    { fail "supernet, 4 channels, 1 rank failed"; cat "$work/super1.log"; }
on_ranks 2 "$bin" train $supernet --out "$work/super2" >"$work/super2.log" 2>&1 ||
    { fail "supernet, 4 channels, 2 ranks failed"; cat "$work/super2.log"; }
cut -d, -f1-6 "$work/super1/metrics.csv" >"$work/s1"
cut -d, -f1-6 "$work/super2/metrics.csv" >"$work/s2" 2>/dev/null
# h5diff without a tolerance: every weight and logged value bit-equal
if [ -s "$work/super1/model.h5" ] && h5diff "$work/super1/model.h5" "$work/super2/model.h5" >/dev/null 2>&1 &&
   h5diff "$work/super1/log.h5" "$work/super2/log.h5" >/dev/null 2>&1 && cmp -s "$work/s1" "$work/s2"; then
    pass "CNN supernet (shift), 4 channels at 36x36: 2 ranks give the weights, log and metrics of 1"
else
    fail "CNN supernet, 4 channels: model.h5 differs between 1 and 2 ranks"
fi

# --- streamed from the file: the same bits as held in memory -------------
on_ranks 2 "$bin" train $fixed --set "data.path=$work/rgb32.h5" --set data.stream=on \
    --out "$work/rgb32-stream" >"$work/rgb32-stream.log" 2>&1 ||
    { fail "rgb32 streamed on 2 ranks failed"; tail -n 5 "$work/rgb32-stream.log"; }
cut -d, -f1-6 "$work/rgb32-stream/metrics.csv" >"$work/m3" 2>/dev/null
if [ -s "$work/m3" ] && cmp -s "$work/m1" "$work/m3"; then
    pass "3 channels streamed per batch on 2 ranks: the figures of the set held in memory on 1"
else
    fail "streamed run differs from the in-memory run"; diff "$work/m1" "$work/m3"
fi

# --- a damaged image in a streamed set: one line, every rank stops -------
# Compressed chunks, one image each; bytes in the middle of the file are
# overwritten, so some image's chunk no longer inflates. The fixed
# normalisation skips the setup pass over the images: training finds it.
"$tool" synthetic "$work/damaged.h5" 3 32 10 600 50 3 deflate || fail "make_image_set deflate"
size=$(stat -c %s "$work/damaged.h5")
head -c 3000 /dev/zero | dd of="$work/damaged.h5" bs=1 seek=$((size * 3 / 5)) conv=notrunc 2>/dev/null
damaged="$fixed --set data.path=$work/damaged.h5 --set data.stream=on --set data.normalization=fixed
         --set data.mean=0.5,0.5,0.5 --set data.std=0.25,0.25,0.25 --set data.validation_size=50
         --set train.batch_size=50 --set train.max_steps=11"
reliability_class=HDF5
expect_error "damaged streamed image, 1 rank" 1 "damaged.h5: /train/images: reading image" \
    timeout -k 10 "$limit" "$bin" train $damaged --out "$work/d1"
expect_rank_error "damaged streamed image, 2 ranks: one line from the rank that read it, no hang" \
    "^shiftnas train: (rank 1: )?.*damaged.h5: /train/images: reading image" \
    on_ranks 2 "$bin" train $damaged --out "$work/d2"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
