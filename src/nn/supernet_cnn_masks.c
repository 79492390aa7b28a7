/*
 * Masked mode of the CNN supernet: the masks M·p of each choice (ShiftNAS
 * Eq. 9, column j of M = the units candidate j keeps) and their backward to
 * d loss / d p. Masks are linear in p (no normalisation is assumed), so the
 * gradient is the plain partial derivative per probability.
 */
#include "supernet_cnn.h"

#include <math.h>
#include <string.h>

#include "nn/simd.h"

/* The probabilities of dimension d, or the single fixed choice (p = 1) of
 * the stem when d < 0. */
static const float stem_probability = 1.0f;

static const float *dimension_probabilities(const sn_network *network, const sc_model *m, int d)
{
    return d < 0 ? &stem_probability : m->probabilities + network->space->choice_offset[d];
}

static int dimension_count(const sn_network *network, int d)
{
    return d < 0 ? 1 : network->space->dimensions[d].choice_count;
}

/* Value of choice j of dimension d; the stem's channels when d < 0. */
static double dimension_value(const sn_network *network, int d, int j)
{
    return d < 0 ? network->space->stem_channels : network->space->dimensions[d].choices[j];
}

/* Mid channels of expand choice j with input width choice i. */
static int64_t mid_channels(const sn_network *network, const sc_block *k, int j, int i)
{
    return lround(dimension_value(network, k->expand_dimension, j) *
                  dimension_value(network, k->input_width_dimension, i));
}

/* 1 if tap (row, col) of a K x K grid lies in the centre kernel x kernel crop. */
static int in_centre(int row, int col, int big, int kernel)
{
    int lo = (big - kernel) / 2, hi = lo + kernel;
    return row >= lo && row < hi && col >= lo && col < hi;
}

void sc_masks_from_probabilities(sn_network *network)
{
    sc_model *m = network->model;
    const sn_space *space = network->space;
    for (int s = 0; s < m->stage_count; s++) {
        sc_stage *st = &m->stages[s];
        const float *pw = dimension_probabilities(network, m, st->width_dimension);
        for (int64_t c = 0; c < st->width_max; c++) {
            double v = 0.0;
            for (int j = 0; j < dimension_count(network, st->width_dimension); j++)
                v += c < (int64_t)dimension_value(network, st->width_dimension, j) ? pw[j] : 0.0;
            st->width_mask[c] = (float)v;
        }
        const float *pd = dimension_probabilities(network, m, st->depth_dimension);
        const sn_dimension *depth = &space->dimensions[st->depth_dimension];
        for (int b = 0; b < st->block_count; b++) {
            sc_block *k = &st->blocks[b];
            const float *pe = dimension_probabilities(network, m, k->expand_dimension);
            const float *pin = dimension_probabilities(network, m, k->input_width_dimension);
            for (int64_t c = 0; c < k->mid_max; c++) {
                double v = 0.0;
                for (int j = 0; j < dimension_count(network, k->expand_dimension); j++)
                    for (int i = 0; i < dimension_count(network, k->input_width_dimension); i++)
                        if (c < mid_channels(network, k, j, i))
                            v += (double)pe[j] * (double)pin[i];
                k->mid_mask[c] = (float)v;
            }
            const float *pk = dimension_probabilities(network, m, k->kernel_dimension);
            const sn_dimension *kernels = &space->dimensions[k->kernel_dimension];
            int big = k->kernel_max;
            for (int row = 0; row < big; row++)
                for (int col = 0; col < big; col++) {
                    double v = 0.0;
                    for (int t = 0; t < kernels->choice_count; t++)
                        if (in_centre(row, col, big, (int)kernels->choices[t]))
                            v += pk[t];
                    k->kernel_mask[row * big + col] = (float)v;
                }
            /* A stage's first block is always there (and has no residual). */
            double gate = b == 0 ? 1.0 : 0.0;
            for (int j = 0; b > 0 && j < depth->choice_count; j++)
                if ((int)depth->choices[j] > b)
                    gate += pd[j];
            k->gate = (float)gate;
        }
    }
}

void sc_scale_channels(float *out, const float *in, const float *scale, int64_t channels,
                       int64_t count)
{
    for (int64_t c = 0; c < channels; c++) {
        const float a = scale[c];
        const float *x = in + c * count;
        float *y = out + c * count;
        for (int64_t i = 0; i < count; i++)
            y[i] = a * x[i];
    }
}

sn_kernel_view sc_mask_kernel(sn_network *network, sc_block *k)
{
    const float *w = sn_entry(network, network->parameters, k->depthwise_weight);
    int64_t taps = (int64_t)k->kernel_max * k->kernel_max;
    for (int64_t c = 0; c < k->mid_max; c++)
        for (int64_t t = 0; t < taps; t++)
            k->masked_kernel[c * taps + t] = w[c * taps + t] * k->kernel_mask[t];
    sn_kernel_view v = {k->masked_kernel, taps, k->kernel_max};
    return v;
}

void sc_scale_norm(sc_model *m, const sc_stage *st, const float *gamma, const float *beta)
{
    for (int64_t c = 0; c < st->width_max; c++) {
        m->scaled_gamma[c] = st->width_mask[c] * gamma[c];
        m->scaled_beta[c] = st->width_mask[c] * beta[c];
    }
}

void sc_gate_backward(sn_network *network, const sc_stage *st, const sc_block *k,
                      float *dbranch, const float *dout, int64_t n)
{
    double dgate = sn_row_dot_f64(dout, k->project_norm, n);
    for (int64_t i = 0; i < n; i++)
        dbranch[i] = k->gate * dout[i];
    const sn_dimension *depth = &network->space->dimensions[st->depth_dimension];
    float *ag = network->architecture_gradient + network->space->choice_offset[st->depth_dimension];
    for (int j = 0; j < depth->choice_count; j++)
        if ((int)depth->choices[j] > k->index)
            ag[j] += (float)dgate;
}

void sc_norm_backward_masked(sn_network *network, sc_model *m, const sc_stage *st,
                             const sc_block *k, float *din, const float *dout, int64_t channels,
                             int64_t count)
{
    const float *gamma = sn_entry(network, network->parameters, k->gamma[SC_PROJECT]);
    const float *beta = sn_entry(network, network->parameters, k->beta[SC_PROJECT]);
    float *dgamma = sn_entry(network, network->gradients, k->gamma[SC_PROJECT]);
    float *dbeta = sn_entry(network, network->gradients, k->beta[SC_PROJECT]);
    sc_scale_norm(m, st, gamma, beta);
    memset(m->scaled_dgamma, 0, (size_t)channels * sizeof(float));
    memset(m->scaled_dbeta, 0, (size_t)channels * sizeof(float));
    sn_batchnorm_backward(din, m->scaled_dgamma, m->scaled_dbeta, dout, k->project_out,
                          m->scaled_gamma, k->saved_mean[SC_PROJECT],
                          k->saved_inv_std[SC_PROJECT], channels, count);
    /* out = (mask*gamma) xhat + mask*beta: the scale and shift gradients
     * split by the product rule. */
    for (int64_t c = 0; c < channels; c++) {
        float mask = st->width_mask[c];
        dgamma[c] += mask * m->scaled_dgamma[c];
        dbeta[c] += mask * m->scaled_dbeta[c];
        m->width_grad[c] += gamma[c] * m->scaled_dgamma[c] + beta[c] * m->scaled_dbeta[c];
    }
}

void sc_mask_backward(float *mask_grad, float *d, const float *unmasked, const float *mask,
                      int64_t channels, int64_t count)
{
    for (int64_t c = 0; c < channels; c++) {
        float *g = d + c * count;
        mask_grad[c] += (float)sn_row_dot_f64(g, unmasked + c * count, count);
        const float a = mask[c];
        for (int64_t i = 0; i < count; i++)
            g[i] *= a;
    }
}

void sc_depthwise_backward_masked(sn_network *network, sc_block *k, float *din,
                                  const float *dout, const float *in, const sn_conv2d_dims *d)
{
    sc_model *m = network->model;
    int big = k->kernel_max;
    int64_t taps = (int64_t)big * big;
    memset(m->kernel_grad, 0, (size_t)(k->mid_max * taps) * sizeof(float));
    sn_kernel_view dmasked = {m->kernel_grad, taps, big};
    sn_kernel_view masked = {k->masked_kernel, taps, big};
    sn_depthwise_conv2d_backward(din, dmasked, NULL, dout, in, masked, d);
    const float *w = sn_entry(network, network->parameters, k->depthwise_weight);
    float *dw = sn_entry(network, network->gradients, k->depthwise_weight);
    for (int64_t i = 0; i < k->mid_max * taps; i++)
        dw[i] += m->kernel_grad[i] * k->kernel_mask[i % taps];
    const sn_dimension *kernels = &network->space->dimensions[k->kernel_dimension];
    float *ag = network->architecture_gradient + network->space->choice_offset[k->kernel_dimension];
    for (int t = 0; t < kernels->choice_count; t++) {
        int kernel = (int)kernels->choices[t];
        double sum = 0.0;
        for (int64_t c = 0; c < k->mid_max; c++)
            for (int row = 0; row < big; row++)
                for (int col = 0; col < big; col++)
                    if (in_centre(row, col, big, kernel)) {
                        int64_t i = c * taps + row * big + col;
                        sum += (double)m->kernel_grad[i] * (double)w[i];
                    }
        ag[t] += (float)sum;
    }
}

void sc_mid_mask_to_probabilities(sn_network *network, const sc_block *k, const float *mid_grad)
{
    sc_model *m = network->model;
    const float *pe = dimension_probabilities(network, m, k->expand_dimension);
    const float *pin = dimension_probabilities(network, m, k->input_width_dimension);
    float *ge = network->architecture_gradient + network->space->choice_offset[k->expand_dimension];
    float *gin = k->input_width_dimension < 0
                     ? NULL
                     : network->architecture_gradient +
                           network->space->choice_offset[k->input_width_dimension];
    for (int j = 0; j < dimension_count(network, k->expand_dimension); j++)
        for (int i = 0; i < dimension_count(network, k->input_width_dimension); i++) {
            int64_t kept = mid_channels(network, k, j, i);
            double sum = 0.0;
            for (int64_t c = 0; c < kept; c++)
                sum += mid_grad[c];
            ge[j] += (float)(pin[i] * sum);
            if (gin)
                gin[i] += (float)(pe[j] * sum);
        }
}

void sc_width_mask_to_probabilities(sn_network *network, const sc_stage *st,
                                    const float *width_grad)
{
    const sn_dimension *widths = &network->space->dimensions[st->width_dimension];
    float *ag = network->architecture_gradient + network->space->choice_offset[st->width_dimension];
    for (int j = 0; j < widths->choice_count; j++) {
        double sum = 0.0;
        for (int64_t c = 0; c < (int64_t)widths->choices[j]; c++)
            sum += width_grad[c];
        ag[j] += (float)sum;
    }
}
