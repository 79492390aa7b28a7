/*
 * Dense and grouped 2-D convolution on channel-major [C, N, H, W] activations.
 *
 * Each group is one product over the whole batch: im2col lays the group's
 * receptive fields out as col [(Cin/g)*k*k, N*OH*OW], so that
 *     out_g [Cout/g, N*OH*OW] = W_g [Cout/g, (Cin/g)*k*k] * col
 * and, because activations are channel-major, out_g is simply the next
 * Cout/g channels of `out`. A 1x1, stride 1, unpadded convolution's col would
 * be the input itself, so it multiplies the input directly.
 *
 * The batch is taken in chunks of images whose col buffer is about 4 MiB:
 * col is written by im2col and read at once by the product's packing, so a
 * chunk that stays in cache saves two trips of the whole buffer through
 * memory (a 64-channel 3x3 layer at batch 128 would need 58 MB), and the
 * workspace shrinks by the same factor. The products stay large (a chunk is
 * still thousands of columns) and each output chunk is a strided view of the
 * channel-major output.
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

/* Images per im2col chunk: about 4 MiB of col, at least one image. */
static int64_t chunk_images(const sn_conv2d_dims *d, int64_t oh, int64_t ow)
{
    const int64_t target_floats = 1 << 20; /* 4 MiB: best of 1..16 MiB on this machine */
    int64_t per_image = d->in_channels / d->groups * d->kernel * d->kernel * oh * ow;
    int64_t chunk = per_image > 0 ? target_floats / per_image : d->batch;
    if (chunk < 1)
        chunk = 1;
    return chunk < d->batch ? chunk : d->batch;
}

int64_t sn_conv2d_workspace_floats(const sn_conv2d_dims *d)
{
    if (is_pointwise(d))
        return 0;
    int64_t oh = sn_conv2d_out_size(d->in_height, d->kernel, d->stride, d->padding);
    int64_t ow = sn_conv2d_out_size(d->in_width, d->kernel, d->stride, d->padding);
    return d->in_channels / d->groups * d->kernel * d->kernel * chunk_images(d, oh, ow) * oh * ow;
}

/* Zeroes the pixels of [t->begin, t->end) that lie outside [x_lo, x_hi): the
 * right end of each row and the left start of the next, `span` floats. For a
 * 3x3 kernel the span is one float, which is stored directly: GCC would turn
 * a loop into a memset call per row, costing more than the store. */
static void zero_wrapped(float *plane, const sn_same_tap *t, int64_t w)
{
    const int64_t span = (w - t->x_hi) + t->x_lo;
    if (span == 0)
        return;
    float *first = plane + t->y_lo * w + t->x_hi;
    const int64_t rows = t->y_hi - 1 - t->y_lo;
    if (span == 1) {
        for (int64_t r = 0; r < rows; r++)
            first[r * w] = 0.0f;
        return;
    }
    for (int64_t r = 0; r < rows; r++)
        memset(first + r * w, 0, (size_t)span * sizeof(float));
}

/* dst[x] = src[2x] for x in [0, n): stride-2 windows. Four outputs come from
 * two loads and one shuffle; the vector loop stops while at least one scalar
 * output is left, so its second load never reads past src[2(n-1)]. */
static void gather_stride2(float *dst, const float *src, int64_t n)
{
    int64_t x = 0;
    for (; x + 4 < n; x += 4) {
        sn_f32x4 a, b;
        memcpy(&a, src + 2 * x, sizeof a);
        memcpy(&b, src + 2 * x + 4, sizeof b);
        sn_f32x4 even = __builtin_shufflevector(a, b, 0, 2, 4, 6);
        memcpy(dst + x, &even, sizeof even);
    }
    for (; x < n; x++)
        dst[x] = src[2 * x];
}

/* col [channels*k*k, count*OH*OW] for images [first, first + count) of
 * in [channels, N, H, W]; padding reads 0. */
static void im2col(float *col, const float *in, int64_t channels, const sn_conv2d_dims *d,
                   int64_t oh, int64_t ow, int64_t first, int64_t count)
{
    const int k = d->kernel, s = d->stride, p = d->padding;
    const int64_t h = d->in_height, w = d->in_width, images = d->batch;
    const int64_t plane = h * w, out_plane = oh * ow, pixels = count * out_plane;
    const int same = sn_conv_is_same_stride1(d, oh, ow);
    for (int64_t c = 0; c < channels; c++) {
        for (int i = 0; i < k; i++) {
            int64_t y_lo, y_hi;
            sn_conv_window_range(h, oh, s, p, i, &y_lo, &y_hi);
            for (int j = 0; j < k; j++) {
                float *dst_row = col + ((c * k + i) * k + j) * pixels;
                if (same) {
                    const sn_same_tap t = sn_same_tap_range(d, i, j);
                    for (int64_t n = 0; n < count; n++) {
                        const float *src = in + (c * images + first + n) * plane;
                        float *dst = dst_row + n * plane;
                        memset(dst, 0, (size_t)t.begin * sizeof(float));
                        memcpy(dst + t.begin, src + t.begin + t.shift,
                               (size_t)(t.end - t.begin) * sizeof(float));
                        memset(dst + t.end, 0, (size_t)(plane - t.end) * sizeof(float));
                        zero_wrapped(dst, &t, w);
                    }
                    continue;
                }
                int64_t x_lo, x_hi;
                sn_conv_window_range(w, ow, s, p, j, &x_lo, &x_hi);
                const int64_t shift = (int64_t)j - p; /* input x = ox*s + shift */
                for (int64_t n = 0; n < count; n++) {
                    const float *src = in + (c * images + first + n) * plane;
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
                        } else if (s == 2) {
                            gather_stride2(dst_y + x_lo, src_y + 2 * x_lo + shift, x_hi - x_lo);
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

/* The same-padded stride-1 adjoint of im2col: the centre tap reads every
 * pixel unshifted, so it overwrites din (no zeroing pass); each other tap
 * adds its row, shifted, after its wrapped pixels are zeroed in col (col is
 * scratch, and those entries are gradients of padding, which no input gets). */
static void col2im_same(float *din, float *col, int64_t channels, const sn_conv2d_dims *d,
                        int64_t first, int64_t count)
{
    const int k = d->kernel, p = d->padding;
    const int64_t w = d->in_width, images = d->batch;
    const int64_t plane = d->in_height * w, pixels = count * plane;
    for (int64_t c = 0; c < channels; c++) {
        float *din_c = din + (c * images + first) * plane;
        memcpy(din_c, col + ((c * k + p) * k + p) * pixels, (size_t)pixels * sizeof(float));
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                if (i == p && j == p)
                    continue;
                const sn_same_tap t = sn_same_tap_range(d, i, j);
                float *src_row = col + ((c * k + i) * k + j) * pixels;
                for (int64_t n = 0; n < count; n++) {
                    float *src = src_row + n * plane;
                    zero_wrapped(src, &t, w);
                    sn_row_add(din_c + n * plane + t.begin + t.shift, src + t.begin,
                               t.end - t.begin);
                }
            }
        }
    }
}

/* Overwrites din's images [first, first + count) [channels, N, H, W] with the
 * sum of col's entries over the windows that read each input (the adjoint of
 * im2col, col as im2col lays it out). col is scratch and may be changed. */
static void col2im(float *din, float *col, int64_t channels, const sn_conv2d_dims *d,
                   int64_t oh, int64_t ow, int64_t first, int64_t count)
{
    if (sn_conv_is_same_stride1(d, oh, ow)) {
        col2im_same(din, col, channels, d, first, count);
        return;
    }
    const int k = d->kernel, s = d->stride, p = d->padding;
    const int64_t h = d->in_height, w = d->in_width, images = d->batch;
    const int64_t plane = h * w, out_plane = oh * ow, pixels = count * out_plane;
    for (int64_t c = 0; c < channels; c++)
        memset(din + (c * images + first) * plane, 0, (size_t)(count * plane) * sizeof(float));
    for (int64_t c = 0; c < channels; c++) {
        for (int i = 0; i < k; i++) {
            int64_t y_lo, y_hi;
            sn_conv_window_range(h, oh, s, p, i, &y_lo, &y_hi);
            for (int j = 0; j < k; j++) {
                int64_t x_lo, x_hi;
                sn_conv_window_range(w, ow, s, p, j, &x_lo, &x_hi);
                const int64_t shift = (int64_t)j - p;
                const float *src_row = col + ((c * k + i) * k + j) * pixels;
                for (int64_t n = 0; n < count; n++) {
                    float *dst = din + (c * images + first + n) * plane;
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
        sn_matrix weight_g = view_rows(weight, g * out_group, out_group);
        float *out_g = out + g * out_group * pixels;
        if (is_pointwise(d)) {
            sn_gemm(1.0f, weight_g, sn_matrix_make((float *)in_g, in_group, pixels, pixels), 0.0f,
                    sn_matrix_make(out_g, out_group, pixels, pixels));
            continue;
        }
        const int64_t chunk = chunk_images(d, oh, ow), out_plane = oh * ow;
        for (int64_t first = 0; first < d->batch; first += chunk) {
            int64_t count = d->batch - first < chunk ? d->batch - first : chunk;
            int64_t columns = count * out_plane;
            im2col(workspace, in_g, in_group, d, oh, ow, first, count);
            sn_gemm(1.0f, weight_g, sn_matrix_make(workspace, taps, columns, columns), 0.0f,
                    sn_matrix_make(out_g + first * out_plane, out_group, columns, pixels));
        }
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
        /* One buffer serves both products of a chunk: col for dW, then dcol for din. */
        const int64_t chunk = chunk_images(d, oh, ow), out_plane = oh * ow;
        for (int64_t first = 0; first < d->batch; first += chunk) {
            int64_t count = d->batch - first < chunk ? d->batch - first : chunk;
            int64_t columns = count * out_plane;
            sn_matrix col = sn_matrix_make(workspace, taps, columns, columns);
            sn_matrix dout_chunk = sn_matrix_make(dout_g.data + first * out_plane, out_group,
                                                  columns, pixels);
            im2col(workspace, in_g, in_group, d, oh, ow, first, count);
            sn_gemm(1.0f, dout_chunk, sn_matrix_transpose(col), 1.0f, dweight_g);
            if (din != NULL) {
                sn_gemm(1.0f, sn_matrix_transpose(weight_g), dout_chunk, 0.0f, col);
                col2im(din + g * in_block, workspace, in_group, d, oh, ow, first, count);
            }
        }
    }
}
