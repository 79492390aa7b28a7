#!/usr/bin/env bash
# tests/slurm/test_jobs.sh - the job scripts of jobs/ on a real one-node Slurm
# cluster (slurmctld + slurmd + munged on this machine, tests/slurm/cluster.sh).
# Run by `make check-slurm`; needs root (slurmd). Installs Debian's Slurm and
# munge packages when they are missing (as root); without root and without
# them it skips (exit 77).
#
# What it checks, on a tiny configuration (cnn-space.ini shrunk with --set):
#  1. reference: jobs/train.sbatch on 2 tasks, uninterrupted; it completes.
#  2. preempted: the same on another RUN_DIR, stopped twice mid-training:
#     first `scancel --signal=USR1 --batch` (what --signal=B:USR1@120 sends
#     before the time limit): the script forwards it, the run checkpoints,
#     exits 75 and the job requeues itself; then, once it has resumed,
#     `scontrol requeue` (Slurm's SIGTERM to every process, as for
#     preemption): the run checkpoints and Slurm requeues the job. It must
#     resume twice from a mid-training checkpoint, finish, and end bit for
#     bit like the reference: h5diff of model.h5's /supernet and /generator
#     and of log.h5, metrics.csv but for its seconds column, and the same
#     search results (search.csv but for its seconds column), searched by
#     jobs/search.sbatch -n 2 (srun on both tasks) chained with afterok (which must not start before
#     the requeued job completed).
#  3. ablation: jobs/ablation.sbatch as a 3-task array (3 strategies x 1
#     seed, %2: never more than 2 tasks at once), each task's run directory
#     trained with its strategy and seed; jobs/search.sbatch chained on the
#     array with afterok searches every run.
#  4. a run with a configuration error fails without a requeue; a run that
#     stops on its [checkpoint] stop_after_seconds budget with no requeue
#     left (SHIFTNAS_MAX_REQUEUES=0) fails with exit 75 and says why.
#  5. study: jobs/study.sbatch (a 2-task job running jobs/study.sh run, 2
#     arms x 1 seed, a 2-probe panel), stopped once mid-training with
#     `scancel --signal=USR1 --batch`: it requeues itself, the run resumes
#     from its checkpoint and both summaries appear. Skipped while shiftnas
#     has no probe command or jobs/probes/cnn-space.txt is missing.
# Everything is submitted at once (the node offers 4 CPUs on any machine:
# SLURM_LOCAL_CPUS=4 oversubscribes a small one) and runs as Slurm schedules
# it. The daemons are stopped by PID at the end, failure or not; the state
# and work directory (under /tmp) is removed on success and kept, with the
# job outputs and daemon logs printed, on failure.
#
# Environment: SHIFTNAS_SOURCE_DIR, SHIFTNAS_BUILD_DIR (the Makefile sets
# both), SHIFTNAS (the program; default the build tree's ./shiftnas),
# SHIFTNAS_SLURM_KEEP=1 keeps the work directory (job outputs, runs) on
# success too.
# pass and fail always succeed, so `test && pass || fail` is an if-else;
# the --set values contain commas on purpose.
# shellcheck disable=SC2015,SC2054
set -u

src=${SHIFTNAS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
build=${SHIFTNAS_BUILD_DIR:-$src}
jobs=$src/jobs
cluster=$src/tests/slurm/cluster.sh
export SHIFTNAS=${SHIFTNAS:-$build/shiftnas}

say() { echo "test_jobs: $*"; }
failures=0
pass() { echo "PASS: $*"; }
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# -------------------------------------------------------- prerequisites ----

packages=(slurm-wlm slurmctld slurmd slurm-client munge hdf5-tools)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "$(id -u)" != 0 ]; then
    if [ ${#missing[@]} -gt 0 ]; then
        say "SKIP: not root, and Slurm packages are missing (${missing[*]}): run make check-slurm as root (it installs them)"
    else
        say "SKIP: not root: slurmd and slurmctld of the test cluster must run as root"
    fi
    exit 77
fi
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} (apt-get)"
    apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
        { say "FAIL: apt-get install ${missing[*]} failed"; exit 1; }
fi
[ -x "$SHIFTNAS" ] || { say "FAIL: $SHIFTNAS not built (make first)"; exit 1; }

# -------------------------------------------------------------- cluster ----

top=$(mktemp -d /tmp/shiftnas-slurm.XXXXXX) || exit 1
chmod 755 "$top" # munged runs as user munge and needs to reach its socket
work=$top/work
mkdir -p "$work"
export SLURM_LOCAL_DIR=$top/cluster
# Two free ports near 16817 (not Slurm's defaults: a cluster of the machine
# may use those).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for ((port = 16817; port < 17017; port += 2)); do
    if port_free "$port" && port_free $((port + 1)); then break; fi
done
export SLURM_LOCAL_CTLD_PORT=$port SLURM_LOCAL_SLURMD_PORT=$((port + 1))
export SLURM_LOCAL_CPUS=4           # 2 jobs of 2 tasks at once, on any machine
export SLURM_LOCAL_CRED_EXPIRE=10   # a requeued job waits ~10 s, not 120 s
export SLURM_LOCAL_KILL_WAIT=60     # time to checkpoint on a loaded machine

started=0
finish() {
    local status=$?
    trap - EXIT INT TERM
    if [ $failures -gt 0 ] || [ $status != 0 ]; then
        [ $status = 0 ] && status=1
        say "job outputs and daemon logs follow (kept in $top)"
        for f in "$work"/*.out; do
            [ -f "$f" ] || continue
            echo "---- $f"
            tail -n 60 "$f"
        done
        for f in "$SLURM_LOCAL_DIR"/log/slurmctld.log "$SLURM_LOCAL_DIR"/log/slurmd.log; do
            [ -f "$f" ] || continue
            echo "---- $f (last 40 lines)"
            tail -n 40 "$f"
        done
    fi
    if [ $started = 1 ]; then
        # By the PIDs in the cluster's pid files (cluster.sh stop).
        "$cluster" stop || say "cluster.sh stop failed"
    fi
    if [ $status = 0 ] && [ -z "${SHIFTNAS_SLURM_KEEP:-}" ]; then
        rm -rf "$top"
    else
        say "kept $top"
    fi
    say "$( [ $status = 0 ] && echo "all passed" || echo "$failures check(s) failed") in $SECONDS s"
    exit $status
}
trap finish EXIT
trap 'say "interrupted"; exit 130' INT TERM

started=1
env_line=$("$cluster" start) || { say "FAIL: the test cluster did not start"; exit 1; }
eval "$env_line"
export SLURM_CONF
say "cluster up in $SECONDS s (ports $SLURM_LOCAL_CTLD_PORT/$SLURM_LOCAL_SLURMD_PORT, state $top)"

# ------------------------------------------------------------- settings ----

config=$jobs/configs/cnn-space.ini
# A tiny version of the CNN space (1.8M MACs at most): 62 steps of 32
# images over 2 epochs; the shift statistics every 5 steps (so the
# preemptions fall among probability updates); a progress line every 0.2 s,
# so that the test sees the step it preempts at closely.
tiny=(--set space.stem_channels=8 --set space.stage_channels=8,16,24
      --set data.train_limit=1300 --set data.validation_size=300 --set data.test_limit=300
      --set train.epochs=2 --set train.batch_size=32 --set train.eval_batch_size=100
      --set search.shift_interval=5 --set search.shift_validation_images=32
      --set search.evolution_validation_images=0 --set run.progress_seconds=0.2)
total_steps=62
search_args=(--targets 0.8M,1.5M --set search.evolution_evaluations=8 --set search.evolution_population=4
             --set search.evolution_parents=2 --set search.recalibration_batches=2)
sb() { sbatch --parsable --chdir="$work" "$@"; }

# ---------------------------------------------------------- helpers ----

job_field() { # jobid Field -> value (scontrol show job)
    scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

job_ended() { # jobid -> 0 when the job reached a final state
    case $(job_field "$1" JobState) in
        COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | DEADLINE | BOOT_FAIL) return 0 ;;
    esac
    return 1
}

# Latest training step printed in a job output after its last line matching
# a pattern (progress lines: "epoch E/N step S/T ...").
step_after() { # file pattern
    awk -v pat="$2" '$0 ~ pat {s = 0} / step [0-9]+\/[0-9]+ / {for (i = 1; i < NF; i++) if ($i == "step") {split($(i + 1), a, "/"); s = a[1]}} END {print s + 0}' "$1"
}

# Waits until the job's output shows at least `min` steps trained since its
# last line matching the pattern; fails after the deadline.
wait_step() { # jobid file pattern min deadline
    local end=$((SECONDS + $5)) s
    while :; do
        s=$(step_after "$2" "$3" 2>/dev/null || echo 0)
        [ "${s:-0}" -ge "$4" ] && return 0
        if job_ended "$1"; then
            fail "job $1 ended ($(job_field "$1" JobState)) before step $4"
            return 1
        fi
        if [ $SECONDS -ge $end ]; then
            fail "job $1 did not reach step $4 within $5 s"
            return 1
        fi
        sleep 0.2
    done
}

# Waits until the job's output has n lines matching the pattern.
wait_line() { # jobid file pattern n deadline
    local end=$((SECONDS + $5))
    while [ "$(grep -Ec -- "$3" "$2" 2>/dev/null)" -lt "$4" ]; do
        if job_ended "$1"; then
            fail "job $1 ended ($(job_field "$1" JobState)) without a line matching '$3'"
            return 1
        fi
        if [ $SECONDS -ge $end ]; then
            fail "no line matching '$3' in $2 within $5 s"
            return 1
        fi
        sleep 0.3
    done
}

# Checkpoint step named by the n-th "resuming: ... (step-NNN.h5)" log line.
resumed_step() { # file n
    grep 'resuming: .* with a checkpoint' "$1" | sed -n "$2p" |
        sed -n 's/.*step-0*\([0-9][0-9]*\)\.h5.*/\1/p'
}

expect_completed() { # jobid what
    local state exit_code
    state=$(job_field "$1" JobState)
    exit_code=$(job_field "$1" ExitCode)
    if [ "$state" = COMPLETED ] && [ "$exit_code" = 0:0 ]; then
        pass "$2: job $1 completed"
    else
        fail "$2: job $1 ended $state with exit code $exit_code"
    fi
}

expect_log() { # file pattern what
    if grep -Eq -- "$2" "$1"; then pass "$3"; else fail "$3 (no line matching '$2' in $1)"; fi
}

# search.csv without its last column (seconds taken), sorted.
search_rows() { sed '1d; s/,[^,]*$//' "$1" | sort; }

# ------------------------------------------------------------ submit all ----

ref=$(sb -n 2 -o ref-%j.out "$jobs/train.sbatch" "$config" ref "${tiny[@]}") ||
    { fail "sbatch train.sbatch (reference)"; exit 1; }
pre=$(sb -n 2 -o pre-%j.out "$jobs/train.sbatch" "$config" pre "${tiny[@]}") ||
    { fail "sbatch train.sbatch (preempted)"; exit 1; }
search_pair=$(sb -n 2 --dependency="afterok:$ref:$pre" -o search-pair-%j.out "$jobs/search.sbatch" \
    "${search_args[@]}" ref pre) || { fail "sbatch search.sbatch (pair)"; exit 1; }
array=$(SHIFTNAS_STRATEGIES="uniform flops-uniform shift" SHIFTNAS_SEEDS=3 \
    sb --array=0-2%2 -n 1 -o ablation-%A_%a.out "$jobs/ablation.sbatch" "$config" results "${tiny[@]}") ||
    { fail "sbatch ablation.sbatch"; exit 1; }
search_sweep=$(sb --dependency="afterok:$array" -o search-sweep-%j.out "$jobs/search.sbatch" \
    "${search_args[@]}" results) || { fail "sbatch search.sbatch (sweep)"; exit 1; }
# A failing run (an unknown key): FAILED with shiftnas's code, no requeue.
bad=$(sb -n 1 -o bad-%j.out "$jobs/train.sbatch" "$config" bad --set train.no_such_key=1) ||
    { fail "sbatch train.sbatch (bad)"; exit 1; }
# A run out of budget ([checkpoint] stop_after_seconds) with no requeue
# left (SHIFTNAS_MAX_REQUEUES=0): exit 75 and a message, no requeue.
budget=$(SHIFTNAS_MAX_REQUEUES=0 sb -n 1 -o budget-%j.out "$jobs/train.sbatch" "$config" budget \
    "${tiny[@]}" --set checkpoint.stop_after_seconds=1) || { fail "sbatch train.sbatch (budget)"; exit 1; }
say "submitted: reference $ref, preempted $pre, search $search_pair (afterok), ablation array $array (%2), search $search_sweep (afterok), failing $bad, out of budget $budget"

# ------------------------------------------------------ preempt twice ----

pre_out=$work/pre-$pre.out
if wait_step "$pre" "$pre_out" 'starting a new run' 6 180; then
    say "preempting at step $(step_after "$pre_out" 'starting a new run') after $SECONDS s: scancel --signal=USR1 --batch $pre"
    scancel --signal=USR1 --batch "$pre" || fail "scancel --signal=USR1 --batch $pre"
    # Requeued by itself, resumed from its checkpoint, then trained 6 steps.
    if wait_line "$pre" "$pre_out" 'resuming: .* with a checkpoint' 1 180 &&
        wait_step "$pre" "$pre_out" 'resuming: ' $(($(resumed_step "$pre_out" 1) + 6)) 180; then
        say "preempting at step $(step_after "$pre_out" 'resuming: ') after $SECONDS s: scontrol requeue $pre"
        scontrol requeue "$pre" || fail "scontrol requeue $pre"
    fi
fi

# Then wait for everything. A job whose dependency can no longer be
# satisfied (afterok on a failed job) would wait forever: cancel it.
end=$((SECONDS + 420))
all="$ref,$pre,$search_pair,$array,$search_sweep,$bad,$budget"
while :; do
    queued=$(squeue -h -j "$all" -o '%i %r' 2>/dev/null)
    [ -z "$queued" ] && break
    never=$(echo "$queued" | awk '$2 == "DependencyNeverSatisfied" {print $1}')
    if [ -n "$never" ]; then
        fail "jobs whose dependency failed: $(echo "$never" | tr '\n' ' ')(cancelled)"
        # shellcheck disable=SC2086
        scancel $never
    fi
    if [ $SECONDS -ge $end ]; then
        fail "jobs still queued or running after $SECONDS s: $(squeue -h -j "$all" -o '%i:%T:%r' | tr '\n' ' ')"
        break
    fi
    sleep 1
done
say "all jobs ended after $SECONDS s"

# ----------------------------------------------------------- 1. reference ----

ref_out=$work/ref-$ref.out
expect_completed "$ref" "reference"
expect_log "$ref_out" 'starting a new run in ref' "reference: started a new run"
expect_log "$ref_out" 'exit code 0: the run in ref is complete' "reference: finished"
expect_log "$ref_out" "srun --mpi=pmix +$SHIFTNAS train --config" "reference: trained through srun --mpi=pmix"
expect_log "$ref_out" '^ranks: 2,' "reference: 2 ranks (the allocation's tasks)"
if grep -q 'resuming' "$ref_out"; then fail "reference: resumed (it was never stopped)"; fi

# ----------------------------------------------------------- 2. preempted ----

expect_completed "$pre" "preempted"
restarts=$(job_field "$pre" Restarts)
[ "$restarts" = 2 ] && pass "preempted: requeued twice (Restarts=2)" ||
    fail "preempted: Restarts=$restarts, expected 2"
expect_log "$pre_out" 'SIGUSR1 received' "preempted: the batch shell received SIGUSR1 and forwarded it"
expect_log "$pre_out" 'stopped with a checkpoint \(exit 75, after SIGUSR1\): requeueing job' \
    "preempted: exit 75 after SIGUSR1, the job requeued itself"
expect_log "$pre_out" 'start 2 \(SLURM_RESTART_COUNT=1' "preempted: second start has SLURM_RESTART_COUNT=1"
expect_log "$pre_out" 'SIGTERM received' "preempted: scontrol requeue's SIGTERM reached the batch shell"
expect_log "$pre_out" 'stopped with a checkpoint \(exit 75\) after SIGTERM: Slurm ends this job' \
    "preempted: exit 75 after SIGTERM, left to Slurm's requeue"
expect_log "$pre_out" 'start 3 \(SLURM_RESTART_COUNT=2' "preempted: third start has SLURM_RESTART_COUNT=2"
expect_log "$pre_out" 'on resume these settings come from pre/config.ini.*data.train_limit=1300' \
    "preempted: result-changing --set options dropped on resume"
expect_log "$pre_out" "srun --mpi=pmix +$SHIFTNAS train --resume pre --set run.progress_seconds=0.2" \
    "preempted: resumed with train --resume, keeping the neutral --set"
expect_log "$pre_out" 'exit code 0: the run in pre is complete' "preempted: finished"
first=$(resumed_step "$pre_out" 1)
second=$(resumed_step "$pre_out" 2)
if [ -n "$first" ] && [ -n "$second" ] && [ "$first" -gt 0 ] && [ "$first" -lt "$second" ] &&
    [ "$second" -lt $total_steps ]; then
    pass "preempted: resumed from mid-training checkpoints at steps $first and $second of $total_steps"
    expect_log "$pre_out" "^resumed: step $first of $total_steps from pre/checkpoints/step-0*$first.h5" \
        "preempted: shiftnas resumed at step $first"
    expect_log "$pre_out" "^resumed: step $second of $total_steps from pre/checkpoints/step-0*$second.h5" \
        "preempted: shiftnas resumed at step $second"
else
    fail "preempted: checkpoints at steps '${first:-none}' and '${second:-none}', expected 0 < first < second < $total_steps"
fi

for part in supernet generator; do
    if h5diff -q "$work/ref/model.h5" "$work/pre/model.h5" "/$part" "/$part" >/dev/null 2>&1; then
        pass "preempted = reference: model.h5 /$part identical (h5diff)"
    else
        fail "preempted != reference: model.h5 /$part differs: $(h5diff -r "$work/ref/model.h5" "$work/pre/model.h5" "/$part" "/$part" 2>&1 | head -n 5 | tr '\n' ' ')"
    fi
done
if h5diff -q "$work/ref/log.h5" "$work/pre/log.h5" >/dev/null 2>&1; then
    pass "preempted = reference: log.h5 identical (h5diff)"
else
    fail "preempted != reference: log.h5 differs: $(h5diff -r "$work/ref/log.h5" "$work/pre/log.h5" 2>&1 | head -n 5 | tr '\n' ' ')"
fi
# metrics.csv without its last column (seconds since the start).
if [ -s "$work/ref/metrics.csv" ] &&
    diff <(sed 's/,[^,]*$//' "$work/ref/metrics.csv") <(sed 's/,[^,]*$//' "$work/pre/metrics.csv") >/dev/null 2>&1; then
    pass "preempted = reference: metrics.csv identical but for its seconds column"
else
    fail "preempted != reference: metrics.csv differs or is missing"
fi
# The comparison can see a difference: another seed's shift run differs.
if [ -f "$work/results/shift-seed3/model.h5" ] &&
    ! h5diff -q "$work/ref/model.h5" "$work/results/shift-seed3/model.h5" /supernet /supernet >/dev/null 2>&1; then
    pass "h5diff tells runs apart (reference vs the ablation's seed-3 shift run)"
else
    fail "h5diff does not tell the reference from the seed-3 shift run"
fi

expect_completed "$search_pair" "search of reference and preempted"
expect_log "$work/search-pair-$search_pair.out" 'searching 2 run\(s\) .* on 2 task\(s\)' \
    "search.sbatch -n 2: the search ran on the job's 2 tasks"
if [ "$(job_field "$search_pair" StartTime)" \> "$(job_field "$pre" EndTime)" ] ||
    [ "$(job_field "$search_pair" StartTime)" = "$(job_field "$pre" EndTime)" ]; then
    pass "search (afterok) started after the requeued job completed"
else
    fail "search started $(job_field "$search_pair" StartTime), before the preempted job ended $(job_field "$pre" EndTime)"
fi
if [ -s "$work/ref/search.csv" ] && [ -s "$work/pre/search.csv" ] &&
    [ "$(search_rows "$work/ref/search.csv" | wc -l)" -ge 2 ] &&
    diff <(search_rows "$work/ref/search.csv") <(search_rows "$work/pre/search.csv") >/dev/null; then
    pass "preempted = reference: identical search results ($(search_rows "$work/ref/search.csv" | wc -l) rows)"
else
    fail "search results differ or are missing: $(diff <(search_rows "$work/ref/search.csv" 2>&1) <(search_rows "$work/pre/search.csv" 2>&1) | head -n 6 | tr '\n' ' ')"
fi

# ---------------------------------------------------- failures, budget ----

bad_out=$work/bad-$bad.out
if [ "$(job_field "$bad" JobState)" = FAILED ] && [ "$(job_field "$bad" ExitCode)" = 1:0 ] &&
    [ "$(job_field "$bad" Restarts)" = 0 ]; then
    pass "failing run: job $bad FAILED with exit code 1, not requeued"
else
    fail "failing run: job $bad $(job_field "$bad" JobState) exit $(job_field "$bad" ExitCode) restarts $(job_field "$bad" Restarts)"
fi
expect_log "$bad_out" 'ERROR: training step failed with exit code 1 .*not requeueing' "failing run: says why it is not requeued"

budget_out=$work/budget-$budget.out
if [ "$(job_field "$budget" JobState)" = FAILED ] && [ "$(job_field "$budget" ExitCode)" = 75:0 ] &&
    [ "$(job_field "$budget" Restarts)" = 0 ]; then
    pass "out of budget, no requeue left: job $budget FAILED with exit code 75, not requeued"
else
    fail "out of budget: job $budget $(job_field "$budget" JobState) exit $(job_field "$budget" ExitCode) restarts $(job_field "$budget" Restarts)"
fi
expect_log "$budget_out" 'stopped with a checkpoint \(exit 75\), but the requeue limit is reached \(requeued 0 time\(s\), SHIFTNAS_MAX_REQUEUES=0\): not requeueing' \
    "out of budget: the requeue limit is reported"
[ -e "$work/budget/checkpoints/latest" ] && pass "out of budget: a checkpoint was written" ||
    fail "out of budget: no $work/budget/checkpoints/latest"

# ------------------------------------------------------------ 3. ablation ----

i=0
for strategy in uniform flops-uniform shift; do
    out=$work/ablation-${array}_$i.out
    dir=$work/results/$strategy-seed3
    state=$(squeue -h -r -t all -j "${array}_$i" -o %T 2>/dev/null)
    [ "$state" = COMPLETED ] && pass "ablation task $i completed" || fail "ablation task $i: state '$state'"
    expect_log "$out" "this is task $i: strategy $strategy, seed 3, run directory results/$strategy-seed3" \
        "ablation task $i: index -> ($strategy, seed 3)"
    expect_log "$out" "exit code 0: the run in results/$strategy-seed3 is complete" "ablation task $i: finished"
    if grep -Eq "^strategy *= *$strategy\$" "$dir/config.ini" 2>/dev/null &&
        grep -Eq '^seed *= *3$' "$dir/config.ini"; then
        pass "ablation task $i: $dir/config.ini has strategy $strategy and seed 3"
    else
        fail "ablation task $i: $dir/config.ini lacks strategy $strategy / seed 3"
    fi
    rows=$(sed 1d "$dir/search.csv" 2>/dev/null | cut -d, -f2 | sort -u | tr '\n' ' ')
    [ "$rows" = "$strategy " ] && pass "ablation task $i: search.csv rows of strategy $strategy" ||
        fail "ablation task $i: search.csv strategies '$rows'"
    i=$((i + 1))
done
# Most tasks running at once: at each task's start, the tasks that started
# no later and had not yet ended (scontrol's times, to the second).
most=$(for i in 0 1 2; do
    echo "$(job_field "${array}_$i" StartTime) $(job_field "${array}_$i" EndTime)"
done | awk '{s[NR] = $1; e[NR] = $2} END {m = 0; for (i = 1; i <= NR; i++) {n = 0; for (j = 1; j <= NR; j++) if (s[j] <= s[i] && s[i] < e[j]) n++; if (n > m) m = n}; print m}')
[ "$most" -le 2 ] && [ "$most" -ge 1 ] && pass "ablation: at most $most tasks ran at once (%2)" ||
    fail "ablation: $most tasks ran at once with %2"
expect_completed "$search_sweep" "search of the sweep (afterok on the array)"
expect_log "$work/search-sweep-$search_sweep.out" 'searching 3 run\(s\)' "search of the sweep: found the 3 runs in results/"

# --------------------------------------------------------------- 5. study ----

if ! "$SHIFTNAS" probe --help >/dev/null 2>&1 || [ ! -r "$jobs/probes/cnn-space.txt" ]; then
    say "study: skipped (no 'shiftnas probe' or no jobs/probes/cnn-space.txt in this tree yet)"
else
    grep -v '^#' "$jobs/probes/cnn-space.txt" | grep . | sed -n '1p;$p' >"$work/panel.txt"
    study=$(STUDY=slurm STUDY_RUNS=$work/study-runs STUDY_REPO=$work/study-repo STUDY_COMMIT=0 \
        STUDY_PHASES=paired STUDY_PAIRED_ARMS="shift uniform" STUDY_PAIRED_SEEDS=1 \
        STUDY_CNN_PROBES=$work/panel.txt STUDY_TARGETS=4M,8M \
        STUDY_SET="data.train_limit=1300 data.validation_size=300 data.test_limit=300 train.batch_size=32
            train.max_steps=30 train.eval_batch_size=100 search.shift_interval=5 search.shift_validation_images=32
            search.evolution_validation_images=100 search.recalibration_batches=1 checkpoint.interval_steps=5 run.progress_seconds=0.2" \
        STUDY_SEARCH_SET="search.evolution_evaluations=4 search.evolution_population=4 search.evolution_parents=2
            search.evolution_validation_images=100 search.evolution_recalibration_batches=1" \
        sb -o study-%j.out "$jobs/study.sbatch") || fail "sbatch study.sbatch"
    study_out=$work/study-$study.out
    study_log=$work/study-runs/cnn-slurm/logs/shift-seed1.log
    if wait_step "$study" "$study_log" 'train --config' 6 240; then
        say "stopping the study at step $(step_after "$study_log" 'train --config'): scancel --signal=USR1 --batch $study"
        scancel --signal=USR1 --batch "$study" || fail "scancel --signal=USR1 --batch $study"
    fi
    end=$((SECONDS + 300))
    while ! job_ended "$study"; do
        [ $SECONDS -ge $end ] && { fail "study: job $study still $(job_field "$study" JobState) after 300 s"; scancel "$study"; break; }
        sleep 1
    done
    expect_completed "$study" "study"
    [ "$(job_field "$study" Restarts)" = 1 ] && pass "study: requeued once (Restarts=1)" ||
        fail "study: Restarts=$(job_field "$study" Restarts), expected 1"
    expect_log "$study_out" 'requeueing job .*continues where this one stopped' "study: the job requeued itself after SIGUSR1"
    expect_log "$study_out" 'continuing .*/shift-seed1 \(checkpoint step [0-9]+\)' "study: the next start continued shift-seed1"
    expect_log "$study_log" '^resumed: step [1-9][0-9]* of 30 ' "study: shift-seed1 resumed from its checkpoint"
    expect_log "$study_log" 'srun --mpi=pmix .* probe ' "study: probe through srun"
    for run in shift-seed1 uniform-seed1; do
        summary=$work/study-repo/doc/results/data/cnn-slurm/$run
        if [ -s "$summary/probes.csv" ] && [ -s "$summary/search.csv" ] && grep -q '^ranks 2$' "$summary/timing.txt" 2>/dev/null; then
            pass "study: $run summarized (probes.csv, search.csv, timing.txt with ranks 2)"
        else
            fail "study: $run summary incomplete"
        fi
    done
fi

[ $failures = 0 ]
