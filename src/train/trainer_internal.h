/*
 * The trainer: one training run on the ranks of a communicator, as an object
 * whose parts each fit on a screen. Internal to src/train; the public entry
 * points are sn_train and sn_train_on_ranks (shiftnas/train.h), whose loop
 * (trainer.c) reads
 *
 *     sn_trainer_setup                 data, model, buffers, run directory, resume
 *     for each step:
 *         sn_trainer_step              batch, forward/backward, reduction, update
 *         sn_trainer_end_epoch         evaluations and model.h5, at an epoch's end
 *         sn_trainer_checkpoint_or_stop
 *     sn_trainer_finish                the complete checkpoint, then model.h5
 *     sn_trainer_summary               the closing lines and phases
 *     sn_trainer_free
 *
 * Files: trainer_setup.c (data, model, buffers), trainer_start.c (where the
 * run starts, the opening lines), trainer_step.c, trainer_epoch.c,
 * trainer_checkpoint.c, trainer_summary.c; the run directory's files in
 * run_directory.c.
 *
 * Every phase may fail on one rank only; the ranks agree (sn_dist_agree) at
 * fixed points, the same on every rank, so a failure stops every rank there:
 * the failing rank returns its error, the others SN_ERR_PEER. Everything the
 * loop touches is allocated by setup: a step allocates nothing.
 */
#ifndef SHIFTNAS_TRAIN_TRAINER_INTERNAL_H
#define SHIFTNAS_TRAIN_TRAINER_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "shiftnas/config.h"
#include "shiftnas/data.h"
#include "shiftnas/dist.h"
#include "shiftnas/input.h"
#include "shiftnas/network.h"
#include "shiftnas/optim.h"
#include "shiftnas/runfiles.h"
#include "shiftnas/train.h"

#include "checkpointing.h"
#include "dist/dist_internal.h"
#include "data_parallel.h"
#include "subnet_evaluation.h"
#include "supernet_training.h"

/* The loop's buffers. The training batches have two: the step trains on
 * one while the prefetcher fills the other. Evaluations have their own. */
typedef struct {
    float *images, *probs, *dlogits;    /* evaluation chunks; probs and dlogits also training's */
    int32_t *labels;
    float *batch_images[2];
    int32_t *batch_labels[2];
    uint32_t *order, *test_indices;
} sn_trainer_buffers;

/* Where training batches come from: the prefetcher's thread, or (without
 * one) a fill at the start of the step that needs it. */
typedef struct {
    sn_prefetcher *prefetcher;
    sn_image_source *source;
    sn_batch_request pending;
} sn_batch_feed;

typedef struct {
    /* the call */
    const sn_config *config;
    const char *run_dir;
    const sn_dist *dist;
    int resume;
    int resume_strict;                /* a damaged latest is an error, not a fallback */
    int writer;                       /* rank 0: prints and writes RUN_DIR */
    FILE *out;                        /* rank 0's progress; NULL on the others */
    sn_train_result *result;

    /* data, model, optimiser */
    sn_run_data data;
    sn_split split;
    sn_held_out_plan held_out;        /* the shift's and the search's parts of the split */
    sn_input_shape shape;
    sn_network *network;
    const sn_parameter_table *table;
    const sn_space *space;            /* NULL: a fixed network */
    sn_optimizer optimizer;
    sn_supernet_training training;    /* supernets only */
    sn_subnet_evaluator evaluator;    /* supernets only */
    sn_evaluation_split evaluation;   /* epoch-end evaluations' chunks over the ranks */
    sn_data_parallel dp;
    sn_trainer_buffers buffers;
    sn_batch_feed feed;

    /* the schedule */
    int64_t batch, steps_per_epoch, total_steps, warmup_steps, first_step;
    int64_t chunk;                    /* images per evaluation forward */
    int64_t shard_images;             /* the largest shard of a batch */
    int64_t image_floats;
    int epochs;

    /* the run's files and the checkpoint it resumes from */
    sn_metrics metrics;               /* rank 0 */
    sn_run_log *run_log;              /* rank 0 of a supernet run */
    sn_training_state state;          /* what a checkpoint holds, by pointer into this */
    char checkpoint_path[1100];       /* "" when starting from step 0 */
    int stop_handlers;                /* installed by this run: restored by sn_trainer_free */

    /* the loop */
    sn_progress progress;
    double session_start;             /* this session's start ([checkpoint] stop_after_seconds) */
    double start;                     /* this session's loop start */
    double session_run_seconds;       /* the loop's wall time in earlier sessions */
    double last_checkpoint;
    double session_train_seconds;     /* train seconds of earlier sessions */
    double epoch_loss;                /* sum of the epoch's step losses */
    int64_t epoch_steps;
    double interval_loss;             /* ... since metrics.csv's last training row */
    int64_t interval_steps;
    float lr;                         /* the last step's learning rate */
    double other_start;               /* when the step's "other" phase began */
} sn_trainer;

/* trainer_setup.c: everything before the first step, agreed across the
 * ranks; on success either the loop can start at t->first_step or
 * result->already_complete says there is nothing to do. sn_trainer_free
 * releases what setup made, whatever it returned. */
int sn_trainer_setup(sn_trainer *t, const sn_config *config, const char *run_dir,
                     const sn_dist *dist, int resume, FILE *out, sn_train_result *result);
/* trainer_start.c, called by setup: where the run starts (step 0 or the
 * latest checkpoint), its files opened, its opening lines printed, the
 * first batch requested. */
int sn_trainer_start(sn_trainer *t);
/* Closes the run's files (their errors returned if status is SN_OK),
 * frees everything; returns the run's status. */
int sn_trainer_free(sn_trainer *t, int status);

/* trainer_step.c: one training step (0-based), collective. */
int sn_trainer_step(sn_trainer *t, int64_t step);
/* The first batch's request, made by setup (the loop requests the others). */
void sn_trainer_request_batch(sn_trainer *t, int64_t step);

/* trainer_epoch.c: 1 when `step` ends an epoch (or the run). */
int sn_trainer_epoch_ends(const sn_trainer *t, int64_t step);

/* The loop's wall time of this run so far, earlier sessions included:
 * metrics.csv's seconds, so a preempted and resumed run's last row gives
 * what it cost (the time between sessions and the steps redone after a
 * kill are not counted: they are the cost of the interruption). */
double sn_trainer_run_seconds(const sn_trainer *t);
/* The epoch's evaluations, metrics rows, line and model.h5; collective. */
int sn_trainer_end_epoch(sn_trainer *t, int64_t step);

/* trainer_checkpoint.c: after `step`, a checkpoint when one is due or
 * asked for, and the end of the session when a stop is asked for
 * (*stop = 1, result->stopped); nothing after the run's last step.
 * Collective. */
int sn_trainer_checkpoint_or_stop(sn_trainer *t, int64_t step, int *stop);
/* The end of training: a complete checkpoint (unless the session stopped
 * early with one), so a resume of a finished run has nothing to train,
 * then model.h5. Collective. */
int sn_trainer_finish(sn_trainer *t);
/* model.h5 of the trained weights at the last step (rank 0 writes; the
 * ranks agree): after the complete checkpoint, and on the resume of a
 * finished run whose model.h5 is missing or older. */
int sn_trainer_write_final_model(sn_trainer *t);

/* trainer_summary.c: the closing lines (time, throughput, probabilities,
 * checkpoints) and the phases per step; collective. */
int sn_trainer_summary(sn_trainer *t);

#endif
