/*
 * Elementwise activations. Backward takes the forward's input (not its
 * output): relu and hard-swish are not invertible, and GELU's derivative is a
 * function of x. Each backward reads in[i] and dout[i] before writing din[i],
 * so din may alias dout.
 */
#include "shiftnas/nn.h"

#include <math.h>

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

void sn_gelu_forward(float *out, const float *in, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float x = in[i];
        out[i] = 0.5f * x * (1.0f + erff(x * SN_SQRT1_2));
    }
}

/* d/dx = Phi(x) + x * phi(x), Phi and phi the standard normal cdf and pdf. */
void sn_gelu_backward(float *din, const float *dout, const float *in, int64_t n)
{
    if (din == NULL)
        return;
    for (int64_t i = 0; i < n; i++) {
        float x = in[i];
        float cdf = 0.5f * (1.0f + erff(x * SN_SQRT1_2));
        float pdf = SN_INV_SQRT_2PI * expf(-0.5f * x * x);
        din[i] = dout[i] * (cdf + x * pdf);
    }
}
