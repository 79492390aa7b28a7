# Shared by the tests/cli scripts (sourced after they set $work): counters,
# pass/fail lines and the one-line-error check.
failures=0
passes=0

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
    if [ "$status" -ne "$want" ]; then
        fail "$name: exit status $status, expected $want"; cat "$work/err"
    elif [ "$lines" -ne 1 ]; then
        fail "$name: $lines lines on stderr, expected 1"; cat "$work/err"
    elif ! grep -q -- "$pattern" "$work/err"; then
        fail "$name: stderr does not match '$pattern'"; cat "$work/err"
    else
        pass "$name"
    fi
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
    if [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        fail "$name: exit status $status (0: no failure; 124/137: timeout)"; cat "$work/err"
    elif [ "$ours" -ne 1 ]; then
        fail "$name: $ours shiftnas lines on stderr, expected 1"; cat "$work/err"
    elif ! grep '^shiftnas ' "$work/err" | grep -E -q -- "$pattern"; then
        fail "$name: our line does not match '$pattern'"; cat "$work/err"
    else
        pass "$name"
    fi
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
