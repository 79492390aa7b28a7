/* nn transformer parts, linear, losses and the LSTM cell: forward passes
 * against naive double-precision references, finite-difference gradient
 * checks, and the gradient conventions (parameters accumulate, inputs are
 * overwritten, first-k weight views leave the rest of the supernet alone). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "shiftnas/nn.h"
#include "shiftnas/tensor.h"

/* ---- buffers: every test allocates from a pool freed by the teardown ---- */

enum { POOL_MAX = 64 };
static float *pool[POOL_MAX];
static int pool_count;

static float *take(int64_t n)
{
    ck_assert_int_lt(pool_count, POOL_MAX);
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    ck_assert_ptr_nonnull(p);
    pool[pool_count++] = p;
    return p;
}

static float *take_normal(int64_t n, float scale, uint32_t item)
{
    float *p = take(n);
    gradcheck_fill_normal(p, n, scale, item);
    return p;
}

static float *take_copy(const float *x, int64_t n)
{
    float *p = take(n);
    memcpy(p, x, (size_t)n * sizeof *p);
    return p;
}

static void fill(float *x, int64_t n, float value)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = value;
}

static void release_all(void)
{
    for (int i = 0; i < pool_count; i++)
        free(pool[i]);
    pool_count = 0;
}

static void setup(void)
{
    pool_count = 0;
}

/* Gradient-check tolerances. Layers that are linear in the checked variable
 * (linear, patch embedding) have no truncation error; the float32 rounding of
 * the probe divided by 2h (h = 1e-2) is ~1e-5, so |a - num| <= 1e-3 + 1e-2 |a|.
 * Nonlinear layers (layer norm, attention, LSTM) add truncation error
 * ~h^2 |f'''| ~ 1e-4 relative: the same bound holds with margin. */
#define GC_H 1e-2
#define GC_REL 1e-2
#define GC_ABS 1e-3

/* Checks the rows x cols block of a strided parameter row by row, so that only
 * the view's own elements are perturbed. */
static int gradcheck_view(const char *what, sn_matrix param, sn_matrix grad,
                          gradcheck_loss_fn loss, void *context)
{
    int failures = 0;
    for (int64_t r = 0; r < param.rows; r++)
        failures += gradcheck_compare(what, param.data + r * param.row_stride,
                                      grad.data + r * grad.row_stride, param.cols, param.cols,
                                      GC_H, GC_REL, GC_ABS, loss, context);
    return failures;
}

/* ---- linear ------------------------------------------------------------- */

typedef struct {
    float *out, *in, *bias, *r;
    sn_matrix weight;
    int64_t rows;
} linear_case;

static double linear_loss(void *context)
{
    linear_case *c = context;
    sn_linear_forward(c->out, c->in, c->weight, c->bias, c->rows);
    return gradcheck_probe(c->out, c->r, c->rows * c->weight.rows);
}

/* out = in W^T + b for a first-k view (4 x 5 of a 7 x 9 supernet weight),
 * with and without bias, against a double loop. Tolerance 1e-5: five float
 * products of N(0,1) values. */
START_TEST(linear_forward_matches_naive)
{
    enum { ROWS = 3, O = 4, I = 5, BIG_O = 7, BIG_I = 9 };
    float *w_big = take_normal(BIG_O * BIG_I, 1.0f, 1);
    float *in = take_normal(ROWS * I, 1.0f, 2), *bias = take_normal(BIG_O, 1.0f, 3);
    float *out = take(ROWS * O);
    sn_matrix w = sn_matrix_make(w_big, O, I, BIG_I);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        fill(out, ROWS * O, NAN); /* the forward must not read out */
        sn_linear_forward(out, in, w, with_bias ? bias : NULL, ROWS);
        for (int r = 0; r < ROWS; r++)
            for (int o = 0; o < O; o++) {
                double expect = with_bias ? bias[o] : 0.0;
                for (int i = 0; i < I; i++)
                    expect += (double)in[r * I + i] * w_big[o * BIG_I + i];
                ck_assert_double_eq_tol(out[r * O + o], expect, 1e-5);
            }
    }
}
END_TEST

static void check_linear_gradients(int with_bias)
{
    enum { ROWS = 4, O = 3, I = 6 };
    linear_case c = {.rows = ROWS};
    c.in = take_normal(ROWS * I, 1.0f, 10);
    c.weight = sn_matrix_make(take_normal(O * I, 1.0f, 11), O, I, I);
    c.bias = with_bias ? take_normal(O, 1.0f, 12) : NULL;
    c.r = take_normal(ROWS * O, 1.0f, 13);
    c.out = take(ROWS * O);
    float *din = take(ROWS * I), *dbias = take(O);
    sn_matrix dw = sn_matrix_make(take(O * I), O, I, I);
    sn_linear_backward(din, dw, with_bias ? dbias : NULL, c.r, c.in, c.weight, ROWS);
    ck_assert_int_eq(gradcheck_compare("linear din", c.in, din, ROWS * I, 1000, GC_H, GC_REL,
                                       GC_ABS, linear_loss, &c), 0);
    ck_assert_int_eq(gradcheck_view("linear dweight", c.weight, dw, linear_loss, &c), 0);
    if (with_bias)
        ck_assert_int_eq(gradcheck_compare("linear dbias", c.bias, dbias, O, 1000, GC_H, GC_REL,
                                           GC_ABS, linear_loss, &c), 0);
}

START_TEST(linear_gradients_with_bias)
{
    check_linear_gradients(1);
}
END_TEST

START_TEST(linear_gradients_without_bias)
{
    check_linear_gradients(0);
}
END_TEST

/* A subnet's 3 x 4 slice of a 6 x 7 supernet weight: the gradients of the
 * slice are right and every gradient float outside it keeps its sentinel. */
START_TEST(linear_sliced_weight_gradients_stay_in_slice)
{
    enum { ROWS = 5, O = 3, I = 4, BIG_O = 6, BIG_I = 7 };
    const float sentinel = 12345.0f;
    linear_case c = {.rows = ROWS};
    float *w_big = take_normal(BIG_O * BIG_I, 1.0f, 20);
    float *dw_big = take(BIG_O * BIG_I);
    fill(dw_big, BIG_O * BIG_I, sentinel);
    c.weight = sn_matrix_make(w_big, O, I, BIG_I);
    sn_matrix dw = sn_matrix_make(dw_big, O, I, BIG_I);
    for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++)
            dw_big[o * BIG_I + i] = 0.0f;
    c.in = take_normal(ROWS * I, 1.0f, 21);
    c.bias = take_normal(O, 1.0f, 22);
    c.r = take_normal(ROWS * O, 1.0f, 23);
    c.out = take(ROWS * O);
    float *din = take(ROWS * I), *dbias = take(O);
    sn_linear_backward(din, dw, dbias, c.r, c.in, c.weight, ROWS);
    for (int o = 0; o < BIG_O; o++)
        for (int i = 0; i < BIG_I; i++)
            if (o >= O || i >= I)
                ck_assert_float_eq(dw_big[o * BIG_I + i], sentinel);
    ck_assert_int_eq(gradcheck_view("sliced dweight", c.weight, dw, linear_loss, &c), 0);
    ck_assert_int_eq(gradcheck_compare("sliced din", c.in, din, ROWS * I, 1000, GC_H, GC_REL,
                                       GC_ABS, linear_loss, &c), 0);
    ck_assert_int_eq(gradcheck_compare("sliced dbias", c.bias, dbias, O, 1000, GC_H, GC_REL,
                                       GC_ABS, linear_loss, &c), 0);
}
END_TEST

/* ---- layer norm --------------------------------------------------------- */

typedef struct {
    float *out, *mean, *inv_std, *in, *gamma, *beta, *r;
    int64_t rows, dim;
} layernorm_case;

static double layernorm_loss(void *context)
{
    layernorm_case *c = context;
    sn_layernorm_forward(c->out, c->mean, c->inv_std, c->in, c->gamma, c->beta, c->rows, c->dim,
                         1e-5f);
    return gradcheck_probe(c->out, c->r, c->rows * c->dim);
}

static layernorm_case make_layernorm_case(int64_t rows, int64_t dim)
{
    layernorm_case c = {.rows = rows, .dim = dim};
    c.in = take_normal(rows * dim, 2.0f, 30);
    for (int64_t i = 0; i < rows * dim; i++)
        c.in[i] += 1.5f; /* a nonzero mean, as real activations have */
    c.gamma = take_normal(dim, 1.0f, 31);
    c.beta = take_normal(dim, 1.0f, 32);
    c.r = take_normal(rows * dim, 1.0f, 33);
    c.out = take(rows * dim);
    c.mean = take(rows);
    c.inv_std = take(rows);
    return c;
}

/* With gamma = 1, beta = 0 each output row has mean 0 and variance 1/(1 + eps/var)
 * (tolerance 1e-5), and the saved statistics are the row's. */
START_TEST(layernorm_forward_normalises_rows)
{
    enum { ROWS = 3, DIM = 10 };
    layernorm_case c = make_layernorm_case(ROWS, DIM);
    fill(c.gamma, DIM, 1.0f);
    fill(c.beta, DIM, 0.0f);
    sn_layernorm_forward(c.out, c.mean, c.inv_std, c.in, c.gamma, c.beta, ROWS, DIM, 1e-5f);
    for (int r = 0; r < ROWS; r++) {
        double sum = 0, sq = 0, xs = 0, xsq = 0;
        for (int j = 0; j < DIM; j++) {
            sum += c.out[r * DIM + j];
            sq += (double)c.out[r * DIM + j] * c.out[r * DIM + j];
            xs += c.in[r * DIM + j];
        }
        double xmean = xs / DIM;
        for (int j = 0; j < DIM; j++)
            xsq += (c.in[r * DIM + j] - xmean) * (c.in[r * DIM + j] - xmean);
        ck_assert_double_eq_tol(sum / DIM, 0.0, 1e-5);
        ck_assert_double_eq_tol(sq / DIM, 1.0 / (1.0 + 1e-5 / (xsq / DIM)), 1e-5);
        ck_assert_double_eq_tol(c.mean[r], xmean, 1e-5);
        ck_assert_double_eq_tol(c.inv_std[r], 1.0 / sqrt(xsq / DIM + 1e-5), 1e-5);
    }
}
END_TEST

START_TEST(layernorm_gradients)
{
    enum { ROWS = 4, DIM = 7 };
    layernorm_case c = make_layernorm_case(ROWS, DIM);
    layernorm_loss(&c);
    float *din = take(ROWS * DIM), *dgamma = take(DIM), *dbeta = take(DIM);
    sn_layernorm_backward(din, dgamma, dbeta, c.r, c.in, c.gamma, c.mean, c.inv_std, ROWS, DIM);
    ck_assert_int_eq(gradcheck_compare("layernorm din", c.in, din, ROWS * DIM, 1000, GC_H,
                                       GC_REL, GC_ABS, layernorm_loss, &c), 0);
    ck_assert_int_eq(gradcheck_compare("layernorm dgamma", c.gamma, dgamma, DIM, 1000, GC_H,
                                       GC_REL, GC_ABS, layernorm_loss, &c), 0);
    ck_assert_int_eq(gradcheck_compare("layernorm dbeta", c.beta, dbeta, DIM, 1000, GC_H,
                                       GC_REL, GC_ABS, layernorm_loss, &c), 0);
}
END_TEST

/* ---- patch embedding ------------------------------------------------------ */

enum { PE_N = 2, PE_C = 3, PE_H = 8, PE_W = 4, PE_P = 2, PE_D = 5 };
enum { PE_T = (PE_H / PE_P) * (PE_W / PE_P), PE_F = PE_C * PE_P * PE_P, PE_BIG_F = 16 };

typedef struct {
    float *out, *image, *bias, *r, *workspace;
    sn_matrix weight;
} patch_case;

static double patch_loss(void *context)
{
    patch_case *c = context;
    sn_patch_embed_forward(c->out, c->image, c->weight, c->bias, PE_N, PE_C, PE_H, PE_W, PE_P,
                           c->workspace);
    return gradcheck_probe(c->out, c->r, PE_N * PE_T * PE_D);
}

/* The weight is the D x 12 first-k block of a D x 16 supernet matrix; the
 * image is not square so rows and columns of the patch grid cannot be mixed up. */
static patch_case make_patch_case(void)
{
    patch_case c;
    c.image = take_normal(PE_N * PE_C * PE_H * PE_W, 1.0f, 40);
    c.weight = sn_matrix_make(take_normal(PE_D * PE_BIG_F, 1.0f, 41), PE_D, PE_F, PE_BIG_F);
    c.bias = take_normal(PE_D, 1.0f, 42);
    c.r = take_normal(PE_N * PE_T * PE_D, 1.0f, 43);
    c.out = take(PE_N * PE_T * PE_D);
    int64_t ws = sn_patch_embed_workspace_floats(PE_N, PE_C, PE_H, PE_W, PE_P);
    ck_assert_int_eq(ws, PE_N * PE_T * PE_F);
    c.workspace = take(ws);
    return c;
}

/* Against a direct convolution loop (kernel = stride = patch, no padding):
 * out[n, oy*OW + ox, d] = b[d] + sum_{c,ky,kx} w[d, c, ky, kx] x[n, c, oy*p+ky, ox*p+kx].
 * Tolerance 1e-5 (12-term float sums of N(0,1) products). */
START_TEST(patch_embed_forward_is_a_strided_convolution)
{
    patch_case c = make_patch_case();
    patch_loss(&c);
    const int oh = PE_H / PE_P, ow = PE_W / PE_P;
    for (int n = 0; n < PE_N; n++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int d = 0; d < PE_D; d++) {
                    double acc = c.bias[d];
                    for (int ch = 0; ch < PE_C; ch++)
                        for (int ky = 0; ky < PE_P; ky++)
                            for (int kx = 0; kx < PE_P; kx++) {
                                int y = oy * PE_P + ky, x = ox * PE_P + kx;
                                double w = c.weight.data[d * PE_BIG_F +
                                                         (ch * PE_P + ky) * PE_P + kx];
                                acc += w * c.image[((n * PE_C + ch) * PE_H + y) * PE_W + x];
                            }
                    float got = c.out[(n * PE_T + oy * ow + ox) * PE_D + d];
                    ck_assert_double_eq_tol(got, acc, 1e-5);
                }
}
END_TEST

START_TEST(patch_embed_gradients)
{
    patch_case c = make_patch_case();
    patch_loss(&c);
    float *dw_big = take(PE_D * PE_BIG_F), *dbias = take(PE_D);
    sn_matrix dw = sn_matrix_make(dw_big, PE_D, PE_F, PE_BIG_F);
    sn_patch_embed_backward(dw, dbias, c.r, PE_N, PE_T, PE_F, c.workspace);
    for (int d = 0; d < PE_D; d++)
        for (int f = PE_F; f < PE_BIG_F; f++)
            ck_assert_float_eq(dw_big[d * PE_BIG_F + f], 0.0f);
    ck_assert_int_eq(gradcheck_view("patch dweight", c.weight, dw, patch_loss, &c), 0);
    ck_assert_int_eq(gradcheck_compare("patch dbias", c.bias, dbias, PE_D, 1000, GC_H, GC_REL,
                                       GC_ABS, patch_loss, &c), 0);
}
END_TEST

/* ---- attention ---------------------------------------------------------- */

/* T = 5 (not a power of two), 3 heads of 4: every head reads a strided view. */
enum { AT_N = 2, AT_T = 5, AT_HEADS = 3, AT_HD = 4, AT_W = AT_HEADS * AT_HD };
enum { AT_SIZE = AT_N * AT_T * AT_W };

typedef struct {
    float *out, *probs, *q, *k, *v, *r;
} attention_case;

static double attention_loss(void *context)
{
    attention_case *c = context;
    sn_attention_forward(c->out, c->probs, c->q, c->k, c->v, AT_N, AT_T, AT_HEADS, AT_HD);
    return gradcheck_probe(c->out, c->r, AT_SIZE);
}

static attention_case make_attention_case(void)
{
    attention_case c;
    c.q = take_normal(AT_SIZE, 1.0f, 50);
    c.k = take_normal(AT_SIZE, 1.0f, 51);
    c.v = take_normal(AT_SIZE, 1.0f, 52);
    c.r = take_normal(AT_SIZE, 1.0f, 53);
    c.out = take(AT_SIZE);
    c.probs = take(AT_N * AT_HEADS * AT_T * AT_T);
    return c;
}

/* Against explicit loops in double: scores, softmax, weighted sum of values.
 * Tolerance 1e-5 on outputs and probabilities (float32 scores and exp). */
START_TEST(attention_forward_matches_double_loops)
{
    attention_case c = make_attention_case();
    fill(c.out, AT_SIZE, NAN);
    fill(c.probs, AT_N * AT_HEADS * AT_T * AT_T, NAN);
    attention_loss(&c);
    for (int n = 0; n < AT_N; n++)
        for (int h = 0; h < AT_HEADS; h++)
            for (int i = 0; i < AT_T; i++) {
                double s[AT_T], max = -INFINITY, sum = 0;
                for (int j = 0; j < AT_T; j++) {
                    s[j] = 0;
                    for (int e = 0; e < AT_HD; e++)
                        s[j] += (double)c.q[(n * AT_T + i) * AT_W + h * AT_HD + e] *
                                c.k[(n * AT_T + j) * AT_W + h * AT_HD + e];
                    s[j] /= sqrt((double)AT_HD);
                    max = fmax(max, s[j]);
                }
                for (int j = 0; j < AT_T; j++)
                    sum += s[j] = exp(s[j] - max);
                for (int j = 0; j < AT_T; j++) {
                    s[j] /= sum;
                    float p = c.probs[((n * AT_HEADS + h) * AT_T + i) * AT_T + j];
                    ck_assert_double_eq_tol(p, s[j], 1e-5);
                }
                for (int e = 0; e < AT_HD; e++) {
                    double o = 0;
                    for (int j = 0; j < AT_T; j++)
                        o += s[j] * c.v[(n * AT_T + j) * AT_W + h * AT_HD + e];
                    ck_assert_double_eq_tol(c.out[(n * AT_T + i) * AT_W + h * AT_HD + e], o,
                                            1e-5);
                }
            }
}
END_TEST

START_TEST(attention_gradients)
{
    attention_case c = make_attention_case();
    attention_loss(&c);
    float *dq = take(AT_SIZE), *dk = take(AT_SIZE), *dv = take(AT_SIZE);
    float *ws = take(sn_attention_workspace_floats(AT_T));
    sn_attention_backward(dq, dk, dv, c.r, c.probs, c.q, c.k, c.v, AT_N, AT_T, AT_HEADS, AT_HD,
                          ws);
    ck_assert_int_eq(gradcheck_compare("attention dq", c.q, dq, AT_SIZE, 1000, GC_H, GC_REL,
                                       GC_ABS, attention_loss, &c), 0);
    ck_assert_int_eq(gradcheck_compare("attention dk", c.k, dk, AT_SIZE, 1000, GC_H, GC_REL,
                                       GC_ABS, attention_loss, &c), 0);
    ck_assert_int_eq(gradcheck_compare("attention dv", c.v, dv, AT_SIZE, 1000, GC_H, GC_REL,
                                       GC_ABS, attention_loss, &c), 0);
    /* A NULL gradient is skipped and changes none of the others. */
    float *dk2 = take(AT_SIZE);
    sn_attention_backward(NULL, dk2, NULL, c.r, c.probs, c.q, c.k, c.v, AT_N, AT_T, AT_HEADS,
                          AT_HD, ws);
    ck_assert_mem_eq(dk2, dk, AT_SIZE * sizeof(float));
}
END_TEST

/* Heads too large for attention.c's own small products go to BLIS (66 tokens:
 * 66 x 66 > 4096 floats): the same outputs as double loops, and dv = P^T dout. */
START_TEST(attention_large_heads_match_double_loops)
{
    enum { T = 66, HEADS = 2, HD = 3, W = HEADS * HD, SIZE = T * W };
    float *q = take_normal(SIZE, 1.0f, 60), *k = take_normal(SIZE, 1.0f, 61);
    float *v = take_normal(SIZE, 1.0f, 62), *dout = take_normal(SIZE, 1.0f, 63);
    float *out = take(SIZE), *probs = take(HEADS * T * T), *dv = take(SIZE);
    float *ws = take(sn_attention_workspace_floats(T));
    sn_attention_forward(out, probs, q, k, v, 1, T, HEADS, HD);
    sn_attention_backward(NULL, NULL, dv, dout, probs, q, k, v, 1, T, HEADS, HD, ws);
    for (int h = 0; h < HEADS; h++)
        for (int i = 0; i < T; i++) {
            double s[T], max = -INFINITY, sum = 0;
            for (int j = 0; j < T; j++) {
                s[j] = 0;
                for (int e = 0; e < HD; e++)
                    s[j] += (double)q[i * W + h * HD + e] * k[j * W + h * HD + e];
                s[j] /= sqrt((double)HD);
                max = fmax(max, s[j]);
            }
            for (int j = 0; j < T; j++)
                sum += s[j] = exp(s[j] - max);
            for (int e = 0; e < HD; e++) {
                double o = 0;
                for (int j = 0; j < T; j++)
                    o += s[j] / sum * v[j * W + h * HD + e];
                ck_assert_double_eq_tol(out[i * W + h * HD + e], o, 1e-5);
            }
        }
    for (int h = 0; h < HEADS; h++)
        for (int j = 0; j < T; j++)
            for (int e = 0; e < HD; e++) {
                double want = 0;
                for (int i = 0; i < T; i++)
                    want += (double)probs[(h * T + i) * T + j] * dout[i * W + h * HD + e];
                ck_assert_double_eq_tol(dv[j * W + h * HD + e], want, 1e-4);
            }
}
END_TEST

/* ---- losses --------------------------------------------------------------- */

typedef struct {
    float *probs, *logits, *target;
    const int32_t *labels;
    int64_t rows, classes;
    float smoothing;
} loss_case;

static double hard_loss(void *context)
{
    loss_case *c = context;
    return sn_softmax_cross_entropy_forward(c->probs, c->logits, c->labels, c->rows, c->classes,
                                            c->smoothing, NULL);
}

static double soft_loss(void *context)
{
    loss_case *c = context;
    return sn_soft_cross_entropy_forward(c->probs, c->logits, c->target, c->rows, c->classes);
}

/* Equal logits give probability 1/classes and loss log(classes), with or
 * without smoothing (the smoothed target is still a distribution). 1e-6. */
START_TEST(cross_entropy_of_uniform_logits_is_log_classes)
{
    enum { ROWS = 3, CLASSES = 10 };
    const int32_t labels[ROWS] = {0, 4, 9};
    float *logits = take(ROWS * CLASSES), *probs = take(ROWS * CLASSES);
    fill(logits, ROWS * CLASSES, 3.5f);
    const float smoothings[2] = {0.0f, 0.1f};
    for (int s = 0; s < 2; s++) {
        double loss = sn_softmax_cross_entropy_forward(probs, logits, labels, ROWS, CLASSES,
                                                       smoothings[s], NULL);
        ck_assert_double_eq_tol(loss, log((double)CLASSES), 1e-6);
        for (int i = 0; i < ROWS * CLASSES; i++)
            ck_assert_float_eq_tol(probs[i], 1.0f / CLASSES, 1e-7f);
    }
}
END_TEST

/* logits (0, ln 2, ln 5) give p = (1/8, 2/8, 5/8). With label 1 and s = 0.3
 * the target is (0.1, 0.8, 0.1), so
 *   loss = 0.8 ln 4 + 0.1 ln 8 + 0.1 ln(8/5),  dlogits = p - target.
 * Tolerances 1e-6 (float logits of ln 2, ln 5). */
START_TEST(label_smoothing_by_hand)
{
    const int32_t label = 1;
    float logits[3] = {0.0f, (float)log(2.0), (float)log(5.0)}, probs[3], d[3];
    double loss = sn_softmax_cross_entropy_forward(probs, logits, &label, 1, 3, 0.3f, NULL);
    ck_assert_double_eq_tol(loss, 0.8 * log(4.0) + 0.1 * log(8.0) + 0.1 * log(8.0 / 5.0), 1e-6);
    ck_assert_float_eq_tol(probs[0], 0.125f, 1e-6f);
    ck_assert_float_eq_tol(probs[1], 0.25f, 1e-6f);
    ck_assert_float_eq_tol(probs[2], 0.625f, 1e-6f);
    sn_softmax_cross_entropy_backward(d, probs, &label, 1, 3, 0.3f, 1.0f);
    ck_assert_float_eq_tol(d[0], 0.025f, 1e-6f);
    ck_assert_float_eq_tol(d[1], -0.55f, 1e-6f);
    ck_assert_float_eq_tol(d[2], 0.525f, 1e-6f);
    /* scale multiplies and rows divide: two copies of the row, scale 4 -> 2x. */
    const int32_t labels2[2] = {1, 1};
    float logits2[6], probs2[6], d2[6];
    memcpy(logits2, logits, sizeof logits);
    memcpy(logits2 + 3, logits, sizeof logits);
    double loss2 =
        sn_softmax_cross_entropy_forward(probs2, logits2, labels2, 2, 3, 0.3f, NULL);
    ck_assert_double_eq_tol(loss2, loss, 1e-12);
    sn_softmax_cross_entropy_backward(d2, probs2, labels2, 2, 3, 0.3f, 4.0f);
    for (int j = 0; j < 3; j++) {
        ck_assert_float_eq_tol(d2[j], 2.0f * d[j], 1e-6f);
        ck_assert_float_eq_tol(d2[3 + j], 2.0f * d[j], 1e-6f);
    }
}
END_TEST

/* `correct` counts rows whose largest logit is at the label; huge logits do
 * not overflow the loss. */
START_TEST(cross_entropy_counts_correct_rows)
{
    enum { ROWS = 5, CLASSES = 4 };
    const float logits[ROWS * CLASSES] = {
        5, 1, 0, 0,       /* argmax 0 */
        0, 0, 0, 2,       /* argmax 3 */
        -1, 3, 2.9f, 0,   /* argmax 1 */
        0, 0, 7, 1,       /* argmax 2 */
        1000, 0, 0, 999,  /* argmax 0, large enough to overflow a naive exp */
    };
    const int32_t labels[ROWS] = {0, 2, 1, 3, 0};
    float probs[ROWS * CLASSES];
    int64_t correct = -1;
    double loss = sn_softmax_cross_entropy_forward(probs, logits, labels, ROWS, CLASSES, 0.1f,
                                                   &correct);
    ck_assert_int_eq(correct, 3);
    ck_assert(isfinite(loss));
    /* correct may be NULL */
    double again =
        sn_softmax_cross_entropy_forward(probs, logits, labels, ROWS, CLASSES, 0.1f, NULL);
    ck_assert_double_eq(again, loss);
}
END_TEST

/* Loss is the mean of row losses computed from logits in double, so its finite
 * differences are accurate to ~1e-9; the analytic gradient comes from float
 * probabilities (~1e-7). Bound: 1e-6 + 1e-3 relative, h = 1e-3. */
static void check_hard_gradients(float smoothing)
{
    enum { ROWS = 4, CLASSES = 7 };
    const int32_t labels[ROWS] = {3, 0, 6, 3};
    loss_case c = {.rows = ROWS, .classes = CLASSES, .labels = labels, .smoothing = smoothing};
    c.logits = take_normal(ROWS * CLASSES, 2.0f, 60);
    c.probs = take(ROWS * CLASSES);
    float *d = take(ROWS * CLASSES);
    hard_loss(&c);
    sn_softmax_cross_entropy_backward(d, c.probs, labels, ROWS, CLASSES, smoothing, 1.0f);
    ck_assert_int_eq(gradcheck_compare("cross-entropy dlogits", c.logits, d, ROWS * CLASSES,
                                       1000, 1e-3, 1e-3, 1e-6, hard_loss, &c), 0);
}

START_TEST(cross_entropy_gradients)
{
    check_hard_gradients(0.0f);
}
END_TEST

START_TEST(cross_entropy_gradients_with_smoothing)
{
    check_hard_gradients(0.2f);
}
END_TEST

/* A one-hot soft target equals hard cross-entropy; a smoothed one-hot equals
 * the smoothed loss. Tolerance 1e-6. */
START_TEST(soft_cross_entropy_matches_hard_targets)
{
    enum { ROWS = 3, CLASSES = 5 };
    const int32_t labels[ROWS] = {4, 1, 1};
    float *logits = take_normal(ROWS * CLASSES, 2.0f, 70);
    float *target = take(ROWS * CLASSES), *probs = take(ROWS * CLASSES);
    float *probs_soft = take(ROWS * CLASSES);
    const float smoothings[2] = {0.0f, 0.25f};
    for (int s = 0; s < 2; s++) {
        for (int r = 0; r < ROWS; r++)
            for (int j = 0; j < CLASSES; j++)
                target[r * CLASSES + j] =
                    smoothings[s] / CLASSES + (j == labels[r] ? 1.0f - smoothings[s] : 0.0f);
        double hard = sn_softmax_cross_entropy_forward(probs, logits, labels, ROWS, CLASSES,
                                                       smoothings[s], NULL);
        double soft = sn_soft_cross_entropy_forward(probs_soft, logits, target, ROWS, CLASSES);
        ck_assert_double_eq_tol(soft, hard, 1e-6);
        ck_assert_mem_eq(probs_soft, probs, ROWS * CLASSES * sizeof(float));
    }
}
END_TEST

/* Same tolerances as the hard loss. The target is a teacher's softmax. */
START_TEST(soft_cross_entropy_gradients)
{
    enum { ROWS = 4, CLASSES = 6 };
    loss_case c = {.rows = ROWS, .classes = CLASSES};
    c.logits = take_normal(ROWS * CLASSES, 2.0f, 80);
    c.probs = take(ROWS * CLASSES);
    c.target = take(ROWS * CLASSES);
    float *teacher = take_normal(ROWS * CLASSES, 2.0f, 81);
    for (int r = 0; r < ROWS; r++) {
        double sum = 0;
        for (int j = 0; j < CLASSES; j++)
            sum += c.target[r * CLASSES + j] = expf(teacher[r * CLASSES + j]);
        for (int j = 0; j < CLASSES; j++)
            c.target[r * CLASSES + j] = (float)(c.target[r * CLASSES + j] / sum);
    }
    float *d = take(ROWS * CLASSES);
    soft_loss(&c);
    sn_soft_cross_entropy_backward(d, c.probs, c.target, ROWS, CLASSES, 1.0f);
    ck_assert_int_eq(gradcheck_compare("soft cross-entropy dlogits", c.logits, d,
                                       ROWS * CLASSES, 1000, 1e-3, 1e-3, 1e-6, soft_loss, &c),
                     0);
}
END_TEST

/* ---- LSTM cell ------------------------------------------------------------ */

/* w_hh is the 16 x 4 first-k block of a 16 x 6 matrix (a strided view). */
enum { LS_B = 3, LS_IN = 5, LS_H = 4, LS_G = 4 * LS_H, LS_HH_STRIDE = 6 };

typedef struct {
    float *h, *c, *gates, *x, *h_prev, *c_prev, *bias, *rh, *rc;
    sn_matrix w_ih, w_hh;
} lstm_case;

/* L = sum rh*h + sum rc*c, so dh = rh and dc = rc are both nonzero. */
static double lstm_loss(void *context)
{
    lstm_case *c = context;
    sn_lstm_cell_forward(c->h, c->c, c->gates, c->x, c->h_prev, c->c_prev, c->w_ih, c->w_hh,
                         c->bias, LS_B, LS_IN, LS_H);
    return gradcheck_probe(c->h, c->rh, LS_B * LS_H) + gradcheck_probe(c->c, c->rc, LS_B * LS_H);
}

static lstm_case make_lstm_case(void)
{
    lstm_case c;
    c.x = take_normal(LS_B * LS_IN, 1.0f, 90);
    c.h_prev = take_normal(LS_B * LS_H, 0.7f, 91);
    c.c_prev = take_normal(LS_B * LS_H, 1.0f, 92);
    c.w_ih = sn_matrix_make(take_normal(LS_G * LS_IN, 0.5f, 93), LS_G, LS_IN, LS_IN);
    c.w_hh = sn_matrix_make(take_normal(LS_G * LS_HH_STRIDE, 0.5f, 94), LS_G, LS_H,
                            LS_HH_STRIDE);
    c.bias = take_normal(LS_G, 0.5f, 95);
    c.rh = take_normal(LS_B * LS_H, 1.0f, 96);
    c.rc = take_normal(LS_B * LS_H, 1.0f, 97);
    c.h = take(LS_B * LS_H);
    c.c = take(LS_B * LS_H);
    c.gates = take(LS_B * LS_G);
    return c;
}

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* Against the formula in double; tolerance 1e-5 (float gate sums). */
START_TEST(lstm_forward_matches_formula)
{
    lstm_case c = make_lstm_case();
    lstm_loss(&c);
    for (int b = 0; b < LS_B; b++)
        for (int j = 0; j < LS_H; j++) {
            double a[4];
            for (int gate = 0; gate < 4; gate++) {
                int row = gate * LS_H + j;
                a[gate] = c.bias[row];
                for (int e = 0; e < LS_IN; e++)
                    a[gate] += (double)c.x[b * LS_IN + e] * c.w_ih.data[row * LS_IN + e];
                for (int e = 0; e < LS_H; e++)
                    a[gate] +=
                        (double)c.h_prev[b * LS_H + e] * c.w_hh.data[row * LS_HH_STRIDE + e];
            }
            double i = sigmoid(a[0]), f = sigmoid(a[1]), g = tanh(a[2]), o = sigmoid(a[3]);
            double cell = f * c.c_prev[b * LS_H + j] + i * g;
            ck_assert_double_eq_tol(c.c[b * LS_H + j], cell, 1e-5);
            ck_assert_double_eq_tol(c.h[b * LS_H + j], o * tanh(cell), 1e-5);
            ck_assert_double_eq_tol(c.gates[b * LS_G + j], i, 1e-5);
            ck_assert_double_eq_tol(c.gates[b * LS_G + LS_H + j], f, 1e-5);
            ck_assert_double_eq_tol(c.gates[b * LS_G + 2 * LS_H + j], g, 1e-5);
            ck_assert_double_eq_tol(c.gates[b * LS_G + 3 * LS_H + j], o, 1e-5);
        }
}
END_TEST

START_TEST(lstm_gradients)
{
    lstm_case c = make_lstm_case();
    lstm_loss(&c);
    float *dx = take(LS_B * LS_IN), *dh_prev = take(LS_B * LS_H), *dc_prev = take(LS_B * LS_H);
    float *dbias = take(LS_G), *ws = take(LS_B * LS_G);
    sn_matrix dw_ih = sn_matrix_make(take(LS_G * LS_IN), LS_G, LS_IN, LS_IN);
    sn_matrix dw_hh = sn_matrix_make(take(LS_G * LS_HH_STRIDE), LS_G, LS_H, LS_HH_STRIDE);
    sn_lstm_cell_backward(dx, dh_prev, dc_prev, dw_ih, dw_hh, dbias, c.rh, c.rc, c.gates, c.c,
                          c.c_prev, c.x, c.h_prev, c.w_ih, c.w_hh, LS_B, LS_IN, LS_H, ws);
    ck_assert_int_eq(gradcheck_compare("lstm dx", c.x, dx, LS_B * LS_IN, 1000, GC_H, GC_REL,
                                       GC_ABS, lstm_loss, &c), 0);
    ck_assert_int_eq(gradcheck_compare("lstm dh_prev", c.h_prev, dh_prev, LS_B * LS_H, 1000,
                                       GC_H, GC_REL, GC_ABS, lstm_loss, &c), 0);
    ck_assert_int_eq(gradcheck_compare("lstm dc_prev", c.c_prev, dc_prev, LS_B * LS_H, 1000,
                                       GC_H, GC_REL, GC_ABS, lstm_loss, &c), 0);
    ck_assert_int_eq(gradcheck_view("lstm dw_ih", c.w_ih, dw_ih, lstm_loss, &c), 0);
    ck_assert_int_eq(gradcheck_view("lstm dw_hh", c.w_hh, dw_hh, lstm_loss, &c), 0);
    ck_assert_int_eq(gradcheck_compare("lstm dbias", c.bias, dbias, LS_G, 1000, GC_H, GC_REL,
                                       GC_ABS, lstm_loss, &c), 0);
    for (int r = 0; r < LS_G; r++)
        for (int e = LS_H; e < LS_HH_STRIDE; e++)
            ck_assert_float_eq(dw_hh.data[r * LS_HH_STRIDE + e], 0.0f);
}
END_TEST

/* dc = NULL means no gradient flows into c: the same as dc = 0. */
START_TEST(lstm_null_dc_is_zero)
{
    lstm_case c = make_lstm_case();
    lstm_loss(&c);
    float *zeros = take(LS_B * LS_H), *ws = take(LS_B * LS_G);
    float *dx[2], *dc_prev[2];
    for (int v = 0; v < 2; v++) {
        dx[v] = take(LS_B * LS_IN);
        dc_prev[v] = take(LS_B * LS_H);
        sn_matrix dw_ih = sn_matrix_make(take(LS_G * LS_IN), LS_G, LS_IN, LS_IN);
        sn_matrix dw_hh = sn_matrix_make(take(LS_G * LS_H), LS_G, LS_H, LS_H);
        sn_lstm_cell_backward(dx[v], NULL, dc_prev[v], dw_ih, dw_hh, NULL, c.rh,
                              v == 0 ? NULL : zeros, c.gates, c.c, c.c_prev, c.x, c.h_prev,
                              c.w_ih, c.w_hh, LS_B, LS_IN, LS_H, ws);
    }
    ck_assert_mem_eq(dx[0], dx[1], LS_B * LS_IN * sizeof(float));
    ck_assert_mem_eq(dc_prev[0], dc_prev[1], LS_B * LS_H * sizeof(float));
}
END_TEST

/* ---- gradient conventions ------------------------------------------------ */

/* Running backward twice doubles parameter gradients (x + x is exact in float,
 * so the tolerance is a few ulps: 1e-6 relative) and gives identical input
 * gradients even when the input-gradient buffers start as NaN. */
static void assert_doubled(const float *twice, const float *once, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        ck_assert_float_eq_tol(twice[i], 2.0f * once[i], 1e-6f * (1.0f + fabsf(once[i])));
}

START_TEST(linear_accumulates_parameters_overwrites_input)
{
    enum { ROWS = 3, O = 4, I = 5 };
    float *in = take_normal(ROWS * I, 1.0f, 100), *dout = take_normal(ROWS * O, 1.0f, 101);
    sn_matrix w = sn_matrix_make(take_normal(O * I, 1.0f, 102), O, I, I);
    float *din = take(ROWS * I), *dbias = take(O);
    sn_matrix dw = sn_matrix_make(take(O * I), O, I, I);
    sn_linear_backward(din, dw, dbias, dout, in, w, ROWS);
    float *din1 = take_copy(din, ROWS * I), *dw1 = take_copy(dw.data, O * I);
    float *dbias1 = take_copy(dbias, O);
    fill(din, ROWS * I, NAN);
    sn_linear_backward(din, dw, dbias, dout, in, w, ROWS);
    ck_assert_mem_eq(din, din1, ROWS * I * sizeof(float));
    assert_doubled(dw.data, dw1, O * I);
    assert_doubled(dbias, dbias1, O);
}
END_TEST

START_TEST(layernorm_accumulates_parameters_overwrites_input)
{
    enum { ROWS = 3, DIM = 6 };
    layernorm_case c = make_layernorm_case(ROWS, DIM);
    layernorm_loss(&c);
    float *din = take(ROWS * DIM), *dgamma = take(DIM), *dbeta = take(DIM);
    sn_layernorm_backward(din, dgamma, dbeta, c.r, c.in, c.gamma, c.mean, c.inv_std, ROWS, DIM);
    float *din1 = take_copy(din, ROWS * DIM), *dgamma1 = take_copy(dgamma, DIM);
    float *dbeta1 = take_copy(dbeta, DIM);
    fill(din, ROWS * DIM, NAN);
    sn_layernorm_backward(din, dgamma, dbeta, c.r, c.in, c.gamma, c.mean, c.inv_std, ROWS, DIM);
    ck_assert_mem_eq(din, din1, ROWS * DIM * sizeof(float));
    assert_doubled(dgamma, dgamma1, DIM);
    assert_doubled(dbeta, dbeta1, DIM);
}
END_TEST

START_TEST(patch_embed_accumulates_parameters)
{
    patch_case c = make_patch_case();
    patch_loss(&c);
    sn_matrix dw = sn_matrix_make(take(PE_D * PE_BIG_F), PE_D, PE_F, PE_BIG_F);
    float *dbias = take(PE_D);
    sn_patch_embed_backward(dw, dbias, c.r, PE_N, PE_T, PE_F, c.workspace);
    float *dw1 = take_copy(dw.data, PE_D * PE_BIG_F), *dbias1 = take_copy(dbias, PE_D);
    sn_patch_embed_backward(dw, dbias, c.r, PE_N, PE_T, PE_F, c.workspace);
    assert_doubled(dw.data, dw1, PE_D * PE_BIG_F);
    assert_doubled(dbias, dbias1, PE_D);
}
END_TEST

START_TEST(attention_overwrites_input_gradients)
{
    attention_case c = make_attention_case();
    attention_loss(&c);
    float *ws = take(sn_attention_workspace_floats(AT_T));
    float *d[3], *d1[3];
    for (int v = 0; v < 3; v++)
        d[v] = take(AT_SIZE);
    sn_attention_backward(d[0], d[1], d[2], c.r, c.probs, c.q, c.k, c.v, AT_N, AT_T, AT_HEADS,
                          AT_HD, ws);
    for (int v = 0; v < 3; v++) {
        d1[v] = take_copy(d[v], AT_SIZE);
        fill(d[v], AT_SIZE, NAN);
    }
    fill(ws, sn_attention_workspace_floats(AT_T), NAN);
    sn_attention_backward(d[0], d[1], d[2], c.r, c.probs, c.q, c.k, c.v, AT_N, AT_T, AT_HEADS,
                          AT_HD, ws);
    for (int v = 0; v < 3; v++)
        ck_assert_mem_eq(d[v], d1[v], AT_SIZE * sizeof(float));
}
END_TEST

START_TEST(cross_entropy_overwrites_dlogits)
{
    enum { ROWS = 2, CLASSES = 5 };
    const int32_t labels[ROWS] = {1, 4};
    float *logits = take_normal(ROWS * CLASSES, 1.0f, 110), *probs = take(ROWS * CLASSES);
    float *target = take_normal(ROWS * CLASSES, 0.1f, 111);
    float *d = take(ROWS * CLASSES);
    sn_softmax_cross_entropy_forward(probs, logits, labels, ROWS, CLASSES, 0.1f, NULL);
    sn_softmax_cross_entropy_backward(d, probs, labels, ROWS, CLASSES, 0.1f, 1.0f);
    float *d1 = take_copy(d, ROWS * CLASSES);
    fill(d, ROWS * CLASSES, NAN);
    sn_softmax_cross_entropy_backward(d, probs, labels, ROWS, CLASSES, 0.1f, 1.0f);
    ck_assert_mem_eq(d, d1, ROWS * CLASSES * sizeof(float));
    sn_soft_cross_entropy_backward(d, probs, target, ROWS, CLASSES, 1.0f);
    memcpy(d1, d, ROWS * CLASSES * sizeof(float));
    fill(d, ROWS * CLASSES, NAN);
    sn_soft_cross_entropy_backward(d, probs, target, ROWS, CLASSES, 1.0f);
    ck_assert_mem_eq(d, d1, ROWS * CLASSES * sizeof(float));
}
END_TEST

START_TEST(lstm_accumulates_parameters_overwrites_inputs)
{
    lstm_case c = make_lstm_case();
    lstm_loss(&c);
    float *dx = take(LS_B * LS_IN), *dh_prev = take(LS_B * LS_H), *dc_prev = take(LS_B * LS_H);
    float *dbias = take(LS_G), *ws = take(LS_B * LS_G);
    sn_matrix dw_ih = sn_matrix_make(take(LS_G * LS_IN), LS_G, LS_IN, LS_IN);
    sn_matrix dw_hh = sn_matrix_make(take(LS_G * LS_HH_STRIDE), LS_G, LS_H, LS_HH_STRIDE);
    sn_lstm_cell_backward(dx, dh_prev, dc_prev, dw_ih, dw_hh, dbias, c.rh, c.rc, c.gates, c.c,
                          c.c_prev, c.x, c.h_prev, c.w_ih, c.w_hh, LS_B, LS_IN, LS_H, ws);
    float *dx1 = take_copy(dx, LS_B * LS_IN), *dh1 = take_copy(dh_prev, LS_B * LS_H);
    float *dc1 = take_copy(dc_prev, LS_B * LS_H), *dbias1 = take_copy(dbias, LS_G);
    float *dw_ih1 = take_copy(dw_ih.data, LS_G * LS_IN);
    float *dw_hh1 = take_copy(dw_hh.data, LS_G * LS_HH_STRIDE);
    fill(dx, LS_B * LS_IN, NAN);
    fill(dh_prev, LS_B * LS_H, NAN);
    fill(dc_prev, LS_B * LS_H, NAN);
    fill(ws, LS_B * LS_G, NAN);
    sn_lstm_cell_backward(dx, dh_prev, dc_prev, dw_ih, dw_hh, dbias, c.rh, c.rc, c.gates, c.c,
                          c.c_prev, c.x, c.h_prev, c.w_ih, c.w_hh, LS_B, LS_IN, LS_H, ws);
    ck_assert_mem_eq(dx, dx1, LS_B * LS_IN * sizeof(float));
    ck_assert_mem_eq(dh_prev, dh1, LS_B * LS_H * sizeof(float));
    ck_assert_mem_eq(dc_prev, dc1, LS_B * LS_H * sizeof(float));
    assert_doubled(dw_ih.data, dw_ih1, LS_G * LS_IN);
    assert_doubled(dw_hh.data, dw_hh1, LS_G * LS_HH_STRIDE);
    assert_doubled(dbias, dbias1, LS_G);
}
END_TEST

static TCase *new_case(Suite *suite, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, release_all);
    suite_add_tcase(suite, tc);
    return tc;
}

int main(void)
{
    Suite *suite = suite_create("nn_transformer");
    TCase *tc = new_case(suite, "linear");
    tcase_add_test(tc, linear_forward_matches_naive);
    tcase_add_test(tc, linear_gradients_with_bias);
    tcase_add_test(tc, linear_gradients_without_bias);
    tcase_add_test(tc, linear_sliced_weight_gradients_stay_in_slice);
    tc = new_case(suite, "layernorm");
    tcase_add_test(tc, layernorm_forward_normalises_rows);
    tcase_add_test(tc, layernorm_gradients);
    tc = new_case(suite, "patch_embed");
    tcase_add_test(tc, patch_embed_forward_is_a_strided_convolution);
    tcase_add_test(tc, patch_embed_gradients);
    tc = new_case(suite, "attention");
    tcase_add_test(tc, attention_forward_matches_double_loops);
    tcase_add_test(tc, attention_gradients);
    tcase_add_test(tc, attention_large_heads_match_double_loops);
    tc = new_case(suite, "loss");
    tcase_add_test(tc, cross_entropy_of_uniform_logits_is_log_classes);
    tcase_add_test(tc, label_smoothing_by_hand);
    tcase_add_test(tc, cross_entropy_counts_correct_rows);
    tcase_add_test(tc, cross_entropy_gradients);
    tcase_add_test(tc, cross_entropy_gradients_with_smoothing);
    tcase_add_test(tc, soft_cross_entropy_matches_hard_targets);
    tcase_add_test(tc, soft_cross_entropy_gradients);
    tc = new_case(suite, "lstm");
    tcase_add_test(tc, lstm_forward_matches_formula);
    tcase_add_test(tc, lstm_gradients);
    tcase_add_test(tc, lstm_null_dc_is_zero);
    tc = new_case(suite, "conventions");
    tcase_add_test(tc, linear_accumulates_parameters_overwrites_input);
    tcase_add_test(tc, layernorm_accumulates_parameters_overwrites_input);
    tcase_add_test(tc, patch_embed_accumulates_parameters);
    tcase_add_test(tc, attention_overwrites_input_gradients);
    tcase_add_test(tc, cross_entropy_overwrites_dlogits);
    tcase_add_test(tc, lstm_accumulates_parameters_overwrites_inputs);
    sn_blas_setup(1);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
