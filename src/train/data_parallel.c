/*
 * Data-parallel steps with the same bits at any rank count; the design is in
 * data_parallel.h and doc/distributed.md.
 */
#include "data_parallel.h"

#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/train.h"
#include "shiftnas/tensor.h"
#include "dist/dist_internal.h"

int sn_data_parallel_init(sn_data_parallel *dp, const sn_dist *dist, const sn_config *config,
                          sn_network *network, int64_t batch, int64_t extra)
{
    memset(dp, 0, sizeof *dp);
    dp->dist = dist;
    dp->network = network;
    SN_TRY(sn_shard_plan_init(&dp->plan, batch, (int)config->distributed_shards, dist));
    dp->entries = (int64_t)sn_network_parameter_table(network)->total;
    dp->extra = extra;
    dp->reduce_active = strcmp(config->distributed_reduce, "active") == 0;
    dp->bucket = config->distributed_bucket_entries;
    int64_t n = dp->entries + extra;
    SN_TRY(sn_exact_sum_init(&dp->sum, n));
    sn_network_running_statistics(network, &dp->statistics);
    int shards = dp->plan.shards, owned = dp->plan.last - dp->plan.first;
    dp->tops = sn_alloc_bytes((size_t)n);
    dp->packed = sn_alloc_bytes((size_t)n * sizeof(int64_t));
    dp->extra_result = sn_alloc_floats((size_t)(extra > 0 ? extra : 1));
    dp->statistics_start = sn_alloc_floats((size_t)(dp->statistics + 1));
    dp->statistics_shards = sn_alloc_floats((size_t)(owned * dp->statistics + 1));
    dp->statistics_all = sn_alloc_floats((size_t)(shards * dp->statistics + 1));
    dp->counts = sn_alloc_bytes(sizeof(int) * (size_t)dist->size);
    dp->values_mine = sn_alloc_bytes(sizeof(double) * (size_t)(shards * SN_DP_VALUES_MAX));
    dp->values_all = sn_alloc_bytes(sizeof(double) * (size_t)(shards * SN_DP_VALUES_MAX));
    dp->shard_sizes = sn_alloc_bytes(sizeof(int64_t) * (size_t)(owned > 0 ? owned : 1));
    if (!dp->tops || !dp->packed || !dp->extra_result || !dp->statistics_start ||
        !dp->statistics_shards || !dp->statistics_all || !dp->counts || !dp->values_mine ||
        !dp->values_all || !dp->shard_sizes)
        return sn_error_set(SN_ERR_NOMEM, "data-parallel buffers for %lld gradient entries: out "
                                          "of memory",
                            (long long)n);
    for (int s = dp->plan.first; s < dp->plan.last; s++)
        dp->shard_sizes[s - dp->plan.first] = sn_shard_size(&dp->plan, s);
    return SN_OK;
}

void sn_data_parallel_free(sn_data_parallel *dp)
{
    sn_shard_plan_free(&dp->plan);
    sn_exact_sum_free(&dp->sum);
    sn_free(dp->tops);
    sn_free(dp->packed);
    sn_free(dp->extra_result);
    sn_free(dp->statistics_start);
    sn_free(dp->statistics_shards);
    sn_free(dp->statistics_all);
    sn_free(dp->counts);
    sn_free(dp->values_mine);
    sn_free(dp->values_all);
    sn_free(dp->shard_sizes);
    memset(dp, 0, sizeof *dp);
}

sn_batch_request sn_data_parallel_batch_request(const sn_data_parallel *dp,
                                                const uint32_t *batch_samples, float *images,
                                                int32_t *labels, uint64_t seed, uint64_t epoch)
{
    const sn_shard_plan *plan = &dp->plan;
    int64_t first = sn_shard_begin(plan, plan->first);
    return (sn_batch_request){batch_samples + first,
                              sn_shard_begin(plan, plan->last) - first,
                              dp->shard_sizes,
                              plan->last - plan->first,
                              1,
                              seed,
                              epoch,
                              sn_network_input_layout(dp->network),
                              images,
                              labels};
}

void sn_data_parallel_begin_step(sn_data_parallel *dp)
{
    sn_exact_sum_clear(&dp->sum, 0, dp->entries + dp->extra);
    int64_t count;
    float *statistics = sn_network_running_statistics(dp->network, &count);
    if (count > 0)
        memcpy(dp->statistics_start, statistics, sizeof(float) * (size_t)count);
}

void sn_data_parallel_begin_shard(sn_data_parallel *dp, int shard)
{
    (void)shard;
    sn_network_zero_gradients(dp->network);
    int64_t count;
    float *statistics = sn_network_running_statistics(dp->network, &count);
    if (count > 0)
        memcpy(statistics, dp->statistics_start, sizeof(float) * (size_t)count);
}

/* The name of the parameter that holds slab entry `index`. */
static const char *parameter_of(const sn_network *network, int64_t index)
{
    const sn_parameter_table *table = sn_network_parameter_table(network);
    for (int i = 0; i < table->count; i++)
        if (index >= (int64_t)table->entries[i].offset &&
            index < (int64_t)(table->entries[i].offset + table->entries[i].count))
            return table->entries[i].name;
    return "?";
}

int sn_data_parallel_end_shard(sn_data_parallel *dp, int shard, const float *extra, int64_t step)
{
    const float *gradients = sn_network_gradients(dp->network);
    int64_t bad = sn_exact_sum_add(&dp->sum, 0, gradients, dp->entries);
    if (bad >= 0)
        return sn_error_set(SN_ERR_NUMERIC, "step %lld: gradient of shard %d is %s in %s; stopping",
                            (long long)step + 1, shard,
                            gradients[bad] != gradients[bad] ? "NaN" : "infinite",
                            parameter_of(dp->network, bad));
    if (extra && dp->extra > 0) {
        bad = sn_exact_sum_add(&dp->sum, dp->entries, extra, dp->extra);
        if (bad >= 0)
            return sn_error_set(SN_ERR_NUMERIC,
                                "step %lld: architecture gradient of shard %d is not finite",
                                (long long)step + 1, shard);
    }
    int64_t count;
    const float *statistics = sn_network_running_statistics(dp->network, &count);
    if (count > 0)
        memcpy(dp->statistics_shards + (int64_t)(shard - dp->plan.first) * count, statistics,
               sizeof(float) * (size_t)count);
    return SN_OK;
}

/* The reduced value of entries [begin, begin + count) goes to the gradient
 * slab or, past the parameters, to extra_result. */
static void unpack_run(sn_data_parallel *dp, int64_t begin, int64_t count, const int64_t *packed)
{
    float *gradients = sn_network_gradients(dp->network);
    if (begin < dp->entries) {
        int64_t n = begin + count <= dp->entries ? count : dp->entries - begin;
        sn_exact_sum_unpack(dp->tops + begin, packed, n, gradients + begin);
        begin += n;
        packed += n;
        count -= n;
    }
    if (count > 0)
        sn_exact_sum_unpack(dp->tops + begin, packed, count,
                            dp->extra_result + (begin - dp->entries));
}

/* Entries [begin, begin + count) that no rank touched: +0. */
static void zero_run(sn_data_parallel *dp, int64_t begin, int64_t count)
{
    float *gradients = sn_network_gradients(dp->network);
    if (begin < dp->entries) {
        int64_t n = begin + count <= dp->entries ? count : dp->entries - begin;
        memset(gradients + begin, 0, sizeof(float) * (size_t)n);
        begin += n;
        count -= n;
    }
    if (count > 0)
        memset(dp->extra_result + (begin - dp->entries), 0, sizeof(float) * (size_t)count);
}

static int sum_in_buckets(sn_data_parallel *dp, int64_t *values, int64_t count)
{
    for (int64_t b = 0; b < count; b += dp->bucket)
        SN_TRY(sn_dist_sum_int64(dp->dist, values + b,
                                 count - b < dp->bucket ? count - b : dp->bucket));
    return SN_OK;
}

static int reduce_gradients(sn_data_parallel *dp)
{
    int64_t n = dp->entries + dp->extra;
    sn_exact_sum_tops(&dp->sum, 0, n, dp->tops);
    for (int64_t b = 0; b < n; b += dp->bucket)
        SN_TRY(sn_dist_max_int8(dp->dist, dp->tops + b, n - b < dp->bucket ? n - b : dp->bucket));
    if (!dp->reduce_active) {
        sn_exact_sum_pack(&dp->sum, 0, n, dp->tops, dp->packed);
        SN_TRY(sum_in_buckets(dp, dp->packed, n));
        unpack_run(dp, 0, n, dp->packed);
        dp->times.bytes += (double)n * (1 + sizeof(int64_t));
        return SN_OK;
    }
    /* Only the entries some shard touched (top >= 0 on some rank): every
     * rank sees the same tops, so every rank packs the same runs. */
    int64_t packed = 0;
    for (int64_t i = 0; i < n;) {
        if (dp->tops[i] < 0) {
            i++;
            continue;
        }
        int64_t end = i;
        while (end < n && dp->tops[end] >= 0)
            end++;
        sn_exact_sum_pack(&dp->sum, i, end - i, dp->tops + i, dp->packed + packed);
        packed += end - i;
        i = end;
    }
    SN_TRY(sum_in_buckets(dp, dp->packed, packed));
    packed = 0;
    for (int64_t i = 0; i < n;) {
        int64_t end = i;
        int active = dp->tops[i] >= 0;
        while (end < n && (dp->tops[end] >= 0) == active)
            end++;
        if (active) {
            unpack_run(dp, i, end - i, dp->packed + packed);
            packed += end - i;
        } else {
            /* untouched everywhere: the sum is +0 */
            zero_run(dp, i, end - i);
        }
        i = end;
    }
    dp->times.bytes += (double)n + (double)packed * sizeof(int64_t);
    return SN_OK;
}

/* Running statistics = start + mean over shards (in shard order) of each
 * shard's change: identical on every rank, and unchanged where no shard
 * changed them (the changes are exactly zero there). */
static int merge_statistics(sn_data_parallel *dp)
{
    int64_t count = dp->statistics;
    if (count == 0)
        return SN_OK;
    sn_shard_plan_counts(&dp->plan, (int)count, dp->counts);
    SN_TRY(sn_dist_allgather_floats(dp->dist, dp->statistics_shards, dp->counts,
                                    dp->statistics_all));
    float *statistics = sn_network_running_statistics(dp->network, &count);
    int shards = dp->plan.shards;
    for (int64_t i = 0; i < count; i++) {
        double change = 0;
        for (int s = 0; s < shards; s++)
            change += (double)(dp->statistics_all[(int64_t)s * count + i] -
                               dp->statistics_start[i]);
        statistics[i] = dp->statistics_start[i] + (float)(change / shards);
    }
    return SN_OK;
}

int sn_data_parallel_reduce(sn_data_parallel *dp, int status, int64_t step)
{
    (void)step;
    double start = sn_now();
    dp->times.compute += start - dp->step_start;
    status = sn_dist_agree(dp->dist, status);
    double agreed = sn_now();
    dp->times.waiting += agreed - start;
    dp->times.steps++;
    if (status != SN_OK)
        return status;
    status = reduce_gradients(dp);
    if (status == SN_OK)
        status = merge_statistics(dp);
    dp->reduced_at = sn_now();
    dp->times.reduce += dp->reduced_at - agreed;
    return status;
}

int sn_data_parallel_sum_shard_values(sn_data_parallel *dp, const double *mine, int per,
                                      double *sums)
{
    double start = sn_now();
    sn_shard_plan_counts(&dp->plan, per, dp->counts);
    SN_TRY(sn_dist_allgather_doubles(dp->dist, mine, dp->counts, dp->values_all));
    for (int j = 0; j < per; j++) {
        double sum = 0;
        for (int s = 0; s < dp->plan.shards; s++)
            sum += dp->values_all[s * per + j];
        sums[j] = sum;
    }
    dp->reduced_at = sn_now();
    dp->times.reduce += dp->reduced_at - start;
    return SN_OK;
}
