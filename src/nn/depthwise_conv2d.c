/*
 * Depthwise convolution on [C, N, H, W]: every channel has its own k x k
 * filter. There is no product to hand to BLIS (k*k multiply-adds per output),
 * so this is a direct loop arranged tap by tap: for each tap (i, j) a whole
 * output row is updated from one input row, contiguous in the output and
 * unit-stride in the input when stride is 1. The valid output range of each
 * tap is computed once, so the inner loops carry no bounds test.
 *
 * Weights come as an sn_kernel_view so that a smaller kernel can be a centre
 * crop of a larger supernet filter (elastic kernel size) without a copy.
 */
#include "shiftnas/nn.h"

#include <string.h>

#include "nn/conv_window.h"
#include "nn/simd.h"

void sn_depthwise_conv2d_forward(float *out, const float *in, sn_kernel_view weight,
                                 const float *bias, const sn_conv2d_dims *d)
{
    const int k = d->kernel, s = d->stride, p = d->padding;
    const int64_t h = d->in_height, w = d->in_width, images = d->batch;
    const int64_t oh = sn_conv2d_out_size(h, k, s, p), ow = sn_conv2d_out_size(w, k, s, p);
    for (int64_t c = 0; c < d->in_channels; c++) {
        const float *filter = weight.data + c * weight.channel_stride;
        const float b = bias != NULL ? bias[c] : 0.0f;
        for (int64_t n = 0; n < images; n++) {
            const float *src = in + (c * images + n) * h * w;
            float *dst = out + (c * images + n) * oh * ow;
            for (int64_t o = 0; o < oh * ow; o++)
                dst[o] = b;
            for (int i = 0; i < k; i++) {
                int64_t y_lo, y_hi;
                sn_conv_window_range(h, oh, s, p, i, &y_lo, &y_hi);
                for (int j = 0; j < k; j++) {
                    int64_t x_lo, x_hi;
                    sn_conv_window_range(w, ow, s, p, j, &x_lo, &x_hi);
                    const float tap = filter[i * weight.row_stride + j];
                    const int64_t shift = (int64_t)j - p;
                    for (int64_t oy = y_lo; oy < y_hi; oy++) {
                        const float *src_y = src + (oy * s - p + i) * w;
                        float *dst_y = dst + oy * ow;
                        if (s == 1) {
                            sn_row_axpy(dst_y + x_lo, src_y + x_lo + shift, tap, x_hi - x_lo);
                        } else {
                            for (int64_t ox = x_lo; ox < x_hi; ox++)
                                dst_y[ox] += tap * src_y[ox * s + shift];
                        }
                    }
                }
            }
        }
    }
}

void sn_depthwise_conv2d_backward(float *din, sn_kernel_view dweight, float *dbias,
                                  const float *dout, const float *in, sn_kernel_view weight,
                                  const sn_conv2d_dims *d)
{
    const int k = d->kernel, s = d->stride, p = d->padding;
    const int64_t h = d->in_height, w = d->in_width, images = d->batch;
    const int64_t oh = sn_conv2d_out_size(h, k, s, p), ow = sn_conv2d_out_size(w, k, s, p);
    for (int64_t c = 0; c < d->in_channels; c++) {
        const float *filter = weight.data + c * weight.channel_stride;
        float *dfilter = dweight.data + c * dweight.channel_stride;
        if (dbias != NULL) {
            dbias[c] += (float)sn_row_sum_f64(dout + c * images * oh * ow, images * oh * ow);
        }
        for (int64_t n = 0; n < images; n++) {
            const float *src = in + (c * images + n) * h * w;
            const float *g = dout + (c * images + n) * oh * ow;
            float *dsrc = din != NULL ? din + (c * images + n) * h * w : NULL;
            if (dsrc != NULL)
                memset(dsrc, 0, (size_t)(h * w) * sizeof(float));
            for (int i = 0; i < k; i++) {
                int64_t y_lo, y_hi;
                sn_conv_window_range(h, oh, s, p, i, &y_lo, &y_hi);
                for (int j = 0; j < k; j++) {
                    int64_t x_lo, x_hi;
                    sn_conv_window_range(w, ow, s, p, j, &x_lo, &x_hi);
                    const float tap = filter[i * weight.row_stride + j];
                    const int64_t shift = (int64_t)j - p;
                    float tap_grad = 0.0f;
                    for (int64_t oy = y_lo; oy < y_hi; oy++) {
                        const int64_t row = (oy * s - p + i) * w;
                        const float *src_y = src + row;
                        const float *g_y = g + oy * ow;
                        float *dsrc_y = dsrc != NULL ? dsrc + row : NULL;
                        if (s == 1) {
                            const int64_t len = x_hi - x_lo;
                            tap_grad += sn_row_dot(g_y + x_lo, src_y + x_lo + shift, len);
                            if (dsrc_y != NULL)
                                sn_row_axpy(dsrc_y + x_lo + shift, g_y + x_lo, tap, len);
                            continue;
                        }
                        float acc = 0.0f;
                        for (int64_t ox = x_lo; ox < x_hi; ox++)
                            acc += g_y[ox] * src_y[ox * s + shift];
                        tap_grad += acc;
                        if (dsrc_y != NULL)
                            for (int64_t ox = x_lo; ox < x_hi; ox++)
                                dsrc_y[ox * s + shift] += tap * g_y[ox];
                    }
                    dfilter[i * dweight.row_stride + j] += tap_grad;
                }
            }
        }
    }
}
