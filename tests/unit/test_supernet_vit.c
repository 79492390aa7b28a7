/*
 * The ViT supernet: sliced subnets against the same subnet built on its own
 * (logits and weight gradients, slice by slice), gradients outside the slice,
 * masked mode at one-hot probabilities against sliced mode, d loss / d p and
 * the masked layer norm against finite differences, and the sliced subnet's
 * weight gradients against finite differences.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "supernet_slices.h"
#include "shiftnas/error.h"
#include "shiftnas/network.h"
#include "shiftnas/nn.h"
#include "shiftnas/rng.h"
#include "shiftnas/space.h"

enum { BATCH = 3, CLASSES = 5, IMAGE = 8 };

/* 8x8x1 images, patch 4 (4 patches + class token), head_dim 4, embeds 8, 12,
 * 16, depths 1-3, heads 1-3, mlp ratios 1.25 and 2 (1.25 * 12 = 15 hidden
 * units: lround matters, and hidden widths differ from the embed widths). */
static void small_space(sn_space *space)
{
    sn_space_description d;
    memset(&d, 0, sizeof d);
    d.type = SN_SPACE_VIT;
    d.image_channels = 1;
    d.image_size = IMAGE;
    d.classes = CLASSES;
    d.patch = 4;
    d.head_dim = 4;
    d.embed_count = 3;
    d.embeds[0] = 8, d.embeds[1] = 12, d.embeds[2] = 16;
    d.depth_count = 3;
    d.depths[0] = 1, d.depths[1] = 2, d.depths[2] = 3;
    d.heads_count = 3;
    d.heads[0] = 1, d.heads[1] = 2, d.heads[2] = 3;
    d.mlp_ratio_count = 2;
    d.mlp_ratios[0] = 1.25, d.mlp_ratios[1] = 2.0;
    ck_assert_int_eq(sn_space_build(space, &d), SN_OK);
}

typedef struct {
    sn_network *network;
    float images[BATCH * IMAGE * IMAGE];
    int32_t labels[BATCH];
    float probs[BATCH * CLASSES];
    float dlogits[BATCH * CLASSES];
    float logits[BATCH * CLASSES];
    const float *soft;  /* probabilities for masked-mode losses, or NULL */
} supernet_case;

static sn_network *create_regularized(const sn_space *space, double dropout, double drop_path)
{
    sn_layer_settings layers = {.dropout = dropout, .drop_path = drop_path};
    sn_network *network = NULL;
    ck_assert_int_eq(sn_network_create_supernet(&network, space, &layers, BATCH), SN_OK);
    return network;
}

/* Without dropout and drop-path. */
static sn_network *create(const sn_space *space)
{
    return create_regularized(space, 0.0, 0.0);
}

/* Redraws every parameter from N(0, 0.5^2): at the real initialisation
 * (std 0.02) the network is nearly constant and a comparison would say
 * little. */
static void randomize(sn_network *network, uint32_t item)
{
    const sn_parameter_table *table = sn_network_parameter_table(network);
    float *params = sn_network_parameters(network);
    for (int e = 0; e < table->count; e++)
        gradcheck_fill_normal(params + table->entries[e].offset, (int64_t)table->entries[e].count,
                              0.5f, item + (uint32_t)e);
}

static void setup_inputs(supernet_case *c)
{
    gradcheck_fill_normal(c->images, BATCH * IMAGE * IMAGE, 1.0f, 1);
    for (int n = 0; n < BATCH; n++)
        c->labels[n] = (int32_t)((2 * n + 1) % CLASSES);
    c->soft = NULL;
}

/* The training loss of one training-mode forward (dropout and drop-path are
 * off); the logits are kept in c->logits. */
static double case_loss(void *context)
{
    supernet_case *c = context;
    if (c->soft)
        ck_assert_int_eq(sn_network_set_soft_architecture(c->network, c->soft), SN_OK);
    sn_forward_mode mode = {1, 7, 3, 0};
    const float *logits = sn_network_forward(c->network, c->images, BATCH, &mode);
    memcpy(c->logits, logits, sizeof c->logits);
    return sn_softmax_cross_entropy_forward(c->probs, logits, c->labels, BATCH, CLASSES, 0.0f,
                                            NULL);
}

/* Zeroed gradients, forward, backward. */
static void step(supernet_case *c)
{
    sn_network_zero_gradients(c->network);
    case_loss(c);
    sn_softmax_cross_entropy_backward(c->dlogits, c->probs, c->labels, BATCH, CLASSES, 0.0f, 1.0f);
    sn_network_backward(c->network, c->dlogits, BATCH);
}

static double max_abs(const float *x, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

/* Relative agreement of two tensors: max |a - b| <= tol * max |b| (+ a floor
 * of 1e-9 for an all-zero tensor). Element-wise relative error would be
 * meaningless for entries near zero. */
static int close_enough(const char *what, const float *a, const float *b, int64_t n, double tol)
{
    double scale = max_abs(b, n), worst = 0.0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > worst)
            worst = d, at = i;
    }
    if (worst <= tol * scale + 1e-9)
        return 1;
    fprintf(stderr, "%s[%lld]: %.9g vs %.9g (max |b| %.3g)\n", what, (long long)at, a[at], b[at],
            scale);
    return 0;
}

/* The slice of entry `big` that entry `small` (same name, smaller shape) is:
 * the top-left rows x cols block. */
typedef struct {
    int64_t rows, cols, big_stride;
} slice_shape;

static slice_shape slice_of(const sn_parameter_entry *small, const sn_parameter_entry *big)
{
    slice_shape s;
    s.rows = small->shape[0];
    s.cols = small->ndim == 2 ? small->shape[1] : 1;
    s.big_stride = big->ndim == 2 ? big->shape[1] : 1;
    return s;
}

/* The choice indices, for messages. */
static void describe(const sn_space *space, const sn_arch *arch, char *text, size_t size)
{
    size_t used = (size_t)snprintf(text, size, "arch");
    for (int d = 0; d < space->dimension_count && used < size; d++)
        used += (size_t)snprintf(text + used, size - used, " %d", arch->choice[d]);
}

static void sample_architectures(const sn_space *space, sn_arch *archs, int count)
{
    sn_arch_smallest(space, &archs[0]);
    sn_arch_largest(space, &archs[1]);
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 99, SN_RNG_TEST, 0, 0);
    for (int i = 2; i < count; i++)
        sn_arch_sample_uniform(space, &stream, &archs[i]);
}

/* 1 and 2. Each subnet of the supernet against a supernet built on its own
 * from sn_space_restrict(space, arch) holding copies of the same weight
 * slices: logits and every gradient slice agree to 1e-5 relative (the same
 * float operations on the same numbers, only the strides differ); every
 * gradient entry outside the subnet's slices is exactly zero. */
START_TEST(sliced_subnets_equal_subnets_built_alone)
{
    enum { ARCHS = 14 };
    sn_space space;
    small_space(&space);
    sn_arch archs[ARCHS];
    sample_architectures(&space, archs, ARCHS);
    supernet_case big;
    setup_inputs(&big);
    big.network = create(&space);
    randomize(big.network, 100);
    const sn_parameter_table *big_table = sn_network_parameter_table(big.network);
    int failures = 0;
    for (int a = 0; a < ARCHS; a++) {
        char text[SN_ARCH_TEXT_MAX];
        describe(&space, &archs[a], text, sizeof text);
        sn_space single;
        ck_assert_int_eq(sn_space_restrict(&space, &archs[a], &single), SN_OK);
        supernet_case alone;
        setup_inputs(&alone);
        alone.network = create(&single);
        const sn_parameter_table *table = sn_network_parameter_table(alone.network);
        float *big_params = sn_network_parameters(big.network);
        float *params = sn_network_parameters(alone.network);
        for (int e = 0; e < table->count; e++) {
            int b = sn_parameter_table_find(big_table, table->entries[e].name);
            ck_assert_int_ge(b, 0);
            slice_shape s = slice_of(&table->entries[e], &big_table->entries[b]);
            for (int64_t r = 0; r < s.rows; r++)
                memcpy(params + table->entries[e].offset + r * s.cols,
                       big_params + big_table->entries[b].offset + r * s.big_stride,
                       (size_t)s.cols * sizeof(float));
        }

        ck_assert_int_eq(sn_network_set_architecture(big.network, &archs[a]), SN_OK);
        step(&big);
        step(&alone);
        if (!close_enough(text, big.logits, alone.logits, BATCH * CLASSES, 1e-5))
            failures++;

        /* Every gradient slice, and a map of which big entries they cover. */
        float *big_grads = sn_network_gradients(big.network);
        float *grads = sn_network_gradients(alone.network);
        char *covered = calloc(big_table->total, 1);
        float slice_grad[4096];
        for (int e = 0; e < table->count; e++) {
            const sn_parameter_entry *entry = &table->entries[e];
            int b = sn_parameter_table_find(big_table, entry->name);
            slice_shape s = slice_of(entry, &big_table->entries[b]);
            ck_assert_int_le(s.rows * s.cols, 4096);
            for (int64_t r = 0; r < s.rows; r++)
                for (int64_t col = 0; col < s.cols; col++) {
                    size_t at = big_table->entries[b].offset + (size_t)(r * s.big_stride + col);
                    slice_grad[r * s.cols + col] = big_grads[at];
                    covered[at] = 1;
                }
            char what[SN_ARCH_TEXT_MAX + 80];
            snprintf(what, sizeof what, "%s %s gradient", text, entry->name);
            if (!close_enough(what, slice_grad, grads + entry->offset, s.rows * s.cols, 1e-5))
                failures++;
        }
        for (int e = 0; e < big_table->count; e++) {
            const sn_parameter_entry *entry = &big_table->entries[e];
            for (size_t i = 0; i < entry->count; i++)
                if (!covered[entry->offset + i] && big_grads[entry->offset + i] != 0.0f) {
                    fprintf(stderr, "%s: %s[%zu] = %g outside the subnet\n", text, entry->name, i,
                            big_grads[entry->offset + i]);
                    failures++;
                    break;
                }
        }
        free(covered);
        sn_network_free(alone.network);
    }
    sn_network_free(big.network);
    ck_assert_int_eq(failures, 0);
}
END_TEST

/* Gradients outside the slice are left as they were, not only zero after
 * zero_gradients: backward accumulates into the slice alone. */
START_TEST(sliced_backward_leaves_other_gradients_untouched)
{
    sn_space space;
    small_space(&space);
    supernet_case c;
    setup_inputs(&c);
    c.network = create(&space);
    randomize(c.network, 200);
    sn_arch arch;
    sn_arch_smallest(&space, &arch);
    ck_assert_int_eq(sn_network_set_architecture(c.network, &arch), SN_OK);
    const sn_parameter_table *table = sn_network_parameter_table(c.network);
    float *grads = sn_network_gradients(c.network);
    /* Which entries does the smallest subnet own? Its slices, from the
     * subnet built on its own (not "nonzero after a step": the k bias's
     * gradient is exactly 0 in exact arithmetic, only rounding noise, and
     * the noise can be 0 with one BLIS kernel and not with another). */
    sn_space single;
    ck_assert_int_eq(sn_space_restrict(&space, &arch, &single), SN_OK);
    sn_network *alone = create(&single);
    unsigned char *touched = slice_mask(c.network, alone);
    sn_network_free(alone);
    step(&c);
    float *before = malloc(table->total * sizeof(float));
    gradcheck_fill_normal(before, (int64_t)table->total, 1.0f, 5);
    memcpy(grads, before, table->total * sizeof(float));
    case_loss(&c);
    sn_softmax_cross_entropy_backward(c.dlogits, c.probs, c.labels, BATCH, CLASSES, 0.0f, 1.0f);
    sn_network_backward(c.network, c.dlogits, BATCH);
    int changed_outside = 0, changed_inside = 0;
    for (size_t i = 0; i < table->total; i++) {
        if (!touched[i] && grads[i] != before[i])
            changed_outside++;
        if (touched[i] && grads[i] != before[i])
            changed_inside++;
    }
    ck_assert_int_eq(changed_outside, 0);
    ck_assert_int_gt(changed_inside, 0);
    free(touched);
    free(before);
    sn_network_free(c.network);
}
END_TEST

static void one_hot(const sn_space *space, const sn_arch *arch, float *p)
{
    double q[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    sn_arch_one_hot(space, arch, q);
    for (int i = 0; i < space->choice_total; i++)
        p[i] = (float)q[i];
}

/* 3. Masked mode at one-hot probabilities computes the sliced subnet: logits
 * and the whole gradient slab agree to 1e-5 relative (per entry, see the
 * scale below; entries the subnet does not use must then be ~0 in masked
 * mode too). */
START_TEST(masked_one_hot_equals_sliced)
{
    enum { ARCHS = 10 };
    sn_space space;
    small_space(&space);
    sn_arch archs[ARCHS];
    sample_architectures(&space, archs, ARCHS);
    supernet_case c;
    setup_inputs(&c);
    c.network = create(&space);
    randomize(c.network, 300);
    const sn_parameter_table *table = sn_network_parameter_table(c.network);
    float *sliced_grads = malloc(table->total * sizeof(float));
    float p[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    float sliced_logits[BATCH * CLASSES];
    int failures = 0;
    for (int a = 0; a < ARCHS; a++) {
        char text[SN_ARCH_TEXT_MAX];
        describe(&space, &archs[a], text, sizeof text);
        ck_assert_int_eq(sn_network_set_architecture(c.network, &archs[a]), SN_OK);
        step(&c);
        memcpy(sliced_logits, c.logits, sizeof sliced_logits);
        memcpy(sliced_grads, sn_network_gradients(c.network), table->total * sizeof(float));

        one_hot(&space, &archs[a], p);
        ck_assert_int_eq(sn_network_set_soft_architecture(c.network, p), SN_OK);
        step(&c);
        if (!close_enough(text, c.logits, sliced_logits, BATCH * CLASSES, 1e-5))
            failures++;
        float *grads = sn_network_gradients(c.network);
        for (int e = 0; e < table->count; e++) {
            const sn_parameter_entry *entry = &table->entries[e];
            char what[SN_ARCH_TEXT_MAX + 80];
            snprintf(what, sizeof what, "%s %s gradient", text, entry->name);
            /* Scale: the entry's largest sliced gradient, but at least 1% of
             * the slab's. Some entries' gradients are rounding noise in both
             * modes (the k bias: softmax ignores a shift of every score of a
             * query; entries the subnet does not use) and are compared at
             * the slab's scale. */
            double scale = fmax(max_abs(sliced_grads + entry->offset, (int64_t)entry->count),
                                1e-2 * max_abs(sliced_grads, (int64_t)table->total));
            double worst = 0.0;
            for (size_t i = 0; i < entry->count; i++)
                worst = fmax(worst, fabs((double)grads[entry->offset + i] -
                                         sliced_grads[entry->offset + i]));
            if (worst > 1e-5 * scale) {
                fprintf(stderr, "%s: differs by %.3g (scale %.3g)\n", what, worst, scale);
                failures++;
            }
        }
    }
    free(sliced_grads);
    sn_network_free(c.network);
    ck_assert_int_eq(failures, 0);
}
END_TEST

/* Softmax of N(0, 1) logits per dimension: every choice has weight. */
static void soft_probabilities(const sn_space *space, float *p, uint32_t item)
{
    float logits[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    gradcheck_fill_normal(logits, space->choice_total, 1.0f, item);
    for (int d = 0; d < space->dimension_count; d++) {
        int offset = space->choice_offset[d], count = space->dimensions[d].choice_count;
        double sum = 0.0;
        for (int j = 0; j < count; j++)
            sum += exp(logits[offset + j]);
        for (int j = 0; j < count; j++)
            p[offset + j] = (float)(exp(logits[offset + j]) / sum);
    }
}

/* 4. d loss / d p against central differences at a soft p, every entry.
 * set_soft_architecture accepts sums within 1e-3 of 1, so the step is
 * h = 4e-4; float32 forwards then leave ~1e-4 of noise in the difference
 * quotient: tolerance 2e-2 relative plus 5e-4 absolute (loss units per unit
 * of probability; the gradients here are O(0.01..1)). The weights are drawn
 * at std 0.25 so the loss is smooth at this step. */
START_TEST(architecture_gradient_matches_finite_differences)
{
    sn_space space;
    small_space(&space);
    supernet_case c;
    setup_inputs(&c);
    c.network = create(&space);
    const sn_parameter_table *table = sn_network_parameter_table(c.network);
    float *params = sn_network_parameters(c.network);
    for (int e = 0; e < table->count; e++)
        gradcheck_fill_normal(params + table->entries[e].offset, (int64_t)table->entries[e].count,
                              0.25f, 400 + (uint32_t)e);
    float p[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    soft_probabilities(&space, p, 7);
    c.soft = p;
    step(&c);
    float analytic[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    memcpy(analytic, sn_network_architecture_gradient(c.network),
           (size_t)space.choice_total * sizeof(float));
    ck_assert(max_abs(analytic, space.choice_total) > 1e-3); /* not trivially zero */
    int failures = gradcheck_compare("d loss / d p", p, analytic, space.choice_total,
                                     space.choice_total, 4e-4, 2e-2, 5e-4, case_loss, &c);
    sn_network_free(c.network);
    ck_assert_int_eq(failures, 0);
}
END_TEST

/* The backward of an evaluation-mode forward (the probability update's
 * held-out gradient) is the gradient of the evaluation-mode loss: with
 * dropout and drop-path configured, it equals the training-mode gradient
 * of the same weights without them, weights and d loss / d p alike; a
 * training-mode forward before it leaves no stale masks behind. */
START_TEST(evaluation_backward_ignores_the_regularizers)
{
    sn_space space;
    small_space(&space);
    supernet_case plain, regularized;
    setup_inputs(&plain);
    setup_inputs(&regularized);
    plain.network = create(&space);
    regularized.network = create_regularized(&space, 0.3, 0.2);
    randomize(plain.network, 700);
    randomize(regularized.network, 700);
    float p[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    soft_probabilities(&space, p, 9);
    plain.soft = regularized.soft = p;
    step(&plain);
    step(&regularized); /* leaves dropout masks and drop-path keeps */
    sn_network_zero_gradients(regularized.network);
    sn_forward_mode evaluation = {0, 7, 3, 0};
    const float *logits = sn_network_forward(regularized.network, regularized.images, BATCH,
                                             &evaluation);
    sn_softmax_cross_entropy_forward(regularized.probs, logits, regularized.labels, BATCH, CLASSES,
                                     0.0f, NULL);
    ck_assert(close_enough("logits", logits, plain.logits, BATCH * CLASSES, 1e-6));
    sn_softmax_cross_entropy_backward(regularized.dlogits, regularized.probs, regularized.labels,
                                      BATCH, CLASSES, 0.0f, 1.0f);
    sn_network_backward(regularized.network, regularized.dlogits, BATCH);
    int64_t n = (int64_t)sn_network_parameter_table(plain.network)->total;
    ck_assert(close_enough("weight gradients", sn_network_gradients(regularized.network),
                           sn_network_gradients(plain.network), n, 1e-6));
    ck_assert(close_enough("d loss / d p", sn_network_architecture_gradient(regularized.network),
                           sn_network_architecture_gradient(plain.network), space.choice_total,
                           1e-6));
    sn_network_free(plain.network);
    sn_network_free(regularized.network);
}
END_TEST

/* One step of c, then up to `per_entry` elements of every parameter entry
 * against central differences (h = 2e-3, 3e-2 relative + 3e-4 absolute, as
 * for the fixed networks); frees c's network. */
static void check_every_entry(supernet_case *c, int64_t per_entry)
{
    step(c);
    const sn_parameter_table *table = sn_network_parameter_table(c->network);
    float *analytic = malloc(table->total * sizeof(float));
    memcpy(analytic, sn_network_gradients(c->network), table->total * sizeof(float));
    float *params = sn_network_parameters(c->network);
    int failures = 0;
    for (int e = 0; e < table->count; e++) {
        const sn_parameter_entry *entry = &table->entries[e];
        failures += gradcheck_compare(entry->name, params + entry->offset,
                                      analytic + entry->offset, (int64_t)entry->count, per_entry,
                                      2e-3, 3e-2, 3e-4, case_loss, c);
    }
    free(analytic);
    sn_network_free(c->network);
    ck_assert_int_eq(failures, 0);
}

/* The weight gradients in masked mode at a soft p, against central
 * differences (a few entries, h = 2e-3, 3e-2 relative + 3e-4 absolute as
 * for the fixed networks). */
static void check_masked_gradients(double dropout, double drop_path)
{
    sn_space space;
    small_space(&space);
    supernet_case c;
    setup_inputs(&c);
    c.network = create_regularized(&space, dropout, drop_path);
    randomize(c.network, 500);
    float p[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    soft_probabilities(&space, p, 8);
    c.soft = p;
    check_every_entry(&c, 6);
}

START_TEST(masked_weight_gradients_match_finite_differences)
{
    check_masked_gradients(0.0, 0.0);
}
END_TEST

START_TEST(masked_weight_gradients_with_regularizers_match_finite_differences)
{
    check_masked_gradients(0.2, 0.3);
}
END_TEST

/* 5. The sliced subnet's weight gradients against central differences, over
 * whole entries (elements outside the slice have zero gradient both ways):
 * h = 2e-3, 3e-2 relative + 3e-4 absolute, as for the fixed networks. */
static void check_sliced_gradients(double dropout, double drop_path)
{
    sn_space space;
    small_space(&space);
    supernet_case c;
    setup_inputs(&c);
    c.network = create_regularized(&space, dropout, drop_path);
    randomize(c.network, 600);
    sn_arch arch;
    /* e = 12, d = 2, heads 2 and 1, mlp ratios 1.25 and 2 */
    sn_arch_smallest(&space, &arch);
    arch.choice[space.embed_dimension] = 1;
    arch.choice[space.depth_dimension[0]] = 1;
    arch.choice[space.heads_dimension[0]] = 1;
    arch.choice[space.mlp_dimension[1]] = 1;
    ck_assert_int_eq(sn_network_set_architecture(c.network, &arch), SN_OK);
    check_every_entry(&c, 8);
}

START_TEST(sliced_weight_gradients_match_finite_differences)
{
    check_sliced_gradients(0.0, 0.0);
}
END_TEST

/* The same with dropout and drop-path on: their masks are keyed by (seed,
 * step), so every probe sees the same ones. */
START_TEST(sliced_weight_gradients_with_regularizers_match_finite_differences)
{
    check_sliced_gradients(0.2, 0.3);
}
END_TEST

/* ---- the masked layer norm on its own ------------------------------------ */

enum { LN_ROWS = 3, LN_DIM = 7 };

typedef struct {
    float in[LN_ROWS * LN_DIM], gamma[LN_DIM], beta[LN_DIM], mask[LN_DIM];
    float out[LN_ROWS * LN_DIM], r[LN_ROWS * LN_DIM], mean[LN_ROWS], inv_std[LN_ROWS];
} ln_case;

static double ln_loss(void *context)
{
    ln_case *c = context;
    sn_masked_layernorm_forward(c->out, c->mean, c->inv_std, c->in, c->gamma, c->beta, c->mask,
                                LN_ROWS, LN_DIM, 1e-5f);
    return gradcheck_probe(c->out, c->r, LN_ROWS * LN_DIM);
}

/* Input, gamma, beta and mask gradients against central differences
 * (h = 1e-3, 1e-2 relative + 1e-4 absolute: one layer in float32), at a soft
 * decreasing mask with a zero at the end. */
START_TEST(masked_layernorm_gradients_match_finite_differences)
{
    ln_case c;
    gradcheck_fill_normal(c.in, LN_ROWS * LN_DIM, 1.0f, 1);
    gradcheck_fill_normal(c.gamma, LN_DIM, 1.0f, 2);
    gradcheck_fill_normal(c.beta, LN_DIM, 1.0f, 3);
    gradcheck_fill_normal(c.r, LN_ROWS * LN_DIM, 1.0f, 4);
    const float mask[LN_DIM] = {1.0f, 1.0f, 0.9f, 0.7f, 0.45f, 0.2f, 0.0f};
    memcpy(c.mask, mask, sizeof mask);
    ln_loss(&c);
    float din[LN_ROWS * LN_DIM], dgamma[LN_DIM] = {0}, dbeta[LN_DIM] = {0}, dmask[LN_DIM] = {0};
    sn_masked_layernorm_backward(din, dgamma, dbeta, dmask, c.r, c.in, c.gamma, c.beta, c.mask,
                                 c.mean, c.inv_std, LN_ROWS, LN_DIM, 1e-5f);
    int failures = 0;
    failures += gradcheck_compare("din", c.in, din, LN_ROWS * LN_DIM, 64, 1e-3, 1e-2, 1e-4,
                                  ln_loss, &c);
    failures += gradcheck_compare("dgamma", c.gamma, dgamma, LN_DIM, 64, 1e-3, 1e-2, 1e-4,
                                  ln_loss, &c);
    failures += gradcheck_compare("dbeta", c.beta, dbeta, LN_DIM, 64, 1e-3, 1e-2, 1e-4, ln_loss,
                                  &c);
    failures += gradcheck_compare("dmask", c.mask, dmask, LN_DIM, 64, 1e-3, 1e-2, 1e-4, ln_loss,
                                  &c);
    ck_assert_int_eq(failures, 0);
}
END_TEST

/* At a 0/1 mask of the first e features it is the plain layer norm over e
 * features followed by zeros, and its input gradient is the plain one. */
START_TEST(masked_layernorm_at_a_hard_mask_is_layernorm)
{
    enum { E = 4 };
    ln_case c;
    gradcheck_fill_normal(c.in, LN_ROWS * LN_DIM, 1.0f, 11);
    gradcheck_fill_normal(c.gamma, LN_DIM, 1.0f, 12);
    gradcheck_fill_normal(c.beta, LN_DIM, 1.0f, 13);
    gradcheck_fill_normal(c.r, LN_ROWS * LN_DIM, 1.0f, 14);
    for (int j = 0; j < LN_DIM; j++)
        c.mask[j] = j < E ? 1.0f : 0.0f;
    ln_loss(&c);
    float compact[LN_ROWS * E], out[LN_ROWS * E], mean[LN_ROWS], inv_std[LN_ROWS];
    float dout[LN_ROWS * E], din[LN_ROWS * E], dmasked[LN_ROWS * LN_DIM];
    for (int r = 0; r < LN_ROWS; r++)
        for (int j = 0; j < E; j++) {
            compact[r * E + j] = c.in[r * LN_DIM + j];
            dout[r * E + j] = c.r[r * LN_DIM + j];
        }
    sn_layernorm_forward(out, mean, inv_std, compact, c.gamma, c.beta, LN_ROWS, E, 1e-5f);
    sn_layernorm_backward(din, NULL, NULL, dout, compact, c.gamma, mean, inv_std, LN_ROWS, E);
    sn_masked_layernorm_backward(dmasked, NULL, NULL, NULL, c.r, c.in, c.gamma, c.beta, c.mask,
                                 c.mean, c.inv_std, LN_ROWS, LN_DIM, 1e-5f);
    for (int r = 0; r < LN_ROWS; r++)
        for (int j = 0; j < LN_DIM; j++) {
            if (j < E) {
                ck_assert_float_eq_tol(c.out[r * LN_DIM + j], out[r * E + j], 1e-5f);
                ck_assert_float_eq_tol(dmasked[r * LN_DIM + j], din[r * E + j], 1e-5f);
            } else {
                ck_assert_float_eq(c.out[r * LN_DIM + j], 0.0f);
                ck_assert_float_eq(dmasked[r * LN_DIM + j], 0.0f);
            }
        }
}
END_TEST

/* ---- contract details ----------------------------------------------------- */

START_TEST(set_soft_architecture_rejects_bad_probabilities)
{
    sn_space space;
    small_space(&space);
    sn_network *network = create(&space);
    float p[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    soft_probabilities(&space, p, 9);
    ck_assert_int_eq(sn_network_set_soft_architecture(network, p), SN_OK);
    p[0] += 0.1f; /* embed no longer sums to 1 */
    ck_assert_int_eq(sn_network_set_soft_architecture(network, p), SN_ERR_ARGUMENT);
    sn_arch arch;
    sn_arch_largest(&space, &arch);
    arch.choice[space.embed_dimension] = 3; /* only 3 embed choices */
    ck_assert_int_eq(sn_network_set_architecture(network, &arch), SN_ERR_ARGUMENT);
    sn_network_free(network);
}
END_TEST

/* sn_network_macs() is the FLOPs counter's count of the current subnet, and
 * of the largest subnet in masked mode. */
START_TEST(macs_follow_the_architecture)
{
    sn_space space;
    small_space(&space);
    sn_network *network = create(&space);
    sn_arch arch, largest;
    sn_arch_smallest(&space, &arch);
    sn_arch_largest(&space, &largest);
    ck_assert_int_eq(sn_network_macs(network), sn_space_cost(&space, &largest).macs);
    ck_assert_int_eq(sn_network_set_architecture(network, &arch), SN_OK);
    ck_assert_int_eq(sn_network_macs(network), sn_space_cost(&space, &arch).macs);
    ck_assert_int_lt(sn_network_macs(network), sn_space_cost(&space, &largest).macs);
    float p[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    soft_probabilities(&space, p, 10);
    ck_assert_int_eq(sn_network_set_soft_architecture(network, p), SN_OK);
    ck_assert_int_eq(sn_network_macs(network), sn_space_cost(&space, &largest).macs);
    sn_network_free(network);
}
END_TEST

/* Same seed, same bits. */
START_TEST(initialisation_is_deterministic)
{
    sn_space space;
    small_space(&space);
    sn_network *a = create(&space), *b = create(&space);
    sn_network_initialize(a, 5);
    sn_network_initialize(b, 5);
    size_t bytes = sn_network_parameter_table(a)->total * sizeof(float);
    ck_assert_mem_eq(sn_network_parameters(a), sn_network_parameters(b), bytes);
    sn_network_initialize(b, 6);
    ck_assert_int_ne(memcmp(sn_network_parameters(a), sn_network_parameters(b), bytes), 0);
    sn_network_free(a);
    sn_network_free(b);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("supernet_vit");
    TCase *sliced = tcase_create("sliced");
    tcase_set_timeout(sliced, 60);
    tcase_add_test(sliced, sliced_subnets_equal_subnets_built_alone);
    tcase_add_test(sliced, sliced_backward_leaves_other_gradients_untouched);
    tcase_add_test(sliced, sliced_weight_gradients_match_finite_differences);
    tcase_add_test(sliced, sliced_weight_gradients_with_regularizers_match_finite_differences);
    suite_add_tcase(suite, sliced);
    TCase *masked = tcase_create("masked");
    tcase_set_timeout(masked, 60);
    tcase_add_test(masked, masked_one_hot_equals_sliced);
    tcase_add_test(masked, architecture_gradient_matches_finite_differences);
    tcase_add_test(masked, evaluation_backward_ignores_the_regularizers);
    tcase_add_test(masked, masked_weight_gradients_match_finite_differences);
    tcase_add_test(masked, masked_weight_gradients_with_regularizers_match_finite_differences);
    tcase_add_test(masked, masked_layernorm_gradients_match_finite_differences);
    tcase_add_test(masked, masked_layernorm_at_a_hard_mask_is_layernorm);
    suite_add_tcase(suite, masked);
    TCase *contract = tcase_create("contract");
    tcase_add_test(contract, set_soft_architecture_rejects_bad_probabilities);
    tcase_add_test(contract, initialisation_is_deterministic);
    tcase_add_test(contract, macs_follow_the_architecture);
    suite_add_tcase(suite, contract);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
