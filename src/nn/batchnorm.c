/*
 * Batch normalisation over channel-major activations: channel c is the
 * contiguous block in[c*count .. (c+1)*count). Sums run in double: a channel
 * of a large batch holds 10^5..10^6 values, where a float sum loses the
 * digits that the variance (a difference of nearly equal terms) needs.
 *
 * The fused batch norm + ReLU variants exist for speed: a CNN block's
 * normalised activations are only ever read by its ReLU, so the fused
 * forward writes the ReLU's output directly (one pass and one buffer fewer),
 * and the fused backward applies the ReLU's mask while it reads the gradient
 * (ReLU(y) > 0 exactly where y > 0, so the output itself is the mask).
 */
#include "shiftnas/nn.h"

#include <math.h>

#include "nn/simd.h"

/* Comparisons are kept 4 wide: at the x86-64 baseline (SSE2), GCC lowers an
 * 8-wide float comparison lane by lane with branches-free but scalar code,
 * while a 4-wide one is a single cmpps. */
typedef int32_t sn_i32x4 __attribute__((vector_size(16)));

/* y = max((x - m) * a + b, 0) when relu, else (x - m) * a + b */
static void centre_scale(float *y, const float *x, float m, float a, float b, int relu,
                         int64_t n)
{
    if (!relu) {
        sn_row_centre_scale(y, x, m, a, b, n);
        return;
    }
    /* A plain loop: GCC -O3 vectorises the select into maxps. */
    for (int64_t i = 0; i < n; i++) {
        float v = (x[i] - m) * a + b;
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

SN_WIDEST_VECTORS
static void forward_train(float *out, float *saved_mean, float *saved_inv_std, const float *in,
                          const float *gamma, const float *beta, float *running_mean,
                          float *running_var, int64_t channels, int64_t count, float momentum,
                          float eps, int relu)
{
    /* PyTorch's running variance is unbiased; with one value per channel
     * there is no unbiased estimate and the biased one (0) is used. */
    const double unbias = count > 1 ? (double)count / (double)(count - 1) : 1.0;
    for (int64_t c = 0; c < channels; c++) {
        const float *x = in + c * count;
        const double mean = sn_row_sum_f64(x, count) / (double)count;
        /* Two passes: the centred sum of squares does not cancel. */
        const double var = sn_row_centred_squares_f64(x, mean, count) / (double)count;
        const double inv_std = 1.0 / sqrt(var + (double)eps);
        saved_mean[c] = (float)mean;
        saved_inv_std[c] = (float)inv_std;
        /* Centre before scaling: folding the mean into one shift would
         * cancel badly for a channel whose mean is large against its spread. */
        centre_scale(out + c * count, x, (float)mean, (float)(gamma[c] * inv_std), beta[c], relu,
                     count);
        if (running_mean != NULL)
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
        if (running_var != NULL)
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * var * unbias);
    }
}

void sn_batchnorm_forward_train(float *out, float *saved_mean, float *saved_inv_std,
                                const float *in, const float *gamma, const float *beta,
                                float *running_mean, float *running_var,
                                int64_t channels, int64_t count, float momentum, float eps)
{
    forward_train(out, saved_mean, saved_inv_std, in, gamma, beta, running_mean, running_var,
                  channels, count, momentum, eps, 0);
}

void sn_batchnorm_relu_forward_train(float *out, float *saved_mean, float *saved_inv_std,
                                     const float *in, const float *gamma, const float *beta,
                                     float *running_mean, float *running_var, int64_t channels,
                                     int64_t count, float momentum, float eps)
{
    forward_train(out, saved_mean, saved_inv_std, in, gamma, beta, running_mean, running_var,
                  channels, count, momentum, eps, 1);
}

SN_WIDEST_VECTORS
static void forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                         const float *running_mean, const float *running_var, int64_t channels,
                         int64_t count, float eps, int relu)
{
    for (int64_t c = 0; c < channels; c++) {
        const double inv_std = 1.0 / sqrt((double)running_var[c] + (double)eps);
        centre_scale(out + c * count, in + c * count, running_mean[c],
                     (float)(gamma[c] * inv_std), beta[c], relu, count);
    }
}

void sn_batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var,
                               int64_t channels, int64_t count, float eps)
{
    forward_eval(out, in, gamma, beta, running_mean, running_var, channels, count, eps, 0);
}

void sn_batchnorm_relu_forward_eval(float *out, const float *in, const float *gamma,
                                    const float *beta, const float *running_mean,
                                    const float *running_var, int64_t channels, int64_t count,
                                    float eps)
{
    forward_eval(out, in, gamma, beta, running_mean, running_var, channels, count, eps, 1);
}

/* Keeps g[i..i+4) where mask[i..i+4) > 0 and zeroes the rest (keeps all if
 * mask is NULL). By pointer: vectors never cross a call (see simd.h). */
static inline void apply_mask(sn_f32x4 *g, const float *mask, int64_t i)
{
    if (mask == NULL)
        return;
    sn_f32x4 y;
    const sn_f32x4 zero = {0};
    memcpy(&y, mask + i, sizeof y);
    *g = (sn_f32x4)((sn_i32x4)*g & (y > zero));
}

/* sum g and sum g*x over the masked g, in double, in one pass; the lanes are
 * summed in the same order as sn_row_sum_f64 and sn_row_dot_f64. */
SN_WIDEST_VECTORS
static void masked_sums(const float *g, const float *x, const float *mask, int64_t n,
                        double *sum_g, double *sum_gx)
{
    sn_f64x4 s0 = {0}, s1 = {0}, d0 = {0}, d1 = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        sn_f32x4 g_lo, g_hi, x_lo, x_hi;
        memcpy(&g_lo, g + i, sizeof g_lo);
        memcpy(&g_hi, g + i + 4, sizeof g_hi);
        memcpy(&x_lo, x + i, sizeof x_lo);
        memcpy(&x_hi, x + i + 4, sizeof x_hi);
        apply_mask(&g_lo, mask, i);
        apply_mask(&g_hi, mask, i + 4);
        sn_f64x4 gl = __builtin_convertvector(g_lo, sn_f64x4);
        sn_f64x4 gh = __builtin_convertvector(g_hi, sn_f64x4);
        s0 += gl;
        s1 += gh;
        d0 += gl * __builtin_convertvector(x_lo, sn_f64x4);
        d1 += gh * __builtin_convertvector(x_hi, sn_f64x4);
    }
    s0 += s1;
    d0 += d1;
    double sg = (s0[0] + s0[2]) + (s0[1] + s0[3]);
    double sgx = (d0[0] + d0[2]) + (d0[1] + d0[3]);
    for (; i < n; i++) {
        double gi = mask == NULL || mask[i] > 0.0f ? g[i] : 0.0;
        sg += gi;
        sgx += gi * x[i];
    }
    *sum_g = sg;
    *sum_gx = sgx;
}

/* With xhat = (x - mean) * inv_std and g = dout (times the ReLU mask):
 *   dbeta += sum g,  dgamma += sum g * xhat,
 *   din = gamma * inv_std * (g - mean(g) - xhat * mean(g * xhat)),
 * the last computed as din = a*g + b*(x - mean) + c, one pass. */
SN_WIDEST_VECTORS
static void backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                     const float *mask, const float *gamma, const float *saved_mean,
                     const float *saved_inv_std, int64_t channels, int64_t count)
{
    for (int64_t c = 0; c < channels; c++) {
        const float *x = in + c * count;
        const float *g = dout + c * count;
        const float *mask_c = mask != NULL ? mask + c * count : NULL;
        const double mean = saved_mean[c], inv_std = saved_inv_std[c];
        /* sum g*xhat = inv_std * (sum g*x - mean * sum g), exact enough in double */
        double sum_g, sum_gx;
        masked_sums(g, x, mask_c, count, &sum_g, &sum_gx);
        const double sum_g_xhat = inv_std * (sum_gx - mean * sum_g);
        dbeta[c] += (float)sum_g;
        dgamma[c] += (float)sum_g_xhat;
        if (din == NULL)
            continue;
        const double scale = gamma[c] * inv_std;
        /* (x - mean) is scaled by a, g by `scale`, and a constant added. */
        const float a = (float)(-scale * inv_std * sum_g_xhat / (double)count);
        const float add = (float)(-scale * sum_g / (double)count);
        const float s = (float)scale, m = (float)mean;
        const sn_f32x4 av = {a, a, a, a}, addv = {add, add, add, add}, sv = {s, s, s, s},
                       mv = {m, m, m, m};
        /* Every term is read before din[i] is written, so din may alias dout. */
        float *dx = din + c * count;
        int64_t i = 0;
        for (; i + 4 <= count; i += 4) {
            sn_f32x4 xv, gv;
            memcpy(&xv, x + i, sizeof xv);
            memcpy(&gv, g + i, sizeof gv);
            apply_mask(&gv, mask_c, i);
            gv = sv * gv + av * (xv - mv) + addv;
            memcpy(dx + i, &gv, sizeof gv);
        }
        for (; i < count; i++) {
            float gi = mask_c == NULL || mask_c[i] > 0.0f ? g[i] : 0.0f;
            dx[i] = s * gi + a * (x[i] - m) + add;
        }
    }
}

void sn_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *gamma, const float *saved_mean,
                           const float *saved_inv_std, int64_t channels, int64_t count)
{
    backward(din, dgamma, dbeta, dout, in, NULL, gamma, saved_mean, saved_inv_std, channels,
             count);
}

void sn_batchnorm_relu_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                                const float *in, const float *out, const float *gamma,
                                const float *saved_mean, const float *saved_inv_std,
                                int64_t channels, int64_t count)
{
    backward(din, dgamma, dbeta, dout, in, out, gamma, saved_mean, saved_inv_std, channels,
             count);
}
