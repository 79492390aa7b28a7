# Shared by the tests/cli scripts (sourced after they set $work): counters,
# pass/fail lines, the one-line-error checks and the reliability tally.
failures=0
passes=0

# The reliability tally (doc/reliability.md is made from it by
# tests/tools/reliability-table.sh): every bad-input or fault case a test
# tries prints one line "reliability: CLASS OUTCOME NAME" into the test's log.
# CLASS is the input class being tried (IDX, HDF5, config, CLI, storage,
# signals, writers, ...): set reliability_class before a group of cases.
# OUTCOME is clear (one clear line, the expected exit), unclear (anything
# else that still exited), crash (killed by a signal), hang (ended by the
# timeout), intact or lost (the data a fault case checks afterwards).
reliability_class=CLI
reliability() { echo "reliability: $reliability_class $1 $2"; }

# outcome_of STATUS: crash for a signal death (128+N, but not the timeout's
# 124 or its SIGKILL 137), hang for the timeout, exited otherwise.
outcome_of() {
    case $1 in
      124|137) echo hang ;;
      *) if [ "$1" -ge 128 ]; then echo crash; else echo exited; fi ;;
    esac
}

pass() { passes=$((passes + 1)); echo "ok: $1"; }
fail() { failures=$((failures + 1)); echo "FAIL: $1"; }

# expect_error NAME EXPECTED_STATUS PATTERN COMMAND...: the command exits with
# the status, prints exactly one line on stderr, and that line matches PATTERN.
expect_error() {
    name=$1 want=$2 pattern=$3
    shift 3
    "$@" >"$work/out" 2>"$work/err"
    status=$?
    lines=$(wc -l <"$work/err")
    outcome=$(outcome_of "$status")
    if [ "$status" -ne "$want" ]; then
        fail "$name: exit status $status, expected $want"; cat "$work/err"
    elif [ "$lines" -ne 1 ]; then
        fail "$name: $lines lines on stderr, expected 1"; cat "$work/err"
    elif ! grep -q -- "$pattern" "$work/err"; then
        fail "$name: stderr does not match '$pattern'"; cat "$work/err"
    else
        pass "$name"; outcome=clear
    fi
    [ "$outcome" = exited ] && outcome=unclear
    reliability "$outcome" "$name"
}

# expect_rank_error NAME PATTERN COMMAND...: the command exits non-zero
# before the timeout, and of its stderr lines exactly one is ours (starts
# with "shiftnas "; the rest are Open MPI's banners about the aborted job),
# and that line matches the extended regular expression PATTERN.
expect_rank_error() {
    name=$1 pattern=$2
    shift 2
    "$@" >"$work/out" 2>"$work/err"
    status=$?
    ours=$(grep -c '^shiftnas ' "$work/err")
    outcome=$(outcome_of "$status")
    if [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        fail "$name: exit status $status (0: no failure; 124/137: timeout)"; cat "$work/err"
    elif [ "$ours" -ne 1 ]; then
        fail "$name: $ours shiftnas lines on stderr, expected 1"; cat "$work/err"
    elif ! grep '^shiftnas ' "$work/err" | grep -E -q -- "$pattern"; then
        fail "$name: our line does not match '$pattern'"; cat "$work/err"
    else
        pass "$name"; outcome=clear
    fi
    [ "$outcome" = exited ] && outcome=unclear
    reliability "$outcome" "$name"
}

# record_data NAME intact|lost: a fault case's check of what it left behind
# (the previous checkpoint resumable, the log whole, ...), after the test has
# asserted it with pass/fail.
record_data() { reliability "$2" "$1"; }

# launch RANKS ARGS...: $bin alone (RANKS = 1: the path that never calls
# MPI) or under $mpirun with RANKS ranks, ended by `timeout -k 10 $limit`
# (default 300 s). The environment variables named in $mpi_exports are
# passed to every rank (-x). Open MPI's own allocations live until exit, so
# leak checking is off for its processes (sanitizer build).
launch() {
    launch_ranks=$1
    shift
    if [ "$launch_ranks" -eq 1 ]; then
        timeout -k 10 "${limit:-300}" "$bin" "$@"
    else
        launch_exports=
        for launch_name in ${mpi_exports:-}; do
            launch_exports="$launch_exports -x $launch_name"
        done
        # shellcheck disable=SC2086
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            timeout -k 10 "${limit:-300}" "${mpirun:-mpirun}" --allow-run-as-root --oversubscribe \
            -np "$launch_ranks" $launch_exports "$bin" "$@"
    fi
}

# same_run_state A B: the runs in directories A and B ended with the same bits: model.h5's
# supernet and generator; the final checkpoint's optimiser moments, batch-norm
# statistics, generator Adam, probability shift (beta, Adam, the last
# snapshot's losses, the variance ring; target-input's weight snapshot);
# log.h5 whole; metrics.csv without
# its seconds column. (The final checkpoint's timings and embedded files
# are not compared: the files' bytes depend on when HDF5 flushed.)
final_checkpoint() {
    sed -n 's/^\(step-[0-9]*\.h5\)$/\1/p' "$1/checkpoints/latest"
}
same_run_state() {
    a=$1 b=$2
    h5diff "$a/model.h5" "$b/model.h5" /supernet /supernet >/dev/null 2>&1 || return 1
    if h5ls "$a/model.h5/generator" >/dev/null 2>&1; then
        h5diff "$a/model.h5" "$b/model.h5" /generator /generator >/dev/null 2>&1 || return 1
    fi
    h5diff "$a/log.h5" "$b/log.h5" >/dev/null 2>&1 || return 1
    ca=$a/checkpoints/$(final_checkpoint "$a") cb=$b/checkpoints/$(final_checkpoint "$b")
    [ "$(basename "$ca")" = "$(basename "$cb")" ] || return 1
    for group in /optimizer /batchnorm /generator_optimizer /shift /shift_snapshot; do
        if h5ls "$ca$group" >/dev/null 2>&1 || h5ls "$cb$group" >/dev/null 2>&1; then
            h5diff "$ca" "$cb" "$group" "$group" >/dev/null 2>&1 || return 1
        fi
    done
    cut -d, -f1-6 "$a/metrics.csv" >"$work/metrics-a"
    cut -d, -f1-6 "$b/metrics.csv" >"$work/metrics-b"
    cmp -s "$work/metrics-a" "$work/metrics-b"
}

# fault_injection: true when $bin was built with ./configure
# --enable-fault-injection, so that SHIFTNAS_INJECT_FAULT is honoured
# (`shiftnas --version` then says so); a build without it ignores the
# variable and has no such code.
fault_injection() {
    "$bin" --version 2>/dev/null | grep -q '^fault injection: on'
}
# require_fault_injection: skips the whole test (77) without it.
require_fault_injection() {
    fault_injection && return 0
    echo "skip: needs a build configured with --enable-fault-injection (SHIFTNAS_INJECT_FAULT)"
    exit 77
}
# without_fault_injection WHAT: true (after a note naming WHAT) when the
# build has no fault injection, so the caller skips WHAT.
without_fault_injection() {
    fault_injection && return 1
    echo "note: not checked without --enable-fault-injection: $1"
    return 0
}
