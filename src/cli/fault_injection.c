/* SHIFTNAS_INJECT_FAULT=RANK:STEP:KIND makes rank RANK fail at step STEP
 * (counted from 1, as the messages count), for the failure tests. KIND:
 *   kill        the rank SIGKILLs itself as the step starts
 *   signal      the rank sends itself SIGUSR1 as the step starts: a stop request
 *   checkpoint  rank 0 SIGKILLs itself half way through writing the checkpoint
 *               of step STEP (a torn write)
 *   io          the step fails with an I/O error on that rank alone
 *   nan         the step's first image is NaN on that rank: its shard's loss is NaN
 * and for `shiftnas search`, STEP counting that rank's fitness evaluations:
 *   io          that evaluation fails with an I/O error on that rank alone
 * Only in a build configured with --enable-fault-injection: the program
 * installs a hook the library asks at its fault points
 * (src/train/fault_injection.h); the signals are sent from here, the
 * library never raises one. */
#include "train/fault_injection.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static struct {
    int rank;
    long long step;
    char kind[16];
} fault = {-1, -1, ""};

static sn_fault inject(sn_fault_point point, int rank, int64_t step)
{
    if (rank != fault.rank || step != fault.step)
        return SN_FAULT_NONE;
    if (point == SN_FAULT_POINT_CHECKPOINT) {
        if (strcmp(fault.kind, "checkpoint") == 0)
            raise(SIGKILL);
        return SN_FAULT_NONE;
    }
    if (strcmp(fault.kind, "kill") == 0)
        raise(SIGKILL);
    if (strcmp(fault.kind, "signal") == 0)
        raise(SIGUSR1);
    if (strcmp(fault.kind, "io") == 0)
        return SN_FAULT_IO;
    if (strcmp(fault.kind, "nan") == 0)
        return SN_FAULT_NAN;
    return SN_FAULT_NONE;
}

void sn_cli_install_fault_injection(void)
{
    const char *text = getenv("SHIFTNAS_INJECT_FAULT");
    if (text && sscanf(text, "%d:%lld:%15s", &fault.rank, &fault.step, fault.kind) == 3)
        sn_fault_injection_set_hook(inject);
}

int sn_cli_search_fault(int rank, int64_t evaluation)
{
    return rank == fault.rank && evaluation == fault.step && strcmp(fault.kind, "io") == 0;
}
