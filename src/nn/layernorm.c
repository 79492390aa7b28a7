/* Layer norm over the last dimension of contiguous rows [rows, dim].
 * Row statistics are accumulated in double: a row of a few hundred floats
 * with a large mean would otherwise lose digits of its variance. The sums run
 * in fixed lanes (simd.h) and the functions are compiled for AVX2 and AVX-512
 * as well: the plain double loops were one dependent add per element, ~7% of
 * a ViT supernet step at 7% of its memory roofline (bench_shiftnas layers). */
#include "shiftnas/nn.h"

#include <math.h>

#include "nn/simd.h"

/* sum g and sum g * xhat over a row, g = gamma * dy, xhat = (x - mean) *
 * inv_std, in double lanes. */
static inline void gradient_sums(const float *gamma, const float *dy, const float *x, float mean,
                                 float inv_std, int64_t dim, double *sum_g, double *sum_g_xhat)
{
    sn_f64x4 s0 = {0}, s1 = {0}, d0 = {0}, d1 = {0};
    const sn_f32x4 mv = {mean, mean, mean, mean}, iv = {inv_std, inv_std, inv_std, inv_std};
    int64_t j = 0;
    for (; j + 8 <= dim; j += 8) {
        sn_f32x4 ga, gb, ya, yb, xa, xb;
        memcpy(&ga, gamma + j, sizeof ga);
        memcpy(&gb, gamma + j + 4, sizeof gb);
        memcpy(&ya, dy + j, sizeof ya);
        memcpy(&yb, dy + j + 4, sizeof yb);
        memcpy(&xa, x + j, sizeof xa);
        memcpy(&xb, x + j + 4, sizeof xb);
        const sn_f64x4 g0 = __builtin_convertvector(ga * ya, sn_f64x4);
        const sn_f64x4 g1 = __builtin_convertvector(gb * yb, sn_f64x4);
        s0 += g0;
        s1 += g1;
        d0 += g0 * __builtin_convertvector((xa - mv) * iv, sn_f64x4);
        d1 += g1 * __builtin_convertvector((xb - mv) * iv, sn_f64x4);
    }
    s0 += s1;
    d0 += d1;
    double sg = (s0[0] + s0[2]) + (s0[1] + s0[3]);
    double sgx = (d0[0] + d0[2]) + (d0[1] + d0[3]);
    for (; j < dim; j++) {
        const float g = gamma[j] * dy[j];
        sg += g;
        sgx += (double)g * ((x[j] - mean) * inv_std);
    }
    *sum_g = sg;
    *sum_g_xhat = sgx;
}

SN_WIDEST_VECTORS
void sn_layernorm_forward(float *out, float *saved_mean, float *saved_inv_std, const float *in,
                          const float *gamma, const float *beta, int64_t rows, int64_t dim,
                          float eps)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *x = in + r * dim;
        float *y = out + r * dim;
        const double mean = sn_row_sum_f64(x, dim) / (double)dim;
        /* Two-pass variance: exact for the biased estimator, no cancellation. */
        const double sq = sn_row_centred_squares_f64(x, mean, dim);
        const double inv_std = 1.0 / sqrt(sq / (double)dim + (double)eps);
        /* centred before scaling, in float (the statistics were the part
         * that needed double) */
        const float m = (float)mean, s = (float)inv_std;
        for (int64_t j = 0; j < dim; j++)
            y[j] = ((x[j] - m) * s) * gamma[j] + beta[j];
        saved_mean[r] = (float)mean;
        saved_inv_std[r] = (float)inv_std;
    }
}

/* With xhat = (x - mean) * inv_std and g = gamma * dout:
 *   din = inv_std * (g - mean(g) - xhat * mean(g * xhat)).
 * Each din[j] reads only dout[j] and the row sums, so din may alias dout. */
SN_WIDEST_VECTORS
void sn_layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *gamma, const float *saved_mean,
                           const float *saved_inv_std, int64_t rows, int64_t dim)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *x = in + r * dim;
        const float *dy = dout + r * dim;
        float mean = saved_mean[r], inv_std = saved_inv_std[r];
        double sum_g, sum_g_xhat;
        gradient_sums(gamma, dy, x, mean, inv_std, dim, &sum_g, &sum_g_xhat);
        if (dgamma != NULL)
            for (int64_t j = 0; j < dim; j++)
                dgamma[j] += dy[j] * ((x[j] - mean) * inv_std);
        if (dbeta != NULL)
            for (int64_t j = 0; j < dim; j++)
                dbeta[j] += dy[j];
        if (din == NULL)
            continue;
        float mean_g = (float)(sum_g / (double)dim);
        float mean_g_xhat = (float)(sum_g_xhat / (double)dim);
        float *dx = din + r * dim;
        for (int64_t j = 0; j < dim; j++) {
            float xhat = (x[j] - mean) * inv_std;
            dx[j] = inv_std * (gamma[j] * dy[j] - mean_g - xhat * mean_g_xhat);
        }
    }
}
