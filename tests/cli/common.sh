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
