#!/bin/sh
# jobs/study.sh, resumable by design (issue 19): a smoke study (2 arms x 2
# paired seeds and the retrained probes, a few steps each on a slice of
# Fashion-MNIST, a 4-probe panel, 2 ranks) into a temporary git repository,
# committing each run. Checks: a run killed mid-training is resumed from its
# checkpoint on the next start, not restarted; every summary appears
# (timing.txt included) and is committed alone; a second start runs
# nothing; deleting one summary re-runs exactly that run; a run stopped by a
# signal (exit 75) and deleted run directories give the same results again;
# `status` counts and the time left; the sensitivity phase runs only the
# settings its baseline lacks, and the report keeps each setting as an arm
# against that baseline. Skipped (77) without the data set, mpirun, git, flock, or
# while `shiftnas probe`, `report --summarize` or search.shift_frozen are not
# in this build.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
src=${SHIFTNAS_SOURCE_DIR:-.}
data=/usr/share/datasets/fashion-mnist
mpirun=${MPIRUN:-mpirun}
if [ ! -r "$data/train-images-idx3-ubyte.gz" ] && [ ! -r "$data/train-images-idx3-ubyte" ]; then
    echo "skip: Fashion-MNIST not found in $data"; exit 77
fi
for tool in "$mpirun" bash git flock awk; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skip: $tool not found"; exit 77; }
done
if ! "$bin" probe --help >/dev/null 2>&1; then
    echo "skip: 'shiftnas probe --help' fails: this build has no probe command yet (issue 19's probe panel); jobs/study.sh needs it"
    exit 77
fi
if ! "$bin" report --help 2>&1 | grep -q -- --summarize; then
    echo "skip: 'shiftnas report --help' names no --summarize yet (issue 19's report); jobs/study.sh needs it"
    exit 77
fi
if ! "$bin" config defaults 2>/dev/null | grep -q '^shift_frozen'; then
    echo "skip: no [search] shift_frozen in this build yet (issue 19's frozen-beta arm); jobs/study.sh needs it"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-study.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
unset SLURM_JOB_ID SLURM_NTASKS SLURM_PROCID SLURM_STEP_ID SHIFTNAS_INJECT_FAULT
study=$src/jobs/study.sh

# Every shiftnas command the study runs, logged (one line per rank) before
# it runs: which runs a start touched.
calls=$work/calls
cat >"$work/shiftnas" <<EOF
#!/bin/sh
echo "\$*" >>"$calls"
exec "$bin" "\$@"
EOF
chmod +x "$work/shiftnas"

# The repository the summaries are committed to.
repo=$work/repo
git init -q "$repo" && git -C "$repo" config user.name study-test &&
    git -C "$repo" config user.email study-test@example.invalid &&
    echo "study test" >"$repo/README" && git -C "$repo" add README &&
    git -C "$repo" commit -q -m init || { echo "skip: git cannot make a repository in $work"; exit 77; }

# A 4-probe panel from the smallest to the largest subnet of cnn-space.ini.
cat >"$work/panel.txt" <<'EOF'
# smoke panel: 4 probes
cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2

cnn:d=2,2,2;w=18,30,48;k=3,3,3,3,3,3;e=3,3,3,3,3,3
cnn:d=3,3,3;w=24,40,64;k=3,3,3,3,3,3,3,3,3;e=4,4,4,4,4,4,4,4,4
cnn:d=3,3,3;w=24,40,64;k=5,5,5,5,5,5,5,5,5;e=4,4,4,4,4,4,4,4,4
EOF

# 8 steps of 24 images, a checkpoint every 2 steps, a probability update
# every 2 steps; a small search.
STUDY=smoke
STUDY_RUNS=$work/runs
STUDY_REPO=$repo
STUDY_COMMIT=1
STUDY_PHASES="paired retrained"
STUDY_PAIRED_ARMS="shift shift-frozen"
STUDY_PAIRED_SEEDS="1 2"
STUDY_RETRAIN_PER_BUCKET=1
STUDY_CNN_PROBES=$work/panel.txt
STUDY_TARGETS=4M,8M
STUDY_SET="data.train_limit=408 data.validation_size=120 data.test_limit=100 train.batch_size=24
 train.max_steps=8 train.eval_batch_size=50 search.shift_interval=2 search.shift_warmup=0
 search.shift_validation_images=24 search.evolution_validation_images=60 search.recalibration_batches=1
 checkpoint.interval_steps=2"
STUDY_SEARCH_SET="search.evolution_evaluations=4 search.evolution_population=4 search.evolution_parents=2
 search.evolution_validation_images=60 search.evolution_recalibration_batches=1"
STUDY_RANKS=2
STUDY_MPIRUN=$mpirun
STUDY_MPIRUN_ARGS=--oversubscribe
SHIFTNAS=$work/shiftnas
export STUDY STUDY_RUNS STUDY_REPO STUDY_COMMIT STUDY_PHASES STUDY_PAIRED_ARMS STUDY_PAIRED_SEEDS \
    STUDY_RETRAIN_PER_BUCKET STUDY_CNN_PROBES STUDY_TARGETS STUDY_SET STUDY_SEARCH_SET STUDY_RANKS \
    STUDY_MPIRUN STUDY_MPIRUN_ARGS SHIFTNAS
# Open MPI's allocations live until exit (sanitizer build)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS

data_dir=$repo/doc/results/data/cnn-smoke
runs=$work/runs/cnn-smoke
pairs="shift-seed1 shift-frozen-seed1 shift-seed2 shift-frozen-seed2"

# study NAME [ENV=VALUE ...]: jobs/study.sh run (ended by a timeout), its
# output in $work/NAME.out, its status in $status; the calls it made in
# $work/NAME.calls.
study() {
    study_name=$1
    shift
    : >"$calls"
    env "$@" timeout -k 10 600 bash "$study" run >"$work/$study_name.out" 2>&1
    status=$?
    cp "$calls" "$work/$study_name.calls"
}

# calls_touch NAME: the run directories the start NAME's train, probe,
# search and summary commands named, one per line, sorted.
calls_touch() {
    grep -E '^(train|probe|search|report) ' "$work/$1.calls" |
        grep -o "$runs/[^ ]*" | sed "s|^$runs/||; s|/.*||" | sort -u
}

# summary_done RUN: its summary directory holds what a summary holds.
summary_done() {
    for f in timing.txt config.ini metrics.csv probes.csv; do
        [ -s "$data_dir/$1/$f" ] || return 1
    done
    case $1 in retrained-*) ;; *) [ -s "$data_dir/$1/search.csv" ] || return 1 ;; esac
}

# ------------------------------------------------------------ no arguments ----

bash "$study" >"$work/usage.out" 2>&1
status=$?
if [ $status -eq 2 ] && grep -q "^  STUDY_RUNS .*\[$work/runs\]\$" "$work/usage.out" &&
    grep -q '^  STUDY_PAIRED_ARMS, _SEEDS *\[shift shift-frozen\] x \[1 2\]$' "$work/usage.out"; then
    pass "no arguments: usage and the settings in force (exit 2)"
else
    fail "no arguments: exit $status"; cat "$work/usage.out"
fi

# ----------------------------------------------------- killed mid-training ----

if without_fault_injection "a run killed mid-training is resumed"; then
    :
else
    # rank 0 SIGKILLs itself as step 5 starts: the job dies after the
    # checkpoint of step 4
    study killed SHIFTNAS_INJECT_FAULT=0:5:kill
    latest=$(sed -n 's/^step-0*\([0-9][0-9]*\)\.h5$/\1/p' "$runs/shift-seed1/checkpoints/latest" 2>/dev/null)
    if [ $status -ne 0 ] && [ $status -ne 124 ] && [ "$latest" = 4 ] &&
        [ ! -e "$data_dir/shift-seed1" ] && [ ! -e "$runs/shift-frozen-seed1" ]; then
        pass "killed at step 5: the study stops (exit $status) with shift-seed1's checkpoint of step 4, nothing after it"
    else
        fail "killed at step 5: exit $status, latest checkpoint '$latest'"; tail -n 20 "$work/killed.out"
    fi
    grep -q 'training of cnn-smoke/shift-seed1 failed' "$work/killed.out" &&
        pass "killed: the study names the run that failed" || fail "killed: no message naming shift-seed1"
fi

# ------------------------------------------------------- the whole study ----

study first
if [ $status -eq 0 ]; then pass "study: exit 0"; else fail "study: exit $status"; tail -n 30 "$work/first.out"; fi
if ! without_fault_injection "resume after the kill"; then
    if grep -q '^train --resume .*/shift-seed1 ' "$work/first.calls" &&
        grep -q '^resumed: step 4 of ' "$runs/logs/shift-seed1.log"; then
        pass "the killed run is resumed from its step-4 checkpoint, not restarted"
    else
        fail "the killed run was not resumed from step 4"; grep -E 'resumed|^\[study' "$runs/logs/shift-seed1.log"
    fi
fi
for run in $pairs; do
    if summary_done "$run"; then pass "$run: summary complete"; else fail "$run: summary incomplete"; ls -l "$data_dir/$run"; fi
done
retrained=$(cd "$data_dir" 2>/dev/null && ls -d retrained-probe* 2>/dev/null)
n_retrained=$(echo "$retrained" | grep -c .)
if [ "$n_retrained" -ge 1 ]; then
    pass "retrained: $n_retrained probe(s) of the upper half of the buckets: $(echo "$retrained" | tr '\n' ' ')"
else
    fail "retrained: no retrained-probe summary"
fi
for run in $retrained; do
    summary_done "$run" && [ "$(sed 1d "$data_dir/$run/probes.csv" | wc -l)" = 1 ] &&
        grep -q '^strategy *= *fixed' "$data_dir/$run/config.ini" &&
        pass "$run: a fixed run, one probes.csv row" || fail "$run: not a complete fixed run"
done
timing=$data_dir/shift-seed1/timing.txt
if grep -Eq '^wall_seconds [0-9]+$' "$timing" && grep -q '^ranks 2$' "$timing" && grep -q '^cpu .' "$timing" &&
    grep -q '^blis_kernels .' "$timing" && grep -Eq '^date [0-9]{4}-' "$timing"; then
    pass "timing.txt: wall_seconds, ranks 2, cpu, blis_kernels, date"
else
    fail "timing.txt"; cat "$timing"
fi
# training's time is the run's own (metrics.csv's last seconds, summed over
# its sessions by shiftnas), inside wall_seconds
train_timing=$(sed -n 's/^train_seconds //p' "$timing")
train_metrics=$(awk -F, 'NR > 1 { s = $7 } END { printf "%.0f", s }' "$data_dir/shift-seed1/metrics.csv")
wall_timing=$(sed -n 's/^wall_seconds //p' "$timing")
if [ -n "$train_timing" ] && [ "$train_timing" = "$train_metrics" ] &&
    [ "${wall_timing:-0}" -ge "$train_timing" ]; then
    pass "timing.txt: train_seconds $train_timing is metrics.csv's, within wall_seconds $wall_timing"
else
    fail "timing.txt: train_seconds '$train_timing', metrics.csv's last seconds $train_metrics, wall '$wall_timing'"
fi
grep -q '^shift_frozen *= *true' "$data_dir/shift-frozen-seed1/config.ini" &&
    pass "shift-frozen: its config.ini has shift_frozen = true" || fail "shift-frozen: shift_frozen not in config.ini"

# one commit per run, holding only that run's summary
all_runs="$pairs $retrained"
n_runs=$(echo "$all_runs" | wc -w)
commits=$(git -C "$repo" log --format=%s | grep -c '^study: cnn-smoke/')
if [ "$commits" = "$n_runs" ]; then pass "$commits commits, one per run"; else fail "$commits commits for $n_runs runs"; fi
bad=0
for run in $all_runs; do
    hash=$(git -C "$repo" log --format=%H --grep="^study: cnn-smoke/$run\$" | head -n 1)
    others=$(git -C "$repo" show --name-only --format= "$hash" | grep -v "^doc/results/data/cnn-smoke/$run/")
    [ -n "$hash" ] && [ -z "$others" ] || { bad=1; echo "commit of $run: '$hash', other paths: $others"; }
done
[ $bad = 0 ] && pass "each commit holds its run's summary directory alone" || fail "commits hold other paths"
[ -z "$(git -C "$repo" status --porcelain)" ] && pass "nothing left uncommitted" ||
    fail "uncommitted: $(git -C "$repo" status --porcelain | tr '\n' ' ')"

bash "$study" status >"$work/status.out" 2>&1
if grep -Eq '^paired +cnn-smoke +shift +2 of 2 done$' "$work/status.out" &&
    grep -Eq '^paired +cnn-smoke +shift-frozen +2 of 2 done$' "$work/status.out" &&
    grep -Eq "^retrained +cnn-smoke +retrained +$n_retrained of $n_retrained done\$" "$work/status.out" &&
    grep -q 'complete pairs (shift and shift-frozen of the same seed) in cnn-smoke: 2$' "$work/status.out"; then
    pass "status: 2 of 2 per arm, $n_retrained of $n_retrained retrained, 2 pairs"
else
    fail "status after the study"; cat "$work/status.out"
fi

# ------------------------------------------------- a second start: nothing ----

study again
if [ $status -eq 0 ] && [ -z "$(calls_touch again)" ] && grep -q 'nothing to do' "$work/again.out" &&
    [ "$(git -C "$repo" log --format=%s | grep -c '^study: cnn-smoke/')" = "$n_runs" ]; then
    pass "second start: nothing run, nothing committed"
else
    fail "second start: exit $status, touched: $(calls_touch again | tr '\n' ' ')"
fi

# -------------------------------------- one summary deleted: that run alone ----

rm -rf "${data_dir:?}/shift-seed2"
bash "$study" status >"$work/status2.out" 2>&1
if grep -Eq '^paired +cnn-smoke +shift +1 of 2 done; missing: shift-seed2 \(trained and probed\)$' "$work/status2.out" &&
    grep -q 'in cnn-smoke: 1$' "$work/status2.out"; then
    pass "status: a deleted summary is missing, 1 pair left"
else
    fail "status after deleting shift-seed2's summary"; cat "$work/status2.out"
fi
# the time left: the one missing run at its arm's mean wall time (seed 1's)
seed1_wall=$(sed -n 's/^wall_seconds //p' "$data_dir/shift-seed1/timing.txt")
if grep -Eq "^time left: about [0-9.]+ h \\($seed1_wall s\\) of this machine" "$work/status2.out"; then
    pass "status: time left $seed1_wall s, shift-seed1's wall time"
else
    fail "status: time left is not shift-seed1's $seed1_wall s"; grep 'time left' "$work/status2.out"
fi
study resummarize
touched=$(calls_touch resummarize | tr '\n' ' ')
if [ $status -eq 0 ] && [ "$touched" = "shift-seed2 " ] && summary_done shift-seed2 &&
    ! grep -q '^\(probe\|search\) ' "$work/resummarize.calls"; then
    pass "deleted summary: shift-seed2 alone is summarized again (no probe, no search)"
else
    fail "deleted summary: exit $status, touched '$touched'"; cat "$work/resummarize.calls"
fi

# ------------------ a run stopped by a signal, and a run directory deleted ----

# shift-frozen-seed2 trained again from nothing, stopped by a SIGUSR1 at
# step 3 (exit 75), continued: the same results as before.
cp -R "$data_dir/shift-frozen-seed2" "$work/before"
rm -rf "${data_dir:?}/shift-frozen-seed2" "${runs:?}/shift-frozen-seed2"
if ! without_fault_injection "a run stopped by a signal (exit 75)"; then
    study stopped SHIFTNAS_INJECT_FAULT=0:3:signal
    if [ $status -eq 75 ] && [ -e "$runs/shift-frozen-seed2/checkpoints/latest" ] && ! summary_done shift-frozen-seed2 &&
        [ "$(calls_touch stopped | tr '\n' ' ')" = "shift-frozen-seed2 " ]; then
        pass "stopped by SIGUSR1 in training: exit 75 with a checkpoint, only shift-frozen-seed2 touched"
    else
        fail "stopped: exit $status"; tail -n 20 "$work/stopped.out"
    fi
fi
study retrained_again
touched=$(calls_touch retrained_again | tr '\n' ' ')
if [ $status -eq 0 ] && [ "$touched" = "shift-frozen-seed2 " ] && summary_done shift-frozen-seed2; then
    pass "deleted run directory: shift-frozen-seed2 alone is trained again"
else
    fail "deleted run directory: exit $status, touched '$touched'"
fi
if ! without_fault_injection "resume after the stop"; then
    grep -q '^resumed: step [1-7] of ' "$runs/logs/shift-frozen-seed2.log" &&
        pass "the stopped run continues from its checkpoint" || fail "the stopped run was not resumed"
fi
same=1
for f in probes.csv search.csv metrics.csv; do
    # without search.csv's and metrics.csv's seconds columns
    if [ "$f" = probes.csv ]; then
        cmp -s "$work/before/$f" "$data_dir/shift-frozen-seed2/$f" || same=0
    else
        [ "$(sed 's/,[^,]*$//' "$work/before/$f")" = "$(sed 's/,[^,]*$//' "$data_dir/shift-frozen-seed2/$f")" ] || same=0
    fi
done
[ $same = 1 ] && pass "trained again (and resumed): the same probes, search and metrics" ||
    fail "trained again: different results"
bash "$study" status >"$work/status3.out" 2>&1
grep -q 'in cnn-smoke: 2$' "$work/status3.out" && pass "status: 2 pairs again" ||
    { fail "status at the end"; cat "$work/status3.out"; }

# The sensitivity phase: shift of seed 1 with another β rate and another K
# (the baseline's values, 0.1 and 8, are not run again); the rest is done.
sensitivity="STUDY_PHASES=paired retrained sensitivity"
study sensitivity "$sensitivity" "STUDY_SENSITIVITY_LR=0.001 0.1" STUDY_SENSITIVITY_INTERVAL=2 \
    "STUDY_SENSITIVITY_K=4 8"
sensitivity_dir=$repo/doc/results/data/cnn-smoke-sensitivity
if [ $status -eq 0 ] && [ "$(ls "$sensitivity_dir" 2>/dev/null | tr '\n' ' ')" = "shift-k4-seed1 shift-lr0.001-seed1 " ]; then
    pass "sensitivity: shift-k4-seed1 and shift-lr0.001-seed1 run, nothing else"
else
    fail "sensitivity: exit $status, summaries: $(ls "$sensitivity_dir" 2>/dev/null | tr '\n' ' ')"
    tail -n 5 "$work/sensitivity.out"
fi
grep -q 'progress: 2 run(s) done in this start; about [0-9.]* h ([0-9]* s) of this machine left' "$work/sensitivity.out" &&
    pass "run: the study's progress and time left after each run" ||
    { fail "run: no progress line"; tail -n 5 "$work/sensitivity.out"; }

# The report over the committed summaries: the paired design's primary
# endpoint, computed from the two complete pairs; the sensitivity runs,
# each an arm of its own, against their baseline (shift, seed 1).
STUDY_REPORT_ARGS=--no-plots env "$sensitivity" bash "$study" report >"$work/report.out" 2>&1
status=$?
report_md=$repo/doc/results/report-cnn-smoke/report.md
if [ $status -eq 0 ] && [ -s "$report_md" ] && grep -qi 'primary endpoint' "$report_md" &&
    grep -q 'n = 2\|n=2\|| 2 |' "$report_md"; then
    pass "report: report.md over the summaries, with the primary endpoint over 2 pairs"
else
    fail "report: exit $status"; cat "$work/report.out"; head -n 30 "$report_md" 2>/dev/null
fi
sensitivity_md=$repo/doc/results/report-cnn-smoke-sensitivity/report.md
if grep -q '3 run(s) used, 0 skipped' "$sensitivity_md" 2>/dev/null &&
    grep -q '^### shift-k4 − shift$' "$sensitivity_md" && grep -q '^### shift-lr0.001 − shift$' "$sensitivity_md"; then
    pass "report: the sensitivity runs and their baseline, shift-k4 and shift-lr0.001 each against shift"
else
    fail "report of the sensitivity runs"; grep -E 'run\(s\) used|^### |duplicate' "$sensitivity_md" 2>/dev/null
fi

echo "$passes passed, $failures failed"
[ $failures -eq 0 ]
