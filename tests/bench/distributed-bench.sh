#!/bin/sh
# make bench, data-parallel part: supernet training over MPI ranks with
# `shiftnas train` itself (cnn-space.ini, batch 128), measured from the run's
# own lines: "training img/s" of the done line (epoch-end evaluations
# excluded), the phases line and the memory line. Appends a markdown section
# to the file named by $1 (run-bench.sh passes bench-results.md); prints it
# too. doc/performance.md ("Data-parallel training") records a run.
#
#   (a) 1 rank x 1 BLIS thread, (b) 2 ranks x 1 thread, (c) 1 rank x 2
#   threads; uniform and shift sampling; the speed-up of (b) over (a);
#   reduce = active against reduce = slab at 2 ranks; peak memory per rank
#   at 1, 2 and 4 ranks (4 oversubscribed on a 2-core machine).
#
# Environment: BENCH_DIST_ROUNDS (3: interleaved rounds; medians and ranges
# over them), BENCH_DIST_STEPS (60), BENCH_QUIET_LOAD (unset: run at once;
# e.g. 0.6: before each run wait, up to BENCH_QUIET_WAIT seconds (600), until
# the 1-minute load average is below it, so that other work on a shared
# machine does not land in the figures), BENCH_DIST_LOGS (a directory to keep
# every run's output and figures in), MPIRUN (mpirun).
set -eu
shiftnas=${BUILD_DIR:-.}/shiftnas
src=${SOURCE_DIR:-.}
out=${1:-/dev/null}
rounds=${BENCH_DIST_ROUNDS:-3}
steps=${BENCH_DIST_STEPS:-60}
mpirun=${MPIRUN:-mpirun}
config=$src/jobs/configs/cnn-space.ini
batch=128

section() { tee -a "$out"; }

if ! command -v "$mpirun" >/dev/null 2>&1; then
    printf '\n## Data-parallel training\n\nskipped: %s not found\n' "$mpirun" | section
    exit 0
fi
launch=$mpirun
[ "$(id -u)" = 0 ] && launch="$launch --allow-run-as-root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# Enough training images for `steps` steps in one epoch (so one epoch-end
# evaluation, kept short by small held-out sets and one recalibration batch).
train_limit=$(((steps + 2) * batch + 256))
common="--set train.max_steps=$steps --set train.batch_size=$batch --set data.train_limit=$train_limit
 --set data.validation_size=256 --set data.test_limit=256 --set search.recalibration_batches=1
 --set search.shift_validation_images=128 --set search.evolution_validation_images=0
 --set run.progress_seconds=3600"

# shellcheck source=tests/bench/bench-common.sh
. "$src/tests/bench/bench-common.sh"

# run NAME RANKS THREADS STRATEGY REDUCE [MPIRUN OPTIONS...]: appends the
# run's figures to $tmp/NAME as one line "img/s compute waiting reduce MB
# coordinator other memory load".
run() {
    name=$1 ranks=$2 threads=$3 strategy=$4 reduce=$5
    shift 5
    quiet
    load=$(cut -d' ' -f1 /proc/loadavg)
    log=$tmp/$name.log
    rm -rf "$tmp/run"
    # shellcheck disable=SC2086
    if ! $launch -np "$ranks" "$@" "$shiftnas" train --config "$config" $common \
        --set run.threads="$threads" --set search.strategy="$strategy" \
        --set distributed.reduce="$reduce" ${more:-} --out "$tmp/run" >"$log" 2>&1; then
        echo "distributed bench: $name failed:" >&2
        tail -n 5 "$log" >&2
        exit 1
    fi
    awk -v load="$load" '
        /^done:/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "training") { v = $i; sub(/^\(/, "", v); ips = v } }
        /^phases per step/ {
            for (i = 1; i <= NF; i++) {
                if ($i == "compute") c = $(i + 1)
                if ($i == "waiting") w = $(i + 1)
                if ($i == "all-reduce") { r = $(i + 1); mb = $(i + 3); sub(/^\(/, "", mb) }
                if ($i == "coordinator") co = $(i + 1)
                if ($i == "other") o = $(i + 1)
            }
        }
        /^memory:/ { m = $4 }
        END { print ips, c, w, r, mb, co, o, m, load }' "$log" >>"$tmp/$name"
    sed -n 's/^\(phases per step.*\)$/\1/p' "$log" >>"$tmp/$name.phases"
}

# Per-round ratio of column 1 of FILE A over FILE B: median (min-max).
ratio() {
    paste -d' ' "$1" "$2" | awk -v n="$(awk '{ print NF; exit }' "$1")" '{ print $1 / $(n + 1) }' |
        sort -g | awk '{ v[NR] = $1 }
        END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              if (NR == 1) printf "%.2fx", m; else printf "%.2fx (%.2f-%.2f)", m, v[1], v[NR] }'
}

for _ in $(seq "$rounds"); do
    for strategy in uniform shift; do
        run "$strategy-1x1" 1 1 "$strategy" active
        run "$strategy-2x1" 2 1 "$strategy" active
        # Open MPI binds a lone rank to one core by default: its second BLIS
        # thread would share that core.
        run "$strategy-1x2" 1 2 "$strategy" active --bind-to none
        run "$strategy-2x1-slab" 2 1 "$strategy" slab
    done
done
# Memory only: 4 ranks on 2 cores (oversubscribed; ranks that wait spin
# in MPI, so their speed means nothing), one round of 10 steps.
more="--set train.max_steps=10"
for strategy in uniform shift; do
    run "$strategy-4x1" 4 1 "$strategy" active --oversubscribe
done
more=
if [ -n "${BENCH_DIST_LOGS:-}" ]; then
    mkdir -p "$BENCH_DIST_LOGS"
    for f in "$tmp"/*; do
        [ -f "$f" ] && cp "$f" "$BENCH_DIST_LOGS/"
    done
fi

{
    echo
    echo "## Data-parallel training ($(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc --all) cores, $($mpirun --version 2>/dev/null | head -n 1))"
    echo
    echo "\`shiftnas train --config jobs/configs/cnn-space.ini\`, batch $batch, $steps steps, default 8 shards;"
    echo "median (min-max) of $rounds interleaved round(s); img/s from the done line (evaluations excluded),"
    echo "phases in ms per step (mean over ranks) and peak resident MB per rank (largest rank) from the run's own lines."
    [ -f "$tmp/busy" ] && echo "**Some runs were taken under load** (1-minute load average above $BENCH_QUIET_LOAD after waiting)."
    echo
    echo "| strategy | ranks x BLIS threads | reduce | training img/s | compute | waiting | all-reduce | MB per rank | other | peak MB per rank | load before |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for strategy in uniform shift; do
        for c in "1x1 active" "2x1 active" "1x2 active" "2x1-slab slab" "4x1 active"; do
            # shellcheck disable=SC2086
            set -- $c
            f=$tmp/$strategy-$1
            shape=$(echo "$1" | cut -d- -f1 | sed 's/x/ x /')
            if [ "$1" = 4x1 ]; then # oversubscribed: memory only
                echo "| $strategy | $shape | $2 | (oversubscribed) | | | | $(stat 5 "$f" 2) | | $(stat 8 "$f" 0) | $(stat 9 "$f" 2) |"
            else
                echo "| $strategy | $shape | $2 | $(stat 1 "$f" 0) | $(stat 2 "$f") | $(stat 3 "$f") | $(stat 4 "$f") | $(stat 5 "$f" 2) | $(stat 7 "$f") | $(stat 8 "$f" 0) | $(stat 9 "$f" 2) |"
            fi
        done
    done
    echo
    echo "| figure | uniform | shift |"
    echo "|---|---|---|"
    echo "| 2 ranks / 1 rank, training img/s (target ≥ 1.8x) | $(ratio "$tmp/uniform-2x1" "$tmp/uniform-1x1") | $(ratio "$tmp/shift-2x1" "$tmp/shift-1x1") |"
    echo "| 1 rank x 2 threads / 1 rank x 1 thread | $(ratio "$tmp/uniform-1x2" "$tmp/uniform-1x1") | $(ratio "$tmp/shift-1x2" "$tmp/shift-1x1") |"
    echo "| 2 ranks, reduce = slab / active, all-reduce ms per step | $(paste -d' ' "$tmp/uniform-2x1-slab" "$tmp/uniform-2x1" | awk '{ print $4 / $13 }' | sort -g | awk '{ v[NR] = $1 } END { printf "%.2fx", v[int((NR + 1) / 2)] }') | $(paste -d' ' "$tmp/shift-2x1-slab" "$tmp/shift-2x1" | awk '{ print $4 / $13 }' | sort -g | awk '{ v[NR] = $1 } END { printf "%.2fx", v[int((NR + 1) / 2)] }') |"
    echo "| peak MB per rank at 1 / 2 / 4 ranks | $(stat 8 "$tmp/uniform-1x1" 0 | cut -d' ' -f1) / $(stat 8 "$tmp/uniform-2x1" 0 | cut -d' ' -f1) / $(stat 8 "$tmp/uniform-4x1" 0 | cut -d' ' -f1) | $(stat 8 "$tmp/shift-1x1" 0 | cut -d' ' -f1) / $(stat 8 "$tmp/shift-2x1" 0 | cut -d' ' -f1) / $(stat 8 "$tmp/shift-4x1" 0 | cut -d' ' -f1) |"
    echo
    echo "Phases lines of the first round (b) runs, as the runs printed them:"
    echo
    for strategy in uniform shift; do
        echo "- $strategy, 2 ranks: \`$(head -n 1 "$tmp/$strategy-2x1.phases")\`"
    done
} | section
