/*
 * Stop requests: SIGUSR1 and SIGTERM ask a training run to finish its
 * current step, write a checkpoint and exit with status 75 (see doc/checkpoint.md).
 * Slurm sends SIGTERM on preemption and scancel, and SIGUSR1 when asked
 * (sbatch --signal=B:USR1@120, forwarded to the step by jobs/train.sbatch);
 * mpirun forwards SIGUSR1 to every rank (not SIGTERM: it ends the ranks).
 *
 * The handler only sets a flag; the trainer reads it between steps and the
 * ranks agree on it, so every rank stops after the same step.
 */
#ifndef SHIFTNAS_TRAIN_STOP_REQUEST_H
#define SHIFTNAS_TRAIN_STOP_REQUEST_H

/* Installs the handlers (keeping the previous ones for the restore). */
int sn_stop_request_install(void);
/* Puts back the handlers that were there before the install. */
void sn_stop_request_restore(void);
/* The signal that asked to stop since the install, or 0. */
int sn_stop_request_signal(void);

#endif
