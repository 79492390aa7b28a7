/* The layers bench_shiftnas layers times (layer_ops.h): constructors and
 * the forward and backward of each kind, on the public kernels of
 * shiftnas/nn.h. FLOPs: 2 per multiply-add of the products, an estimate of a
 * few per element for norms and activations; bytes: every input and weight
 * read once, every output written once, a weight gradient read and written. */
#include "layer_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure.h"

/* ---- allocation ------------------------------------------------------------ */

static float *take(layer_list *list, int64_t floats)
{
    float *p = sn_alloc_floats((size_t)(floats > 0 ? floats : 1));
    if (!p) {
        list->alloc_failed = 1;
        return NULL;
    }
    bench_fill_normal(p, floats, (uint32_t)(list->count * 16 + 1));
    return p;
}

static layer_op *new_op(layer_list *list, const char *kind, const char *name)
{
    if (list->count >= MAX_OPS) {
        list->alloc_failed = 1;
        return NULL;
    }
    layer_op *op = &list->ops[list->count++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    snprintf(op->name, sizeof op->name, "%s", name);
    return op;
}

static void add_product(layer_op *op, int pass, int64_t m, int64_t n, int64_t k, int ta, int tb,
                        double count)
{
    if (op->product_count[pass] < MAX_PRODUCTS)
        op->products[pass][op->product_count[pass]++] = (product){m, n, k, ta, tb, count};
    op->flops[pass] += 2.0 * (double)m * (double)n * (double)k * count;
    op->is_product = 1;
}

void free_op(layer_op *op)
{
    float *buffers[] = {op->x,    op->y,      op->dx,     op->dy,    op->ws,      op->bias,
                        op->dbias, op->gamma, op->beta,   op->dgamma, op->dbeta,  op->mean,
                        op->inv_std, op->run_mean, op->run_var, op->w.data, op->dw.data,
                        op->kw.data, op->dkw.data};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        sn_free(buffers[i]);
    free(op->labels);
}

/* ---- convolutions (channel-major [C, N, H, W]) ------------------------------ */

static void conv_forward(layer_op *op)
{
    sn_conv2d_forward(op->y, op->x, op->w, NULL, &op->dims, op->ws);
}

static void conv_backward(layer_op *op)
{
    sn_conv2d_backward(op->dx, op->dw, NULL, op->dy, op->x, op->w, &op->dims, op->ws);
}

/* A dense convolution (the stem, the 1x1 expand and project); din: whether
 * its input needs a gradient (not the stem's: the image). */
void add_conv(layer_list *list, const char *kind, const char *name, int64_t cin,
                     int64_t cout, int64_t side, int kernel, int stride, int din)
{
    layer_op *op = new_op(list, kind, name);
    if (!op)
        return;
    int64_t n = list->shard;
    op->dims = (sn_conv2d_dims){n, cin, cout, side, side, kernel, stride, kernel / 2, 1};
    int64_t out = sn_conv2d_out_size(side, kernel, stride, kernel / 2);
    int64_t in_floats = cin * n * side * side, out_floats = cout * n * out * out;
    int64_t cols = cin * kernel * kernel, spatial = n * out * out;
    op->x = take(list, in_floats);
    op->y = take(list, out_floats);
    op->dy = take(list, out_floats);
    op->dx = din ? take(list, in_floats) : NULL;
    op->w = sn_matrix_make(take(list, cout * cols), cout, cols, cols);
    op->dw = sn_matrix_make(take(list, cout * cols), cout, cols, cols);
    op->ws = take(list, sn_conv2d_workspace_floats(&op->dims));
    op->run[FWD] = conv_forward;
    op->run[BWD] = conv_backward;
    add_product(op, FWD, cout, spatial, cols, 0, 0, 1);
    if (din)
        add_product(op, BWD, cols, spatial, cout, 1, 0, 1);
    add_product(op, BWD, cout, cols, spatial, 0, 1, 1);
    op->bytes[FWD] = 4.0 * (double)(in_floats + cout * cols + out_floats);
    op->bytes[BWD] = 4.0 * (double)(out_floats + in_floats + cout * cols + 2 * cout * cols +
                                    (din ? in_floats : 0));
}

static void depthwise_forward(layer_op *op)
{
    sn_depthwise_conv2d_forward(op->y, op->x, op->kw, NULL, &op->dims);
}

static void depthwise_backward(layer_op *op)
{
    sn_depthwise_conv2d_backward(op->dx, op->dkw, NULL, op->dy, op->x, op->kw, &op->dims);
}

void add_depthwise(layer_list *list, const char *name, int64_t channels, int64_t side,
                          int kernel, int stride)
{
    layer_op *op = new_op(list, kernel == 3 ? "depthwise 3x3" : kernel == 5 ? "depthwise 5x5"
                                                                            : "depthwise kxk",
                          name);
    if (!op)
        return;
    int64_t n = list->shard, taps = (int64_t)kernel * kernel;
    op->dims = (sn_conv2d_dims){n, channels, channels, side, side, kernel, stride, kernel / 2,
                                (int)channels};
    int64_t out = sn_conv2d_out_size(side, kernel, stride, kernel / 2);
    int64_t in_floats = channels * n * side * side, out_floats = channels * n * out * out;
    op->x = take(list, in_floats);
    op->y = take(list, out_floats);
    op->dy = take(list, out_floats);
    op->dx = take(list, in_floats);
    op->kw = (sn_kernel_view){take(list, channels * taps), taps, kernel};
    op->dkw = (sn_kernel_view){take(list, channels * taps), taps, kernel};
    op->run[FWD] = depthwise_forward;
    op->run[BWD] = depthwise_backward;
    op->flops[FWD] = 2.0 * (double)(out_floats * taps);
    op->flops[BWD] = 2.0 * op->flops[FWD];
    op->bytes[FWD] = 4.0 * (double)(in_floats + channels * taps + out_floats);
    op->bytes[BWD] = 4.0 * (double)(out_floats + in_floats + channels * taps + in_floats +
                                    2 * channels * taps);
}

/* ---- batch norm (+ ReLU), over [C, count] ---------------------------------- */

static void bn_relu_forward(layer_op *op)
{
    sn_batchnorm_relu_forward_train(op->y, op->mean, op->inv_std, op->x, op->gamma, op->beta,
                                    op->run_mean, op->run_var, op->channels, op->count, 0.1f,
                                    1e-5f);
}

static void bn_relu_backward(layer_op *op)
{
    sn_batchnorm_relu_backward(op->dx, op->dgamma, op->dbeta, op->dy, op->x, op->y, op->gamma,
                               op->mean, op->inv_std, op->channels, op->count);
}

static void bn_forward(layer_op *op)
{
    sn_batchnorm_forward_train(op->y, op->mean, op->inv_std, op->x, op->gamma, op->beta,
                               op->run_mean, op->run_var, op->channels, op->count, 0.1f, 1e-5f);
}

static void bn_backward(layer_op *op)
{
    sn_batchnorm_backward(op->dx, op->dgamma, op->dbeta, op->dy, op->x, op->gamma, op->mean,
                          op->inv_std, op->channels, op->count);
}

void add_batchnorm(layer_list *list, const char *name, int64_t channels, int64_t spatial,
                          int relu)
{
    layer_op *op = new_op(list, relu ? "batch norm + ReLU" : "batch norm", name);
    if (!op)
        return;
    int64_t count = list->shard * spatial, floats = channels * count;
    op->channels = channels;
    op->count = count;
    op->x = take(list, floats);
    op->y = take(list, floats);
    op->dy = take(list, floats);
    op->dx = take(list, floats);
    op->gamma = take(list, channels);
    op->beta = take(list, channels);
    op->dgamma = take(list, channels);
    op->dbeta = take(list, channels);
    op->mean = take(list, channels);
    op->inv_std = take(list, channels);
    op->run_mean = take(list, channels);
    op->run_var = take(list, channels);
    op->run[FWD] = relu ? bn_relu_forward : bn_forward;
    op->run[BWD] = relu ? bn_relu_backward : bn_backward;
    op->flops[FWD] = (relu ? 6.0 : 5.0) * (double)floats;
    op->flops[BWD] = (relu ? 9.0 : 8.0) * (double)floats;
    op->bytes[FWD] = 8.0 * (double)floats;
    op->bytes[BWD] = (relu ? 16.0 : 12.0) * (double)floats;
}

/* ---- elementwise: residual add, GELU, pooling, loss ------------------------- */

static void add_forward(layer_op *op)
{
    sn_add_forward(op->y, op->x, op->dy, op->count);
}

static void add_backward(layer_op *op)
{
    sn_accumulate(op->dx, op->dy, op->count);
}

void add_residual(layer_list *list, const char *name, int64_t floats)
{
    layer_op *op = new_op(list, "residual add", name);
    if (!op)
        return;
    op->count = floats;
    op->x = take(list, floats);
    op->y = take(list, floats);
    op->dy = take(list, floats);
    op->dx = take(list, floats);
    op->run[FWD] = add_forward;
    op->run[BWD] = add_backward;
    op->flops[FWD] = op->flops[BWD] = (double)floats;
    op->bytes[FWD] = op->bytes[BWD] = 12.0 * (double)floats;
}

static void gelu_forward(layer_op *op)
{
    sn_gelu_forward(op->y, op->x, op->count);
}

static void gelu_backward(layer_op *op)
{
    sn_gelu_backward(op->dx, op->dy, op->x, op->count);
}

void add_gelu(layer_list *list, const char *name, int64_t floats)
{
    layer_op *op = new_op(list, "GELU", name);
    if (!op)
        return;
    op->count = floats;
    op->x = take(list, floats);
    op->y = take(list, floats);
    op->dy = take(list, floats);
    op->dx = take(list, floats);
    op->run[FWD] = gelu_forward;
    op->run[BWD] = gelu_backward;
    op->flops[FWD] = 20.0 * (double)floats; /* exp and erfc polynomials, about */
    op->flops[BWD] = 25.0 * (double)floats;
    op->bytes[FWD] = 8.0 * (double)floats;
    op->bytes[BWD] = 12.0 * (double)floats;
}

static void pool_forward(layer_op *op)
{
    sn_global_avgpool_forward(op->y, op->x, op->channels, op->batch, op->count);
}

static void pool_backward(layer_op *op)
{
    sn_global_avgpool_backward(op->dx, op->dy, op->channels, op->batch, op->count);
}

void add_pool(layer_list *list, const char *name, int64_t channels, int64_t spatial)
{
    layer_op *op = new_op(list, "average pooling", name);
    if (!op)
        return;
    int64_t n = list->shard, floats = channels * n * spatial;
    op->channels = channels;
    op->batch = n;
    op->count = spatial;
    op->x = take(list, floats);
    op->dx = take(list, floats);
    op->y = take(list, channels * n);
    op->dy = take(list, channels * n);
    op->run[FWD] = pool_forward;
    op->run[BWD] = pool_backward;
    op->flops[FWD] = op->flops[BWD] = (double)floats;
    op->bytes[FWD] = op->bytes[BWD] = 4.0 * (double)(floats + channels * n);
}

static void loss_forward(layer_op *op)
{
    sn_softmax_cross_entropy_forward(op->y, op->x, op->labels, op->batch, (int)op->channels,
                                     0.1f, NULL);
}

static void loss_backward(layer_op *op)
{
    sn_softmax_cross_entropy_backward(op->dx, op->y, op->labels, op->batch, (int)op->channels,
                                      0.1f, 1.0f);
}

void add_loss(layer_list *list, int64_t classes)
{
    layer_op *op = new_op(list, "softmax cross-entropy", "loss");
    if (!op)
        return;
    int64_t n = list->shard;
    op->channels = classes;
    op->batch = n;
    op->x = take(list, n * classes);
    op->y = take(list, n * classes);
    op->dx = take(list, n * classes);
    op->labels = malloc((size_t)n * sizeof *op->labels);
    if (!op->labels) {
        list->alloc_failed = 1;
        return;
    }
    for (int64_t i = 0; i < n; i++)
        op->labels[i] = (int32_t)(i % classes);
    op->run[FWD] = loss_forward;
    op->run[BWD] = loss_backward;
    op->flops[FWD] = op->flops[BWD] = 5.0 * (double)(n * classes);
    op->bytes[FWD] = op->bytes[BWD] = 8.0 * (double)(n * classes);
}

/* ---- linear layers, layer norm, attention, patch embedding (rows [R, D]) -- */

static void linear_forward(layer_op *op)
{
    sn_linear_forward(op->y, op->x, op->w, op->bias, op->rows);
}

static void linear_backward(layer_op *op)
{
    sn_linear_backward(op->dx, op->dw, op->dbias, op->dy, op->x, op->w, op->rows);
}

void add_linear(layer_list *list, const char *name, int64_t rows, int64_t in, int64_t out)
{
    layer_op *op = new_op(list, "linear", name);
    if (!op)
        return;
    op->rows = rows;
    op->x = take(list, rows * in);
    op->dx = take(list, rows * in);
    op->y = take(list, rows * out);
    op->dy = take(list, rows * out);
    op->w = sn_matrix_make(take(list, out * in), out, in, in);
    op->dw = sn_matrix_make(take(list, out * in), out, in, in);
    op->bias = take(list, out);
    op->dbias = take(list, out);
    op->run[FWD] = linear_forward;
    op->run[BWD] = linear_backward;
    add_product(op, FWD, rows, out, in, 0, 1, 1);
    add_product(op, BWD, rows, in, out, 0, 0, 1);
    add_product(op, BWD, out, in, rows, 1, 0, 1);
    op->bytes[FWD] = 4.0 * (double)(rows * in + out * in + out + rows * out);
    op->bytes[BWD] = 4.0 * (double)(rows * out + rows * in + out * in + rows * in +
                                    2 * (out * in + out));
}

static void layernorm_forward(layer_op *op)
{
    sn_layernorm_forward(op->y, op->mean, op->inv_std, op->x, op->gamma, op->beta, op->rows,
                         op->cols, 1e-6f);
}

static void layernorm_backward(layer_op *op)
{
    sn_layernorm_backward(op->dx, op->dgamma, op->dbeta, op->dy, op->x, op->gamma, op->mean,
                          op->inv_std, op->rows, op->cols);
}

void add_layernorm(layer_list *list, const char *name, int64_t rows, int64_t dim)
{
    layer_op *op = new_op(list, "layer norm", name);
    if (!op)
        return;
    op->rows = rows;
    op->cols = dim;
    op->x = take(list, rows * dim);
    op->y = take(list, rows * dim);
    op->dy = take(list, rows * dim);
    op->dx = take(list, rows * dim);
    op->gamma = take(list, dim);
    op->beta = take(list, dim);
    op->dgamma = take(list, dim);
    op->dbeta = take(list, dim);
    op->mean = take(list, rows);
    op->inv_std = take(list, rows);
    op->run[FWD] = layernorm_forward;
    op->run[BWD] = layernorm_backward;
    op->flops[FWD] = 6.0 * (double)(rows * dim);
    op->flops[BWD] = 9.0 * (double)(rows * dim);
    op->bytes[FWD] = 8.0 * (double)(rows * dim);
    op->bytes[BWD] = 12.0 * (double)(rows * dim);
}

/* q, k, v, out and their gradients live in one buffer each of 3 widths. */
static void attention_forward(layer_op *op)
{
    int64_t width = op->rows * op->heads * op->head_dim;
    sn_attention_forward(op->y, op->mean, op->x, op->x + width, op->x + 2 * width, op->batch,
                         op->tokens, op->heads, op->head_dim);
}

static void attention_backward(layer_op *op)
{
    int64_t width = op->rows * op->heads * op->head_dim;
    sn_attention_backward(op->dx, op->dx + width, op->dx + 2 * width, op->dy, op->mean, op->x,
                          op->x + width, op->x + 2 * width, op->batch, op->tokens, op->heads,
                          op->head_dim, op->ws);
}

void add_attention(layer_list *list, const char *name, int64_t tokens, int64_t heads,
                          int64_t head_dim)
{
    layer_op *op = new_op(list, "attention (softmax(q k^T) v)", name);
    if (!op)
        return;
    int64_t n = list->shard, t = tokens, width = n * t * heads * head_dim;
    int64_t probs = n * heads * t * t;
    op->batch = n;
    op->tokens = t;
    op->heads = heads;
    op->head_dim = head_dim;
    op->rows = n * t;
    op->x = take(list, 3 * width);
    op->dx = take(list, 3 * width);
    op->y = take(list, width);
    op->dy = take(list, width);
    op->mean = take(list, probs); /* the saved softmax */
    op->ws = take(list, sn_attention_workspace_floats(t));
    op->run[FWD] = attention_forward;
    op->run[BWD] = attention_backward;
    double calls = (double)(n * heads);
    add_product(op, FWD, t, t, head_dim, 0, 1, calls);  /* q k^T */
    add_product(op, FWD, t, head_dim, t, 0, 0, calls);  /* P v */
    add_product(op, BWD, t, t, head_dim, 0, 1, calls);  /* dP = dO v^T */
    add_product(op, BWD, t, head_dim, t, 1, 0, calls);  /* dV = P^T dO */
    add_product(op, BWD, t, head_dim, t, 0, 0, calls);  /* dQ = dS k */
    add_product(op, BWD, t, head_dim, t, 1, 0, calls);  /* dK = dS^T q */
    op->bytes[FWD] = 4.0 * (double)(3 * width + width + probs);
    op->bytes[BWD] = 4.0 * (double)(width + probs + 3 * width + 3 * width);
}

static void patch_forward(layer_op *op)
{
    sn_patch_embed_forward(op->y, op->x, op->w, op->bias, op->batch, op->channels, op->cols,
                           op->cols, (int)op->count, op->ws);
}

static void patch_backward(layer_op *op)
{
    sn_patch_embed_backward(op->dw, op->dbias, op->dy, op->batch, op->tokens,
                            (int)op->w.cols, op->ws);
}

void add_patch_embed(layer_list *list, const char *name, int64_t channels, int64_t size,
                            int patch, int64_t embed)
{
    layer_op *op = new_op(list, "patch embedding", name);
    if (!op)
        return;
    int64_t n = list->shard, patches = (size / patch) * (size / patch);
    int64_t features = channels * patch * patch;
    op->batch = n;
    op->channels = channels;
    op->cols = size;
    op->count = patch;
    op->tokens = patches;
    op->x = take(list, n * channels * size * size);
    op->y = take(list, n * patches * embed);
    op->dy = take(list, n * patches * embed);
    op->w = sn_matrix_make(take(list, embed * features), embed, features, features);
    op->dw = sn_matrix_make(take(list, embed * features), embed, features, features);
    op->bias = take(list, embed);
    op->dbias = take(list, embed);
    op->ws = take(list, sn_patch_embed_workspace_floats(n, channels, size, size, patch));
    op->run[FWD] = patch_forward;
    op->run[BWD] = patch_backward;
    add_product(op, FWD, n * patches, embed, features, 0, 1, 1);
    add_product(op, BWD, embed, features, n * patches, 1, 0, 1);
    op->bytes[FWD] = 4.0 * (double)(n * channels * size * size + embed * features +
                                    n * patches * embed);
    op->bytes[BWD] = 4.0 * (double)(n * patches * embed + n * patches * features +
                                    2 * embed * features);
}
