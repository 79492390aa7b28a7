/*
 * Single-process training: the configured network on the configured data,
 * with the schedule, guards, progress and evaluations a long run needs.
 */
#include "shiftnas/train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shiftnas/error.h"
#include "shiftnas/network.h"
#include "shiftnas/nn.h"
#include "shiftnas/optim.h"
#include "shiftnas/runfiles.h"
#include "shiftnas/tensor.h"

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
        sn_image_set_free(train);
        sn_image_set_free(test);
        return sn_error_set(SN_ERR_FORMAT, "%s: training images (%dx%dx%d) and test images (%dx%dx%d) differ in shape",
                            config->path, train->channels, train->height, train->width,
                            test->channels, test->height, test->width);
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

static int write_resolved_config(const sn_config *config, const char *run_dir)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/config.ini", run_dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return sn_error_set(SN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    int status = sn_config_write(config, f);
    if (fclose(f) != 0 && status == SN_OK)
        status = sn_error_set(SN_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return status;
}

/* Everything the loop touches, allocated before the first step. */
typedef struct {
    float *images, *probs, *dlogits;
    int32_t *labels;
    uint32_t *order, *test_indices;
} train_buffers;

static void free_buffers(train_buffers *b)
{
    sn_free(b->images);
    sn_free(b->probs);
    sn_free(b->dlogits);
    sn_free(b->labels);
    sn_free(b->order);
    sn_free(b->test_indices);
}

/* Mean cross-entropy (no smoothing) and accuracy over the given images, in
 * evaluation mode, in chunks of at most `chunk`. */
static void evaluate(sn_network *network, const sn_image_set *set, const uint32_t *indices,
                     int64_t count, int64_t chunk, const sn_normalization *normalization,
                     train_buffers *b, double *loss, double *accuracy)
{
    sn_evaluate_network(network, set, indices, count, chunk, normalization, 0, b->images,
                        b->probs, b->labels, loss, accuracy);
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
 * after batch-norm recalibration, on `split` ("val" or "test"). */
static int evaluate_supernet_ends(sn_subnet_evaluator *evaluator, const sn_image_set *set,
                                  const uint32_t *indices, int64_t count, const char *split,
                                  sn_metrics *metrics, int64_t step, int epoch, int64_t images,
                                  double elapsed, double loss[2], double accuracy[2])
{
    const sn_space *space = sn_network_space(evaluator->network);
    sn_arch ends[2];
    sn_arch_largest(space, &ends[0]);
    sn_arch_smallest(space, &ends[1]);
    static const char *const names[2] = {"largest", "smallest"};
    for (int i = 0; i < 2; i++) {
        SN_TRY(sn_evaluate_subnet(evaluator, &ends[i], set, indices, count, &loss[i],
                                  &accuracy[i]));
        char label[32];
        snprintf(label, sizeof label, "%s-%s", split, names[i]);
        SN_TRY(sn_metrics_append(metrics, step, epoch, label, loss[i], accuracy[i], images,
                                 elapsed));
    }
    return SN_OK;
}

/* The end of a supernet epoch: validation figures of the largest and
 * smallest subnets, test figures after the last epoch, the model file. */
static int finish_supernet_epoch(const sn_config *config, const char *run_dir,
                                 sn_network *network, sn_supernet_training *training,
                                 sn_subnet_evaluator *evaluator, const sn_image_set *train_set,
                                 const sn_image_set *test_set, const sn_split *split,
                                 const train_buffers *b, sn_metrics *metrics, int64_t step,
                                 int epoch, int epochs, int64_t total_steps,
                                 sn_train_result *result, double elapsed, FILE *out)
{
    double loss[2] = {0, 0}, accuracy[2] = {0, 0};
    if (split->validation_count > 0) {
        SN_TRY(evaluate_supernet_ends(evaluator, train_set, split->validation,
                                      split->validation_count, "val", metrics, step + 1, epoch + 1,
                                      result->images, elapsed, loss, accuracy));
        result->validation_loss = loss[0];
        result->validation_accuracy = accuracy[0];
    }
    if (out) {
        fprintf(out, "epoch %d/%d done: train loss %.4f | val acc largest %.4f smallest %.4f\n",
                epoch + 1, epochs, result->final_train_loss, accuracy[0], accuracy[1]);
        fflush(out);
    }
    if (step == total_steps - 1) {
        SN_TRY(evaluate_supernet_ends(evaluator, test_set, b->test_indices, test_set->count,
                                      "test", metrics, step + 1, epoch + 1, result->images, elapsed,
                                      loss, accuracy));
        result->test_loss = loss[0];
        result->test_accuracy = accuracy[0];
        if (out) {
            fprintf(out, "test: largest subnet acc %.4f, smallest %.4f\n", accuracy[0],
                    accuracy[1]);
            fflush(out);
        }
    }
    if (training->log)
        SN_TRY(sn_run_log_flush(training->log));
    return write_model(config, run_dir, step + 1, network, training);
}

sn_blas_products sn_train_blas_products(const sn_config *config)
{
    return strcmp(config->model_type, "cnn") == 0 ? SN_BLAS_LARGE_PRODUCTS
                                                  : SN_BLAS_SMALL_PRODUCTS;
}

int sn_train(const sn_config *config, const char *run_dir, FILE *out, sn_train_result *result)
{
    memset(result, 0, sizeof *result);
    SN_TRY(sn_config_validate(config));
    SN_TRY(sn_blas_setup_for((int)config->threads, sn_train_blas_products(config)));
    sn_image_set train_set, test_set;
    SN_TRY(sn_load_datasets(config, &train_set, &test_set));

    int status = SN_OK;
    sn_split split = {0};
    sn_network *network = NULL;
    sn_optimizer optimizer = {0};
    train_buffers b = {0};
    sn_metrics metrics = {0};
    sn_progress progress;
    sn_supernet_training training;
    sn_run_log *run_log = NULL;
    sn_subnet_evaluator evaluator;
    sn_supernet_validation validation;
    memset(&training, 0, sizeof training);

    if (config->validation_size >= train_set.count) {
        status = sn_error_set(SN_ERR_CONFIG,
                              "[data] validation_size = %lld leaves no training images (%s has %lld)",
                              (long long)config->validation_size, config->path,
                              (long long)train_set.count);
        goto done;
    }
    if ((status = sn_split_make(train_set.count, config->validation_size, (uint64_t)config->seed,
                                &split)) != SN_OK)
        goto done;
    int64_t batch = config->batch_size;
    int64_t steps_per_epoch = split.train_count / batch;
    if (steps_per_epoch < 1) {
        status = sn_error_set(SN_ERR_CONFIG, "[train] batch_size = %lld exceeds the %lld training images",
                              (long long)batch, (long long)split.train_count);
        goto done;
    }
    sn_normalization normalization;
    if ((status = sn_normalization_compute(&train_set, split.train, split.train_count,
                                           &normalization)) != SN_OK)
        goto done;
    sn_input_shape shape = {train_set.channels, train_set.height, train_set.width, train_set.classes};
    int64_t chunk = config->eval_batch_size;
    int64_t max_batch = batch > chunk ? batch : chunk;
    if ((status = sn_network_create(&network, config, &shape, max_batch)) != SN_OK)
        goto done;
    sn_network_initialize(network, (uint64_t)config->seed);
    const sn_parameter_table *table = sn_network_parameter_table(network);
    sn_optimizer_settings settings = {
        strcmp(config->optimizer, "sgd") == 0 ? SN_OPTIMIZER_SGD : SN_OPTIMIZER_ADAMW,
        (float)config->momentum, config->nesterov, (float)config->beta1, (float)config->beta2,
        (float)config->epsilon, (float)config->weight_decay,
    };
    if ((status = sn_optimizer_init(&optimizer, &settings, table)) != SN_OK)
        goto done;
    int64_t image_floats = (int64_t)shape.channels * shape.height * shape.width;
    b.images = sn_alloc_floats((size_t)(max_batch * image_floats));
    b.probs = sn_alloc_floats((size_t)(max_batch * shape.classes));
    b.dlogits = sn_alloc_floats((size_t)(max_batch * shape.classes));
    b.labels = sn_alloc_bytes((size_t)max_batch * sizeof(int32_t));
    b.order = sn_alloc_bytes((size_t)split.train_count * sizeof(uint32_t));
    b.test_indices = sn_alloc_bytes((size_t)(test_set.count > 0 ? test_set.count : 1) * sizeof(uint32_t));
    if (!b.images || !b.probs || !b.dlogits || !b.labels || !b.order || !b.test_indices) {
        status = SN_ERR_NOMEM;
        goto done;
    }
    for (int64_t i = 0; i < test_set.count; i++)
        b.test_indices[i] = (uint32_t)i;

    if ((status = prepare_run_dir(run_dir)) != SN_OK ||
        (status = write_resolved_config(config, run_dir)) != SN_OK ||
        (status = sn_metrics_open(&metrics, run_dir)) != SN_OK)
        goto done;

    int64_t total_steps = steps_per_epoch * config->epochs;
    if (config->max_steps > 0 && config->max_steps < total_steps)
        total_steps = config->max_steps;
    int epochs = (int)((total_steps + steps_per_epoch - 1) / steps_per_epoch);
    int64_t warmup_steps = (int64_t)llround(config->warmup_epochs * (double)steps_per_epoch);
    const sn_space *space = sn_network_space(network);
    if (space != NULL) {
        if ((status = sn_supernet_training_init(&training, config, network, total_steps, warmup_steps,
                                             batch, NULL)) != SN_OK)
            goto done;
        if (training.strategy == SN_STRATEGY_SHIFT &&
            training.shift.options.statistic == SN_SHIFT_LOSS_CHANGE &&
            split.validation_count == 0) {
            status = sn_error_set(SN_ERR_CONFIG,
                                  "[search] shift_statistic = loss-change needs held-out images: "
                                  "set [data] validation_size > 0");
            goto done;
        }
        char log_path[1100];
        snprintf(log_path, sizeof log_path, "%s/log.h5", run_dir);
        const sn_buckets *buckets = &training.sampler.buckets;
        if ((status = sn_run_log_create(&run_log, log_path, config->search_strategy,
                                        buckets->count, buckets->edge)) != SN_OK)
            goto done;
        training.log = run_log;
        evaluator = (sn_subnet_evaluator){network, &train_set, split.train, split.train_count,
                                          &normalization, chunk, config->recalibration_batches,
                                          batch < chunk ? batch : chunk,
                                          b.images, b.probs, b.labels};
        int64_t held_out = config->shift_validation_images < split.validation_count
                               ? config->shift_validation_images
                               : split.validation_count;
        validation = (sn_supernet_validation){&train_set, split.validation, held_out, &normalization,
                                           batch, b.images, b.labels};
    }
    if (out) {
        fprintf(out, "shiftnas train: %s network, %lld parameters, %.2f MMACs/image; BLIS kernels %s, %lld thread(s)\n",
                config->model_type, (long long)count_parameters(table),
                (double)sn_network_macs(network) / 1e6, sn_blas_kernel_name(),
                (long long)config->threads);
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
                (long long)test_set.count, shape.channels, shape.height, shape.width, shape.classes);
        fprintf(out, "schedule: %d epoch(s) of %lld steps, batch %lld, %s lr %.3g, run directory %s\n",
                epochs, (long long)steps_per_epoch, (long long)batch, config->optimizer,
                config->learning_rate, run_dir);
        fflush(out);
    }

    sn_augmentation augmentation = {(int)config->crop_padding, config->horizontal_flip};
    const sn_augmentation *augment =
        augmentation.crop_padding > 0 || augmentation.horizontal_flip ? &augmentation : NULL;
    sn_progress_init(&progress, out, config->progress_seconds, 0, total_steps, epochs);
    double start = sn_now();
    double epoch_loss = 0;
    int64_t epoch_steps = 0;
    for (int64_t step = 0; step < total_steps; step++) {
        int epoch = (int)(step / steps_per_epoch);
        int64_t position = step % steps_per_epoch;
        if (position == 0) {
            sn_epoch_order(b.order, split.train, split.train_count, (uint64_t)config->seed,
                           (uint64_t)epoch);
            epoch_loss = 0;
            epoch_steps = 0;
        }
        double step_start = sn_now();
        sn_batch_fill(b.images, b.labels, &train_set, b.order + position * batch, batch,
                      &normalization, augment, (uint64_t)config->seed, (uint64_t)epoch,
                      sn_network_input_layout(network));
        sn_network_zero_gradients(network);
        double loss;
        if (space != NULL) {
            if ((status = sn_supernet_training_step(&training, b.images, b.labels, step, &loss)) !=
                SN_OK)
                goto done;
        } else {
            sn_forward_mode mode = {1, (uint64_t)config->seed, (uint64_t)step, 0};
            const float *logits = sn_network_forward(network, b.images, batch, &mode);
            loss = sn_softmax_cross_entropy_forward(b.probs, logits, b.labels, batch,
                                                    shape.classes, (float)config->label_smoothing,
                                                    NULL);
            if (!isfinite(loss)) {
                status = sn_error_set(SN_ERR_NUMERIC, "step %lld: training loss is %s; stopping",
                                      (long long)step + 1, isnan(loss) ? "NaN" : "infinite");
                goto done;
            }
            sn_softmax_cross_entropy_backward(b.dlogits, b.probs, b.labels, batch, shape.classes,
                                              (float)config->label_smoothing, 1.0f);
            sn_network_backward(network, b.dlogits, batch);
        }
        float *grads = sn_network_gradients(network);
        double norm = sn_gradient_norm(table, grads);
        if (!isfinite(norm)) {
            status = sn_error_set(SN_ERR_NUMERIC, "step %lld: gradient norm is %s; stopping",
                                  (long long)step + 1, isnan(norm) ? "NaN" : "infinite");
            goto done;
        }
        if (config->clip_value > 0)
            sn_clip_by_value(table, grads, (float)config->clip_value);
        if (config->clip_norm > 0) {
            if (config->clip_value > 0)
                norm = sn_gradient_norm(table, grads);
            sn_clip_by_norm(table, grads, norm, (float)config->clip_norm);
        }
        float lr = sn_learning_rate(step, total_steps, warmup_steps, (float)config->learning_rate,
                                    (float)config->min_learning_rate);
        sn_optimizer_step(&optimizer, table, sn_network_parameters(network), grads, lr);
        if (space != NULL &&
            (status = sn_supernet_training_after_step(&training, step,
                                                   (double)lr / config->learning_rate,
                                                   &validation)) != SN_OK)
            goto done;
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
                if ((status = finish_supernet_epoch(config, run_dir, network, &training, &evaluator,
                                                    &train_set, &test_set, &split, &b, &metrics,
                                                    step, epoch, epochs, total_steps, result,
                                                    elapsed, out)) != SN_OK)
                    goto done;
                continue;
            }
            if (split.validation_count > 0) {
                evaluate(network, &train_set, split.validation, split.validation_count, chunk,
                         &normalization, &b, &result->validation_loss, &result->validation_accuracy);
                if ((status = sn_metrics_append(&metrics, step + 1, epoch + 1, "val",
                                                result->validation_loss, result->validation_accuracy,
                                                result->images, elapsed)) != SN_OK)
                    goto done;
            }
            evaluate(network, &test_set, b.test_indices, test_set.count, chunk, &normalization, &b,
                     &result->test_loss, &result->test_accuracy);
            if ((status = sn_metrics_append(&metrics, step + 1, epoch + 1, "test", result->test_loss,
                                            result->test_accuracy, result->images, elapsed)) != SN_OK)
                goto done;
            if (out) {
                fprintf(out, "epoch %d/%d done: train loss %.4f | val loss %.4f acc %.4f | test loss %.4f acc %.4f\n",
                        epoch + 1, epochs, result->final_train_loss, result->validation_loss,
                        result->validation_accuracy, result->test_loss, result->test_accuracy);
                fflush(out);
            }
        }
    }
    result->seconds = sn_now() - start;
    if (out) {
        char elapsed[32];
        sn_format_duration(elapsed, sizeof elapsed, result->seconds);
        fprintf(out, "done: %lld steps in %s (%.0f training img/s); test accuracy %.4f%s\n",
                (long long)result->steps, elapsed,
                result->train_seconds > 0 ? (double)result->images / result->train_seconds : 0.0,
                result->test_accuracy, space != NULL ? " (largest subnet)" : "");
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
        if (space != NULL)
            fprintf(out, "next: shiftnas search %s --targets <MACs,...>\n", run_dir);
        fflush(out);
    }

done:
    if (run_log) {
        int close_status = sn_run_log_close(run_log);
        if (status == SN_OK)
            status = close_status;
    }
    sn_supernet_training_free(&training);
    if (metrics.file) {
        int close_status = sn_metrics_close(&metrics);
        if (status == SN_OK)
            status = close_status;
    }
    free_buffers(&b);
    sn_optimizer_free(&optimizer);
    sn_network_free(network);
    sn_split_free(&split);
    sn_image_set_free(&train_set);
    sn_image_set_free(&test_set);
    return status;
}
