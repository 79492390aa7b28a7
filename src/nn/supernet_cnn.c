/*
 * The CNN supernet of a search space (space.h, "cnn"): stem conv-BN-ReLU,
 * stages of inverted-residual blocks (1x1 expand-BN-ReLU, depthwise
 * kxk-BN-ReLU, 1x1 project-BN, residual on every block but a stage's first),
 * global average pooling, linear classifier.
 *
 * Every parameter is declared once at its largest size, laid out so that any
 * subnet's part of it is a strided view into the slab:
 *   expand weight    [mid_max, in_max]   subnet [mid, in]   (row stride in_max)
 *   depthwise weight [mid_max, K, K]     subnet [mid] x centre k x k crop
 *   project weight   [width_max, mid_max] subnet [width, mid] (row stride mid_max)
 *   classifier       [classes, width_max of the last stage]
 *   norm scale/shift and running statistics: first-c prefixes.
 *
 * Sliced mode runs the subnet alone on those views, its activations compact
 * (channel-major [C, N, H, W], so the first c channels are a prefix of each
 * buffer sized for the largest subnet); its backward touches only its slices.
 *
 * Masked mode runs the largest network and applies each choice as a mask
 * built from the soft probabilities p (supernet_cnn_masks.c), after the
 * operation it gates:
 *   width of stage s   m_s[c] = sum_j p_w[j] [c < width_j], on the outputs of
 *                      the stage's project batch norms (folded into the norm:
 *                      m * BN(x; gamma, beta) = BN(x; m*gamma, m*beta));
 *   expand of a block  u[c] = sum_jk p_e[j] p_in[k] [c < lround(ratio_j * in_k)]
 *                      on the expand and the depthwise BN-ReLU outputs (kept
 *                      apart from the unmasked outputs, so that d loss / d u
 *                      is right even where u is exactly 0);
 *   kernel of a block  the depthwise weight times sum_j p_k[j] centremask_j;
 *   depth of a stage   block b > 0 adds g_b * branch, g_b = sum_j p_d[j] [depth_j > b].
 * Inactive input channels are zero (masked by the previous operation), so
 * they add nothing to active outputs, and at a one-hot p the logits are the
 * sliced subnet's. Backward writes d loss / d p by the chain rule.
 *
 * Batch norm: every training-mode forward updates the running statistics of
 * what it ran (the subnet's slices; everything in masked mode), with
 * sn_network_batchnorm_momentum() so that recalibration averages batches.
 */
#include "network_internal.h"
#include "supernet_cnn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/nn.h"

static const float bn_eps = 1e-5f;

/* ---- parameter views ------------------------------------------------------ */

static sn_matrix expand_weight(sn_network *network, float *slab, const sc_block *k, int64_t mid,
                               int64_t in)
{
    return sn_matrix_make(sn_entry(network, slab, k->expand_weight), mid, in, k->in_max);
}

static sn_matrix project_weight(sn_network *network, float *slab, const sc_block *k,
                                int64_t width, int64_t mid)
{
    return sn_matrix_make(sn_entry(network, slab, k->project_weight), width, mid, k->mid_max);
}

/* The centre kernel x kernel crop of the block's K x K depthwise filters. */
static sn_kernel_view depthwise_crop(sn_network *network, float *slab, const sc_block *k,
                                     int kernel)
{
    int64_t big = k->kernel_max, offset = (big - kernel) / 2;
    sn_kernel_view v = {sn_entry(network, slab, k->depthwise_weight) + offset * big + offset,
                        big * big, big};
    return v;
}

static sn_matrix classifier_weight(sn_network *network, float *slab, const sc_model *m,
                                   int64_t channels)
{
    const sn_parameter_entry *e = &network->table.entries[m->classifier_weight];
    return sn_matrix_make(sn_entry(network, slab, m->classifier_weight), e->shape[0], channels,
                          e->shape[1]);
}

/* ---- declare, layout, initialise ------------------------------------------ */

static int64_t largest_choice(const sn_space *space, int d)
{
    const sn_dimension *dim = &space->dimensions[d];
    return (int64_t)dim->choices[dim->choice_count - 1];
}

static int add_entry(sn_network *network, int *entry, int ndim, const int64_t *shape, int decay,
                     const char *format, int s, int b)
{
    char name[SN_MAX_NAME];
    snprintf(name, sizeof name, format, s, b);
    int index = sn_parameter_table_add(&network->table, name, ndim, shape, decay);
    if (index < 0)
        return index;
    *entry = index;
    return SN_OK;
}

static int add_norm(sn_network *network, sc_block *k, int which, int64_t channels,
                    const char *part)
{
    char format[SN_MAX_NAME];
    snprintf(format, sizeof format, "stage%%d.block%%d.%s_norm.weight", part);
    SN_TRY(add_entry(network, &k->gamma[which], 1, &channels, 0, format, k->stage, k->index));
    snprintf(format, sizeof format, "stage%%d.block%%d.%s_norm.bias", part);
    return add_entry(network, &k->beta[which], 1, &channels, 0, format, k->stage, k->index);
}

/* Smallest and largest active input width of a block: the stem's channels
 * for stage 0 block 0, else the governing stage's width choices. */
static void input_width_range(const sn_space *space, const sc_block *k, int64_t *lo, int64_t *hi)
{
    if (k->input_width_dimension < 0) {
        *lo = *hi = space->stem_channels;
        return;
    }
    const sn_dimension *d = &space->dimensions[k->input_width_dimension];
    *lo = (int64_t)d->choices[0];
    *hi = (int64_t)d->choices[d->choice_count - 1];
}

static int declare_block(sn_network *network, sc_stage *st, sc_block *k, int64_t height,
                         int64_t width)
{
    const sn_space *space = network->space;
    int s = k->stage, b = k->index;
    k->kernel_dimension = space->kernel_dimension[s][b];
    k->expand_dimension = space->expand_dimension[s][b];
    k->kernel_max = (int)largest_choice(space, k->kernel_dimension);
    const sn_dimension *expand = &space->dimensions[k->expand_dimension];
    int64_t in_lo, in_hi;
    input_width_range(space, k, &in_lo, &in_hi);
    k->in_max = in_hi;
    k->mid_max = lround(expand->choices[expand->choice_count - 1] * (double)in_hi);
    if (lround(expand->choices[0] * (double)in_lo) < 1)
        return sn_error_set(SN_ERR_CONFIG,
                            "space: stage %d block %d: expand ratio %g of %lld input channels "
                            "leaves no mid channel",
                            s + 1, b + 1, expand->choices[0], (long long)in_lo);
    k->stride = b == 0 ? network->space->stage_strides[s] : 1;
    k->in_height = height;
    k->in_width = width;
    sn_conv2d_dims dw = {network->max_batch, k->mid_max, k->mid_max, height, width,
                         k->kernel_max, k->stride, k->kernel_max / 2, (int)k->mid_max};
    if (sn_conv2d_dims_check(&dw) != SN_OK) {
        char reason[512];
        snprintf(reason, sizeof reason, "%s", sn_error_message());
        return sn_error_set(SN_ERR_CONFIG, "space: stage %d block %d depthwise: %s", s + 1, b + 1,
                            reason);
    }
    k->out_height = sn_conv2d_out_size(height, k->kernel_max, k->stride, k->kernel_max / 2);
    k->out_width = sn_conv2d_out_size(width, k->kernel_max, k->stride, k->kernel_max / 2);
    int64_t big = k->kernel_max;
    int64_t eshape[2] = {k->mid_max, k->in_max};
    int64_t dshape[3] = {k->mid_max, big, big};
    int64_t pshape[2] = {st->width_max, k->mid_max};
    SN_TRY(add_entry(network, &k->expand_weight, 2, eshape, 1, "stage%d.block%d.expand.weight", s, b));
    SN_TRY(add_norm(network, k, SC_EXPAND, k->mid_max, "expand"));
    SN_TRY(add_entry(network, &k->depthwise_weight, 3, dshape, 1,
                     "stage%d.block%d.depthwise.weight", s, b));
    SN_TRY(add_norm(network, k, SC_DEPTHWISE, k->mid_max, "depthwise"));
    SN_TRY(add_entry(network, &k->project_weight, 2, pshape, 1, "stage%d.block%d.project.weight",
                     s, b));
    return add_norm(network, k, SC_PROJECT, st->width_max, "project");
}

static int sc_declare(sn_network *network)
{
    sc_model *m = network->model;
    const sn_space *space = network->space;
    int64_t size = space->image_size;
    sn_conv2d_dims stem = {network->max_batch, space->image_channels, space->stem_channels, size,
                           size, space->stem_kernel, space->stem_stride, space->stem_kernel / 2, 1};
    if (sn_conv2d_dims_check(&stem) != SN_OK) {
        char reason[512];
        snprintf(reason, sizeof reason, "%s", sn_error_message());
        return sn_error_set(SN_ERR_CONFIG, "space: stem: %s", reason);
    }
    m->stem = stem;
    m->stem_height = sn_conv2d_out_size(size, stem.kernel, stem.stride, stem.padding);
    m->stem_width = m->stem_height;
    int64_t channels = space->stem_channels;
    int64_t sshape[2] = {channels, space->image_channels * stem.kernel * stem.kernel};
    SN_TRY(m->stem_weight = sn_parameter_table_add(&network->table, "stem.conv.weight", 2, sshape, 1));
    SN_TRY(m->stem_gamma = sn_parameter_table_add(&network->table, "stem.norm.weight", 1, &channels, 0));
    SN_TRY(m->stem_beta = sn_parameter_table_add(&network->table, "stem.norm.bias", 1, &channels, 0));
    int64_t statistics = 2 * channels;
    int64_t height = m->stem_height, width = m->stem_width;
    int previous_width_dimension = -1;
    m->stage_count = space->stage_count;
    for (int s = 0; s < m->stage_count; s++) {
        sc_stage *st = &m->stages[s];
        st->depth_dimension = space->depth_dimension[s];
        st->width_dimension = space->width_dimension[s];
        st->block_count = (int)largest_choice(space, st->depth_dimension);
        st->width_max = largest_choice(space, st->width_dimension);
        for (int b = 0; b < st->block_count; b++) {
            sc_block *k = &st->blocks[b];
            k->stage = s;
            k->index = b;
            k->input_width_dimension = b == 0 ? previous_width_dimension : st->width_dimension;
            SN_TRY(declare_block(network, st, k, height, width));
            height = k->out_height;
            width = k->out_width;
            statistics += 2 * (2 * k->mid_max + st->width_max);
        }
        st->out_height = height;
        st->out_width = width;
        previous_width_dimension = st->width_dimension;
    }
    int64_t classes = network->input.classes;
    int64_t cshape[2] = {classes, m->stages[m->stage_count - 1].width_max};
    SN_TRY(m->classifier_weight = sn_parameter_table_add(&network->table, "classifier.weight", 2, cshape, 1));
    SN_TRY(m->classifier_bias = sn_parameter_table_add(&network->table, "classifier.bias", 1, &classes, 0));

    m->running_statistics = sn_alloc_floats((size_t)statistics);
    if (!m->running_statistics)
        return SN_ERR_NOMEM;
    network->running_statistics = m->running_statistics;
    network->running_statistics_count = statistics;
    float *r = m->running_statistics;
    m->stem_running_mean = r;
    m->stem_running_var = r + channels;
    r += 2 * channels;
    for (int s = 0; s < m->stage_count; s++) {
        sc_stage *st = &m->stages[s];
        for (int b = 0; b < st->block_count; b++) {
            sc_block *k = &st->blocks[b];
            int64_t sizes[SC_NORMS] = {k->mid_max, k->mid_max, st->width_max};
            for (int n = 0; n < SC_NORMS; n++) {
                k->running_mean[n] = r;
                k->running_var[n] = r + sizes[n];
                r += 2 * sizes[n];
            }
        }
    }
    return SN_OK;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static void sc_layout(sn_network *network, sn_arena *arena)
{
    sc_model *m = network->model;
    int64_t n = network->max_batch;
    int64_t stem_size = m->stem.out_channels * n * m->stem_height * m->stem_width;
    m->stem_out = sn_arena_take(arena, stem_size);
    m->stem_act = sn_arena_take(arena, stem_size);
    m->stem_saved_mean = sn_arena_take(arena, m->stem.out_channels);
    m->stem_saved_inv_std = sn_arena_take(arena, m->stem.out_channels);
    int64_t largest_wide = stem_size, largest_mid = 0, widest = 0, mid_widest = 0, taps = 0;
    for (int s = 0; s < m->stage_count; s++) {
        sc_stage *st = &m->stages[s];
        st->width_mask = sn_arena_take(arena, st->width_max);
        widest = max64(widest, st->width_max);
        for (int b = 0; b < st->block_count; b++) {
            sc_block *k = &st->blocks[b];
            int64_t expand = k->mid_max * n * k->in_height * k->in_width;
            int64_t depthwise = k->mid_max * n * k->out_height * k->out_width;
            int64_t project = st->width_max * n * k->out_height * k->out_width;
            int64_t kk = (int64_t)k->kernel_max * k->kernel_max;
            k->expand_out = sn_arena_take(arena, expand);
            k->expand_act = sn_arena_take(arena, expand);
            k->expand_masked = sn_arena_take(arena, expand);
            k->depthwise_out = sn_arena_take(arena, depthwise);
            k->depthwise_act = sn_arena_take(arena, depthwise);
            k->depthwise_masked = sn_arena_take(arena, depthwise);
            k->project_out = sn_arena_take(arena, project);
            k->project_norm = sn_arena_take(arena, project);
            /* A stage's first block has no residual: its output is the norm's. */
            k->block_out = b > 0 ? sn_arena_take(arena, project) : k->project_norm;
            int64_t sizes[SC_NORMS] = {k->mid_max, k->mid_max, st->width_max};
            for (int i = 0; i < SC_NORMS; i++) {
                k->saved_mean[i] = sn_arena_take(arena, sizes[i]);
                k->saved_inv_std[i] = sn_arena_take(arena, sizes[i]);
            }
            k->mid_mask = sn_arena_take(arena, k->mid_max);
            k->kernel_mask = sn_arena_take(arena, kk);
            k->masked_kernel = sn_arena_take(arena, k->mid_max * kk);
            largest_wide = max64(largest_wide, project);
            largest_mid = max64(largest_mid, max64(expand, depthwise));
            mid_widest = max64(mid_widest, k->mid_max);
            taps = max64(taps, k->mid_max * kk);
        }
    }
    const sc_stage *last = &m->stages[m->stage_count - 1];
    m->pooled = sn_arena_take(arena, n * last->width_max);
    m->logits = sn_arena_take(arena, n * network->input.classes);
    m->grad_a = sn_arena_take(arena, largest_wide);
    m->grad_b = sn_arena_take(arena, largest_wide);
    m->grad_branch = sn_arena_take(arena, largest_wide);
    m->grad_mid_a = sn_arena_take(arena, largest_mid);
    m->grad_mid_b = sn_arena_take(arena, largest_mid);
    m->workspace = sn_arena_take(arena, sn_conv2d_workspace_floats(&m->stem));
    m->probabilities = sn_arena_take(arena, network->space->choice_total);
    m->scaled_gamma = sn_arena_take(arena, widest);
    m->scaled_beta = sn_arena_take(arena, widest);
    m->scaled_dgamma = sn_arena_take(arena, widest);
    m->scaled_dbeta = sn_arena_take(arena, widest);
    m->width_grad = sn_arena_take(arena, widest);
    m->mid_grad = sn_arena_take(arena, mid_widest);
    m->kernel_grad = sn_arena_take(arena, taps);
}

static void reset_statistics(float *mean, float *var, int64_t channels)
{
    for (int64_t c = 0; c < channels; c++) {
        mean[c] = 0.0f;
        var[c] = 1.0f;
    }
}

static void sc_initialize(sn_network *network, uint64_t seed)
{
    sc_model *m = network->model;
    /* He initialisation (fan-in of the largest subnet) for the ReLU network. */
    const sn_parameter_table *t = &network->table;
    sn_init_normal(network, m->stem_weight, seed,
                   sqrtf(2.0f / (float)t->entries[m->stem_weight].shape[1]));
    sn_init_constant(network, m->stem_gamma, 1.0f);
    sn_init_constant(network, m->stem_beta, 0.0f);
    reset_statistics(m->stem_running_mean, m->stem_running_var, m->stem.out_channels);
    for (int s = 0; s < m->stage_count; s++) {
        sc_stage *st = &m->stages[s];
        for (int b = 0; b < st->block_count; b++) {
            sc_block *k = &st->blocks[b];
            sn_init_normal(network, k->expand_weight, seed, sqrtf(2.0f / (float)k->in_max));
            sn_init_normal(network, k->depthwise_weight, seed,
                           sqrtf(2.0f / (float)(k->kernel_max * k->kernel_max)));
            sn_init_normal(network, k->project_weight, seed, sqrtf(2.0f / (float)k->mid_max));
            int64_t sizes[SC_NORMS] = {k->mid_max, k->mid_max, st->width_max};
            for (int i = 0; i < SC_NORMS; i++) {
                /* BigNAS: the last norm of a residual block starts at gamma 0,
                 * so every residual block starts as the identity and a deep
                 * subnet trains like a shallow one at first. A stage's first
                 * block has no residual and keeps gamma 1. */
                float gamma = i == SC_PROJECT && b > 0 ? 0.0f : 1.0f;
                sn_init_constant(network, k->gamma[i], gamma);
                sn_init_constant(network, k->beta[i], 0.0f);
                reset_statistics(k->running_mean[i], k->running_var[i], sizes[i]);
            }
        }
    }
    /* PyTorch's default for nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
    float bound = 1.0f / sqrtf((float)t->entries[m->classifier_weight].shape[1]);
    sn_init_uniform(network, m->classifier_weight, seed, bound);
    sn_init_uniform(network, m->classifier_bias, seed, bound);
}

/* ---- architectures ---------------------------------------------------------- */

static void set_cost(sn_network *network, const sn_arch *arch, int64_t last_width)
{
    sn_cost cost = sn_space_cost(network->space, arch);
    network->macs = cost.macs;
    network->convolution_macs =
        cost.macs >= 0 ? cost.macs - (int64_t)network->input.classes * last_width : -1;
}

static int sc_set_architecture(sn_network *network, const sn_arch *arch)
{
    sc_model *m = network->model;
    const sn_space *space = network->space;
    for (int d = 0; d < space->dimension_count; d++)
        if (arch->choice[d] < 0 || arch->choice[d] >= space->dimensions[d].choice_count)
            return sn_error_set(SN_ERR_ARGUMENT,
                                "supernet: architecture choice %d of dimension %d is not in "
                                "0..%d",
                                arch->choice[d], d, space->dimensions[d].choice_count - 1);
    m->arch = *arch;
    sn_arch_canonicalize(space, &m->arch);
    int64_t in = space->stem_channels;
    for (int s = 0; s < m->stage_count; s++) {
        sc_stage *st = &m->stages[s];
        st->depth = (int)sn_arch_value(space, &m->arch, st->depth_dimension);
        st->width = (int64_t)sn_arch_value(space, &m->arch, st->width_dimension);
        for (int b = 0; b < st->depth; b++) {
            sc_block *k = &st->blocks[b];
            k->in = b == 0 ? in : st->width;
            k->kernel = (int)sn_arch_value(space, &m->arch, k->kernel_dimension);
            k->mid = lround(sn_arch_value(space, &m->arch, k->expand_dimension) * (double)k->in);
        }
        in = st->width;
    }
    m->masked = 0;
    set_cost(network, &m->arch, in);
    return SN_OK;
}

static int sc_set_soft_architecture(sn_network *network, const float *probabilities)
{
    sc_model *m = network->model;
    const sn_space *space = network->space;
    for (int i = 0; i < space->choice_total; i++)
        if (!isfinite(probabilities[i]))
            return sn_error_set(SN_ERR_ARGUMENT, "supernet: probability %d is not finite", i);
    memcpy(m->probabilities, probabilities, (size_t)space->choice_total * sizeof(float));
    sc_masks_from_probabilities(network);
    m->masked = 1;
    sn_arch largest;
    sn_arch_largest(space, &largest);
    set_cost(network, &largest, m->stages[m->stage_count - 1].width_max);
    return SN_OK;
}

static void sc_reset_running_statistics(sn_network *network)
{
    sc_model *m = network->model;
    reset_statistics(m->stem_running_mean, m->stem_running_var, m->stem.out_channels);
    for (int s = 0; s < m->stage_count; s++) {
        sc_stage *st = &m->stages[s];
        int depth = m->masked ? st->block_count : st->depth;
        for (int b = 0; b < depth; b++) {
            sc_block *k = &st->blocks[b];
            int64_t mid = m->masked ? k->mid_max : k->mid;
            int64_t sizes[SC_NORMS] = {mid, mid, m->masked ? st->width_max : st->width};
            for (int i = 0; i < SC_NORMS; i++)
                reset_statistics(k->running_mean[i], k->running_var[i], sizes[i]);
        }
    }
}

/* ---- forward ------------------------------------------------------------------ */

typedef struct {
    int training;
    float momentum;
} norm_mode;

static void norm_forward(float *out, float *saved_mean, float *saved_inv_std, const float *in,
                         const float *gamma, const float *beta, float *running_mean,
                         float *running_var, int64_t channels, int64_t count, int relu,
                         const norm_mode *mode)
{
    if (mode->training && relu)
        sn_batchnorm_relu_forward_train(out, saved_mean, saved_inv_std, in, gamma, beta,
                                        running_mean, running_var, channels, count,
                                        mode->momentum, bn_eps);
    else if (mode->training)
        sn_batchnorm_forward_train(out, saved_mean, saved_inv_std, in, gamma, beta, running_mean,
                                   running_var, channels, count, mode->momentum, bn_eps);
    else if (relu)
        sn_batchnorm_relu_forward_eval(out, in, gamma, beta, running_mean, running_var, channels,
                                       count, bn_eps);
    else
        sn_batchnorm_forward_eval(out, in, gamma, beta, running_mean, running_var, channels,
                                  count, bn_eps);
}

/* The sizes one block runs at: the subnet's, or the largest in masked mode. */
typedef struct {
    int64_t in, mid, out;
    int kernel;
} block_size;

static block_size block_size_of(const sc_model *m, const sc_stage *st, const sc_block *k)
{
    block_size z;
    if (m->masked) {
        z.in = k->in_max;
        z.mid = k->mid_max;
        z.out = st->width_max;
        z.kernel = k->kernel_max;
    } else {
        z.in = k->in;
        z.mid = k->mid;
        z.out = st->width;
        z.kernel = k->kernel;
    }
    return z;
}

static sn_conv2d_dims pointwise_dims(int64_t batch, int64_t in, int64_t out, int64_t height,
                                     int64_t width)
{
    sn_conv2d_dims d = {batch, in, out, height, width, 1, 1, 0, 1};
    return d;
}

static sn_conv2d_dims depthwise_dims(const sc_block *k, int64_t batch, int64_t mid, int kernel)
{
    sn_conv2d_dims d = {batch, mid, mid, k->in_height, k->in_width, kernel, k->stride,
                        kernel / 2, (int)mid};
    return d;
}

static void block_forward(sn_network *network, sc_model *m, sc_stage *st, sc_block *k,
                          const float *x, int64_t batch, const norm_mode *mode)
{
    float *params = network->parameters;
    const block_size z = block_size_of(m, st, k);
    const int64_t in_count = batch * k->in_height * k->in_width;
    const int64_t out_count = batch * k->out_height * k->out_width;
    k->input = x;

    sn_conv2d_dims expand = pointwise_dims(batch, z.in, z.mid, k->in_height, k->in_width);
    sn_conv2d_forward(k->expand_out, x, expand_weight(network, params, k, z.mid, z.in), NULL,
                      &expand, NULL);
    norm_forward(k->expand_act, k->saved_mean[SC_EXPAND], k->saved_inv_std[SC_EXPAND],
                 k->expand_out, sn_entry(network, params, k->gamma[SC_EXPAND]),
                 sn_entry(network, params, k->beta[SC_EXPAND]), k->running_mean[SC_EXPAND],
                 k->running_var[SC_EXPAND], z.mid, in_count, 1, mode);
    const float *a1 = k->expand_act;
    sn_kernel_view kernel = depthwise_crop(network, params, k, z.kernel);
    if (m->masked) {
        sc_scale_channels(k->expand_masked, k->expand_act, k->mid_mask, z.mid, in_count);
        a1 = k->expand_masked;
        kernel = sc_mask_kernel(network, k);
    }

    sn_conv2d_dims dw = depthwise_dims(k, batch, z.mid, z.kernel);
    sn_depthwise_conv2d_forward(k->depthwise_out, a1, kernel, NULL, &dw);
    norm_forward(k->depthwise_act, k->saved_mean[SC_DEPTHWISE], k->saved_inv_std[SC_DEPTHWISE],
                 k->depthwise_out, sn_entry(network, params, k->gamma[SC_DEPTHWISE]),
                 sn_entry(network, params, k->beta[SC_DEPTHWISE]), k->running_mean[SC_DEPTHWISE],
                 k->running_var[SC_DEPTHWISE], z.mid, out_count, 1, mode);
    const float *a2 = k->depthwise_act;
    if (m->masked) {
        sc_scale_channels(k->depthwise_masked, k->depthwise_act, k->mid_mask, z.mid, out_count);
        a2 = k->depthwise_masked;
    }

    sn_conv2d_dims project = pointwise_dims(batch, z.mid, z.out, k->out_height, k->out_width);
    sn_conv2d_forward(k->project_out, a2, project_weight(network, params, k, z.out, z.mid), NULL,
                      &project, NULL);
    const float *gamma = sn_entry(network, params, k->gamma[SC_PROJECT]);
    const float *beta = sn_entry(network, params, k->beta[SC_PROJECT]);
    if (m->masked) {
        sc_scale_norm(m, st, gamma, beta);
        gamma = m->scaled_gamma;
        beta = m->scaled_beta;
    }
    norm_forward(k->project_norm, k->saved_mean[SC_PROJECT], k->saved_inv_std[SC_PROJECT],
                 k->project_out, gamma, beta, k->running_mean[SC_PROJECT],
                 k->running_var[SC_PROJECT], z.out, out_count, 0, mode);
    if (k->index == 0)
        return;
    int64_t n = z.out * out_count;
    if (m->masked) {
        for (int64_t i = 0; i < n; i++)
            k->block_out[i] = x[i] + k->gate * k->project_norm[i];
    } else {
        sn_add_forward(k->block_out, x, k->project_norm, n);
    }
}

/* The last stage's output channels (the classifier's input) as run. */
static int64_t feature_channels(const sc_model *m)
{
    const sc_stage *last = &m->stages[m->stage_count - 1];
    return m->masked ? last->width_max : last->width;
}

static const float *sc_forward(sn_network *network, const float *images, int64_t batch,
                               const sn_forward_mode *mode)
{
    sc_model *m = network->model;
    float *params = network->parameters;
    norm_mode norm = {mode->training, 0.0f};
    if (mode->training)
        norm.momentum = sn_network_batchnorm_momentum(network, m->bn_momentum);
    m->images = images;
    sn_conv2d_dims stem = m->stem;
    stem.batch = batch;
    const sn_parameter_entry *se = &network->table.entries[m->stem_weight];
    sn_conv2d_forward(m->stem_out, images,
                      sn_matrix_make(sn_entry(network, params, m->stem_weight), se->shape[0],
                                     se->shape[1], se->shape[1]),
                      NULL, &stem, m->workspace);
    norm_forward(m->stem_act, m->stem_saved_mean, m->stem_saved_inv_std, m->stem_out,
                 sn_entry(network, params, m->stem_gamma), sn_entry(network, params, m->stem_beta),
                 m->stem_running_mean, m->stem_running_var, stem.out_channels,
                 batch * m->stem_height * m->stem_width, 1, &norm);
    const float *x = m->stem_act;
    for (int s = 0; s < m->stage_count; s++) {
        sc_stage *st = &m->stages[s];
        int depth = m->masked ? st->block_count : st->depth;
        for (int b = 0; b < depth; b++) {
            block_forward(network, m, st, &st->blocks[b], x, batch, &norm);
            x = st->blocks[b].block_out;
        }
    }
    const sc_stage *last = &m->stages[m->stage_count - 1];
    int64_t channels = feature_channels(m);
    sn_global_avgpool_forward(m->pooled, x, channels, batch, last->out_height * last->out_width);
    sn_linear_forward(m->logits, m->pooled, classifier_weight(network, params, m, channels),
                      sn_entry(network, params, m->classifier_bias), batch);
    return m->logits;
}

/* ---- backward ----------------------------------------------------------------- */

/* dx = d loss / d (block input) from dout = d loss / d (block output). */
static void block_backward(sn_network *network, sc_model *m, sc_stage *st, sc_block *k,
                           float *dx, const float *dout, int64_t batch)
{
    float *params = network->parameters, *grads = network->gradients;
    const block_size z = block_size_of(m, st, k);
    const int64_t in_count = batch * k->in_height * k->in_width;
    const int64_t out_count = batch * k->out_height * k->out_width;
    const float *x = k->input;

    /* Project norm. In masked mode the branch is gated and the norm's scale
     * and shift are the width-masked ones. */
    float *dproject = m->grad_branch;
    const float *dbranch = dout;
    if (m->masked && k->index > 0) {
        sc_gate_backward(network, st, k, dproject, dout, z.out * out_count);
        dbranch = dproject;
    }
    if (m->masked) {
        sc_norm_backward_masked(network, m, st, k, dproject, dbranch, z.out, out_count);
    } else {
        sn_batchnorm_backward(dproject, sn_entry(network, grads, k->gamma[SC_PROJECT]),
                              sn_entry(network, grads, k->beta[SC_PROJECT]), dbranch,
                              k->project_out, sn_entry(network, params, k->gamma[SC_PROJECT]),
                              k->saved_mean[SC_PROJECT], k->saved_inv_std[SC_PROJECT], z.out,
                              out_count);
    }

    /* Project convolution, then the depthwise norm + ReLU (and its mask). */
    float *dmid = m->grad_mid_a;
    const float *a2 = m->masked ? k->depthwise_masked : k->depthwise_act;
    sn_conv2d_dims project = pointwise_dims(batch, z.mid, z.out, k->out_height, k->out_width);
    sn_conv2d_backward(dmid, project_weight(network, grads, k, z.out, z.mid), NULL, dproject, a2,
                       project_weight(network, params, k, z.out, z.mid), &project, NULL);
    if (m->masked) {
        memset(m->mid_grad, 0, (size_t)z.mid * sizeof(float));
        sc_mask_backward(m->mid_grad, dmid, k->depthwise_act, k->mid_mask, z.mid, out_count);
    }
    sn_batchnorm_relu_backward(dmid, sn_entry(network, grads, k->gamma[SC_DEPTHWISE]),
                               sn_entry(network, grads, k->beta[SC_DEPTHWISE]), dmid,
                               k->depthwise_out, k->depthwise_act,
                               sn_entry(network, params, k->gamma[SC_DEPTHWISE]),
                               k->saved_mean[SC_DEPTHWISE], k->saved_inv_std[SC_DEPTHWISE], z.mid,
                               out_count);

    /* Depthwise convolution, then the expand norm + ReLU (and its mask). */
    float *dexpand = m->grad_mid_b;
    const float *a1 = m->masked ? k->expand_masked : k->expand_act;
    sn_conv2d_dims dw = depthwise_dims(k, batch, z.mid, z.kernel);
    if (m->masked) {
        sc_depthwise_backward_masked(network, k, dexpand, dmid, a1, &dw);
        sc_mask_backward(m->mid_grad, dexpand, k->expand_act, k->mid_mask, z.mid, in_count);
    } else {
        sn_depthwise_conv2d_backward(dexpand, depthwise_crop(network, grads, k, z.kernel), NULL,
                                     dmid, a1, depthwise_crop(network, params, k, z.kernel), &dw);
    }
    sn_batchnorm_relu_backward(dexpand, sn_entry(network, grads, k->gamma[SC_EXPAND]),
                               sn_entry(network, grads, k->beta[SC_EXPAND]), dexpand,
                               k->expand_out, k->expand_act,
                               sn_entry(network, params, k->gamma[SC_EXPAND]),
                               k->saved_mean[SC_EXPAND], k->saved_inv_std[SC_EXPAND], z.mid,
                               in_count);
    if (m->masked)
        sc_mid_mask_to_probabilities(network, k, m->mid_grad);

    /* Expand convolution; the residual adds its identity path. */
    sn_conv2d_dims expand = pointwise_dims(batch, z.in, z.mid, k->in_height, k->in_width);
    sn_conv2d_backward(dx, expand_weight(network, grads, k, z.mid, z.in), NULL, dexpand, x,
                       expand_weight(network, params, k, z.mid, z.in), &expand, NULL);
    if (k->index > 0)
        sn_accumulate(dx, dout, z.in * in_count);
}

static void sc_backward(sn_network *network, const float *dlogits, int64_t batch)
{
    sc_model *m = network->model;
    float *params = network->parameters, *grads = network->gradients;
    if (m->masked)
        memset(network->architecture_gradient, 0,
               (size_t)network->space->choice_total * sizeof(float));
    const sc_stage *last = &m->stages[m->stage_count - 1];
    int64_t channels = feature_channels(m);
    /* The pooled features' gradient is small: it borrows grad_branch. */
    float *dpooled = m->grad_branch;
    sn_linear_backward(dpooled, classifier_weight(network, grads, m, channels),
                       sn_entry(network, grads, m->classifier_bias), dlogits, m->pooled,
                       classifier_weight(network, params, m, channels), batch);
    float *dout = m->grad_a, *dx = m->grad_b;
    sn_global_avgpool_backward(dout, dpooled, channels, batch, last->out_height * last->out_width);
    for (int s = m->stage_count - 1; s >= 0; s--) {
        sc_stage *st = &m->stages[s];
        if (m->masked)
            memset(m->width_grad, 0, (size_t)st->width_max * sizeof(float));
        int depth = m->masked ? st->block_count : st->depth;
        for (int b = depth - 1; b >= 0; b--) {
            block_backward(network, m, st, &st->blocks[b], dx, dout, batch);
            float *t = dout;
            dout = dx;
            dx = t;
        }
        if (m->masked)
            sc_width_mask_to_probabilities(network, st, m->width_grad);
    }
    /* dout is now d loss / d (stem output). */
    sn_conv2d_dims stem = m->stem;
    stem.batch = batch;
    int64_t count = batch * m->stem_height * m->stem_width;
    sn_batchnorm_relu_backward(dout, sn_entry(network, grads, m->stem_gamma),
                               sn_entry(network, grads, m->stem_beta), dout, m->stem_out,
                               m->stem_act, sn_entry(network, params, m->stem_gamma),
                               m->stem_saved_mean, m->stem_saved_inv_std, stem.out_channels,
                               count);
    const sn_parameter_entry *se = &network->table.entries[m->stem_weight];
    sn_conv2d_backward(NULL,
                       sn_matrix_make(sn_entry(network, grads, m->stem_weight), se->shape[0],
                                      se->shape[1], se->shape[1]),
                       NULL, dout, m->images,
                       sn_matrix_make(sn_entry(network, params, m->stem_weight), se->shape[0],
                                      se->shape[1], se->shape[1]),
                       &stem, m->workspace);
}

static void sc_free(sn_network *network)
{
    sc_model *m = network->model;
    if (m)
        sn_free(m->running_statistics);
    free(m);
    network->model = NULL;
}

static const sn_network_operations supernet_cnn_operations = {
    sc_declare,          sc_layout,        sc_initialize,
    sc_forward,          sc_backward,      sc_free,
    sc_set_architecture, sc_set_soft_architecture, sc_reset_running_statistics,
    sc_visit_subnet,
};

int sn_network_supernet_cnn_attach(sn_network *network, const sn_layer_settings *layers)
{
    if (!network->space || network->space->type != SN_SPACE_CNN)
        return sn_error_set(SN_ERR_INTERNAL, "supernet: a cnn supernet needs a cnn space");
    sc_model *m = calloc(1, sizeof *m);
    if (!m)
        return sn_error_set(SN_ERR_NOMEM, "supernet: out of memory");
    network->model = m;
    network->operations = &supernet_cnn_operations;
    network->layout = SN_LAYOUT_CHANNEL_MAJOR;
    m->bn_momentum = (float)layers->bn_momentum;
    return SN_OK;
}
