#!/bin/sh
# reliability-table.sh [LOG...]: the table of doc/reliability.md, from the
# "reliability: CLASS OUTCOME NAME" lines the tests print (tests/cli/common.sh).
# Without arguments it reads every test log under tests/ of the build tree
# (run it after `make check`, from the build directory). One row per input
# class: cases tried, clear errors, unclear ones, crashes, hangs, and of the
# data checks done after a fault, how many found data lost.
set -u
if [ $# -eq 0 ]; then
    set -- $(find tests -name '*.log' ! -name test-suite.log | sort)
fi
[ $# -gt 0 ] || { echo "reliability-table.sh: no test logs (run make check first)" >&2; exit 1; }
grep -h '^reliability: ' "$@" | awk '
{
    class = $2; outcome = $3
    if (!(class in seen)) { seen[class] = 1; order[++classes] = class }
    if (outcome == "intact" || outcome == "lost") {
        checks[class]++; if (outcome == "lost") lost[class]++
    } else {
        cases[class]++; count[class, outcome]++
    }
}
END {
    # the classes in the order of doc/reliability.md first, then any new one
    preferred = "IDX HDF5 image-folder config CLI checkpoint storage signals writers ranks numeric"
    n = split(preferred, wanted, " "); listed = 0
    for (i = 1; i <= n; i++) if (wanted[i] in seen) { final[++listed] = wanted[i]; placed[wanted[i]] = 1 }
    for (i = 1; i <= classes; i++) if (!(order[i] in placed)) final[++listed] = order[i]
    for (i = 1; i <= listed; i++) order[i] = final[i]
    print "| input class | cases tried | clear error | unclear | crash | hang | data checks | data lost |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= classes; i++) {
        c = order[i]
        printf "| %s | %d | %d | %d | %d | %d | %d | %d |\n", c, cases[c], count[c, "clear"], \
            count[c, "unclear"], count[c, "crash"], count[c, "hang"], checks[c], lost[c]
        total_cases += cases[c]; total_clear += count[c, "clear"]; total_unclear += count[c, "unclear"]
        total_crash += count[c, "crash"]; total_hang += count[c, "hang"]
        total_checks += checks[c]; total_lost += lost[c]
    }
    printf "| **all** | %d | %d | %d | %d | %d | %d | %d |\n", total_cases, total_clear, \
        total_unclear, total_crash, total_hang, total_checks, total_lost
}'
