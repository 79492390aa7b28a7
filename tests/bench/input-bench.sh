#!/bin/sh
# make bench, input part (issue 15): streamed HDF5 image sets, measured from
# `shiftnas train`'s own closing lines ("memory: peak resident", "input: ...
# % of the step"). Appends a markdown section to the file named by $1
# (run-bench.sh passes bench-results.md) and prints it.
#
#   (a) peak resident memory per rank training the same configuration (a
#       small fixed CNN) on a synthetic 64x64x3 set and on one 4x larger,
#       streamed and held in memory, 1 and 2 ranks: streamed, the two must
#       agree within 5%;
#   (b) the input stall (the share of the step spent waiting for the batch)
#       of the CNN space on Fashion-MNIST (the main job's configuration) and
#       of the small CNN on the streamed 64x64 set, with and without prefetch.
#
# Environment: BENCH_INPUT_STEPS (30), BENCH_INPUT_IMAGES (4000: the 1x set's
# training images), MPIRUN (mpirun). AutoFormer-T's stall is measured by
# tests/bench/autoformer-bench.sh.
set -eu
shiftnas=${BUILD_DIR:-.}/shiftnas
tool=${BUILD_DIR:-.}/tests/tools/make_image_set
src=${SOURCE_DIR:-.}
out=${1:-/dev/null}
steps=${BENCH_INPUT_STEPS:-30}
images=${BENCH_INPUT_IMAGES:-4000}
mpirun=${MPIRUN:-mpirun}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
unset SLURM_PROCID SLURM_NTASKS SLURM_STEP_NUM_TASKS SLURM_STEP_ID SLURM_STEPID

[ -x "$tool" ] || { echo "input-bench: $tool missing (make tests/tools/make_image_set)" >&2; exit 1; }
"$tool" synthetic "$tmp/x1.h5" 3 64 100 "$images" 200 1 chunked
"$tool" synthetic "$tmp/x4.h5" 3 64 100 $((4 * images)) 200 1 chunked

# run NAME RANKS ARGS...: one training run; its closing lines in $tmp/NAME
run() {
    name=$1 ranks=$2
    shift 2
    if [ "$ranks" -eq 1 ]; then
        "$shiftnas" train "$@" --out "$tmp/run-$name" >"$tmp/$name" 2>&1
    else
        "$mpirun" -np "$ranks" "$shiftnas" train "$@" --out "$tmp/run-$name" >"$tmp/$name" 2>&1
    fi || { echo "input-bench: run $name failed:" >&2; tail -n 5 "$tmp/$name" >&2; exit 1; }
}
peak() { sed -n 's/^memory: peak resident \([0-9]*\) MB.*/\1/p' "$tmp/$1"; }
stall() { sed -n 's/^input: \([0-9.]*\) ms per step.* \([0-9.]*\)% of the step$/\1 ms (\2%)/p' "$tmp/$1"; }

fixed64="--config $src/jobs/configs/cnn-fixed.ini --set data.dataset=hdf5 --set cnn.channels=16,32,32,64,64
         --set data.validation_size=200 --set train.max_steps=$steps --set data.test_limit=200"
for size in x1 x4; do
    for mode in on off; do
        for ranks in 1 2; do
            run "$size-$mode-$ranks" "$ranks" $fixed64 --set "data.path=$tmp/$size.h5" --set "data.stream=$mode"
        done
    done
done
run fmnist 1 --config "$src/jobs/configs/cnn-space.ini" --set "train.max_steps=$steps"
run fmnist-noprefetch 1 --config "$src/jobs/configs/cnn-space.ini" --set "train.max_steps=$steps" \
    --set data.prefetch=false
run x1-noprefetch 1 $fixed64 --set "data.path=$tmp/x1.h5" --set data.stream=on --set data.prefetch=false

mb() { awk -v b="$(stat -c %s "$tmp/$1.h5")" 'BEGIN { printf "%.0f", b / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", 100 * (b - a) / a }'; }
{
    echo
    echo "## Input: streamed image sets ($(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(grep -q avx512f /proc/cpuinfo && echo AVX-512 || echo AVX2))"
    echo
    echo "A small fixed CNN (cnn-fixed.ini with channels 16,32,32,64,64) on synthetic 64x64x3 sets,"
    echo "100 classes, batch 128, $steps steps;"
    echo "1x = $images training images ($(mb x1) MB), 4x = $((4 * images)) ($(mb x4) MB)."
    echo
    echo "| peak resident per rank (MB) | 1x | 4x | 4x vs 1x |"
    echo "|---|---|---|---|"
    for mode in on off; do
        for ranks in 1 2; do
            a=$(peak "x1-$mode-$ranks") b=$(peak "x4-$mode-$ranks")
            echo "| stream = $mode, $ranks rank(s) | $a | $b | $(ratio "$a" "$b") |"
        done
    done
    echo
    echo "| input stall (waiting for the batch, per step) | prefetch on | prefetch off |"
    echo "|---|---|---|"
    echo "| cnn-space.ini, Fashion-MNIST in memory, 1 rank | $(stall fmnist) | $(stall fmnist-noprefetch) |"
    echo "| small fixed CNN, 64x64x3 streamed, 1 rank | $(stall x1-on-1) | $(stall x1-noprefetch) |"
    echo "| small fixed CNN, 64x64x3 streamed, 2 ranks | $(stall x1-on-2) | |"
} | tee -a "$out"
