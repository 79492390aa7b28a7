/*
 * Private to src/nn: the few row primitives that the hot inner loops share,
 * written with GCC/Clang vector extensions.
 *
 * Why not plain loops: at the default -O2, GCC only vectorises a loop whose
 * trip count is known to fit the vector width and whose pointers provably do
 * not overlap ("very cheap" cost model), which no row loop here satisfies;
 * and float reductions are never vectorised without -ffast-math, because
 * vectorising changes the order of the additions. Eight explicit lanes fix
 * the order (so results do not depend on compiler flags) and run 4 or 8 wide
 * on any x86-64. Vectors never cross a function boundary (that would change
 * the calling convention without AVX); memcpy is the unaligned load/store.
 */
#ifndef SHIFTNAS_NN_SIMD_H
#define SHIFTNAS_NN_SIMD_H

#include <stdint.h>
#include <string.h>

/* The library is built for the x86-64 baseline (SSE2). Loops that are bound
 * by memory and loop overhead outside BLIS (the depthwise convolution) are
 * compiled again for AVX2 and AVX-512 and the loader picks the widest the CPU
 * has (GCC function multi-versioning, an ifunc per function): CNN supernet
 * step -15%. Not everywhere: GCC 12 did not vectorise GELU's clones at all
 * (its baseline build does), which made a ViT step 40% slower. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SN_WIDEST_VECTORS __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SN_WIDEST_VECTORS
#endif

typedef float sn_f32x8 __attribute__((vector_size(32)));
typedef float sn_f32x4 __attribute__((vector_size(16)));
typedef double sn_f64x4 __attribute__((vector_size(32)));

/* y[i] += a * x[i] */
static inline void sn_row_axpy(float *y, const float *x, float a, int64_t n)
{
    const sn_f32x8 av = {a, a, a, a, a, a, a, a};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        sn_f32x8 xv, yv;
        memcpy(&xv, x + i, sizeof xv);
        memcpy(&yv, y + i, sizeof yv);
        yv += av * xv;
        memcpy(y + i, &yv, sizeof yv);
    }
    for (; i < n; i++)
        y[i] += a * x[i];
}

/* y[i] += b */
static inline void sn_row_add_scalar(float *y, float b, int64_t n)
{
    const sn_f32x8 bv = {b, b, b, b, b, b, b, b};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        sn_f32x8 yv;
        memcpy(&yv, y + i, sizeof yv);
        yv += bv;
        memcpy(y + i, &yv, sizeof yv);
    }
    for (; i < n; i++)
        y[i] += b;
}

/* y[i] = (x[i] - m) * a + b: batch norm's normalise-and-scale */
static inline void sn_row_centre_scale(float *y, const float *x, float m, float a, float b,
                                       int64_t n)
{
    const sn_f32x8 mv = {m, m, m, m, m, m, m, m}, av = {a, a, a, a, a, a, a, a},
                   bv = {b, b, b, b, b, b, b, b};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        sn_f32x8 xv;
        memcpy(&xv, x + i, sizeof xv);
        xv = (xv - mv) * av + bv;
        memcpy(y + i, &xv, sizeof xv);
    }
    for (; i < n; i++)
        y[i] = (x[i] - m) * a + b;
}

/* sum a[i] * b[i] in float, eight partial sums (for short rows: a row of a
 * feature map, summed into a float gradient anyway). */
static inline float sn_row_dot(const float *a, const float *b, int64_t n)
{
    sn_f32x8 acc = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        sn_f32x8 av, bv;
        memcpy(&av, a + i, sizeof av);
        memcpy(&bv, b + i, sizeof bv);
        acc += av * bv;
    }
    float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

/* out[i] = a[i] + b[i]; out may be a or b. */
static inline void sn_row_add2(float *out, const float *a, const float *b, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        sn_f32x8 av, bv;
        memcpy(&av, a + i, sizeof av);
        memcpy(&bv, b + i, sizeof bv);
        av += bv;
        memcpy(out + i, &av, sizeof av);
    }
    for (; i < n; i++)
        out[i] = a[i] + b[i];
}

/* y[i] += x[i] */
static inline void sn_row_add(float *y, const float *x, int64_t n)
{
    sn_row_add2(y, y, x, n);
}

/* The double sums below are the statistics of batch norm, pooling and bias
 * gradients: a channel holds up to ~10^6 values, too many for a float sum. */

/* sum x[i] in double */
static inline double sn_row_sum_f64(const float *x, int64_t n)
{
    sn_f64x4 acc0 = {0}, acc1 = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        sn_f32x4 lo, hi;
        memcpy(&lo, x + i, sizeof lo);
        memcpy(&hi, x + i + 4, sizeof hi);
        acc0 += __builtin_convertvector(lo, sn_f64x4);
        acc1 += __builtin_convertvector(hi, sn_f64x4);
    }
    acc0 += acc1;
    double sum = (acc0[0] + acc0[2]) + (acc0[1] + acc0[3]);
    for (; i < n; i++)
        sum += x[i];
    return sum;
}

/* sum (x[i] - c)^2 in double */
static inline double sn_row_centred_squares_f64(const float *x, double c, int64_t n)
{
    const sn_f64x4 cv = {c, c, c, c};
    sn_f64x4 acc0 = {0}, acc1 = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        sn_f32x4 lo, hi;
        memcpy(&lo, x + i, sizeof lo);
        memcpy(&hi, x + i + 4, sizeof hi);
        sn_f64x4 d0 = __builtin_convertvector(lo, sn_f64x4) - cv;
        sn_f64x4 d1 = __builtin_convertvector(hi, sn_f64x4) - cv;
        acc0 += d0 * d0;
        acc1 += d1 * d1;
    }
    acc0 += acc1;
    double sum = (acc0[0] + acc0[2]) + (acc0[1] + acc0[3]);
    for (; i < n; i++) {
        double d = x[i] - c;
        sum += d * d;
    }
    return sum;
}

/* sum a[i] * b[i] in double */
static inline double sn_row_dot_f64(const float *a, const float *b, int64_t n)
{
    sn_f64x4 acc0 = {0}, acc1 = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        sn_f32x4 a_lo, a_hi, b_lo, b_hi;
        memcpy(&a_lo, a + i, sizeof a_lo);
        memcpy(&a_hi, a + i + 4, sizeof a_hi);
        memcpy(&b_lo, b + i, sizeof b_lo);
        memcpy(&b_hi, b + i + 4, sizeof b_hi);
        acc0 += __builtin_convertvector(a_lo, sn_f64x4) * __builtin_convertvector(b_lo, sn_f64x4);
        acc1 += __builtin_convertvector(a_hi, sn_f64x4) * __builtin_convertvector(b_hi, sn_f64x4);
    }
    acc0 += acc1;
    double sum = (acc0[0] + acc0[2]) + (acc0[1] + acc0[3]);
    for (; i < n; i++)
        sum += (double)a[i] * b[i];
    return sum;
}

#endif
