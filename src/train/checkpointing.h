/*
 * The trainer's checkpoints: what a training run must keep to continue bit
 * for bit, written to and restored from a checkpoint file
 * (shiftnas/checkpoint.h has the file mechanics, doc/checkpoint.md the
 * layout). Internal to src/train.
 *
 * Why this little suffices: every random draw of a run is keyed by (seed,
 * purpose, step, index) (shiftnas/rng.h), the data order by (seed, epoch),
 * the held-out split by the seed, the learning rate and the generator's
 * temperature by the step. So the state that evolves is only: the weights,
 * the optimisers' moments and update counts, the batch-norm running
 * statistics, the generator and its Adam, the probability shift (beta, its
 * Adam, the losses of the last update's snapshot, the variance ring), and
 * the loop's counters; the run's files (log.h5, metrics.csv) are stored as
 * they were at the checkpoint so a resumed run continues them exactly.
 */
#ifndef SHIFTNAS_TRAIN_CHECKPOINTING_H
#define SHIFTNAS_TRAIN_CHECKPOINTING_H

#include <stdint.h>

#include "shiftnas/checkpoint.h"
#include "shiftnas/config.h"
#include "shiftnas/data.h"
#include "shiftnas/network.h"
#include "shiftnas/optim.h"
#include "shiftnas/runfiles.h"

#include "supernet_training.h"

/* Everything of a run that a checkpoint holds, by pointer into the
 * trainer's own state (restoring writes through the pointers). */
typedef struct {
    const sn_config *config;
    sn_network *network;
    sn_optimizer *optimizer;
    sn_supernet_training *training;   /* NULL for a fixed network */
    const sn_normalization *normalization;
    int64_t train_count, validation_count, test_count; /* the data as split */
    int64_t steps_per_epoch, total_steps;

    /* the loop's position and accumulators */
    int64_t steps_done;               /* the next step to run (0-based) */
    double epoch_loss;                /* sum of step losses in the current epoch */
    int64_t epoch_steps;
    double interval_loss;             /* ... since metrics.csv's last training row */
    int64_t interval_steps;           /* (stored only with [run] metrics_interval_steps > 0) */
    int64_t images;                   /* training images processed */
    double train_seconds;             /* summed step times so far (all sessions) */
    double run_seconds;               /* the loop's wall time so far, summed over sessions
                                       * (metrics.csv's seconds; a preempted run's cost) */
    double validation_loss, validation_accuracy, test_loss, test_accuracy; /* last evaluations */
} sn_training_state;

/* Rank 0: writes the checkpoint of state->steps_done to its temporary path
 * (sn_checkpoint_temporary_path); the caller agrees with the other ranks and
 * then publishes it. log (may be NULL) is flushed and stored with
 * metrics_path's bytes. complete = 1 marks the end of training. ranks is
 * only recorded. *bytes receives the file's size. A fault-injection build
 * has a fault point half way through the write (fault_injection.h). */
int sn_training_checkpoint_write(const sn_training_state *state, const char *run_dir,
                                 int ranks, int complete, sn_run_log *log,
                                 const char *metrics_path, int64_t *bytes);

/* Every rank: validates the checkpoint at path against this run (its
 * configuration up to result-neutral keys, search space, data, strategy)
 * and restores the state. *complete says whether training had finished.
 * Errors name the file and the problem; nothing is half restored that the
 * caller would go on with (it stops on any error). */
int sn_training_checkpoint_read(sn_training_state *state, const char *path, int *complete);

/* Rank 0: rewrites RUN_DIR/log.h5 (when the checkpoint holds one) and
 * RUN_DIR/metrics.csv as they were at the checkpoint (each via a temporary
 * and a rename). */
int sn_training_checkpoint_restore_run_files(const char *path, const char *run_dir);

/* The probability shift's part of a checkpoint: each field of
 * sn_shift_visit_state as the dataset "shift/NAME" (scalars as 0-d int64,
 * vectors as float64 or int32). Reading needs a shift made by sn_shift_init
 * with the run's bucket count and interval, and checks the restored state
 * (sn_shift_check_state); errors name the file. */
int sn_training_checkpoint_write_shift(sn_checkpoint_writer *w, const sn_shift *shift);
int sn_training_checkpoint_read_shift(sn_checkpoint_reader *r, sn_shift *shift);

#endif
