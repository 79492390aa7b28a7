/*
 * The trainer's setup (trainer_internal.h): the data and its split, the
 * model and its optimiser, the loop's buffers, the run directory and the
 * supernet's strategy, with the ranks agreeing between the phases; then
 * where the run starts (trainer_start.c). And the trainer's release.
 */
#include "trainer_internal.h"

#include <math.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/tensor.h"

#include "run_directory.h"
#include "stop_request.h"

/* The configuration checked, the BLIS kernels, the images, the stop
 * request handlers. */
static int open_data(sn_trainer *t)
{
    const sn_config *config = t->config;
    int status = sn_config_validate(config);
    /* Before the data loads: a search of this run could not keep its
     * fitness images apart from the shift's (the split holds exactly
     * validation_size images, or split_data refuses). */
    if (status == SN_OK)
        status = sn_held_out_plan_make(config, config->validation_size, &t->held_out);
    if (status == SN_OK)
        status = sn_blas_setup_for((int)config->threads, sn_train_blas_products(config));
    if (status == SN_OK)
        status = sn_run_data_open(&t->data, config);
    t->session_start = sn_now();
    /* From the start: a stop request during the setup (a preemption while
     * the data loads) is honoured after the first step, not fatal. */
    int handlers_were_installed = sn_stop_request_installed();
    if (status == SN_OK && (status = sn_stop_request_install()) == SN_OK)
        t->stop_handlers = !handlers_were_installed; /* restore only what we installed */
    return status;
}

/* The held-out split, the batches per epoch and the normalisation. */
static int split_data(sn_trainer *t)
{
    const sn_config *config = t->config;
    if (config->validation_size >= t->data.train_count)
        return sn_error_set(SN_ERR_CONFIG,
                            "[data] validation_size = %lld leaves no training images (%s has %lld)",
                            (long long)config->validation_size, config->path,
                            (long long)t->data.train_count);
    SN_TRY(sn_split_make(t->data.train_count, config->validation_size, (uint64_t)config->seed,
                         &t->split));
    t->batch = config->batch_size;
    t->steps_per_epoch = t->split.train_count / t->batch;
    if (t->steps_per_epoch < 1)
        return sn_error_set(SN_ERR_CONFIG, "[train] batch_size = %lld exceeds the %lld training images",
                            (long long)t->batch, (long long)t->split.train_count);
    SN_TRY(sn_run_data_normalize(&t->data, config, t->split.train, t->split.train_count));
    t->shape = t->data.shape;
    t->chunk = config->eval_batch_size;
    t->image_floats = (int64_t)t->shape.channels * t->shape.height * t->shape.width;
    /* A forward never sees more than a shard in training (the largest is
     * ceil(batch / shards)) or a chunk in evaluation. */
    t->shard_images = (t->batch + config->distributed_shards - 1) / config->distributed_shards;
    return SN_OK;
}

static int64_t largest_forward(const sn_trainer *t)
{
    return t->shard_images > t->chunk ? t->shard_images : t->chunk;
}

/* The network, its data-parallel reduction and its optimiser. */
static int create_model(sn_trainer *t)
{
    const sn_config *config = t->config;
    sn_network_settings network_settings;
    SN_TRY(sn_network_settings_from_config(&network_settings, config, &t->shape));
    SN_TRY(sn_network_create(&t->network, &network_settings, &t->shape, largest_forward(t)));
    sn_network_initialize(t->network, (uint64_t)config->seed);
    t->table = sn_network_parameter_table(t->network);
    t->space = sn_network_space(t->network);
    sn_strategy strategy = SN_STRATEGY_UNIFORM;
    if (t->space != NULL)
        SN_TRY(sn_strategy_parse(config->search_strategy, &strategy));
    /* The masked supernet's architecture gradient is reduced with the
     * parameters' (shift). */
    int64_t extra = t->space != NULL && strategy == SN_STRATEGY_SHIFT ? t->space->choice_total : 0;
    SN_TRY(sn_data_parallel_init(&t->dp, t->dist, config, t->network, t->batch, extra));
    sn_optimizer_settings settings = {
        strcmp(config->optimizer, "sgd") == 0 ? SN_OPTIMIZER_SGD : SN_OPTIMIZER_ADAMW,
        (float)config->momentum, config->nesterov, (float)config->beta1, (float)config->beta2,
        (float)config->epsilon, (float)config->weight_decay,
    };
    return sn_optimizer_init(&t->optimizer, &settings, t->table);
}

static int allocate_buffers(sn_trainer *t)
{
    sn_trainer_buffers *b = &t->buffers;
    int64_t batch = t->batch, image_floats = t->image_floats, classes = t->shape.classes;
    int64_t buffer_images = batch > largest_forward(t) ? batch : largest_forward(t);
    int64_t test_count = t->data.test_count;
    b->images = sn_alloc_floats((size_t)(buffer_images * image_floats));
    for (int i = 0; i < 2; i++) {
        b->batch_images[i] = sn_alloc_floats((size_t)(batch * image_floats));
        b->batch_labels[i] = sn_alloc_bytes((size_t)batch * sizeof(int32_t));
        if (!b->batch_images[i] || !b->batch_labels[i])
            return sn_error_set(SN_ERR_NOMEM, "training batch buffers: out of memory");
    }
    b->probs = sn_alloc_floats((size_t)(buffer_images * classes));
    b->dlogits = sn_alloc_floats((size_t)(buffer_images * classes));
    b->labels = sn_alloc_bytes((size_t)buffer_images * sizeof(int32_t));
    b->order = sn_alloc_bytes((size_t)t->split.train_count * sizeof(uint32_t));
    b->test_indices = sn_alloc_bytes((size_t)(test_count > 0 ? test_count : 1) * sizeof(uint32_t));
    if (!b->images || !b->probs || !b->dlogits || !b->labels || !b->order || !b->test_indices)
        return sn_error_set(SN_ERR_NOMEM, "training buffers: out of memory");
    for (int64_t i = 0; i < test_count; i++)
        b->test_indices[i] = (uint32_t)i;
    int64_t evaluated = t->split.validation_count > test_count ? t->split.validation_count
                                                                : test_count;
    return sn_evaluation_split_init(&t->evaluation, t->dist, evaluated, t->chunk);
}

static void plan_schedule(sn_trainer *t)
{
    const sn_config *config = t->config;
    t->total_steps = t->steps_per_epoch * config->epochs;
    if (config->max_steps > 0 && config->max_steps < t->total_steps)
        t->total_steps = config->max_steps;
    t->epochs = (int)((t->total_steps + t->steps_per_epoch - 1) / t->steps_per_epoch);
    t->warmup_steps = (int64_t)llround(config->warmup_epochs * (double)t->steps_per_epoch);
}

/* The supernet's strategy and its subnet evaluator. */
static int prepare_supernet(sn_trainer *t)
{
    const sn_config *config = t->config;
    const sn_split *split = &t->split;
    sn_trainer_buffers *b = &t->buffers;
    /* The last images of the split (sn_held_out_plan: the search's fitness
     * takes the first). The probability update's chunks are shard-sized:
     * the batch statistics a CNN subnet sees there are like those of
     * training. */
    sn_supernet_validation validation = {t->data.train_main,
                                         split->validation + t->held_out.shift_first,
                                         t->held_out.shift_count, t->shard_images, b->images,
                                         b->labels};
    SN_TRY(sn_supernet_training_init(&t->training, config, t->network, &t->dp, t->total_steps,
                                     t->warmup_steps, t->batch, &validation, NULL));
    t->evaluator = (sn_subnet_evaluator){t->network, t->data.train_main, split->train,
                                         split->train_count, t->chunk,
                                         config->recalibration_batches,
                                         t->batch < t->chunk ? t->batch : t->chunk,
                                         b->images, b->probs, b->labels};
    return SN_OK;
}

/* Rank 0's run directory, the schedule, the supernet's strategy. */
static int prepare_run(sn_trainer *t)
{
    /* A resumed run keeps its directory; a new one must not overwrite one. */
    if (t->writer) {
        if (!t->resume)
            SN_TRY(sn_run_directory_prepare(t->run_dir));
        SN_TRY(sn_run_directory_write_config(t->config, t->run_dir));
    }
    plan_schedule(t);
    return t->space != NULL ? prepare_supernet(t) : SN_OK;
}

int sn_trainer_setup(sn_trainer *t, const sn_config *config, const char *run_dir,
                     const sn_dist *dist, int resume, FILE *out, sn_train_result *result)
{
    memset(result, 0, sizeof *result);
    memset(t, 0, sizeof *t);
    t->config = config;
    t->run_dir = run_dir;
    t->dist = dist;
    t->resume = resume != SN_TRAIN_NEW;
    t->resume_strict = resume == SN_TRAIN_RESUME_STRICT;
    t->writer = dist->rank == 0;
    t->out = t->writer ? out : NULL;
    t->result = result;
    /* Everything up to the first step may fail on one rank only (a file one
     * node cannot read): the ranks agree before going on. */
    SN_TRY(sn_dist_agree(dist, open_data(t)));
    int status = split_data(t);
    if (status == SN_OK)
        status = create_model(t);
    if (status == SN_OK)
        status = allocate_buffers(t);
    if (status == SN_OK) {
        SN_TRY(sn_dist_agree(dist, status));
        status = prepare_run(t);
    }
    SN_TRY(sn_dist_agree(dist, status));
    return sn_trainer_start(t);
}

static void free_buffers(sn_trainer_buffers *b)
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

int sn_trainer_free(sn_trainer *t, int status)
{
    /* After a failure its message is the one to print: closing the run
     * files may fail too (the same full disk) and would replace it. What
     * they hold then does not matter: a resume restores both from the
     * checkpoint. */
    char failure[1024];
    snprintf(failure, sizeof failure, "%s", status != SN_OK ? sn_error_message() : "");
    sn_prefetcher_stop(t->feed.prefetcher);
    if (t->stop_handlers)
        sn_stop_request_restore();
    if (t->run_log) {
        int close_status = sn_run_log_close(t->run_log);
        if (status == SN_OK)
            status = close_status;
    }
    sn_supernet_training_free(&t->training);
    sn_data_parallel_free(&t->dp);
    if (t->metrics.file) {
        int close_status = sn_metrics_close(&t->metrics);
        if (status == SN_OK)
            status = close_status;
    }
    if (failure[0])
        sn_error_set(status, "%s", failure);
    free_buffers(&t->buffers);
    sn_evaluation_split_free(&t->evaluation);
    sn_optimizer_free(&t->optimizer);
    sn_network_free(t->network);
    sn_split_free(&t->split);
    sn_run_data_close(&t->data);
    return status;
}
