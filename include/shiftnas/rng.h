/*
 * shiftnas/rng.h — counter-based random numbers (Philox4x32-10).
 *
 * A draw is a pure function of its key: (seed, purpose, step, item, index).
 * There is no hidden state that advances with call order, so the subnet sampled
 * at step 1234, the crop of sample 17 in epoch 3 or the dropout mask of shard 5
 * are the same whichever rank draws them, in whatever order, after any resume.
 *
 *   seed     the run's seed (64 bits)             -> Philox key
 *   purpose  what the numbers are for (enum below) -> counter word 3, high 16 bits
 *   step     training step, epoch, ...            -> counter words 2 and 3 (48 bits)
 *   item     sample index, shard, layer, ...      -> counter word 1
 *   index    position inside the stream           -> counter word 0 (4 numbers a block)
 *
 * An sn_rng_stream is a cursor over one (seed, purpose, step, item) stream; it is
 * a small value type, cheap to create, and may be created anew for every draw.
 */
#ifndef SHIFTNAS_RNG_H
#define SHIFTNAS_RNG_H

#include <stdint.h>

#include "shiftnas/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a stream is for. Append only: these values are part of the meaning of
 * saved seeds and checkpoints. */
enum sn_rng_purpose {
    SN_RNG_PARAMETER_INIT = 1,
    SN_RNG_SPLIT = 2,        /* train/validation split of the training set */
    SN_RNG_SHUFFLE = 3,      /* per-epoch order of the training samples */
    SN_RNG_AUGMENT = 4,      /* crop (padded or resized) and flip, keyed by (epoch, sample) */
    SN_RNG_DROPOUT = 5,
    SN_RNG_DROP_PATH = 6,
    SN_RNG_SAMPLER = 7,      /* subnets and buckets: training, evolution search, `shiftnas space` */
    SN_RNG_GUMBEL = 8,       /* Gumbel noise of the architecture generator */
    SN_RNG_PROBE_PANEL = 9,  /* the uniform draws of a probe panel (shiftnas/probes.h) */
    SN_RNG_SHIFT = 10,       /* the probability update's own draws (target-input estimator) */
    SN_RNG_TEST = 100        /* unit tests */
};

/* One Philox4x32-10 block: out = philox(counter, key). */
SN_API void sn_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

typedef struct {
    uint32_t key[2];
    uint32_t counter[4]; /* counter[0] is the block index within the stream */
    uint32_t block[4];   /* the current block's numbers */
    int used;            /* how many of block[] have been consumed (4: none left) */
} sn_rng_stream;

/* Positions a stream at index 0 of (seed, purpose, step, item).
 * step must be below 2^48. */
SN_API void sn_rng_stream_init(sn_rng_stream *stream, uint64_t seed, uint32_t purpose,
                               uint64_t step, uint32_t item);

SN_API uint32_t sn_rng_next_u32(sn_rng_stream *stream);
/* Uniform in [0, 1) with 24 random bits: exactly representable in float. */
SN_API float sn_rng_uniform(sn_rng_stream *stream);
/* Uniform in (0, 1): never 0, so its logarithm is finite. */
SN_API float sn_rng_uniform_open(sn_rng_stream *stream);
/* Standard normal (Box-Muller; one normal per two uniforms). */
SN_API float sn_rng_normal(sn_rng_stream *stream);
/* Standard Gumbel: -log(-log(u)), u in (0, 1). */
SN_API float sn_rng_gumbel(sn_rng_stream *stream);
/* Uniform integer in [0, bound) without modulo bias; bound >= 1. */
SN_API uint32_t sn_rng_below(sn_rng_stream *stream, uint32_t bound);
/* A uniformly random permutation of 0..count-1 (Fisher-Yates). */
SN_API void sn_rng_permutation(sn_rng_stream *stream, uint32_t *order, uint32_t count);

#ifdef __cplusplus
}
#endif
#endif
