/*
 * Elementwise activations. Backward takes the forward's input (not its
 * output): relu and hard-swish are not invertible, and GELU's derivative is a
 * function of x. Each backward reads in[i] and dout[i] before writing din[i],
 * so din may alias dout.
 */
#include "shiftnas/nn.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nn/simd.h"

void sn_relu_forward(float *out, const float *in, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

/* The in-place case (din == dout, how networks call it) gets its own loop:
 * GCC's runtime overlap check rejects two pointers that are equal, and the
 * fallback scalar loop branches on every element (12% of a CNN step). */
static void relu_backward_in_place(float *gradient, const float *in, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        gradient[i] = in[i] > 0.0f ? gradient[i] : 0.0f;
}

void sn_relu_backward(float *din, const float *dout, const float *in, int64_t n)
{
    if (din == NULL)
        return;
    if (din == dout) {
        relu_backward_in_place(din, in, n);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        din[i] = in[i] > 0.0f ? dout[i] : 0.0f;
}

void sn_hardswish_forward(float *out, const float *in, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        /* Comparisons, not fminf/fmaxf: those keep NaN semantics that
         * minss/maxss lack, so without -ffinite-math-only they are calls. */
        float x = in[i], r6 = x + 3.0f;
        r6 = r6 < 0.0f ? 0.0f : r6;
        r6 = r6 > 6.0f ? 6.0f : r6;
        out[i] = x * r6 * (1.0f / 6.0f);
    }
}

/* d/dx = 0 below -3, x/3 + 1/2 on [-3, 3], 1 above 3; PyTorch takes the
 * middle piece at both kinks. */
void sn_hardswish_backward(float *din, const float *dout, const float *in, int64_t n)
{
    if (din == NULL)
        return;
    for (int64_t i = 0; i < n; i++) {
        float x = in[i];
        float slope = x < -3.0f ? 0.0f : (x <= 3.0f ? x * (1.0f / 3.0f) + 0.5f : 1.0f);
        din[i] = dout[i] * slope;
    }
}

#define SN_SQRT1_2 0.70710678118654752440f   /* 1/sqrt(2) */
#define SN_INV_SQRT_2PI 0.39894228040143267794f /* 1/sqrt(2 pi) */

/*
 * GELU's normal cdf without libm. erff and expf are calls GCC cannot
 * vectorise, and they were ~18% of a small ViT subnet's step. Both are
 * replaced by branch-free float code that GCC -O3 vectorises:
 *   exp(a), a <= 0: a = k ln2 + r with |r| <= ln2/2 (ln2 split in a high part
 *     exact in k*ln2_high and a low part, Cody and Waite), exp(r) by its Taylor
 *     polynomial to r^6 (relative error < 2e-7), 2^k through the exponent bits;
 *   erfc(z), z >= 0: Abramowitz and Stegun 7.1.26, erfc(z) = t*P(t)*exp(-z^2),
 *     t = 1/(1 + 0.3275911 z), absolute error < 1.5e-7.
 * Phi(x) is then erfc(|x|/sqrt 2)/2 for x < 0 and 1 - that for x >= 0, so the
 * small tail is computed directly (no 1 - (1 - tiny) cancellation). Against
 * libm the GELU values differ by < 2e-7 absolute (test: activation_values).
 */
static inline float exp_nonpositive(float a)
{
    /* Below -87 the result would be subnormal: it is returned as 0, as
     * subnormal activations make every later product slow (x < -13 in GELU,
     * whose cdf is then 0 in float anyway, as libm's erff gives). */
    const float zero_below = a < -87.0f ? 0.0f : 1.0f;
    a = a < -87.0f ? -87.0f : a;              /* 2^k stays a normal float */
    const float t = a * 1.44269504088896341f; /* a / ln2, <= 0 */
    const int k = (int)(t - 0.5f);            /* round to nearest (t <= 0) */
    const float r = (a - (float)k * 0.693145751953125f) - (float)k * 1.42860682030941723e-6f;
    const float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6.0f + r * (1.0f / 24.0f +
                    r * (1.0f / 120.0f + r * (1.0f / 720.0f))))));
    const int32_t bits = (int32_t)((uint32_t)(k + 127) << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale * zero_below;
}

/* Half of erfc(z) for z >= 0, given e = exp(-z*z). */
static inline float half_erfc(float z, float e)
{
    const float t = 1.0f / (1.0f + 0.3275911f * z);
    const float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
                       t * (-1.453152027f + t * 1.061405429f))));
    return 0.5f * poly * e;
}

/* The same two functions on 8 lanes (GCC vector extensions), for the
 * loops below: GCC 12 vectorises the scalar code above only at the
 * baseline's 4-wide SSE and not at all in AVX2/AVX-512 clones, where GELU was
 * ~16% of a ViT supernet step at 11% of its roofline (bench_shiftnas layers).
 * Every lane computes exactly what the scalar code computes. Vectors stay
 * inside the (always inlined) helpers' callers, never crossing a call. */
typedef int32_t sn_i32x8 __attribute__((vector_size(32)));

#define SN_ALWAYS_INLINE static inline __attribute__((always_inline))

/* mask ? if_set : if_clear, lane by lane (mask lanes all ones or zero) */
#define SELECT8(mask, if_set, if_clear) \
    ((sn_f32x8)(((sn_i32x8)(if_set) & (mask)) | ((sn_i32x8)(if_clear) & ~(mask))))

/* *out = exp(*in) for lanes <= 0 (by pointer: see above) */
SN_ALWAYS_INLINE void exp_nonpositive8(sn_f32x8 *out, const sn_f32x8 *in)
{
    sn_f32x8 a = *in;
    const sn_f32x8 floor = {-87.0f, -87.0f, -87.0f, -87.0f, -87.0f, -87.0f, -87.0f, -87.0f};
    const sn_i32x8 below = a < floor;
    a = SELECT8(below, floor, a);
    const sn_f32x8 t = a * 1.44269504088896341f;
    const sn_i32x8 k = __builtin_convertvector(t - 0.5f, sn_i32x8); /* truncates, as (int) */
    const sn_f32x8 kf = __builtin_convertvector(k, sn_f32x8);
    const sn_f32x8 r = (a - kf * 0.693145751953125f) - kf * 1.42860682030941723e-6f;
    const sn_f32x8 p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6.0f + r * (1.0f / 24.0f +
                       r * (1.0f / 120.0f + r * (1.0f / 720.0f))))));
    const sn_f32x8 scale = (sn_f32x8)((k + 127) << 23);
    *out = (sn_f32x8)((sn_i32x8)(p * scale) & ~below);
}

/* Phi(x) into *cdf and exp(-x^2/2) into *e, for 8 lanes. */
SN_ALWAYS_INLINE void normal_cdf8(const sn_f32x8 *xp, sn_f32x8 *cdf, sn_f32x8 *e)
{
    const sn_f32x8 zero = {0}, x = *xp;
    const sn_f32x8 z = (sn_f32x8)((sn_i32x8)x & 0x7fffffff) * SN_SQRT1_2;
    const sn_f32x8 minus_square = -z * z;
    exp_nonpositive8(e, &minus_square);
    const sn_f32x8 t = 1.0f / (1.0f + 0.3275911f * z);
    const sn_f32x8 poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
                          t * (-1.453152027f + t * 1.061405429f))));
    const sn_f32x8 tail = 0.5f * poly * *e;
    *cdf = SELECT8(x < zero, tail, 1.0f - tail);
}

SN_WIDEST_VECTORS
void sn_gelu_forward(float *out, const float *in, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        sn_f32x8 x, cdf, e;
        memcpy(&x, in + i, sizeof x);
        normal_cdf8(&x, &cdf, &e);
        x *= cdf;
        memcpy(out + i, &x, sizeof x);
    }
    for (; i < n; i++) {
        const float x = in[i];
        const float z = fabsf(x) * SN_SQRT1_2;
        const float tail = half_erfc(z, exp_nonpositive(-z * z));
        const float cdf = x < 0.0f ? tail : 1.0f - tail;
        out[i] = x * cdf;
    }
}

/* d/dx = Phi(x) + x * phi(x), Phi and phi the standard normal cdf and pdf. */
SN_WIDEST_VECTORS
void sn_gelu_backward(float *din, const float *dout, const float *in, int64_t n)
{
    if (din == NULL)
        return;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        sn_f32x8 x, g, cdf, e;
        memcpy(&x, in + i, sizeof x);
        memcpy(&g, dout + i, sizeof g);
        normal_cdf8(&x, &cdf, &e);
        g = g * (cdf + x * SN_INV_SQRT_2PI * e);
        memcpy(din + i, &g, sizeof g);
    }
    for (; i < n; i++) {
        const float x = in[i];
        const float z = fabsf(x) * SN_SQRT1_2;
        const float e = exp_nonpositive(-z * z); /* exp(-x^2/2) */
        const float tail = half_erfc(z, e);
        const float cdf = x < 0.0f ? tail : 1.0f - tail;
        din[i] = dout[i] * (cdf + x * SN_INV_SQRT_2PI * e);
    }
}
