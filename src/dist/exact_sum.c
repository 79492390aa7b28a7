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

/* Adds one finite nonzero float, given by its bits, to the entry (top, w). */
static inline void add_one(int8_t *top, int64_t *w, uint32_t bits)
{
    uint32_t biased = (bits >> 23) & 0xFF;
    /* M and p of the header: subnormals have no hidden bit and p = 0. */
    uint32_t mantissa = (bits & 0x7FFFFFu) | (biased ? 0x800000u : 0);
    int position = biased ? (int)biased - 1 : 0;
    /* x's top bin: the bin of its highest bit (mantissa != 0). */
    int x_top = (position + 31 - __builtin_clz(mantissa)) / BIN_BITS;

    int old_top = *top;
    int new_top = x_top > old_top ? x_top : old_top;
    /* Slide up by `slide` bins; 3 or more empties the window. */
    int slide = new_top - old_top;
    int64_t o0 = w[0], o1 = w[1], o2 = w[2];
    int64_t w0 = slide == 0 ? o0 : 0;
    int64_t w1 = slide == 0 ? o1 : slide == 1 ? o0 : 0;
    int64_t w2 = slide == 0 ? o2 : slide == 1 ? o1 : slide == 2 ? o0 : 0;
    *top = (int8_t)new_top;

    /* |x| in units of the window's lowest bin: M * 2^p >> 16*(new_top-2),
     * truncated. Its three 16-bit chunks are x's parts in bins new_top,
     * new_top-1 and new_top-2 (nothing lies above new_top), and the bits
     * shifted out are exactly its parts below the window. < 2^48. */
    int shift = position - BIN_BITS * (new_top - 2);
    int right = -shift < 63 ? -shift : 63;
    uint64_t window = shift >= 0 ? (uint64_t)mantissa << shift : (uint64_t)mantissa >> right;
    /* The sign as two's complement negation: (a ^ -1) + 1 = -a. */
    int64_t negative = -(int64_t)(bits >> 31);
    w[0] = w0 + (((int64_t)(window >> 32) ^ negative) - negative);
    w[1] = w1 + (((int64_t)((window >> 16) & 0xFFFF) ^ negative) - negative);
    w[2] = w2 + (((int64_t)(window & 0xFFFF) ^ negative) - negative);
}

int64_t sn_exact_sum_add(sn_exact_sum *sum, int64_t begin, const float *values, int64_t count)
{
    int8_t *tops = sum->top + begin;
    int64_t *words = sum->words + SN_EXACT_SUM_WORDS * begin;
    for (int64_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &values[i], sizeof bits);
        /* A branch: zero gradients mostly come in long runs (the supernet
         * parameters a subnet does not use), where it predicts well. */
        if ((bits & 0x7FFFFFFFu) == 0)
            continue;
        if ((bits & 0x7F800000u) == 0x7F800000u)
            return i;
        add_one(&tops[i], words + SN_EXACT_SUM_WORDS * i, bits);
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
    /* An empty entry (top -1) has zero words, so it needs no branch. */
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

/* scales[g + 1] = 2^(16*(g-2) - 149), the weight of one unit of bin g-2, and
 * scales[0] = 0 for g = -1 (nothing added anywhere: packed is 0, result +0).
 * Powers of two, so multiplying the exact (long double)packed by one is exact
 * too (the long double exponent range is far wider): the cast to float is
 * the one rounding. A table, not a branch per entry. */
static void fill_scales(long double scales[TOP_BINS + 1])
{
    scales[0] = 0.0L;
    for (int g = 0; g < TOP_BINS; g++)
        scales[g + 1] = ldexpl(1.0L, BIN_BITS * (g - 2) - EXPONENT_BIAS);
}

static float unpack_one(const long double scales[TOP_BINS + 1], int g, int64_t packed)
{
    return (float)((long double)packed * scales[g + 1]);
}

void sn_exact_sum_unpack(const int8_t *global_tops, const int64_t *packed, int64_t count, float *out)
{
    long double scales[TOP_BINS + 1];
    fill_scales(scales);
    for (int64_t i = 0; i < count; i++)
        out[i] = unpack_one(scales, global_tops[i], packed[i]);
}

void sn_exact_sum_result(const sn_exact_sum *sum, int64_t begin, int64_t count, float *out)
{
    long double scales[TOP_BINS + 1];
    fill_scales(scales);
    const int8_t *tops = sum->top + begin;
    const int64_t *words = sum->words + SN_EXACT_SUM_WORDS * begin;
    for (int64_t i = 0; i < count; i++)
        out[i] = unpack_one(scales, tops[i], pack_one(words + SN_EXACT_SUM_WORDS * i, tops[i], tops[i]));
}
