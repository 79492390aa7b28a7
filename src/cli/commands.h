/* The subcommands of the shiftnas program. Each returns the process exit code. */
#ifndef SHIFTNAS_CLI_COMMANDS_H
#define SHIFTNAS_CLI_COMMANDS_H

#include <stdint.h>
#include <stdio.h>

#include "shiftnas/dist.h"

/* Exit codes (documented in doc/shiftnas.1). */
enum {
    SN_EXIT_OK = 0,
    SN_EXIT_FAILURE = 1,  /* the run failed: bad input, I/O, numerics */
    SN_EXIT_USAGE = 2,    /* the command line was wrong */
    SN_EXIT_REQUEUE = 75  /* train stopped early with a checkpoint, or a write failed for a
                             cause that may pass (SN_ERR_IO_TRANSIENT) with the previous one
                             intact: requeue, then --resume (sysexits' EX_TEMPFAIL: "try
                             again later") */
};

int sn_command_train(int argc, char **argv);
int sn_command_data(int argc, char **argv);
int sn_command_config(int argc, char **argv);
int sn_command_space(int argc, char **argv);
int sn_command_search(int argc, char **argv);
int sn_command_eval(int argc, char **argv);
int sn_command_probe(int argc, char **argv);
int sn_command_export(int argc, char **argv);
int sn_command_inspect(int argc, char **argv);
int sn_command_report(int argc, char **argv);

/* Prints "shiftnas: <message>" for the last library error on stderr. */
void sn_cli_report_error(const char *context);

/* A failure of a command that runs on every rank (train, search, probe, data
 * convert): the rank whose own failure it is prints it through `report`
 * ("COMMAND: rank R" as the context when there are several ranks); when the
 * other ranks may not know of it, they are ended (MPI_Abort). The caller
 * returns its exit status. */
void sn_cli_rank_failure(const sn_dist *dist, int status, const char *command,
                         void (*report)(const char *context));

/* Starts MPI (or the single-process stand-in), runs `body` on every rank and
 * ends MPI: the frame of search and probe. A start-up failure is reported
 * as "shiftnas COMMAND: ..." and gives exit status 1. */
int sn_cli_on_ranks(int argc, char **argv, const char *command,
                    int (*body)(int argc, char **argv, const sn_dist *dist));

#ifdef SHIFTNAS_FAULT_INJECTION
/* Reads SHIFTNAS_INJECT_FAULT and, when it names a fault, installs the
 * hook that injects it (src/cli/fault_injection.c; test builds only). */
void sn_cli_install_fault_injection(void);
/* 1 when SHIFTNAS_INJECT_FAULT=RANK:N:io names this rank and its N-th
 * fitness evaluation of `shiftnas search` (counted from 1): that
 * evaluation fails with an I/O error on that rank alone. */
int sn_cli_search_fault(int rank, int64_t evaluation);
#endif

#endif
