/* The subnet samplers: uniform, flops-uniform (rejection, then a guided
 * search), sandwich and AttentiveNAS candidates. Each draw makes its own
 * stream from (seed, step, slot, role), so nothing depends on call order. */
#include <math.h>

#include "search_internal.h"
#include "shiftnas/error.h"

int sn_sampler_init(sn_sampler *sampler, const sn_space *space, const sn_buckets *buckets,
                    uint64_t seed)
{
    if (buckets->count < 1 || buckets->count > SN_BUCKETS_MAX)
        return sn_error_set(SN_ERR_ARGUMENT, "sampler: bucket count %d is not in 1..%d",
                            buckets->count, SN_BUCKETS_MAX);
    sampler->space = space;
    sampler->buckets = *buckets;
    sampler->seed = seed;
    sampler->max_tries = 200;
    sampler->search_moves = 256;
    sampler->sandwich_random = 2;
    sampler->candidates = 3;
    sn_arch_smallest(space, &sampler->smallest);
    sn_arch_largest(space, &sampler->largest);
    return SN_OK;
}

void sn_sampler_stream(const sn_sampler *sampler, uint64_t step, uint32_t slot, uint32_t role,
                       sn_rng_stream *stream)
{
    sn_rng_stream_init(stream, sampler->seed, SN_RNG_SAMPLER, step,
                       slot * (uint32_t)SN_SAMPLER_ROLES + role);
}

void sn_sample_uniform(const sn_sampler *sampler, uint64_t step, uint32_t slot, sn_arch *arch)
{
    sn_rng_stream stream;
    sn_sampler_stream(sampler, step, slot, SN_ROLE_ARCH, &stream);
    sn_arch_sample_uniform(sampler->space, &stream, arch);
}

int sn_sample_in_bucket(const sn_sampler *sampler, int k, uint64_t step, uint32_t slot,
                        sn_arch *arch, sn_sample_info *info)
{
    const sn_buckets *buckets = &sampler->buckets;
    if (k < 0 || k >= buckets->count)
        return sn_error_set(SN_ERR_ARGUMENT, "bucket %d is not in 0..%d", k, buckets->count - 1);
    sn_sample_info local;
    if (!info)
        info = &local;
    info->bucket = k;
    info->tries = 0;
    info->moves = 0;

    /* One stream serves all tries: the tries of a slot come in a fixed order. */
    sn_rng_stream stream;
    sn_sampler_stream(sampler, step, slot, SN_ROLE_ARCH, &stream);
    sn_arch draw, closest;
    int64_t closest_macs = 0, closest_dist = INT64_MAX;
    for (int t = 0; t < sampler->max_tries; t++) {
        sn_arch_sample_uniform(sampler->space, &stream, &draw);
        int64_t macs = sn_space_cost(sampler->space, &draw).macs;
        int64_t dist = sn_bucket_distance(buckets, k, macs);
        info->tries = t + 1;
        if (dist < closest_dist) {
            closest = draw;
            closest_macs = macs;
            closest_dist = dist;
        }
        if (dist == 0)
            break;
    }
    if (closest_dist == INT64_MAX) { /* max_tries <= 0: start from the bucket's nearer end */
        int64_t mid = buckets->edge[k] / 2 + buckets->edge[k + 1] / 2;
        int64_t small = sn_space_cost(sampler->space, &sampler->smallest).macs;
        int64_t large = sn_space_cost(sampler->space, &sampler->largest).macs;
        closest = mid - small < large - mid ? sampler->smallest : sampler->largest;
        closest_macs = mid - small < large - mid ? small : large;
        closest_dist = sn_bucket_distance(buckets, k, closest_macs);
    }
    if (closest_dist > 0) {
        sn_rng_stream search;
        sn_sampler_stream(sampler, step, slot, SN_ROLE_SEARCH, &search);
        info->moves = sn_bucket_search(sampler->space, buckets, k, sampler->search_moves, &search,
                                       &closest, &closest_macs);
    }
    *arch = closest;
    info->macs = closest_macs;
    info->in_bucket = sn_bucket_distance(buckets, k, closest_macs) == 0;
    return SN_OK;
}

int sn_sample_flops_uniform(const sn_sampler *sampler, uint64_t step, uint32_t slot, sn_arch *arch,
                            sn_sample_info *info)
{
    sn_rng_stream stream;
    sn_sampler_stream(sampler, step, slot, SN_ROLE_BUCKET, &stream);
    int k = (int)sn_rng_below(&stream, (uint32_t)sampler->buckets.count);
    return sn_sample_in_bucket(sampler, k, step, slot, arch, info);
}

int sn_sample_sandwich(const sn_sampler *sampler, uint64_t step, sn_arch *archs, int capacity,
                       int *count)
{
    int n = 2 + sampler->sandwich_random;
    if (sampler->sandwich_random < 0 || capacity < n)
        return sn_error_set(SN_ERR_ARGUMENT, "sandwich: %d subnets do not fit in %d",
                            n, capacity);
    archs[0] = sampler->largest;
    archs[1] = sampler->smallest;
    for (int i = 2; i < n; i++)
        sn_sample_uniform(sampler, step, (uint32_t)i, &archs[i]);
    *count = n;
    return SN_OK;
}

int sn_sample_attentive(const sn_sampler *sampler, uint64_t step, uint32_t slot, sn_arch *archs,
                        int capacity, int *count, int *bucket, double *target)
{
    int n = sampler->candidates;
    if (n < 1 || n > SN_SAMPLER_CANDIDATES_MAX || capacity < n)
        return sn_error_set(SN_ERR_ARGUMENT, "attentive: %d candidates (capacity %d, at most %d)",
                            n, capacity, SN_SAMPLER_CANDIDATES_MAX);
    sn_rng_stream stream;
    sn_sampler_stream(sampler, step, slot, SN_ROLE_BUCKET, &stream);
    int k = (int)sn_rng_below(&stream, (uint32_t)sampler->buckets.count);
    sn_sampler_stream(sampler, step, slot, SN_ROLE_TARGET, &stream);
    *target = sn_buckets_target(&sampler->buckets, k, &stream);
    *bucket = k;
    for (int j = 0; j < n; j++)
        SN_TRY(sn_sample_in_bucket(sampler, k, step,
                                   slot * (uint32_t)SN_SAMPLER_CANDIDATES_MAX + (uint32_t)j,
                                   &archs[j], NULL));
    *count = n;
    return SN_OK;
}

int sn_attentive_select(const double *losses, int count, sn_attentive_mode mode)
{
    if (count < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "attentive: no candidates to select from");
    int chosen = -1;
    for (int i = 0; i < count; i++) {
        if (isnan(losses[i]))
            continue;
        if (chosen < 0 || (mode == SN_ATTENTIVE_BEST ? losses[i] < losses[chosen]
                                                    : losses[i] > losses[chosen]))
            chosen = i;
    }
    if (chosen < 0)
        return sn_error_set(SN_ERR_NUMERIC, "attentive: every candidate's loss is NaN");
    return chosen;
}
