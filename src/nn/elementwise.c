/* Residual adds, gradient accumulation and global average pooling. */
#include "shiftnas/nn.h"

#include "nn/simd.h"

void sn_add_forward(float *out, const float *a, const float *b, int64_t n)
{
    sn_row_add2(out, a, b, n);
}

void sn_accumulate(float *y, const float *x, int64_t n)
{
    sn_row_add(y, x, n);
}

/* in [C, N, HW] (channel-major) -> out [N, C] (rows for the classifier). */
void sn_global_avgpool_forward(float *out, const float *in, int64_t channels, int64_t batch,
                               int64_t spatial)
{
    for (int64_t c = 0; c < channels; c++)
        for (int64_t n = 0; n < batch; n++)
            out[n * channels + c] =
                (float)(sn_row_sum_f64(in + (c * batch + n) * spatial, spatial) / (double)spatial);
}

void sn_global_avgpool_backward(float *din, const float *dout, int64_t channels, int64_t batch,
                                int64_t spatial)
{
    if (din == NULL)
        return;
    const float inv = (float)(1.0 / (double)spatial);
    for (int64_t c = 0; c < channels; c++)
        for (int64_t n = 0; n < batch; n++) {
            float *dx = din + (c * batch + n) * spatial;
            const float g = dout[n * channels + c] * inv;
            for (int64_t i = 0; i < spatial; i++)
                dx[i] = g;
        }
}
