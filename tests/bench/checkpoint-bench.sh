#!/bin/sh
# make bench, checkpoint part: should the coordinator write a checkpoint alone
# (serial HDF5) or every rank its share of rows (parallel HDF5, collective
# writes)? tests/bench/checkpoint_bench.c measures both on the real state of
# cnn-space.ini and vit-space.ini at 1 and 2 ranks, to the point where the
# file is durable (its header comment says how); this script repeats it,
# measures the training step of each space with `shiftnas train` (1 and 2
# ranks, the done line's training img/s) and prints what a checkpoint costs
# at intervals of 100 and 500 steps and of 300 and 600 s. Appends a markdown
# section to the file named by $1 (make bench: bench-checkpoint.md); prints
# it too.
#
# Environment: BENCH_CKPT_ROUNDS (3: interleaved rounds, each a fresh
# program run of BENCH_CKPT_REPS (7) repetitions per mode; medians and
# ranges over every repetition of every round), BENCH_CKPT_DIR (where the
# files go; default a fresh directory under ${TMPDIR:-/tmp}, removed at the
# end; the table names its file system), BENCH_CKPT_TRAIN_STEPS (30; 0 skips
# the training measurement), BENCH_QUIET_LOAD / BENCH_QUIET_WAIT (as in
# distributed-bench.sh: wait until the 1-minute load average is below it),
# MPIRUN (mpirun).
set -eu
build=${BUILD_DIR:-.}
src=${SOURCE_DIR:-.}
out=${1:-/dev/null}
bench=$build/tests/bench/checkpoint_bench
shiftnas=$build/shiftnas
rounds=${BENCH_CKPT_ROUNDS:-3}
reps=${BENCH_CKPT_REPS:-7}
train_steps=${BENCH_CKPT_TRAIN_STEPS:-30}
mpirun=${MPIRUN:-mpirun}
configs="$src/jobs/configs/cnn-space.ini $src/jobs/configs/vit-space.ini"

section() { tee -a "$out"; }

if ! command -v "$mpirun" >/dev/null 2>&1; then
    printf '\n## Checkpoint writing\n\nskipped: %s not found\n' "$mpirun" | section
    exit 0
fi
launch=$mpirun
[ "$(id -u)" = 0 ] && launch="$launch --allow-run-as-root"
tmp=$(mktemp -d)
if [ -n "${BENCH_CKPT_DIR:-}" ]; then
    dir=$BENCH_CKPT_DIR
    mkdir -p "$dir"
else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-checkpoint-bench.XXXXXX")
fi
cleanup() {
    rm -rf "$tmp"
    [ -n "${BENCH_CKPT_DIR:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

quiet() {
    [ -n "${BENCH_QUIET_LOAD:-}" ] || return 0
    waited=0
    while awk -v q="$BENCH_QUIET_LOAD" '{ exit !($1 >= q) }' /proc/loadavg; do
        if [ "$waited" -ge "${BENCH_QUIET_WAIT:-600}" ]; then
            echo busy >>"$tmp/busy"
            return 0
        fi
        sleep 20
        waited=$((waited + 20))
    done
}

# Rounds interleave the rank counts; a program run interleaves the modes.
for round in $(seq "$rounds"); do
    for np in 1 2; do
        quiet
        cut -d' ' -f1 /proc/loadavg >>"$tmp/load"
        # shellcheck disable=SC2086
        if ! $launch -np "$np" "$bench" --dir "$dir" --reps "$reps" $configs >"$tmp/np$np.$round" 2>"$tmp/err"; then
            echo "checkpoint bench: $np rank(s), round $round failed:" >&2
            cat "$tmp/err" >&2
            exit 1
        fi
        awk -v np="$np" '$1 == "rep" { print np, $0 }' "$tmp/np$np.$round" >>"$tmp/reps"
    done
done

# Training step time of each space at 1 and 2 ranks (ms), from the done
# line's training img/s (evaluations excluded) and the batch. Small held-out
# and test sets keep the epoch-end evaluation short; they do not change a
# training step.
step_ms() { # SPACE RANKS
    f=$tmp/train-$1-$2
    if [ "$train_steps" = 0 ] || [ ! -d /usr/share/datasets/fashion-mnist ]; then
        echo n/a
        return
    fi
    quiet
    rm -rf "$tmp/run"
    if ! $launch -np "$2" "$shiftnas" train --config "$src/jobs/configs/$1-space.ini" \
        --set train.max_steps="$train_steps" --set run.progress_seconds=3600 \
        --set data.validation_size=256 --set data.test_limit=256 --set search.recalibration_batches=1 \
        --set search.shift_validation_images=128 --set search.evolution_validation_images=0 \
        --out "$tmp/run" >"$f" 2>&1; then
        echo n/a
        return
    fi
    batch=$(awk -F' *= *' '$1 == "batch_size" { print $2 }' "$src/jobs/configs/$1-space.ini")
    awk -v b="$batch" '/^done:/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "training") { v = $i; sub(/^\(/, "", v); printf "%.1f", 1000 * b / v } }' "$f"
}
for space in cnn vit; do
    for np in 1 2; do
        echo "$space $np $(step_ms "$space" "$np")" >>"$tmp/steps"
    done
done

# Column COL of the rep lines of LABEL MODE NP: "median (min-max)".
stat() {
    awk -v l="$1" -v m="$2" -v np="$3" -v c="$4" '$1 == np && $3 == l && $4 == m { print $(c) }' "$tmp/reps" |
        sort -g | awk -v d="${5:-1}" '{ v[NR] = $1 }
        END { if (NR == 0) { print "n/a"; exit }
              m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.*f (%.*f-%.*f)", d, m, d, v[1], d, v[NR] }'
}
median() { stat "$@" | cut -d' ' -f1; }
# Rep line columns: np rep label mode total write flush crc sync cold mbps bytes
fs=$(df -PT "$dir" | awk 'NR == 2 { print $2 " on " $1 }')
{
    echo
    echo "## Checkpoint writing ($(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc --all) cores, $($mpirun --version 2>/dev/null | head -n 1), HDF5 $(awk '$1 == "hdf5_version" { print $2; exit }' "$tmp/np1.1"))"
    echo
    echo "One checkpoint of the supernet state (parameters, AdamW moments, running statistics,"
    echo "generator and its moments, configuration; 512-byte user block) written to $fs ($dir),"
    echo "until durable: serial = rank 0 alone, default driver, then CRC-32 read-back, header, fsync;"
    echo "parallel = every rank its rows, collective H5Dwrite, H5Fflush (MPI_File_sync), H5Fclose,"
    echo "then rank 0 CRC-32, header, fsync. Median (min-max) over $rounds round(s) x $reps repetitions, ms;"
    echo "the largest over ranks. 1-minute load before the rounds: $(sort -g "$tmp/load" | tr '\n' ' ')"
    [ -f "$tmp/busy" ] && echo "**Some rounds were taken under load** (above $BENCH_QUIET_LOAD after waiting)."
    echo
    echo "| space | ranks | mode | bytes | total (ms) | MB/s | HDF5 create+write | flush+close | CRC-32 read-back | header+fsync | CRC-32 from disk |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for label in supernet-cnn supernet-vit; do
        for np in 1 2; do
            for mode in serial parallel; do
                bytes=$(awk -v l="$label" -v m="$mode" -v np="$np" '$1 == np && $3 == l && $4 == m { print $12; exit }' "$tmp/reps")
                echo "| ${label#supernet-}-space | $np | $mode | $bytes | $(stat "$label" "$mode" "$np" 5 1) | $(stat "$label" "$mode" "$np" 11 0) | $(stat "$label" "$mode" "$np" 6 1) | $(stat "$label" "$mode" "$np" 7 1) | $(stat "$label" "$mode" "$np" 8 2) | $(stat "$label" "$mode" "$np" 9 1) | $(stat "$label" "$mode" "$np" 10 2) |"
            done
        done
    done
    echo
    echo "Training step (\`shiftnas train\`, $train_steps steps, batch of the configuration, from the done line's"
    echo "training img/s) and one checkpoint's median cost as a share of the training time between two"
    echo "checkpoints (checkpoint / interval):"
    echo
    echo "| space | ranks | step (ms) | mode | every 100 steps | every 500 steps | every 300 s | every 600 s |"
    echo "|---|---|---|---|---|---|---|---|"
    for space in cnn vit; do
        for np in 1 2; do
            step=$(awk -v s="$space" -v np="$np" '$1 == s && $2 == np { print $3 }' "$tmp/steps")
            for mode in serial parallel; do
                c=$(median "supernet-$space" "$mode" "$np" 5 3)
                echo "| $space-space | $np | $step | $mode | $(awk -v c="$c" -v s="$step" 'BEGIN { if (s + 0 > 0) printf "%.2f%% | %.3f%%", 100 * c / (100 * s), 100 * c / (500 * s); else printf "n/a | n/a" }') | $(awk -v c="$c" 'BEGIN { printf "%.4f%% | %.4f%%", 100 * c / 300000, 100 * c / 600000 }') |"
            done
        done
    done
} | section
