/* The order-independent float sum (shiftnas/exact_sum.h): binned fixed point
 * in three int64 words per entry, packed to one int64 for the all-reduce and
 * rounded to float once. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/exact_sum.h"
#include "shiftnas/tensor.h"

/* unpack relies on (long double)packed being exact for every int64. */
#if LDBL_MANT_DIG < 64
#error "sn_exact_sum_unpack needs a long double with a 64-bit mantissa or more"
#endif

enum { BIN_BITS = 16, TOP_BINS = 18, EXPONENT_BIAS = 149 };

int sn_exact_sum_init(sn_exact_sum *sum, int64_t count)
{
    memset(sum, 0, sizeof *sum);
    if (count < 0)
        return sn_error_set(SN_ERR_ARGUMENT, "exact sum: negative entry count %lld",
                            (long long)count);
    /* Checked before multiplying, so an absurd count is an error, not a wrap. */
    if ((uint64_t)count > SIZE_MAX / (SN_EXACT_SUM_WORDS * sizeof(int64_t)))
        return sn_error_set(SN_ERR_NOMEM, "exact sum: %lld entries do not fit in memory",
                            (long long)count);
    size_t n = (size_t)count;
    sum->top = sn_alloc_bytes(n * sizeof(int8_t));
    sum->words = sn_alloc_bytes(n * SN_EXACT_SUM_WORDS * sizeof(int64_t));
    if (!sum->top || !sum->words) {
        sn_exact_sum_free(sum);
        return sn_error_set(SN_ERR_NOMEM, "exact sum: cannot allocate %lld entries (%zu bytes)",
                            (long long)count, n * (sizeof(int8_t) + SN_EXACT_SUM_WORDS * sizeof(int64_t)));
    }
    sum->count = count;
    sn_exact_sum_clear(sum, 0, count);
    return SN_OK;
}

void sn_exact_sum_free(sn_exact_sum *sum)
{
    sn_free(sum->top);
    sn_free(sum->words);
    memset(sum, 0, sizeof *sum);
}

void sn_exact_sum_clear(sn_exact_sum *sum, int64_t begin, int64_t count)
{
    if (count <= 0)
        return;
    /* Empty entries keep zero words: a slide from top -1 then moves zeros. */
    memset(sum->top + begin, -1, (size_t)count);
    memset(sum->words + SN_EXACT_SUM_WORDS * begin, 0,
           (size_t)count * SN_EXACT_SUM_WORDS * sizeof(int64_t));
}

/* The 16-bit chunk `chunk` of v (< 2^40), or 0 outside chunks 0..2. Written
 * without branches: chunk 3 is v >> 48 = 0, and a negative chunk is masked. */
static inline int64_t chunk_of(uint64_t v, int chunk)
{
    int clamped = chunk < 0 ? 0 : (chunk > 3 ? 3 : chunk);
    uint64_t part = (v >> (BIN_BITS * clamped)) & 0xFFFF;
    return (int64_t)(part & -(uint64_t)(chunk >= 0));
}

int64_t sn_exact_sum_add(sn_exact_sum *sum, int64_t begin, const float *values, int64_t count)
{
    int8_t *tops = sum->top + begin;
    int64_t *words = sum->words + SN_EXACT_SUM_WORDS * begin;
    for (int64_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &values[i], sizeof bits);
        if ((bits & 0x7FFFFFFFu) == 0)
            continue;
        uint32_t biased = (bits >> 23) & 0xFF;
        if (biased == 0xFF)
            return i;
        /* M and p of the header: subnormals have no hidden bit and p = 0. */
        uint64_t mantissa = (bits & 0x7FFFFFu) | (biased ? 0x800000u : 0);
        int position = biased ? (int)biased - 1 : 0;
        int bin = position / BIN_BITS;
        uint64_t v = mantissa << (position % BIN_BITS);
        int top = bin + (63 - __builtin_clzll(v)) / BIN_BITS;

        int64_t *w = words + SN_EXACT_SUM_WORDS * i;
        int old_top = tops[i];
        int new_top = top > old_top ? top : old_top;
        /* Slide up by `shift` bins (3 or more empties the window). Selects,
         * not branches: whether a term raises the top is data dependent. */
        int shift = new_top - old_top;
        int64_t w0 = w[0], w1 = w[1], w2 = w[2];
        w[0] = shift == 0 ? w0 : 0;
        w[1] = shift == 0 ? w1 : shift == 1 ? w0 : 0;
        w[2] = shift == 0 ? w2 : shift == 1 ? w1 : shift == 2 ? w0 : 0;
        tops[i] = (int8_t)new_top;

        /* Window word k holds bin new_top - k, which is chunk new_top - k - bin
         * of v; the sign is applied as two's complement negation. */
        int64_t negative = -(int64_t)(bits >> 31);
        int offset = new_top - bin;
        w[0] += (chunk_of(v, offset) ^ negative) - negative;
        w[1] += (chunk_of(v, offset - 1) ^ negative) - negative;
        w[2] += (chunk_of(v, offset - 2) ^ negative) - negative;
    }
    return -1;
}

void sn_exact_sum_tops(const sn_exact_sum *sum, int64_t begin, int64_t count, int8_t *tops)
{
    if (count > 0)
        memcpy(tops, sum->top + begin, (size_t)count);
}

/* Entry words w (window top `top`) at the window of global top g >= top:
 * w[G]*2^32 + w[G-1]*2^16 + w[G-2], bins the entry does not hold counting 0. */
static int64_t pack_one(const int64_t *w, int top, int g)
{
    if (top < 0)
        return 0;
    int64_t packed = 0;
    for (int k = 0; k < SN_EXACT_SUM_WORDS; k++) {
        int source = top - (g - k); /* index of bin g-k in this window */
        packed *= (int64_t)1 << BIN_BITS;
        if (source >= 0 && source < SN_EXACT_SUM_WORDS)
            packed += w[source];
    }
    return packed;
}

void sn_exact_sum_pack(const sn_exact_sum *sum, int64_t begin, int64_t count,
                       const int8_t *global_tops, int64_t *packed)
{
    const int8_t *tops = sum->top + begin;
    const int64_t *words = sum->words + SN_EXACT_SUM_WORDS * begin;
    for (int64_t i = 0; i < count; i++)
        packed[i] = pack_one(words + SN_EXACT_SUM_WORDS * i, tops[i], global_tops[i]);
}

/* scales[g] = 2^(16*(g-2) - 149): the weight of one unit of bin g-2. Powers of
 * two, so multiplying the exact (long double)packed by one is exact too (the
 * long double exponent range is far wider), and the cast to float is the one
 * rounding. */
static void fill_scales(long double scales[TOP_BINS])
{
    for (int g = 0; g < TOP_BINS; g++)
        scales[g] = ldexpl(1.0L, BIN_BITS * (g - 2) - EXPONENT_BIAS);
}

static float unpack_one(const long double scales[TOP_BINS], int g, int64_t packed)
{
    if (g < 0)
        return 0.0f;
    return (float)((long double)packed * scales[g]);
}

void sn_exact_sum_unpack(const int8_t *global_tops, const int64_t *packed, int64_t count, float *out)
{
    long double scales[TOP_BINS];
    fill_scales(scales);
    for (int64_t i = 0; i < count; i++)
        out[i] = unpack_one(scales, global_tops[i], packed[i]);
}

void sn_exact_sum_result(const sn_exact_sum *sum, int64_t begin, int64_t count, float *out)
{
    long double scales[TOP_BINS];
    fill_scales(scales);
    const int8_t *tops = sum->top + begin;
    const int64_t *words = sum->words + SN_EXACT_SUM_WORDS * begin;
    for (int64_t i = 0; i < count; i++)
        out[i] = unpack_one(scales, tops[i], pack_one(words + SN_EXACT_SUM_WORDS * i, tops[i], tops[i]));
}
