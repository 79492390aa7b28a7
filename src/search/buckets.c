/* FLOPs buckets: the MACs range of a space cut into K intervals. Edges are
 * integers (MACs are exact integers), so membership is exact and the same on
 * every rank. */
#include <math.h>

#include "shiftnas/error.h"
#include "shiftnas/sampler.h"

static void space_range(const sn_space *space, int64_t *lo, int64_t *hi)
{
    sn_arch a;
    sn_arch_smallest(space, &a);
    *lo = sn_space_cost(space, &a).macs;
    sn_arch_largest(space, &a);
    *hi = sn_space_cost(space, &a).macs;
}

int sn_buckets_equal_width(sn_buckets *buckets, const sn_space *space, int count)
{
    if (count < 1 || count > SN_BUCKETS_MAX)
        return sn_error_set(SN_ERR_ARGUMENT, "bucket count %d is not in 1..%d", count,
                            SN_BUCKETS_MAX);
    int64_t lo, hi;
    space_range(space, &lo, &hi);
    buckets->count = count;
    /* floor(k * range / K) in integers (no overflow while range < 2^57):
     * edges do not depend on rounding, and edge[K] is exactly the largest. */
    for (int k = 0; k <= count; k++)
        buckets->edge[k] = lo + (hi - lo) * k / count;
    return SN_OK;
}

int sn_buckets_from_step(sn_buckets *buckets, const sn_space *space, int64_t step)
{
    if (step < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "bucket step %lld MACs is not positive",
                            (long long)step);
    int64_t lo, hi;
    space_range(space, &lo, &hi);
    int64_t count = (hi - lo + step - 1) / step;
    if (count < 1)
        count = 1; /* a one-architecture space: one bucket holding it */
    if (count > SN_BUCKETS_MAX)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "bucket step %lld MACs gives %lld buckets over [%lld, %lld]; at most %d",
                            (long long)step, (long long)count, (long long)lo, (long long)hi,
                            SN_BUCKETS_MAX);
    buckets->count = (int)count;
    for (int k = 0; k < count; k++)
        buckets->edge[k] = lo + k * step;
    buckets->edge[count] = hi;
    return SN_OK;
}

int sn_buckets_index(const sn_buckets *buckets, int64_t macs)
{
    int K = buckets->count;
    if (macs < buckets->edge[0] || macs > buckets->edge[K])
        return -1;
    if (macs == buckets->edge[K])
        return K - 1;
    /* the last k with edge[k] <= macs (empty buckets, equal edges, skipped) */
    int lo = 0, hi = K - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (buckets->edge[mid] <= macs)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

double sn_buckets_target(const sn_buckets *buckets, int k, sn_rng_stream *stream)
{
    double lo = (double)buckets->edge[k], hi = (double)buckets->edge[k + 1];
    /* 24 random bits are too coarse for a range of 1e9 MACs; use 48. */
    double u = ((double)(sn_rng_next_u32(stream) >> 8) * 16777216.0 +
                (double)(sn_rng_next_u32(stream) >> 8)) / 281474976710656.0;
    double t = lo + u * (hi - lo);
    return t < hi || hi == lo ? t : nextafter(hi, lo);
}
