/*
 * The fixed vision transformer: patch embedding, class token, position
 * embedding, pre-norm blocks (attention and MLP branches with residuals and
 * drop-path), final layer norm on the class token, linear head.
 * Token activations are [N, T', D] with T' = patches + 1 (the class token
 * first); rows of every linear layer are the N*T' tokens.
 */
#include "network_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/nn.h"

enum { VIT_MAX_DEPTH = 64 };

typedef struct {
    int norm1_weight, norm1_bias, q_weight, q_bias, k_weight, k_bias, v_weight, v_bias;
    int proj_weight, proj_bias, norm2_weight, norm2_bias, fc1_weight, fc1_bias, fc2_weight, fc2_bias;
    float drop_path;              /* this block's rate: grows linearly with depth */
    /* saved by the forward for the backward */
    float *norm1_out, *norm1_mean, *norm1_inv_std, *q, *k, *v, *probs, *attention_out;
    float *proj_out, *proj_mask, *attention_keep, *middle;
    float *norm2_out, *norm2_mean, *norm2_inv_std, *fc1_out, *gelu_out, *fc2_out, *fc2_mask;
    float *mlp_keep;
} vit_block;

typedef struct {
    int patch, dim, depth, heads, hidden;
    int64_t patches, tokens;      /* tokens = patches + 1 */
    float dropout;
    int patch_weight, patch_bias, class_token, position, norm_weight, norm_bias;
    int head_weight, head_bias;
    vit_block blocks[VIT_MAX_DEPTH];
    float *patch_workspace, *patch_tokens;
    float *stream[VIT_MAX_DEPTH + 1]; /* the residual stream entering each block, and the last */
    float *class_rows, *final_out, *final_mean, *final_inv_std, *logits;
    /* backward scratch */
    float *dstream, *dbranch, *dnorm, *dq, *dk, *dv, *dhidden, *attention_workspace;
} vit_model;

static int add_param(sn_network *network, int *entry, const char *name, int64_t rows, int64_t cols,
                     int decay)
{
    int64_t shape[2] = {rows, cols};
    int index = cols > 0 ? sn_parameter_table_add(&network->table, name, 2, shape, decay)
                         : sn_parameter_table_add(&network->table, name, 1, shape, decay);
    if (index < 0)
        return index;
    *entry = index;
    return SN_OK;
}

static int vit_declare(sn_network *network)
{
    vit_model *m = network->model;
    const sn_input_shape *in = &network->input;
    if (in->height % m->patch != 0 || in->width % m->patch != 0)
        return sn_error_set(SN_ERR_CONFIG, "[vit] patch = %d does not divide the %dx%d images",
                            m->patch, in->height, in->width);
    if (m->dim % m->heads != 0)
        return sn_error_set(SN_ERR_CONFIG, "[vit] embed_dim = %d is not divisible by heads = %d",
                            m->dim, m->heads);
    m->patches = (int64_t)(in->height / m->patch) * (in->width / m->patch);
    m->tokens = m->patches + 1;
    int64_t d = m->dim, hidden = m->hidden, features = (int64_t)in->channels * m->patch * m->patch;
    SN_TRY(add_param(network, &m->patch_weight, "patch.weight", d, features, 1));
    SN_TRY(add_param(network, &m->patch_bias, "patch.bias", d, 0, 0));
    SN_TRY(add_param(network, &m->class_token, "class_token", d, 0, 0));
    SN_TRY(add_param(network, &m->position, "position", m->tokens, d, 0));
    char name[SN_MAX_NAME];
#define BLOCK_PARAM(field, label, rows, cols, decay)                          \
    do {                                                                      \
        snprintf(name, sizeof name, "block%d.%s", l, label);                  \
        SN_TRY(add_param(network, &b->field, name, rows, cols, decay));       \
    } while (0)
    for (int l = 0; l < m->depth; l++) {
        vit_block *b = &m->blocks[l];
        BLOCK_PARAM(norm1_weight, "norm1.weight", d, 0, 0);
        BLOCK_PARAM(norm1_bias, "norm1.bias", d, 0, 0);
        BLOCK_PARAM(q_weight, "attention.q.weight", d, d, 1);
        BLOCK_PARAM(q_bias, "attention.q.bias", d, 0, 0);
        BLOCK_PARAM(k_weight, "attention.k.weight", d, d, 1);
        BLOCK_PARAM(k_bias, "attention.k.bias", d, 0, 0);
        BLOCK_PARAM(v_weight, "attention.v.weight", d, d, 1);
        BLOCK_PARAM(v_bias, "attention.v.bias", d, 0, 0);
        BLOCK_PARAM(proj_weight, "attention.proj.weight", d, d, 1);
        BLOCK_PARAM(proj_bias, "attention.proj.bias", d, 0, 0);
        BLOCK_PARAM(norm2_weight, "norm2.weight", d, 0, 0);
        BLOCK_PARAM(norm2_bias, "norm2.bias", d, 0, 0);
        BLOCK_PARAM(fc1_weight, "mlp.fc1.weight", hidden, d, 1);
        BLOCK_PARAM(fc1_bias, "mlp.fc1.bias", hidden, 0, 0);
        BLOCK_PARAM(fc2_weight, "mlp.fc2.weight", d, hidden, 1);
        BLOCK_PARAM(fc2_bias, "mlp.fc2.bias", d, 0, 0);
    }
#undef BLOCK_PARAM
    SN_TRY(add_param(network, &m->norm_weight, "norm.weight", d, 0, 0));
    SN_TRY(add_param(network, &m->norm_bias, "norm.bias", d, 0, 0));
    SN_TRY(add_param(network, &m->head_weight, "head.weight", in->classes, d, 1));
    SN_TRY(add_param(network, &m->head_bias, "head.bias", in->classes, 0, 0));

    int64_t t = m->tokens;
    int64_t block_macs = 4 * t * d * d + 2 * t * t * d + 2 * t * d * hidden;
    network->convolution_macs = m->patches * d * features;
    network->macs = network->convolution_macs + m->depth * block_macs + d * in->classes;
    return SN_OK;
}

static void vit_layout(sn_network *network, sn_arena *arena)
{
    vit_model *m = network->model;
    int64_t n = network->max_batch, rows = n * m->tokens, d = m->dim, hidden = m->hidden;
    int dropout = m->dropout > 0.0f;
    m->patch_workspace = sn_arena_take(
        arena, sn_patch_embed_workspace_floats(n, network->input.channels, network->input.height,
                                               network->input.width, m->patch));
    m->patch_tokens = sn_arena_take(arena, n * m->patches * d);
    for (int l = 0; l <= m->depth; l++)
        m->stream[l] = sn_arena_take(arena, rows * d);
    for (int l = 0; l < m->depth; l++) {
        vit_block *b = &m->blocks[l];
        b->norm1_out = sn_arena_take(arena, rows * d);
        b->norm1_mean = sn_arena_take(arena, rows);
        b->norm1_inv_std = sn_arena_take(arena, rows);
        b->q = sn_arena_take(arena, rows * d);
        b->k = sn_arena_take(arena, rows * d);
        b->v = sn_arena_take(arena, rows * d);
        b->probs = sn_arena_take(arena, n * m->heads * m->tokens * m->tokens);
        b->attention_out = sn_arena_take(arena, rows * d);
        b->proj_out = sn_arena_take(arena, rows * d);
        b->proj_mask = dropout ? sn_arena_take(arena, rows * d) : NULL;
        b->attention_keep = sn_arena_take(arena, n);
        b->middle = sn_arena_take(arena, rows * d);
        b->norm2_out = sn_arena_take(arena, rows * d);
        b->norm2_mean = sn_arena_take(arena, rows);
        b->norm2_inv_std = sn_arena_take(arena, rows);
        b->fc1_out = sn_arena_take(arena, rows * hidden);
        b->gelu_out = sn_arena_take(arena, rows * hidden);
        b->fc2_out = sn_arena_take(arena, rows * d);
        b->fc2_mask = dropout ? sn_arena_take(arena, rows * d) : NULL;
        b->mlp_keep = sn_arena_take(arena, n);
    }
    m->class_rows = sn_arena_take(arena, n * d);
    m->final_out = sn_arena_take(arena, n * d);
    m->final_mean = sn_arena_take(arena, n);
    m->final_inv_std = sn_arena_take(arena, n);
    m->logits = sn_arena_take(arena, n * network->input.classes);
    m->dstream = sn_arena_take(arena, rows * d);
    m->dbranch = sn_arena_take(arena, rows * d);
    m->dnorm = sn_arena_take(arena, rows * d);
    m->dq = sn_arena_take(arena, rows * d);
    m->dk = sn_arena_take(arena, rows * d);
    m->dv = sn_arena_take(arena, rows * d);
    m->dhidden = sn_arena_take(arena, rows * hidden);
    m->attention_workspace = sn_arena_take(arena, sn_attention_workspace_floats(m->tokens));
}

static void vit_initialize(sn_network *network, uint64_t seed)
{
    /* timm's ViT: truncated normal (std 0.02) for every weight matrix and the
     * embeddings, zero biases, unit layer-norm scales. */
    for (int e = 0; e < network->table.count; e++) {
        const sn_parameter_entry *entry = &network->table.entries[e];
        const char *name = entry->name;
        size_t length = strlen(name);
        int is_norm_weight = strstr(name, "norm") && length > 7 && strcmp(name + length - 7, ".weight") == 0;
        if (is_norm_weight)
            sn_init_constant(network, e, 1.0f);
        else if (length > 5 && strcmp(name + length - 5, ".bias") == 0)
            sn_init_constant(network, e, 0.0f);
        else
            sn_init_truncated_normal(network, e, seed, 0.02f);
    }
}

static sn_matrix weight_view(sn_network *network, float *slab, int entry)
{
    const sn_parameter_entry *e = &network->table.entries[entry];
    return sn_matrix_make(sn_entry(network, slab, entry), e->shape[0], e->shape[1], e->shape[1]);
}

#define P(entry) sn_entry(network, network->parameters, (entry))
#define G(entry) sn_entry(network, network->gradients, (entry))

static void branch_regularize(float *x, float *mask, float *keep, const vit_model *m, float drop_path,
                              int64_t batch, const sn_forward_mode *mode, uint32_t layer)
{
    int64_t per_sample = m->tokens * m->dim;
    if (!mode->training)
        return;
    if (mask) {
        sn_rng_stream stream;
        sn_rng_stream_init(&stream, mode->seed, SN_RNG_DROPOUT, mode->step,
                           (mode->shard << 16) | layer);
        sn_dropout_forward(x, mask, x, batch * per_sample, m->dropout, &stream);
    }
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, mode->seed, SN_RNG_DROP_PATH, mode->step, (mode->shard << 16) | layer);
    sn_drop_path_forward(x, keep, x, 1, batch, per_sample, drop_path, &stream);
}

static const float *vit_forward(sn_network *network, const float *images, int64_t batch,
                                const sn_forward_mode *mode)
{
    vit_model *m = network->model;
    const sn_input_shape *in = &network->input;
    int64_t d = m->dim, t = m->tokens, rows = batch * t, head_dim = m->dim / m->heads;
    sn_patch_embed_forward(m->patch_tokens, images, weight_view(network, network->parameters, m->patch_weight),
                           P(m->patch_bias), batch, in->channels, in->height, in->width, m->patch,
                           m->patch_workspace);
    /* stream[0][n] = [class token; patch tokens] + position */
    const float *position = P(m->position), *class_token = P(m->class_token);
    for (int64_t n = 0; n < batch; n++) {
        float *x = m->stream[0] + n * t * d;
        for (int64_t j = 0; j < d; j++)
            x[j] = class_token[j] + position[j];
        const float *patches = m->patch_tokens + n * m->patches * d;
        for (int64_t i = 0; i < m->patches * d; i++)
            x[d + i] = patches[i] + position[d + i];
    }
    for (int l = 0; l < m->depth; l++) {
        vit_block *b = &m->blocks[l];
        const float *x = m->stream[l];
        sn_layernorm_forward(b->norm1_out, b->norm1_mean, b->norm1_inv_std, x, P(b->norm1_weight),
                             P(b->norm1_bias), rows, d, 1e-6f);
        sn_linear_forward(b->q, b->norm1_out, weight_view(network, network->parameters, b->q_weight), P(b->q_bias), rows);
        sn_linear_forward(b->k, b->norm1_out, weight_view(network, network->parameters, b->k_weight), P(b->k_bias), rows);
        sn_linear_forward(b->v, b->norm1_out, weight_view(network, network->parameters, b->v_weight), P(b->v_bias), rows);
        sn_attention_forward(b->attention_out, b->probs, b->q, b->k, b->v, batch, t, m->heads, head_dim);
        sn_linear_forward(b->proj_out, b->attention_out,
                          weight_view(network, network->parameters, b->proj_weight), P(b->proj_bias), rows);
        branch_regularize(b->proj_out, b->proj_mask, b->attention_keep, m, b->drop_path, batch, mode,
                          (uint32_t)(2 * l));
        sn_add_forward(b->middle, x, b->proj_out, rows * d);
        sn_layernorm_forward(b->norm2_out, b->norm2_mean, b->norm2_inv_std, b->middle,
                             P(b->norm2_weight), P(b->norm2_bias), rows, d, 1e-6f);
        sn_linear_forward(b->fc1_out, b->norm2_out, weight_view(network, network->parameters, b->fc1_weight),
                          P(b->fc1_bias), rows);
        sn_gelu_forward(b->gelu_out, b->fc1_out, rows * m->hidden);
        sn_linear_forward(b->fc2_out, b->gelu_out, weight_view(network, network->parameters, b->fc2_weight),
                          P(b->fc2_bias), rows);
        branch_regularize(b->fc2_out, b->fc2_mask, b->mlp_keep, m, b->drop_path, batch, mode,
                          (uint32_t)(2 * l + 1));
        sn_add_forward(m->stream[l + 1], b->middle, b->fc2_out, rows * d);
    }
    const float *last = m->stream[m->depth];
    for (int64_t n = 0; n < batch; n++)
        memcpy(m->class_rows + n * d, last + n * t * d, (size_t)d * sizeof(float));
    sn_layernorm_forward(m->final_out, m->final_mean, m->final_inv_std, m->class_rows,
                         P(m->norm_weight), P(m->norm_bias), batch, d, 1e-6f);
    sn_linear_forward(m->logits, m->final_out, weight_view(network, network->parameters, m->head_weight),
                      P(m->head_bias), batch);
    return m->logits;
}

/* Backward of one branch's regularisers: dbranch = the branch output's
 * gradient, given the residual stream's gradient dx. */
static void branch_regularize_backward(float *dbranch, const float *dx, const float *mask,
                                       const float *keep, const vit_model *m, int64_t batch)
{
    int64_t per_sample = m->tokens * m->dim;
    sn_drop_path_backward(dbranch, dx, keep, 1, batch, per_sample);
    if (mask)
        sn_dropout_backward(dbranch, dbranch, mask, batch * per_sample);
}

static void vit_backward(sn_network *network, const float *dlogits, int64_t batch)
{
    vit_model *m = network->model;
    float *params = network->parameters, *grads = network->gradients;
    int64_t d = m->dim, t = m->tokens, rows = batch * t, head_dim = m->dim / m->heads;
    int64_t hidden_size = rows * m->hidden;

    /* Head and final norm act on the class token only. */
    float *dfinal = m->dbranch, *dclass = m->dnorm;
    sn_linear_backward(dfinal, weight_view(network, grads, m->head_weight), G(m->head_bias), dlogits,
                       m->final_out, weight_view(network, params, m->head_weight), batch);
    sn_layernorm_backward(dclass, G(m->norm_weight), G(m->norm_bias), dfinal, m->class_rows,
                          P(m->norm_weight), m->final_mean, m->final_inv_std, batch, d);
    float *dx = m->dstream;
    memset(dx, 0, (size_t)(rows * d) * sizeof(float));
    for (int64_t n = 0; n < batch; n++)
        memcpy(dx + n * t * d, dclass + n * d, (size_t)d * sizeof(float));

    for (int l = m->depth - 1; l >= 0; l--) {
        vit_block *b = &m->blocks[l];
        /* MLP branch: stream[l+1] = middle + fc2(gelu(fc1(norm2(middle)))). */
        branch_regularize_backward(m->dbranch, dx, b->fc2_mask, b->mlp_keep, m, batch);
        sn_linear_backward(m->dhidden, weight_view(network, grads, b->fc2_weight), G(b->fc2_bias),
                           m->dbranch, b->gelu_out, weight_view(network, params, b->fc2_weight), rows);
        sn_gelu_backward(m->dhidden, m->dhidden, b->fc1_out, hidden_size);
        sn_linear_backward(m->dnorm, weight_view(network, grads, b->fc1_weight), G(b->fc1_bias),
                           m->dhidden, b->norm2_out, weight_view(network, params, b->fc1_weight), rows);
        sn_layernorm_backward(m->dbranch, G(b->norm2_weight), G(b->norm2_bias), m->dnorm, b->middle,
                              P(b->norm2_weight), b->norm2_mean, b->norm2_inv_std, rows, d);
        sn_accumulate(dx, m->dbranch, rows * d); /* dx is now dL/d middle */

        /* Attention branch: middle = x + proj(attention(q, k, v of norm1(x))). */
        branch_regularize_backward(m->dbranch, dx, b->proj_mask, b->attention_keep, m, batch);
        sn_linear_backward(m->dnorm, weight_view(network, grads, b->proj_weight), G(b->proj_bias),
                           m->dbranch, b->attention_out, weight_view(network, params, b->proj_weight), rows);
        sn_attention_backward(m->dq, m->dk, m->dv, m->dnorm, b->probs, b->q, b->k, b->v, batch, t,
                              m->heads, head_dim, m->attention_workspace);
        /* q, k and v all read norm1's output: their input gradients add up. */
        sn_linear_backward(m->dnorm, weight_view(network, grads, b->q_weight), G(b->q_bias), m->dq,
                           b->norm1_out, weight_view(network, params, b->q_weight), rows);
        sn_linear_backward(m->dbranch, weight_view(network, grads, b->k_weight), G(b->k_bias), m->dk,
                           b->norm1_out, weight_view(network, params, b->k_weight), rows);
        sn_accumulate(m->dnorm, m->dbranch, rows * d);
        sn_linear_backward(m->dbranch, weight_view(network, grads, b->v_weight), G(b->v_bias), m->dv,
                           b->norm1_out, weight_view(network, params, b->v_weight), rows);
        sn_accumulate(m->dnorm, m->dbranch, rows * d);
        sn_layernorm_backward(m->dbranch, G(b->norm1_weight), G(b->norm1_bias), m->dnorm, m->stream[l],
                              P(b->norm1_weight), b->norm1_mean, b->norm1_inv_std, rows, d);
        sn_accumulate(dx, m->dbranch, rows * d); /* dx is now dL/d stream[l] */
    }

    /* stream[0] = [class token; patch tokens] + position. */
    float *dposition = G(m->position), *dclass_token = G(m->class_token);
    for (int64_t n = 0; n < batch; n++) {
        const float *g = dx + n * t * d;
        sn_accumulate(dposition, g, t * d);
        sn_accumulate(dclass_token, g, d);
        memcpy(m->patch_tokens + n * m->patches * d, g + d, (size_t)(m->patches * d) * sizeof(float));
    }
    /* patch_tokens now holds their gradient (the forward's values are not needed again). */
    sn_patch_embed_backward(weight_view(network, grads, m->patch_weight), G(m->patch_bias),
                            m->patch_tokens, batch, m->patches,
                            network->input.channels * m->patch * m->patch, m->patch_workspace);
}

static void vit_free(sn_network *network)
{
    free(network->model);
    network->model = NULL;
}

static const sn_network_operations vit_operations = {
    vit_declare, vit_layout, vit_initialize, vit_forward, vit_backward, vit_free, NULL, NULL, NULL,
};

int sn_network_vit_attach(sn_network *network, const sn_config *config)
{
    if (config->vit_depth < 1 || config->vit_depth > VIT_MAX_DEPTH)
        return sn_error_set(SN_ERR_CONFIG, "[vit] depth = %lld: must be in [1, %d]",
                            (long long)config->vit_depth, VIT_MAX_DEPTH);
    vit_model *m = calloc(1, sizeof *m);
    if (!m)
        return sn_error_set(SN_ERR_NOMEM, "vit: out of memory");
    network->model = m;
    network->operations = &vit_operations;
    network->layout = SN_LAYOUT_SAMPLE_MAJOR;
    m->patch = (int)config->vit_patch;
    m->dim = (int)config->vit_embed_dim;
    m->depth = (int)config->vit_depth;
    m->heads = (int)config->vit_heads;
    m->hidden = (int)config->vit_mlp_hidden;
    m->dropout = (float)config->vit_dropout;
    for (int l = 0; l < m->depth; l++)
        m->blocks[l].drop_path =
            m->depth > 1 ? (float)config->vit_drop_path * (float)l / (float)(m->depth - 1) : 0.0f;
    return SN_OK;
}
