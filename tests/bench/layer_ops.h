/* The layers bench_shiftnas layers times (layer_ops.c): each a layer of a
 * subnet rebuilt from the public kernels of shiftnas/nn.h at a shard's shapes,
 * with its own buffers, its forward and backward, and its FLOPs, bytes and
 * sgemm calls for the roofline (layer_roofline.c). */
#ifndef SHIFTNAS_BENCH_LAYER_OPS_H
#define SHIFTNAS_BENCH_LAYER_OPS_H

#include <stdint.h>

#include "shiftnas/nn.h"
#include "shiftnas/tensor.h"

enum { FWD = 0, BWD = 1, MAX_OPS = 160, MAX_PRODUCTS = 4 };

typedef struct layer_op layer_op;
typedef void (*op_run)(layer_op *op);

/* One sgemm call a layer makes, repeated `count` times per pass. */
typedef struct {
    int64_t m, n, k;
    int ta, tb;
    double count;
} product;

struct layer_op {
    char name[72];
    const char *kind;
    int is_product;
    double flops[2], bytes[2], seconds[2], bound[2];
    product products[2][MAX_PRODUCTS];
    int product_count[2];
    op_run run[2];
    /* operands; each kind uses its own subset */
    sn_conv2d_dims dims;
    sn_matrix w, dw;
    sn_kernel_view kw, dkw;
    float *x, *y, *dx, *dy, *ws, *bias, *dbias;
    float *gamma, *beta, *dgamma, *dbeta, *mean, *inv_std, *run_mean, *run_var;
    int64_t channels, count, rows, cols, batch, tokens, heads, head_dim;
    int32_t *labels;
};

typedef struct {
    layer_op ops[MAX_OPS];
    int count;
    int64_t shard;
    int alloc_failed;
} layer_list;

/* Each adds one layer to the list (list->alloc_failed on failure). A dense
 * convolution of the channel-major CNN (din: whether its input needs a
 * gradient); sizes per image, the batch is list->shard. */
void add_conv(layer_list *list, const char *kind, const char *name, int64_t cin, int64_t cout,
              int64_t side, int kernel, int stride, int din);
void add_depthwise(layer_list *list, const char *name, int64_t channels, int64_t side, int kernel,
                   int stride);
void add_batchnorm(layer_list *list, const char *name, int64_t channels, int64_t spatial,
                   int relu);
void add_residual(layer_list *list, const char *name, int64_t floats);
void add_gelu(layer_list *list, const char *name, int64_t floats);
void add_pool(layer_list *list, const char *name, int64_t channels, int64_t spatial);
void add_loss(layer_list *list, int64_t classes);
void add_linear(layer_list *list, const char *name, int64_t rows, int64_t in, int64_t out);
void add_layernorm(layer_list *list, const char *name, int64_t rows, int64_t dim);
void add_attention(layer_list *list, const char *name, int64_t tokens, int64_t heads,
                   int64_t head_dim);
void add_patch_embed(layer_list *list, const char *name, int64_t channels, int64_t size,
                     int patch, int64_t embed);
/* Releases one layer's buffers. */
void free_op(layer_op *op);

#endif
