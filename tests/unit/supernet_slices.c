/* Slices of a supernet's parameters against a network built on its own
 * (from sn_space_restrict): shared by the supernet tests. */
#include "supernet_slices.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

void for_each_slice_element(const sn_parameter_entry *se, const sn_parameter_entry *be,
                            pair_fn fn, void *context)
{
    if (se->ndim == 1) {
        for (int64_t i = 0; i < se->shape[0]; i++)
            fn(be->offset + (size_t)i, se->offset + (size_t)i, context);
    } else if (se->ndim == 2) {
        for (int64_t r = 0; r < se->shape[0]; r++)
            for (int64_t c = 0; c < se->shape[1]; c++)
                fn(be->offset + (size_t)(r * be->shape[1] + c),
                   se->offset + (size_t)(r * se->shape[1] + c), context);
    } else {
        int64_t k = se->shape[1], big = be->shape[1], off = (big - k) / 2;
        for (int64_t ch = 0; ch < se->shape[0]; ch++)
            for (int64_t i = 0; i < k; i++)
                for (int64_t j = 0; j < k; j++)
                    fn(be->offset + (size_t)((ch * big + i + off) * big + j + off),
                       se->offset + (size_t)((ch * k + i) * k + j), context);
    }
}

const sn_parameter_entry *counterpart(sn_network *big, const sn_parameter_entry *se)
{
    const sn_parameter_table *bt = sn_network_parameter_table(big);
    int index = sn_parameter_table_find(bt, se->name);
    ck_assert_msg(index >= 0, "%s missing from the supernet", se->name);
    return &bt->entries[index];
}

typedef struct {
    float *big, *small;
} copy_context;

static void copy_element(size_t big, size_t small, void *context)
{
    copy_context *c = context;
    c->small[small] = c->big[big];
}

void copy_slices(sn_network *big, sn_network *small)
{
    const sn_parameter_table *st = sn_network_parameter_table(small);
    copy_context c = {sn_network_parameters(big), sn_network_parameters(small)};
    for (int e = 0; e < st->count; e++)
        for_each_slice_element(&st->entries[e], counterpart(big, &st->entries[e]), copy_element,
                               &c);
}

double relative_difference(const float *a, const float *b, int64_t n)
{
    double diff = 0.0, scale = 1e-3;
    for (int64_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)a[i] - (double)b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return diff / scale;
}

typedef struct {
    float *big, *small;
    float *gathered;
    int64_t count;
} gather_context;

static void gather_element(size_t big, size_t small, void *context)
{
    gather_context *c = context;
    (void)small;
    c->gathered[c->count++] = c->big[big];
}

/* The worst whole-entry relative difference between the small network's
 * gradients and the big network's gradient slices. */
double worst_gradient_difference(sn_network *big, sn_network *small, const char **where)
{
    const sn_parameter_table *st = sn_network_parameter_table(small);
    float *sg = sn_network_gradients(small);
    double worst = 0.0;
    for (int e = 0; e < st->count; e++) {
        const sn_parameter_entry *se = &st->entries[e];
        gather_context c = {sn_network_gradients(big), sg, malloc(se->count * sizeof(float)), 0};
        for_each_slice_element(se, counterpart(big, se), gather_element, &c);
        double d = relative_difference(c.gathered, sg + se->offset, (int64_t)se->count);
        if (d > worst) {
            worst = d;
            *where = se->name;
        }
        free(c.gathered);
    }
    return worst;
}

typedef struct {
    unsigned char *touched;
} mark_context;

static void mark_element(size_t big, size_t small, void *context)
{
    mark_context *c = context;
    (void)small;
    c->touched[big] = 1;
}

/* Gradient slab entries of big outside every slice of small that are not
 * exactly zero. */
unsigned char *slice_mask(sn_network *big, sn_network *small)
{
    size_t total = sn_network_parameter_table(big)->total;
    mark_context c = {calloc(total, 1)};
    const sn_parameter_table *st = sn_network_parameter_table(small);
    for (int e = 0; e < st->count; e++)
        for_each_slice_element(&st->entries[e], counterpart(big, &st->entries[e]), mark_element,
                               &c);
    return c.touched;
}

int64_t nonzero_outside(sn_network *big, sn_network *small)
{
    size_t total = sn_network_parameter_table(big)->total;
    unsigned char *inside = slice_mask(big, small);
    const float *g = sn_network_gradients(big);
    int64_t bad = 0;
    for (size_t i = 0; i < total; i++)
        if (!inside[i] && g[i] != 0.0f)
            bad++;
    free(inside);
    return bad;
}


void trial_architecture(const sn_space *space, int trial, sn_rng_stream *stream, sn_arch *arch)
{
    if (trial == 0)
        sn_arch_smallest(space, arch);
    else if (trial == 1)
        sn_arch_largest(space, arch);
    else
        sn_arch_sample_uniform(space, stream, arch);
}
