/* Layer norm over the last dimension of contiguous rows [rows, dim].
 * Row statistics are accumulated in double: a row of a few hundred floats
 * with a large mean would otherwise lose digits of its variance. */
#include "shiftnas/nn.h"

#include <math.h>

void sn_layernorm_forward(float *out, float *saved_mean, float *saved_inv_std, const float *in,
                          const float *gamma, const float *beta, int64_t rows, int64_t dim,
                          float eps)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *x = in + r * dim;
        float *y = out + r * dim;
        double sum = 0.0;
        for (int64_t j = 0; j < dim; j++)
            sum += x[j];
        double mean = sum / (double)dim;
        /* Two-pass variance: exact for the biased estimator, no cancellation. */
        double sq = 0.0;
        for (int64_t j = 0; j < dim; j++) {
            double d = x[j] - mean;
            sq += d * d;
        }
        double inv_std = 1.0 / sqrt(sq / (double)dim + (double)eps);
        for (int64_t j = 0; j < dim; j++)
            y[j] = (float)((x[j] - mean) * inv_std) * gamma[j] + beta[j];
        saved_mean[r] = (float)mean;
        saved_inv_std[r] = (float)inv_std;
    }
}

/* With xhat = (x - mean) * inv_std and g = gamma * dout:
 *   din = inv_std * (g - mean(g) - xhat * mean(g * xhat)).
 * Each din[j] reads only dout[j] and the row sums, so din may alias dout. */
void sn_layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *gamma, const float *saved_mean,
                           const float *saved_inv_std, int64_t rows, int64_t dim)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *x = in + r * dim;
        const float *dy = dout + r * dim;
        float mean = saved_mean[r], inv_std = saved_inv_std[r];
        double sum_g = 0.0, sum_g_xhat = 0.0;
        for (int64_t j = 0; j < dim; j++) {
            float xhat = (x[j] - mean) * inv_std;
            float g = gamma[j] * dy[j];
            sum_g += g;
            sum_g_xhat += (double)g * xhat;
            if (dgamma != NULL)
                dgamma[j] += dy[j] * xhat;
            if (dbeta != NULL)
                dbeta[j] += dy[j];
        }
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
