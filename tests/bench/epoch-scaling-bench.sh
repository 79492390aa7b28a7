#!/bin/sh
# make bench, whole-epoch part: one epoch of `shiftnas train` on 1 and on 2
# ranks for every strategy on cnn-space.ini and vit-space.ini, training and
# the epoch's end together (its evaluations: batch-norm recalibration,
# validation and test figures of the largest and smallest subnets; and the
# final checkpoint), measured from the run's own lines:
#
#   epoch s      the done line's total ("done: N steps in T"): the loop's
#                start to the end of the final checkpoint, start-up excluded
#   training s   N x batch / the done line's "training img/s"
#   epoch end s  epoch s - training s (1-second resolution: T is printed
#                in whole seconds)
#
# and prints the 2-rank/1-rank ratio of each (issue 18's target: >= 1.85x
# for the whole epoch). Beside it, the machine's own ceiling: two independent
# 1-rank runs of the same epoch at once, one pinned to each core, with no
# communication at all; 2 x (1 rank alone) / (the slower of the pair) bounds
# what 2 ranks in lockstep on equal shards can reach here (on a VM whose
# second core slows under load, it is below 2). Appends a markdown section to the file named by $1
# (run-bench.sh passes bench-results.md); prints it too. doc/performance.md
# ("Whole epochs on 2 ranks") records a run.
#
# Environment: BENCH_EPOCH_SPACES ("cnn vit"), BENCH_EPOCH_STRATEGIES
# ("uniform flops-uniform sandwich attentive shift"), BENCH_EPOCH_ROUNDS (1:
# interleaved rounds, medians and ranges over them), BENCH_EPOCH_TRAIN_LIMIT
# (0: the whole training set, 55000 images, 429 steps; e.g. 20000 for a
# shorter epoch, whose end then weighs more), BENCH_QUIET_LOAD and
# BENCH_QUIET_WAIT (as in distributed-bench.sh), BENCH_EPOCH_LOGS (a
# directory to keep every run's output in), MPIRUN (mpirun). A full round is
# 20 one-epoch runs: about 40 minutes on this project's 2-core machine.
set -eu
shiftnas=${BUILD_DIR:-.}/shiftnas
src=${SOURCE_DIR:-.}
out=${1:-/dev/null}
mpirun=${MPIRUN:-mpirun}
spaces=${BENCH_EPOCH_SPACES:-cnn vit}
strategies=${BENCH_EPOCH_STRATEGIES:-uniform flops-uniform sandwich attentive shift}
rounds=${BENCH_EPOCH_ROUNDS:-1}
train_limit=${BENCH_EPOCH_TRAIN_LIMIT:-0}

section() { tee -a "$out"; }

if ! command -v "$mpirun" >/dev/null 2>&1; then
    printf '\n## Whole epochs on 2 ranks\n\nskipped: %s not found\n' "$mpirun" | section
    exit 0
fi
launch=$mpirun
[ "$(id -u)" = 0 ] && launch="$launch --allow-run-as-root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# shellcheck source=tests/bench/bench-common.sh
. "$src/tests/bench/bench-common.sh"

# run SPACE STRATEGY RANKS: appends "epoch training end load" to
# $tmp/SPACE-STRATEGY-RANKS and keeps the run's phases line.
run() {
    space=$1 strategy=$2 ranks=$3
    name=$space-$strategy-$ranks
    quiet
    load=$(cut -d' ' -f1 /proc/loadavg)
    log=$tmp/$name.log
    rm -rf "$tmp/run"
    # shellcheck disable=SC2086
    if ! $launch -np "$ranks" "$shiftnas" train --config "$src/jobs/configs/$space-space.ini" \
        --set train.epochs=1 --set train.max_steps=0 --set search.strategy="$strategy" \
        --set data.train_limit="$train_limit" --set run.progress_seconds=3600 \
        --set checkpoint.interval_seconds=0 --out "$tmp/run" >"$log" 2>&1; then
        echo "epoch-scaling bench: $name failed:" >&2
        tail -n 5 "$log" >&2
        exit 1
    fi
    awk -v load="$load" '
        function seconds(t,   s) { # 1h02m, 3m52s, 45s
            s = 0
            if (t ~ /h/) { s += 3600 * substr(t, 1, index(t, "h") - 1); t = substr(t, index(t, "h") + 1) }
            if (t ~ /m/) { s += 60 * substr(t, 1, index(t, "m") - 1); t = substr(t, index(t, "m") + 1) }
            if (t ~ /s/) s += substr(t, 1, index(t, "s") - 1)
            return s
        }
        /^schedule:/ { for (i = 1; i <= NF; i++) if ($i == "batch") { b = $(i + 1); sub(/,$/, "", b) } }
        /^done:/ {
            steps = $2; total = seconds($5)
            for (i = 1; i <= NF; i++) if ($(i + 1) == "training") { v = $i; sub(/^\(/, "", v); ips = v }
        }
        END {
            train = steps * b / ips
            printf "%.1f %.1f %.1f %s\n", total, train, total - train, load
        }' "$log" >>"$tmp/$name"
    sed -n 's/^\(phases per step.*\)$/\1/p' "$log" >>"$tmp/$name.phases"
}

# pair SPACE STRATEGY: two 1-rank runs of the epoch at once, pinned to cores
# 0 and 1 (mpirun's own binding off); appends the slower one's epoch seconds
# to $tmp/SPACE-STRATEGY-pair.
pair() {
    space=$1 strategy=$2
    quiet
    for core in 0 1; do
        rm -rf "$tmp/pair$core"
        # shellcheck disable=SC2086
        taskset -c "$core" $launch --bind-to none -np 1 "$shiftnas" train \
            --config "$src/jobs/configs/$space-space.ini" \
            --set train.epochs=1 --set train.max_steps=0 --set search.strategy="$strategy" \
            --set data.train_limit="$train_limit" --set run.progress_seconds=3600 \
            --set checkpoint.interval_seconds=0 --out "$tmp/pair$core" >"$tmp/pair$core.log" 2>&1 &
        eval "pid$core=\$!"
    done
    # shellcheck disable=SC2154
    if ! wait "$pid0" || ! wait "$pid1"; then
        echo "epoch-scaling bench: the independent pair ($space $strategy) failed:" >&2
        tail -n 5 "$tmp/pair0.log" "$tmp/pair1.log" >&2
        exit 1
    fi
    awk '/^done:/ { t = $5; s = 0
            if (t ~ /h/) { s += 3600 * substr(t, 1, index(t, "h") - 1); t = substr(t, index(t, "h") + 1) }
            if (t ~ /m/) { s += 60 * substr(t, 1, index(t, "m") - 1); t = substr(t, index(t, "m") + 1) }
            if (t ~ /s/) s += substr(t, 1, index(t, "s") - 1)
            if (s > worst) worst = s }
        END { printf "%.1f\n", worst }' "$tmp/pair0.log" "$tmp/pair1.log" >>"$tmp/$space-$strategy-pair"
}

# Per-round ratio of column k of FILE A (1 rank) over FILE B (2 ranks).
ratio() {
    paste -d' ' "$2" "$3" | awk -v k="$1" -v n="$(awk '{ print NF; exit }' "$2")" '
        { print ($(n + k) > 0 ? $k / $(n + k) : 0) }' |
        sort -g | awk '{ v[NR] = $1 }
        END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              if (NR == 1) printf "%.2fx", m; else printf "%.2fx (%.2f-%.2f)", m, v[1], v[NR] }'
}

# ceiling ONE PAIR: median over rounds of 2 x one-rank epoch / slower pair epoch.
ceiling() {
    [ -s "$2" ] || { printf 'n/a'; return; }
    paste -d' ' "$1" "$2" | awk -v n="$(awk '{ print NF; exit }' "$1")" '
        { print ($(n + 1) > 0 ? 2 * $1 / $(n + 1) : 0) }' |
        sort -g | awk '{ v[NR] = $1 }
        END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              if (NR == 1) printf "%.2fx", m; else printf "%.2fx (%.2f-%.2f)", m, v[1], v[NR] }'
}

for _ in $(seq "$rounds"); do
    for space in $spaces; do
        for strategy in $strategies; do
            run "$space" "$strategy" 1
            run "$space" "$strategy" 2
            command -v taskset >/dev/null 2>&1 && pair "$space" "$strategy"
        done
    done
done
if [ -n "${BENCH_EPOCH_LOGS:-}" ]; then
    mkdir -p "$BENCH_EPOCH_LOGS"
    for f in "$tmp"/*; do
        [ -f "$f" ] && cp "$f" "$BENCH_EPOCH_LOGS/"
    done
fi

{
    echo
    echo "## Whole epochs on 2 ranks ($(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc --all) cores, $($mpirun --version 2>/dev/null | head -n 1))"
    echo
    if [ "$train_limit" = 0 ]; then
        echo "One epoch of \`shiftnas train\` (the whole training set), 1 and 2 ranks x 1 BLIS thread,"
    else
        echo "One epoch of \`shiftnas train\` on the first $train_limit training images, 1 and 2 ranks x 1 BLIS thread,"
    fi
    echo "the configuration's own evaluations at its end; median (min-max) of $rounds interleaved round(s),"
    echo "seconds from the run's done line (start-up excluded); ratio = 1 rank / 2 ranks (target >= 1.85x)."
    echo "Ceiling = 2 x (1 rank alone) / (the slower of two independent 1-rank runs at once, one per core):"
    echo "what 2 ranks could reach on this machine with no communication and perfectly equal work."
    [ -f "$tmp/busy" ] && echo "**Some runs were taken under load** (1-minute load average above $BENCH_QUIET_LOAD after waiting)."
    echo
    echo "| space | strategy | epoch s, 1 rank | epoch s, 2 ranks | epoch 2/1 | ceiling | training 2/1 | epoch end s, 1 / 2 ranks | load before |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for space in $spaces; do
        for strategy in $strategies; do
            a=$tmp/$space-$strategy-1 b=$tmp/$space-$strategy-2
            echo "| $space | $strategy | $(stat 1 "$a") | $(stat 1 "$b") | $(ratio 1 "$a" "$b") | $(ceiling "$a" "$tmp/$space-$strategy-pair") | $(ratio 2 "$a" "$b") | $(stat 3 "$a" 0) / $(stat 3 "$b" 0) | $(stat 4 "$a" 2) / $(stat 4 "$b" 2) |"
        done
    done
    echo
    echo "Phases lines of the first round's 2-rank runs, as the runs printed them:"
    echo
    for space in $spaces; do
        for strategy in $strategies; do
            echo "- $space, $strategy: \`$(head -n 1 "$tmp/$space-$strategy-2.phases")\`"
        done
    done
} | section
