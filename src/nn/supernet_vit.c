/*
 * The ViT supernet (AutoFormer-style weight entanglement): every parameter is
 * declared at its largest size and a subnet computes with first-k slices of
 * it as strided views.
 *
 *   sliced mode: the subnet alone. Tokens are compact at its width e
 *     ([N, T, e]), q/k/v are its first h heads, the MLP its first H hidden
 *     units, only its first L layers run. Backward touches only its slices.
 *   masked mode: the largest network with every choice a mask M·p (the
 *     architecture generator's differentiable form): the embed mask scales the
 *     embedded tokens and every residual branch and replaces each layer norm
 *     by the masked layer norm, the heads mask scales each head's output
 *     before the projection, the hidden mask scales the MLP after GELU and
 *     a depth gate scales both branches of a layer. Backward also writes
 *     d loss / d p. At a one-hot p both modes compute the same function.
 *
 * The same forward and backward serve both modes: the current shape says
 * how wide each part is (the largest one in masked mode) and the masks are
 * applied only in masked mode.
 */
#include "network_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/nn.h"

#define SVIT_EPS 1e-6f

typedef struct {
    int norm1_weight, norm1_bias, q_weight, q_bias, k_weight, k_bias, v_weight, v_bias;
    int proj_weight, proj_bias, norm2_weight, norm2_bias, fc1_weight, fc1_bias, fc2_weight, fc2_bias;
    int max_heads, max_hidden;    /* declared sizes */
    float drop_path;              /* grows linearly with the largest depth */
    /* saved by the forward for the backward */
    float *norm1_out, *norm1_mean, *norm1_inv_std, *q, *k, *v, *probs, *attention_out;
    float *attention_masked, *proj_out, *proj_mask, *attention_keep, *middle;
    float *norm2_out, *norm2_mean, *norm2_inv_std, *fc1_out, *gelu_out, *gelu_masked;
    float *fc2_out, *fc2_mask, *mlp_keep;
} svit_layer;

/* How wide each part of the network currently is. */
typedef struct {
    int embed, depth;
    int heads[SN_SPACE_MAX_LAYERS], hidden[SN_SPACE_MAX_LAYERS];
} svit_shape;

typedef struct {
    int patch, head_dim, classes;
    int64_t patches, tokens, features;
    int max_embed, max_depth, max_width, max_hidden; /* width = heads * head_dim */
    int max_heads;
    float dropout;
    int patch_weight, patch_bias, class_token, position, norm_weight, norm_bias;
    int head_weight, head_bias;
    svit_layer layers[SN_SPACE_MAX_LAYERS];

    svit_shape shape;
    int masked;
    int regularized;                  /* the last forward ran dropout and drop-path */
    /* masked mode: probabilities, masks and the masks' gradients */
    float *probabilities;             /* choice_total */
    float *embed_mask, *depth_gate;   /* [max_embed], [max_depth] */
    float *heads_mask, *hidden_mask;  /* [max_depth][max_heads], [max_depth][max_hidden] */
    float *dembed_mask, *ddepth_gate, *dheads_mask, *dhidden_mask;
    double *column_sums;              /* scratch: max(max_embed, max_hidden) */

    /* activations */
    float *patch_workspace, *patch_tokens, *embedded;
    float *stream[SN_SPACE_MAX_LAYERS + 1];
    float *class_rows, *final_out, *final_mean, *final_inv_std, *logits;
    /* backward scratch */
    float *dstream, *dbranch, *dnorm, *dattention, *dq, *dk, *dv, *dhidden, *attention_workspace;
} svit_model;

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

static int dimension_int(const sn_space *space, int d, int choice)
{
    return (int)space->dimensions[d].choices[choice];
}

static int dimension_largest(const sn_space *space, int d)
{
    return dimension_int(space, d, space->dimensions[d].choice_count - 1);
}

static int mlp_units(double ratio, int embed)
{
    return (int)lround(ratio * embed);
}

static void shape_of(const sn_space *space, const sn_arch *arch, svit_shape *shape)
{
    memset(shape, 0, sizeof *shape);
    shape->embed = (int)sn_arch_value(space, arch, space->embed_dimension);
    shape->depth = (int)sn_arch_value(space, arch, space->depth_dimension[0]);
    for (int l = 0; l < shape->depth; l++) {
        shape->heads[l] = (int)sn_arch_value(space, arch, space->heads_dimension[l]);
        shape->hidden[l] = mlp_units(sn_arch_value(space, arch, space->mlp_dimension[l]), shape->embed);
    }
}

static int svit_declare(sn_network *network)
{
    svit_model *m = network->model;
    int64_t e = m->max_embed, features = m->features;
    SN_TRY(add_param(network, &m->patch_weight, "patch.weight", e, features, 1));
    SN_TRY(add_param(network, &m->patch_bias, "patch.bias", e, 0, 0));
    SN_TRY(add_param(network, &m->class_token, "class_token", e, 0, 0));
    SN_TRY(add_param(network, &m->position, "position", m->tokens, e, 0));
    char name[SN_MAX_NAME];
#define LAYER_PARAM(field, label, rows, cols, decay)                          \
    do {                                                                      \
        snprintf(name, sizeof name, "block%d.%s", l, label);                  \
        SN_TRY(add_param(network, &b->field, name, rows, cols, decay));       \
    } while (0)
    for (int l = 0; l < m->max_depth; l++) {
        svit_layer *b = &m->layers[l];
        int64_t width = (int64_t)b->max_heads * m->head_dim, hidden = b->max_hidden;
        LAYER_PARAM(norm1_weight, "norm1.weight", e, 0, 0);
        LAYER_PARAM(norm1_bias, "norm1.bias", e, 0, 0);
        LAYER_PARAM(q_weight, "attention.q.weight", width, e, 1);
        LAYER_PARAM(q_bias, "attention.q.bias", width, 0, 0);
        LAYER_PARAM(k_weight, "attention.k.weight", width, e, 1);
        LAYER_PARAM(k_bias, "attention.k.bias", width, 0, 0);
        LAYER_PARAM(v_weight, "attention.v.weight", width, e, 1);
        LAYER_PARAM(v_bias, "attention.v.bias", width, 0, 0);
        LAYER_PARAM(proj_weight, "attention.proj.weight", e, width, 1);
        LAYER_PARAM(proj_bias, "attention.proj.bias", e, 0, 0);
        LAYER_PARAM(norm2_weight, "norm2.weight", e, 0, 0);
        LAYER_PARAM(norm2_bias, "norm2.bias", e, 0, 0);
        LAYER_PARAM(fc1_weight, "mlp.fc1.weight", hidden, e, 1);
        LAYER_PARAM(fc1_bias, "mlp.fc1.bias", hidden, 0, 0);
        LAYER_PARAM(fc2_weight, "mlp.fc2.weight", e, hidden, 1);
        LAYER_PARAM(fc2_bias, "mlp.fc2.bias", e, 0, 0);
    }
#undef LAYER_PARAM
    SN_TRY(add_param(network, &m->norm_weight, "norm.weight", e, 0, 0));
    SN_TRY(add_param(network, &m->norm_bias, "norm.bias", e, 0, 0));
    SN_TRY(add_param(network, &m->head_weight, "head.weight", m->classes, e, 1));
    SN_TRY(add_param(network, &m->head_bias, "head.bias", m->classes, 0, 0));
    return SN_OK;
}

/* Every buffer is sized for the largest subnet; a smaller one uses a
 * compact prefix of each. */
static void svit_layout(sn_network *network, sn_arena *arena)
{
    svit_model *m = network->model;
    int64_t n = network->max_batch, rows = n * m->tokens, e = m->max_embed;
    int64_t width = m->max_width, hidden = m->max_hidden;
    int dropout = m->dropout > 0.0f;
    m->patch_workspace = sn_arena_take(
        arena, sn_patch_embed_workspace_floats(n, network->input.channels, network->input.height,
                                               network->input.width, m->patch));
    m->patch_tokens = sn_arena_take(arena, n * m->patches * e);
    /* Masked mode's own buffers; the fixed ViT (a one-architecture space,
     * network->fixed) never runs masked and does without them. */
    const int masks = !network->fixed;
    m->embedded = masks ? sn_arena_take(arena, rows * e) : NULL;
    for (int l = 0; l <= m->max_depth; l++)
        m->stream[l] = sn_arena_take(arena, rows * e);
    for (int l = 0; l < m->max_depth; l++) {
        svit_layer *b = &m->layers[l];
        b->norm1_out = sn_arena_take(arena, rows * e);
        b->norm1_mean = sn_arena_take(arena, rows);
        b->norm1_inv_std = sn_arena_take(arena, rows);
        b->q = sn_arena_take(arena, rows * width);
        b->k = sn_arena_take(arena, rows * width);
        b->v = sn_arena_take(arena, rows * width);
        b->probs = sn_arena_take(arena, n * m->max_heads * m->tokens * m->tokens);
        b->attention_out = sn_arena_take(arena, rows * width);
        b->attention_masked = masks ? sn_arena_take(arena, rows * width) : NULL;
        b->proj_out = sn_arena_take(arena, rows * e);
        b->proj_mask = dropout ? sn_arena_take(arena, rows * e) : NULL;
        b->attention_keep = sn_arena_take(arena, n);
        b->middle = sn_arena_take(arena, rows * e);
        b->norm2_out = sn_arena_take(arena, rows * e);
        b->norm2_mean = sn_arena_take(arena, rows);
        b->norm2_inv_std = sn_arena_take(arena, rows);
        b->fc1_out = sn_arena_take(arena, rows * hidden);
        b->gelu_out = sn_arena_take(arena, rows * hidden);
        b->gelu_masked = masks ? sn_arena_take(arena, rows * hidden) : NULL;
        b->fc2_out = sn_arena_take(arena, rows * e);
        b->fc2_mask = dropout ? sn_arena_take(arena, rows * e) : NULL;
        b->mlp_keep = sn_arena_take(arena, n);
    }
    m->class_rows = sn_arena_take(arena, n * e);
    m->final_out = sn_arena_take(arena, n * e);
    m->final_mean = sn_arena_take(arena, n);
    m->final_inv_std = sn_arena_take(arena, n);
    m->logits = sn_arena_take(arena, n * m->classes);
    m->dstream = sn_arena_take(arena, rows * e);
    m->dbranch = sn_arena_take(arena, rows * e);
    m->dnorm = sn_arena_take(arena, rows * e);
    m->dattention = sn_arena_take(arena, rows * width);
    m->dq = sn_arena_take(arena, rows * width);
    m->dk = sn_arena_take(arena, rows * width);
    m->dv = sn_arena_take(arena, rows * width);
    m->dhidden = sn_arena_take(arena, rows * hidden);
    m->attention_workspace = sn_arena_take(arena, sn_attention_workspace_floats(m->tokens));
}

static void svit_initialize(sn_network *network, uint64_t seed)
{
    /* As the fixed ViT (timm): truncated normal (std 0.02) for every weight
     * matrix and the embeddings, zero biases, unit layer-norm scales. */
    for (int e = 0; e < network->table.count; e++) {
        const char *name = network->table.entries[e].name;
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

/* The top-left rows x cols block of a 2-D entry of a slab: a first-k slice. */
static sn_matrix slice(const sn_network *network, float *slab, int entry, int64_t rows, int64_t cols)
{
    const sn_parameter_entry *e = &network->table.entries[entry];
    return sn_matrix_make(sn_entry(network, slab, entry), rows, cols, e->shape[1]);
}

#define P(entry) sn_entry(network, network->parameters, (entry))
#define G(entry) sn_entry(network, network->gradients, (entry))
#define PV(entry, rows, cols) slice(network, network->parameters, (entry), (rows), (cols))
#define GV(entry, rows, cols) slice(network, network->gradients, (entry), (rows), (cols))

/* ---- masks ---------------------------------------------------------------- */

/* out [rows, dim] = x * mask[col] * scale. */
static void mask_columns(float *out, const float *x, const float *mask, float scale, int64_t rows,
                         int64_t dim)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < dim; j++)
            out[r * dim + j] = x[r * dim + j] * mask[j] * scale;
}

/* Backward of out = x * mask[col] * scale given dout: dmask[col] +=
 * scale * sum_r dout x; *dscale += sum dout * x * mask (if dscale); then
 * dx = dout * mask * scale (dx may alias dout). sums: dim doubles of scratch
 * (the column sums are gathered row by row, in memory order). */
static void mask_columns_backward(float *dx, float *dmask, float *dscale, const float *dout,
                                  const float *x, const float *mask, float scale, int64_t rows,
                                  int64_t dim, double *sums)
{
    for (int64_t j = 0; j < dim; j++)
        sums[j] = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        const float *dy = dout + r * dim, *xr = x + r * dim;
        float *dxr = dx + r * dim;
        for (int64_t j = 0; j < dim; j++) {
            sums[j] += (double)dy[j] * xr[j];
            dxr[j] = dy[j] * mask[j] * scale;
        }
    }
    double total = 0.0;
    for (int64_t j = 0; j < dim; j++) {
        dmask[j] += (float)(scale * sums[j]);
        total += sums[j] * mask[j];
    }
    if (dscale)
        *dscale += (float)total;
}

/* The heads mask as a column mask: column c of [rows, heads*head_dim] is head c / head_dim. */
static void mask_heads(float *out, const float *x, const float *mask, int64_t rows, int64_t heads,
                       int64_t head_dim)
{
    int64_t width = heads * head_dim;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < width; c++)
            out[r * width + c] = x[r * width + c] * mask[c / head_dim];
}

static void mask_heads_backward(float *dx, float *dmask, const float *dout, const float *x,
                                const float *mask, int64_t rows, int64_t heads, int64_t head_dim)
{
    int64_t width = heads * head_dim;
    for (int64_t h = 0; h < heads; h++) {
        double sum = 0.0;
        for (int64_t r = 0; r < rows; r++) {
            const float *dy = dout + r * width + h * head_dim, *xr = x + r * width + h * head_dim;
            float *dxr = dx + r * width + h * head_dim;
            for (int64_t c = 0; c < head_dim; c++) {
                sum += (double)dy[c] * xr[c];
                dxr[c] = dy[c] * mask[h];
            }
        }
        dmask[h] += (float)sum;
    }
}

/* M·p for each dimension (see the file comment). */
static void compute_masks(sn_network *network)
{
    svit_model *m = network->model;
    const sn_space *space = network->space;
    const float *p = m->probabilities;
    int ed = space->embed_dimension, dd = space->depth_dimension[0];
    const float *pe = p + space->choice_offset[ed], *pd = p + space->choice_offset[dd];
    int embeds = space->dimensions[ed].choice_count;
    for (int i = 0; i < m->max_embed; i++) {
        double s = 0.0;
        for (int k = 0; k < embeds; k++)
            s += i < dimension_int(space, ed, k) ? pe[k] : 0.0;
        m->embed_mask[i] = (float)s;
    }
    for (int l = 0; l < m->max_depth; l++) {
        double s = 0.0;
        for (int j = 0; j < space->dimensions[dd].choice_count; j++)
            s += dimension_int(space, dd, j) > l ? pd[j] : 0.0;
        m->depth_gate[l] = (float)s;

        int hd = space->heads_dimension[l];
        const float *ph = p + space->choice_offset[hd];
        float *heads_mask = m->heads_mask + (int64_t)l * m->max_heads;
        for (int a = 0; a < m->max_heads; a++) {
            double t = 0.0;
            for (int j = 0; j < space->dimensions[hd].choice_count; j++)
                t += a < dimension_int(space, hd, j) ? ph[j] : 0.0;
            heads_mask[a] = (float)t;
        }

        int md = space->mlp_dimension[l];
        const float *pr = p + space->choice_offset[md];
        float *hidden_mask = m->hidden_mask + (int64_t)l * m->max_hidden;
        for (int u = 0; u < m->max_hidden; u++) {
            double t = 0.0;
            for (int j = 0; j < space->dimensions[md].choice_count; j++)
                for (int k = 0; k < embeds; k++)
                    if (u < mlp_units(space->dimensions[md].choices[j], dimension_int(space, ed, k)))
                        t += (double)pr[j] * pe[k];
            hidden_mask[u] = (float)t;
        }
    }
}

/* d loss / d p from the masks' gradients (the transpose of compute_masks). */
static void architecture_gradient(sn_network *network)
{
    svit_model *m = network->model;
    const sn_space *space = network->space;
    const float *p = m->probabilities;
    float *grad = network->architecture_gradient;
    int ed = space->embed_dimension, dd = space->depth_dimension[0];
    const float *pe = p + space->choice_offset[ed];
    int embeds = space->dimensions[ed].choice_count;
    double embed_grad[SN_SPACE_MAX_CHOICES] = {0};
    for (int k = 0; k < embeds; k++)
        for (int i = 0; i < dimension_int(space, ed, k); i++)
            embed_grad[k] += m->dembed_mask[i];
    for (int j = 0; j < space->dimensions[dd].choice_count; j++) {
        double s = 0.0;
        for (int l = 0; l < dimension_int(space, dd, j); l++)
            s += m->ddepth_gate[l];
        grad[space->choice_offset[dd] + j] = (float)s;
    }
    for (int l = 0; l < m->max_depth; l++) {
        int hd = space->heads_dimension[l];
        const float *dheads = m->dheads_mask + (int64_t)l * m->max_heads;
        for (int j = 0; j < space->dimensions[hd].choice_count; j++) {
            double s = 0.0;
            for (int a = 0; a < dimension_int(space, hd, j); a++)
                s += dheads[a];
            grad[space->choice_offset[hd] + j] = (float)s;
        }
        /* hidden mask = sum_jk pr_j pe_k [u < units_jk]: with prefix(n) the
         * sum of its gradient over the first n units, d/d pr_j = sum_k pe_k
         * prefix(units_jk) and d/d pe_k = sum_j pr_j prefix(units_jk). */
        int md = space->mlp_dimension[l];
        const float *pr = p + space->choice_offset[md];
        const float *dhidden = m->dhidden_mask + (int64_t)l * m->max_hidden;
        for (int j = 0; j < space->dimensions[md].choice_count; j++) {
            double s = 0.0;
            for (int k = 0; k < embeds; k++) {
                int units = mlp_units(space->dimensions[md].choices[j], dimension_int(space, ed, k));
                double prefix = 0.0;
                for (int u = 0; u < units; u++)
                    prefix += dhidden[u];
                s += pe[k] * prefix;
                embed_grad[k] += pr[j] * prefix;
            }
            grad[space->choice_offset[md] + j] = (float)s;
        }
    }
    for (int k = 0; k < embeds; k++)
        grad[space->choice_offset[ed] + k] = (float)embed_grad[k];
}

/* ---- forward -------------------------------------------------------------- */

static void branch_regularize(float *x, float *mask, float *keep, const svit_model *m,
                              float drop_path, int64_t batch, int64_t width,
                              const sn_forward_mode *mode, uint32_t layer)
{
    int64_t per_sample = m->tokens * width;
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

static void branch_regularize_backward(float *dbranch, const float *dx, const float *mask,
                                       const float *keep, const svit_model *m, int64_t batch,
                                       int64_t width)
{
    int64_t per_sample = m->tokens * width;
    /* After an evaluation-mode forward the regularisers were the identity
     * (the probability update differentiates held-out losses so). */
    if (!m->regularized) {
        if (dbranch != dx)
            memcpy(dbranch, dx, (size_t)(batch * per_sample) * sizeof(float));
        return;
    }
    sn_drop_path_backward(dbranch, dx, keep, 1, batch, per_sample);
    if (mask)
        sn_dropout_backward(dbranch, dbranch, mask, batch * per_sample);
}

/* Layer norm of the current mode over rows of width d. */
static void norm_forward(sn_network *network, float *out, float *mean, float *inv_std,
                         const float *in, int weight, int bias, int64_t rows, int64_t d)
{
    svit_model *m = network->model;
    if (m->masked)
        sn_masked_layernorm_forward(out, mean, inv_std, in, P(weight), P(bias), m->embed_mask,
                                    rows, d, SVIT_EPS);
    else
        sn_layernorm_forward(out, mean, inv_std, in, P(weight), P(bias), rows, d, SVIT_EPS);
}

static void norm_backward(sn_network *network, float *din, const float *dout, const float *in,
                          int weight, int bias, const float *mean, const float *inv_std,
                          int64_t rows, int64_t d)
{
    svit_model *m = network->model;
    if (m->masked)
        sn_masked_layernorm_backward(din, G(weight), G(bias), m->dembed_mask, dout, in, P(weight),
                                     P(bias), m->embed_mask, mean, inv_std, rows, d, SVIT_EPS);
    else
        sn_layernorm_backward(din, G(weight), G(bias), dout, in, P(weight), mean, inv_std, rows, d);
}

/* out = x + branch, the branch scaled by embed mask and depth gate in masked mode. */
static void residual_forward(const svit_model *m, float *out, const float *x, const float *branch,
                             int l, int64_t rows, int64_t d)
{
    if (!m->masked) {
        sn_add_forward(out, x, branch, rows * d);
        return;
    }
    float gate = m->depth_gate[l];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < d; j++)
            out[r * d + j] = x[r * d + j] + branch[r * d + j] * m->embed_mask[j] * gate;
}

static const float *svit_forward(sn_network *network, const float *images, int64_t batch,
                                 const sn_forward_mode *mode)
{
    svit_model *m = network->model;
    const svit_shape *s = &m->shape;
    const sn_input_shape *in = &network->input;
    m->regularized = mode->training;
    int64_t d = s->embed, e_max = m->max_embed, t = m->tokens, rows = batch * t;
    sn_patch_embed_forward(m->patch_tokens, images, PV(m->patch_weight, d, m->features),
                           P(m->patch_bias), batch, in->channels, in->height, in->width, m->patch,
                           m->patch_workspace);
    /* [class token; patch tokens] + position (its first d columns) */
    float *x0 = m->masked ? m->embedded : m->stream[0];
    const float *position = P(m->position), *class_token = P(m->class_token);
    for (int64_t n = 0; n < batch; n++) {
        float *x = x0 + n * t * d;
        for (int64_t j = 0; j < d; j++)
            x[j] = class_token[j] + position[j];
        const float *patches = m->patch_tokens + n * m->patches * d;
        for (int64_t i = 0; i < m->patches; i++)
            for (int64_t j = 0; j < d; j++)
                x[(i + 1) * d + j] = patches[i * d + j] + position[(i + 1) * e_max + j];
    }
    if (m->masked)
        mask_columns(m->stream[0], x0, m->embed_mask, 1.0f, rows, d);

    for (int l = 0; l < s->depth; l++) {
        svit_layer *b = &m->layers[l];
        int64_t heads = s->heads[l], width = heads * m->head_dim, hidden = s->hidden[l];
        const float *x = m->stream[l];
        norm_forward(network, b->norm1_out, b->norm1_mean, b->norm1_inv_std, x, b->norm1_weight,
                     b->norm1_bias, rows, d);
        sn_linear_forward(b->q, b->norm1_out, PV(b->q_weight, width, d), P(b->q_bias), rows);
        sn_linear_forward(b->k, b->norm1_out, PV(b->k_weight, width, d), P(b->k_bias), rows);
        sn_linear_forward(b->v, b->norm1_out, PV(b->v_weight, width, d), P(b->v_bias), rows);
        sn_attention_forward(b->attention_out, b->probs, b->q, b->k, b->v, batch, t, heads,
                             m->head_dim);
        const float *attention = b->attention_out;
        if (m->masked) {
            mask_heads(b->attention_masked, b->attention_out,
                       m->heads_mask + (int64_t)l * m->max_heads, rows, heads, m->head_dim);
            attention = b->attention_masked;
        }
        sn_linear_forward(b->proj_out, attention, PV(b->proj_weight, d, width), P(b->proj_bias),
                          rows);
        branch_regularize(b->proj_out, b->proj_mask, b->attention_keep, m, b->drop_path, batch, d,
                          mode, (uint32_t)(2 * l));
        residual_forward(m, b->middle, x, b->proj_out, l, rows, d);

        norm_forward(network, b->norm2_out, b->norm2_mean, b->norm2_inv_std, b->middle,
                     b->norm2_weight, b->norm2_bias, rows, d);
        sn_linear_forward(b->fc1_out, b->norm2_out, PV(b->fc1_weight, hidden, d), P(b->fc1_bias),
                          rows);
        sn_gelu_forward(b->gelu_out, b->fc1_out, rows * hidden);
        const float *activated = b->gelu_out;
        if (m->masked) {
            mask_columns(b->gelu_masked, b->gelu_out, m->hidden_mask + (int64_t)l * m->max_hidden,
                         1.0f, rows, hidden);
            activated = b->gelu_masked;
        }
        sn_linear_forward(b->fc2_out, activated, PV(b->fc2_weight, d, hidden), P(b->fc2_bias),
                          rows);
        branch_regularize(b->fc2_out, b->fc2_mask, b->mlp_keep, m, b->drop_path, batch, d, mode,
                          (uint32_t)(2 * l + 1));
        residual_forward(m, m->stream[l + 1], b->middle, b->fc2_out, l, rows, d);
    }
    const float *last = m->stream[s->depth];
    for (int64_t n = 0; n < batch; n++)
        memcpy(m->class_rows + n * d, last + n * t * d, (size_t)d * sizeof(float));
    norm_forward(network, m->final_out, m->final_mean, m->final_inv_std, m->class_rows,
                 m->norm_weight, m->norm_bias, batch, d);
    sn_linear_forward(m->logits, m->final_out, PV(m->head_weight, m->classes, d), P(m->head_bias),
                      batch);
    return m->logits;
}

/* ---- backward ------------------------------------------------------------- */

/* dbranch = the gradient of a branch's output (before the masks, after the
 * regularisers' backward), given the stream's gradient dx; in masked mode
 * also the embed mask's and the depth gate's gradients. */
static void residual_backward(svit_model *m, float *dbranch, const float *dx, const float *branch,
                              const float *dropout_mask, const float *keep, int l, int64_t batch,
                              int64_t d)
{
    int64_t rows = batch * m->tokens;
    const float *dout = dx;
    if (m->masked) {
        mask_columns_backward(dbranch, m->dembed_mask, &m->ddepth_gate[l], dx, branch,
                              m->embed_mask, m->depth_gate[l], rows, d, m->column_sums);
        dout = dbranch;
    }
    branch_regularize_backward(dbranch, dout, dropout_mask, keep, m, batch, d);
}

static void svit_backward(sn_network *network, const float *dlogits, int64_t batch)
{
    svit_model *m = network->model;
    const svit_shape *s = &m->shape;
    int64_t d = s->embed, e_max = m->max_embed, t = m->tokens, rows = batch * t;
    if (m->masked) {
        memset(m->dembed_mask, 0, (size_t)m->max_embed * sizeof(float));
        memset(m->ddepth_gate, 0, (size_t)m->max_depth * sizeof(float));
        memset(m->dheads_mask, 0, (size_t)m->max_depth * m->max_heads * sizeof(float));
        memset(m->dhidden_mask, 0, (size_t)m->max_depth * m->max_hidden * sizeof(float));
    }

    /* Head and final norm act on the class token only. */
    float *dfinal = m->dbranch, *dclass = m->dnorm;
    sn_linear_backward(dfinal, GV(m->head_weight, m->classes, d), G(m->head_bias), dlogits,
                       m->final_out, PV(m->head_weight, m->classes, d), batch);
    norm_backward(network, dclass, dfinal, m->class_rows, m->norm_weight, m->norm_bias,
                  m->final_mean, m->final_inv_std, batch, d);
    float *dx = m->dstream;
    memset(dx, 0, (size_t)(rows * d) * sizeof(float));
    for (int64_t n = 0; n < batch; n++)
        memcpy(dx + n * t * d, dclass + n * d, (size_t)d * sizeof(float));

    for (int l = s->depth - 1; l >= 0; l--) {
        svit_layer *b = &m->layers[l];
        int64_t heads = s->heads[l], width = heads * m->head_dim, hidden = s->hidden[l];
        /* MLP branch: stream[l+1] = middle + fc2(gelu(fc1(norm2(middle)))). */
        residual_backward(m, m->dbranch, dx, b->fc2_out, b->fc2_mask, b->mlp_keep, l, batch, d);
        const float *activated = m->masked ? b->gelu_masked : b->gelu_out;
        sn_linear_backward(m->dhidden, GV(b->fc2_weight, d, hidden), G(b->fc2_bias), m->dbranch,
                           activated, PV(b->fc2_weight, d, hidden), rows);
        if (m->masked)
            mask_columns_backward(m->dhidden, m->dhidden_mask + (int64_t)l * m->max_hidden, NULL,
                                  m->dhidden, b->gelu_out,
                                  m->hidden_mask + (int64_t)l * m->max_hidden, 1.0f, rows, hidden,
                                  m->column_sums);
        sn_gelu_backward(m->dhidden, m->dhidden, b->fc1_out, rows * hidden);
        sn_linear_backward(m->dnorm, GV(b->fc1_weight, hidden, d), G(b->fc1_bias), m->dhidden,
                           b->norm2_out, PV(b->fc1_weight, hidden, d), rows);
        norm_backward(network, m->dbranch, m->dnorm, b->middle, b->norm2_weight, b->norm2_bias,
                      b->norm2_mean, b->norm2_inv_std, rows, d);
        sn_accumulate(dx, m->dbranch, rows * d); /* dx is now dL/d middle */

        /* Attention branch: middle = x + proj(attention(q, k, v of norm1(x))). */
        residual_backward(m, m->dbranch, dx, b->proj_out, b->proj_mask, b->attention_keep, l,
                          batch, d);
        const float *attention = m->masked ? b->attention_masked : b->attention_out;
        sn_linear_backward(m->dattention, GV(b->proj_weight, d, width), G(b->proj_bias),
                           m->dbranch, attention, PV(b->proj_weight, d, width), rows);
        if (m->masked)
            mask_heads_backward(m->dattention, m->dheads_mask + (int64_t)l * m->max_heads,
                                m->dattention, b->attention_out,
                                m->heads_mask + (int64_t)l * m->max_heads, rows, heads,
                                m->head_dim);
        sn_attention_backward(m->dq, m->dk, m->dv, m->dattention, b->probs, b->q, b->k, b->v,
                              batch, t, heads, m->head_dim, m->attention_workspace);
        /* q, k and v all read norm1's output: their input gradients add up. */
        sn_linear_backward(m->dnorm, GV(b->q_weight, width, d), G(b->q_bias), m->dq,
                           b->norm1_out, PV(b->q_weight, width, d), rows);
        sn_linear_backward(m->dbranch, GV(b->k_weight, width, d), G(b->k_bias), m->dk,
                           b->norm1_out, PV(b->k_weight, width, d), rows);
        sn_accumulate(m->dnorm, m->dbranch, rows * d);
        sn_linear_backward(m->dbranch, GV(b->v_weight, width, d), G(b->v_bias), m->dv,
                           b->norm1_out, PV(b->v_weight, width, d), rows);
        sn_accumulate(m->dnorm, m->dbranch, rows * d);
        norm_backward(network, m->dbranch, m->dnorm, m->stream[l], b->norm1_weight,
                      b->norm1_bias, b->norm1_mean, b->norm1_inv_std, rows, d);
        sn_accumulate(dx, m->dbranch, rows * d); /* dx is now dL/d stream[l] */
    }

    /* stream[0] = [class token; patch tokens] + position (times the embed mask). */
    if (m->masked)
        mask_columns_backward(dx, m->dembed_mask, NULL, dx, m->embedded, m->embed_mask, 1.0f,
                              rows, d, m->column_sums);
    float *dposition = G(m->position), *dclass_token = G(m->class_token);
    for (int64_t n = 0; n < batch; n++) {
        const float *g = dx + n * t * d;
        for (int64_t i = 0; i < t; i++)
            sn_accumulate(dposition + i * e_max, g + i * d, d);
        sn_accumulate(dclass_token, g, d);
        memcpy(m->patch_tokens + n * m->patches * d, g + d, (size_t)(m->patches * d) * sizeof(float));
    }
    /* patch_tokens now holds their gradient (the forward's values are not needed again). */
    sn_patch_embed_backward(GV(m->patch_weight, d, m->features), G(m->patch_bias), m->patch_tokens,
                            batch, m->patches, (int)m->features, m->patch_workspace);
    if (m->masked)
        architecture_gradient(network);
}

/* ---- architectures -------------------------------------------------------- */

static int check_architecture(const sn_space *space, const sn_arch *arch)
{
    for (int d = 0; d < space->dimension_count; d++)
        if (arch->choice[d] < 0 || arch->choice[d] >= space->dimensions[d].choice_count)
            return sn_error_set(SN_ERR_ARGUMENT,
                                "vit supernet: choice %d of dimension %d is not one of its %d",
                                arch->choice[d], d, space->dimensions[d].choice_count);
    return SN_OK;
}

static void set_cost(sn_network *network, const sn_arch *arch)
{
    svit_model *m = network->model;
    network->macs = sn_space_cost(network->space, arch).macs;
    network->convolution_macs = m->patches * m->shape.embed * m->features;
}

static int svit_set_architecture(sn_network *network, const sn_arch *arch)
{
    svit_model *m = network->model;
    SN_TRY(check_architecture(network->space, arch));
    sn_arch canonical = *arch;
    sn_arch_canonicalize(network->space, &canonical);
    shape_of(network->space, &canonical, &m->shape);
    m->masked = 0;
    set_cost(network, &canonical);
    return SN_OK;
}

static int svit_set_soft_architecture(sn_network *network, const float *probabilities)
{
    svit_model *m = network->model;
    const sn_space *space = network->space;
    for (int d = 0; d < space->dimension_count; d++) {
        double sum = 0.0;
        for (int j = 0; j < space->dimensions[d].choice_count; j++) {
            float q = probabilities[space->choice_offset[d] + j];
            if (!(q >= 0.0f && q <= 1.0f))
                return sn_error_set(SN_ERR_ARGUMENT,
                                    "vit supernet: probability %g of dimension %d is not in [0, 1]",
                                    (double)q, d);
            sum += q;
        }
        /* Room for float rounding (a softmax of many choices) and for a
         * finite-difference probe of one entry; a vector that is not a
         * distribution (logits, say) is refused. */
        if (fabs(sum - 1.0) > 1e-3)
            return sn_error_set(SN_ERR_ARGUMENT,
                                "vit supernet: the probabilities of dimension %d sum to %g, not 1",
                                d, sum);
    }
    memcpy(m->probabilities, probabilities, (size_t)space->choice_total * sizeof(float));
    compute_masks(network);
    sn_arch largest;
    sn_arch_largest(space, &largest);
    shape_of(space, &largest, &m->shape);
    m->masked = 1;
    set_cost(network, &largest);
    return SN_OK;
}

/* ---- the subnet on its own (sn_network_visit_subnet) --------------------- */

typedef struct {
    sn_network *network;
    const sn_subnet_visitor *visitor;
    float *buffer; /* room for the largest tensor: three q/k/v slices at most */
} svit_walk;

/* The first rows x cols of a 2-D entry (its row stride), copied and emitted. */
static int emit_slice(svit_walk *w, const char *name, int entry, int64_t rows, int64_t cols)
{
    sn_network *network = w->network;
    sn_copy_block(w->buffer, P(entry), rows, cols, network->table.entries[entry].shape[1]);
    int64_t shape[2] = {rows, cols};
    return w->visitor->tensor(w->visitor->context, name, 2, shape, w->buffer);
}

/* The first count values of a 1-D entry (a prefix: no copy). */
static int emit_vector(svit_walk *w, const char *name, int entry, int64_t count)
{
    sn_network *network = w->network;
    return w->visitor->tensor(w->visitor->context, name, 1, &count, P(entry));
}

/* q, k and v of a layer as one [3 * width, d] projection (timm's qkv): the
 * first width rows of each, stacked; the biases likewise. */
static int emit_qkv(svit_walk *w, const char *group, const svit_layer *b, int64_t width,
                    int64_t d)
{
    sn_network *network = w->network;
    const svit_model *m = network->model;
    const int weights[3] = {b->q_weight, b->k_weight, b->v_weight};
    const int biases[3] = {b->q_bias, b->k_bias, b->v_bias};
    char name[128];
    for (int i = 0; i < 3; i++)
        sn_copy_block(w->buffer + i * width * d, P(weights[i]), width, d, m->max_embed);
    int64_t shape[2] = {3 * width, d};
    snprintf(name, sizeof name, "%s/weight", group);
    SN_TRY(w->visitor->tensor(w->visitor->context, name, 2, shape, w->buffer));
    for (int i = 0; i < 3; i++)
        memcpy(w->buffer + i * width, P(biases[i]), (size_t)width * sizeof(float));
    snprintf(name, sizeof name, "%s/bias", group);
    return w->visitor->tensor(w->visitor->context, name, 1, shape, w->buffer);
}

static int svit_visit_layer(svit_walk *w, int l)
{
    sn_network *network = w->network;
    svit_model *m = network->model;
    const sn_subnet_visitor *v = w->visitor;
    const svit_layer *b = &m->layers[l];
    int64_t d = m->shape.embed, heads = m->shape.heads[l], hidden = m->shape.hidden[l];
    int64_t width = heads * m->head_dim;
    char group[32], name[96];
    snprintf(group, sizeof group, "blocks/%d", l);
    SN_TRY(v->integer(v->context, group, "heads", heads));
    SN_TRY(v->integer(v->context, group, "head_dim", m->head_dim));
    SN_TRY(v->integer(v->context, group, "mlp_hidden", hidden));
#define VECTOR(label, entry, count)                                  \
    do {                                                             \
        snprintf(name, sizeof name, "%s/%s", group, label);          \
        SN_TRY(emit_vector(w, name, (entry), (count)));              \
    } while (0)
#define SLICE(label, entry, rows, cols)                              \
    do {                                                             \
        snprintf(name, sizeof name, "%s/%s", group, label);          \
        SN_TRY(emit_slice(w, name, (entry), (rows), (cols)));        \
    } while (0)
    VECTOR("norm1/weight", b->norm1_weight, d);
    VECTOR("norm1/bias", b->norm1_bias, d);
    snprintf(name, sizeof name, "%s/attention/qkv", group);
    SN_TRY(emit_qkv(w, name, b, width, d));
    SLICE("attention/proj/weight", b->proj_weight, d, width);
    VECTOR("attention/proj/bias", b->proj_bias, d);
    VECTOR("norm2/weight", b->norm2_weight, d);
    VECTOR("norm2/bias", b->norm2_bias, d);
    SLICE("mlp/fc1/weight", b->fc1_weight, hidden, d);
    VECTOR("mlp/fc1/bias", b->fc1_bias, hidden);
    SLICE("mlp/fc2/weight", b->fc2_weight, d, hidden);
    VECTOR("mlp/fc2/bias", b->fc2_bias, d);
#undef VECTOR
#undef SLICE
    return SN_OK;
}

static int svit_visit(svit_walk *w)
{
    sn_network *network = w->network;
    svit_model *m = network->model;
    const sn_subnet_visitor *v = w->visitor;
    int64_t d = m->shape.embed;
    SN_TRY(v->text(v->context, "", "family", "vit"));
    SN_TRY(v->text(v->context, "", "activation", "gelu"));
    SN_TRY(v->real(v->context, "", "layernorm_eps", (double)SVIT_EPS));
    SN_TRY(v->integer(v->context, "", "patch", m->patch));
    SN_TRY(v->integer(v->context, "", "embed", d));
    SN_TRY(v->integer(v->context, "", "depth", m->shape.depth));
    SN_TRY(v->integer(v->context, "", "tokens", m->tokens));

    /* the patch embedding as a convolution with kernel = stride = patch */
    sn_copy_block(w->buffer, P(m->patch_weight), d, m->features, m->features);
    int64_t patch_shape[4] = {d, network->input.channels, m->patch, m->patch};
    SN_TRY(v->tensor(v->context, "patch_embed/weight", 4, patch_shape, w->buffer));
    SN_TRY(emit_vector(w, "patch_embed/bias", m->patch_bias, d));
    int64_t token_shape[3] = {1, 1, d}, position_shape[3] = {1, m->tokens, d};
    SN_TRY(v->tensor(v->context, "class_token", 3, token_shape, P(m->class_token)));
    sn_copy_block(w->buffer, P(m->position), m->tokens, d, m->max_embed);
    SN_TRY(v->tensor(v->context, "position", 3, position_shape, w->buffer));
    for (int l = 0; l < m->shape.depth; l++)
        SN_TRY(svit_visit_layer(w, l));
    SN_TRY(emit_vector(w, "norm/weight", m->norm_weight, d));
    SN_TRY(emit_vector(w, "norm/bias", m->norm_bias, d));
    int64_t head_shape[2] = {m->classes, d};
    sn_copy_block(w->buffer, P(m->head_weight), m->classes, d, m->max_embed);
    SN_TRY(v->tensor(v->context, "head/weight", 2, head_shape, w->buffer));
    return emit_vector(w, "head/bias", m->head_bias, m->classes);
}

static int svit_visit_subnet(sn_network *network, const sn_subnet_visitor *visitor)
{
    svit_model *m = network->model;
    if (m->masked)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "vit supernet: the subnet walk needs an architecture (sliced mode)");
    size_t largest = 0;
    for (int e = 0; e < network->table.count; e++)
        if (network->table.entries[e].count > largest)
            largest = network->table.entries[e].count;
    svit_walk w = {network, visitor, malloc(3 * largest * sizeof(float))};
    if (!w.buffer)
        return sn_error_set(SN_ERR_NOMEM, "vit supernet: out of memory for a copy of %zu floats",
                            3 * largest);
    int status = svit_visit(&w);
    free(w.buffer);
    return status;
}

static void svit_free(sn_network *network)
{
    svit_model *m = network->model;
    if (m) {
        free(m->probabilities);
        free(m->embed_mask);
        free(m->depth_gate);
        free(m->heads_mask);
        free(m->hidden_mask);
        free(m->dembed_mask);
        free(m->ddepth_gate);
        free(m->dheads_mask);
        free(m->dhidden_mask);
        free(m->column_sums);
    }
    free(m);
    network->model = NULL;
}

static const sn_network_operations svit_operations = {
    svit_declare, svit_layout, svit_initialize, svit_forward, svit_backward, svit_free,
    svit_set_architecture, svit_set_soft_architecture, NULL, svit_visit_subnet,
};

int sn_network_supernet_vit_attach(sn_network *network, const sn_layer_settings *settings)
{
    const sn_space *space = network->space;
    if (space->type != SN_SPACE_VIT)
        return sn_error_set(SN_ERR_ARGUMENT, "vit supernet: the space is not a vit space");
    svit_model *m = calloc(1, sizeof *m);
    if (!m)
        return sn_error_set(SN_ERR_NOMEM, "vit supernet: out of memory");
    network->model = m;
    network->operations = &svit_operations;
    network->layout = SN_LAYOUT_SAMPLE_MAJOR;
    m->patch = space->patch;
    m->head_dim = space->head_dim;
    m->classes = space->classes;
    m->patches = (int64_t)(space->image_size / space->patch) * (space->image_size / space->patch);
    m->tokens = m->patches + 1;
    m->features = (int64_t)space->image_channels * space->patch * space->patch;
    m->max_embed = dimension_largest(space, space->embed_dimension);
    m->max_depth = dimension_largest(space, space->depth_dimension[0]);
    m->dropout = (float)settings->dropout;
    for (int l = 0; l < m->max_depth; l++) {
        svit_layer *b = &m->layers[l];
        int md = space->mlp_dimension[l];
        b->max_heads = dimension_largest(space, space->heads_dimension[l]);
        b->max_hidden = mlp_units(space->dimensions[md].choices[space->dimensions[md].choice_count - 1],
                                  m->max_embed);
        if (b->max_heads > m->max_heads)
            m->max_heads = b->max_heads;
        if (b->max_hidden > m->max_hidden)
            m->max_hidden = b->max_hidden;
        /* AutoFormer's rates: linear in the layer's index over the largest depth. */
        b->drop_path = m->max_depth > 1 ? (float)settings->drop_path * (float)l /
                                              (float)(m->max_depth - 1)
                                        : 0.0f;
    }
    m->max_width = m->max_heads * m->head_dim;
    if (m->max_hidden < 1)
        return sn_error_set(SN_ERR_CONFIG, "vit supernet: the largest MLP has no hidden units");
    size_t layers = (size_t)m->max_depth;
    m->probabilities = calloc((size_t)space->choice_total, sizeof(float));
    m->embed_mask = calloc((size_t)m->max_embed, sizeof(float));
    m->dembed_mask = calloc((size_t)m->max_embed, sizeof(float));
    m->depth_gate = calloc(layers, sizeof(float));
    m->ddepth_gate = calloc(layers, sizeof(float));
    m->heads_mask = calloc(layers * (size_t)m->max_heads, sizeof(float));
    m->dheads_mask = calloc(layers * (size_t)m->max_heads, sizeof(float));
    m->hidden_mask = calloc(layers * (size_t)m->max_hidden, sizeof(float));
    m->dhidden_mask = calloc(layers * (size_t)m->max_hidden, sizeof(float));
    m->column_sums = calloc((size_t)(m->max_embed > m->max_hidden ? m->max_embed : m->max_hidden),
                            sizeof(double));
    if (!m->probabilities || !m->embed_mask || !m->dembed_mask || !m->depth_gate ||
        !m->ddepth_gate || !m->heads_mask || !m->dheads_mask || !m->hidden_mask ||
        !m->dhidden_mask || !m->column_sums)
        return sn_error_set(SN_ERR_NOMEM, "vit supernet: out of memory");
    return SN_OK;
}
