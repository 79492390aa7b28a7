/*
 * The CNN supernet's current subnet on its own (sn_network_visit_subnet):
 * the slices its sliced-mode forward computes with, copied out in PyTorch's
 * layout, with the running statistics its evaluation-mode batch norms use.
 *
 *   stem/conv/weight                 [stem, image channels, K, K]
 *   stem/norm/{weight,bias,running_mean,running_var}  [stem]
 *   stageS/blockB/expand/weight      [mid, in, 1, 1]    first mid rows, first in columns
 *   stageS/blockB/depthwise/weight   [mid, 1, k, k]     the centre k x k of the K x K filter
 *   stageS/blockB/project/weight     [width, mid, 1, 1]
 *   stageS/blockB/{expand,depthwise,project}_norm/...  first mid (width) channels
 *   head/weight [classes, width], head/bias [classes]
 *
 * Each block group says its stride, kernel, padding and whether it adds its
 * input (residual), so a reader needs no knowledge of the space.
 */
#include "supernet_cnn.h"

#include <stdio.h>
#include <stdlib.h>

#include "shiftnas/error.h"

static const double bn_eps = 1e-5; /* supernet_cnn.c's, as a double */

enum { NAME_SIZE = 96 }; /* "stage7/block7/depthwise_norm/running_mean" and room */

typedef struct {
    sn_network *network;
    const sn_subnet_visitor *visitor;
    float *buffer;           /* room for the largest tensor */
} walk;

static int emit(walk *w, const char *name, int ndim, const int64_t *shape, const float *values)
{
    return w->visitor->tensor(w->visitor->context, name, ndim, shape, values);
}

/* A first rows x cols block of a weight with the given row stride, as a
 * 4-D convolution weight [rows, cols / (k*k), k, k]. */
static int emit_conv(walk *w, const char *name, const float *weight, int64_t rows, int64_t cols,
                     int64_t row_stride, int64_t kernel)
{
    sn_copy_block(w->buffer, weight, rows, cols, row_stride);
    int64_t shape[4] = {rows, cols / (kernel * kernel), kernel, kernel};
    return emit(w, name, 4, shape, w->buffer);
}

/* Scale, shift and running statistics of the first `channels` channels. */
static int emit_norm(walk *w, const char *group, int gamma, int beta, const float *mean,
                     const float *var, int64_t channels)
{
    char name[3 * NAME_SIZE];
    const char *parts[4] = {"weight", "bias", "running_mean", "running_var"};
    const float *values[4] = {sn_entry(w->network, w->network->parameters, gamma),
                              sn_entry(w->network, w->network->parameters, beta), mean, var};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s/%s", group, parts[i]);
        SN_TRY(emit(w, name, 1, &channels, values[i]));
    }
    return SN_OK;
}

static int block_properties(walk *w, const char *group, const sc_block *k)
{
    const sn_subnet_visitor *v = w->visitor;
    SN_TRY(v->integer(v->context, group, "stride", k->stride));
    SN_TRY(v->integer(v->context, group, "kernel", k->kernel));
    SN_TRY(v->integer(v->context, group, "padding", k->kernel / 2));
    SN_TRY(v->integer(v->context, group, "in_channels", k->in));
    SN_TRY(v->integer(v->context, group, "mid_channels", k->mid));
    return v->integer(v->context, group, "residual", k->index > 0);
}

static int visit_block(walk *w, const sc_stage *st, const sc_block *k)
{
    sn_network *network = w->network;
    float *params = network->parameters;
    char group[NAME_SIZE], name[2 * NAME_SIZE];
    snprintf(group, sizeof group, "stage%d/block%d", k->stage, k->index);
    SN_TRY(block_properties(w, group, k));
    SN_TRY(w->visitor->integer(w->visitor->context, group, "out_channels", st->width));

    snprintf(name, sizeof name, "%s/expand/weight", group);
    SN_TRY(emit_conv(w, name, sn_entry(network, params, k->expand_weight), k->mid, k->in,
                     k->in_max, 1));
    snprintf(name, sizeof name, "%s/expand_norm", group);
    SN_TRY(emit_norm(w, name, k->gamma[SC_EXPAND], k->beta[SC_EXPAND], k->running_mean[SC_EXPAND],
                     k->running_var[SC_EXPAND], k->mid));

    /* centre crop: filter c's tap (i, j) of the subnet is (offset + i, offset + j) */
    int64_t big = k->kernel_max, offset = (big - k->kernel) / 2;
    const float *filters = sn_entry(network, params, k->depthwise_weight);
    for (int64_t c = 0; c < k->mid; c++)
        sn_copy_block(w->buffer + c * k->kernel * k->kernel,
                      filters + c * big * big + offset * big + offset, k->kernel, k->kernel, big);
    int64_t dshape[4] = {k->mid, 1, k->kernel, k->kernel};
    snprintf(name, sizeof name, "%s/depthwise/weight", group);
    SN_TRY(emit(w, name, 4, dshape, w->buffer));
    snprintf(name, sizeof name, "%s/depthwise_norm", group);
    SN_TRY(emit_norm(w, name, k->gamma[SC_DEPTHWISE], k->beta[SC_DEPTHWISE],
                     k->running_mean[SC_DEPTHWISE], k->running_var[SC_DEPTHWISE], k->mid));

    snprintf(name, sizeof name, "%s/project/weight", group);
    SN_TRY(emit_conv(w, name, sn_entry(network, params, k->project_weight), st->width, k->mid,
                     k->mid_max, 1));
    snprintf(name, sizeof name, "%s/project_norm", group);
    return emit_norm(w, name, k->gamma[SC_PROJECT], k->beta[SC_PROJECT],
                     k->running_mean[SC_PROJECT], k->running_var[SC_PROJECT], st->width);
}

static int network_properties(walk *w, const sc_model *m)
{
    const sn_subnet_visitor *v = w->visitor;
    SN_TRY(v->text(v->context, "", "family", "cnn"));
    SN_TRY(v->text(v->context, "", "activation", "relu"));
    SN_TRY(v->real(v->context, "", "batchnorm_eps", bn_eps));
    SN_TRY(v->integer(v->context, "", "stages", m->stage_count));
    SN_TRY(v->integer(v->context, "stem", "stride", m->stem.stride));
    SN_TRY(v->integer(v->context, "stem", "kernel", m->stem.kernel));
    SN_TRY(v->integer(v->context, "stem", "padding", m->stem.padding));
    for (int s = 0; s < m->stage_count; s++) {
        char group[32];
        snprintf(group, sizeof group, "stage%d", s);
        SN_TRY(v->integer(v->context, group, "depth", m->stages[s].depth));
        SN_TRY(v->integer(v->context, group, "width", m->stages[s].width));
    }
    return SN_OK;
}

static int visit(walk *w)
{
    sn_network *network = w->network;
    sc_model *m = network->model;
    float *params = network->parameters;
    SN_TRY(network_properties(w, m));
    const sn_parameter_entry *stem = &network->table.entries[m->stem_weight];
    SN_TRY(emit_conv(w, "stem/conv/weight", sn_entry(network, params, m->stem_weight),
                     stem->shape[0], stem->shape[1], stem->shape[1], m->stem.kernel));
    SN_TRY(emit_norm(w, "stem/norm", m->stem_gamma, m->stem_beta, m->stem_running_mean,
                     m->stem_running_var, m->stem.out_channels));
    for (int s = 0; s < m->stage_count; s++)
        for (int b = 0; b < m->stages[s].depth; b++)
            SN_TRY(visit_block(w, &m->stages[s], &m->stages[s].blocks[b]));
    const sc_stage *last = &m->stages[m->stage_count - 1];
    const sn_parameter_entry *head = &network->table.entries[m->classifier_weight];
    sn_copy_block(w->buffer, sn_entry(network, params, m->classifier_weight), head->shape[0],
                  last->width, head->shape[1]);
    int64_t hshape[2] = {head->shape[0], last->width};
    SN_TRY(emit(w, "head/weight", 2, hshape, w->buffer));
    int64_t classes = head->shape[0];
    return emit(w, "head/bias", 1, &classes, sn_entry(network, params, m->classifier_bias));
}

int sc_visit_subnet(sn_network *network, const sn_subnet_visitor *visitor)
{
    sc_model *m = network->model;
    if (m->masked)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "supernet: the subnet walk needs an architecture (sliced mode)");
    /* No slice is larger than the entry it is cut from. */
    size_t largest = 0;
    for (int e = 0; e < network->table.count; e++)
        if (network->table.entries[e].count > largest)
            largest = network->table.entries[e].count;
    walk w = {network, visitor, malloc(largest * sizeof(float))};
    if (!w.buffer)
        return sn_error_set(SN_ERR_NOMEM, "supernet: out of memory for a %zu-float copy", largest);
    int status = visit(&w);
    free(w.buffer);
    return status;
}
