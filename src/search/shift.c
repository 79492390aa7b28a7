/* The probability shift's state: the bucket distribution, its keyed draw, the
 * per-step loss records and the periodic update. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search_internal.h"
#include "shift_internal.h"
#include "shiftnas/error.h"

void sn_shift_options_defaults(sn_shift_options *options)
{
    options->statistic = SN_SHIFT_LOSS_CHANGE;
    options->estimator = SN_SHIFT_EXPECTATION;
    options->interval = 100;
    options->warmup = 0;
    /* Adam moves each logit by about learning_rate per update whatever the
     * scale of the loss change; 0.1 lets a consistent signal take a bucket
     * from 1/8 to over 1/2 in about ten updates (doc/algorithm.md). */
    options->learning_rate = 0.1;
    options->beta1 = 0.9;
    options->beta2 = 0.999;
    options->epsilon = 1e-8;
    options->gumbel_temperature = 1.0;
    options->variance_temperature = 0.01;
    options->frozen = 0;
}

int sn_shift_init(sn_shift *shift, int count, const sn_shift_options *options, uint64_t seed)
{
    memset(shift, 0, sizeof *shift);
    if (count < 1 || count > SN_BUCKETS_MAX)
        return sn_error_set(SN_ERR_ARGUMENT, "shift: bucket count %d is not in 1..%d", count,
                            SN_BUCKETS_MAX);
    const sn_shift_options *o = options;
    if (o->interval < 1 || o->warmup < 0 || !(o->learning_rate > 0) || !(o->beta1 >= 0 && o->beta1 < 1) ||
        !(o->beta2 >= 0 && o->beta2 < 1) || !(o->epsilon > 0) || !(o->gumbel_temperature > 0) ||
        !(o->variance_temperature > 0) || (o->frozen != 0 && o->frozen != 1) ||
        (o->statistic != SN_SHIFT_LOSS_CHANGE && o->statistic != SN_SHIFT_VARIANCE) ||
        (o->estimator != SN_SHIFT_EXPECTATION && o->estimator != SN_SHIFT_GUMBEL &&
         o->estimator != SN_SHIFT_TARGET_INPUT))
        return sn_error_set(SN_ERR_ARGUMENT,
                            "shift: bad options (interval %d, warmup %lld, lr %g, betas %g %g, "
                            "epsilon %g, temperatures %g %g)",
                            o->interval, (long long)o->warmup, o->learning_rate, o->beta1,
                            o->beta2, o->epsilon, o->gumbel_temperature, o->variance_temperature);
    /* The variance statistic has no held-out loss to differentiate. */
    if (o->estimator == SN_SHIFT_TARGET_INPUT && o->statistic != SN_SHIFT_LOSS_CHANGE)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "shift: the target-input estimator needs the loss-change statistic");
    shift->count = count;
    shift->options = *options;
    shift->seed = seed;
    shift->gumbel_bucket = -1;
    shift->ring_capacity = o->interval;
    shift->ring_bucket = malloc((size_t)o->interval * sizeof *shift->ring_bucket);
    shift->ring_loss = malloc((size_t)o->interval * sizeof *shift->ring_loss);
    /* Entries not yet recorded are defined (bucket -1, loss 0): a
     * checkpoint stores the whole ring, and must store no garbage. */
    for (int i = 0; shift->ring_bucket && shift->ring_loss && i < o->interval; i++) {
        shift->ring_bucket[i] = -1;
        shift->ring_loss[i] = 0;
    }
    if (!shift->ring_bucket || !shift->ring_loss) {
        sn_shift_free(shift);
        return sn_error_set(SN_ERR_NOMEM, "shift: no memory for %d loss records", o->interval);
    }
    sn_softmax(shift->beta, count, shift->probability);
    return SN_OK;
}

void sn_shift_free(sn_shift *shift)
{
    free(shift->ring_bucket);
    free(shift->ring_loss);
    shift->ring_bucket = NULL;
    shift->ring_loss = NULL;
    shift->ring_capacity = shift->ring_size = shift->ring_head = 0;
}

int sn_shift_draw_bucket(const sn_shift *shift, uint64_t step, uint32_t slot)
{
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, shift->seed, SN_RNG_SAMPLER, step,
                       slot * (uint32_t)SN_SAMPLER_ROLES + SN_ROLE_BUCKET);
    /* Inverse CDF with one uniform; the last bucket with p > 0 takes the
     * rounding remainder so a draw never falls off the end. */
    double u = sn_rng_uniform(&stream), sum = 0.0;
    int last = 0;
    for (int k = 0; k < shift->count; k++) {
        if (shift->probability[k] <= 0)
            continue;
        last = k;
        sum += shift->probability[k];
        if (u < sum)
            return k;
    }
    return last;
}

int sn_shift_due(const sn_shift *shift, int64_t step)
{
    int64_t done = step + 1 - shift->options.warmup;
    return done >= shift->options.interval && done % shift->options.interval == 0;
}

int sn_shift_record(sn_shift *shift, int bucket, double loss)
{
    if (bucket < 0 || bucket >= shift->count)
        return sn_error_set(SN_ERR_ARGUMENT, "shift: bucket %d is not in 0..%d", bucket,
                            shift->count - 1);
    if (!isfinite(loss))
        return sn_error_set(SN_ERR_NUMERIC, "shift: bucket %d loss %g is not finite", bucket, loss);
    shift->ring_bucket[shift->ring_head] = bucket;
    shift->ring_loss[shift->ring_head] = loss;
    shift->ring_head = (shift->ring_head + 1) % shift->ring_capacity;
    if (shift->ring_size < shift->ring_capacity)
        shift->ring_size++;
    return SN_OK;
}

/* Mean and (population) variance per bucket over the ring. A bucket with
 * fewer than two records gets the largest variance seen: optimism, so a
 * rarely drawn bucket is not starved for want of evidence. */
static void ring_statistics(sn_shift *shift)
{
    int K = shift->count;
    double sum[SN_BUCKETS_MAX] = {0}, sq[SN_BUCKETS_MAX] = {0};
    memset(shift->record_count, 0, sizeof shift->record_count);
    for (int i = 0; i < shift->ring_size; i++) {
        int k = shift->ring_bucket[i];
        shift->record_count[k]++;
        sum[k] += shift->ring_loss[i];
    }
    for (int k = 0; k < K; k++)
        shift->mean[k] = shift->record_count[k] ? sum[k] / shift->record_count[k] : 0.0;
    /* two passes: no cancellation when the variance is small against the mean */
    for (int i = 0; i < shift->ring_size; i++) {
        int k = shift->ring_bucket[i];
        double e = shift->ring_loss[i] - shift->mean[k];
        sq[k] += e * e;
    }
    double top = 0.0;
    for (int k = 0; k < K; k++) {
        shift->variance[k] = shift->record_count[k] >= 2 ? sq[k] / shift->record_count[k] : 0.0;
        top = shift->variance[k] > top ? shift->variance[k] : top;
    }
    for (int k = 0; k < K; k++)
        if (shift->record_count[k] < 2)
            shift->variance[k] = top;
}

int sn_shift_update(sn_shift *shift, const double *validation_loss, uint64_t step)
{
    int K = shift->count;
    if (shift->options.statistic == SN_SHIFT_VARIANCE) {
        ring_statistics(shift);
        double z[SN_BUCKETS_MAX];
        for (int k = 0; k < K; k++)
            z[k] = shift->variance[k] / shift->options.variance_temperature;
        if (!shift->options.frozen)
            sn_softmax(z, K, shift->probability);
        shift->updates++;
        return SN_OK;
    }
    if (shift->options.estimator == SN_SHIFT_TARGET_INPUT)
        return sn_error_set(SN_ERR_ARGUMENT, "shift: the target-input estimator updates through "
                                             "sn_shift_update_target_input");
    if (!validation_loss)
        return sn_error_set(SN_ERR_ARGUMENT, "shift: the loss-change update needs validation losses");
    for (int k = 0; k < K; k++)
        if (!isfinite(validation_loss[k]))
            return sn_error_set(SN_ERR_NUMERIC, "shift: bucket %d validation loss %g is not finite",
                                k, validation_loss[k]);
    if (shift->have_previous) {
        for (int k = 0; k < K; k++)
            shift->delta[k] = validation_loss[k] - shift->previous_loss[k];
        if (shift->options.estimator == SN_SHIFT_GUMBEL) {
            double g[SN_BUCKETS_MAX];
            sn_rng_stream stream;
            sn_rng_stream_init(&stream, shift->seed, SN_RNG_SAMPLER, step, 0xFFFFFFFFu);
            for (int k = 0; k < K; k++)
                g[k] = sn_rng_gumbel(&stream);
            shift->gumbel_bucket = sn_shift_gumbel_gradient(shift->beta, shift->delta, g, K,
                                                            shift->options.gumbel_temperature,
                                                            shift->gradient);
        } else {
            sn_shift_expectation(shift->beta, shift->delta, K, shift->gradient);
        }
        /* frozen (the control arm): measured and estimated like the others,
         * never applied */
        if (!shift->options.frozen) {
            sn_shift_adam_step(shift, shift->gradient);
            sn_softmax(shift->beta, K, shift->probability);
        }
        shift->updates++;
    }
    memcpy(shift->previous_loss, validation_loss, (size_t)K * sizeof *validation_loss);
    shift->have_previous = 1;
    return SN_OK;
}

void sn_shift_target_input_draw(const sn_shift *shift, const double *middle, uint64_t step,
                                sn_shift_target_draw *draw)
{
    double g[SN_BUCKETS_MAX];
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, shift->seed, SN_RNG_SHIFT, step, 0);
    for (int k = 0; k < shift->count; k++)
        g[k] = sn_rng_gumbel(&stream);
    sn_shift_target_input_sample(shift->beta, middle, g, shift->count,
                                 shift->options.gumbel_temperature, draw);
}

int sn_shift_update_target_input(sn_shift *shift, const sn_shift_target_draw *draw, double now,
                                 double before)
{
    if (shift->options.estimator != SN_SHIFT_TARGET_INPUT)
        return sn_error_set(SN_ERR_ARGUMENT, "shift: sn_shift_update_target_input needs the "
                                             "target-input estimator");
    if (!shift->have_previous) {
        shift->have_previous = 1;
        return SN_OK;
    }
    if (!isfinite(now) || !isfinite(before))
        return sn_error_set(SN_ERR_NUMERIC,
                            "shift: dL/dC of bucket %d is not finite (%g now, %g before)",
                            draw->bucket, now, before);
    int K = shift->count;
    double difference = now - before;
    for (int k = 0; k < K; k++) {
        shift->delta[k] = k == draw->bucket ? difference : NAN;
        shift->gradient[k] = difference * draw->input_gradient[k];
    }
    shift->gumbel_bucket = draw->bucket;
    if (!shift->options.frozen) { /* the control arm: measured, never applied */
        sn_shift_adam_step(shift, shift->gradient);
        sn_softmax(shift->beta, K, shift->probability);
    }
    shift->updates++;
    return SN_OK;
}
