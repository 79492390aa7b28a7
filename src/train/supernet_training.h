/*
 * Supernet training: the one training step every sampling strategy goes
 * through, and what happens between steps (the generator's update, the
 * probability shift). Internal to src/train; the trainer (trainer.c) owns the
 * data, the schedule, the optimiser of the supernet and the run directory.
 *
 * One step, whatever the strategy:
 *   1. plan: the strategy names the subnets of this step and how each learns
 *      (labels, or the largest subnet's output for in-place distillation);
 *   2. for each planned subnet: select it (sliced, or masked by the
 *      generator's one-hot choices), forward the step's batch, loss,
 *      backward; gradients accumulate in the supernet's slab;
 *   3. the trainer clips and applies one optimiser update;
 *   4. after_step: the generator's update (shift) and, when due, the
 *      probability update with its validation passes.
 * Strategies differ only in step 1 (attentive also scores its candidates
 * with forward passes), so they are measured the same way.
 */
#ifndef SHIFTNAS_SUPERNET_TRAINING_H
#define SHIFTNAS_SUPERNET_TRAINING_H

#include "shiftnas/config.h"
#include "shiftnas/generator.h"
#include "shiftnas/network.h"
#include "shiftnas/optim.h"
#include "shiftnas/runfiles.h"
#include "shiftnas/sampler.h"
#include "shiftnas/train.h"

#include "data_parallel.h"

enum { SUPERNET_SLOTS_MAX = SN_SAMPLER_SANDWICH_MAX };

/* Held-out images the probability update evaluates, and the buffers it uses. */
typedef struct {
    sn_image_source *source;  /* the training file, read on the main thread */
    const uint32_t *indices;
    int64_t count;
    int64_t chunk;          /* images per forward (a fixed list of chunks at any rank count) */
    float *images;          /* [chunk, image floats] */
    int32_t *labels;        /* [chunk] */
} sn_supernet_validation;

typedef struct {
    const sn_config *config;
    sn_network *network;
    const sn_space *space;
    sn_strategy strategy;
    sn_sampler sampler;
    sn_arch fixed_subnet;           /* fixed only: [search] subnet */
    sn_shift shift;                 /* shift only */
    int have_shift;
    sn_generator generator;         /* shift only */
    int have_generator;
    sn_optimizer generator_optimizer;
    int64_t total_steps, warmup_steps;
    int64_t batch;
    int classes;

    /* buffers, allocated by init */
    float *probabilities;           /* [choice_total] the generator's one-hots */
    float *probs, *dlogits;         /* [batch, classes] */
    float *teacher;                 /* [batch, classes] the largest subnet's softmax */

    /* the step's plan */
    int subnet_count;
    sn_arch subnets[SUPERNET_SLOTS_MAX];
    int bucket[SUPERNET_SLOTS_MAX];       /* the bucket of the subnet's MACs (after the step) */
    int drawn_bucket[SUPERNET_SLOTS_MAX]; /* the bucket the strategy drew (-1: none) */
    double target[SUPERNET_SLOTS_MAX];
    sn_arch candidates[SN_SAMPLER_CANDIDATES_MAX];
    double candidate_loss[SN_SAMPLER_CANDIDATES_MAX];
    int masked;                     /* shift: this step runs the masked supernet */

    /* the last step, for the log and the progress line */
    double subnet_loss[SUPERNET_SLOTS_MAX];
    int64_t subnet_macs[SUPERNET_SLOTS_MAX];

    /* the probability update */
    double validation_loss[SN_BUCKETS_MAX];
    sn_arch bucket_subnet[SN_BUCKETS_MAX];
    double update_seconds;          /* wall time of every update, validation included */
    int64_t updates;

    sn_run_log *log;                /* may be NULL (ranks other than 0) */

    /* data parallelism */
    sn_data_parallel *dp;
    sn_supernet_validation validation;
    int64_t image_floats;
    float *statistics_saved;        /* running statistics kept across the validation passes */
    double *validation_mine;        /* [chunks of this rank * buckets] */
    double *validation_all;         /* [chunks * buckets] (rank 0) */
    int *validation_counts;         /* [ranks] */

    /* the target-input estimator only (shift_target_input.h) */
    float *snapshot;                /* [parameters] the weights at the previous update */
    float *generator_grads_saved;   /* [generator parameters] kept across its extra backward */
    float *input_dloss_dp;          /* [choice_total] the summed architecture gradient */
    double *input_mine, *input_all; /* [chunks * (1 + choice_total)]: loss sum, d loss / d p */
} sn_supernet_training;

/* Builds the strategy's state for `network` (a supernet), including the
 * generator for `shift`. total_steps and warmup_steps are the supernet's
 * schedule (the generator follows its shape). `dp` (whose extra entries
 * must be the space's choice_total for shift) cuts every step into shards;
 * `validation` (may be NULL without shift) is what the probability update
 * evaluates. */
int sn_supernet_training_init(sn_supernet_training *training, const sn_config *config,
                              sn_network *network, sn_data_parallel *dp, int64_t total_steps,
                              int64_t warmup_steps, int64_t batch,
                              const sn_supernet_validation *validation, sn_run_log *log);
void sn_supernet_training_free(sn_supernet_training *training);

/* Steps 1 and 2 above for `step` on this rank's shards (images and labels
 * hold this rank's part of the batch): plans, runs every planned subnet on
 * each shard, and reduces across ranks (sn_data_parallel_reduce): the
 * gradient slab then holds the batch's gradient on every rank. *loss is the
 * mean over the step's subnets of the loss each was trained on. A failure
 * on any rank fails the step on every rank (SN_ERR_PEER on the others);
 * SN_ERR_NUMERIC names the step and the subnet if a loss is not finite. */
int sn_supernet_training_step(sn_supernet_training *training, sn_data_parallel *dp,
                              const float *images, const int32_t *labels, int64_t step,
                              double *loss);

/* Step 4: the generator's optimiser update (at the supernet's schedule
 * scaled to its own rate: lr_scale = lr(step) / base lr), the step's log
 * rows, and, when due, the probability update (collective). */
int sn_supernet_training_after_step(sn_supernet_training *training, int64_t step, double lr_scale);

#endif
