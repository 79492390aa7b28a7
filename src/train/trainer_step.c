/*
 * One training step of the trainer (trainer_internal.h): the batch (from
 * the prefetcher or filled here), forward and backward on this rank's
 * shards, the reduction, clipping and the optimiser's update, the
 * supernet's between-step work; then the agreement, the accounting and the
 * progress line. Allocates nothing.
 */
#include "trainer_internal.h"

#include <math.h>

#include "shiftnas/error.h"
#include "shiftnas/nn.h"

#include "fault_injection.h"

/* ---- the batches ------------------------------------------------------------ */

/* Step `step`'s batch: this rank's shards of the epoch's order, each shard
 * a block of its own (data_parallel.h), into buffer step % 2. The epoch's
 * order is a function of (seed, epoch); it is computed when its first batch
 * (or a resumed run's first) is requested, when no fill is reading the
 * previous one. */
static sn_batch_request batch_request(sn_trainer *t, int64_t step)
{
    const sn_config *config = t->config;
    sn_trainer_buffers *b = &t->buffers;
    int64_t epoch = step / t->steps_per_epoch, position = step % t->steps_per_epoch;
    if (position == 0 || step == t->first_step)
        sn_epoch_order(b->order, t->split.train, t->split.train_count, (uint64_t)config->seed,
                       (uint64_t)epoch);
    return sn_data_parallel_batch_request(&t->dp, b->order + position * config->batch_size,
                                          b->batch_images[step % 2], b->batch_labels[step % 2],
                                          (uint64_t)config->seed, (uint64_t)epoch);
}

void sn_trainer_request_batch(sn_trainer *t, int64_t step)
{
    sn_batch_request request = batch_request(t, step);
    if (t->feed.prefetcher)
        sn_prefetcher_submit(t->feed.prefetcher, &request);
    else
        t->feed.pending = request;
}

/* Waits for (or fills) the batch; the seconds the step waited for its
 * input go to *waited (the data stall). */
static int feed_ready(sn_batch_feed *feed, double *waited)
{
    if (feed->prefetcher)
        return sn_prefetcher_wait(feed->prefetcher, waited);
    double start = sn_now();
    int status = sn_image_source_fill(feed->source, &feed->pending);
    *waited += sn_now() - start;
    return status;
}

/* ---- forward, backward, update ---------------------------------------------- */

/* A fixed network's step: forward, loss and backward of each of this
 * rank's shards, then the reduction (data_parallel.h). */
static int fixed_network_step(sn_trainer *t, const float *images, const int32_t *labels,
                              int64_t step, double *loss)
{
    const sn_config *config = t->config;
    sn_data_parallel *dp = &t->dp;
    sn_trainer_buffers *b = &t->buffers;
    const sn_shard_plan *plan = &dp->plan;
    int classes = t->shape.classes;
    sn_data_parallel_begin_step(dp);
    int status = SN_OK;
    for (int s = plan->first; status == SN_OK && s < plan->last; s++) {
        int64_t offset = sn_data_parallel_offset(dp, s), n = sn_shard_size(plan, s);
        sn_data_parallel_begin_shard(dp, s);
        sn_forward_mode mode = {1, (uint64_t)config->seed, (uint64_t)step, (uint32_t)s};
        const float *logits =
            sn_network_forward(t->network, images + offset * t->image_floats, n, &mode);
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
        sn_network_backward(t->network, b->dlogits, n);
        dp->values_mine[s - plan->first] = (double)n * shard_loss;
        status = sn_data_parallel_end_shard(dp, s, NULL, step);
    }
    SN_TRY(sn_data_parallel_reduce(dp, status, step));
    SN_TRY(sn_data_parallel_sum_shard_values(dp, dp->values_mine, 1, loss));
    *loss /= (double)plan->batch;
    return SN_OK;
}

/* The reduced gradient checked and clipped, the optimiser's update at the
 * step's learning rate, then the supernet's between-step work. */
static int update_weights(sn_trainer *t, int64_t step)
{
    const sn_config *config = t->config;
    const sn_parameter_table *table = t->table;
    float *grads = sn_network_gradients(t->network);
    double norm = sn_gradient_norm(table, grads);
    if (!isfinite(norm))
        /* the same on every rank: no agreement needed */
        return sn_error_set(SN_ERR_NUMERIC, "step %lld: gradient norm is %s; stopping",
                            (long long)step + 1, isnan(norm) ? "NaN" : "infinite");
    if (config->clip_value > 0)
        sn_clip_by_value(table, grads, (float)config->clip_value);
    if (config->clip_norm > 0) {
        if (config->clip_value > 0)
            norm = sn_gradient_norm(table, grads);
        sn_clip_by_norm(table, grads, norm, (float)config->clip_norm);
    }
    t->lr = sn_learning_rate(step, t->total_steps, t->warmup_steps, (float)config->learning_rate,
                             (float)config->min_learning_rate);
    sn_optimizer_step(&t->optimizer, table, sn_network_parameters(t->network), grads, t->lr);
    if (t->space == NULL)
        return SN_OK;
    double coordinator_before = t->dp.times.coordinator;
    int status = sn_supernet_training_after_step(&t->training, step,
                                                 (double)t->lr / config->learning_rate);
    /* the probability update counts as the coordinator's phase */
    t->other_start += t->dp.times.coordinator - coordinator_before;
    return status;
}

/* The step up to its update. A failure is returned for sn_trainer_step to
 * agree on; some are agreed here already (the batch, the reduction), and
 * agreeing again keeps the reporter. */
static int train_on_batch(sn_trainer *t, int64_t step, double *loss)
{
#ifdef SHIFTNAS_FAULT_INJECTION
    sn_fault fault = sn_fault_injection_at(SN_FAULT_POINT_STEP, t->dist->rank, step + 1);
#endif
    /* a failed read (a damaged image set) stops every rank */
    int status = feed_ready(&t->feed, &t->dp.times.input);
    if (status == SN_OK && step + 1 < t->total_steps)
        sn_trainer_request_batch(t, step + 1);
    SN_TRY(sn_dist_agree(t->dist, status));
    t->dp.step_start = sn_now();
    float *images = t->buffers.batch_images[step % 2];
    int32_t *labels = t->buffers.batch_labels[step % 2];
#ifdef SHIFTNAS_FAULT_INJECTION
    if (fault == SN_FAULT_NAN)
        images[0] = NAN;
#endif
    if (t->space != NULL)
        SN_TRY(sn_supernet_training_step(&t->training, &t->dp, images, labels, step, loss));
    else
        SN_TRY(fixed_network_step(t, images, labels, step, loss));
    /* "other" runs from the end of the step's last collective: the
     * generator's backward, the optimiser, logging, checks */
    t->other_start = t->dp.reduced_at;
    SN_TRY(update_weights(t, step));
#ifdef SHIFTNAS_FAULT_INJECTION
    if (fault == SN_FAULT_IO)
        return sn_error_set(SN_ERR_IO, "step %lld: injected I/O failure (SHIFTNAS_INJECT_FAULT)",
                            (long long)step + 1);
#endif
    return SN_OK;
}

/* ---- after the update ----------------------------------------------------------- */

/* [run] metrics_interval_steps = N: every N steps, rank 0's training row
 * in metrics.csv, the mean loss of the steps since the previous row (this
 * one's images counted). Before the step's agreement: a failed write stops
 * every rank there. */
static int record_training_loss(sn_trainer *t, int64_t step, double loss)
{
    int64_t every = t->config->metrics_interval_steps;
    if (every <= 0)
        return SN_OK;
    t->interval_loss += loss;
    t->interval_steps++;
    if ((step + 1) % every != 0)
        return SN_OK;
    double mean = t->interval_loss / (double)t->interval_steps;
    t->interval_loss = 0;
    t->interval_steps = 0;
    if (!t->metrics.file)
        return SN_OK;
    return sn_metrics_append_train(&t->metrics, step + 1, (int)(step / t->steps_per_epoch) + 1,
                                   mean, t->result->images + t->batch, sn_trainer_run_seconds(t));
}

double sn_trainer_run_seconds(const sn_trainer *t)
{
    return t->session_run_seconds + (sn_now() - t->start);
}

/* A hash of everything that must be the same on every rank. */
static uint64_t state_hash(const sn_trainer *t)
{
    const sn_parameter_table *table = t->table;
    const sn_optimizer *optimizer = &t->optimizer;
    const sn_supernet_training *training = &t->training;
    uint64_t h = SN_HASH_START;
    h = sn_hash_bytes(h, sn_network_parameters(t->network), sizeof(float) * table->total);
    h = sn_hash_bytes(h, optimizer->moment1, sizeof(float) * optimizer->size);
    if (optimizer->moment2)
        h = sn_hash_bytes(h, optimizer->moment2, sizeof(float) * optimizer->size);
    int64_t statistics;
    const float *running = sn_network_running_statistics(t->network, &statistics);
    if (statistics > 0)
        h = sn_hash_bytes(h, running, sizeof(float) * (size_t)statistics);
    if (training->have_generator) {
        const sn_optimizer *g = &training->generator_optimizer;
        h = sn_hash_bytes(h, training->generator.params,
                          sizeof(float) * training->generator.table.total);
        h = sn_hash_bytes(h, g->moment1, sizeof(float) * g->size);
        h = sn_hash_bytes(h, g->moment2, sizeof(float) * g->size);
    }
    if (training->have_shift)
        h = sn_shift_state_hash(&training->shift, h);
    if (training->snapshot)
        h = sn_hash_bytes(h, training->snapshot, sizeof(float) * table->total);
    return h;
}

int sn_trainer_step(sn_trainer *t, int64_t step)
{
    const sn_config *config = t->config;
    sn_train_result *result = t->result;
    int epoch = (int)(step / t->steps_per_epoch);
    if (step % t->steps_per_epoch == 0) {
        t->epoch_loss = 0;
        t->epoch_steps = 0;
    }
    double step_start = sn_now();
    double loss = 0;
    int status = train_on_batch(t, step, &loss);
    if (status == SN_OK)
        status = record_training_loss(t, step, loss);
    SN_TRY(sn_dist_agree(t->dist, status));
    if (config->distributed_check_interval > 0 &&
        (step + 1) % config->distributed_check_interval == 0)
        SN_TRY(sn_dist_check_identical(t->dist, state_hash(t), step));
    t->dp.times.other += sn_now() - t->other_start;
    result->train_seconds += sn_now() - step_start;
    result->steps = step + 1;
    result->images += t->batch;
    t->epoch_loss += loss;
    t->epoch_steps++;
    sn_progress_step(&t->progress, step, epoch, loss, t->lr, t->batch);
    return SN_OK;
}
