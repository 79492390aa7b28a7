# Sourced by the timed bench scripts (distributed-bench.sh,
# epoch-scaling-bench.sh): quiet waits, before a timed run, until the
# 1-minute load average is below BENCH_QUIET_LOAD (unset: does not wait), at
# most BENCH_QUIET_WAIT seconds (600); if it gives up it says so on stderr and
# appends a line to $tmp/busy, so that the report can mark the run.
quiet() {
    [ -n "${BENCH_QUIET_LOAD:-}" ] || return 0
    waited=0
    while awk -v q="$BENCH_QUIET_LOAD" '{ exit !($1 >= q) }' /proc/loadavg; do
        if [ "$waited" -ge "${BENCH_QUIET_WAIT:-600}" ]; then
            echo "load $(cut -d' ' -f1 /proc/loadavg) after ${waited}s: measuring anyway" >&2
            echo busy >>"$tmp/busy"
            return 0
        fi
        sleep 20
        waited=$((waited + 20))
    done
}
