/* Philox4x32-10 (Salmon et al., SC'11) and the draws built on it. */
#include "shiftnas/rng.h"

#include <math.h>

enum {
    PHILOX_M0 = 0xD2511F53u,
    PHILOX_M1 = 0xCD9E8D57u,
    PHILOX_W0 = 0x9E3779B9u, /* golden ratio */
    PHILOX_W1 = 0xBB67AE85u  /* sqrt(3) - 1 */
};

static void philox_round(uint32_t c[4], const uint32_t k[2])
{
    uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t next[4] = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    c[0] = next[0];
    c[1] = next[1];
    c[2] = next[2];
    c[3] = next[3];
}

void sn_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c[4] = {counter[0], counter[1], counter[2], counter[3]};
    uint32_t k[2] = {key[0], key[1]};
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k[0] += PHILOX_W0;
            k[1] += PHILOX_W1;
        }
        philox_round(c, k);
    }
    for (int i = 0; i < 4; i++)
        out[i] = c[i];
}

void sn_rng_stream_init(sn_rng_stream *stream, uint64_t seed, uint32_t purpose,
                        uint64_t step, uint32_t item)
{
    stream->key[0] = (uint32_t)seed;
    stream->key[1] = (uint32_t)(seed >> 32);
    stream->counter[0] = 0;
    stream->counter[1] = item;
    stream->counter[2] = (uint32_t)step;
    stream->counter[3] = ((uint32_t)(step >> 32) & 0xFFFFu) | (purpose << 16);
    stream->used = 4;
}

uint32_t sn_rng_next_u32(sn_rng_stream *stream)
{
    if (stream->used == 4) {
        sn_philox4x32_10(stream->counter, stream->key, stream->block);
        stream->counter[0]++;
        stream->used = 0;
    }
    return stream->block[stream->used++];
}

float sn_rng_uniform(sn_rng_stream *stream)
{
    return (float)(sn_rng_next_u32(stream) >> 8) * (1.0f / 16777216.0f);
}

float sn_rng_uniform_open(sn_rng_stream *stream)
{
    /* Centre of one of 2^24 equal cells: strictly inside (0, 1). */
    return ((float)(sn_rng_next_u32(stream) >> 8) + 0.5f) * (1.0f / 16777216.0f);
}

float sn_rng_normal(sn_rng_stream *stream)
{
    /* Computed in double so that the result does not depend on float libm
     * variants; Box-Muller's second normal is discarded to keep a draw a pure
     * function of its position. */
    double u1 = sn_rng_uniform_open(stream);
    double u2 = sn_rng_uniform(stream);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

float sn_rng_gumbel(sn_rng_stream *stream)
{
    double u = sn_rng_uniform_open(stream);
    return (float)(-log(-log(u)));
}

uint32_t sn_rng_below(sn_rng_stream *stream, uint32_t bound)
{
    /* Lemire's multiply-shift with rejection of the biased low region. */
    uint64_t product = (uint64_t)sn_rng_next_u32(stream) * bound;
    uint32_t low = (uint32_t)product;
    if (low < bound) {
        uint32_t threshold = (uint32_t)(-bound) % bound;
        while (low < threshold) {
            product = (uint64_t)sn_rng_next_u32(stream) * bound;
            low = (uint32_t)product;
        }
    }
    return (uint32_t)(product >> 32);
}

void sn_rng_permutation(sn_rng_stream *stream, uint32_t *order, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        order[i] = i;
    for (uint32_t i = count; i > 1; i--) {
        uint32_t j = sn_rng_below(stream, i);
        uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}
