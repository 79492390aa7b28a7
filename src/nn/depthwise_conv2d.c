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
 *
 * Same-padded stride-1 layers (the supernets' inner blocks) take the shortcut
 * of conv_window.h: a tap is one loop over the plane, shifted. The pixels it
 * wraps round a row edge must not be touched, so their few output (or input
 * gradient) values are saved before the loop and put back after it, which
 * leaves every other value computed exactly as the row-by-row loop does. On
 * 14x14 and smaller maps the row loops were mostly loop overhead (a 4x4 map
 * has 4-float rows): the shortcut made the CNN supernet's step ~2x faster.
 */
#include "shiftnas/nn.h"

#include <string.h>

#include "nn/conv_window.h"
#include "nn/simd.h"

/* Wrapped pixels saved per tap: (rows - 1) * (k - 1) at most. Larger
 * layers take the row-by-row path. */
enum { WRAPPED_MAX = 1024 };


static int can_shift(const sn_conv2d_dims *d, int64_t oh, int64_t ow)
{
    return sn_conv_is_same_stride1(d, oh, ow) &&
           (d->in_height - 1) * (int64_t)(d->kernel - 1) <= WRAPPED_MAX;
}

/* saved[m] = plane[wrapped pixel m + offset], or the reverse when restoring. */
static void save_wrapped(float *saved, const float *plane, const sn_same_tap *t, int64_t w,
                         int64_t offset)
{
    const int64_t wrapped = sn_same_tap_wrapped_count(t);
    for (int64_t r = 0, m = 0; m < wrapped; r++)
        for (int64_t u = 0; u < t->span; u++, m++)
            saved[m] = plane[sn_same_tap_wrapped(t, w, r, u) + offset];
}

static void restore_wrapped(float *plane, const float *saved, const sn_same_tap *t, int64_t w,
                            int64_t offset)
{
    const int64_t wrapped = sn_same_tap_wrapped_count(t);
    for (int64_t r = 0, m = 0; m < wrapped; r++)
        for (int64_t u = 0; u < t->span; u++, m++)
            plane[sn_same_tap_wrapped(t, w, r, u) + offset] = saved[m];
}

/* dst[q] += tap * src[q + shift] over the tap's range, wrapped pixels kept. */
SN_WIDEST_VECTORS
static void forward_shifted_plane(float *dst, const float *src, const float *filter,
                                  int64_t row_stride, const sn_conv2d_dims *d)
{
    const int k = d->kernel;
    const int64_t w = d->in_width;
    float saved[WRAPPED_MAX];
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < k; j++) {
            const sn_same_tap t = sn_same_tap_range(d, i, j);
            if (t.begin >= t.end)
                continue;
            save_wrapped(saved, dst, &t, w, 0);
            sn_row_axpy(dst + t.begin, src + t.begin + t.shift, filter[i * row_stride + j],
                        t.end - t.begin);
            restore_wrapped(dst, saved, &t, w, 0);
        }
    }
}

/* The backward of forward_shifted_plane for one plane: adds each tap's
 * gradient to dfilter and, if dsrc != NULL, the input gradient to dsrc. */
SN_WIDEST_VECTORS
static void backward_shifted_plane(float *dsrc, float *dfilter, int64_t dfilter_row_stride,
                                   const float *g, const float *src, const float *filter,
                                   int64_t row_stride, const sn_conv2d_dims *d)
{
    const int k = d->kernel;
    const int64_t w = d->in_width;
    float saved[WRAPPED_MAX];
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < k; j++) {
            const sn_same_tap t = sn_same_tap_range(d, i, j);
            if (t.begin >= t.end)
                continue;
            /* The contiguous dot includes the wrapped pixels' products, which
             * are then taken out again (a float sum either way). */
            float tap_grad = sn_row_dot(g + t.begin, src + t.begin + t.shift, t.end - t.begin);
            for (int64_t r = 0; r < t.y_hi - 1 - t.y_lo; r++)
                for (int64_t u = 0; u < t.span; u++) {
                    int64_t q = sn_same_tap_wrapped(&t, w, r, u);
                    tap_grad -= g[q] * src[q + t.shift];
                }
            dfilter[i * dfilter_row_stride + j] += tap_grad;
            if (dsrc == NULL)
                continue;
            save_wrapped(saved, dsrc, &t, w, t.shift);
            sn_row_axpy(dsrc + t.begin + t.shift, g + t.begin, filter[i * row_stride + j],
                        t.end - t.begin);
            restore_wrapped(dsrc, saved, &t, w, t.shift);
        }
    }
}

SN_WIDEST_VECTORS
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
            if (can_shift(d, oh, ow)) {
                forward_shifted_plane(dst, src, filter, weight.row_stride, d);
                continue;
            }
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
            if (can_shift(d, oh, ow)) {
                backward_shifted_plane(dsrc, dfilter, dweight.row_stride, g, src, filter,
                                       weight.row_stride, d);
                continue;
            }
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
