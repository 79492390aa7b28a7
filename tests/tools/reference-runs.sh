#!/bin/sh
# reference-runs.sh SHIFTNAS OUT_DIR: short runs that touch every training
# path (fixed CNN and ViT, the five samplers, the generator, a checkpoint and
# a resume, the search), for comparing the bits of two builds:
#   tests/tools/reference-runs.sh ./shiftnas /tmp/before   (old build)
#   tests/tools/reference-runs.sh ./shiftnas /tmp/after    (new build)
#   tests/tools/compare-runs.sh /tmp/before /tmp/after
# Uses Fashion-MNIST (Debian's dataset-fashion-mnist); ~3 minutes on 2 cores.
set -eu
shiftnas=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
short="--set data.train_limit=2048 --set data.test_limit=512 --set data.validation_size=512 --set train.batch_size=64 --set train.eval_batch_size=128"

run() { # NAME RANKS CONFIG SETTINGS...
    name=$1 ranks=$2 config=$3
    shift 3
    rm -rf "$out/$name"
    # shellcheck disable=SC2086
    mpirun -np "$ranks" "$shiftnas" train --config "$src/jobs/configs/$config" \
        --out "$out/$name" $short "$@" >"$out/$name.log" 2>&1
}

# A shift run's held-out images for beta (the last of the split) and the
# search's fitness images (the first) may not overlap: 256 + 256 of 512.
held="--set search.shift_validation_images=256 --set search.evolution_validation_images=256"

run cnn-fixed 2 cnn-fixed.ini --set train.max_steps=40 --set checkpoint.interval_steps=20
run vit-fixed 1 vit-fixed.ini --set train.max_steps=20
for strategy in uniform flops-uniform sandwich attentive shift; do
    extra=
    [ "$strategy" = shift ] && extra=$held
    # shellcheck disable=SC2086
    run "cnn-$strategy" 2 cnn-space.ini --set search.strategy=$strategy --set train.max_steps=48 \
        --set search.shift_interval=8 --set checkpoint.interval_steps=24 $extra
done
# shellcheck disable=SC2086
run vit-shift 1 vit-space.ini --set train.max_steps=16 --set search.shift_interval=4 $held
# resume: a run stopped by SIGUSR1 at step 30 (fault injection; configure
# --enable-fault-injection) and resumed ends with the bits of cnn-shift
# shellcheck disable=SC2086
SHIFTNAS_INJECT_FAULT=0:30:signal run cnn-shift-resumed 2 cnn-space.ini --set search.strategy=shift \
    --set train.max_steps=48 --set search.shift_interval=8 --set checkpoint.interval_steps=24 $held || true
mpirun -np 2 "$shiftnas" train --resume "$out/cnn-shift-resumed" >>"$out/cnn-shift-resumed.log" 2>&1
"$shiftnas" search "$out/cnn-shift" --targets 2.5M,5M --set search.evolution_evaluations=16 --set search.evolution_population=8 --set search.evolution_validation_images=256 \
    >"$out/search.txt" 2>&1
