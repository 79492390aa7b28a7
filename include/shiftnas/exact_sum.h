/*
 * shiftnas/exact_sum.h — a float sum whose bits do not depend on the order or
 * grouping of its terms: the reduction of per-shard gradients across ranks.
 *
 * The global batch is cut into S logical shards; each rank computes the
 * gradients of the shards it owns. Float addition is not associative, so a
 * plain all-reduce gives bits that depend on the rank count and on the order
 * in which shards were added. This accumulator sums in binned fixed point
 * instead, where addition is exact integer arithmetic, and rounds to float
 * once at the end: 1 rank and N ranks give the same bits.
 *
 * Bins. A finite float x != 0 is M * 2^E with integer |M| < 2^24 and
 * E >= -149. Its bits sit at positions p .. p+23, p = E + 149 >= 0 (p = 0 for
 * subnormals, p = biased exponent - 1 for normals). Positions are grouped in
 * bins of 16: bin j holds positions [16j, 16j+16). With v = |M| << (p mod 16)
 * (< 2^40), x contributes sign*(v & 0xFFFF) to bin p/16, sign*((v >> 16) &
 * 0xFFFF) to bin p/16+1 and sign*(v >> 32) to bin p/16+2. Its top bin is the
 * highest bin with a nonzero part; top bins run from 0 to 17.
 *   Example: x = 1.0f = 2^23 * 2^-23, p = 126, bin 7, p mod 16 = 14,
 *   v = 2^37: parts 0 in bin 7, 0 in bin 8, 2^5 in bin 9; top bin 9.
 *
 * The accumulator keeps, per entry, `top` (the highest top bin of anything
 * added, -1 for nothing yet) and three int64 words for bins top, top-1 and
 * top-2: the window. Adding x with top bin t > top slides the window up:
 * bins still inside move, bins that leave are dropped whole. Then the parts
 * of x inside the window are added; parts below it are dropped. Zeros (+0 and
 * -0) add nothing and leave top alone.
 *
 * Why the result is order independent: with T the final top (the maximum
 * over all terms), the words hold exactly the integer sum, bin by bin, of
 * every part that falls in bins T, T-1, T-2, whatever the order or grouping:
 * a bin is only ever dropped when it is below a window whose top is <= T, so
 * it is below T-2 too. Parts are < 2^16, so after n terms a word is below
 * n * 2^16 in magnitude: no carries are ever needed.
 *
 * Across ranks (the MPI layer does the communication; this file has no MPI):
 *  1. tops:   sn_exact_sum_tops on every rank; elementwise MAX over ranks
 *             (MPI_INT8_T, MPI_MAX) gives the global top G per entry.
 *  2. pack:   sn_exact_sum_pack turns each rank's words into one int64 per
 *             entry at the global window, w[G]*2^32 + w[G-1]*2^16 + w[G-2]
 *             (0 for bins the rank does not hold; its bins below G-2 drop).
 *             Exact: |packed| < n * 2^48 for n terms in all, so the int64
 *             cannot overflow while n <= SN_EXACT_SUM_MAX_TERMS.
 *  3. sum:    MPI_INT64_T, MPI_SUM: integer addition, exact in any order.
 *  4. unpack: sn_exact_sum_unpack: float = packed * 2^(16*(G-2) - 149),
 *             computed exactly in long double (64-bit mantissa) and rounded
 *             once to float (round to nearest even, subnormals included; a
 *             sum beyond FLT_MAX becomes +-Inf). G == -1 gives +0.0f.
 * One process runs the same pack and unpack (sn_exact_sum_result), so its
 * bits equal those of any number of ranks.
 *
 * Accuracy: each term drops only parts below bin G-2, i.e. below
 * 2^-32 * 2^(16G-149) <= 2^-32 * max|term|. So, before the one rounding to
 * float, the error is below n * 2^-32 * max|term|; the result is then within
 * that plus half an ulp of the result. When every bit of every term lies
 * within 32 positions of the highest bit of the largest term, nothing is
 * dropped and the result is the correctly rounded exact sum. A sum that is
 * exactly zero is +0.0f (the sign of a zero result is not kept).
 *
 * Cost: 25 bytes per entry. sn_exact_sum_add allocates nothing, skips zeros
 * with one test each and takes a few ns per nonzero term (it streams 4 bytes
 * in and 25 bytes in and out per entry: memory bound on large arrays).
 */
#ifndef SHIFTNAS_EXACT_SUM_H
#define SHIFTNAS_EXACT_SUM_H

#include <stdint.h>

#include "shiftnas/api.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SN_EXACT_SUM_WORDS = 3,        /* window words per entry */
    SN_EXACT_SUM_MAX_TERMS = 4096  /* terms per entry, over all ranks */
};

typedef struct {
    int64_t count;     /* entries */
    int8_t *top;       /* [count], -1 = empty */
    int64_t *words;    /* [count * 3]: words[3*i + 0] bin top, +1 bin top-1, +2 bin top-2 */
} sn_exact_sum;

/* Allocates `count` (>= 0) empty entries. SN_ERR_ARGUMENT for count < 0,
 * SN_ERR_NOMEM if the memory is not there (message set either way). */
SN_API int sn_exact_sum_init(sn_exact_sum *sum, int64_t count);
/* Releases the memory; sum may be all zero or freed already. */
SN_API void sn_exact_sum_free(sn_exact_sum *sum);
/* Empties entries [begin, begin+count). */
SN_API void sn_exact_sum_clear(sn_exact_sum *sum, int64_t begin, int64_t count);

/* Adds values[i] to entry begin+i, for i < count. Returns -1, or the index i
 * of the first NaN or Inf: values before it are added, it and everything
 * after it are not (the caller reports the error). */
SN_API int64_t sn_exact_sum_add(sn_exact_sum *sum, int64_t begin, const float *values,
                                int64_t count);

/* tops[i] = top of entry begin+i, for i < count. */
SN_API void sn_exact_sum_tops(const sn_exact_sum *sum, int64_t begin, int64_t count, int8_t *tops);

/* packed[i] = entry begin+i at the window of global_tops[i] (the maximum
 * over ranks of that entry's top, so >= this rank's). */
SN_API void sn_exact_sum_pack(const sn_exact_sum *sum, int64_t begin, int64_t count,
                              const int8_t *global_tops, int64_t *packed);

/* out[i] = packed[i] * 2^(16*(global_tops[i]-2) - 149) rounded once to float
 * (+0.0f where global_tops[i] == -1). packed[i] is the sum over ranks. */
SN_API void sn_exact_sum_unpack(const int8_t *global_tops, const int64_t *packed, int64_t count,
                                float *out);

/* One process: out[i] = the sum of entry begin+i (pack at its own top, then
 * unpack), bitwise what any number of ranks would get for the same terms. */
SN_API void sn_exact_sum_result(const sn_exact_sum *sum, int64_t begin, int64_t count, float *out);

#ifdef __cplusplus
}
#endif
#endif
