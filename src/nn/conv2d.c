/*
 * Dense and grouped 2-D convolution on channel-major [C, N, H, W] activations.
 *
 * Each group is one product over the whole batch: im2col lays the group's
 * receptive fields out as col [(Cin/g)*k*k, N*OH*OW], so that
 *     out_g [Cout/g, N*OH*OW] = W_g [Cout/g, (Cin/g)*k*k] * col
 * and, because activations are channel-major, out_g is simply the next
 * Cout/g channels of `out`. A 1x1, stride 1, unpadded convolution's col would
 * be the input itself, so it multiplies the input directly.
 */
#include "shiftnas/nn.h"
#include "shiftnas/error.h"

#include <assert.h>
#include <string.h>

#include "nn/conv_window.h"
#include "nn/simd.h"

int64_t sn_conv2d_out_size(int64_t in, int kernel, int stride, int padding)
{
    int64_t span = in + 2 * (int64_t)padding - kernel;
    /* C division truncates towards zero: a window that never fits would
     * otherwise report one output. */
    if (span < 0 || stride < 1)
        return 0;
    return span / stride + 1;
}

int sn_conv2d_dims_check(const sn_conv2d_dims *d)
{
    if (d->batch < 1 || d->in_channels < 1 || d->out_channels < 1 || d->in_height < 1 ||
        d->in_width < 1)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "conv2d: batch %lld, channels %lld -> %lld, input %lldx%lld must all "
                            "be positive",
                            (long long)d->batch, (long long)d->in_channels,
                            (long long)d->out_channels, (long long)d->in_height,
                            (long long)d->in_width);
    if (d->kernel < 1 || d->stride < 1 || d->padding < 0 || d->groups < 1)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "conv2d: kernel %d, stride %d, groups %d must be positive and padding "
                            "%d non-negative",
                            d->kernel, d->stride, d->groups, d->padding);
    if (d->in_channels % d->groups != 0 || d->out_channels % d->groups != 0)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "conv2d: channels %lld -> %lld not divisible by %d groups",
                            (long long)d->in_channels, (long long)d->out_channels, d->groups);
    if (sn_conv2d_out_size(d->in_height, d->kernel, d->stride, d->padding) < 1 ||
        sn_conv2d_out_size(d->in_width, d->kernel, d->stride, d->padding) < 1)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "conv2d: a %d x %d kernel with padding %d does not fit a %lld x %lld "
                            "input",
                            d->kernel, d->kernel, d->padding, (long long)d->in_height,
                            (long long)d->in_width);
    return SN_OK;
}

static int is_pointwise(const sn_conv2d_dims *d)
{
    return d->kernel == 1 && d->stride == 1 && d->padding == 0;
}

int64_t sn_conv2d_workspace_floats(const sn_conv2d_dims *d)
{
    if (is_pointwise(d))
        return 0;
    int64_t oh = sn_conv2d_out_size(d->in_height, d->kernel, d->stride, d->padding);
    int64_t ow = sn_conv2d_out_size(d->in_width, d->kernel, d->stride, d->padding);
    return d->in_channels / d->groups * d->kernel * d->kernel * d->batch * oh * ow;
}

/* col [channels*k*k, N*OH*OW] from in [channels, N, H, W]; padding reads 0. */
static void im2col(float *col, const float *in, int64_t channels, const sn_conv2d_dims *d,
                   int64_t oh, int64_t ow)
{
    const int k = d->kernel, s = d->stride, p = d->padding;
    const int64_t h = d->in_height, w = d->in_width, images = d->batch;
    const int64_t plane = h * w, out_plane = oh * ow, pixels = images * out_plane;
    for (int64_t c = 0; c < channels; c++) {
        for (int i = 0; i < k; i++) {
            int64_t y_lo, y_hi;
            sn_conv_window_range(h, oh, s, p, i, &y_lo, &y_hi);
            for (int j = 0; j < k; j++) {
                int64_t x_lo, x_hi;
                sn_conv_window_range(w, ow, s, p, j, &x_lo, &x_hi);
                const int64_t shift = (int64_t)j - p; /* input x = ox*s + shift */
                float *dst_row = col + ((c * k + i) * k + j) * pixels;
                for (int64_t n = 0; n < images; n++) {
                    const float *src = in + (c * images + n) * plane;
                    float *dst = dst_row + n * out_plane;
                    memset(dst, 0, (size_t)(y_lo * ow) * sizeof(float));
                    for (int64_t oy = y_lo; oy < y_hi; oy++) {
                        const float *src_y = src + (oy * s - p + i) * w;
                        float *dst_y = dst + oy * ow;
                        for (int64_t ox = 0; ox < x_lo; ox++)
                            dst_y[ox] = 0.0f;
                        if (s == 1) {
                            memcpy(dst_y + x_lo, src_y + x_lo + shift,
                                   (size_t)(x_hi - x_lo) * sizeof(float));
                        } else {
                            for (int64_t ox = x_lo; ox < x_hi; ox++)
                                dst_y[ox] = src_y[ox * s + shift];
                        }
                        for (int64_t ox = x_hi; ox < ow; ox++)
                            dst_y[ox] = 0.0f;
                    }
                    memset(dst + y_hi * ow, 0, (size_t)((oh - y_hi) * ow) * sizeof(float));
                }
            }
        }
    }
}

/* din [channels, N, H, W] = the sum of col's entries over the windows that
 * read each input (the adjoint of im2col); din is overwritten. */
static void col2im(float *din, const float *col, int64_t channels, const sn_conv2d_dims *d,
                   int64_t oh, int64_t ow)
{
    const int k = d->kernel, s = d->stride, p = d->padding;
    const int64_t h = d->in_height, w = d->in_width, images = d->batch;
    const int64_t plane = h * w, out_plane = oh * ow, pixels = images * out_plane;
    memset(din, 0, (size_t)(channels * images * plane) * sizeof(float));
    for (int64_t c = 0; c < channels; c++) {
        for (int i = 0; i < k; i++) {
            int64_t y_lo, y_hi;
            sn_conv_window_range(h, oh, s, p, i, &y_lo, &y_hi);
            for (int j = 0; j < k; j++) {
                int64_t x_lo, x_hi;
                sn_conv_window_range(w, ow, s, p, j, &x_lo, &x_hi);
                const int64_t shift = (int64_t)j - p;
                const float *src_row = col + ((c * k + i) * k + j) * pixels;
                for (int64_t n = 0; n < images; n++) {
                    float *dst = din + (c * images + n) * plane;
                    const float *src = src_row + n * out_plane;
                    for (int64_t oy = y_lo; oy < y_hi; oy++) {
                        float *dst_y = dst + (oy * s - p + i) * w;
                        const float *src_y = src + oy * ow;
                        if (s == 1) {
                            sn_row_add(dst_y + x_lo + shift, src_y + x_lo, x_hi - x_lo);
                        } else {
                            for (int64_t ox = x_lo; ox < x_hi; ox++)
                                dst_y[ox * s + shift] += src_y[ox];
                        }
                    }
                }
            }
        }
    }
}

/* Rows [first, first + rows) of a weight view, all of its columns. */
static sn_matrix view_rows(sn_matrix m, int64_t first, int64_t rows)
{
    sn_matrix v = {m.data + first * m.row_stride, rows, m.cols, m.row_stride, m.col_stride};
    return v;
}

void sn_conv2d_forward(float *out, const float *in, sn_matrix weight, const float *bias,
                       const sn_conv2d_dims *d, float *workspace)
{
    const int64_t oh = sn_conv2d_out_size(d->in_height, d->kernel, d->stride, d->padding);
    const int64_t ow = sn_conv2d_out_size(d->in_width, d->kernel, d->stride, d->padding);
    const int64_t pixels = d->batch * oh * ow;
    const int64_t in_group = d->in_channels / d->groups, out_group = d->out_channels / d->groups;
    const int64_t taps = in_group * d->kernel * d->kernel;
    const int64_t in_block = in_group * d->batch * d->in_height * d->in_width;
    assert(weight.rows == d->out_channels && weight.cols == taps);
    for (int g = 0; g < d->groups; g++) {
        const float *in_g = in + g * in_block;
        sn_matrix col;
        if (is_pointwise(d)) {
            col = sn_matrix_make((float *)in_g, in_group, pixels, pixels);
        } else {
            im2col(workspace, in_g, in_group, d, oh, ow);
            col = sn_matrix_make(workspace, taps, pixels, pixels);
        }
        sn_gemm(1.0f, view_rows(weight, g * out_group, out_group), col, 0.0f,
                sn_matrix_make(out + g * out_group * pixels, out_group, pixels, pixels));
    }
    if (bias != NULL) {
        for (int64_t o = 0; o < d->out_channels; o++)
            sn_row_add_scalar(out + o * pixels, bias[o], pixels);
    }
}

void sn_conv2d_backward(float *din, sn_matrix dweight, float *dbias, const float *dout,
                        const float *in, sn_matrix weight, const sn_conv2d_dims *d,
                        float *workspace)
{
    const int64_t oh = sn_conv2d_out_size(d->in_height, d->kernel, d->stride, d->padding);
    const int64_t ow = sn_conv2d_out_size(d->in_width, d->kernel, d->stride, d->padding);
    const int64_t pixels = d->batch * oh * ow;
    const int64_t in_group = d->in_channels / d->groups, out_group = d->out_channels / d->groups;
    const int64_t taps = in_group * d->kernel * d->kernel;
    const int64_t in_block = in_group * d->batch * d->in_height * d->in_width;
    assert(weight.rows == d->out_channels && weight.cols == taps);
    assert(dweight.rows == d->out_channels && dweight.cols == taps);
    if (dbias != NULL) {
        for (int64_t o = 0; o < d->out_channels; o++) {
            dbias[o] += (float)sn_row_sum_f64(dout + o * pixels, pixels);
        }
    }
    for (int g = 0; g < d->groups; g++) {
        const float *in_g = in + g * in_block;
        sn_matrix dout_g =
            sn_matrix_make((float *)dout + g * out_group * pixels, out_group, pixels, pixels);
        sn_matrix weight_g = view_rows(weight, g * out_group, out_group);
        sn_matrix dweight_g = view_rows(dweight, g * out_group, out_group);
        if (is_pointwise(d)) {
            sn_matrix in_mat = sn_matrix_make((float *)in_g, in_group, pixels, pixels);
            sn_gemm(1.0f, dout_g, sn_matrix_transpose(in_mat), 1.0f, dweight_g);
            if (din != NULL)
                sn_gemm(1.0f, sn_matrix_transpose(weight_g), dout_g, 0.0f,
                        sn_matrix_make(din + g * in_block, in_group, pixels, pixels));
            continue;
        }
        /* One buffer serves both products: col for dW, then dcol for din. */
        sn_matrix col = sn_matrix_make(workspace, taps, pixels, pixels);
        im2col(workspace, in_g, in_group, d, oh, ow);
        sn_gemm(1.0f, dout_g, sn_matrix_transpose(col), 1.0f, dweight_g);
        if (din != NULL) {
            sn_gemm(1.0f, sn_matrix_transpose(weight_g), dout_g, 0.0f, col);
            col2im(din + g * in_block, workspace, in_group, d, oh, ow);
        }
    }
}
