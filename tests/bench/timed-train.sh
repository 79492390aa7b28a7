# Sourced by the bench scripts that time `shiftnas train` by its progress
# lines (autoformer-bench.sh, subnet-bench.sh): POSIX sh functions, no state
# but $pid (the running command, for the caller's cleanup trap).
#
# timestamp_lines LOG COMMAND...
#   runs COMMAND with stdout and stderr through a FIFO next to LOG and writes
#   every line to LOG as "wall-seconds cpu-ticks line", the wall clock when
#   the line arrived and the command's CPU time (user + system, from /proc)
#   at that moment; returns COMMAND's exit status. Needs perl's Time::HiRes.
#
# step_window LOG WARM TOTAL BATCH
#   from LOG's progress lines ("... step K/N ..."), the steps after WARM up
#   to the last line: prints ms_per_step, images_per_second, cpu_ms_per_step
#   and step_ms (the time between consecutive lines, per step). Lines need
#   not come every step (run.progress_seconds may be longer than a step): the
#   window runs from the first line at or after step WARM to the last one,
#   which must be step TOTAL. Fails with a message when the lines are missing.

timestamp_lines() {
    _log=$1
    shift
    rm -f "$_log.fifo"
    mkfifo "$_log.fifo"
    "$@" >"$_log.fifo" 2>&1 &
    pid=$!
    perl -MTime::HiRes=time -e '
        my ($pid) = @ARGV;
        $| = 1;
        while (my $line = <STDIN>) {
            my $now = time;
            my $cpu = -1;
            if (open(my $stat, "<", "/proc/$pid/stat")) {
                my $s = <$stat>;
                close $stat;
                my @f = split " ", substr($s, rindex($s, ")") + 2);
                $cpu = $f[11] + $f[12];
            }
            printf "%.4f %d %s", $now, $cpu, $line;
        }' "$pid" <"$_log.fifo" >"$_log"
    if wait "$pid"; then _status=0; else _status=$?; fi
    pid=""
    rm -f "$_log.fifo"
    return "$_status"
}

step_window() {
    awk -v w="$2" -v n="$3" -v b="$4" -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" \
        -v name="$1" '
        $0 ~ / step [0-9]+\/[0-9]+ / {
            for (i = 3; i <= NF; i++) if ($i == "step") { split($(i + 1), s, "/"); break }
            k = s[1] + 0
            if (k < w) next
            count++; step[count] = k; t[count] = $1; c[count] = $2
        }
        END {
            if (count < 2 || step[count] != n) {
                printf "%s: expected progress lines from step %d to step %d, got %d (last step %d)\n",
                    name, w, n, count, count ? step[count] : 0 > "/dev/stderr"
                exit 1
            }
            steps = step[count] - step[1]
            ms = 1000 * (t[count] - t[1]) / steps
            printf "ms_per_step %.1f\nimages_per_second %.2f\n", ms, 1000 * b / ms
            if (c[1] >= 0 && c[count] >= 0)
                printf "cpu_ms_per_step %.1f\n", 1000 * (c[count] - c[1]) / hz / steps
            else
                print "cpu_ms_per_step n/a"
            printf "timed_steps %d\nstep_ms", steps
            for (i = 2; i <= count; i++) printf " %.1f", 1000 * (t[i] - t[i - 1]) / (step[i] - step[i - 1])
            printf "\n"
        }' "$1"
}
