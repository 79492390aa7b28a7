/*
 * shiftnas/train.h — single-process training of the configured network:
 * data, split, schedule, progress, evaluation, and the run directory.
 *
 * RUN_DIR receives:
 *   config.ini    the fully resolved configuration (loadable with --config)
 *   metrics.csv   step,epoch,split,loss,accuracy,images,seconds — one row per
 *                 evaluation (split "val": the held-out part of the training
 *                 set; "test": the test set); accuracy in [0, 1]
 */
#ifndef SHIFTNAS_TRAIN_H
#define SHIFTNAS_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "shiftnas/config.h"
#include "shiftnas/data.h"
#include "shiftnas/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t steps;
    int64_t images;               /* training images processed */
    double seconds;               /* wall time of the training loop, evaluations included */
    double train_seconds;         /* forward/backward/update only */
    double final_train_loss;      /* mean over the last epoch */
    double validation_loss, validation_accuracy;
    double test_loss, test_accuracy;
} sn_train_result;

/* Loads the training and test sets named by [data] (limits applied). */
int sn_load_datasets(const sn_config *config, sn_image_set *train, sn_image_set *test);

/* Trains and evaluates; progress lines go to `progress` (stdout in the
 * program). run_dir must not already hold a run. */
int sn_train(const sn_config *config, const char *run_dir, FILE *progress, sn_train_result *result);

/* The BLIS kernels for the configured network (sn_blas_setup_for): the fixed
 * CNN's wide convolutions run fastest on the large-product kernels, the
 * ViT's per-head products and the supernets' narrow layers on the
 * small-product ones (doc/performance.md). */
sn_blas_products sn_train_blas_products(const sn_config *config);

/* Re-estimates the running batch-norm statistics of a supernet's current
 * subnet as the equal-weight average of the batch statistics of `batches`
 * batches of at most batch_size images taken in order from indices[0..count)
 * (wrapping round), normalised, without augmentation. images and labels are
 * the caller's buffers for one batch (in the network's input layout). */
struct sn_network;
int sn_recalibrate_batchnorm(struct sn_network *network, const sn_image_set *set,
                             const uint32_t *indices, int64_t count,
                             const sn_normalization *normalization, int64_t batches,
                             int64_t batch_size, float *images, int32_t *labels);

/* ---- progress lines ------------------------------------------------------ */

typedef struct {
    FILE *out;
    int terminal;                 /* rewrite one live line instead of printing lines */
    double interval;              /* seconds between lines (terminal: between redraws) */
    double start, last_print;
    int64_t first_step, total_steps, window_images, window_steps;
    double window_loss;
    int epochs;
} sn_progress;

void sn_progress_init(sn_progress *progress, FILE *out, double log_interval_seconds,
                      int64_t first_step, int64_t total_steps, int epochs);
/* Called after every step; prints when the interval has passed. */
void sn_progress_step(sn_progress *progress, int64_t step, int epoch, double loss, double lr,
                      int64_t images);
/* Ends a live line (so the next message starts on its own line). */
void sn_progress_break(sn_progress *progress);
/* "1h02m", "3m07s", "12s" */
void sn_format_duration(char *buffer, size_t size, double seconds);
/* Monotonic seconds. */
double sn_now(void);

/* ---- metrics.csv ---------------------------------------------------------- */

typedef struct {
    FILE *file;
    char path[1024];
} sn_metrics;

int sn_metrics_open(sn_metrics *metrics, const char *run_dir);
int sn_metrics_append(sn_metrics *metrics, int64_t step, int epoch, const char *split, double loss,
                      double accuracy, int64_t images, double seconds);
int sn_metrics_close(sn_metrics *metrics);

#ifdef __cplusplus
}
#endif
#endif
