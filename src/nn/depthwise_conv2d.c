/*
 * Depthwise convolution on [C, N, H, W]: every channel has its own k x k
 * filter. There is no product to hand to BLIS (k*k multiply-adds per output),
 * so this is a direct computation.
 *
 * The main path (depthwise_planes.c) copies each image-channel plane, zero
 * padded, into a small scratch on the stack, laid out so that every tap is
 * one constant offset; each block of 32 outputs then sums all k*k taps in
 * registers and is stored once. The earlier tap-by-tap loop, which read and
 * wrote the whole output plane once per tap, made the depthwise layers 55%
 * of a CNN supernet step at ~6 GFLOP/s; doc/performance.md has the figures.
 * Planes too wide for the scratch (thousands of pixels a row) take the
 * row-by-row loops below, as do paddings wider than the kernel.
 *
 * Weights come as an sn_kernel_view so that a smaller kernel can be a centre
 * crop of a larger supernet filter (elastic kernel size) without a copy.
 */
#include "shiftnas/nn.h"

#include <string.h>

#include "nn/conv_window.h"
#include "nn/depthwise_planes.h"
#include "nn/simd.h"

SN_WIDEST_VECTORS
static void forward_rows(float *out, const float *in, sn_kernel_view weight, const float *bias,
                         const sn_conv2d_dims *d)
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

SN_WIDEST_VECTORS
static void backward_rows(float *din, sn_kernel_view dweight, const float *dout,
                          const float *in, sn_kernel_view weight, const sn_conv2d_dims *d)
{
    const int k = d->kernel, s = d->stride, p = d->padding;
    const int64_t h = d->in_height, w = d->in_width, images = d->batch;
    const int64_t oh = sn_conv2d_out_size(h, k, s, p), ow = sn_conv2d_out_size(w, k, s, p);
    for (int64_t c = 0; c < d->in_channels; c++) {
        const float *filter = weight.data + c * weight.channel_stride;
        float *dfilter = dweight.data + c * dweight.channel_stride;
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

/* The forward's planes: the input padded by p, read with the layer's stride. */
static sn_plane_geometry forward_geometry(const sn_conv2d_dims *d)
{
    sn_plane_geometry g = {d->in_height, d->in_width, d->kernel, d->stride, 1, d->padding,
                           sn_conv2d_out_size(d->in_height, d->kernel, d->stride, d->padding),
                           sn_conv2d_out_size(d->in_width, d->kernel, d->stride, d->padding)};
    return g;
}

/* The input gradient's planes: the output gradient dilated by the stride and
 * padded by k - 1 - p, read with stride 1 (a transposed convolution). */
static sn_plane_geometry input_gradient_geometry(const sn_conv2d_dims *d)
{
    const sn_plane_geometry f = forward_geometry(d);
    sn_plane_geometry g = {f.out_rows, f.out_cols, d->kernel, 1, d->stride,
                           (int64_t)d->kernel - 1 - d->padding, d->in_height, d->in_width};
    return g;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

void sn_depthwise_conv2d_forward(float *out, const float *in, sn_kernel_view weight,
                                 const float *bias, const sn_conv2d_dims *d)
{
    const sn_plane_geometry g = forward_geometry(d);
    const int64_t band = sn_plane_band_rows(&g);
    if (band == 0) {
        forward_rows(out, in, weight, bias, d);
        return;
    }
    const int64_t in_plane = d->in_height * d->in_width, out_plane = g.out_rows * g.out_cols;
    sn_plane_scratch scratch;
    for (int64_t c = 0; c < d->in_channels; c++) {
        sn_plane_taps(&scratch, &g, band, weight.data + c * weight.channel_stride,
                      weight.row_stride, 0);
        const float b = bias != NULL ? bias[c] : 0.0f;
        for (int64_t n = 0; n < d->batch; n++) {
            const float *src = in + (c * d->batch + n) * in_plane;
            float *dst = out + (c * d->batch + n) * out_plane;
            for (int64_t row0 = 0; row0 < g.out_rows; row0 += band) {
                const int64_t rows = min64(band, g.out_rows - row0);
                sn_plane_fill(&scratch, &g, src, row0, rows);
                sn_plane_correlate(dst, &scratch, &g, row0, rows, b);
            }
        }
    }
}

/* One channel's weight gradient (planes of the input) and input gradient
 * (planes of the output gradient, filter rotated). */
static void backward_channel(float *din, float *dfilter, int64_t drow_stride, const float *dout,
                             const float *in, const float *filter, int64_t row_stride,
                             const sn_conv2d_dims *d, sn_plane_scratch *scratch)
{
    const sn_plane_geometry f = forward_geometry(d), ig = input_gradient_geometry(d);
    const int64_t fband = sn_plane_band_rows(&f), iband = sn_plane_band_rows(&ig);
    const int64_t in_plane = d->in_height * d->in_width, out_plane = f.out_rows * f.out_cols;
    sn_plane_taps(scratch, &f, fband, filter, row_stride, 0);
    sn_plane_tap_gradients_begin(scratch);
    for (int64_t n = 0; n < d->batch; n++)
        for (int64_t row0 = 0; row0 < f.out_rows; row0 += fband) {
            const int64_t rows = min64(fband, f.out_rows - row0);
            sn_plane_fill(scratch, &f, in + n * in_plane, row0, rows);
            sn_plane_tap_gradients(scratch, &f, dout + n * out_plane, row0, rows);
        }
    sn_plane_tap_gradients_end(dfilter, drow_stride, scratch, &f);
    if (din == NULL)
        return;
    sn_plane_taps(scratch, &ig, iband, filter, row_stride, 1);
    for (int64_t n = 0; n < d->batch; n++)
        for (int64_t row0 = 0; row0 < ig.out_rows; row0 += iband) {
            const int64_t rows = min64(iband, ig.out_rows - row0);
            sn_plane_fill(scratch, &ig, dout + n * out_plane, row0, rows);
            sn_plane_correlate(din + n * in_plane, scratch, &ig, row0, rows, 0.0f);
        }
}

void sn_depthwise_conv2d_backward(float *din, sn_kernel_view dweight, float *dbias,
                                  const float *dout, const float *in, sn_kernel_view weight,
                                  const sn_conv2d_dims *d)
{
    const sn_plane_geometry f = forward_geometry(d), ig = input_gradient_geometry(d);
    const int64_t per_channel = d->batch * f.out_rows * f.out_cols;
    if (dbias != NULL)
        for (int64_t c = 0; c < d->in_channels; c++)
            dbias[c] += (float)sn_row_sum_f64(dout + c * per_channel, per_channel);
    if (sn_plane_band_rows(&f) == 0 || ig.pad < 0 || sn_plane_band_rows(&ig) == 0) {
        backward_rows(din, dweight, dout, in, weight, d);
        return;
    }
    const int64_t in_per_channel = d->batch * d->in_height * d->in_width;
    sn_plane_scratch scratch;
    for (int64_t c = 0; c < d->in_channels; c++)
        backward_channel(din != NULL ? din + c * in_per_channel : NULL,
                         dweight.data + c * dweight.channel_stride, dweight.row_stride,
                         dout + c * per_channel, in + c * in_per_channel,
                         weight.data + c * weight.channel_stride, weight.row_stride, d, &scratch);
}
