/*
 * nn layers for convolutional networks: dense/grouped and depthwise
 * convolution, batch norm, activations, pooling, residual adds, dropout and
 * drop-path. Forward passes are compared with naive references or closed
 * forms, backward passes with finite differences (gradcheck.h), and the
 * conventions of nn.h are checked directly: input gradients are overwritten,
 * parameter gradients accumulate, and a sliced weight view reads and writes
 * nothing outside its slice.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "shiftnas/error.h"
#include "shiftnas/nn.h"
#include "shiftnas/rng.h"
#include "shiftnas/tensor.h"

/* Tolerances of the finite-difference checks. Convolutions, pooling, adds and
 * masks are linear in each checked variable, so the central difference is
 * exact but for float rounding of the probe: with h = 1e-2 and outputs of a few
 * units that is ~1e-4 absolute, hence rel 1e-2 plus abs 2e-3. Batch norm and
 * the activations are curved; h = 5e-3 (batch norm) and 1e-3 (activations,
 * evaluated at least 0.05 away from any kink) keep the truncation error below
 * 1e-4 for the same tolerances. */
#define LINEAR_H 1e-2
#define CURVED_H 1e-3
#define BN_H 5e-3
#define REL_TOL 1e-2
#define ABS_TOL 2e-3
#define MAX_CHECKED 400

static float *normal_floats(int64_t n, float scale, uint32_t item)
{
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(x);
    gradcheck_fill_normal(x, n, scale, item);
    return x;
}

static float *filled_floats(int64_t n, float value)
{
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(x);
    for (int64_t i = 0; i < n; i++)
        x[i] = value;
    return x;
}

static int64_t out_h(const sn_conv2d_dims *d)
{
    return sn_conv2d_out_size(d->in_height, d->kernel, d->stride, d->padding);
}

static int64_t out_w(const sn_conv2d_dims *d)
{
    return sn_conv2d_out_size(d->in_width, d->kernel, d->stride, d->padding);
}

static int64_t in_count(const sn_conv2d_dims *d)
{
    return d->in_channels * d->batch * d->in_height * d->in_width;
}

static int64_t out_count(const sn_conv2d_dims *d)
{
    return d->out_channels * d->batch * out_h(d) * out_w(d);
}

/* Direct convolution on [C, N, H, W]: weight[o][c][i][j] at
 * w[o*w_stride + (c*k + i)*k + j], c counted within o's group. Sums in double. */
static void naive_conv(float *out, const float *in, const float *w, int64_t w_stride,
                       const float *bias, const sn_conv2d_dims *d)
{
    const int64_t oh = out_h(d), ow = out_w(d), h = d->in_height, wd = d->in_width;
    const int64_t cin_g = d->in_channels / d->groups, cout_g = d->out_channels / d->groups;
    const int k = d->kernel;
    for (int64_t o = 0; o < d->out_channels; o++) {
        int64_t g = o / cout_g;
        for (int64_t n = 0; n < d->batch; n++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    double acc = bias != NULL ? bias[o] : 0.0;
                    for (int64_t c = 0; c < cin_g; c++)
                        for (int i = 0; i < k; i++)
                            for (int j = 0; j < k; j++) {
                                int64_t iy = oy * d->stride - d->padding + i;
                                int64_t ix = ox * d->stride - d->padding + j;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                                    continue;
                                int64_t ci = g * cin_g + c;
                                acc += (double)w[o * w_stride + (c * k + i) * k + j] *
                                       in[((ci * d->batch + n) * h + iy) * wd + ix];
                            }
                    out[((o * d->batch + n) * oh + oy) * ow + ox] = (float)acc;
                }
    }
}

static void assert_close(const float *got, const float *want, int64_t n, double tol,
                         const char *what)
{
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)got[i] - want[i]) <= tol * (1.0 + fabs((double)want[i])),
                      "%s[%lld]: got %.7g, want %.7g", what, (long long)i, got[i], want[i]);
}

/* ---- dimensions ---------------------------------------------------------- */

START_TEST(conv_sizes_and_dims_check)
{
    ck_assert_int_eq(sn_conv2d_out_size(32, 3, 1, 1), 32);
    ck_assert_int_eq(sn_conv2d_out_size(32, 3, 2, 1), 16);
    ck_assert_int_eq(sn_conv2d_out_size(7, 3, 2, 1), 4);
    ck_assert_int_eq(sn_conv2d_out_size(7, 5, 2, 2), 4);
    ck_assert_int_eq(sn_conv2d_out_size(2, 5, 2, 0), 0); /* window never fits */

    sn_conv2d_dims d = {2, 8, 12, 6, 6, 3, 1, 1, 4};
    ck_assert_int_eq(sn_conv2d_dims_check(&d), SN_OK);
    ck_assert_int_eq(sn_conv2d_workspace_floats(&d), (8 / 4) * 9 * 2 * 6 * 6);
    d.stride = 2;
    ck_assert_int_eq(sn_conv2d_workspace_floats(&d), (8 / 4) * 9 * 2 * 3 * 3);
    sn_conv2d_dims pointwise = {2, 8, 12, 6, 6, 1, 1, 0, 1};
    ck_assert_int_eq(sn_conv2d_workspace_floats(&pointwise), 0);
    pointwise.stride = 2; /* subsampling needs the gather */
    ck_assert_int_eq(sn_conv2d_workspace_floats(&pointwise), 8 * 2 * 3 * 3);

    sn_conv2d_dims bad = d;
    bad.groups = 3; /* 8 input channels */
    ck_assert_int_eq(sn_conv2d_dims_check(&bad), SN_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "groups"));
    bad = d;
    bad.kernel = 9;
    bad.padding = 0;
    ck_assert_int_eq(sn_conv2d_dims_check(&bad), SN_ERR_ARGUMENT);
    bad = d;
    bad.stride = 0;
    ck_assert_int_eq(sn_conv2d_dims_check(&bad), SN_ERR_ARGUMENT);
    bad = d;
    bad.batch = 0;
    ck_assert_int_eq(sn_conv2d_dims_check(&bad), SN_ERR_ARGUMENT);
}
END_TEST

/* ---- dense convolution ----------------------------------------------------- */

typedef struct {
    sn_conv2d_dims d;
    int64_t big_rows, big_cols; /* the weight buffer; the view is its top-left block */
    int bias;
} dense_config;

typedef struct {
    sn_conv2d_dims d;
    float *in, *weight_buf, *bias, *out, *r, *ws;
    sn_matrix weight;
} dense_case;

static int64_t dense_taps(const sn_conv2d_dims *d)
{
    return d->in_channels / d->groups * d->kernel * d->kernel;
}

static void dense_case_init(dense_case *t, const dense_config *cfg, uint32_t item)
{
    t->d = cfg->d;
    ck_assert_int_eq(sn_conv2d_dims_check(&t->d), SN_OK);
    ck_assert_int_ge(cfg->big_rows, t->d.out_channels);
    ck_assert_int_ge(cfg->big_cols, dense_taps(&t->d));
    t->in = normal_floats(in_count(&t->d), 1.0f, item);
    /* The whole buffer is random, so a read outside the view would show. */
    t->weight_buf = normal_floats(cfg->big_rows * cfg->big_cols, 0.5f, item + 1);
    t->weight = sn_matrix_make(t->weight_buf, t->d.out_channels, dense_taps(&t->d),
                               cfg->big_cols);
    t->bias = cfg->bias ? normal_floats(t->d.out_channels, 0.5f, item + 2) : NULL;
    t->out = filled_floats(out_count(&t->d), NAN);
    t->r = normal_floats(out_count(&t->d), 1.0f, item + 3);
    int64_t ws = sn_conv2d_workspace_floats(&t->d);
    t->ws = ws > 0 ? filled_floats(ws, NAN) : NULL;
}

static void dense_case_free(dense_case *t)
{
    free(t->in);
    free(t->weight_buf);
    free(t->bias);
    free(t->out);
    free(t->r);
    free(t->ws);
}

static double dense_loss(void *context)
{
    dense_case *t = context;
    sn_conv2d_forward(t->out, t->in, t->weight, t->bias, &t->d, t->ws);
    return gradcheck_probe(t->out, t->r, out_count(&t->d));
}

static const dense_config dense_configs[] = {
    /* batch, cin, cout, h, w, kernel, stride, padding, groups */
    {{2, 3, 4, 5, 6, 3, 1, 1, 1}, 4, 27, 1},   /* k=3 s=1 p=1, bias */
    {{2, 3, 4, 7, 6, 3, 2, 1, 1}, 4, 27, 0},   /* k=3 s=2 p=1, no bias */
    {{2, 5, 3, 4, 3, 1, 1, 0, 1}, 3, 5, 1},    /* 1x1: direct product */
    {{2, 4, 2, 5, 5, 1, 2, 0, 1}, 2, 4, 0},    /* 1x1 stride 2: gathered */
    {{2, 4, 6, 5, 4, 3, 1, 1, 2}, 6, 18, 1},   /* grouped, groups=2 */
    {{2, 3, 4, 5, 5, 3, 1, 1, 1}, 7, 45, 0},   /* slice of a 7 x (5*9) weight */
    {{2, 4, 6, 6, 5, 3, 2, 1, 2}, 8, 36, 1},   /* grouped slice, stride 2 */
    {{2, 2, 4, 4, 4, 1, 1, 0, 2}, 6, 3, 1},    /* grouped 1x1 slice */
    {{1, 2, 3, 7, 7, 5, 2, 2, 1}, 3, 50, 0},   /* k=5 s=2 p=2 */
    {{1, 2, 3, 3, 21, 3, 1, 1, 1}, 3, 18, 1},  /* rows long enough for the 8-wide paths */
    {{2, 3, 4, 6, 23, 3, 2, 1, 1}, 4, 27, 1},  /* stride 2, rows long enough for the 4-wide gather */
    {{1, 2, 3, 9, 9, 5, 1, 2, 1}, 3, 50, 0},   /* k=5 same padding: 2-float wrapped spans */
    /* im2col works in chunks of ~2^20 col floats: these two take 2 chunks of
     * 2 + 1 images, and 2 chunks of 4 + 1 images per group. */
    {{3, 10, 4, 64, 64, 3, 1, 1, 1}, 4, 90, 1},
    {{5, 24, 6, 48, 48, 3, 1, 1, 2}, 6, 108, 0},
};
enum { DENSE_CONFIGS = sizeof dense_configs / sizeof dense_configs[0] };

/* Forward equals the direct 7-loop convolution, for every configuration. */
START_TEST(dense_forward_matches_naive)
{
    const dense_config *cfg = &dense_configs[_i];
    dense_case t;
    dense_case_init(&t, cfg, 100 + 10 * (uint32_t)_i);
    int64_t n_out = out_count(&t.d);
    float *want = malloc((size_t)n_out * sizeof(float));
    naive_conv(want, t.in, t.weight_buf, cfg->big_cols, t.bias, &t.d);
    sn_conv2d_forward(t.out, t.in, t.weight, t.bias, &t.d, t.ws);
    /* float products of <= 50 terms against a double sum */
    assert_close(t.out, want, n_out, 1e-5, "out");
    free(want);
    dense_case_free(&t);
}
END_TEST

/* Input, weight and bias gradients against central differences. The weight
 * check runs over the whole (larger) buffer: outside the view the numeric
 * gradient is zero and so must the analytic one be. */
START_TEST(dense_gradients_match_finite_differences)
{
    const dense_config *cfg = &dense_configs[_i];
    dense_case t;
    dense_case_init(&t, cfg, 200 + 10 * (uint32_t)_i);
    int64_t n_in = in_count(&t.d), n_w = cfg->big_rows * cfg->big_cols;
    float *din = filled_floats(n_in, NAN); /* overwritten, never read */
    float *dweight_buf = filled_floats(n_w, 0.0f);
    float *dbias = filled_floats(t.d.out_channels, 0.0f);
    sn_matrix dweight = sn_matrix_make(dweight_buf, t.weight.rows, t.weight.cols, cfg->big_cols);
    sn_conv2d_backward(din, dweight, t.bias != NULL ? dbias : NULL, t.r, t.in, t.weight, &t.d,
                       t.ws);
    ck_assert_int_eq(gradcheck_compare("conv din", t.in, din, n_in, MAX_CHECKED, LINEAR_H,
                                       REL_TOL, ABS_TOL, dense_loss, &t), 0);
    ck_assert_int_eq(gradcheck_compare("conv dweight", t.weight_buf, dweight_buf, n_w,
                                       MAX_CHECKED, LINEAR_H, REL_TOL, ABS_TOL, dense_loss, &t),
                     0);
    if (t.bias != NULL)
        ck_assert_int_eq(gradcheck_compare("conv dbias", t.bias, dbias, t.d.out_channels,
                                           MAX_CHECKED, LINEAR_H, REL_TOL, ABS_TOL, dense_loss,
                                           &t), 0);
    free(din);
    free(dweight_buf);
    free(dbias);
    dense_case_free(&t);
}
END_TEST

/* A second backward doubles dweight and dbias and leaves din as it was.
 * With several im2col chunks the second pass adds its chunks one by one onto
 * the first pass's total, so the float sums associate differently: 1e-4
 * relative (sums of up to 12,288 products). */
START_TEST(dense_parameter_gradients_accumulate)
{
    const dense_config *cfg = &dense_configs[_i];
    dense_case t;
    dense_case_init(&t, cfg, 300 + 10 * (uint32_t)_i);
    int64_t n_in = in_count(&t.d), n_w = cfg->big_rows * cfg->big_cols;
    float *din1 = filled_floats(n_in, NAN), *din2 = filled_floats(n_in, 1e30f);
    float *dw = filled_floats(n_w, 0.0f), *dw1 = malloc((size_t)n_w * sizeof(float));
    float *db = filled_floats(t.d.out_channels, 0.0f), *db1 = malloc(sizeof(float) * 64);
    sn_matrix dweight = sn_matrix_make(dw, t.weight.rows, t.weight.cols, cfg->big_cols);
    sn_conv2d_backward(din1, dweight, db, t.r, t.in, t.weight, &t.d, t.ws);
    memcpy(dw1, dw, (size_t)n_w * sizeof(float));
    memcpy(db1, db, (size_t)t.d.out_channels * sizeof(float));
    sn_conv2d_backward(din2, dweight, db, t.r, t.in, t.weight, &t.d, t.ws);
    for (int64_t i = 0; i < n_w; i++)
        ck_assert_float_eq_tol(dw[i], 2.0f * dw1[i], 1e-4f * (1.0f + fabsf(dw1[i])));
    for (int64_t o = 0; o < t.d.out_channels; o++)
        ck_assert_float_eq_tol(db[o], 2.0f * db1[o], 1e-5f * (1.0f + fabsf(db1[o])));
    for (int64_t i = 0; i < n_in; i++) {
        ck_assert(isfinite(din1[i]));
        ck_assert_float_eq(din2[i], din1[i]);
    }
    /* din may be NULL: the parameter gradients are still accumulated. */
    sn_conv2d_backward(NULL, dweight, NULL, t.r, t.in, t.weight, &t.d, t.ws);
    for (int64_t i = 0; i < n_w; i++)
        ck_assert_float_eq_tol(dw[i], 3.0f * dw1[i], 1e-4f * (1.0f + fabsf(dw1[i])));
    free(din1);
    free(din2);
    free(dw);
    free(dw1);
    free(db);
    free(db1);
    dense_case_free(&t);
}
END_TEST

/* A slice of a larger weight computes what a standalone copy of the slice
 * computes, and backward into a sliced gradient view leaves every float
 * outside the slice untouched. Uses the configurations with big_cols > taps. */
START_TEST(dense_sliced_weight_stays_inside_its_slice)
{
    static const int sliced[] = {5, 6, 7};
    const dense_config *cfg = &dense_configs[sliced[_i]];
    dense_case t;
    dense_case_init(&t, cfg, 400 + 10 * (uint32_t)_i);
    const int64_t rows = t.weight.rows, cols = t.weight.cols, big = cfg->big_rows * cfg->big_cols;
    ck_assert_int_gt(cfg->big_cols, cols);
    ck_assert_int_gt(cfg->big_rows, rows);
    float *compact = malloc((size_t)(rows * cols) * sizeof(float));
    for (int64_t o = 0; o < rows; o++)
        memcpy(compact + o * cols, t.weight_buf + o * cfg->big_cols, (size_t)cols * sizeof(float));
    sn_matrix compact_w = sn_matrix_make(compact, rows, cols, cols);
    int64_t n_out = out_count(&t.d), n_in = in_count(&t.d);
    float *out_compact = malloc((size_t)n_out * sizeof(float));
    sn_conv2d_forward(t.out, t.in, t.weight, t.bias, &t.d, t.ws);
    sn_conv2d_forward(out_compact, t.in, compact_w, t.bias, &t.d, t.ws);
    assert_close(t.out, out_compact, n_out, 1e-6, "sliced out");

    const float sentinel = -777.25f;
    float *dbig = filled_floats(big, sentinel);
    for (int64_t o = 0; o < rows; o++)
        for (int64_t c = 0; c < cols; c++)
            dbig[o * cfg->big_cols + c] = 0.0f;
    float *dcompact = filled_floats(rows * cols, 0.0f);
    float *din_big = malloc((size_t)n_in * sizeof(float));
    float *din_compact = malloc((size_t)n_in * sizeof(float));
    sn_conv2d_backward(din_big, sn_matrix_make(dbig, rows, cols, cfg->big_cols), NULL, t.r,
                       t.in, t.weight, &t.d, t.ws);
    sn_conv2d_backward(din_compact, sn_matrix_make(dcompact, rows, cols, cols), NULL, t.r, t.in,
                       compact_w, &t.d, t.ws);
    for (int64_t o = 0; o < cfg->big_rows; o++)
        for (int64_t c = 0; c < cfg->big_cols; c++) {
            float v = dbig[o * cfg->big_cols + c];
            if (o < rows && c < cols)
                ck_assert_float_eq_tol(v, dcompact[o * cols + c],
                                       1e-5f * (1.0f + fabsf(dcompact[o * cols + c])));
            else
                ck_assert_float_eq(v, sentinel);
        }
    assert_close(din_big, din_compact, n_in, 1e-5, "sliced din");
    free(compact);
    free(out_compact);
    free(dbig);
    free(dcompact);
    free(din_big);
    free(din_compact);
    dense_case_free(&t);
}
END_TEST

/* ---- depthwise convolution --------------------------------------------------- */

typedef struct {
    sn_conv2d_dims d;     /* in_channels == out_channels == groups */
    int big_kernel, crop; /* the buffer holds big_kernel^2 taps per channel; the
                             view starts at tap (crop, crop) */
    int bias;
} depthwise_config;

static const depthwise_config depthwise_configs[] = {
    {{2, 3, 3, 6, 5, 3, 1, 1, 3}, 3, 0, 1}, /* k=3 s=1 p=1 */
    {{2, 3, 3, 9, 8, 5, 2, 2, 3}, 5, 0, 0}, /* k=5 s=2 p=2 */
    {{2, 3, 3, 6, 6, 3, 1, 1, 3}, 5, 1, 1}, /* 3x3 centre of a 5x5 filter */
    {{2, 2, 2, 7, 7, 3, 2, 1, 2}, 7, 2, 0}, /* 3x3 centre of 7x7, stride 2 */
    {{1, 2, 2, 4, 21, 3, 1, 1, 2}, 5, 1, 1}, /* rows long enough for the 8-wide paths */
    {{1, 2, 2, 4, 21, 5, 1, 2, 2}, 5, 0, 0},
    {{2, 2, 2, 1, 6, 3, 1, 1, 2}, 3, 0, 1},   /* one-row planes: no wrapped pixels */
    {{1, 1, 1, 520, 2, 3, 1, 1, 1}, 3, 0, 0}, /* a tall, narrow plane */
    {{1, 1, 1, 200, 150, 5, 1, 2, 1}, 5, 0, 1}, /* several bands of rows per plane */
    {{1, 2, 2, 90, 181, 5, 2, 2, 2}, 7, 1, 0},  /* bands, stride 2, a crop, odd width */
    {{1, 1, 1, 3, 5000, 3, 1, 1, 1}, 3, 0, 0},  /* rows wider than the scratch: row loop */
    {{2, 1, 1, 6, 5, 3, 1, 3, 1}, 3, 0, 1},     /* padding wider than k - 1: row loop */
    {{2, 2, 2, 9, 7, 4, 2, 1, 2}, 5, 0, 1},     /* even kernel, stride 2, uneven padding */
};
enum { DEPTHWISE_CONFIGS = sizeof depthwise_configs / sizeof depthwise_configs[0] };

typedef struct {
    sn_conv2d_dims d;
    float *in, *kernel_buf, *bias, *out, *r;
    int64_t kernel_count;
    sn_kernel_view weight;
} depthwise_case;

static sn_kernel_view crop_view(float *buf, int big_kernel, int crop)
{
    sn_kernel_view v = {buf + crop * big_kernel + crop, (int64_t)big_kernel * big_kernel,
                        big_kernel};
    return v;
}

static void depthwise_case_init(depthwise_case *t, const depthwise_config *cfg, uint32_t item)
{
    t->d = cfg->d;
    ck_assert_int_eq(sn_conv2d_dims_check(&t->d), SN_OK);
    ck_assert_int_le(cfg->crop * 2 + t->d.kernel, cfg->big_kernel);
    t->in = normal_floats(in_count(&t->d), 1.0f, item);
    t->kernel_count = t->d.in_channels * cfg->big_kernel * cfg->big_kernel;
    t->kernel_buf = normal_floats(t->kernel_count, 0.5f, item + 1);
    t->weight = crop_view(t->kernel_buf, cfg->big_kernel, cfg->crop);
    t->bias = cfg->bias ? normal_floats(t->d.in_channels, 0.5f, item + 2) : NULL;
    t->out = filled_floats(out_count(&t->d), NAN);
    t->r = normal_floats(out_count(&t->d), 1.0f, item + 3);
}

static void depthwise_case_free(depthwise_case *t)
{
    free(t->in);
    free(t->kernel_buf);
    free(t->bias);
    free(t->out);
    free(t->r);
}

static double depthwise_loss(void *context)
{
    depthwise_case *t = context;
    sn_depthwise_conv2d_forward(t->out, t->in, t->weight, t->bias, &t->d);
    return gradcheck_probe(t->out, t->r, out_count(&t->d));
}

/* The view's taps copied into a compact [C, k*k] weight. */
static float *compact_kernel(const depthwise_case *t)
{
    const int k = t->d.kernel;
    float *w = malloc((size_t)(t->d.in_channels * k * k) * sizeof(float));
    for (int64_t c = 0; c < t->d.in_channels; c++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                w[(c * k + i) * k + j] =
                    t->weight.data[c * t->weight.channel_stride + i * t->weight.row_stride + j];
    return w;
}

START_TEST(depthwise_forward_matches_naive)
{
    depthwise_case t;
    depthwise_case_init(&t, &depthwise_configs[_i], 500 + 10 * (uint32_t)_i);
    float *w = compact_kernel(&t);
    int64_t n_out = out_count(&t.d);
    float *want = malloc((size_t)n_out * sizeof(float));
    /* depthwise is the grouped convolution with one channel per group */
    naive_conv(want, t.in, w, (int64_t)t.d.kernel * t.d.kernel, t.bias, &t.d);
    sn_depthwise_conv2d_forward(t.out, t.in, t.weight, t.bias, &t.d);
    assert_close(t.out, want, n_out, 1e-5, "depthwise out");
    free(w);
    free(want);
    depthwise_case_free(&t);
}
END_TEST

START_TEST(depthwise_gradients_match_finite_differences)
{
    depthwise_case t;
    depthwise_case_init(&t, &depthwise_configs[_i], 600 + 10 * (uint32_t)_i);
    int64_t n_in = in_count(&t.d);
    float *din = filled_floats(n_in, NAN);
    float *dkernel_buf = filled_floats(t.kernel_count, 0.0f);
    float *dbias = filled_floats(t.d.in_channels, 0.0f);
    const depthwise_config *cfg = &depthwise_configs[_i];
    sn_depthwise_conv2d_backward(din, crop_view(dkernel_buf, cfg->big_kernel, cfg->crop),
                                 t.bias != NULL ? dbias : NULL, t.r, t.in, t.weight, &t.d);
    ck_assert_int_eq(gradcheck_compare("depthwise din", t.in, din, n_in, MAX_CHECKED, LINEAR_H,
                                       REL_TOL, ABS_TOL, depthwise_loss, &t), 0);
    /* over the whole filter buffer: zero outside the crop */
    ck_assert_int_eq(gradcheck_compare("depthwise dweight", t.kernel_buf, dkernel_buf,
                                       t.kernel_count, MAX_CHECKED, LINEAR_H, REL_TOL, ABS_TOL,
                                       depthwise_loss, &t), 0);
    if (t.bias != NULL)
        ck_assert_int_eq(gradcheck_compare("depthwise dbias", t.bias, dbias, t.d.in_channels,
                                           MAX_CHECKED, LINEAR_H, REL_TOL, ABS_TOL,
                                           depthwise_loss, &t), 0);
    free(din);
    free(dkernel_buf);
    free(dbias);
    depthwise_case_free(&t);
}
END_TEST

/* A 3x3 centre crop of a 5x5 filter behaves as a standalone 3x3 filter holding
 * the same taps; its backward writes the centre 3x3 and nothing else. */
START_TEST(depthwise_centre_crop_equals_standalone_kernel)
{
    const depthwise_config *cfg = &depthwise_configs[2];
    depthwise_case t;
    depthwise_case_init(&t, cfg, 700);
    const int k = t.d.kernel, big = cfg->big_kernel;
    const int64_t channels = t.d.in_channels, n_out = out_count(&t.d), n_in = in_count(&t.d);
    float *w = compact_kernel(&t);
    sn_kernel_view standalone = {w, (int64_t)k * k, k};
    float *out_standalone = malloc((size_t)n_out * sizeof(float));
    sn_depthwise_conv2d_forward(t.out, t.in, t.weight, t.bias, &t.d);
    sn_depthwise_conv2d_forward(out_standalone, t.in, standalone, t.bias, &t.d);
    assert_close(t.out, out_standalone, n_out, 1e-6, "crop out");

    const float sentinel = 31.5f;
    float *dbig = filled_floats(t.kernel_count, sentinel);
    for (int64_t c = 0; c < channels; c++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                dbig[c * big * big + (cfg->crop + i) * big + cfg->crop + j] = 0.0f;
    float *dw = filled_floats(channels * k * k, 0.0f);
    float *din_crop = malloc((size_t)n_in * sizeof(float));
    float *din_standalone = malloc((size_t)n_in * sizeof(float));
    sn_kernel_view dstandalone = {dw, (int64_t)k * k, k};
    sn_depthwise_conv2d_backward(din_crop, crop_view(dbig, big, cfg->crop), NULL, t.r, t.in,
                                 t.weight, &t.d);
    sn_depthwise_conv2d_backward(din_standalone, dstandalone, NULL, t.r, t.in, standalone, &t.d);
    for (int64_t c = 0; c < channels; c++)
        for (int i = 0; i < big; i++)
            for (int j = 0; j < big; j++) {
                float v = dbig[(c * big + i) * big + j];
                int ci = i - cfg->crop, cj = j - cfg->crop;
                if (ci >= 0 && ci < k && cj >= 0 && cj < k) {
                    float want = dw[(c * k + ci) * k + cj];
                    ck_assert_float_eq_tol(v, want, 1e-6f * (1.0f + fabsf(want)));
                } else {
                    ck_assert_float_eq(v, sentinel);
                }
            }
    assert_close(din_crop, din_standalone, n_in, 1e-6, "crop din");
    free(w);
    free(out_standalone);
    free(dbig);
    free(dw);
    free(din_crop);
    free(din_standalone);
    depthwise_case_free(&t);
}
END_TEST

START_TEST(depthwise_parameter_gradients_accumulate)
{
    const depthwise_config *cfg = &depthwise_configs[_i];
    depthwise_case t;
    depthwise_case_init(&t, cfg, 800 + 10 * (uint32_t)_i);
    int64_t n_in = in_count(&t.d);
    float *din1 = filled_floats(n_in, NAN), *din2 = filled_floats(n_in, -1e30f);
    float *dk = filled_floats(t.kernel_count, 0.0f);
    float *dk1 = malloc((size_t)t.kernel_count * sizeof(float));
    float *db = filled_floats(t.d.in_channels, 0.0f), *db1 = malloc(sizeof(float) * 64);
    sn_kernel_view dview = crop_view(dk, cfg->big_kernel, cfg->crop);
    sn_depthwise_conv2d_backward(din1, dview, db, t.r, t.in, t.weight, &t.d);
    memcpy(dk1, dk, (size_t)t.kernel_count * sizeof(float));
    memcpy(db1, db, (size_t)t.d.in_channels * sizeof(float));
    sn_depthwise_conv2d_backward(din2, dview, db, t.r, t.in, t.weight, &t.d);
    for (int64_t i = 0; i < t.kernel_count; i++)
        ck_assert_float_eq_tol(dk[i], 2.0f * dk1[i], 1e-5f * (1.0f + fabsf(dk1[i])));
    for (int64_t c = 0; c < t.d.in_channels; c++)
        ck_assert_float_eq_tol(db[c], 2.0f * db1[c], 1e-5f * (1.0f + fabsf(db1[c])));
    for (int64_t i = 0; i < n_in; i++) {
        ck_assert(isfinite(din1[i]));
        ck_assert_float_eq(din2[i], din1[i]);
    }
    sn_depthwise_conv2d_backward(NULL, dview, NULL, t.r, t.in, t.weight, &t.d);
    for (int64_t i = 0; i < t.kernel_count; i++)
        ck_assert_float_eq_tol(dk[i], 3.0f * dk1[i], 1e-5f * (1.0f + fabsf(dk1[i])));
    free(din1);
    free(din2);
    free(dk);
    free(dk1);
    free(db);
    free(db1);
    depthwise_case_free(&t);
}
END_TEST

/* ---- batch norm ------------------------------------------------------------- */

typedef struct {
    int64_t channels, count;
    float *in, *gamma, *beta, *out, *mean, *inv_std, *r;
} bn_case;

static void bn_case_init(bn_case *t, int64_t channels, int64_t count, uint32_t item)
{
    t->channels = channels;
    t->count = count;
    t->in = normal_floats(channels * count, 1.5f, item);
    for (int64_t c = 0; c < channels; c++) /* per-channel offsets, so centring matters */
        for (int64_t i = 0; i < count; i++)
            t->in[c * count + i] += 0.7f * (float)c - 1.0f;
    t->gamma = normal_floats(channels, 0.5f, item + 1);
    for (int64_t c = 0; c < channels; c++)
        t->gamma[c] += 1.0f;
    t->beta = normal_floats(channels, 0.5f, item + 2);
    t->out = filled_floats(channels * count, NAN);
    t->mean = filled_floats(channels, NAN);
    t->inv_std = filled_floats(channels, NAN);
    t->r = normal_floats(channels * count, 1.0f, item + 3);
}

static void bn_case_free(bn_case *t)
{
    free(t->in);
    free(t->gamma);
    free(t->beta);
    free(t->out);
    free(t->mean);
    free(t->inv_std);
    free(t->r);
}

static double bn_loss(void *context)
{
    bn_case *t = context;
    sn_batchnorm_forward_train(t->out, t->mean, t->inv_std, t->in, t->gamma, t->beta, NULL, NULL,
                               t->channels, t->count, 0.1f, 1e-5f);
    return gradcheck_probe(t->out, t->r, t->channels * t->count);
}

START_TEST(batchnorm_gradients_match_finite_differences)
{
    bn_case t;
    bn_case_init(&t, 3, 2 * 3 * 3, 900); /* C=3, N=2, 3x3 */
    const int64_t n = t.channels * t.count;
    float *din = filled_floats(n, NAN);
    float *dgamma = filled_floats(t.channels, 0.0f), *dbeta = filled_floats(t.channels, 0.0f);
    bn_loss(&t); /* saved statistics for backward */
    sn_batchnorm_backward(din, dgamma, dbeta, t.r, t.in, t.gamma, t.mean, t.inv_std, t.channels,
                          t.count);
    ck_assert_int_eq(gradcheck_compare("bn din", t.in, din, n, MAX_CHECKED, BN_H, REL_TOL,
                                       ABS_TOL, bn_loss, &t), 0);
    ck_assert_int_eq(gradcheck_compare("bn dgamma", t.gamma, dgamma, t.channels, MAX_CHECKED,
                                       BN_H, REL_TOL, ABS_TOL, bn_loss, &t), 0);
    ck_assert_int_eq(gradcheck_compare("bn dbeta", t.beta, dbeta, t.channels, MAX_CHECKED, BN_H,
                                       REL_TOL, ABS_TOL, bn_loss, &t), 0);

    /* Accumulate and overwrite; din may alias dout. */
    float *din2 = malloc((size_t)n * sizeof(float));
    memcpy(din2, t.r, (size_t)n * sizeof(float));
    float g1[3], b1[3];
    memcpy(g1, dgamma, sizeof g1);
    memcpy(b1, dbeta, sizeof b1);
    sn_batchnorm_backward(din2, dgamma, dbeta, din2, t.in, t.gamma, t.mean, t.inv_std,
                          t.channels, t.count);
    for (int c = 0; c < 3; c++) {
        ck_assert_float_eq_tol(dgamma[c], 2.0f * g1[c], 1e-5f * (1.0f + fabsf(g1[c])));
        ck_assert_float_eq_tol(dbeta[c], 2.0f * b1[c], 1e-5f * (1.0f + fabsf(b1[c])));
    }
    assert_close(din2, din, n, 1e-6, "bn din aliasing dout");
    free(din);
    free(din2);
    free(dgamma);
    free(dbeta);
    bn_case_free(&t);
}
END_TEST

/* ---- batch norm fused with ReLU ---- */

static double bn_relu_loss(void *context)
{
    bn_case *t = context;
    sn_batchnorm_relu_forward_train(t->out, t->mean, t->inv_std, t->in, t->gamma, t->beta, NULL,
                                    NULL, t->channels, t->count, 0.1f, 1e-5f);
    return gradcheck_probe(t->out, t->r, t->channels * t->count);
}

/* Moves inputs whose normalised value lands near ReLU's kink away from it,
 * so that the central differences (h = BN_H) never straddle the kink; then
 * checks that none is left within `margin`. */
static void bn_relu_avoid_kink(bn_case *t, float margin)
{
    const int64_t n = t->channels * t->count;
    for (int round = 0; round < 4; round++) {
        sn_batchnorm_forward_train(t->out, t->mean, t->inv_std, t->in, t->gamma, t->beta, NULL,
                                   NULL, t->channels, t->count, 0.1f, 1e-5f);
        for (int64_t i = 0; i < n; i++)
            if (fabsf(t->out[i]) < 2.0f * margin)
                t->in[i] += t->out[i] < 0.0f ? -0.5f : 0.5f;
    }
    sn_batchnorm_forward_train(t->out, t->mean, t->inv_std, t->in, t->gamma, t->beta, NULL, NULL,
                               t->channels, t->count, 0.1f, 1e-5f);
    for (int64_t i = 0; i < n; i++)
        ck_assert_float_ge(fabsf(t->out[i]), margin);
}

START_TEST(batchnorm_relu_gradients_match_finite_differences)
{
    bn_case t;
    bn_case_init(&t, 3, 2 * 3 * 3, 970); /* C=3, N=2, 3x3 */
    bn_relu_avoid_kink(&t, 0.05f);
    const int64_t n = t.channels * t.count;
    float *din = filled_floats(n, NAN);
    float *dgamma = filled_floats(t.channels, 0.0f), *dbeta = filled_floats(t.channels, 0.0f);
    bn_relu_loss(&t);
    float *out = malloc((size_t)n * sizeof(float));
    memcpy(out, t.out, (size_t)n * sizeof(float));
    int positive = 0, zero = 0;
    for (int64_t i = 0; i < n; i++)
        positive += out[i] > 0.0f, zero += out[i] == 0.0f;
    ck_assert_int_gt(positive, 0); /* both sides of the kink are exercised */
    ck_assert_int_gt(zero, 0);
    sn_batchnorm_relu_backward(din, dgamma, dbeta, t.r, t.in, out, t.gamma, t.mean, t.inv_std,
                               t.channels, t.count);
    ck_assert_int_eq(gradcheck_compare("bn+relu din", t.in, din, n, MAX_CHECKED, BN_H, REL_TOL,
                                       ABS_TOL, bn_relu_loss, &t), 0);
    ck_assert_int_eq(gradcheck_compare("bn+relu dgamma", t.gamma, dgamma, t.channels,
                                       MAX_CHECKED, BN_H, REL_TOL, ABS_TOL, bn_relu_loss, &t), 0);
    ck_assert_int_eq(gradcheck_compare("bn+relu dbeta", t.beta, dbeta, t.channels, MAX_CHECKED,
                                       BN_H, REL_TOL, ABS_TOL, bn_relu_loss, &t), 0);
    free(out);
    free(din);
    free(dgamma);
    free(dbeta);
    bn_case_free(&t);
}
END_TEST

/* The fused layer is batch norm then ReLU: same outputs, running statistics
 * and gradients as the two layers one after the other (a long channel, so
 * the 8-wide paths and the scalar tails both run), with din aliasing dout. */
START_TEST(batchnorm_relu_equals_batchnorm_then_relu)
{
    bn_case t;
    bn_case_init(&t, 3, 203, 980);
    const int64_t n = t.channels * t.count;
    float *fused = malloc((size_t)n * sizeof(float)), *norm = malloc((size_t)n * sizeof(float));
    float *two = malloc((size_t)n * sizeof(float));
    float fused_mean[3], fused_inv_std[3], rm1[3] = {0.1f, 0.2f, 0.3f}, rv1[3] = {1, 2, 3};
    float rm2[3] = {0.1f, 0.2f, 0.3f}, rv2[3] = {1, 2, 3};
    sn_batchnorm_relu_forward_train(fused, fused_mean, fused_inv_std, t.in, t.gamma, t.beta, rm1,
                                    rv1, t.channels, t.count, 0.1f, 1e-5f);
    sn_batchnorm_forward_train(norm, t.mean, t.inv_std, t.in, t.gamma, t.beta, rm2, rv2,
                               t.channels, t.count, 0.1f, 1e-5f);
    sn_relu_forward(two, norm, n);
    assert_close(fused, two, n, 1e-6, "bn+relu forward (train)");
    ck_assert_mem_eq(fused_mean, t.mean, sizeof fused_mean);
    ck_assert_mem_eq(fused_inv_std, t.inv_std, sizeof fused_inv_std);
    ck_assert_mem_eq(rm1, rm2, sizeof rm1);
    ck_assert_mem_eq(rv1, rv2, sizeof rv1);

    float *fused_eval = malloc((size_t)n * sizeof(float));
    sn_batchnorm_relu_forward_eval(fused_eval, t.in, t.gamma, t.beta, rm1, rv1, t.channels,
                                   t.count, 1e-5f);
    sn_batchnorm_forward_eval(norm, t.in, t.gamma, t.beta, rm2, rv2, t.channels, t.count, 1e-5f);
    sn_relu_forward(two, norm, n);
    assert_close(fused_eval, two, n, 1e-6, "bn+relu forward (eval)");

    /* backward: the fused one in place on a copy of r, against ReLU then BN */
    sn_batchnorm_forward_train(norm, t.mean, t.inv_std, t.in, t.gamma, t.beta, NULL, NULL,
                               t.channels, t.count, 0.1f, 1e-5f);
    float *din_fused = malloc((size_t)n * sizeof(float)), *din_two = filled_floats(n, NAN);
    memcpy(din_fused, t.r, (size_t)n * sizeof(float));
    float dg1[3] = {0}, db1[3] = {0}, dg2[3] = {0}, db2[3] = {0};
    sn_batchnorm_relu_backward(din_fused, dg1, db1, din_fused, t.in, fused, t.gamma, t.mean,
                               t.inv_std, t.channels, t.count);
    sn_relu_backward(din_two, t.r, norm, n);
    sn_batchnorm_backward(din_two, dg2, db2, din_two, t.in, t.gamma, t.mean, t.inv_std,
                          t.channels, t.count);
    assert_close(din_fused, din_two, n, 1e-5, "bn+relu din");
    assert_close(dg1, dg2, 3, 1e-5, "bn+relu dgamma");
    assert_close(db1, db2, 3, 1e-5, "bn+relu dbeta");
    free(fused);
    free(norm);
    free(two);
    free(fused_eval);
    free(din_fused);
    free(din_two);
    bn_case_free(&t);
}
END_TEST

/* Before the affine, each channel of the training output has mean 0 and
 * (biased) variance var/(var+eps) ~ 1. */
START_TEST(batchnorm_train_normalises_each_channel)
{
    bn_case t;
    bn_case_init(&t, 4, 1000, 950);
    sn_batchnorm_forward_train(t.out, t.mean, t.inv_std, t.in, t.gamma, t.beta, NULL, NULL,
                               t.channels, t.count, 0.1f, 1e-5f);
    for (int64_t c = 0; c < t.channels; c++) {
        double sum = 0.0, sum_sq = 0.0;
        for (int64_t i = 0; i < t.count; i++) {
            double z = ((double)t.out[c * t.count + i] - t.beta[c]) / t.gamma[c];
            sum += z;
            sum_sq += z * z;
        }
        double mean = sum / (double)t.count, var = sum_sq / (double)t.count - mean * mean;
        /* float rounding of O(1) values: 1e-4; eps shifts var by ~1e-5 */
        ck_assert_double_lt(fabs(mean), 1e-4);
        ck_assert_double_lt(fabs(var - 1.0), 1e-3);
    }
    bn_case_free(&t);
}
END_TEST

/* Running statistics by hand: x = {1, 2, 3, 6}: mean 3, biased var 14/4,
 * unbiased var 14/3. With momentum 0.1 from (0.5, 2):
 * running_mean = 0.9*0.5 + 0.1*3 = 0.75, running_var = 0.9*2 + 0.1*14/3. */
START_TEST(batchnorm_running_statistics_by_hand)
{
    const float x[8] = {1, 2, 3, 6, 5, 5, 5, 5};
    float out[8], mean[2], inv_std[2];
    const float gamma[2] = {1, 1}, beta[2] = {0, 0};
    float running_mean[2] = {0.5f, 0.0f}, running_var[2] = {2.0f, 1.0f};
    const float eps = 1e-5f;
    sn_batchnorm_forward_train(out, mean, inv_std, x, gamma, beta, running_mean, running_var, 2, 4,
                               0.1f, eps);
    ck_assert_float_eq_tol(mean[0], 3.0f, 1e-6f);
    ck_assert_float_eq_tol(inv_std[0], (float)(1.0 / sqrt(3.5 + eps)), 1e-6f);
    ck_assert_float_eq_tol(running_mean[0], 0.75f, 1e-6f);
    ck_assert_float_eq_tol(running_var[0], (float)(1.8 + 0.1 * 14.0 / 3.0), 1e-6f);
    ck_assert_float_eq_tol(out[3], (float)(3.0 / sqrt(3.5 + eps)), 1e-5f);
    /* a constant channel: variance 0, output 0, running var decays */
    ck_assert_float_eq_tol(mean[1], 5.0f, 1e-6f);
    ck_assert_float_eq_tol(running_mean[1], 0.5f, 1e-6f);
    ck_assert_float_eq_tol(running_var[1], 0.9f, 1e-6f);
    for (int i = 4; i < 8; i++)
        ck_assert_float_eq_tol(out[i], 0.0f, 1e-6f);
    /* NULL running statistics: no update, same output */
    float out2[8];
    sn_batchnorm_forward_train(out2, mean, inv_std, x, gamma, beta, NULL, NULL, 2, 4, 0.1f, eps);
    ck_assert_mem_eq(out, out2, sizeof out);
}
END_TEST

START_TEST(batchnorm_eval_is_the_affine_formula)
{
    bn_case t;
    bn_case_init(&t, 3, 20, 960);
    const float rmean[3] = {0.3f, -1.2f, 2.0f}, rvar[3] = {0.5f, 2.0f, 1e-3f};
    const float eps = 1e-5f;
    sn_batchnorm_forward_eval(t.out, t.in, t.gamma, t.beta, rmean, rvar, 3, 20, eps);
    for (int64_t c = 0; c < 3; c++)
        for (int64_t i = 0; i < 20; i++) {
            double x = t.in[c * 20 + i];
            double want = t.gamma[c] * (x - rmean[c]) / sqrt((double)rvar[c] + eps) + t.beta[c];
            ck_assert_double_le(fabs(t.out[c * 20 + i] - want), 1e-5 * (1.0 + fabs(want)));
        }
    bn_case_free(&t);
}
END_TEST

/* ---- activations ------------------------------------------------------------ */

typedef void (*act_forward_fn)(float *, const float *, int64_t);
typedef void (*act_backward_fn)(float *, const float *, const float *, int64_t);

typedef struct {
    act_forward_fn forward;
    float *in, *out, *r;
    int64_t n;
} act_case;

static double act_loss(void *context)
{
    act_case *t = context;
    t->forward(t->out, t->in, t->n);
    return gradcheck_probe(t->out, t->r, t->n);
}

/* Checks an activation at n points of N(0, 2.5^2) moved at least 0.05 away
 * from each kink in `kinks`. */
static void check_activation(const char *name, act_forward_fn forward, act_backward_fn backward,
                             const float *kinks, int kink_count, uint32_t item)
{
    enum { N = 200 };
    act_case t = {forward, normal_floats(N, 2.5f, item), filled_floats(N, NAN),
                  normal_floats(N, 1.0f, item + 1), N};
    for (int i = 0; i < N; i++)
        for (int k = 0; k < kink_count; k++)
            if (fabsf(t.in[i] - kinks[k]) < 0.05f)
                t.in[i] = kinks[k] + (t.in[i] < kinks[k] ? -0.1f : 0.1f);
    float *din = filled_floats(N, NAN);
    backward(din, t.r, t.in, N);
    ck_assert_int_eq(gradcheck_compare(name, t.in, din, N, MAX_CHECKED, CURVED_H, REL_TOL,
                                       ABS_TOL, act_loss, &t), 0);
    /* din may alias dout */
    float *inplace = malloc(N * sizeof(float));
    memcpy(inplace, t.r, N * sizeof(float));
    backward(inplace, inplace, t.in, N);
    ck_assert_mem_eq(inplace, din, N * sizeof(float));
    free(inplace);
    free(din);
    free(t.in);
    free(t.out);
    free(t.r);
}

START_TEST(activation_gradients_match_finite_differences)
{
    const float relu_kinks[1] = {0.0f}, hardswish_kinks[2] = {-3.0f, 3.0f};
    check_activation("relu", sn_relu_forward, sn_relu_backward, relu_kinks, 1, 1000);
    check_activation("hardswish", sn_hardswish_forward, sn_hardswish_backward, hardswish_kinks, 2,
                     1010);
    check_activation("gelu", sn_gelu_forward, sn_gelu_backward, NULL, 0, 1020);
}
END_TEST

START_TEST(activation_values)
{
    const float x[6] = {-4.0f, -1.0f, 0.0f, 0.5f, 1.0f, 4.0f};
    float y[6];
    sn_relu_forward(y, x, 6);
    const float relu[6] = {0, 0, 0, 0.5f, 1, 4};
    ck_assert_mem_eq(y, relu, sizeof y);
    sn_hardswish_forward(y, x, 6);
    const float hs[6] = {0.0f, -1.0f / 3.0f, 0.0f, 0.5f * 3.5f / 6.0f, 4.0f / 6.0f, 4.0f};
    assert_close(y, hs, 6, 1e-6, "hardswish");
    sn_gelu_forward(y, x, 6);
    /* x * Phi(x) */
    const float gelu[6] = {-4.0f * 3.1671242e-05f, -0.15865525f, 0.0f, 0.34573123f, 0.84134475f,
                           4.0f * 0.99996833f};
    assert_close(y, gelu, 6, 1e-6, "gelu");

    /* GELU's cdf is computed without libm (activation.c): against erff over
     * [-10, 10] it stays within 3e-7 * (1 + |x|), and far in the tail it is
     * exactly 0 (never a subnormal), as erff's is. */
    enum { GRID = 2001 };
    float *xs = malloc(GRID * sizeof(float)), *ys = malloc(GRID * sizeof(float));
    float *ds = malloc(GRID * sizeof(float)), *ones = malloc(GRID * sizeof(float));
    for (int i = 0; i < GRID; i++) {
        xs[i] = -10.0f + 20.0f * (float)i / (GRID - 1);
        ones[i] = 1.0f;
    }
    sn_gelu_forward(ys, xs, GRID);
    sn_gelu_backward(ds, ones, xs, GRID);
    for (int i = 0; i < GRID; i++) {
        double z = xs[i], cdf = 0.5 * (1.0 + erf(z / sqrt(2.0)));
        double pdf = exp(-0.5 * z * z) / sqrt(2.0 * 3.14159265358979323846);
        ck_assert_double_le(fabs(ys[i] - z * cdf), 3e-7 * (1.0 + fabs(z)));
        ck_assert_double_le(fabs(ds[i] - (cdf + z * pdf)), 3e-7 * (1.0 + fabs(z)));
    }
    /* The 8-lane loop and the scalar tail compute the same bits: one call
     * over 16 values (all lanes) against one call per value (the tail). */
    const float mixed[16] = {-1e30f, -30.0f, -14.0f, -13.0f, -5.5f, -1.0f, -0.25f, -0.0f,
                             0.0f,   1e-8f,  0.3f,   1.0f,   2.5f,  7.0f,  13.5f, 40.0f};
    float lanes_y[16], lanes_d[16];
    sn_gelu_forward(lanes_y, mixed, 16);
    sn_gelu_backward(lanes_d, ones, mixed, 16);
    for (int i = 0; i < 16; i++) {
        float one_y, one_d;
        sn_gelu_forward(&one_y, mixed + i, 1);
        sn_gelu_backward(&one_d, ones, mixed + i, 1);
        ck_assert_msg(memcmp(&one_y, lanes_y + i, sizeof one_y) == 0 &&
                          memcmp(&one_d, lanes_d + i, sizeof one_d) == 0,
                      "gelu lane %d: %a/%a (lanes) against %a/%a (one value)", i,
                      (double)lanes_y[i], (double)lanes_d[i], (double)one_y, (double)one_d);
    }
    const float far[3] = {-14.0f, -30.0f, -1e30f};
    float far_y[3], far_d[3];
    sn_gelu_forward(far_y, far, 3);
    sn_gelu_backward(far_d, ones, far, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert(far_y[i] == 0.0f);
        ck_assert(far_d[i] == 0.0f);
    }
    free(xs);
    free(ys);
    free(ds);
    free(ones);
}
END_TEST

/* ---- pooling and adds --------------------------------------------------------- */

typedef struct {
    int64_t channels, batch, spatial;
    float *in, *out, *r;
} pool_case;

static double pool_loss(void *context)
{
    pool_case *t = context;
    sn_global_avgpool_forward(t->out, t->in, t->channels, t->batch, t->spatial);
    return gradcheck_probe(t->out, t->r, t->channels * t->batch);
}

START_TEST(avgpool_forward_and_gradient)
{
    pool_case t = {3, 2, 11, NULL, NULL, NULL};
    const int64_t n_in = 3 * 2 * 11, n_out = 3 * 2;
    t.in = normal_floats(n_in, 1.0f, 1100);
    t.out = filled_floats(n_out, NAN);
    t.r = normal_floats(n_out, 1.0f, 1101);
    pool_loss(&t);
    for (int64_t n = 0; n < 2; n++)
        for (int64_t c = 0; c < 3; c++) {
            double sum = 0.0;
            for (int64_t i = 0; i < 11; i++)
                sum += t.in[(c * 2 + n) * 11 + i];
            ck_assert_float_eq_tol(t.out[n * 3 + c], (float)(sum / 11.0), 1e-6f);
        }
    float *din = filled_floats(n_in, NAN);
    sn_global_avgpool_backward(din, t.r, 3, 2, 11);
    ck_assert_int_eq(gradcheck_compare("avgpool din", t.in, din, n_in, MAX_CHECKED, LINEAR_H,
                                       REL_TOL, ABS_TOL, pool_loss, &t), 0);
    free(din);
    free(t.in);
    free(t.out);
    free(t.r);
}
END_TEST

typedef struct {
    float *a, *b, *out, *r;
    int64_t n;
} add_case;

static double add_loss(void *context)
{
    add_case *t = context;
    sn_add_forward(t->out, t->a, t->b, t->n);
    return gradcheck_probe(t->out, t->r, t->n);
}

/* The add's backward is the identity to both inputs: dout itself. */
START_TEST(add_gradient_and_accumulate)
{
    enum { N = 50 };
    add_case t = {normal_floats(N, 1.0f, 1200), normal_floats(N, 1.0f, 1201),
                  filled_floats(N, NAN), normal_floats(N, 1.0f, 1202), N};
    ck_assert_int_eq(gradcheck_compare("add da", t.a, t.r, N, MAX_CHECKED, LINEAR_H, REL_TOL,
                                       ABS_TOL, add_loss, &t), 0);
    ck_assert_int_eq(gradcheck_compare("add db", t.b, t.r, N, MAX_CHECKED, LINEAR_H, REL_TOL,
                                       ABS_TOL, add_loss, &t), 0);
    add_loss(&t); /* the last probe ran at a perturbed input */
    for (int i = 0; i < N; i++)
        ck_assert_float_eq(t.out[i], t.a[i] + t.b[i]);
    /* out may alias an input */
    float want[N];
    for (int i = 0; i < N; i++)
        want[i] = t.a[i] + t.b[i];
    sn_add_forward(t.a, t.a, t.b, N);
    ck_assert_mem_eq(t.a, want, sizeof want);
    sn_accumulate(t.a, t.b, N);
    for (int i = 0; i < N; i++)
        ck_assert_float_eq(t.a[i], want[i] + t.b[i]);
    free(t.a);
    free(t.b);
    free(t.out);
    free(t.r);
}
END_TEST

/* ---- dropout and drop-path ---------------------------------------------------- */

typedef struct {
    float *in, *out, *mask, *r;
    int64_t n, outer, batch, inner;
    float p;
} mask_case;

static double dropout_loss(void *context)
{
    mask_case *t = context;
    sn_rng_stream s; /* the same key every time: the same mask */
    sn_rng_stream_init(&s, 77, SN_RNG_DROPOUT, 3, 1);
    sn_dropout_forward(t->out, t->mask, t->in, t->n, t->p, &s);
    return gradcheck_probe(t->out, t->r, t->n);
}

static double drop_path_loss(void *context)
{
    mask_case *t = context;
    sn_rng_stream s;
    sn_rng_stream_init(&s, 77, SN_RNG_DROP_PATH, 3, 1);
    sn_drop_path_forward(t->out, t->mask, t->in, t->outer, t->batch, t->inner, t->p, &s);
    return gradcheck_probe(t->out, t->r, t->n);
}

START_TEST(dropout_gradient_is_the_mask)
{
    enum { N = 100 };
    mask_case t = {normal_floats(N, 1.0f, 1300), filled_floats(N, NAN), filled_floats(N, NAN),
                   normal_floats(N, 1.0f, 1301), N, 0, 0, 0, 0.4f};
    dropout_loss(&t);
    float *ones = filled_floats(N, 1.0f), *din = filled_floats(N, NAN);
    sn_dropout_backward(din, ones, t.mask, N);
    ck_assert_mem_eq(din, t.mask, N * sizeof(float));
    sn_dropout_backward(din, t.r, t.mask, N);
    ck_assert_int_eq(gradcheck_compare("dropout din", t.in, din, N, MAX_CHECKED, LINEAR_H,
                                       REL_TOL, ABS_TOL, dropout_loss, &t), 0);
    free(ones);
    free(din);
    free(t.in);
    free(t.out);
    free(t.mask);
    free(t.r);
}
END_TEST

/* Mask values, the documented draw order (element i takes the stream's i-th
 * uniform u and is dropped when u < p), repeatability by key, the keep rate
 * and p = 0 as an exact copy. */
START_TEST(dropout_mask_statistics_and_keys)
{
    enum { N = 200000 };
    const float p = 0.3f, scale = 1.0f / (1.0f - p);
    float *in = normal_floats(N, 1.0f, 1310), *out = malloc(N * sizeof(float));
    float *mask = malloc(N * sizeof(float)), *mask2 = malloc(N * sizeof(float));
    sn_rng_stream s, replay;
    sn_rng_stream_init(&s, 5, SN_RNG_DROPOUT, 10, 2);
    sn_dropout_forward(out, mask, in, N, p, &s);
    sn_rng_stream_init(&replay, 5, SN_RNG_DROPOUT, 10, 2);
    int64_t kept = 0;
    for (int64_t i = 0; i < N; i++) {
        int keep = sn_rng_uniform(&replay) >= p;
        ck_assert_float_eq(mask[i], keep ? scale : 0.0f);
        ck_assert_float_eq(out[i], in[i] * mask[i]);
        kept += keep;
    }
    /* binomial sd sqrt(p(1-p)/N) ~ 0.001: allow 6 sd */
    ck_assert_double_lt(fabs((double)kept / N - (1.0 - p)), 0.006);

    sn_rng_stream_init(&s, 5, SN_RNG_DROPOUT, 10, 2);
    sn_dropout_forward(out, mask2, in, N, p, &s);
    ck_assert_mem_eq(mask2, mask, N * sizeof(float));
    sn_rng_stream_init(&s, 5, SN_RNG_DROPOUT, 11, 2); /* next step: a new mask */
    sn_dropout_forward(out, mask2, in, N, p, &s);
    ck_assert_int_ne(memcmp(mask2, mask, N * sizeof(float)), 0);

    sn_rng_stream_init(&s, 5, SN_RNG_DROPOUT, 10, 2);
    sn_dropout_forward(out, mask, in, N, 0.0f, &s);
    ck_assert_mem_eq(out, in, N * sizeof(float));
    for (int64_t i = 0; i < N; i++)
        ck_assert_float_eq(mask[i], 1.0f);
    free(in);
    free(out);
    free(mask);
    free(mask2);
}
END_TEST

START_TEST(drop_path_zeroes_whole_samples)
{
    enum { OUTER = 3, BATCH = 64, INNER = 5, N = OUTER * BATCH * INNER };
    const float p = 0.5f;
    mask_case t = {normal_floats(N, 1.0f, 1400), filled_floats(N, NAN),
                   filled_floats(BATCH, NAN), normal_floats(N, 1.0f, 1401),
                   N, OUTER, BATCH, INNER, p};
    drop_path_loss(&t);
    sn_rng_stream replay;
    sn_rng_stream_init(&replay, 77, SN_RNG_DROP_PATH, 3, 1);
    int kept = 0;
    for (int n = 0; n < BATCH; n++) {
        int keep = sn_rng_uniform(&replay) >= p; /* sample n: the n-th uniform */
        ck_assert_float_eq(t.mask[n], keep ? 2.0f : 0.0f);
        kept += keep;
        for (int o = 0; o < OUTER; o++)
            for (int i = 0; i < INNER; i++) {
                int64_t at = ((int64_t)o * BATCH + n) * INNER + i;
                ck_assert_float_eq(t.out[at], keep ? 2.0f * t.in[at] : 0.0f);
            }
    }
    ck_assert_int_gt(kept, 0);
    ck_assert_int_lt(kept, BATCH);

    float *ones = filled_floats(N, 1.0f), *din = filled_floats(N, NAN);
    sn_drop_path_backward(din, ones, t.mask, OUTER, BATCH, INNER);
    for (int64_t at = 0; at < N; at++)
        ck_assert_float_eq(din[at], t.mask[(at / INNER) % BATCH]);
    sn_drop_path_backward(din, t.r, t.mask, OUTER, BATCH, INNER);
    ck_assert_int_eq(gradcheck_compare("drop_path din", t.in, din, N, MAX_CHECKED, LINEAR_H,
                                       REL_TOL, ABS_TOL, drop_path_loss, &t), 0);

    sn_rng_stream s;
    sn_rng_stream_init(&s, 77, SN_RNG_DROP_PATH, 3, 1);
    sn_drop_path_forward(t.out, t.mask, t.in, OUTER, BATCH, INNER, 0.0f, &s);
    ck_assert_mem_eq(t.out, t.in, N * sizeof(float));
    for (int n = 0; n < BATCH; n++)
        ck_assert_float_eq(t.mask[n], 1.0f);
    free(ones);
    free(din);
    free(t.in);
    free(t.out);
    free(t.mask);
    free(t.r);
}
END_TEST

int main(void)
{
    sn_blas_setup(1);
    Suite *suite = suite_create("nn_conv");
    TCase *conv = tcase_create("conv");
    tcase_add_test(conv, conv_sizes_and_dims_check);
    tcase_add_loop_test(conv, dense_forward_matches_naive, 0, DENSE_CONFIGS);
    tcase_add_loop_test(conv, dense_gradients_match_finite_differences, 0, DENSE_CONFIGS);
    tcase_add_loop_test(conv, dense_parameter_gradients_accumulate, 0, DENSE_CONFIGS);
    tcase_add_loop_test(conv, dense_sliced_weight_stays_inside_its_slice, 0, 3);
    suite_add_tcase(suite, conv);
    TCase *depthwise = tcase_create("depthwise");
    tcase_add_loop_test(depthwise, depthwise_forward_matches_naive, 0, DEPTHWISE_CONFIGS);
    tcase_add_loop_test(depthwise, depthwise_gradients_match_finite_differences, 0,
                        DEPTHWISE_CONFIGS);
    tcase_add_test(depthwise, depthwise_centre_crop_equals_standalone_kernel);
    tcase_add_loop_test(depthwise, depthwise_parameter_gradients_accumulate, 0,
                        DEPTHWISE_CONFIGS);
    suite_add_tcase(suite, depthwise);
    TCase *norm = tcase_create("batchnorm");
    tcase_add_test(norm, batchnorm_gradients_match_finite_differences);
    tcase_add_test(norm, batchnorm_train_normalises_each_channel);
    tcase_add_test(norm, batchnorm_running_statistics_by_hand);
    tcase_add_test(norm, batchnorm_eval_is_the_affine_formula);
    tcase_add_test(norm, batchnorm_relu_gradients_match_finite_differences);
    tcase_add_test(norm, batchnorm_relu_equals_batchnorm_then_relu);
    suite_add_tcase(suite, norm);
    TCase *elementwise = tcase_create("elementwise");
    tcase_add_test(elementwise, activation_gradients_match_finite_differences);
    tcase_add_test(elementwise, activation_values);
    tcase_add_test(elementwise, avgpool_forward_and_gradient);
    tcase_add_test(elementwise, add_gradient_and_accumulate);
    suite_add_tcase(suite, elementwise);
    TCase *regularizer = tcase_create("regularizer");
    tcase_add_test(regularizer, dropout_gradient_is_the_mask);
    tcase_add_test(regularizer, dropout_mask_statistics_and_keys);
    tcase_add_test(regularizer, drop_path_zeroes_whole_samples);
    suite_add_tcase(suite, regularizer);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
