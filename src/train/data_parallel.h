/*
 * Data-parallel steps with the same bits at any rank count (internal to
 * src/train; doc/distributed.md explains the design).
 *
 * The global batch is cut into logical shards (shiftnas/dist.h). For every
 * shard it owns, a rank zeroes the gradient slab, runs the shard's forward
 * and backward passes (batch-norm statistics of the shard alone) and adds
 * the shard's gradient to an exact accumulator (shiftnas/exact_sum.h).
 * Floating-point addition depends on order; the accumulator's does not, so
 * the reduced gradient is the same whichever rank computed which shard.
 * The reduction itself is two all-reduces in fixed-order buckets: the
 * element-wise max of the accumulators' top bins, then the int64 sum of the
 * gradients packed at those bins (exact, so its order does not matter
 * either).
 *
 * Batch-norm running statistics: every shard starts from the step's
 * running statistics; after the step they become those plus the mean over
 * shards (in shard order) of each shard's change, on every rank.
 *
 * Use per step:
 *   begin_step; for each owned shard: begin_shard, forward/backward,
 *   end_shard; reduce (every rank, also after a local failure: it is where
 *   the ranks agree on failures).
 */
#ifndef SHIFTNAS_DATA_PARALLEL_H
#define SHIFTNAS_DATA_PARALLEL_H

#include "shiftnas/config.h"
#include "shiftnas/input.h"
#include "shiftnas/dist.h"
#include "shiftnas/exact_sum.h"
#include "shiftnas/network.h"

/* Where a step's wall time went, summed over steps (seconds). */
typedef struct {
    double compute;      /* data, forward, backward, folding shard gradients */
    double waiting;      /* for the slowest rank (the agreement before the all-reduce) */
    double reduce;       /* the gradient all-reduce, loss gathers, running statistics */
    double coordinator;  /* probability updates: validation share, gather, broadcast */
    double other;        /* after the reduction: generator, optimiser, logging, state checks */
    double input;        /* waiting for the step's batch (the data stall) */
    double bytes;        /* bytes each rank contributed to the gradient all-reduces */
    int64_t steps;
} sn_phase_times;

/* Per-shard scalars gathered at once (sn_data_parallel_sum_shard_values). */
enum { SN_DP_VALUES_MAX = 32 };

typedef struct {
    const sn_dist *dist;
    sn_shard_plan plan;
    sn_network *network;
    int64_t entries;         /* parameter entries */
    int64_t extra;           /* extra entries after them (the architecture gradient) */
    int reduce_active;       /* [distributed] reduce = active */
    int64_t bucket;          /* entries per all-reduce message */
    sn_exact_sum sum;        /* [entries + extra] */
    int8_t *tops;            /* [entries + extra] */
    int64_t *packed;         /* [entries + extra] */
    float *extra_result;     /* [extra] the reduced extra entries */
    /* batch-norm running statistics */
    int64_t statistics;
    float *statistics_start;   /* [statistics] at begin_step */
    float *statistics_shards;  /* [owned shards * statistics] */
    float *statistics_all;     /* [shards * statistics] */
    int *counts;               /* [ranks] for the gathers */
    double *values_mine, *values_all; /* per-shard scalars: [shards * SN_DP_VALUES_MAX] */
    int64_t *shard_sizes;      /* [owned shards] images of each, for the batch's blocks */
    sn_phase_times times;
    double step_start;         /* set by the caller when the step (its data) begins */
    double reduced_at;         /* when the last reduction or gather of the step ended */
} sn_data_parallel;

/* extra: how many more entries each shard adds after the parameters (the
 * masked supernet's architecture gradient), 0 for none. */
int sn_data_parallel_init(sn_data_parallel *dp, const sn_dist *dist, const sn_config *config,
                          sn_network *network, int64_t batch, int64_t extra);
void sn_data_parallel_free(sn_data_parallel *dp);

/* The shards of this rank, and the images of shard s inside this rank's
 * part of the batch (which starts at the first owned shard). */
static inline int64_t sn_data_parallel_offset(const sn_data_parallel *dp, int shard)
{
    return sn_shard_begin(&dp->plan, shard) - sn_shard_begin(&dp->plan, dp->plan.first);
}

/* The request that fills this rank's part of a batch (shiftnas/input.h):
 * its shards' samples of the whole batch's `batch_samples`, each shard a
 * block of its own at sn_data_parallel_offset(dp, s) images, laid out as
 * the network takes that shard alone (training crop and flip on). One block
 * over the rank's whole part would not do: in the CNN's channel-major
 * [C, N, H, W] it interleaves the shards' channels, which agrees with
 * per-shard blocks only for one channel. */
sn_batch_request sn_data_parallel_batch_request(const sn_data_parallel *dp,
                                                const uint32_t *batch_samples, float *images,
                                                int32_t *labels, uint64_t seed, uint64_t epoch);

void sn_data_parallel_begin_step(sn_data_parallel *dp);
/* Zeroes the gradients and restores the step's running statistics. */
void sn_data_parallel_begin_shard(sn_data_parallel *dp, int shard);
/* Adds the shard's gradients (and `extra` floats, may be NULL) to the
 * accumulator. SN_ERR_NUMERIC, naming the step, shard and parameter, if a
 * gradient is NaN or infinite. */
int sn_data_parallel_end_shard(sn_data_parallel *dp, int shard, const float *extra, int64_t step);
/* Agrees on `status` across ranks, then reduces: the network's gradient
 * slab holds the sum over all shards and dp->extra_result the extra
 * entries; running statistics merged. Returns the agreed status. */
int sn_data_parallel_reduce(sn_data_parallel *dp, int status, int64_t step);

/* Per-shard scalars: `mine` holds `per` values for each owned shard
 * (shard-major); sums[j] = the sum over all shards, in shard order, of
 * value j (the same on every rank). */
int sn_data_parallel_sum_shard_values(sn_data_parallel *dp, const double *mine, int per,
                                      double *sums);

#endif
