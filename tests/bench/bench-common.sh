# Sourced by the timed bench scripts (distributed-bench.sh,
# epoch-scaling-bench.sh): their shared helpers. quiet waits, before a timed run, until the
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

# stat K FILE [DECIMALS]: column K of FILE as "median (min-max)" over the rounds.
stat() {
    cut -d' ' -f"$1" "$2" | sort -g | awk -v d="${3:-1}" '
        { v[NR] = $1 }
        END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              if (NR == 1) printf "%.*f", d, m; else printf "%.*f (%.*f-%.*f)", d, m, d, v[1], d, v[NR] }'
}
