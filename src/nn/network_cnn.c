/*
 * The fixed CNN: blocks of conv(k, stride) - batch norm - activation, global
 * average pooling, linear classifier. Activations are channel-major
 * [C, N, H, W] so that each convolution is one product over the batch.
 */
#include "network_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/nn.h"

enum { CNN_MAX_BLOCKS = SN_CNN_MAX_BLOCKS };

typedef struct {
    sn_conv2d_dims conv;          /* for max_batch; the batch field is set per call */
    int64_t out_height, out_width;
    int weight, gamma, beta;      /* parameter entries */
    float *running_mean, *running_var;
    /* saved by the forward for the backward; norm_out only for hard-swish
     * (ReLU is fused into the batch norm, whose output is then its mask) */
    float *conv_out, *norm_out, *activation_out, *saved_mean, *saved_inv_std;
} cnn_block;

typedef struct {
    int block_count;
    cnn_block blocks[CNN_MAX_BLOCKS];
    int hardswish;                /* activation: hard-swish instead of ReLU */
    float bn_momentum;
    int classifier_weight, classifier_bias;
    float *running_statistics;    /* every block's running mean and variance */
    float *pooled, *logits;       /* [N, C_last], [N, classes] */
    float *gradient_a, *gradient_b; /* ping-pong input gradients, largest activation */
    float *workspace;             /* im2col scratch, largest convolution */
    const float *images;          /* the last forward's input (the caller's buffer) */
} cnn_model;

static int64_t block_spatial(const cnn_block *b)
{
    return b->out_height * b->out_width;
}

static int cnn_declare(sn_network *network)
{
    cnn_model *m = network->model;
    char name[SN_MAX_NAME];
    int64_t channels = network->input.channels;
    int64_t height = network->input.height, width = network->input.width;
    int64_t statistics = 0;
    network->macs = network->convolution_macs = 0;
    for (int i = 0; i < m->block_count; i++) {
        cnn_block *b = &m->blocks[i];
        b->conv.in_channels = channels;
        b->conv.in_height = height;
        b->conv.in_width = width;
        b->conv.batch = network->max_batch;
        if (sn_conv2d_dims_check(&b->conv) != SN_OK) {
            char reason[512];
            snprintf(reason, sizeof reason, "%s", sn_error_message());
            return sn_error_set(SN_ERR_CONFIG, "[cnn] block %d (%lldx%lld input): %s", i,
                                (long long)height, (long long)width, reason);
        }
        b->out_height = sn_conv2d_out_size(height, b->conv.kernel, b->conv.stride, b->conv.padding);
        b->out_width = sn_conv2d_out_size(width, b->conv.kernel, b->conv.stride, b->conv.padding);
        int64_t out = b->conv.out_channels;
        int64_t k = b->conv.kernel;
        int64_t wshape[2] = {out, channels * k * k};
        snprintf(name, sizeof name, "block%d.conv.weight", i);
        SN_TRY(b->weight = sn_parameter_table_add(&network->table, name, 2, wshape, 1));
        snprintf(name, sizeof name, "block%d.norm.weight", i);
        SN_TRY(b->gamma = sn_parameter_table_add(&network->table, name, 1, &out, 0));
        snprintf(name, sizeof name, "block%d.norm.bias", i);
        SN_TRY(b->beta = sn_parameter_table_add(&network->table, name, 1, &out, 0));
        int64_t conv_macs = out * channels * k * k * block_spatial(b);
        network->convolution_macs += conv_macs;
        network->macs += conv_macs;
        statistics += 2 * out;
        channels = out;
        height = b->out_height;
        width = b->out_width;
    }
    int64_t classes = network->input.classes;
    int64_t cshape[2] = {classes, channels};
    SN_TRY(m->classifier_weight = sn_parameter_table_add(&network->table, "classifier.weight", 2, cshape, 1));
    SN_TRY(m->classifier_bias = sn_parameter_table_add(&network->table, "classifier.bias", 1, &classes, 0));
    network->macs += classes * channels;
    m->running_statistics = sn_alloc_floats((size_t)statistics);
    if (!m->running_statistics)
        return SN_ERR_NOMEM;
    network->running_statistics = m->running_statistics;
    network->running_statistics_count = statistics;
    float *s = m->running_statistics;
    for (int i = 0; i < m->block_count; i++) {
        m->blocks[i].running_mean = s;
        m->blocks[i].running_var = s + m->blocks[i].conv.out_channels;
        s += 2 * m->blocks[i].conv.out_channels;
    }
    return SN_OK;
}

static void cnn_layout(sn_network *network, sn_arena *arena)
{
    cnn_model *m = network->model;
    int64_t n = network->max_batch, largest = 0, workspace = 0;
    for (int i = 0; i < m->block_count; i++) {
        cnn_block *b = &m->blocks[i];
        int64_t size = b->conv.out_channels * n * block_spatial(b);
        b->conv_out = sn_arena_take(arena, size);
        b->norm_out = m->hardswish ? sn_arena_take(arena, size) : NULL;
        b->activation_out = sn_arena_take(arena, size);
        b->saved_mean = sn_arena_take(arena, b->conv.out_channels);
        b->saved_inv_std = sn_arena_take(arena, b->conv.out_channels);
        largest = size > largest ? size : largest;
        int64_t ws = sn_conv2d_workspace_floats(&b->conv);
        workspace = ws > workspace ? ws : workspace;
    }
    int64_t last_channels = m->blocks[m->block_count - 1].conv.out_channels;
    m->pooled = sn_arena_take(arena, n * last_channels);
    m->logits = sn_arena_take(arena, n * network->input.classes);
    m->gradient_a = sn_arena_take(arena, largest);
    m->gradient_b = sn_arena_take(arena, largest);
    m->workspace = sn_arena_take(arena, workspace);
}

static void cnn_initialize(sn_network *network, uint64_t seed)
{
    cnn_model *m = network->model;
    for (int i = 0; i < m->block_count; i++) {
        cnn_block *b = &m->blocks[i];
        /* He initialisation for a ReLU-family activation, fan-in mode. */
        int64_t fan_in = network->table.entries[b->weight].shape[1];
        sn_init_normal(network, b->weight, seed, sqrtf(2.0f / (float)fan_in));
        sn_init_constant(network, b->gamma, 1.0f);
        sn_init_constant(network, b->beta, 0.0f);
        for (int64_t c = 0; c < b->conv.out_channels; c++) {
            b->running_mean[c] = 0.0f;
            b->running_var[c] = 1.0f;
        }
    }
    /* PyTorch's default for nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
    int64_t fan_in = network->table.entries[m->classifier_weight].shape[1];
    float bound = 1.0f / sqrtf((float)fan_in);
    sn_init_uniform(network, m->classifier_weight, seed, bound);
    sn_init_uniform(network, m->classifier_bias, seed, bound);
}

static sn_matrix block_weight(sn_network *network, float *slab, const cnn_block *b)
{
    const sn_parameter_entry *e = &network->table.entries[b->weight];
    return sn_matrix_make(sn_entry(network, slab, b->weight), e->shape[0], e->shape[1], e->shape[1]);
}

static const float *cnn_forward(sn_network *network, const float *images, int64_t batch,
                                const sn_forward_mode *mode)
{
    cnn_model *m = network->model;
    float *params = network->parameters;
    const float *in = images;
    m->images = images;
    for (int i = 0; i < m->block_count; i++) {
        cnn_block *b = &m->blocks[i];
        sn_conv2d_dims dims = b->conv;
        dims.batch = batch;
        int64_t channels = dims.out_channels, count = batch * block_spatial(b);
        sn_conv2d_forward(b->conv_out, in, block_weight(network, params, b), NULL, &dims,
                          m->workspace);
        const float *gamma = sn_entry(network, params, b->gamma);
        const float *beta = sn_entry(network, params, b->beta);
        if (m->hardswish) {
            if (mode->training)
                sn_batchnorm_forward_train(b->norm_out, b->saved_mean, b->saved_inv_std,
                                           b->conv_out, gamma, beta, b->running_mean,
                                           b->running_var, channels, count, m->bn_momentum,
                                           1e-5f);
            else
                sn_batchnorm_forward_eval(b->norm_out, b->conv_out, gamma, beta,
                                          b->running_mean, b->running_var, channels, count,
                                          1e-5f);
            sn_hardswish_forward(b->activation_out, b->norm_out, channels * count);
        } else if (mode->training) {
            sn_batchnorm_relu_forward_train(b->activation_out, b->saved_mean, b->saved_inv_std,
                                            b->conv_out, gamma, beta, b->running_mean,
                                            b->running_var, channels, count, m->bn_momentum,
                                            1e-5f);
        } else {
            sn_batchnorm_relu_forward_eval(b->activation_out, b->conv_out, gamma, beta,
                                           b->running_mean, b->running_var, channels, count,
                                           1e-5f);
        }
        in = b->activation_out;
    }
    const cnn_block *last = &m->blocks[m->block_count - 1];
    int64_t channels = last->conv.out_channels;
    sn_global_avgpool_forward(m->pooled, last->activation_out, channels, batch, block_spatial(last));
    sn_matrix w = sn_matrix_make(sn_entry(network, params, m->classifier_weight),
                                 network->input.classes, channels, channels);
    sn_linear_forward(m->logits, m->pooled, w, sn_entry(network, params, m->classifier_bias), batch);
    return m->logits;
}

static void cnn_backward(sn_network *network, const float *dlogits, int64_t batch)
{
    cnn_model *m = network->model;
    float *params = network->parameters, *grads = network->gradients;
    const cnn_block *last = &m->blocks[m->block_count - 1];
    int64_t channels = last->conv.out_channels;
    /* The pooled features' gradient is small: it borrows gradient_b. */
    float *dpooled = m->gradient_b;
    sn_matrix w = sn_matrix_make(sn_entry(network, params, m->classifier_weight),
                                 network->input.classes, channels, channels);
    sn_matrix dw = sn_matrix_make(sn_entry(network, grads, m->classifier_weight),
                                  network->input.classes, channels, channels);
    sn_linear_backward(dpooled, dw, sn_entry(network, grads, m->classifier_bias), dlogits,
                       m->pooled, w, batch);
    float *dout = m->gradient_a, *din = m->gradient_b;
    sn_global_avgpool_backward(dout, dpooled, channels, batch, block_spatial(last));
    for (int i = m->block_count - 1; i >= 0; i--) {
        cnn_block *b = &m->blocks[i];
        sn_conv2d_dims dims = b->conv;
        dims.batch = batch;
        int64_t out_channels = dims.out_channels, count = batch * block_spatial(b);
        float *dgamma = sn_entry(network, grads, b->gamma);
        float *dbeta = sn_entry(network, grads, b->beta);
        const float *gamma = sn_entry(network, params, b->gamma);
        if (m->hardswish) {
            sn_hardswish_backward(dout, dout, b->norm_out, out_channels * count);
            sn_batchnorm_backward(dout, dgamma, dbeta, dout, b->conv_out, gamma, b->saved_mean,
                                  b->saved_inv_std, out_channels, count);
        } else {
            sn_batchnorm_relu_backward(dout, dgamma, dbeta, dout, b->conv_out, b->activation_out,
                                       gamma, b->saved_mean, b->saved_inv_std, out_channels,
                                       count);
        }
        /* The first block reads the caller's image batch, kept by the forward. */
        const float *block_in = i > 0 ? m->blocks[i - 1].activation_out : m->images;
        sn_conv2d_backward(i > 0 ? din : NULL, block_weight(network, grads, b), NULL, dout,
                           block_in, block_weight(network, params, b), &dims, m->workspace);
        float *t = dout;
        dout = din;
        din = t;
    }
}

static void cnn_free(sn_network *network)
{
    cnn_model *m = network->model;
    if (m)
        sn_free(m->running_statistics);
    free(m);
    network->model = NULL;
}

static const sn_network_operations cnn_operations = {
    cnn_declare, cnn_layout, cnn_initialize, cnn_forward, cnn_backward, cnn_free, NULL, NULL, NULL,
    NULL,
};

int sn_network_cnn_attach(sn_network *network, const sn_cnn_settings *cnn,
                          const sn_layer_settings *layers)
{
    if (cnn->block_count < 1 || cnn->block_count > CNN_MAX_BLOCKS)
        return sn_error_set(SN_ERR_CONFIG, "cnn: %d blocks (1 to %d)", cnn->block_count,
                            CNN_MAX_BLOCKS);
    cnn_model *m = calloc(1, sizeof *m);
    if (!m)
        return sn_error_set(SN_ERR_NOMEM, "cnn: out of memory");
    network->model = m;
    network->operations = &cnn_operations;
    network->layout = SN_LAYOUT_CHANNEL_MAJOR;
    m->block_count = cnn->block_count;
    m->hardswish = cnn->hardswish;
    m->bn_momentum = (float)layers->bn_momentum;
    for (int i = 0; i < m->block_count; i++) {
        sn_conv2d_dims *d = &m->blocks[i].conv;
        /* in_channels, in_height, in_width and batch are set by cnn_declare. */
        d->out_channels = cnn->channels[i];
        d->kernel = cnn->kernel;
        d->stride = cnn->strides[i];
        d->padding = cnn->kernel / 2;
        d->groups = 1;
    }
    return SN_OK;
}
