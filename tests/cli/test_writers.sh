#!/bin/sh
# One writer per run directory (doc/checkpoint.md): two `train --resume` of
# one run at once, two new runs racing for one --out, a search, an eval
# --csv or a third resume while a run trains, two reports into one output
# directory: exactly one writer proceeds, the others exit 1 with one line
# naming the holder (host, pid), and the run ends with the same bits as one
# that never met a second writer. The lock goes with its holder: after a
# kill -9 the next resume proceeds. On 1 and 2 ranks. Tiny runs on a slice
# of Fashion-MNIST; skipped (77) without the data set, mpirun or h5diff, or
# in a build without --enable-fault-injection (the runs to resume are
# stopped at a chosen step by SHIFTNAS_INJECT_FAULT).
#
# A writer is held in place with SIGSTOP while the others try, so that the
# collisions do not depend on timing; the two-at-once cases start both
# writers together and accept either as the winner.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
src=${SHIFTNAS_SOURCE_DIR:-.}
data=/usr/share/datasets/fashion-mnist
mpirun=${MPIRUN:-mpirun}
if [ ! -r "$data/train-images-idx3-ubyte.gz" ] && [ ! -r "$data/train-images-idx3-ubyte" ]; then
    echo "skip: Fashion-MNIST not found in $data"; exit 77
fi
for tool in "$mpirun" h5diff h5ls timeout pgrep hostname; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skip: $tool not found"; exit 77; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-writers.XXXXXX")
# a writer held with SIGSTOP must not outlive a failed test
held_pid=
cleanup() {
    [ -n "$held_pid" ] && kill -CONT "$held_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
require_fault_injection
unset SLURM_PROCID SLURM_NTASKS SLURM_STEP_NUM_TASKS SLURM_STEP_ID SLURM_STEPID SHIFTNAS_INJECT_FAULT \
    SHIFTNAS_REQUIRE_LOCK SHIFTNAS_GNUPLOT
host=$(hostname)
started=$(date +%s)

# As in test_resume.sh: 12 steps per epoch, 2 epochs, a checkpoint every 5 steps.
tiny="--set data.train_limit=408 --set data.validation_size=120 --set data.test_limit=100
      --set train.batch_size=24 --set train.epochs=2 --set train.eval_batch_size=50
      --set search.shift_interval=8 --set search.shift_warmup=0
      --set search.shift_validation_images=24 --set search.evolution_validation_images=0
      --set search.recalibration_batches=1
      --set checkpoint.interval_steps=5 --set checkpoint.interval_seconds=0
      --set run.progress_seconds=0.5"
limit=300
config=$src/jobs/configs/cnn-space.ini

# new_run RANKS RUN [ARGS...]: a new shift run (tiny) into $work/RUN; its
# exit status in $status.
new_run() {
    new_ranks=$1 new_name=$2
    shift 2
    # shellcheck disable=SC2086
    launch "$new_ranks" train --config "$config" $tiny "$@" --out "$work/$new_name" \
        >>"$work/$new_name.out" 2>>"$work/$new_name.err"
    status=$?
}

# stopped RANKS RUN [STEP]: a run stopped with a checkpoint at STEP
# (default 6; exit 75).
stopped() {
    SHIFTNAS_INJECT_FAULT=0:${3:-6}:signal new_run "$1" "$2"
    [ "$status" -eq 75 ] || { fail "$2: the run to resume stopped with exit $status"; cat "$work/$2.err"; }
}

# resume RANKS RUN: shiftnas train --resume $work/RUN; status in $status.
resume() {
    launch "$1" train --resume "$work/$2" >>"$work/$2.out" 2>>"$work/$2.err"
    status=$?
}

# hold RANKS RUN: starts `train --resume RUN` in the background and, once it
# holds the lock (its record is in RUN/.shiftnas.lock), stops rank 0 with
# SIGSTOP: $holder is its pid, $holder_job the background job.
hold() {
    hold_run=$2
    (resume "$1" "$hold_run"; exit "$status") &
    holder_job=$!
    holder=
    for _ in $(seq 1 600); do
        holder=$(sed -n 's/^pid \([0-9]*\)$/\1/p' "$work/$hold_run/.shiftnas.lock" 2>/dev/null)
        [ -n "$holder" ] && break
        sleep 0.05
    done
    if [ -z "$holder" ]; then
        fail "$hold_run: no writer recorded itself in .shiftnas.lock"
        return 1
    fi
    kill -STOP "$holder" && held_pid=$holder
}

# release_holder: lets the stopped holder go on; its exit status in $status.
release_holder() {
    kill -CONT "$held_pid" 2>/dev/null
    held_pid=
    wait "$holder_job"
    status=$?
}

# same_state A B: the runs $work/A and $work/B ended with the same bits
# (same_run_state in common.sh).
same_state() { same_run_state "$work/$1" "$work/$2"; }

# check_data NAME RUN: RUN ended as the reference did: a row of log.h5 per
# step, the same bits; pass/fail and the tally's data line.
check_data() {
    if same_state ref "$2"; then
        pass "$1: a log row per step, the same bits as a run alone"
        record_data "$1" intact
    else
        fail "$1: the run differs from the reference"
        h5ls "$work/$2/log.h5/subnets" 2>&1 | head -n 3
        record_data "$1" lost
    fi
}

# refused NAME RANKS STATUS ERRFILE PATTERN: a writer that met another
# exited 1 with one line of ours on stderr matching PATTERN (under mpirun,
# Open MPI's banners about the exit status may follow), tallied as
# expect_error does.
refused() {
    ref_name=$1 ref_ranks=$2 ref_status=$3 ref_err=$4 ref_pattern=$5
    outcome=$(outcome_of "$ref_status")
    if [ "$ref_ranks" -eq 1 ]; then
        lines=$(wc -l <"$ref_err")
    else
        lines=$(grep -c '^shiftnas ' "$ref_err")
    fi
    if [ "$ref_status" -ne 1 ]; then
        fail "$ref_name: exit status $ref_status, expected 1"; cat "$ref_err"
    elif [ "$lines" -ne 1 ]; then
        fail "$ref_name: $lines lines of ours on stderr, expected 1"; cat "$ref_err"
    elif ! grep '^shiftnas ' "$ref_err" | grep -E -q -- "$ref_pattern"; then
        fail "$ref_name: stderr does not match '$ref_pattern'"; cat "$ref_err"
    else
        pass "$ref_name"; outcome=clear
    fi
    [ "$outcome" = exited ] && outcome=unclear
    reliability "$outcome" "$ref_name"
}

# race NAME RANKS ARGS...: two copies of `shiftnas ARGS` started together;
# exactly one must proceed (exit 0), the other be refused with PATTERN
# ($race_pattern). Their output in NAME.a.* and NAME.b.*.
race() {
    race_name=$1 race_ranks=$2
    shift 2
    launch "$race_ranks" "$@" >"$work/$race_name.a.out" 2>"$work/$race_name.a.err" &
    race_a=$!
    launch "$race_ranks" "$@" >"$work/$race_name.b.out" 2>"$work/$race_name.b.err" &
    race_b=$!
    wait "$race_a"
    status_a=$?
    wait "$race_b"
    status_b=$?
    if [ "$status_a" -eq 0 ]; then
        loser=b loser_status=$status_b
    else
        loser=a loser_status=$status_a
        [ "$status_b" -eq 0 ] || { fail "$race_name: neither writer proceeded (exit $status_a, $status_b)";
                                    cat "$work/$race_name.a.err" "$work/$race_name.b.err"; }
    fi
    refused "$race_name: exactly one proceeds, the other is refused naming it" "$race_ranks" \
        "$loser_status" "$work/$race_name.$loser.err" "$race_pattern"
}

reliability_class=writers

# --- the reference: a run alone, straight through ------------------------------
new_run 1 ref
[ "$status" -eq 0 ] || { fail "reference run: exit $status"; cat "$work/ref.err"; }
"$bin" search "$work/ref" --targets 5M --set search.evolution_evaluations=8 \
    --set search.evolution_population=4 >"$work/ref.search" 2>&1 ||
    fail "search of the reference: $(tail -n 1 "$work/ref.search")"

# --- two resumes at once ------------------------------------------------------------
for ranks in 1 2; do
    stopped "$ranks" "twice-$ranks"
    race_pattern="^shiftnas train: $work/twice-$ranks: in use by \`shiftnas train --resume\` on host $host, pid [0-9]+, since [0-9T:Z-]+; wait for it or stop it$"
    race "two train --resume at once, $ranks rank(s)" "$ranks" train --resume "$work/twice-$ranks"
    check_data "two train --resume at once, $ranks rank(s)" "twice-$ranks"
done

# --- two new runs racing for one --out ---------------------------------------------
# The loser meets the winner's lock, or (if it came after the winner's end)
# the run the winner left.
race_pattern="^shiftnas train: ($work/fresh: in use by \`shiftnas train\` on host $host, pid [0-9]+|.*already holds a run)"
# shellcheck disable=SC2086
race "two new runs on one --out" 1 train --config "$config" $tiny --out "$work/fresh"
check_data "two new runs on one --out" fresh

# --- others while a resume holds the run (rank 0 stopped with SIGSTOP) ----------------
for ranks in 1 2; do
    run=held-$ranks
    stopped "$ranks" "$run"
    hold "$ranks" "$run" || continue
    who="in use by \`shiftnas train --resume\` on host $host, pid $holder, since "
    expect_error "$ranks rank(s) hold the run: a third train --resume is refused" 1 \
        "^shiftnas train: $work/$run: $who" "$bin" train --resume "$work/$run"
    expect_error "$ranks rank(s) hold the run: search is refused" 1 "^shiftnas search: $work/$run: $who" \
        "$bin" search "$work/$run" --targets 5M
    expect_error "$ranks rank(s) hold the run: eval --csv into it is refused" 1 \
        "^shiftnas eval: $work/$run: $who" \
        "$bin" eval "$work/$run" --arch 'cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2' --csv "$work/$run/search.csv"
    if [ "$ranks" -eq 1 ]; then
        # on 2 ranks: the same refusal under mpirun, one line
        expect_rank_error "1 rank holds the run: a resume on 2 ranks is refused, one line" \
            "^shiftnas train: $work/$run: $who" launch 2 train --resume "$work/$run"
    fi
    [ ! -e "$work/$run/search.csv" ] && pass "$ranks rank(s): the refused search wrote nothing" ||
        fail "$ranks rank(s): a refused search wrote search.csv"
    release_holder
    if [ "$status" -eq 0 ]; then
        check_data "$ranks rank(s): the holder, released, ends its run" "$run"
    else
        fail "$ranks rank(s): the holder ended with exit $status"; tail -n 3 "$work/$run.err"
        record_data "$ranks rank(s): the holder, released, ends its run" lost
    fi
done
# eval without --csv only reads: it needs no lock (stopped after the
# first epoch: its model.h5 is there)
stopped 1 reader 14
if hold 1 reader; then
    if "$bin" eval "$work/reader" --arch 'cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2' >"$work/out" 2>&1 &&
       "$bin" inspect "$work/reader" >"$work/out" 2>&1; then
        pass "eval without --csv and inspect read a held run"
    else
        fail "a reader was refused: $(tail -n 1 "$work/out")"
    fi
    release_holder
fi

# --- kill -9 of the holder: the lock goes with it -------------------------------------
for ranks in 1 2; do
    run=killed-$ranks
    stopped "$ranks" "$run"
    hold "$ranks" "$run" || continue
    kill -KILL "$held_pid"
    held_pid=
    wait "$holder_job"
    resume "$ranks" "$run"
    if [ "$status" -eq 0 ]; then
        pass "$ranks rank(s): after kill -9 of the holder the next resume proceeds"
        check_data "$ranks rank(s): resumed after kill -9 of the holder" "$run"
    else
        fail "$ranks rank(s): resume after kill -9 of the holder: exit $status"; tail -n 3 "$work/$run.err"
        record_data "$ranks rank(s): resumed after kill -9 of the holder" lost
    fi
done

# --- two reports into one directory ------------------------------------------------------
# A gnuplot that takes its time holds the first report in place; the
# second is refused; the first ends as usual.
cat >"$work/slow-gnuplot" <<'EOF'
#!/bin/sh
sleep 3
for png in accuracy_vs_macs.png probabilities.png macs_histogram.png bucket_loss.png convergence.png \
           final_probabilities.png; do
    echo drawn >"$png"
done
EOF
chmod +x "$work/slow-gnuplot"
SHIFTNAS_GNUPLOT=$work/slow-gnuplot timeout 60 "$bin" report "$work/ref" --out "$work/report" \
    >"$work/report.out" 2>"$work/report.err" &
report_job=$!
for _ in $(seq 1 200); do
    report_pid=$(sed -n 's/^pid \([0-9]*\)$/\1/p' "$work/report/.shiftnas.lock" 2>/dev/null)
    [ -n "$report_pid" ] && break
    sleep 0.05
done
expect_error "a second report into the same directory is refused" 1 \
    "^shiftnas report: $work/report: in use by \`shiftnas report\` on host $host, pid ${report_pid:-none}, since " \
    "$bin" report "$work/ref" --out "$work/report" --no-plots
wait "$report_job"
status=$?
if [ "$status" -eq 0 ] && [ -s "$work/report/report.md" ]; then
    pass "the first report ends as usual"
else
    fail "the first report: exit $status"; cat "$work/report.err"
fi

# --- a file system without locks ------------------------------------------------------
# Simulated with an LD_PRELOAD shim whose fcntl(F_OFD_SETLK) and flock()
# fail with ENOLCK (what an NFS mount without a lock manager returns): a
# warning line and the run proceeds; SHIFTNAS_REQUIRE_LOCK=1 refuses.
cat >"$work/nolock.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
static int refused(int fd, int cmd, void *arg, const char *name)
{
    if (cmd == F_OFD_SETLK || cmd == F_SETLK) {
        errno = ENOLCK;
        return -1;
    }
    int (*real)(int, int, ...) = (int (*)(int, int, ...))dlsym(RTLD_NEXT, name);
    return real(fd, cmd, arg);
}
int fcntl(int fd, int cmd, ...)
{
    va_list list;
    va_start(list, cmd);
    void *arg = va_arg(list, void *);
    va_end(list);
    return refused(fd, cmd, arg, "fcntl");
}
int fcntl64(int fd, int cmd, ...)
{
    va_list list;
    va_start(list, cmd);
    void *arg = va_arg(list, void *);
    va_end(list);
    return refused(fd, cmd, arg, "fcntl64");
}
int flock(int fd, int operation)
{
    (void)fd;
    (void)operation;
    errno = ENOLCK;
    return -1;
}
EOF
if ! ${CC:-cc} -shared -fPIC -o "$work/nolock.so" "$work/nolock.c" -ldl 2>"$work/cc.err"; then
    echo "note: no C compiler for the no-lock shim; a file system without locks is not checked"
elif LD_PRELOAD=$work/nolock.so "$bin" --version 2>&1 | grep -q 'runtime does not come first'; then
    echo "note: a sanitizer build cannot take an LD_PRELOAD shim; a file system without locks is not checked"
else
    stopped 1 nolock
    LD_PRELOAD=$work/nolock.so "$bin" train --resume "$work/nolock" >"$work/out" 2>"$work/err"
    status=$?
    if [ "$status" -eq 0 ] && [ "$(wc -l <"$work/err")" -eq 1 ] &&
       grep -q "^shiftnas train: warning: $work/nolock/.shiftnas.lock: the file system does not support locks (No locks available): nothing keeps a second writer out of $work/nolock (SHIFTNAS_REQUIRE_LOCK=1 refuses instead)$" "$work/err"; then
        pass "no locks on the file system: one warning line, the run proceeds"
        reliability clear "no locks on the file system: a warning"
    else
        fail "no locks on the file system: exit $status"; cat "$work/err"
        reliability unclear "no locks on the file system: a warning"
    fi
    stopped 1 nolock-required
    expect_error "no locks on the file system, SHIFTNAS_REQUIRE_LOCK=1: refused" 1 \
        "^shiftnas train: $work/nolock-required/.shiftnas.lock: the file system does not support locks (No locks available), and SHIFTNAS_REQUIRE_LOCK=1 refuses" \
        env LD_PRELOAD="$work/nolock.so" SHIFTNAS_REQUIRE_LOCK=1 "$bin" train --resume "$work/nolock-required"
fi

echo "$passes passed, $failures failed in $(($(date +%s) - started)) s"
[ "$failures" -eq 0 ]
