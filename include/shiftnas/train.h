/*
 * shiftnas/train.h — training the configured network (a fixed network, or a
 * supernet with one of the sampling strategies below) on one process or on
 * the ranks of a run: data, split, schedule, progress, evaluation,
 * checkpoints and the run directory; and a trained supernet run opened
 * again for search, evaluation and export.
 *
 * RUN_DIR receives:
 *   config.ini    the fully resolved configuration (loadable with --config)
 *   metrics.csv   step,epoch,split,loss,accuracy,images,seconds — one row per
 *                 evaluation (split "val": the held-out part of the training
 *                 set; "test": the test set; a supernet run evaluates its
 *                 largest and smallest subnets, "val-largest", "test-smallest",
 *                 ..., or its one subnet, "val-subnet");
 *                 accuracy in [0, 1]; with [run] metrics_interval_steps = N,
 *                 also a row of split "train" every N steps: the mean
 *                 training loss since the previous one, accuracy empty
 *   model.h5      the trained weights after every epoch (doc/run-files.md)
 *   log.h5        supernet runs: every trained subnet and probability update
 *   checkpoints/  as [checkpoint] says (doc/checkpoint.md)
 */
#ifndef SHIFTNAS_TRAIN_H
#define SHIFTNAS_TRAIN_H

#include "shiftnas/api.h"

#include <stdint.h>
#include <stdio.h>

#include "shiftnas/config.h"
#include "shiftnas/dist.h"
#include "shiftnas/data.h"
#include "shiftnas/generator.h"
#include "shiftnas/input.h"
#include "shiftnas/network.h"
#include "shiftnas/sampler.h"
#include "shiftnas/settings.h"
#include "shiftnas/space.h"
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
    int64_t first_step;           /* where this session started (a resumed run: > 0) */
    int stopped;                  /* stopped early with a checkpoint (signal or time budget) */
    int stop_signal;              /* the signal that asked, or 0 (the time budget) */
    int already_complete;         /* --resume of a run that had finished: nothing done */
    int64_t checkpoints;          /* written by this session */
    double checkpoint_seconds;    /* their wall time, agreement included */
    int64_t checkpoint_bytes;     /* their total size */
} sn_train_result;

/* ---- a run's images -------------------------------------------------------
 *
 * The sources [data] names (shiftnas/input.h), held in memory or streamed
 * ([data] stream), and the input pipeline made from [data] and the stored
 * shape. `train` serves the training batches (the prefetcher's thread reads
 * it); `train_main` is the training file for the main thread (validation
 * split, batch-norm recalibration, the normalisation pass); `test` the test
 * split. The sources point at `pipeline`: the struct must not move. */
typedef struct {
    sn_image_set train_set, test_set;   /* in memory; empty when streamed */
    sn_input_pipeline pipeline;
    sn_image_source *train, *train_main, *test;
    int64_t train_count, test_count;
    sn_input_shape shape;               /* the model's input */
    int streamed;
} sn_run_data;

/* Opens the sources and checks [data]'s pipeline against the stored images
 * (one line naming the file or key on failure). The normalisation is set
 * by sn_run_data_normalize, once the training split is known. */
SN_API int sn_run_data_open(sn_run_data *data, const sn_config *config);
/* [data] normalization: computed over the given training images (read in
 * pieces when streamed), or the fixed mean and std. */
SN_API int sn_run_data_normalize(sn_run_data *data, const sn_config *config,
                                 const uint32_t *indices,
                                 int64_t count);
SN_API void sn_run_data_close(sn_run_data *data);

/* Trains and evaluates on this process alone; progress lines go to
 * `progress` (stdout in the program). run_dir must not already hold a run. */
SN_API int sn_train(const sn_config *config, const char *run_dir, FILE *progress,
                    sn_train_result *result);
/* How sn_train_on_ranks starts (its `resume`). */
enum {
    SN_TRAIN_NEW = 0,          /* a new run: RUN_DIR must not hold one */
    SN_TRAIN_RESUME = 1,       /* continue RUN_DIR's run (below) */
    SN_TRAIN_RESUME_STRICT = 2 /* the same, refusing a damaged `latest` or checkpoint */
};
/* The same on the ranks of `dist` (shiftnas/dist.h): every rank calls it;
 * rank 0 prints (the other ranks' `progress` is ignored) and writes RUN_DIR.
 * The trained state is the same bits at any rank count (doc/distributed.md).
 * resume = SN_TRAIN_RESUME continues the run in RUN_DIR from the checkpoint
 * its checkpoints/latest names (doc/checkpoint.md), or from step 0 if it has
 * none yet; config must be the run's (result-neutral keys may differ). When
 * `latest` is malformed or names a missing, truncated or damaged file, the
 * run goes on from the newest intact checkpoint and says so on `progress`;
 * SN_TRAIN_RESUME_STRICT refuses instead (SN_ERR_FORMAT naming the file).
 * One writer per RUN_DIR: the program holds its lock (shiftnas/run_lock.h)
 * around this call, and so should any other caller.
 * Checkpoints go to RUN_DIR/checkpoints as [checkpoint] says; SIGUSR1 and
 * SIGTERM (and [checkpoint] stop_after_seconds) end the run after the
 * current step with a checkpoint and result->stopped = 1.
 * A failure on any rank fails every rank: the failing one returns its error,
 * the others SN_ERR_PEER. */
SN_API int sn_train_on_ranks(const sn_config *config, const char *run_dir, const sn_dist *dist,
                             int resume, FILE *progress, sn_train_result *result);

/* Stop requests. SIGUSR1 and SIGTERM ask a training run to stop after its
 * current step with a checkpoint (shiftnas train then exits with 75, see
 * doc/checkpoint.md); the handler only sets a flag that the ranks agree on
 * between steps. sn_train_on_ranks installs the handlers for its duration
 * when they are not installed yet. A program that starts MPI first installs
 * them before sn_dist_init, so that a request during start-up (mpirun
 * forwards SIGUSR1 at once) stops the run after its first step instead of
 * killing the process. */

/* Installs the handlers, keeping the previous ones for the restore; a no-op
 * when they are installed already (a request that came meanwhile stays). */
SN_API int sn_stop_request_install(void);
/* Puts back the handlers that were there before the install. */
SN_API void sn_stop_request_restore(void);

/* The BLIS kernels for the configured network (sn_blas_setup_for): the fixed
 * CNN's wide convolutions run fastest on the large-product kernels, the
 * ViT's per-head products and the supernets' narrow layers on the
 * small-product ones (doc/performance.md). */
SN_API sn_blas_products sn_train_blas_products(const sn_config *config);

/* Re-estimates the running batch-norm statistics of a supernet's current
 * subnet as the equal-weight average of the batch statistics of `batches`
 * batches of at most batch_size images taken in order from indices[0..count)
 * (wrapping round), normalised, without augmentation. images and labels are
 * the caller's buffers for one batch (in the network's input layout). */
struct sn_network;
SN_API int sn_recalibrate_batchnorm(struct sn_network *network, sn_image_source *source,
                                    const uint32_t *indices, int64_t count, int64_t batches,
                                    int64_t batch_size, float *images, int32_t *labels);

/* ---- supernet training: strategies ---------------------------------------
 *
 * [search] strategy names how each step picks the subnets it trains
 * (doc/algorithm.md): uniform, flops-uniform, sandwich, attentive, shift, or
 * fixed (one given subnet: retraining a searched subnet from scratch).
 * Every strategy runs through the same training step (src/train/
 * supernet_training.c). A supernet run's RUN_DIR/model.h5 holds the
 * supernet's and, for shift, the generator's weights (a fixed network's:
 * its own, part "network"); it also writes RUN_DIR/log.h5 (every trained
 * subnet and every probability update); doc/run-files.md gives their
 * layout. */
typedef enum {
    SN_STRATEGY_UNIFORM = 0,
    SN_STRATEGY_FLOPS_UNIFORM,
    SN_STRATEGY_SANDWICH,
    SN_STRATEGY_ATTENTIVE,
    SN_STRATEGY_SHIFT,
    /* one subnet ([search] subnet), every step: training it from scratch
     * on the supernet's code path (the retraining baseline of a search) */
    SN_STRATEGY_FIXED
} sn_strategy;

/* "uniform", "flops-uniform", "sandwich", "attentive", "shift" or "fixed";
 * SN_ERR_CONFIG for anything else. */
SN_API int sn_strategy_parse(const char *name, sn_strategy *strategy);
SN_API const char *sn_strategy_name(sn_strategy strategy);

/* ---- evaluating one subnet of a trained supernet -------------------------- */

typedef struct {
    struct sn_network *network;       /* a supernet */
    sn_image_source *train_source;    /* recalibration images come from here */
    const uint32_t *train_indices;    /* ... these (the training split) */
    int64_t train_count;
    int64_t chunk;                    /* images per forward */
    int64_t recalibration_batches;    /* CNN spaces only ... */
    int64_t recalibration_batch_size; /* ... of this many images (<= chunk) */
    float *images;                    /* [chunk, image floats] */
    float *probs;                     /* [chunk, classes] */
    int32_t *labels;                  /* [chunk] */
} sn_subnet_evaluator;

/* Mean cross-entropy (no smoothing) and accuracy of the network as it is
 * over source[indices[0..count)], in chunks of at most `chunk` images (the
 * caller's buffers: images, probs [chunk, classes], labels). batch_statistics
 * = 1 runs a training-mode forward (batch norm on the chunk's statistics) and
 * must only be used for networks without dropout; else evaluation mode.
 * accuracy may be NULL. */
SN_API int sn_evaluate_network(struct sn_network *network, sn_image_source *source,
                               const uint32_t *indices, int64_t count, int64_t chunk,
                               int batch_statistics, float *images, float *probs, int32_t *labels,
                               double *loss, double *accuracy);

/* Sets the subnet (sliced), re-estimates its batch-norm statistics (CNN
 * spaces) and returns its mean cross-entropy and accuracy over
 * source[indices[0..count)] in evaluation mode. */
SN_API int sn_evaluate_subnet(sn_subnet_evaluator *evaluator, const sn_arch *arch,
                              sn_image_source *source, const uint32_t *indices, int64_t count,
                              double *loss, double *accuracy);
/* The same, also copying every image's logits into logits [count, classes]
 * and its label into labels [count] (either may be NULL): the numbers the
 * accuracy is counted from (`shiftnas eval --logits`). */
SN_API int sn_evaluate_subnet_logits(sn_subnet_evaluator *evaluator, const sn_arch *arch,
                                     sn_image_source *source, const uint32_t *indices,
                                     int64_t count,
                                     float *logits, int32_t *labels, double *loss, double *accuracy);
/* What sn_evaluate_subnet does before it evaluates: sets the subnet
 * (sliced) and re-estimates its batch-norm statistics (CNN spaces). The
 * supernet is then that subnet as eval measures it (sn_trained_run_export_subnet). */
SN_API int sn_subnet_evaluator_prepare(sn_subnet_evaluator *evaluator, const sn_arch *arch);

/* ---- who uses which held-out images --------------------------------------- */

/* The validation split's images serve two selections that must not see each
 * other's images: the probability shift's updates (a supernet run with
 * strategy = shift and shift_statistic = loss-change; the other strategies
 * and the variance statistic evaluate none) take the LAST
 * shift_validation_images, the search's fitness the FIRST
 * evolution_validation_images. Without shift images the fitness takes
 * min(evolution_validation_images, split) images, all of them for 0; with
 * them, 0 means every image the shift does not use. */
typedef struct {
    int64_t shift_first, shift_count;  /* the shift's: validation[shift_first, + shift_count) */
    int64_t fitness_count;             /* the search's fitness: validation[0, fitness_count) */
} sn_held_out_plan;

/* The plan for a split of validation_count images under config.
 * SN_ERR_CONFIG, one line naming [search] shift_validation_images,
 * evolution_validation_images and [data] validation_size, when a shift run's
 * two sets would overlap (or leave the fitness no image), or when it has no
 * held-out images at all. `shiftnas train` checks it before it starts,
 * `shiftnas search` with its own --set values. */
SN_API int sn_held_out_plan_make(const sn_config *config, int64_t validation_count,
                                 sn_held_out_plan *plan);

/* ---- a trained supernet run, opened for search and evaluation ------------- */

typedef struct {
    sn_config config;                 /* RUN_DIR/config.ini, then the overrides */
    sn_run_data data;                 /* its images, as in training */
    sn_split split;                   /* the same held-out split as in training */
    struct sn_network *network;       /* the supernet, weights from RUN_DIR/model.h5 */
    const sn_space *space;
    sn_generator generator;           /* shift runs */
    int have_generator;
    sn_strategy strategy;
    int64_t steps;                    /* training steps the weights have seen */
    sn_subnet_evaluator evaluator;
    uint32_t *test_indices;           /* 0 .. test count - 1 */
} sn_trained_run;

/* Opens RUN_DIR (config.ini and model.h5 of a supernet run) and loads its
 * data. overrides: "section.key=value" applied after config.ini ([search]
 * evolution keys, [data] path if the data moved, ...). Errors name the file
 * and the problem. */
SN_API int sn_trained_run_open(sn_trained_run *run, const char *run_dir,
                               const char *const *overrides,
                               int override_count);
SN_API void sn_trained_run_close(sn_trained_run *run);

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

SN_API void sn_progress_init(sn_progress *progress, FILE *out, double log_interval_seconds,
                             int64_t first_step, int64_t total_steps, int epochs);
/* Called after every step; prints when the interval has passed. */
SN_API void sn_progress_step(sn_progress *progress, int64_t step, int epoch, double loss, double lr,
                             int64_t images);
/* Ends a live line (so the next message starts on its own line). */
SN_API void sn_progress_break(sn_progress *progress);
/* "1h02m", "3m07s", "12s" */
SN_API void sn_format_duration(char *buffer, size_t size, double seconds);
/* Monotonic seconds. */
SN_API double sn_now(void);

/* ---- metrics.csv ---------------------------------------------------------- */

typedef struct {
    FILE *file;
    char path[1024];
} sn_metrics;

SN_API int sn_metrics_open(sn_metrics *metrics, const char *run_dir);
/* Opens an existing RUN_DIR/metrics.csv to append rows (a resumed run). */
SN_API int sn_metrics_open_append(sn_metrics *metrics, const char *run_dir);
SN_API int sn_metrics_append(sn_metrics *metrics, int64_t step, int epoch, const char *split,
                             double loss,
                             double accuracy, int64_t images, double seconds);
/* A training row: split "train", the given mean training loss, no
 * accuracy (an empty field). */
SN_API int sn_metrics_append_train(sn_metrics *metrics, int64_t step, int epoch, double loss,
                                   int64_t images, double seconds);
SN_API int sn_metrics_close(sn_metrics *metrics);

#ifdef __cplusplus
}
#endif
#endif
