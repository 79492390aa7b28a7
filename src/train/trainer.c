/*
 * Training: the configured network on the configured data, on one or more
 * ranks (data_parallel.h), with the schedule, guards, progress and
 * evaluations a long run needs.
 */
#include "shiftnas/train.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shiftnas/error.h"
#include "shiftnas/network.h"
#include "shiftnas/nn.h"
#include "shiftnas/optim.h"
#include "shiftnas/runfiles.h"
#include "shiftnas/tensor.h"

#include "shiftnas/checkpoint.h"

#include "checkpointing.h"
#include "dist/dist_internal.h"
#include "data_parallel.h"
#include "stop_request.h"
#include "supernet_training.h"

static void truncate_set(sn_image_set *set, int64_t limit)
{
    if (limit > 0 && limit < set->count)
        set->count = limit;
}

int sn_load_datasets(const sn_config *config, sn_image_set *train, sn_image_set *test)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    int status;
    if (strcmp(config->dataset, "fashion-mnist") == 0) {
        status = sn_idx_load_directory(config->path, train, test);
    } else {
        status = sn_hdf5_image_set_read(config->path, "train", train);
        if (status == SN_OK)
            status = sn_hdf5_image_set_read(config->path, "test", test);
    }
    if (status != SN_OK) {
        sn_image_set_free(train);
        sn_image_set_free(test);
        return status;
    }
    if (train->channels != test->channels || train->height != test->height ||
        train->width != test->width) {
        /* the message first: freeing the sets zeroes their shapes */
        status = sn_error_set(SN_ERR_FORMAT, "%s: training images (%dx%dx%d) and test images (%dx%dx%d) differ in shape",
                              config->path, train->channels, train->height, train->width,
                              test->channels, test->height, test->width);
        sn_image_set_free(train);
        sn_image_set_free(test);
        return status;
    }
    int classes = train->classes > test->classes ? train->classes : test->classes;
    train->classes = test->classes = classes;
    truncate_set(train, config->train_limit);
    truncate_set(test, config->test_limit);
    return SN_OK;
}

/* Creates the run directory (and its parents); refuses one that already
 * holds a run, so that nothing a user has is overwritten. */
static int prepare_run_dir(const char *run_dir)
{
    char path[1024];
    if (snprintf(path, sizeof path, "%s", run_dir) >= (int)sizeof path)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: run directory path too long", run_dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return sn_error_set(SN_ERR_IO, "%s: cannot create directory: %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return sn_error_set(SN_ERR_IO, "%s: cannot create directory: %s", path, strerror(errno));
    char metrics[1100];
    snprintf(metrics, sizeof metrics, "%s/metrics.csv", run_dir);
    struct stat st;
    if (stat(metrics, &st) == 0)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: already holds a run (metrics.csv exists); choose another --out",
                            run_dir);
    return SN_OK;
}

/* RUN_DIR/config.ini through a temporary and a rename: a resume reads it,
 * so a kill must never leave half of it. */
static int write_resolved_config(const sn_config *config, const char *run_dir)
{
    char path[1100], temporary[1110];
    snprintf(path, sizeof path, "%s/config.ini", run_dir);
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    FILE *f = fopen(temporary, "w");
    if (!f)
        return sn_error_set(SN_ERR_IO, "%s: cannot create: %s", temporary, strerror(errno));
    int status = sn_config_write(config, f);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        status = status == SN_OK ? sn_error_set(SN_ERR_IO, "%s: write failed: %s", temporary,
                                                strerror(errno))
                                 : status;
    if (fclose(f) != 0 && status == SN_OK)
        status = sn_error_set(SN_ERR_IO, "%s: write failed: %s", temporary, strerror(errno));
    if (status == SN_OK && rename(temporary, path) != 0)
        status = sn_error_set(SN_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (status != SN_OK)
        remove(temporary);
    return status;
}

/* Everything the loop touches, allocated before the first step. The
 * training batches have two buffers: the step trains on one while the
 * prefetcher fills the other. Evaluations have their own. */
typedef struct {
    float *images, *probs, *dlogits;    /* evaluation chunks; probs and dlogits also training's */
    int32_t *labels;
    float *batch_images[2];
    int32_t *batch_labels[2];
    uint32_t *order, *test_indices;
} train_buffers;

static void free_buffers(train_buffers *b)
{
    for (int i = 0; i < 2; i++) {
        sn_free(b->batch_images[i]);
        sn_free(b->batch_labels[i]);
    }
    sn_free(b->images);
    sn_free(b->probs);
    sn_free(b->dlogits);
    sn_free(b->labels);
    sn_free(b->order);
    sn_free(b->test_indices);
}

/* Mean cross-entropy (no smoothing) and accuracy over the given images, in
 * evaluation mode, in chunks of at most `chunk`. */
static int evaluate(sn_network *network, sn_image_source *source, const uint32_t *indices,
                    int64_t count, int64_t chunk, train_buffers *b, double *loss, double *accuracy)
{
    return sn_evaluate_network(network, source, indices, count, chunk, 0, b->images, b->probs,
                               b->labels, loss, accuracy);
}

static int64_t count_parameters(const sn_parameter_table *table)
{
    int64_t n = 0;
    for (int i = 0; i < table->count; i++)
        n += (int64_t)table->entries[i].count;
    return n;
}

/* RUN_DIR/model.h5: the supernet's weights and, for shift, the generator's,
 * with the resolved configuration (so search and eval need nothing else). */
static int write_model(const sn_config *config, const char *run_dir, int64_t steps,
                       sn_network *network, const sn_supernet_training *training)
{
    char *text = NULL;
    size_t size = 0;
    FILE *memory = open_memstream(&text, &size);
    if (!memory)
        return sn_error_set(SN_ERR_NOMEM, "cannot hold the configuration text");
    int status = sn_config_write(config, memory);
    fclose(memory);
    if (status == SN_OK) {
        sn_model_part parts[2] = {
            {"supernet", sn_network_parameter_table(network), sn_network_parameters(network)},
            {"generator", NULL, NULL},
        };
        int count = 1;
        if (training->have_generator) {
            parts[1].table = &training->generator.table;
            parts[1].values = training->generator.params;
            count = 2;
        }
        char path[1100];
        snprintf(path, sizeof path, "%s/model.h5", run_dir);
        status = sn_model_file_write(path, text, steps, parts, count);
    }
    free(text);
    return status;
}

/* Epoch-end figures of a supernet: its largest and smallest subnets, each
 * after batch-norm recalibration, on `split` ("val" or "test"). Every rank
 * evaluates (the same bits everywhere); only rank 0 has a metrics file. */
static int evaluate_supernet_ends(sn_subnet_evaluator *evaluator,
                                  const sn_supernet_training *training, sn_image_source *source,
                                  const uint32_t *indices, int64_t count, const char *split,
                                  sn_metrics *metrics, int64_t step, int epoch, int64_t images,
                                  double elapsed, double loss[2], double accuracy[2])
{
    const sn_space *space = sn_network_space(evaluator->network);
    sn_arch ends[2];
    sn_arch_largest(space, &ends[0]);
    sn_arch_smallest(space, &ends[1]);
    const char *names[2] = {"largest", "smallest"};
    int count_ends = 2;
    if (training->strategy == SN_STRATEGY_FIXED) {
        /* Only the trained subnet has trained weights: the ends would say
         * nothing. Its figures go in the "largest" slot of the result. */
        ends[0] = training->fixed_subnet;
        names[0] = "subnet";
        count_ends = 1;
        loss[1] = accuracy[1] = NAN;
    }
    for (int i = 0; i < count_ends; i++) {
        SN_TRY(sn_evaluate_subnet(evaluator, &ends[i], source, indices, count, &loss[i],
                                  &accuracy[i]));
        char label[32];
        snprintf(label, sizeof label, "%s-%s", split, names[i]);
        if (metrics->file)
            SN_TRY(sn_metrics_append(metrics, step, epoch, label, loss[i], accuracy[i], images,
                                     elapsed));
    }
    return SN_OK;
}

/* The end of a supernet epoch: validation figures of the largest and
 * smallest subnets, test figures after the last epoch, the model file. */
static int finish_supernet_epoch(const sn_config *config, const char *run_dir, int writer,
                                 sn_network *network, sn_supernet_training *training,
                                 sn_subnet_evaluator *evaluator, const sn_run_data *data,
                                 const sn_split *split,
                                 const train_buffers *b, sn_metrics *metrics, int64_t step,
                                 int epoch, int epochs, int64_t total_steps,
                                 sn_train_result *result, double elapsed, FILE *out)
{
    double loss[2] = {0, 0}, accuracy[2] = {0, 0};
    if (split->validation_count > 0) {
        SN_TRY(evaluate_supernet_ends(evaluator, training, data->train_main, split->validation,
                                      split->validation_count, "val", metrics, step + 1, epoch + 1,
                                      result->images, elapsed, loss, accuracy));
        result->validation_loss = loss[0];
        result->validation_accuracy = accuracy[0];
    }
    if (out) {
        if (training->strategy == SN_STRATEGY_FIXED)
            fprintf(out, "epoch %d/%d done: train loss %.4f | val acc %.4f\n", epoch + 1, epochs,
                    result->final_train_loss, accuracy[0]);
        else
            fprintf(out, "epoch %d/%d done: train loss %.4f | val acc largest %.4f smallest %.4f\n",
                    epoch + 1, epochs, result->final_train_loss, accuracy[0], accuracy[1]);
        fflush(out);
    }
    if (step == total_steps - 1) {
        SN_TRY(evaluate_supernet_ends(evaluator, training, data->test, b->test_indices, data->test_count,
                                      "test", metrics, step + 1, epoch + 1, result->images, elapsed,
                                      loss, accuracy));
        result->test_loss = loss[0];
        result->test_accuracy = accuracy[0];
        if (out) {
            if (training->strategy == SN_STRATEGY_FIXED)
                fprintf(out, "test: subnet acc %.4f\n", accuracy[0]);
            else
                fprintf(out, "test: largest subnet acc %.4f, smallest %.4f\n", accuracy[0],
                        accuracy[1]);
            fflush(out);
        }
    }
    if (!writer)
        return SN_OK;
    if (training->log)
        SN_TRY(sn_run_log_flush(training->log));
    return write_model(config, run_dir, step + 1, network, training);
}

sn_blas_products sn_train_blas_products(const sn_config *config)
{
    return strcmp(config->model_type, "cnn") == 0 ? SN_BLAS_LARGE_PRODUCTS
                                                  : SN_BLAS_SMALL_PRODUCTS;
}

/* A fixed network's step: forward, loss and backward of each of this
 * rank's shards, then the reduction (data_parallel.h). */
static int fixed_network_step(sn_network *network, sn_data_parallel *dp, const sn_config *config,
                              train_buffers *b, const float *images, const int32_t *labels,
                              int64_t image_floats, int classes, int64_t step, double *loss)
{
    const sn_shard_plan *plan = &dp->plan;
    sn_data_parallel_begin_step(dp);
    int status = SN_OK;
    for (int s = plan->first; status == SN_OK && s < plan->last; s++) {
        int64_t offset = sn_data_parallel_offset(dp, s), n = sn_shard_size(plan, s);
        sn_data_parallel_begin_shard(dp, s);
        sn_forward_mode mode = {1, (uint64_t)config->seed, (uint64_t)step, (uint32_t)s};
        const float *logits = sn_network_forward(network, images + offset * image_floats, n, &mode);
        double shard_loss = sn_softmax_cross_entropy_forward(
            b->probs, logits, labels + offset, n, classes, (float)config->label_smoothing, NULL);
        if (!isfinite(shard_loss)) {
            status = sn_error_set(SN_ERR_NUMERIC, "step %lld: training loss of shard %d is %s; stopping",
                                  (long long)step + 1, s, isnan(shard_loss) ? "NaN" : "infinite");
            break;
        }
        /* Weighed by the shard's share: the shards' gradients sum to the
         * gradient of the batch's mean loss. */
        sn_softmax_cross_entropy_backward(b->dlogits, b->probs, labels + offset, n, classes,
                                          (float)config->label_smoothing,
                                          (float)((double)n / (double)plan->batch));
        sn_network_backward(network, b->dlogits, n);
        dp->values_mine[s - plan->first] = (double)n * shard_loss;
        status = sn_data_parallel_end_shard(dp, s, NULL, step);
    }
    SN_TRY(sn_data_parallel_reduce(dp, status, step));
    SN_TRY(sn_data_parallel_sum_shard_values(dp, dp->values_mine, 1, loss));
    *loss /= (double)plan->batch;
    return SN_OK;
}

/* SHIFTNAS_INJECT_FAULT=RANK:STEP:KIND makes rank RANK fail at step STEP
 * (counted from 1, as the messages count): KIND io (an error returned on
 * that rank alone), nan (a NaN image on that rank: the loss of its shard is
 * NaN), kill (the rank SIGKILLs itself), signal (the rank sends itself
 * SIGUSR1: a stop request) or checkpoint (rank 0 SIGKILLs itself half way
 * through writing the checkpoint of step STEP). For the failure tests. */
typedef struct {
    int rank;
    int64_t step;
    char kind[16];
} injected_fault;

static void parse_injected_fault(injected_fault *fault)
{
    fault->rank = -1;
    fault->step = -1;
    fault->kind[0] = '\0';
    const char *text = getenv("SHIFTNAS_INJECT_FAULT");
    long long step;
    if (text && sscanf(text, "%d:%lld:%15s", &fault->rank, &step, fault->kind) == 3)
        fault->step = step - 1;
}

/* A hash of everything that must be the same on every rank. */
static uint64_t state_hash(sn_network *network, const sn_optimizer *optimizer,
                           const sn_supernet_training *training)
{
    const sn_parameter_table *table = sn_network_parameter_table(network);
    uint64_t h = SN_HASH_START;
    h = sn_hash_bytes(h, sn_network_parameters(network), sizeof(float) * table->total);
    h = sn_hash_bytes(h, optimizer->moment1, sizeof(float) * optimizer->size);
    if (optimizer->moment2)
        h = sn_hash_bytes(h, optimizer->moment2, sizeof(float) * optimizer->size);
    int64_t statistics;
    const float *running = sn_network_running_statistics(network, &statistics);
    if (statistics > 0)
        h = sn_hash_bytes(h, running, sizeof(float) * (size_t)statistics);
    if (training->have_generator) {
        const sn_optimizer *g = &training->generator_optimizer;
        h = sn_hash_bytes(h, training->generator.params,
                          sizeof(float) * training->generator.table.total);
        h = sn_hash_bytes(h, g->moment1, sizeof(float) * g->size);
        h = sn_hash_bytes(h, g->moment2, sizeof(float) * g->size);
    }
    if (training->have_shift) {
        h = sn_hash_bytes(h, training->shift.beta, sizeof training->shift.beta);
        h = sn_hash_bytes(h, training->shift.probability, sizeof training->shift.probability);
    }
    return h;
}

/* Peak resident memory of this process in MB. */
static double peak_resident_mb(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return 0;
    return (double)usage.ru_maxrss / 1024.0;
}

/* The run's phases per step (mean over ranks; waiting also as the largest
 * rank's) and the largest peak memory, printed by rank 0. Collective. */
static int report_phases(const sn_dist *dist, const sn_data_parallel *dp, FILE *out)
{
    enum { FIELDS = 8 };
    const sn_phase_times *t = &dp->times;
    double mine[FIELDS] = {t->compute, t->waiting, t->reduce, t->coordinator, t->other, t->bytes,
                           peak_resident_mb(), t->input};
    double all[FIELDS * 1024];
    if (dist->size > 1024)
        return SN_OK;
    int counts[1024];
    for (int r = 0; r < dist->size; r++)
        counts[r] = FIELDS;
    SN_TRY(sn_dist_gather_doubles(dist, mine, counts, all));
    if (!out || t->steps == 0)
        return SN_OK;
    double mean[FIELDS] = {0}, largest[FIELDS] = {0};
    for (int r = 0; r < dist->size; r++)
        for (int f = 0; f < FIELDS; f++) {
            mean[f] += all[r * FIELDS + f] / dist->size;
            if (all[r * FIELDS + f] > largest[f])
                largest[f] = all[r * FIELDS + f];
        }
    double per = 1000.0 / (double)t->steps;
    fprintf(out,
            "phases per step (mean of %d rank(s)): compute %.1f ms, waiting %.1f ms (largest "
            "%.1f), all-reduce %.1f ms (%.2f MB per rank), coordinator %.1f ms, other %.1f ms\n",
            dist->size, mean[0] * per, mean[1] * per, largest[1] * per, mean[2] * per,
            mean[5] / (double)t->steps / 1e6, mean[3] * per, mean[4] * per);
    double step_ms = (mean[0] + mean[1] + mean[2] + mean[3] + mean[4] + mean[7]) * per;
    fprintf(out, "input: %.2f ms per step waiting for the batch (largest rank %.2f), %.1f%% of the "
                 "step\n",
            mean[7] * per, largest[7] * per, step_ms > 0 ? 100.0 * mean[7] * per / step_ms : 0.0);
    fprintf(out, "memory: peak resident %.0f MB per rank (largest rank)\n", largest[6]);
    return SN_OK;
}

/* ---- checkpoints and resume ------------------------------------------------ */

/* Rank 0 of a resumed run: removes what a killed writer left and finds the
 * checkpoint `latest` names (path empty when there is none yet). */
static int find_checkpoint(const char *run_dir, char *path, size_t size, int *found)
{
    path[0] = '\0';
    SN_TRY(sn_checkpoint_remove_temporaries(run_dir));
    SN_TRY(sn_checkpoint_latest(run_dir, path, size, found));
    if (!*found)
        path[0] = '\0';
    return SN_OK;
}

/* Rank 0: metrics.csv and log.h5 for the steps to come. A resumed run gets
 * them back as they were at its checkpoint (rows written after it are
 * dropped: they will be written again, the same); a run without a
 * checkpoint starts them afresh. */
static int open_run_files(const char *run_dir, const char *checkpoint_path, int found, int resume,
                          const sn_config *config, const sn_supernet_training *training,
                          sn_metrics *metrics, sn_run_log **run_log)
{
    char log_path[1100];
    snprintf(log_path, sizeof log_path, "%s/log.h5", run_dir);
    if (found) {
        SN_TRY(sn_training_checkpoint_restore_run_files(checkpoint_path, run_dir));
        SN_TRY(sn_metrics_open_append(metrics, run_dir));
        if (training)
            SN_TRY(sn_run_log_open_append(run_log, log_path, config->search_strategy,
                                          training->sampler.buckets.count));
        return SN_OK;
    }
    if (resume && remove(log_path) != 0 && errno != ENOENT)
        return sn_error_set(SN_ERR_IO, "%s: cannot remove the log of the stopped run: %s",
                            log_path, strerror(errno));
    SN_TRY(sn_metrics_open(metrics, run_dir));
    if (training) {
        const sn_buckets *buckets = &training->sampler.buckets;
        SN_TRY(sn_run_log_create(run_log, log_path, config->search_strategy, buckets->count,
                                 buckets->edge));
    }
    return SN_OK;
}

static void print_checkpoint_plan(FILE *out, const sn_config *config, const char *run_dir)
{
    fprintf(out, "checkpoints: %s/checkpoints, every ", run_dir);
    if (config->checkpoint_interval_steps > 0)
        fprintf(out, "%lld steps%s", (long long)config->checkpoint_interval_steps,
                config->checkpoint_interval_seconds > 0 ? " or " : "");
    if (config->checkpoint_interval_seconds > 0)
        fprintf(out, "%g s", config->checkpoint_interval_seconds);
    if (config->checkpoint_interval_steps <= 0 && config->checkpoint_interval_seconds <= 0)
        fprintf(out, "... never (only at the end and on a stop request)");
    fprintf(out, ", keeping %lld", (long long)config->checkpoint_keep);
    if (config->checkpoint_stop_after_seconds > 0)
        fprintf(out, "; stops with a checkpoint after %g s", config->checkpoint_stop_after_seconds);
    fprintf(out, "; SIGUSR1/SIGTERM: checkpoint and exit 75\n");
}

/* A checkpoint after `steps_done` steps, collective: rank 0 writes the
 * temporary file, the ranks agree, rank 0 publishes it (rename, then
 * `latest`), the ranks agree again. A failure anywhere fails every rank and
 * leaves `latest` naming the previous checkpoint. */
static int take_checkpoint(const sn_dist *dist, const char *run_dir, const sn_config *config,
                           sn_training_state *state, int64_t steps_done, int complete,
                           double epoch_loss, int64_t epoch_steps, sn_train_result *result,
                           sn_run_log *run_log, const sn_metrics *metrics,
                           const injected_fault *fault, FILE *out)
{
    double begin = sn_now();
    state->steps_done = steps_done;
    state->epoch_loss = epoch_loss;
    state->epoch_steps = epoch_steps;
    state->images = result->images;
    state->train_seconds = result->train_seconds;
    state->validation_loss = result->validation_loss;
    state->validation_accuracy = result->validation_accuracy;
    state->test_loss = result->test_loss;
    state->test_accuracy = result->test_accuracy;
    int kill_midway = fault->rank == 0 && fault->step + 1 == steps_done &&
                      strcmp(fault->kind, "checkpoint") == 0;
    int64_t bytes = 0;
    int status = SN_OK;
    if (dist->rank == 0)
        status = sn_training_checkpoint_write(state, run_dir, dist->size, complete, run_log,
                                              metrics->file ? metrics->path : NULL, kill_midway,
                                              &bytes);
    SN_TRY(sn_dist_agree(dist, status));
    if (dist->rank == 0)
        status = sn_checkpoint_publish(run_dir, steps_done, (int)config->checkpoint_keep);
    SN_TRY(sn_dist_agree(dist, status));
    double seconds = sn_now() - begin;
    result->checkpoints++;
    result->checkpoint_seconds += seconds;
    result->checkpoint_bytes += bytes;
    if (out) {
        char path[1100];
        sn_checkpoint_path(path, sizeof path, run_dir, steps_done);
        fprintf(out, "checkpoint: step %lld%s -> %s (%.1f MB in %.2f s)\n", (long long)steps_done,
                complete ? " (training complete)" : "", path, (double)bytes / 1e6, seconds);
        fflush(out);
    }
    return SN_OK;
}

/* ---- the batches ------------------------------------------------------------ */

/* Where training batches come from: the prefetcher's thread, or (without
 * one) a fill at the start of the step that needs it. */
typedef struct {
    sn_prefetcher *prefetcher;
    sn_image_source *source;
    sn_batch_request pending;
} batch_feed;

/* Step `step`'s batch: this rank's shards of the epoch's order, each shard
 * a block of its own (data_parallel.h), into buffer step % 2. The epoch's
 * order is a function of (seed, epoch); it is computed when its first batch
 * (or a resumed run's first) is requested, when no fill is reading the
 * previous one. */
static sn_batch_request batch_request(const sn_data_parallel *dp, train_buffers *b,
                                      const sn_split *split, const sn_config *config,
                                      int64_t step, int64_t steps_per_epoch, int64_t first_step)
{
    int64_t epoch = step / steps_per_epoch, position = step % steps_per_epoch;
    if (position == 0 || step == first_step)
        sn_epoch_order(b->order, split->train, split->train_count, (uint64_t)config->seed,
                       (uint64_t)epoch);
    return sn_data_parallel_batch_request(dp, b->order + position * config->batch_size,
                                          b->batch_images[step % 2], b->batch_labels[step % 2],
                                          (uint64_t)config->seed, (uint64_t)epoch);
}

static void feed_start(batch_feed *feed, sn_batch_request request)
{
    if (feed->prefetcher)
        sn_prefetcher_submit(feed->prefetcher, &request);
    else
        feed->pending = request;
}

/* Waits for (or fills) the batch; the seconds the step waited for its
 * input go to *waited (the data stall). */
static int feed_ready(batch_feed *feed, double *waited)
{
    if (feed->prefetcher)
        return sn_prefetcher_wait(feed->prefetcher, waited);
    double start = sn_now();
    int status = sn_image_source_fill(feed->source, &feed->pending);
    *waited += sn_now() - start;
    return status;
}

int sn_train(const sn_config *config, const char *run_dir, FILE *out, sn_train_result *result)
{
    sn_dist local;
    sn_dist_local_init(&local);
    return sn_train_on_ranks(config, run_dir, &local, 0, out, result);
}

/* Everything up to the first step may fail on one rank only (a file one
 * node cannot read): the ranks agree before going on. */
#define AGREE_OR_DONE()                                       \
    do {                                                      \
        if ((status = sn_dist_agree(dist, status)) != SN_OK)  \
            goto done;                                        \
    } while (0)

int sn_train_on_ranks(const sn_config *config, const char *run_dir, const sn_dist *dist,
                      int resume, FILE *out, sn_train_result *result)
{
    memset(result, 0, sizeof *result);
    int writer = dist->rank == 0;
    if (!writer)
        out = NULL;
    int status = sn_config_validate(config);
    if (status == SN_OK)
        status = sn_blas_setup_for((int)config->threads, sn_train_blas_products(config));
    sn_run_data data;
    memset(&data, 0, sizeof data);
    if (status == SN_OK)
        status = sn_run_data_open(&data, config);

    sn_split split = {0};
    sn_network *network = NULL;
    sn_optimizer optimizer = {0};
    train_buffers b = {0};
    sn_metrics metrics = {0};
    sn_progress progress;
    sn_supernet_training training;
    sn_data_parallel dp;
    sn_run_log *run_log = NULL;
    sn_subnet_evaluator evaluator;
    injected_fault fault;
    /* Set before the first step; declared here because failures jump to
     * the agreement points below. */
    int64_t batch = 0, steps_per_epoch = 0, chunk = 0, shard_images = 0, max_batch = 0;
    int64_t extra = 0, image_floats = 0, total_steps = 0, warmup_steps = 0;
    int epochs = 0;
    const sn_parameter_table *table = NULL;
    const sn_space *space = NULL;
    sn_strategy strategy = SN_STRATEGY_UNIFORM;
    sn_input_shape shape = {0, 0, 0, 0};
    batch_feed feed = {NULL, NULL, {0}};
    double other_start = 0;
    float lr = 0;
    memset(&training, 0, sizeof training);
    memset(&dp, 0, sizeof dp);
    sn_training_state state;
    memset(&state, 0, sizeof state);
    char checkpoint_path[1100] = "";
    int stop_handlers = 0;
    double session_start = sn_now(), session_train_seconds = 0;
    parse_injected_fault(&fault);
    /* From the start: a stop request during the setup (a preemption while
     * the data loads) is honoured after the first step, not fatal. */
    int handlers_were_installed = sn_stop_request_installed();
    if (status == SN_OK && (status = sn_stop_request_install()) == SN_OK)
        stop_handlers = !handlers_were_installed; /* restore only what we installed */
    AGREE_OR_DONE();

    if (config->validation_size >= data.train_count) {
        status = sn_error_set(SN_ERR_CONFIG,
                              "[data] validation_size = %lld leaves no training images (%s has %lld)",
                              (long long)config->validation_size, config->path,
                              (long long)data.train_count);
        goto agree_setup;
    }
    if ((status = sn_split_make(data.train_count, config->validation_size, (uint64_t)config->seed,
                                &split)) != SN_OK)
        goto agree_setup;
    batch = config->batch_size;
    steps_per_epoch = split.train_count / batch;
    if (steps_per_epoch < 1) {
        status = sn_error_set(SN_ERR_CONFIG, "[train] batch_size = %lld exceeds the %lld training images",
                              (long long)batch, (long long)split.train_count);
        goto agree_setup;
    }
    if ((status = sn_run_data_normalize(&data, config, split.train, split.train_count)) != SN_OK)
        goto agree_setup;
    shape = data.shape;
    chunk = config->eval_batch_size;
    /* A forward never sees more than a shard in training (the largest is
     * ceil(batch / shards)) or a chunk in evaluation. */
    shard_images = (batch + config->distributed_shards - 1) / config->distributed_shards;
    max_batch = shard_images > chunk ? shard_images : chunk;
    if ((status = sn_network_create(&network, config, &shape, max_batch)) != SN_OK)
        goto agree_setup;
    sn_network_initialize(network, (uint64_t)config->seed);
    table = sn_network_parameter_table(network);
    space = sn_network_space(network);
    if (space != NULL && (status = sn_strategy_parse(config->search_strategy, &strategy)) != SN_OK)
        goto agree_setup;
    /* The masked supernet's architecture gradient is reduced with the
     * parameters' (shift). */
    extra = space != NULL && strategy == SN_STRATEGY_SHIFT ? space->choice_total : 0;
    if ((status = sn_data_parallel_init(&dp, dist, config, network, batch, extra)) != SN_OK)
        goto agree_setup;
    sn_optimizer_settings settings = {
        strcmp(config->optimizer, "sgd") == 0 ? SN_OPTIMIZER_SGD : SN_OPTIMIZER_ADAMW,
        (float)config->momentum, config->nesterov, (float)config->beta1, (float)config->beta2,
        (float)config->epsilon, (float)config->weight_decay,
    };
    if ((status = sn_optimizer_init(&optimizer, &settings, table)) != SN_OK)
        goto agree_setup;
    image_floats = (int64_t)shape.channels * shape.height * shape.width;
    int64_t buffer_images = batch > max_batch ? batch : max_batch;
    b.images = sn_alloc_floats((size_t)(buffer_images * image_floats));
    for (int i = 0; i < 2; i++) {
        b.batch_images[i] = sn_alloc_floats((size_t)(batch * image_floats));
        b.batch_labels[i] = sn_alloc_bytes((size_t)batch * sizeof(int32_t));
        if (!b.batch_images[i] || !b.batch_labels[i]) {
            status = sn_error_set(SN_ERR_NOMEM, "training batch buffers: out of memory");
            goto agree_setup;
        }
    }
    b.probs = sn_alloc_floats((size_t)(buffer_images * shape.classes));
    b.dlogits = sn_alloc_floats((size_t)(buffer_images * shape.classes));
    b.labels = sn_alloc_bytes((size_t)buffer_images * sizeof(int32_t));
    b.order = sn_alloc_bytes((size_t)split.train_count * sizeof(uint32_t));
    b.test_indices = sn_alloc_bytes((size_t)(data.test_count > 0 ? data.test_count : 1) * sizeof(uint32_t));
    if (!b.images || !b.probs || !b.dlogits || !b.labels || !b.order || !b.test_indices) {
        status = sn_error_set(SN_ERR_NOMEM, "training buffers: out of memory");
        goto agree_setup;
    }
    for (int64_t i = 0; i < data.test_count; i++)
        b.test_indices[i] = (uint32_t)i;
    AGREE_OR_DONE();

    /* A resumed run keeps its directory; a new one must not overwrite one. */
    if (writer && ((!resume && (status = prepare_run_dir(run_dir)) != SN_OK) ||
                   (status = write_resolved_config(config, run_dir)) != SN_OK))
        goto agree_setup;

    total_steps = steps_per_epoch * config->epochs;
    if (config->max_steps > 0 && config->max_steps < total_steps)
        total_steps = config->max_steps;
    epochs = (int)((total_steps + steps_per_epoch - 1) / steps_per_epoch);
    warmup_steps = (int64_t)llround(config->warmup_epochs * (double)steps_per_epoch);
    if (space != NULL) {
        int64_t held_out = config->shift_validation_images < split.validation_count
                               ? config->shift_validation_images
                               : split.validation_count;
        /* The probability update's chunks are shard-sized: the batch
         * statistics a CNN subnet sees there are like those of training. */
        sn_supernet_validation validation = {data.train_main, split.validation, held_out,
                                             shard_images, b.images, b.labels};
        if ((status = sn_supernet_training_init(&training, config, network, &dp, total_steps,
                                                warmup_steps, batch, &validation, NULL)) != SN_OK)
            goto agree_setup;
        if (training.strategy == SN_STRATEGY_SHIFT &&
            training.shift.options.statistic == SN_SHIFT_LOSS_CHANGE &&
            split.validation_count == 0) {
            status = sn_error_set(SN_ERR_CONFIG,
                                  "[search] shift_statistic = loss-change needs held-out images: "
                                  "set [data] validation_size > 0");
            goto agree_setup;
        }
        evaluator = (sn_subnet_evaluator){network, data.train_main, split.train, split.train_count,
                                          chunk, config->recalibration_batches,
                                          batch < chunk ? batch : chunk,
                                          b.images, b.probs, b.labels};
    }
agree_setup:
    AGREE_OR_DONE();

    /* Where the run starts: step 0, or the checkpoint `latest` names. */
    state.config = config;
    state.network = network;
    state.optimizer = &optimizer;
    state.training = space != NULL ? &training : NULL;
    state.normalization = &data.pipeline.normalization;
    state.train_count = split.train_count;
    state.validation_count = split.validation_count;
    state.test_count = data.test_count;
    state.steps_per_epoch = steps_per_epoch;
    state.total_steps = total_steps;
    int found = 0, complete = 0;
    if (resume) {
        if (writer)
            status = find_checkpoint(run_dir, checkpoint_path, sizeof checkpoint_path, &found);
        AGREE_OR_DONE();
        /* rank 0's choice is every rank's: all read the same file */
        if ((status = sn_dist_broadcast(dist, checkpoint_path, sizeof checkpoint_path, 0)) != SN_OK)
            goto done;
        found = checkpoint_path[0] != '\0';
        if (found)
            status = sn_training_checkpoint_read(&state, checkpoint_path, &complete);
        AGREE_OR_DONE();
    }
    if (writer && !complete)
        status = open_run_files(run_dir, checkpoint_path, found, resume, config,
                                space != NULL ? &training : NULL, &metrics, &run_log);
    AGREE_OR_DONE();
    training.log = run_log;
    if (complete) {
        if (out) {
            fprintf(out, "shiftnas train: %s already finished (step %lld of %lld, %s); nothing "
                         "to do\n",
                    run_dir, (long long)state.steps_done, (long long)total_steps, checkpoint_path);
            fflush(out);
        }
        result->steps = state.steps_done;
        result->already_complete = 1;
        goto done;
    }
    if (out) {
        fprintf(out, "shiftnas train: %s network, %lld parameters, %.2f MMACs/image; BLIS kernels %s, %lld thread(s)\n",
                config->model_type, (long long)count_parameters(table),
                (double)sn_network_macs(network) / 1e6, sn_blas_kernel_name(),
                (long long)config->threads);
        fprintf(out, "ranks: %d, each with %lld BLIS thread(s); %d shards of %lld-%lld images "
                     "(the same bits at any rank count up to %d)\n",
                dist->size, (long long)config->threads, dp.plan.shards,
                (long long)sn_shard_size(&dp.plan, dp.plan.shards - 1),
                (long long)sn_shard_size(&dp.plan, 0), dp.plan.shards);
        if (space != NULL) {
            const sn_buckets *buckets = &training.sampler.buckets;
            fprintf(out, "supernet: strategy %s; %d buckets over %.3gM..%.3gM MACs",
                    config->search_strategy, buckets->count, (double)buckets->edge[0] / 1e6,
                    (double)buckets->edge[buckets->count] / 1e6);
            if (training.have_shift)
                fprintf(out, "; probability updates every %d steps after step %lld (%s)",
                        training.shift.options.interval, (long long)training.shift.options.warmup,
                        config->shift_statistic);
            fprintf(out, "\n");
        }
        fprintf(out, "data: %s (%lld train, %lld validation, %lld test images of %dx%dx%d, %d classes)\n",
                config->path, (long long)split.train_count, (long long)split.validation_count,
                (long long)data.test_count, shape.channels, shape.height, shape.width, shape.classes);
        fprintf(out, "schedule: %d epoch(s) of %lld steps, batch %lld, %s lr %.3g, run directory %s\n",
                epochs, (long long)steps_per_epoch, (long long)batch, config->optimizer,
                config->learning_rate, run_dir);
        print_checkpoint_plan(out, config, run_dir);
        if (found)
            fprintf(out, "resumed: step %lld of %lld from %s\n", (long long)state.steps_done,
                    (long long)total_steps, checkpoint_path);
        else if (resume)
            fprintf(out, "resumed: no checkpoint in %s/checkpoints yet; starting from step 0\n",
                    run_dir);
        fflush(out);
    }

    const int64_t first_step = state.steps_done;
    sn_progress_init(&progress, out, config->progress_seconds, first_step, total_steps, epochs);
    /* mpirun hands rank 0 a pseudo-terminal whatever its own output is (a
     * log file, most often): under a launcher, plain lines. */
    if (dist->mpi) {
        progress.terminal = 0;
        progress.interval = config->progress_seconds;
    }
    double start = sn_now();
    double last_checkpoint = start;
    double epoch_loss = state.epoch_loss;
    int64_t epoch_steps = state.epoch_steps;
    result->images = state.images;
    result->train_seconds = state.train_seconds;
    result->validation_loss = state.validation_loss;
    result->validation_accuracy = state.validation_accuracy;
    result->test_loss = state.test_loss;
    result->test_accuracy = state.test_accuracy;
    result->first_step = first_step;
    session_train_seconds = result->train_seconds;
    result->steps = first_step;
    /* Step t trains on buffer t % 2 while the prefetcher (if any) fills
     * step t + 1's batch into the other; without one, each batch is filled
     * in its step. */
    feed.source = data.train;
    if (config->prefetch)
        status = sn_prefetcher_start(&feed.prefetcher, data.train);
    AGREE_OR_DONE();
    if (first_step < total_steps)
        feed_start(&feed, batch_request(&dp, &b, &split, config, first_step, steps_per_epoch,
                                        first_step));
    for (int64_t step = first_step; step < total_steps; step++) {
        int epoch = (int)(step / steps_per_epoch);
        int64_t position = step % steps_per_epoch;
        if (position == 0) {
            epoch_loss = 0;
            epoch_steps = 0;
        }
        double step_start = sn_now();
        if (step == fault.step && dist->rank == fault.rank && strcmp(fault.kind, "kill") == 0)
            raise(SIGKILL);
        if (step == fault.step && dist->rank == fault.rank && strcmp(fault.kind, "signal") == 0)
            raise(SIGUSR1);
        /* a failed read (a damaged image set) stops every rank */
        status = feed_ready(&feed, &dp.times.input);
        if (status == SN_OK && step + 1 < total_steps)
            feed_start(&feed, batch_request(&dp, &b, &split, config, step + 1, steps_per_epoch,
                                            first_step));
        if ((status = sn_dist_agree(dist, status)) != SN_OK)
            goto agree_step;
        dp.step_start = sn_now();
        float *images = b.batch_images[step % 2];
        int32_t *labels = b.batch_labels[step % 2];
        if (step == fault.step && dist->rank == fault.rank && strcmp(fault.kind, "nan") == 0)
            images[0] = NAN;
        double loss;
        if (space != NULL)
            status = sn_supernet_training_step(&training, &dp, images, labels, step, &loss);
        else
            status = fixed_network_step(network, &dp, config, &b, images, labels, image_floats,
                                        shape.classes, step, &loss);
        if (status != SN_OK)
            goto agree_step; /* agreed inside the step; agreeing again keeps the reporter */
        /* "other" runs from the end of the step's last collective: the
         * generator's backward, the optimiser, logging, checks */
        other_start = dp.reduced_at;
        float *grads = sn_network_gradients(network);
        double norm = sn_gradient_norm(table, grads);
        if (!isfinite(norm)) {
            /* the same on every rank: no agreement needed */
            status = sn_error_set(SN_ERR_NUMERIC, "step %lld: gradient norm is %s; stopping",
                                  (long long)step + 1, isnan(norm) ? "NaN" : "infinite");
            goto agree_step;
        }
        if (config->clip_value > 0)
            sn_clip_by_value(table, grads, (float)config->clip_value);
        if (config->clip_norm > 0) {
            if (config->clip_value > 0)
                norm = sn_gradient_norm(table, grads);
            sn_clip_by_norm(table, grads, norm, (float)config->clip_norm);
        }
        lr = sn_learning_rate(step, total_steps, warmup_steps, (float)config->learning_rate,
                                    (float)config->min_learning_rate);
        sn_optimizer_step(&optimizer, table, sn_network_parameters(network), grads, lr);
        if (space != NULL) {
            double coordinator_before = dp.times.coordinator;
            status = sn_supernet_training_after_step(&training, step,
                                                     (double)lr / config->learning_rate);
            /* the probability update counts as the coordinator's phase */
            other_start += dp.times.coordinator - coordinator_before;
        }
        if (status == SN_OK && step == fault.step && dist->rank == fault.rank &&
            strcmp(fault.kind, "io") == 0)
            status = sn_error_set(SN_ERR_IO, "step %lld: injected I/O failure "
                                             "(SHIFTNAS_INJECT_FAULT)",
                                  (long long)step + 1);
    agree_step:
        if ((status = sn_dist_agree(dist, status)) != SN_OK)
            goto done;
        if (config->distributed_check_interval > 0 &&
            (step + 1) % config->distributed_check_interval == 0 &&
            (status = sn_dist_check_identical(dist, state_hash(network, &optimizer, &training),
                                              step)) != SN_OK)
            goto done;
        dp.times.other += sn_now() - other_start;
        result->train_seconds += sn_now() - step_start;
        result->steps = step + 1;
        result->images += batch;
        epoch_loss += loss;
        epoch_steps++;
        sn_progress_step(&progress, step, epoch, loss, lr, batch);

        if (position == steps_per_epoch - 1 || step == total_steps - 1) {
            sn_progress_break(&progress);
            double elapsed = sn_now() - start;
            result->final_train_loss = epoch_loss / (double)epoch_steps;
            if (space != NULL) {
                status = finish_supernet_epoch(config, run_dir, writer, network, &training,
                                               &evaluator, &data, &split, &b,
                                               &metrics, step, epoch, epochs, total_steps, result,
                                               elapsed, out);
                AGREE_OR_DONE();
            } else {
            if (split.validation_count > 0) {
                status = evaluate(network, data.train_main, split.validation,
                                  split.validation_count, chunk, &b, &result->validation_loss,
                                  &result->validation_accuracy);
                if (writer && status == SN_OK)
                    status = sn_metrics_append(&metrics, step + 1, epoch + 1, "val",
                                               result->validation_loss,
                                               result->validation_accuracy, result->images,
                                               elapsed);
            }
            if (status == SN_OK)
                status = evaluate(network, data.test, b.test_indices, data.test_count, chunk, &b,
                                  &result->test_loss, &result->test_accuracy);
            if (writer && status == SN_OK)
                status = sn_metrics_append(&metrics, step + 1, epoch + 1, "test", result->test_loss,
                                           result->test_accuracy, result->images, elapsed);
            AGREE_OR_DONE();
            if (out) {
                fprintf(out, "epoch %d/%d done: train loss %.4f | val loss %.4f acc %.4f | test loss %.4f acc %.4f\n",
                        epoch + 1, epochs, result->final_train_loss, result->validation_loss,
                        result->validation_accuracy, result->test_loss, result->test_accuracy);
                fflush(out);
            }
            }
        }

        /* Checkpoint and stop requests, decided the same on every rank:
         * the step interval is a function of the step; rank 0's clock
         * decides the time interval and the budget; a signal on any rank
         * stops every rank. The last step's checkpoint follows the loop. */
        if (step == total_steps - 1)
            break;
        double now = sn_now();
        int8_t requests[3] = {(int8_t)(sn_stop_request_signal() != 0), 0, 0};
        if (config->checkpoint_interval_steps > 0 &&
            (step + 1) % config->checkpoint_interval_steps == 0)
            requests[1] = 1;
        if (writer && config->checkpoint_interval_seconds > 0 &&
            now - last_checkpoint >= config->checkpoint_interval_seconds)
            requests[1] = 1;
        if (writer && config->checkpoint_stop_after_seconds > 0 &&
            now - session_start >= config->checkpoint_stop_after_seconds)
            requests[2] = 1;
        if (dist->size > 1 && (status = sn_dist_max_int8(dist, requests, 3)) != SN_OK)
            goto done;
        if (requests[0] || requests[1] || requests[2]) {
            sn_progress_break(&progress);
            status = take_checkpoint(dist, run_dir, config, &state, step + 1, 0, epoch_loss,
                                     epoch_steps, result, run_log, &metrics, &fault, out);
            if (status != SN_OK)
                goto done;
            last_checkpoint = sn_now();
        }
        if (requests[0] || requests[2]) {
            result->stopped = 1;
            result->stop_signal = requests[0] ? sn_stop_request_signal() : 0;
            if (out) {
                char elapsed[32];
                sn_format_duration(elapsed, sizeof elapsed, sn_now() - session_start);
                if (requests[0])
                    fprintf(out, "stopped after step %lld of %lld: stop requested by a signal "
                                 "(SIGUSR1/SIGTERM); resume with: shiftnas train --resume %s\n",
                            (long long)step + 1, (long long)total_steps, run_dir);
                else
                    fprintf(out, "stopped after step %lld of %lld: [checkpoint] "
                                 "stop_after_seconds = %g reached (%s); resume with: shiftnas "
                                 "train --resume %s\n",
                            (long long)step + 1, (long long)total_steps,
                            config->checkpoint_stop_after_seconds, elapsed, run_dir);
                fflush(out);
            }
            break;
        }
    }
    if (!result->stopped) {
        /* the end of training: a complete checkpoint, so that a resume of
         * a finished run (a requeued job) has nothing to do */
        status = take_checkpoint(dist, run_dir, config, &state, total_steps, 1, epoch_loss,
                                 epoch_steps, result, run_log, &metrics, &fault, out);
        if (status != SN_OK)
            goto done;
    }
    result->seconds = sn_now() - start;
    if (out) {
        char elapsed[32];
        sn_format_duration(elapsed, sizeof elapsed, result->seconds);
        fprintf(out, "%s: %lld steps in %s (%.0f training img/s); test accuracy %.4f%s\n",
                result->stopped ? "stopped" : "done", (long long)result->steps, elapsed,
                result->train_seconds > 0 ? (double)result->images / result->train_seconds : 0.0,
                result->test_accuracy,
                space == NULL                               ? ""
                : training.strategy == SN_STRATEGY_FIXED ? " (the subnet)"
                                                            : " (largest subnet)");
        if (training.have_shift)
            fprintf(out, "probability updates: %lld in %.1f s, %.1f%% of the training time; "
                         "final p = [",
                    (long long)training.updates, training.update_seconds,
                    100.0 * training.update_seconds / (result->train_seconds > 0
                                                           ? result->train_seconds
                                                           : 1.0));
        for (int k = 0; training.have_shift && k < training.shift.count; k++)
            fprintf(out, "%s%.3f", k ? " " : "", training.shift.probability[k]);
        if (training.have_shift)
            fprintf(out, "]\n");
        fflush(out);
    }
    if (out && result->checkpoints > 0) {
        fprintf(out, "checkpoints: %lld written in %.2f s, %.2f%% of the training time; "
                     "%.1f MB each; latest %s/checkpoints/latest\n",
                (long long)result->checkpoints, result->checkpoint_seconds,
                100.0 * result->checkpoint_seconds /
                    (result->train_seconds - session_train_seconds > 0
                         ? result->train_seconds - session_train_seconds
                         : 1.0),
                (double)result->checkpoint_bytes / (double)result->checkpoints / 1e6, run_dir);
        fflush(out);
    }
    status = report_phases(dist, &dp, out);
    if (out && space != NULL && status == SN_OK && !result->stopped) {
        fprintf(out, "next: shiftnas search %s --targets <MACs,...>\n", run_dir);
        fflush(out);
    }

done:
    sn_prefetcher_stop(feed.prefetcher);
    if (stop_handlers)
        sn_stop_request_restore();
    if (run_log) {
        int close_status = sn_run_log_close(run_log);
        if (status == SN_OK)
            status = close_status;
    }
    sn_supernet_training_free(&training);
    sn_data_parallel_free(&dp);
    if (metrics.file) {
        int close_status = sn_metrics_close(&metrics);
        if (status == SN_OK)
            status = close_status;
    }
    free_buffers(&b);
    sn_optimizer_free(&optimizer);
    sn_network_free(network);
    sn_split_free(&split);
    sn_run_data_close(&data);
    return status;
}
