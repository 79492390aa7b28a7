#!/bin/sh
# Checkpoints and resume (doc/checkpoint.md): a run stopped at any moment
# (SIGKILL, SIGUSR1, SIGTERM, the time budget, a kill in the middle of a
# checkpoint write) and resumed with `shiftnas train --resume` ends with the
# same bits as a run that never stopped: the supernet, the generator, both
# optimisers, beta and its Adam state, log.h5, metrics.csv (but its seconds)
# and the subnets `search` returns; for 1 and 2 ranks and across a change of
# rank count. Then the refusals: a damaged, truncated or foreign checkpoint
# under --resume-strict, an other-space checkpoint, a non-neutral --set on
# resume, a missing run; and without --resume-strict the fallback of a
# damaged `latest` to the newest intact checkpoint. Short runs on a
# slice of Fashion-MNIST; skipped (77) without the data set, mpirun or h5diff,
# or in a build without --enable-fault-injection (stops at chosen steps
# come from SHIFTNAS_INJECT_FAULT).
#
# The random moments come from $SHIFTNAS_TEST_SEED (default: the clock),
# printed first, so a failure can be replayed. SHIFTNAS_TEST_LONG=1 adds the
# long form (make check-resume-long): chains of at least 24 SIGKILLs across
# 1, 2 and 3 ranks.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
src=${SHIFTNAS_SOURCE_DIR:-.}
data=/usr/share/datasets/fashion-mnist
mpirun=${MPIRUN:-mpirun}
if [ ! -r "$data/train-images-idx3-ubyte.gz" ] && [ ! -r "$data/train-images-idx3-ubyte" ]; then
    echo "skip: Fashion-MNIST not found in $data"; exit 77
fi
for tool in "$mpirun" h5diff h5ls timeout awk; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skip: $tool not found"; exit 77; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-resume.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
require_fault_injection
unset SLURM_PROCID SLURM_NTASKS SLURM_STEP_NUM_TASKS SLURM_STEP_ID SLURM_STEPID SHIFTNAS_INJECT_FAULT
seed=${SHIFTNAS_TEST_SEED:-$(date +%s)}
echo "random moments from SHIFTNAS_TEST_SEED=$seed"
# random N LOW HIGH: the N-th number of the seeded sequence, in [LOW, HIGH]
# (two decimals). N is explicit: a count kept here would not survive the
# $(...) subshell each call runs in.
random() {
    awk -v s="$seed" -v n="$1" -v lo="$2" -v hi="$3" \
        'BEGIN { srand(s + 7919 * n); printf "%.2f\n", lo + (hi - lo) * rand() }'
}
started=$(date +%s)
# every stop, kill and resume here is a "signals" case (the refusals at the
# end are tallied as checkpoint inputs)
reliability_class=signals

# 12 steps per epoch of 24 images (8 shards of 3), 2 epochs: an epoch end
# (evaluation, model.h5, metrics rows) in the middle of the run. shift
# updates the probabilities every 8 steps; a checkpoint every 5 steps.
tiny="--set data.train_limit=408 --set data.validation_size=120 --set data.test_limit=100
      --set train.batch_size=24 --set train.epochs=2 --set train.eval_batch_size=50
      --set search.shift_interval=8 --set search.shift_warmup=0
      --set search.shift_validation_images=24 --set search.evolution_validation_images=0
      --set search.recalibration_batches=1
      --set checkpoint.interval_steps=5 --set checkpoint.interval_seconds=0
      --set run.progress_seconds=0.5"
limit=300

# start RANKS RUN STRATEGY [ARGS...]: a new run of cnn-space.ini (tiny) into
# $work/RUN; output appended to RUN.out/RUN.err; its status in $status.
start() {
    start_ranks=$1 start_run=$2 start_strategy=$3
    shift 3
    # shellcheck disable=SC2086
    launch "$start_ranks" train --config "$src/jobs/configs/${config:-cnn-space.ini}" $tiny \
        --set search.strategy="$start_strategy" "$@" --out "$work/$start_run" \
        >>"$work/$start_run.out" 2>>"$work/$start_run.err"
    status=$?
}

# resume RANKS RUN [ARGS...]: shiftnas train --resume $work/RUN.
resume() {
    resume_ranks=$1 resume_run=$2
    shift 2
    launch "$resume_ranks" train --resume "$work/$resume_run" "$@" \
        >>"$work/$resume_run.out" 2>>"$work/$resume_run.err"
    status=$?
}

# interrupt SECONDS SIGNAL RANKS RUN STRATEGY: starts a run in the
# background and sends SIGNAL after SECONDS: to the process alone, or to one
# rank (SIGKILL: the job dies) or to mpirun (USR1/TERM: forwarded) under
# mpirun. $status is the run's exit status. A run that finished before the
# signal (a fast machine) is started again with half the delay, up to 3
# times; $moment is the delay used.
interrupt() {
    moment=$1 int_signal=$2 int_ranks=$3 int_run=$4 int_strategy=$5
    for int_try in 1 2 3; do
        rm -rf "${work:?}/$int_run"
        (start "$int_ranks" "$int_run" "$int_strategy"; exit "$status") &
        int_pid=$!
        sleep "$moment"
        # the process to signal: shiftnas itself (1 rank; under timeout), or
        # mpirun, or one of its ranks
        timeout_pid=$(pgrep -P "$int_pid" timeout | head -n 1)
        child=$(pgrep -P "${timeout_pid:-0}" | head -n 1)
        target=$child
        if [ "$int_ranks" -gt 1 ] && [ "$int_signal" = KILL ]; then
            target=$(pgrep -P "${child:-0}" -f shiftnas | tail -n 1)
        fi
        [ -n "$target" ] && kill -s "$int_signal" "$target" 2>/dev/null
        wait "$int_pid"
        status=$?
        if [ "$status" -ne 0 ]; then
            # a kill ends the job (137 from the process or mpirun's abort);
            # a stop request ends it with 75; the timeout's 124 is a hang
            case $int_signal:$status in
              *:124) reliability hang "$int_signal on $int_ranks rank(s)" ;;
              KILL:*|*:75) reliability clear "$int_signal on $int_ranks rank(s)" ;;
              *) reliability unclear "$int_signal on $int_ranks rank(s): exit $status" ;;
            esac
            return
        fi
        moment=$(awk -v m="$moment" 'BEGIN { printf "%.2f\n", m / 2 }')
    done
}

# finish RANKS RUN [ARGS...]: resume until the run has finished (a kill before the
# first checkpoint restarts it from step 0; a stop asks for a resume), at
# most 3 times; a shift run killed before it wrote config.ini is started
# again. Fails the test on any other exit status.
finish() {
    finish_ranks=$1 finish_run=$2
    shift 2
    for attempt in 1 2 3; do
        if [ ! -e "$work/$finish_run/config.ini" ]; then
            # killed before it wrote anything: start it again, as
            # jobs/train.sbatch does
            start "$finish_ranks" "$finish_run" shift "$@"
        else
            resume "$finish_ranks" "$finish_run" "$@"
        fi
        [ "$status" -eq 0 ] && return 0
        [ "$status" -eq 75 ] || break
    done
    fail "$finish_run: resume exit status $status"
    tail -n 5 "$work/$finish_run.err"
    return 1
}

# same_run_state A B (common.sh): the runs in directories A and B ended with the same bits.

# check_same NAME REFERENCE RUN
check_same() {
    if same_run_state "$work/$2" "$work/$3"; then
        pass "$1"
        record_data "$1" intact
    else
        record_data "$1" lost
        fail "$1: differs from $2"
        h5diff "$work/$2/model.h5" "$work/$3/model.h5" /supernet /supernet | head -n 4
        h5diff "$work/$2/log.h5" "$work/$3/log.h5" | head -n 4
        diff "$work/metrics-a" "$work/metrics-b" | head -n 4
    fi
}

# --- references: every strategy straight through --------------------------------
# SHIFTNAS_TEST_QUICK=1 (the sanitizer pass) stops and resumes shift and
# sandwich only; the others' references are then not needed.
stopped_strategies="shift uniform sandwich attentive flops-uniform"
[ "${SHIFTNAS_TEST_QUICK:-0}" = 1 ] && stopped_strategies="shift sandwich"
for strategy in $stopped_strategies uniform; do
    [ -d "$work/ref-$strategy" ] && continue
    start 1 "ref-$strategy" "$strategy"
    [ "$status" -eq 0 ] || { fail "reference $strategy: exit $status"; cat "$work/ref-$strategy.err"; }
done
start 1 ref-variance shift --set search.shift_statistic=variance
[ "$status" -eq 0 ] || { fail "reference variance: exit $status"; cat "$work/ref-variance.err"; }
echo "references done after $(($(date +%s) - started)) s"
if grep -q "^checkpoint: step 24 (training complete)" "$work/ref-shift.out" &&
   [ "$(final_checkpoint "$work/ref-shift")" = step-000000024.h5 ] &&
   [ "$(ls "$work/ref-shift/checkpoints" | grep -c '^step-')" -eq 3 ]; then
    pass "a run checkpoints every 5 steps, keeps 3, ends with a complete checkpoint"
else
    fail "checkpoints of the reference run"; ls "$work/ref-shift/checkpoints"
fi
# the comparisons are not blind: two different strategies differ
if ! same_run_state "$work/ref-shift" "$work/ref-variance"; then
    pass "same_run_state tells two different runs apart"
else
    fail "same_run_state does not see the difference between two runs"
fi

# --- a stop request at a fixed step, every strategy ------------------------------
# SIGUSR1 raised by the process itself at step 17 (the second epoch): it
# finishes step 17, checkpoints, exits 75; the resume ends where the
# reference did.
for strategy in $stopped_strategies; do
    SHIFTNAS_INJECT_FAULT=0:17:signal start 1 "usr1-$strategy" "$strategy"
    if [ "$status" -ne 75 ] || ! grep -q "^stopped after step 17 of 24" "$work/usr1-$strategy.out" ||
       [ "$(final_checkpoint "$work/usr1-$strategy")" != step-000000017.h5 ]; then
        fail "$strategy: SIGUSR1 at step 17: exit $status, no checkpoint of step 17"
        tail -n 3 "$work/usr1-$strategy.out" "$work/usr1-$strategy.err"
        continue
    fi
    resume 1 "usr1-$strategy"
    if [ "$status" -eq 0 ] && grep -q "^resumed: step 17 of 24" "$work/usr1-$strategy.out"; then
        check_same "$strategy: stopped at step 17 by SIGUSR1, resumed: the same bits" \
            "ref-$strategy" "usr1-$strategy"
    else
        fail "$strategy: resume after SIGUSR1: exit $status"; tail -n 3 "$work/usr1-$strategy.err"
    fi
done
SHIFTNAS_INJECT_FAULT=0:9:signal start 1 usr1-variance shift --set search.shift_statistic=variance
resume 1 usr1-variance
check_same "shift (variance statistic): stopped at step 9, resumed: the same bits" \
    ref-variance usr1-variance

# --- SIGKILL, SIGUSR1 and SIGTERM at random moments -------------------------------
# Between 0.3 and 0.9 of the reference run's wall time (start-up included):
# before the first checkpoint the resume starts over, after the last one it
# has nothing to do; in between it goes on from the latest.
ref_start=$(date +%s.%N)
start 1 ref-timing shift
span=$(awk -v a="$ref_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", b - a }')
low=$(awk -v s="$span" 'BEGIN { printf "%.2f\n", 0.3 * s }')
high=$(awk -v s="$span" 'BEGIN { printf "%.2f\n", 0.9 * s }')
echo "a run takes ${span} s: random moments within [$low, $high] s"

moment=$(random 1 "$low" "$high")
interrupt "$moment" KILL 1 kill-1 shift
echo "1 rank: SIGKILL after $moment s (exit $status)"
finish 1 kill-1 && check_same "1 rank: SIGKILL at ${moment} s, resumed: the same bits" ref-shift kill-1

moment=$(random 2 "$low" "$high")
interrupt "$moment" KILL 2 kill-2 shift
echo "2 ranks: SIGKILL of one rank after $moment s (exit $status)"
finish 2 kill-2 && check_same "2 ranks: SIGKILL of a rank at ${moment} s, resumed on 2: the same bits" \
    ref-shift kill-2

moment=$(random 3 "$low" "$high")
interrupt "$moment" USR1 2 usr1-2to1 shift
echo "2 ranks: SIGUSR1 to mpirun after $moment s (exit $status)"
if [ "$status" -eq 75 ] || [ "$status" -eq 0 ]; then
    finish 1 usr1-2to1 &&
        check_same "2 ranks stopped by SIGUSR1 at ${moment} s, resumed on 1 rank: the same bits" \
            ref-shift usr1-2to1
else
    fail "2 ranks, SIGUSR1 to mpirun: exit $status (expected 75)"; tail -n 5 "$work/usr1-2to1.err"
fi

moment=$(random 4 "$low" "$high")
interrupt "$moment" TERM 1 term-1to2 shift
echo "1 rank: SIGTERM after $moment s (exit $status)"
if [ "$status" -eq 75 ] || [ "$status" -eq 0 ]; then
    finish 2 term-1to2 &&
        check_same "1 rank stopped by SIGTERM at ${moment} s, resumed on 2 ranks: the same bits" \
            ref-shift term-1to2
else
    fail "1 rank, SIGTERM: exit $status (expected 75)"; tail -n 5 "$work/term-1to2.err"
fi

# --- the long form: chains of SIGKILLs on 1, 2 and 3 ranks ------------------------
# SHIFTNAS_TEST_LONG=1 (make check-resume-long; at least
# $SHIFTNAS_TEST_KILLS kills, default 24): a run is killed at a random moment
# up to 4 times, each start or resume on the next rank count of 1, 2, 3 (a
# kill of one rank ends the whole job), then resumed to its end on the next
# one; the chain must end with the reference's bits, and the next chain
# starts on another rank count. (A loaded machine may let a resume be killed
# before its next checkpoint: the chain then makes no progress, hence the
# bounded chain and the final unkilled resume.) Every kill is tallied as a
# "signals" case, every chain's end as a data check.
kill_chain() {
    chain=$1
    chain_ranks=$2
    for link in 1 2 3 4; do
        moment=$(random "$((100 * chain + link))" "$low" "$high")
        (
            if [ -e "$work/$chain_run/config.ini" ]; then resume "$chain_ranks" "$chain_run"
            else start "$chain_ranks" "$chain_run" shift; fi
            exit "$status"
        ) &
        chain_pid=$!
        sleep "$moment"
        timeout_pid=$(pgrep -P "$chain_pid" timeout | head -n 1)
        child=$(pgrep -P "${timeout_pid:-0}" | head -n 1)
        target=$child
        [ "$chain_ranks" -gt 1 ] && target=$(pgrep -P "${child:-0}" -f shiftnas | tail -n 1)
        [ -n "$target" ] && kill -s KILL "$target" 2>/dev/null
        wait "$chain_pid"
        chain_status=$?
        case $chain_status in
          0) return 0 ;;
          124) fail "chain $chain: a kill on $chain_ranks rank(s) left the job hanging"
               reliability hang "chain $chain link $link"; return 1 ;;
        esac
        kills=$((kills + 1))
        echo "chain $chain: SIGKILL after $moment s on $chain_ranks rank(s) (exit $chain_status)"
        reliability clear "SIGKILL on $chain_ranks rank(s), chain $chain link $link"
        chain_ranks=$((chain_ranks % 3 + 1))
    done
    finish "$chain_ranks" "$chain_run"
}
if [ "${SHIFTNAS_TEST_LONG:-0}" = 1 ]; then
    reliability_class=signals
    kills=0
    chain=0
    while [ "$kills" -lt "${SHIFTNAS_TEST_KILLS:-24}" ] && [ "$chain" -lt 20 ]; do
        chain=$((chain + 1))
        chain_run=chain-$chain
        if kill_chain "$chain" "$(( (chain - 1) % 3 + 1 ))"; then
            if same_run_state "$work/ref-shift" "$work/$chain_run"; then
                pass "chain $chain: killed and resumed across 1, 2 and 3 ranks, the same bits"
                record_data "chain $chain" intact
            else
                check_same "chain $chain: the same bits" ref-shift "$chain_run"
                record_data "chain $chain" lost
            fi
        fi
        rm -rf "${work:?}/$chain_run" "$work/$chain_run.out" "$work/$chain_run.err"
    done
    if [ "$kills" -ge "${SHIFTNAS_TEST_KILLS:-24}" ]; then
        pass "long form: $kills SIGKILLs in $chain chains across 1, 2 and 3 ranks"
    else
        fail "long form: only $kills SIGKILLs in $chain chains"
    fi
    reliability_class=signals
fi

# --- a kill in the middle of a checkpoint write -----------------------------------
# Rank 0 dies half way through writing the checkpoint of step 15: `latest`
# still names step 10's, which is complete; the resume starts there, clears
# the temporary and ends with the reference's bits.
SHIFTNAS_INJECT_FAULT=0:15:checkpoint start 2 torn shift
if [ "$status" -ne 0 ] && [ "$(final_checkpoint "$work/torn")" = step-000000010.h5 ] &&
   ls -a "$work/torn/checkpoints" | grep -q '^\.step-000000015\.h5\.tmp$' &&
   "$bin" inspect "$work/torn" >"$work/torn.inspect" 2>&1 &&
   grep -q "^step: 10 of 24" "$work/torn.inspect"; then
    pass "killed while writing step 15's checkpoint: latest still names step 10's, readable"
else
    fail "kill during a checkpoint write: exit $status, latest $(cat "$work/torn/checkpoints/latest")"
    ls -a "$work/torn/checkpoints"
fi
resume 2 torn
if [ "$status" -eq 0 ] && grep -q "^resumed: step 10 of 24" "$work/torn.out" &&
   ! ls -a "$work/torn/checkpoints" | grep -q 'tmp$'; then
    check_same "resumed after the torn write: the same bits, no temporary left" ref-shift torn
else
    fail "resume after the torn write: exit $status"; tail -n 3 "$work/torn.err"
fi

# --- the wall-clock budget ------------------------------------------------------------
start 1 budget shift --set checkpoint.stop_after_seconds=1.5
if [ "$status" -eq 75 ] && grep -q "stop_after_seconds = 1.5 reached" "$work/budget.out"; then
    pass "stop_after_seconds: checkpoint and exit 75"
    finish 1 budget --set checkpoint.stop_after_seconds=0 &&
        check_same "stopped by the time budget, resumed with it off: the same bits" ref-shift budget
else
    fail "stop_after_seconds: exit $status"; tail -n 3 "$work/budget.out"
fi

# --- search returns the same subnets ----------------------------------------------------
for run in ref-shift kill-2 torn; do
    "$bin" search "$work/$run" --targets 2.5M,5M --set search.evolution_evaluations=16 \
        --set search.evolution_population=8 --csv "$work/$run.csv" >"$work/$run.search" 2>&1 ||
        fail "search $run failed: $(tail -n 1 "$work/$run.search")"
    # method, strategy, target, subnet, MACs, parameters, accuracies, evaluations; not the seconds
    cut -d, -f1-9 "$work/$run.csv" >"$work/$run.subnets" 2>/dev/null
done
if [ "$(wc -l <"$work/ref-shift.subnets")" -eq 5 ] &&
   cmp -s "$work/ref-shift.subnets" "$work/kill-2.subnets" &&
   cmp -s "$work/ref-shift.subnets" "$work/torn.subnets"; then
    pass "search returns the same subnets (generator and evolution) after resumed runs"
else
    fail "search after resume differs"; diff "$work/ref-shift.subnets" "$work/kill-2.subnets" | head
fi

# doc/checkpoint_subnet.py (the h5py example) slices the subnets search found
# out of the final checkpoint: their parameter counts must be search's.
python=${PYTHON_H5PY:-/usr/bin/python3}
if "$python" -c 'import h5py, numpy' >/dev/null 2>&1; then
    ok=1
    checkpoint=$work/ref-shift/checkpoints/$(final_checkpoint "$work/ref-shift")
    tail -n +2 "$work/ref-shift.csv" | while IFS= read -r row; do
        arch=$(echo "$row" | cut -d'"' -f2)
        params=$(echo "$row" | cut -d'"' -f3 | cut -d, -f3)
        got=$("$python" "$src/doc/checkpoint_subnet.py" "$checkpoint" "$arch" | sed -n 's/^parameters: //p')
        [ "$got" = "$params" ] || { echo "$arch: example says '$got' parameters, search $params"; exit 1; }
    done || ok=0
    [ "$ok" = 1 ] && pass "doc/checkpoint_subnet.py reads each searched subnet (parameter counts agree)" ||
        fail "doc/checkpoint_subnet.py disagrees with search"
else
    echo "note: h5py not found for $python (Debian: python3-h5py); the h5py example is not checked"
fi

# --- a fixed network resumes too -----------------------------------------------------
# With a training row in metrics.csv every 4 steps ([run]
# metrics_interval_steps): stopped at step 19 (a checkpoint there), or
# killed as step 18 starts (resumed from step 15's checkpoint, the row of
# step 16 written again), the resumed run's rows are the reference's: none
# lost, none twice, the same mean losses (the window 17..20 spans the stop).
rows4="--set run.metrics_interval_steps=4"
config=cnn-fixed.ini start 1 ref-fixed uniform $rows4
SHIFTNAS_INJECT_FAULT=0:19:signal config=cnn-fixed.ini start 1 fixed uniform $rows4
resume 1 fixed
if [ "$status" -eq 0 ] &&
   h5diff "$work/ref-fixed/checkpoints/step-000000024.h5" "$work/fixed/checkpoints/step-000000024.h5" \
       /network /network >/dev/null 2>&1 &&
   h5diff "$work/ref-fixed/checkpoints/step-000000024.h5" "$work/fixed/checkpoints/step-000000024.h5" \
       /optimizer /optimizer >/dev/null 2>&1; then
    pass "fixed CNN: stopped at step 19, resumed: the same weights and optimiser"
else
    fail "fixed CNN resume: exit $status"; tail -n 3 "$work/fixed.err"
fi
status_fixed=$status
SHIFTNAS_INJECT_FAULT=0:18:kill config=cnn-fixed.ini start 1 fixed-killed uniform $rows4
resume 1 fixed-killed
status_fixed_killed=$status
cut -d, -f1-6 "$work/ref-fixed/metrics.csv" >"$work/rows-ref"
if [ "$(grep -c ',train,' "$work/rows-ref")" -eq 6 ] &&
   [ "$(awk -F, '$3 == "train" { printf "%s ", $1 }' "$work/rows-ref")" = "4 8 12 16 20 24 " ]; then
    pass "metrics_interval_steps = 4: a training row at steps 4, 8, ..., 24"
else
    fail "training rows of the reference"; cat "$work/rows-ref"
fi
for run in fixed:$status_fixed fixed-killed:$status_fixed_killed; do
    name=${run%:*}
    cut -d, -f1-6 "$work/$name/metrics.csv" >"$work/rows-$name"
    if [ "${run#*:}" -eq 0 ] && cmp -s "$work/rows-ref" "$work/rows-$name"; then
        pass "$name, resumed: metrics.csv's training rows neither lost nor repeated, the same losses"
    else
        fail "$name (resume exit ${run#*:}): metrics.csv differs from the reference's"
        diff "$work/rows-ref" "$work/rows-$name"
    fi
done
# metrics.csv's seconds count the run's time over its sessions: they go on
# from the checkpoint's after a resume, never back to zero, so the last row
# gives what a preempted run cost.
for name in fixed usr1-shift; do
    if [ -s "$work/$name/metrics.csv" ] &&
       awk -F, 'NR > 1 { if ($7 + 0 < last) bad = 1; last = $7 + 0 } END { exit bad }' \
           "$work/$name/metrics.csv"; then
        pass "$name, resumed: metrics.csv's seconds go on across the resume ($(awk -F, 'END { print $7 }' "$work/$name/metrics.csv") s in all)"
    else
        fail "$name, resumed: metrics.csv's seconds go back at the resume"
        cut -d, -f1,3,7 "$work/$name/metrics.csv" | tr '\n' ' '
    fi
done

# --- refusals -----------------------------------------------------------------------
reliability_class=checkpoint
expect_error "resume of a directory without a run" 1 "not a run directory" \
    "$bin" train --resume "$work/nothing-here"
expect_error "a non-neutral --set on resume" 1 "\[train\] epochs cannot change on --resume" \
    "$bin" train --resume "$work/usr1-shift" --set train.epochs=3
expect_error "--resume with --config" 2 "drop --config" \
    "$bin" train --resume "$work/usr1-shift" --config "$src/jobs/configs/cnn-space.ini"
expect_error "--resume-strict without --resume" 2 "goes with --resume" \
    "$bin" train --config "$src/jobs/configs/cnn-space.ini" --resume-strict
"$bin" train --resume "$work/ref-uniform" >"$work/out" 2>&1
if [ $? -eq 0 ] && grep -q "already finished" "$work/out"; then
    pass "resuming a finished run: nothing to do, exit 0"
else
    fail "resuming a finished run"; cat "$work/out"
fi

# A stopped run whose latest checkpoint is then damaged: with --resume-strict
# the resume refuses with the file named and changes nothing.
reliability_class=storage
SHIFTNAS_INJECT_FAULT=0:12:signal start 1 damaged uniform
latest=$work/damaged/checkpoints/$(final_checkpoint "$work/damaged")
cp "$latest" "$work/intact.h5"
cp "$work/damaged/checkpoints/latest" "$work/latest-before"
size=$(wc -c <"$latest")
head -c "$((size / 2))" "$work/intact.h5" >"$latest"
expect_error "truncated checkpoint, --resume-strict" 1 "$(basename "$latest").*truncated" \
    "$bin" train --resume "$work/damaged" --resume-strict
cp "$work/intact.h5" "$latest"
printf '\377' | dd of="$latest" bs=1 seek=$((size / 3)) conv=notrunc 2>/dev/null
expect_error "a flipped byte, --resume-strict" 1 "$(basename "$latest").*checksum" \
    "$bin" train --resume "$work/damaged" --resume-strict
cp "$work/ref-uniform/model.h5" "$latest"
expect_error "a foreign file (model.h5) as the checkpoint, --resume-strict" 1 "not a shiftnas checkpoint" \
    "$bin" train --resume "$work/damaged" --resume-strict
cp "$work/intact.h5" "$latest"
if cmp -s "$work/latest-before" "$work/damaged/checkpoints/latest" &&
   "$bin" inspect "$latest" >/dev/null 2>&1; then
    pass "the refused resumes left the run as it was"
else
    fail "a refused resume changed the run"
fi
# a checkpoint of another search space (vit-space.ini) in this run: intact,
# but not this run's; refused without --resume-strict too (no fallback)
config=vit-space.ini start 1 vit shift --set train.epochs=1 --set checkpoint.interval_steps=0
vit_latest=$work/vit/checkpoints/$(final_checkpoint "$work/vit")
cp "$vit_latest" "$latest"
expect_error "a checkpoint of another search space" 1 "written with \[.*\].*but this run has" \
    "$bin" train --resume "$work/damaged"
cp "$work/intact.h5" "$latest"

# --- a damaged latest: the resume falls back ------------------------------------------
# fallback RANKS RUN NAME PATTERN DAMAGE...: a uniform run stopped at step 12
# (checkpoints of steps 5, 10, 12), damaged by the command DAMAGE (run in
# its checkpoints directory), then resumed: one line matching PATTERN says
# which checkpoint it falls back to, and the run ends as the reference.
fallback() {
    fb_ranks=$1 fb_run=$2 fb_name=$3 fb_pattern=$4
    shift 4
    [ -d "$work/$fb_run" ] || SHIFTNAS_INJECT_FAULT=0:12:signal start 1 "$fb_run" uniform
    (cd "$work/$fb_run/checkpoints" && "$@") || fail "$fb_name: the damage failed"
    : >"$work/$fb_run.out"
    resume "$fb_ranks" "$fb_run"
    if [ "$status" -eq 0 ] && [ "$(grep -c 'resuming from' "$work/$fb_run.out")" -eq 1 ] &&
       grep -q "^shiftnas train: warning: .*$fb_pattern" "$work/$fb_run.out" &&
       same_run_state "$work/ref-uniform" "$work/$fb_run"; then
        pass "$fb_name: one line, then the reference's bits"
        record_data "$fb_name" intact
    else
        fail "$fb_name: exit $status"; grep "resum" "$work/$fb_run.out"; tail -n 3 "$work/$fb_run.err"
        record_data "$fb_name" lost
    fi
}
flip_byte() {
    flip_size=$(wc -c <"$1")
    printf '\377' | dd of="$1" bs=1 seek=$((flip_size / 3)) conv=notrunc 2>/dev/null
}
fallback 1 damaged "latest's checkpoint fails its CRC: falls back" \
    "step-000000012.h5: damaged: checksum .*: resuming from step-000000010.h5 instead" \
    flip_byte step-000000012.h5
fallback 2 truncated "latest's checkpoint truncated, 2 ranks: falls back" \
    "step-000000012.h5: truncated.*: resuming from step-000000010.h5 instead" \
    truncate -s 100000 step-000000012.h5
fallback 1 garbage "latest is garbage: falls back to the newest intact checkpoint" \
    "latest: malformed.*: resuming from step-000000012.h5 instead" \
    sh -c 'printf "\001garbage" >latest'
fallback 1 missing "latest names a missing file: falls back" \
    "latest names step-000000099.h5, which does not exist: resuming from step-000000012.h5 instead" \
    sh -c 'echo step-000000099.h5 >latest'
# nothing intact left: refused (starting over is the user's decision)
SHIFTNAS_INJECT_FAULT=0:12:signal start 1 ruined uniform
for checkpoint in "$work"/ruined/checkpoints/step-*.h5; do
    truncate -s 1000 "$checkpoint"
done
expect_error "no intact checkpoint to fall back to" 1 \
    "step-000000012.h5: truncated.*and no other checkpoint in .* is intact" \
    "$bin" train --resume "$work/ruined"
reliability_class=CLI

echo "$passes passed, $failures failed in $(($(date +%s) - started)) s"
[ "$failures" -eq 0 ]
