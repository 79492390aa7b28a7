/*
 * Stop requests: SIGUSR1 and SIGTERM ask a training run to finish its
 * current step, write a checkpoint and exit with status 75 (see doc/checkpoint.md).
 * Slurm sends SIGTERM on preemption and scancel, and SIGUSR1 when asked
 * (sbatch --signal=B:USR1@120, forwarded to the step by jobs/train.sbatch);
 * mpirun forwards SIGUSR1 to every rank (not SIGTERM: it ends the ranks).
 *
 * The handler only sets a flag; the trainer reads it between steps and the
 * ranks agree on it, so every rank stops after the same step. Installing and
 * restoring the handlers is public (shiftnas/train.h: shiftnas train installs
 * them before MPI starts); what the trainer asks is declared here.
 */
#ifndef SHIFTNAS_TRAIN_STOP_REQUEST_H
#define SHIFTNAS_TRAIN_STOP_REQUEST_H

#include "shiftnas/train.h"

/* 1 while the handlers are installed. */
int sn_stop_request_installed(void);
/* The signal that asked to stop since the install, or 0. */
int sn_stop_request_signal(void);

#endif
