/*
 * Batch normalisation over channel-major activations: channel c is the
 * contiguous block in[c*count .. (c+1)*count). Sums run in double: a channel
 * of a large batch holds 10^5..10^6 values, where a float sum loses the
 * digits that the variance (a difference of nearly equal terms) needs.
 */
#include "shiftnas/nn.h"

#include <math.h>

#include "nn/simd.h"

void sn_batchnorm_forward_train(float *out, float *saved_mean, float *saved_inv_std,
                                const float *in, const float *gamma, const float *beta,
                                float *running_mean, float *running_var,
                                int64_t channels, int64_t count, float momentum, float eps)
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
        sn_row_centre_scale(out + c * count, x, (float)mean, (float)(gamma[c] * inv_std), beta[c],
                            count);
        if (running_mean != NULL)
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
        if (running_var != NULL)
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * var * unbias);
    }
}

void sn_batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var,
                               int64_t channels, int64_t count, float eps)
{
    for (int64_t c = 0; c < channels; c++) {
        const double inv_std = 1.0 / sqrt((double)running_var[c] + (double)eps);
        sn_row_centre_scale(out + c * count, in + c * count, running_mean[c],
                            (float)(gamma[c] * inv_std), beta[c], count);
    }
}

/* With xhat = (x - mean) * inv_std and g = dout:
 *   dbeta += sum g,  dgamma += sum g * xhat,
 *   din = gamma * inv_std * (g - mean(g) - xhat * mean(g * xhat)),
 * the last computed as din = a*g + b*(x - mean) + c, one pass. */
void sn_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *gamma, const float *saved_mean,
                           const float *saved_inv_std, int64_t channels, int64_t count)
{
    for (int64_t c = 0; c < channels; c++) {
        const float *x = in + c * count;
        const float *g = dout + c * count;
        const double mean = saved_mean[c], inv_std = saved_inv_std[c];
        /* sum g*xhat = inv_std * (sum g*x - mean * sum g), exact enough in double */
        const double sum_g = sn_row_sum_f64(g, count);
        const double sum_g_xhat = inv_std * (sn_row_dot_f64(g, x, count) - mean * sum_g);
        dbeta[c] += (float)sum_g;
        dgamma[c] += (float)sum_g_xhat;
        if (din == NULL)
            continue;
        const double scale = gamma[c] * inv_std;
        /* (x - mean) is scaled by a, g by `scale`, and a constant added. */
        const float a = (float)(-scale * inv_std * sum_g_xhat / (double)count);
        const float add = (float)(-scale * sum_g / (double)count);
        const float s = (float)scale, m = (float)mean;
        const sn_f32x8 av = {a, a, a, a, a, a, a, a}, addv = {add, add, add, add, add, add, add, add},
                       sv = {s, s, s, s, s, s, s, s}, mv = {m, m, m, m, m, m, m, m};
        /* Every term is read before din[i] is written, so din may alias dout. */
        float *dx = din + c * count;
        int64_t i = 0;
        for (; i + 8 <= count; i += 8) {
            sn_f32x8 xv, gv;
            memcpy(&xv, x + i, sizeof xv);
            memcpy(&gv, g + i, sizeof gv);
            gv = sv * gv + av * (xv - mv) + addv;
            memcpy(dx + i, &gv, sizeof gv);
        }
        for (; i < count; i++)
            dx[i] = s * g[i] + a * (x[i] - m) + add;
    }
}
