/*
 * Dropout and drop-path. Decisions come from a counter-based stream in a fixed
 * order (element i, or sample n, takes the stream's i-th / n-th uniform u) so
 * a mask is a function of the stream's key alone. An element is dropped when
 * u < p: u has 24 random bits, so P(drop) is p to within 2^-24 and p = 0 keeps
 * everything. p = 0 is an exact copy and draws nothing.
 */
#include "shiftnas/nn.h"

#include <string.h>

void sn_dropout_forward(float *out, float *mask, const float *in, int64_t n, float p,
                        sn_rng_stream *stream)
{
    if (p <= 0.0f) {
        for (int64_t i = 0; i < n; i++)
            mask[i] = 1.0f;
        if (out != in)
            memcpy(out, in, (size_t)n * sizeof(float));
        return;
    }
    const float scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; i++) {
        mask[i] = sn_rng_uniform(stream) < p ? 0.0f : scale;
        out[i] = in[i] * mask[i];
    }
}

void sn_dropout_backward(float *din, const float *dout, const float *mask, int64_t n)
{
    if (din == NULL)
        return;
    for (int64_t i = 0; i < n; i++)
        din[i] = dout[i] * mask[i];
}

/* Element (o, n, i) at (o*batch + n)*inner + i is scaled by keep_scale[n]. */
static void scale_samples(float *out, const float *in, const float *keep_scale, int64_t outer,
                          int64_t batch, int64_t inner)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t n = 0; n < batch; n++) {
            const float s = keep_scale[n];
            const float *x = in + (o * batch + n) * inner;
            float *y = out + (o * batch + n) * inner;
            for (int64_t i = 0; i < inner; i++)
                y[i] = x[i] * s;
        }
}

void sn_drop_path_forward(float *out, float *keep_scale, const float *in, int64_t outer,
                          int64_t batch, int64_t inner, float p, sn_rng_stream *stream)
{
    if (p <= 0.0f) {
        for (int64_t n = 0; n < batch; n++)
            keep_scale[n] = 1.0f;
        if (out != in)
            memcpy(out, in, (size_t)(outer * batch * inner) * sizeof(float));
        return;
    }
    const float scale = 1.0f / (1.0f - p);
    for (int64_t n = 0; n < batch; n++)
        keep_scale[n] = sn_rng_uniform(stream) < p ? 0.0f : scale;
    scale_samples(out, in, keep_scale, outer, batch, inner);
}

void sn_drop_path_backward(float *din, const float *dout, const float *keep_scale,
                           int64_t outer, int64_t batch, int64_t inner)
{
    if (din == NULL)
        return;
    scale_samples(din, dout, keep_scale, outer, batch, inner);
}
