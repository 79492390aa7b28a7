/*
 * The supernet training step shared by every sampling strategy, and the
 * updates between steps (supernet_training.h explains the step's parts).
 *
 * Keys. Everything random in a step is a function of (seed, step, slot):
 * the samplers' streams (shiftnas/sampler.h), the buckets of shift
 * (sn_shift_draw_bucket), the generator's Gumbel noise (seed, SN_RNG_GUMBEL,
 * step, slot). Slot 0 is the step's trained subnet (sandwich: 0 = largest,
 * 1 = smallest, 2.. random); shift's extra L_RC-only targets use slots
 * 1..generator_extra_targets.
 */
#include "supernet_training.h"

#include <math.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/nn.h"
#include "dist/dist_internal.h"
#include "shift_target_input.h"

static const char *const strategy_names[] = {"uniform",   "flops-uniform", "sandwich",
                                             "attentive", "shift",         "fixed"};
enum { STRATEGY_COUNT = (int)(sizeof strategy_names / sizeof strategy_names[0]) };

int sn_strategy_parse(const char *name, sn_strategy *strategy)
{
    for (int s = 0; s < STRATEGY_COUNT; s++)
        if (strcmp(name, strategy_names[s]) == 0) {
            *strategy = (sn_strategy)s;
            return SN_OK;
        }
    return sn_error_set(SN_ERR_CONFIG,
                        "[search] strategy = '%s': unknown (allowed: uniform, flops-uniform, "
                        "sandwich, attentive, shift, fixed)",
                        name);
}

const char *sn_strategy_name(sn_strategy strategy)
{
    return (int)strategy >= 0 && (int)strategy < STRATEGY_COUNT ? strategy_names[strategy] : "unknown";
}

/* ---- setup ---------------------------------------------------------------- */

int sn_supernet_training_init(sn_supernet_training *t, const sn_config *config, sn_network *network,
                              sn_data_parallel *dp, int64_t total_steps, int64_t warmup_steps,
                              int64_t batch, const sn_supernet_validation *validation,
                              sn_run_log *log)
{
    memset(t, 0, sizeof *t);
    t->dp = dp;
    if (validation)
        t->validation = *validation;
    t->config = config;
    t->network = network;
    t->space = sn_network_space(network);
    t->total_steps = total_steps;
    t->warmup_steps = warmup_steps;
    t->batch = batch;
    t->classes = sn_network_classes(network);
    t->log = log;
    if (t->space == NULL)
        return sn_error_set(SN_ERR_ARGUMENT, "supernet training needs a supernet");
    SN_TRY(sn_strategy_parse(config->search_strategy, &t->strategy));

    sn_buckets buckets;
    SN_TRY(sn_buckets_from_config(&buckets, t->space, config));
    SN_TRY(sn_sampler_init(&t->sampler, t->space, &buckets, (uint64_t)config->seed));
    t->sampler.max_tries = (int)config->search_max_tries;
    t->sampler.sandwich_random = (int)config->search_sandwich_random;
    t->sampler.candidates = (int)config->search_attentive_candidates;
    if (t->strategy == SN_STRATEGY_FIXED) {
        if (config->search_subnet[0] == '\0')
            return sn_error_set(SN_ERR_CONFIG, "[search] strategy = fixed needs [search] subnet "
                                               "(an architecture as `shiftnas search` prints it)");
        if (sn_arch_parse(t->space, config->search_subnet, &t->fixed_subnet) != SN_OK)
            return sn_error_set(SN_ERR_CONFIG, "[search] subnet = '%s': %s", config->search_subnet,
                                sn_error_message());
        sn_arch_canonicalize(t->space, &t->fixed_subnet);
    } else if (config->search_subnet[0] != '\0') {
        /* A subnet given to another strategy would be silently ignored. */
        return sn_error_set(SN_ERR_CONFIG, "[search] subnet is only used by strategy = fixed "
                                           "(this run has strategy = %s)", config->search_strategy);
    }

    size_t outputs = (size_t)(batch * t->classes);
    t->probs = sn_alloc_floats(outputs);
    t->dlogits = sn_alloc_floats(outputs);
    t->teacher = sn_alloc_floats(outputs);
    t->probabilities = sn_alloc_floats((size_t)t->space->choice_total);
    t->image_floats = (int64_t)t->space->image_channels * t->space->image_size *
                      t->space->image_size;
    int64_t statistics;
    sn_network_running_statistics(network, &statistics);
    t->statistics_saved = sn_alloc_floats((size_t)statistics + 1);
    /* The probability update's per-chunk, per-bucket loss sums. */
    int64_t chunks = t->validation.count > 0
                         ? (t->validation.count + t->validation.chunk - 1) / t->validation.chunk
                         : 0;
    t->validation_mine = sn_alloc_bytes(sizeof(double) * (size_t)(chunks + 1) * SN_BUCKETS_MAX);
    t->validation_all = sn_alloc_bytes(sizeof(double) * (size_t)(chunks + 1) * SN_BUCKETS_MAX);
    t->validation_counts = sn_alloc_bytes(sizeof(int) * (size_t)dp->dist->size);
    if (!t->probs || !t->dlogits || !t->teacher || !t->probabilities || !t->statistics_saved ||
        !t->validation_mine || !t->validation_all || !t->validation_counts)
        return sn_error_set(SN_ERR_NOMEM, "supernet training: out of memory for its buffers");

    if (t->strategy == SN_STRATEGY_SHIFT) {
        sn_shift_options options;
        sn_shift_options_defaults(&options);
        options.statistic = strcmp(config->shift_statistic, "variance") == 0 ? SN_SHIFT_VARIANCE
                                                                              : SN_SHIFT_LOSS_CHANGE;
        options.estimator = strcmp(config->shift_estimator, "gumbel") == 0 ? SN_SHIFT_GUMBEL
                            : strcmp(config->shift_estimator, "target-input") == 0
                                ? SN_SHIFT_TARGET_INPUT
                                : SN_SHIFT_EXPECTATION;
        if (options.estimator == SN_SHIFT_TARGET_INPUT && options.statistic != SN_SHIFT_LOSS_CHANGE)
            return sn_error_set(SN_ERR_CONFIG,
                                "[search] shift_estimator = target-input needs shift_statistic = "
                                "loss-change (it differentiates the held-out loss; the variance "
                                "statistic has none)");
        options.interval = (int)config->shift_interval;
        options.warmup = (int64_t)llround(config->shift_warmup * (double)total_steps);
        options.learning_rate = config->shift_learning_rate;
        options.gumbel_temperature = config->shift_gumbel_temperature;
        options.variance_temperature = config->shift_variance_temperature;
        options.frozen = config->shift_frozen ? 1 : 0;
        SN_TRY(sn_shift_init(&t->shift, buckets.count, &options, (uint64_t)config->seed));
        t->have_shift = 1;

        sn_generator_settings settings;
        sn_generator_settings_from_config(&settings, config);
        SN_TRY(sn_generator_create(&t->generator, t->space, &settings, (uint64_t)config->seed));
        t->have_generator = 1;
        /* Adam without weight decay: the generator is tiny and its logits
         * must be free to become confident. */
        sn_optimizer_settings adam = {SN_OPTIMIZER_ADAMW, 0, 0, 0.9f, 0.999f, 1e-8f, 0.0f};
        SN_TRY(sn_optimizer_init(&t->generator_optimizer, &adam, &t->generator.table));
        if (options.estimator == SN_SHIFT_TARGET_INPUT)
            SN_TRY(sn_target_input_init(t));
    }
    return SN_OK;
}

void sn_supernet_training_free(sn_supernet_training *t)
{
    sn_free(t->probs);
    sn_free(t->dlogits);
    sn_free(t->teacher);
    sn_free(t->probabilities);
    sn_free(t->statistics_saved);
    sn_free(t->validation_mine);
    sn_free(t->validation_all);
    sn_free(t->validation_counts);
    sn_target_input_free(t);
    if (t->have_shift)
        sn_shift_free(&t->shift);
    if (t->have_generator) {
        sn_generator_free(&t->generator);
        sn_optimizer_free(&t->generator_optimizer);
    }
    memset(t, 0, sizeof *t);
}

/* ---- planning --------------------------------------------------------------- */

static int bucket_of(const sn_supernet_training *t, int64_t macs)
{
    return sn_buckets_index(&t->sampler.buckets, macs);
}

/* A target inside bucket k for subnet `slot` of `step`. */
static double draw_target(const sn_supernet_training *t, int k, int64_t step, uint32_t slot)
{
    sn_rng_stream stream;
    sn_sampler_stream(&t->sampler, (uint64_t)step, slot, 1, &stream);
    return sn_buckets_target(&t->sampler.buckets, k, &stream);
}

static float generator_temperature(const sn_supernet_training *t, int64_t step)
{
    return sn_generator_temperature(&t->generator.settings, step, t->total_steps);
}

/* Fills the plan: subnets[0..subnet_count), their buckets and targets. */
static int plan_step(sn_supernet_training *t, int64_t step)
{
    const sn_sampler *s = &t->sampler;
    t->subnet_count = 1;
    t->drawn_bucket[0] = -1;
    t->target[0] = NAN;
    t->masked = 0;
    switch (t->strategy) {
    case SN_STRATEGY_UNIFORM:
        sn_sample_uniform(s, (uint64_t)step, 0, &t->subnets[0]);
        break;
    case SN_STRATEGY_FLOPS_UNIFORM: {
        sn_sample_info info;
        SN_TRY(sn_sample_flops_uniform(s, (uint64_t)step, 0, &t->subnets[0], &info));
        t->drawn_bucket[0] = info.bucket;
        break;
    }
    case SN_STRATEGY_SANDWICH:
        SN_TRY(sn_sample_sandwich(s, (uint64_t)step, t->subnets, SUPERNET_SLOTS_MAX,
                                  &t->subnet_count));
        for (int i = 0; i < t->subnet_count; i++) {
            t->drawn_bucket[i] = -1;
            t->target[i] = NAN;
        }
        break;
    case SN_STRATEGY_ATTENTIVE: {
        int count = 0, bucket = -1;
        double target = NAN;
        SN_TRY(sn_sample_attentive(s, (uint64_t)step, 0, t->candidates, SN_SAMPLER_CANDIDATES_MAX,
                                   &count, &bucket, &target));
        t->drawn_bucket[0] = bucket;
        t->target[0] = target;
        /* The candidates are scored in sn_supernet_training_step, which
         * then copies the chosen one into subnets[0]. */
        break;
    }
    case SN_STRATEGY_SHIFT: {
        int k = sn_shift_draw_bucket(&t->shift, (uint64_t)step, 0);
        double target = draw_target(t, k, step, 0);
        sn_generator_key key = {(uint64_t)t->config->seed, (uint64_t)step, 0};
        SN_TRY(sn_generator_forward(&t->generator, t->space, target, generator_temperature(t, step),
                                    &key, 1, t->probabilities, &t->subnets[0]));
        t->drawn_bucket[0] = k;
        t->target[0] = target;
        t->masked = step % t->config->generator_task_interval == 0;
        break;
    }
    case SN_STRATEGY_FIXED:
        t->subnets[0] = t->fixed_subnet;
        break;
    }
    for (int i = 0; i < t->subnet_count; i++)
        sn_arch_canonicalize(t->space, &t->subnets[i]);
    return SN_OK;
}

/* ---- the step ------------------------------------------------------------------ */

static int check_loss(const sn_supernet_training *t, double loss, int64_t step, int slot)
{
    if (isfinite(loss))
        return SN_OK;
    char text[SN_ARCH_TEXT_MAX];
    if (sn_arch_format(t->space, &t->subnets[slot], text, sizeof text) != SN_OK)
        snprintf(text, sizeof text, "(unprintable)");
    return sn_error_set(SN_ERR_NUMERIC, "step %lld: training loss of subnet %s is %s; stopping",
                        (long long)step + 1, text, isnan(loss) ? "NaN" : "infinite");
}

/* Forward of the current architecture on one shard; returns the logits. */
static const float *forward(sn_supernet_training *t, const float *images, int64_t n, int64_t step,
                            int shard)
{
    sn_forward_mode mode = {1, (uint64_t)t->config->seed, (uint64_t)step, (uint32_t)shard};
    return sn_network_forward(t->network, images, n, &mode);
}

/* Scores attentive's candidates by their loss on the whole batch (forward
 * only; each rank scores its shards, the sums are gathered in shard order)
 * and keeps the chosen one as subnets[0]. */
static int choose_attentive_candidate(sn_supernet_training *t, sn_data_parallel *dp,
                                      const float *images, const int32_t *labels, int64_t step)
{
    int count = t->sampler.candidates;
    const sn_shard_plan *plan = &dp->plan;
    for (int j = 0; j < count; j++)
        sn_arch_canonicalize(t->space, &t->candidates[j]);
    for (int s = plan->first; s < plan->last; s++) {
        int64_t offset = sn_data_parallel_offset(dp, s), n = sn_shard_size(plan, s);
        for (int j = 0; j < count; j++) {
            SN_TRY(sn_network_set_architecture(t->network, &t->candidates[j]));
            const float *logits = forward(t, images + offset * t->image_floats, n, step, s);
            dp->values_mine[(s - plan->first) * count + j] =
                (double)n * sn_softmax_cross_entropy_forward(t->probs, logits, labels + offset, n,
                                                             t->classes,
                                                             (float)t->config->label_smoothing,
                                                             NULL);
        }
    }
    SN_TRY(sn_data_parallel_sum_shard_values(dp, dp->values_mine, count, t->candidate_loss));
    for (int j = 0; j < count; j++)
        t->candidate_loss[j] /= (double)t->batch;
    sn_attentive_mode mode =
        strcmp(t->config->search_attentive_mode, "worst") == 0 ? SN_ATTENTIVE_WORST
                                                                : SN_ATTENTIVE_BEST;
    int chosen = sn_attentive_select(t->candidate_loss, count, mode);
    if (chosen < 0)
        return sn_error_set(SN_ERR_NUMERIC, "step %lld: every attentive candidate's loss is NaN",
                            (long long)step + 1);
    t->subnets[0] = t->candidates[chosen];
    return SN_OK;
}

/* Forward, loss and backward of every planned subnet on shard s; the
 * gradients accumulate in the slab. Losses are weighed by the shard's
 * share of the batch, so that the shards' gradients sum to the gradient of
 * the batch's mean loss. shard_loss[i] = subnet i's summed loss over the
 * shard's images. */
static int run_shard(sn_supernet_training *t, sn_data_parallel *dp, const float *images,
                     const int32_t *labels, int64_t step, int s, double *shard_loss)
{
    int64_t n = sn_shard_size(&dp->plan, s);
    float weight = (float)((double)n / (double)t->batch);
    float smoothing = (float)t->config->label_smoothing;
    for (int i = 0; i < t->subnet_count; i++) {
        if (t->masked)
            SN_TRY(sn_network_set_soft_architecture(t->network, t->probabilities));
        else
            SN_TRY(sn_network_set_architecture(t->network, &t->subnets[i]));
        const float *logits = forward(t, images, n, step, s);
        double subnet_loss;
        /* Sandwich: the largest subnet (slot 0) learns from the labels, the
         * others from its output (in-place distillation, BigNAS): the
         * teacher's softmax is a constant target for this step. */
        int distill = t->strategy == SN_STRATEGY_SANDWICH && i > 0;
        if (distill) {
            subnet_loss = sn_soft_cross_entropy_forward(t->probs, logits, t->teacher, n, t->classes);
            SN_TRY(check_loss(t, subnet_loss, step, i));
            sn_soft_cross_entropy_backward(t->dlogits, t->probs, t->teacher, n, t->classes, weight);
        } else {
            subnet_loss = sn_softmax_cross_entropy_forward(t->probs, logits, labels, n, t->classes,
                                                           smoothing, NULL);
            SN_TRY(check_loss(t, subnet_loss, step, i));
            if (t->strategy == SN_STRATEGY_SANDWICH)
                memcpy(t->teacher, t->probs, sizeof(float) * (size_t)(n * t->classes));
            sn_softmax_cross_entropy_backward(t->dlogits, t->probs, labels, n, t->classes,
                                              smoothing, weight);
        }
        sn_network_backward(t->network, t->dlogits, n);
        shard_loss[i] = (double)n * subnet_loss;
    }
    return SN_OK;
}

int sn_supernet_training_step(sn_supernet_training *t, sn_data_parallel *dp, const float *images,
                              const int32_t *labels, int64_t step, double *loss)
{
    sn_data_parallel_begin_step(dp);
    const sn_shard_plan *plan = &dp->plan;
    int status = plan_step(t, step);
    if (status == SN_OK && t->strategy == SN_STRATEGY_ATTENTIVE)
        status = choose_attentive_candidate(t, dp, images, labels, step);
    /* The bucket a subnet is logged and counted under is the one its MACs
     * fall in, whatever was drawn: the generator (early in training) and
     * the in-bucket samplers' fallback can miss the drawn bucket. */
    for (int i = 0; status == SN_OK && i < t->subnet_count; i++) {
        t->subnet_macs[i] = sn_space_cost(t->space, &t->subnets[i]).macs;
        t->bucket[i] = bucket_of(t, t->subnet_macs[i]);
    }
    for (int s = plan->first; status == SN_OK && s < plan->last; s++) {
        int64_t offset = sn_data_parallel_offset(dp, s);
        sn_data_parallel_begin_shard(dp, s);
        status = run_shard(t, dp, images + offset * t->image_floats, labels + offset, step, s,
                           dp->values_mine + (s - plan->first) * t->subnet_count);
        if (status == SN_OK)
            status = sn_data_parallel_end_shard(
                dp, s, t->masked ? sn_network_architecture_gradient(t->network) : NULL, step);
    }
    /* Every rank gets here, failed or not: the reduction is where they agree. */
    SN_TRY(sn_data_parallel_reduce(dp, status, step));
    SN_TRY(sn_data_parallel_sum_shard_values(dp, dp->values_mine, t->subnet_count, t->subnet_loss));
    double sum = 0;
    for (int i = 0; i < t->subnet_count; i++) {
        t->subnet_loss[i] /= (double)t->batch;
        sum += t->subnet_loss[i];
    }

    if (t->strategy == SN_STRATEGY_SHIFT) {
        /* L_task reaches the generator through the masks (masked steps
         * only: the architecture gradient summed over every shard); L_RC on
         * every step. The generator's inputs are the same on every rank, so
         * is its gradient. */
        if (t->have_generator)
            sn_generator_zero_gradients(&t->generator);
        const float *task = t->masked ? dp->extra_result : NULL;
        SN_TRY(sn_generator_backward(&t->generator, task, t->config->generator_lambda));
        /* More targets through L_RC alone, buckets drawn from p: the
         * generator learns the MACs of the space from many targets per step
         * (our runs are orders of magnitude shorter than the paper's). */
        for (int j = 1; j <= (int)t->config->generator_extra_targets; j++) {
            int k = sn_shift_draw_bucket(&t->shift, (uint64_t)step, (uint32_t)j);
            double target = draw_target(t, k, step, (uint32_t)j);
            sn_generator_key key = {(uint64_t)t->config->seed, (uint64_t)step, (uint32_t)j};
            SN_TRY(sn_generator_forward(&t->generator, t->space, target,
                                        generator_temperature(t, step), &key, 1, t->probabilities,
                                        NULL));
            SN_TRY(sn_generator_backward(&t->generator, NULL, t->config->generator_lambda));
        }
        /* the variance statistic is of the bucket the trained subnet is in */
        SN_TRY(sn_shift_record(&t->shift, t->bucket[0], t->subnet_loss[0]));
    }
    *loss = sum / (double)t->subnet_count;
    return SN_OK;
}

/* ---- between steps ---------------------------------------------------------------- */

/* The held-out images are cut into chunks of `chunk` images, a fixed list
 * whatever the rank count; rank r evaluates chunks [r*C/P, (r+1)*C/P). */
static int64_t validation_chunks(const sn_supernet_validation *v)
{
    return v->count > 0 ? (v->count + v->chunk - 1) / v->chunk : 0;
}

/* Summed cross-entropy of the current subnet over each of this rank's
 * chunks, into sums[(c - first) * stride]. A CNN supernet's running
 * statistics belong to no subnet, so CNN subnets are evaluated with the
 * chunk's batch statistics (training-mode forward; a CNN space has no
 * dropout); ViT subnets in evaluation mode. */
static int validation_losses(sn_supernet_training *t, const sn_supernet_validation *v,
                             int64_t first, int64_t last, double *sums, int stride)
{
    sn_forward_mode mode = {t->space->type == SN_SPACE_CNN, 0, 0, 0};
    for (int64_t c = first; c < last; c++) {
        int64_t begin = c * v->chunk;
        int64_t n = v->count - begin < v->chunk ? v->count - begin : v->chunk;
        SN_TRY(sn_image_source_fill_plain(v->source, v->images, v->labels, v->indices + begin, n,
                                          sn_network_input_layout(t->network)));
        const float *logits = sn_network_forward(t->network, v->images, n, &mode);
        sums[(c - first) * stride] = (double)n * sn_softmax_cross_entropy_forward(
                                                     t->probs, logits, v->labels, n, t->classes,
                                                     0.0f, NULL);
    }
    return SN_OK;
}

static int broadcast_shift_field(const sn_shift_field *field, void *context)
{
    return sn_dist_broadcast(context, field->data, field->bytes, 0);
}

/* Makes every rank's shift state rank 0's (the coordinator's update). */
static int broadcast_shift(sn_supernet_training *t)
{
    const sn_dist *dist = t->dp->dist;
    SN_TRY(sn_shift_visit_state(&t->shift, broadcast_shift_field, (void *)dist));
    return sn_dist_broadcast(dist, t->validation_loss, sizeof(double) * SN_BUCKETS_MAX, 0);
}

/* Every update's end: rank 0's shift state to every rank, the log's row,
 * the time spent. The target-input estimator has no per-bucket statistic
 * (one bucket is sampled): its row holds the gradient on beta. */
static int finish_update(sn_supernet_training *t, int64_t step, const double *losses,
                         double start)
{
    SN_TRY(broadcast_shift(t));
    t->updates++;
    if (t->log) {
        const sn_shift *shift = &t->shift;
        const double *statistic = shift->options.statistic == SN_SHIFT_VARIANCE ? shift->variance
                                  : shift->options.estimator == SN_SHIFT_TARGET_INPUT
                                      ? shift->gradient
                                      : shift->delta;
        SN_TRY(sn_run_log_update(t->log, step, shift->beta, shift->probability, statistic,
                                 losses));
    }
    double seconds = sn_now() - start;
    t->update_seconds += seconds;
    t->dp->times.coordinator += seconds;
    return SN_OK;
}

/* The probability update (the paper's Eq. 8): each bucket's subnet is the
 * generator's deployment answer (argmax) for the bucket's middle; its
 * validation loss now against the previous update's gives delta_k. Every
 * rank evaluates its chunks of the held-out images for every bucket; the
 * coordinator (rank 0) gathers the sums, adds them in chunk order, updates
 * beta and broadcasts the new state. */
static int update_probabilities(sn_supernet_training *t, int64_t step,
                                const sn_supernet_validation *v)
{
    double start = sn_now();
    const sn_dist *dist = t->dp->dist;
    const double *losses = NULL;
    int status = SN_OK;
    if (t->shift.options.estimator == SN_SHIFT_TARGET_INPUT) {
        SN_TRY(sn_target_input_update(t, step, v));
        return finish_update(t, step, t->validation_loss, start);
    }
    if (t->shift.options.statistic == SN_SHIFT_LOSS_CHANGE) {
        const sn_buckets *buckets = &t->sampler.buckets;
        int K = buckets->count;
        int64_t chunks = validation_chunks(v);
        int64_t first = (int64_t)dist->rank * chunks / dist->size;
        int64_t last = (int64_t)(dist->rank + 1) * chunks / dist->size;
        /* These passes evaluate: they must not move the running statistics
         * (and each rank sees different chunks). */
        int64_t statistics;
        float *running = sn_network_running_statistics(t->network, &statistics);
        if (statistics > 0)
            memcpy(t->statistics_saved, running, sizeof(float) * (size_t)statistics);
        for (int k = 0; status == SN_OK && k < K; k++) {
            double middle = 0.5 * ((double)buckets->edge[k] + (double)buckets->edge[k + 1]);
            status = sn_generator_argmax(&t->generator, t->space, middle, &t->bucket_subnet[k]);
            if (status != SN_OK)
                break;
            sn_arch_canonicalize(t->space, &t->bucket_subnet[k]);
            status = sn_network_set_architecture(t->network, &t->bucket_subnet[k]);
            if (status == SN_OK)
                status = validation_losses(t, v, first, last, t->validation_mine + k, K);
        }
        if (statistics > 0)
            memcpy(running, t->statistics_saved, sizeof(float) * (size_t)statistics);
        SN_TRY(sn_dist_agree(dist, status));
        for (int r = 0; r < dist->size; r++)
            t->validation_counts[r] =
                (int)(((int64_t)(r + 1) * chunks / dist->size - (int64_t)r * chunks / dist->size) *
                      K);
        SN_TRY(sn_dist_gather_doubles(dist, t->validation_mine, t->validation_counts,
                                      t->validation_all));
        if (dist->rank == 0)
            for (int k = 0; k < K; k++) {
                double sum = 0;
                for (int64_t c = 0; c < chunks; c++)
                    sum += t->validation_all[c * K + k];
                t->validation_loss[k] = chunks > 0 ? sum / (double)v->count : NAN;
            }
        losses = t->validation_loss;
    }
    if (dist->rank == 0) {
        status = sn_shift_update(&t->shift, losses, (uint64_t)step);
        if (status != SN_OK)
            status = sn_error_set(status, "step %lld: probability update: %s",
                                  (long long)step + 1, sn_error_message());
    }
    SN_TRY(sn_dist_agree(dist, status));
    return finish_update(t, step, losses, start);
}

int sn_supernet_training_after_step(sn_supernet_training *t, int64_t step, double lr_scale)
{
    const sn_supernet_validation *validation = &t->validation;
    if (t->have_generator) {
        float lr = (float)(t->config->generator_learning_rate * lr_scale);
        sn_optimizer_step(&t->generator_optimizer, &t->generator.table, t->generator.params,
                          t->generator.grads, lr);
    }
    if (t->log)
        for (int i = 0; i < t->subnet_count; i++)
            SN_TRY(sn_run_log_subnet(t->log, step, i, t->bucket[i], t->drawn_bucket[i],
                                     t->target[i], t->subnet_macs[i], t->subnet_loss[i]));
    if (t->have_shift && sn_shift_due(&t->shift, step))
        SN_TRY(update_probabilities(t, step, validation));
    return SN_OK;
}
