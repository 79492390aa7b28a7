/* Layer norm under a soft feature mask (the supernet's masked mode): the
 * statistics of a row are the mask-weighted mean and variance, and the output
 * is multiplied by the mask, so at a 0/1 mask of the first e features it is
 * the layer norm of those e features followed by zeros. The mask is a
 * function of the architecture probabilities, so backward also gives
 * d loss / d mask. */
#include "shiftnas/nn.h"

#include <math.h>

void sn_masked_layernorm_forward(float *out, float *saved_mean, float *saved_inv_std,
                                 const float *in, const float *gamma, const float *beta,
                                 const float *mask, int64_t rows, int64_t dim, float eps)
{
    double weight = 0.0;
    for (int64_t j = 0; j < dim; j++)
        weight += mask[j];
    for (int64_t r = 0; r < rows; r++) {
        const float *x = in + r * dim;
        float *y = out + r * dim;
        double sum = 0.0;
        for (int64_t j = 0; j < dim; j++)
            sum += (double)mask[j] * x[j];
        double mean = sum / weight;
        double sq = 0.0;
        for (int64_t j = 0; j < dim; j++) {
            double d = x[j] - mean;
            sq += mask[j] * d * d;
        }
        double inv_std = 1.0 / sqrt(sq / weight + (double)eps);
        for (int64_t j = 0; j < dim; j++)
            y[j] = mask[j] * ((float)((x[j] - mean) * inv_std) * gamma[j] + beta[j]);
        saved_mean[r] = (float)mean;
        saved_inv_std[r] = (float)inv_std;
    }
}

/* With S = sum m, xhat = (x - mean) * inv_std, z = gamma * xhat + beta,
 * y = m * z and g = m * gamma * dout:
 *   din_j  = inv_std * (g_j - m_j / S * (sum g + xhat_j * sum g xhat))
 *   dm_j  += dout_j z_j + (-xhat_j sum g - (xhat_j^2 - var * inv_std^2) sum g xhat / 2) / S
 * where d mean / d m_j = (x_j - mean) / S and d var / d m_j = ((x_j - mean)^2 - var) / S
 * (the mean's own change drops out of the variance: it is the weighted
 * mean), and var * inv_std^2 = 1 - eps * inv_std^2. din may alias dout:
 * din_j is written after every read of dout_j. */
void sn_masked_layernorm_backward(float *din, float *dgamma, float *dbeta, float *dmask,
                                  const float *dout, const float *in, const float *gamma,
                                  const float *beta, const float *mask, const float *saved_mean,
                                  const float *saved_inv_std, int64_t rows, int64_t dim, float eps)
{
    double weight = 0.0;
    for (int64_t j = 0; j < dim; j++)
        weight += mask[j];
    for (int64_t r = 0; r < rows; r++) {
        const float *x = in + r * dim;
        const float *dy = dout + r * dim;
        float mean = saved_mean[r], inv_std = saved_inv_std[r];
        double sum_g = 0.0, sum_g_xhat = 0.0;
        for (int64_t j = 0; j < dim; j++) {
            float xhat = (x[j] - mean) * inv_std;
            float g = mask[j] * gamma[j] * dy[j];
            sum_g += g;
            sum_g_xhat += (double)g * xhat;
            if (dgamma != NULL)
                dgamma[j] += mask[j] * dy[j] * xhat;
            if (dbeta != NULL)
                dbeta[j] += mask[j] * dy[j];
            if (dmask != NULL)
                dmask[j] += dy[j] * (xhat * gamma[j] + beta[j]);
        }
        if (dmask != NULL) {
            double var_scaled = 1.0 - (double)eps * inv_std * inv_std;
            for (int64_t j = 0; j < dim; j++) {
                double xhat = (double)(x[j] - mean) * inv_std;
                dmask[j] += (float)((-xhat * sum_g - 0.5 * (xhat * xhat - var_scaled) * sum_g_xhat) /
                                    weight);
            }
        }
        if (din == NULL)
            continue;
        float *dx = din + r * dim;
        for (int64_t j = 0; j < dim; j++) {
            float xhat = (x[j] - mean) * inv_std;
            float g = mask[j] * gamma[j] * dy[j];
            dx[j] = inv_std *
                    (g - (float)(mask[j] / weight * (sum_g + (double)xhat * sum_g_xhat)));
        }
    }
}
