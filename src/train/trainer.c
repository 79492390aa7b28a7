/*
 * Training: the configured network on the configured data, on one or more
 * ranks (data_parallel.h), with the schedule, guards, progress and
 * evaluations a long run needs. The trainer's parts are in
 * trainer_internal.h; this is its loop.
 */
#include "shiftnas/train.h"

#include <string.h>

#include "shiftnas/error.h"

#include "trainer_internal.h"

/* Only the CNN supernet keeps BLIS's small-product kernels: its 1x1
 * products at a shard of 16 images are narrow (a dozen to a few hundred
 * channels) and the small subnets' steps were 1.3-1.7x faster on them. The
 * ViTs' per-head products no longer go through BLIS (attention.c), which
 * leaves them the linear layers, 1.4x faster on the large-product kernels
 * (doc/performance.md, "Kernel choice"). */
sn_blas_products sn_train_blas_products(const sn_config *config)
{
    const int cnn_supernet = strcmp(config->model_type, "supernet") == 0 &&
                             strcmp(config->space_type, "cnn") == 0;
    return cnn_supernet ? SN_BLAS_SMALL_PRODUCTS : SN_BLAS_LARGE_PRODUCTS;
}

int sn_train(const sn_config *config, const char *run_dir, FILE *out, sn_train_result *result)
{
    sn_dist local;
    sn_dist_local_init(&local);
    return sn_train_on_ranks(config, run_dir, &local, SN_TRAIN_NEW, out, result);
}

int sn_train_on_ranks(const sn_config *config, const char *run_dir, const sn_dist *dist,
                      int resume, FILE *out, sn_train_result *result)
{
    sn_trainer trainer;
    sn_trainer *t = &trainer;
    int status = sn_trainer_setup(t, config, run_dir, dist, resume, out, result);
    if (status != SN_OK || result->already_complete)
        return sn_trainer_free(t, status);
    int stop = 0;
    for (int64_t step = t->first_step; step < t->total_steps && !stop; step++) {
        status = sn_trainer_step(t, step);
        if (status == SN_OK && sn_trainer_epoch_ends(t, step))
            status = sn_trainer_end_epoch(t, step);
        if (status == SN_OK)
            status = sn_trainer_checkpoint_or_stop(t, step, &stop);
        if (status != SN_OK)
            return sn_trainer_free(t, status);
    }
    status = sn_trainer_finish(t);
    if (status == SN_OK)
        status = sn_trainer_summary(t);
    return sn_trainer_free(t, status);
}
