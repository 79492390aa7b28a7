/*
 * The CNN supernet: sliced subnets against the same subnet built on its own
 * (sn_space_restrict) with the weights copied, gradients confined to the
 * subnet's slices, masked mode at one-hot probabilities against sliced mode,
 * d loss / d probabilities and weight gradients against finite differences,
 * and batch-norm recalibration.
 *
 * Tolerances: "<= 1e-5 relative" compares each tensor as a whole,
 * max |a - b| <= 1e-5 * max(max |b|, 1e-3): the same float computation in a
 * different summation order (another BLIS blocking, zeros added) agrees to
 * a few float epsilons per element, while a tiny element's own relative
 * error says nothing.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gradcheck.h"
#include "supernet_slices.h"
#include "image_batches.h"
#include "nn/supernet_cnn.h"
#include "shiftnas/error.h"
#include "shiftnas/network.h"
#include "shiftnas/nn.h"
#include "shiftnas/space.h"
#include "shiftnas/train.h"

enum { CLASSES = 5 };

/* Image side of the tests' spaces (12; the finite-difference tests use less). */
static int image = 12;

/* 12x12x1 images, a 3x3 stem of 4 channels, three stages. */
static void make_space(sn_space *space, int stages)
{
    sn_space_description d;
    memset(&d, 0, sizeof d);
    d.type = SN_SPACE_CNN;
    d.image_channels = 1;
    d.image_size = image;
    d.classes = CLASSES;
    d.stem_channels = 4;
    d.stem_stride = 1;
    d.stem_kernel = 3;
    d.stage_count = stages;
    int channels[3] = {8, 12, 16}, strides[3] = {1, 2, 2};
    for (int s = 0; s < stages; s++) {
        d.stage_channels[s] = channels[s];
        d.stage_strides[s] = strides[s];
    }
    d.width_ratio_count = 3;
    d.width_ratios[0] = 0.5;
    d.width_ratios[1] = 0.75;
    d.width_ratios[2] = 1.0;
    d.depth_count = 3;
    d.depths[0] = 1;
    d.depths[1] = 2;
    d.depths[2] = 3;
    d.kernel_count = 2;
    d.kernels[0] = 3;
    d.kernels[1] = 5;
    d.expand_count = 3;
    d.expand_ratios[0] = 1.5;
    d.expand_ratios[1] = 2.0;
    d.expand_ratios[2] = 3.0;
    ck_assert_int_eq(sn_space_build(space, &d), SN_OK);
}

static sn_network *make_supernet(const sn_space *space, int64_t batch, double momentum)
{
    sn_layer_settings layers = {.bn_momentum = momentum};
    sn_network *network = NULL;
    int status = sn_network_create_supernet(&network, space, &layers, batch);
    ck_assert_msg(status == SN_OK, "create_supernet: %s", sn_error_message());
    sn_network_initialize(network, 5);
    return network;
}

/* Norm scales and shifts away from their 1/0 (and zero) initial values, so
 * that every branch carries signal and a wrong slice shows. */
static void randomize_norms(sn_network *network)
{
    const sn_parameter_table *t = sn_network_parameter_table(network);
    float *p = sn_network_parameters(network);
    for (int e = 0; e < t->count; e++) {
        const sn_parameter_entry *entry = &t->entries[e];
        if (entry->weight_decay)
            continue;
        int scale = strstr(entry->name, "norm.weight") != NULL;
        gradcheck_fill_normal(p + entry->offset, (int64_t)entry->count, scale ? 0.3f : 0.5f,
                              300 + (uint32_t)e);
        if (scale)
            for (size_t i = 0; i < entry->count; i++)
                p[entry->offset + i] += 1.0f;
    }
}

typedef struct {
    float *images;
    int32_t *labels;
    float *dlogits; /* a fixed probe, independent of the outputs */
    float *probs;
    int64_t batch;
} batch_data;

static void make_batch(batch_data *b, int64_t batch, uint32_t item)
{
    int64_t pixels = batch * image * image;
    b->batch = batch;
    b->images = malloc((size_t)pixels * sizeof(float));
    b->labels = malloc((size_t)batch * sizeof(int32_t));
    b->dlogits = malloc((size_t)(batch * CLASSES) * sizeof(float));
    b->probs = malloc((size_t)(batch * CLASSES) * sizeof(float));
    gradcheck_fill_normal(b->images, pixels, 1.0f, item);
    gradcheck_fill_normal(b->dlogits, batch * CLASSES, 1.0f, item + 1);
    for (int64_t n = 0; n < batch; n++)
        b->labels[n] = (int32_t)((n * 3 + item) % CLASSES);
}

static void free_batch(batch_data *b)
{
    free(b->images);
    free(b->labels);
    free(b->dlogits);
    free(b->probs);
}

static const sn_forward_mode training = {1, 7, 3, 0};

/* Forward (training mode) and backward with the fixed probe; the logits are
 * copied to `logits`. */
static void train_step(sn_network *network, const batch_data *b, float *logits)
{
    sn_network_zero_gradients(network);
    const float *out = sn_network_forward(network, b->images, b->batch, &training);
    memcpy(logits, out, (size_t)(b->batch * CLASSES) * sizeof(float));
    sn_network_backward(network, b->dlogits, b->batch);
}

/* The choice indices, for messages. */
static void arch_text(const sn_space *space, const sn_arch *arch, char *text, size_t size)
{
    size_t used = 0;
    text[0] = '\0';
    for (int d = 0; d < space->dimension_count && used + 4 < size; d++)
        used += (size_t)snprintf(text + used, size - used, "%d", arch->choice[d]);
}

/* 1 and 2: each sliced subnet against the subnet built on its own. */
START_TEST(test_sliced_equals_standalone)
{
    sn_space space;
    make_space(&space, 3);
    const int64_t batch = 6;
    sn_network *big = make_supernet(&space, batch, 0.1);
    randomize_norms(big);
    batch_data b;
    make_batch(&b, batch, 10);
    float big_logits[6 * CLASSES], small_logits[6 * CLASSES];
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 99, SN_RNG_TEST, 0, 0);
    for (int trial = 0; trial < 14; trial++) {
        sn_arch arch;
        trial_architecture(&space, trial, &stream, &arch);
        char text[SN_ARCH_TEXT_MAX];
        arch_text(&space, &arch, text, sizeof text);
        sn_space single;
        ck_assert_int_eq(sn_space_restrict(&space, &arch, &single), SN_OK);
        sn_network *small = make_supernet(&single, batch, 0.1);
        copy_slices(big, small);
        ck_assert_int_eq(sn_network_set_architecture(big, &arch), SN_OK);
        train_step(big, &b, big_logits);
        train_step(small, &b, small_logits);
        double d = relative_difference(big_logits, small_logits, batch * CLASSES);
        ck_assert_msg(d <= 1e-5, "%s: training logits differ by %g", text, d);
        const char *where = "";
        double g = worst_gradient_difference(big, small, &where);
        ck_assert_msg(g <= 1e-5, "%s: gradient %s differs by %g", text, where, g);
        int64_t bad = nonzero_outside(big, small);
        ck_assert_msg(bad == 0, "%s: %lld gradient entries outside the slices are not zero",
                      text, (long long)bad);
        sn_network_free(small);
    }
    free_batch(&b);
    sn_network_free(big);
}
END_TEST

/* The same through the network's own MAC accounting: the sliced subnet
 * reports what sn_space_cost says (whatever that is). */
START_TEST(test_macs_follow_architecture)
{
    sn_space space;
    make_space(&space, 2);
    sn_network *network = make_supernet(&space, 2, 0.1);
    sn_arch arch;
    sn_arch_smallest(&space, &arch);
    ck_assert_int_eq(sn_network_set_architecture(network, &arch), SN_OK);
    ck_assert_int_eq(sn_network_macs(network), sn_space_cost(&space, &arch).macs);
    arch.choice[0] = 99;
    ck_assert_int_eq(sn_network_set_architecture(network, &arch), SN_ERR_ARGUMENT);
    sn_network_free(network);
}
END_TEST

static void one_hot(const sn_space *space, const sn_arch *arch, float *p)
{
    double q[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    sn_arch_one_hot(space, arch, q);
    for (int i = 0; i < space->choice_total; i++)
        p[i] = (float)q[i];
}

/* 3: masked mode at a one-hot p runs the sliced subnet: logits and weight
 * gradients (the whole slab: zero outside the slices in both). */
START_TEST(test_masked_one_hot_equals_sliced)
{
    sn_space space;
    make_space(&space, 3);
    const int64_t batch = 6;
    sn_network *network = make_supernet(&space, batch, 0.1);
    randomize_norms(network);
    batch_data b;
    make_batch(&b, batch, 20);
    size_t total = sn_network_parameter_table(network)->total;
    float *sliced_grads = malloc(total * sizeof(float));
    float sliced_logits[6 * CLASSES], masked_logits[6 * CLASSES];
    float p[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 98, SN_RNG_TEST, 0, 0);
    for (int trial = 0; trial < 10; trial++) {
        sn_arch arch;
        trial_architecture(&space, trial, &stream, &arch);
        ck_assert_int_eq(sn_network_set_architecture(network, &arch), SN_OK);
        train_step(network, &b, sliced_logits);
        memcpy(sliced_grads, sn_network_gradients(network), total * sizeof(float));
        one_hot(&space, &arch, p);
        ck_assert_int_eq(sn_network_set_soft_architecture(network, p), SN_OK);
        train_step(network, &b, masked_logits);
        double d = relative_difference(masked_logits, sliced_logits, batch * CLASSES);
        ck_assert_msg(d <= 1e-5, "trial %d: logits differ by %g", trial, d);
        const sn_parameter_table *t = sn_network_parameter_table(network);
        for (int e = 0; e < t->count; e++) {
            const sn_parameter_entry *entry = &t->entries[e];
            double g = relative_difference(sn_network_gradients(network) + entry->offset,
                                           sliced_grads + entry->offset, (int64_t)entry->count);
            ck_assert_msg(g <= 1e-5, "trial %d: gradient %s differs by %g", trial, entry->name,
                          g);
        }
    }
    free(sliced_grads);
    free_batch(&b);
    sn_network_free(network);
}
END_TEST

/* Finite-difference agreement of a set of analytic gradient elements.
 *
 * The network is a deep ReLU + batch-norm net in float32: its loss is
 * piecewise smooth, and a step that moves some of its ~10^5 ReLU inputs
 * across zero spoils a central difference by 1e-3..1e-2 absolute whatever
 * the step (measured: the stem's differences wander by 10-50% between
 * h = 1e-2 and 1e-5, where float rounding takes over, while with every
 * ReLU pushed into its linear part they agree with the analytic values to
 * about 1%). So elements are not judged one by one: the checked elements of
 * a test form one vector, and the test bounds the relative L2 error
 * ||analytic - numeric|| / ||numeric|| over it, and per entry, with each
 * element's |numeric| floored at 3e-4 (the rounding noise of a difference
 * at h = 1e-3: a parameter whose true gradient is 0, such as a shift that a
 * later batch norm removes, has only noise for a difference). A missing
 * term, a wrong slice or a wrong sign makes that error O(1). */
typedef struct {
    double error2, reference2; /* sums of (a - num)^2 and num^2 */
} fd_agreement;

static double fd_relative_error(const fd_agreement *g)
{
    return sqrt(g->error2 / fmax(g->reference2, 1e-30));
}

/* Central differences (step h) of loss() in x[j] for max_checked evenly
 * spread j (or all n), added to *total; returns this entry's relative error. */
static double fd_check(float *x, const float *analytic, int64_t n, int64_t max_checked, double h,
                       gradcheck_loss_fn loss, void *context, fd_agreement *total)
{
    fd_agreement local = {0.0, 0.0};
    int64_t checks = n <= max_checked ? n : max_checked;
    for (int64_t c = 0; c < checks; c++) {
        int64_t j = checks == n ? c : (c * n) / checks + (n / checks) / 2;
        float saved = x[j];
        x[j] = (float)(saved + h);
        double plus = loss(context);
        x[j] = (float)(saved - h);
        double minus = loss(context);
        x[j] = saved;
        double step = (double)(float)(saved + h) - (double)(float)(saved - h);
        double numeric = (plus - minus) / step, a = analytic[j];
        local.error2 += (a - numeric) * (a - numeric);
        local.reference2 += fmax(numeric * numeric, 9e-8);
    }
    total->error2 += local.error2;
    total->reference2 += local.reference2;
    return fd_relative_error(&local);
}

typedef struct {
    sn_network *network;
    batch_data *batch;
    float *p;
} soft_case;

/* Training loss (cross-entropy, no smoothing) of the masked network at p. */
static double soft_loss(void *context)
{
    soft_case *c = context;
    ck_assert_int_eq(sn_network_set_soft_architecture(c->network, c->p), SN_OK);
    const float *logits = sn_network_forward(c->network, c->batch->images, c->batch->batch,
                                             &training);
    return sn_softmax_cross_entropy_forward(c->batch->probs, logits, c->batch->labels,
                                            c->batch->batch, CLASSES, 0.0f, NULL);
}

/* p: softmax of N(0, 1) logits per dimension. */
static void soft_probabilities(const sn_space *space, float *p, uint32_t item)
{
    gradcheck_fill_normal(p, space->choice_total, 1.0f, item);
    for (int d = 0; d < space->dimension_count; d++) {
        float *q = p + space->choice_offset[d];
        int n = space->dimensions[d].choice_count;
        double sum = 0.0;
        for (int j = 0; j < n; j++)
            sum += exp(q[j]);
        for (int j = 0; j < n; j++)
            q[j] = (float)(exp(q[j]) / sum);
    }
}

static void soft_backward(soft_case *c)
{
    sn_network_zero_gradients(c->network);
    soft_loss(c);
    float dlogits[64 * CLASSES];
    sn_softmax_cross_entropy_backward(dlogits, c->batch->probs, c->batch->labels, c->batch->batch,
                                      CLASSES, 0.0f, 1.0f);
    sn_network_backward(c->network, dlogits, c->batch->batch);
}

/* 4: d loss / d p against central differences at a soft p, and the masked
 * weight gradients too. The masks are linear in p, so each p entry is moved
 * alone (off the simplex). h = 1e-3; relative L2 error (see fd_agreement)
 * <= 0.05 for d loss / d p (measured 0.006; dropping the shift's term of the
 * width-mask gradient gives 0.28, halving the kernel's gives 0.12), and for
 * the weights <= 0.1 overall and 0.3 per entry (measured 0.014). */
START_TEST(test_masked_gradients_finite_differences)
{
    sn_space space;
    make_space(&space, 2);
    const int64_t batch = 16;
    sn_network *network = make_supernet(&space, batch, 0.1);
    randomize_norms(network);
    batch_data b;
    make_batch(&b, batch, 30);
    float p[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    soft_probabilities(&space, p, 31);
    soft_case c = {network, &b, p};
    soft_backward(&c);
    int n = space.choice_total;
    float *analytic = malloc((size_t)n * sizeof(float));
    memcpy(analytic, sn_network_architecture_gradient(network), (size_t)n * sizeof(float));
    fd_agreement dp = {0.0, 0.0};
    fd_check(p, analytic, n, n, 1e-3, soft_loss, &c, &dp);
    ck_assert_msg(dp.reference2 > 1e-6, "d loss / d p is (nearly) zero");
    ck_assert_msg(fd_relative_error(&dp) <= 0.05, "d loss / d p: relative error %g",
                  fd_relative_error(&dp));
    /* Overwritten, not accumulated, by the next backward. */
    soft_backward(&c);
    ck_assert(relative_difference(sn_network_architecture_gradient(network), analytic, n) <= 1e-6);
    free(analytic);

    /* Weight gradients through the masks, a few elements per entry. */
    const sn_parameter_table *t = sn_network_parameter_table(network);
    float *params = sn_network_parameters(network);
    size_t total = t->total;
    float *grads = malloc(total * sizeof(float));
    memcpy(grads, sn_network_gradients(network), total * sizeof(float));
    fd_agreement weights = {0.0, 0.0};
    for (int e = 0; e < t->count; e++) {
        const sn_parameter_entry *entry = &t->entries[e];
        double err = fd_check(params + entry->offset, grads + entry->offset,
                              (int64_t)entry->count, 4, 1e-3, soft_loss, &c, &weights);
        ck_assert_msg(err <= 0.3, "%s: relative error %g", entry->name, err);
    }
    ck_assert_msg(fd_relative_error(&weights) <= 0.1, "weights: relative error %g",
                  fd_relative_error(&weights));
    free(grads);
    free_batch(&b);
    sn_network_free(network);
}
END_TEST

typedef struct {
    sn_network *network;
    batch_data *batch;
} sliced_case;

static double sliced_loss(void *context)
{
    sliced_case *c = context;
    const float *logits = sn_network_forward(c->network, c->batch->images, c->batch->batch,
                                             &training);
    return sn_softmax_cross_entropy_forward(c->batch->probs, logits, c->batch->labels,
                                            c->batch->batch, CLASSES, 0.1f, NULL);
}

/* 5: the sliced subnet's weight gradients against central differences, a
 * few elements of every entry (elements outside the slice have gradient 0
 * both ways). h = 1e-3; relative L2 error <= 0.1 over all checked elements
 * (measured 0.025) and <= 0.3 per entry (see fd_agreement). */
START_TEST(test_sliced_gradcheck)
{
    sn_space space;
    make_space(&space, 2);
    const int64_t batch = 16;
    sn_network *network = make_supernet(&space, batch, 0.1);
    randomize_norms(network);
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 97, SN_RNG_TEST, 0, 0);
    sn_arch arch;
    sn_arch_sample_uniform(&space, &stream, &arch);
    ck_assert_int_eq(sn_network_set_architecture(network, &arch), SN_OK);
    batch_data b;
    make_batch(&b, batch, 40);
    sliced_case c = {network, &b};
    sn_network_zero_gradients(network);
    sliced_loss(&c);
    float dlogits[64 * CLASSES];
    sn_softmax_cross_entropy_backward(dlogits, b.probs, b.labels, batch, CLASSES, 0.1f, 1.0f);
    sn_network_backward(network, dlogits, batch);
    const sn_parameter_table *t = sn_network_parameter_table(network);
    size_t total = t->total;
    float *grads = malloc(total * sizeof(float));
    memcpy(grads, sn_network_gradients(network), total * sizeof(float));
    float *params = sn_network_parameters(network);
    fd_agreement all = {0.0, 0.0};
    for (int e = 0; e < t->count; e++) {
        const sn_parameter_entry *entry = &t->entries[e];
        double err = fd_check(params + entry->offset, grads + entry->offset,
                              (int64_t)entry->count, 6, 1e-3, sliced_loss, &c, &all);
        ck_assert_msg(err <= 0.3, "%s: relative error %g", entry->name, err);
    }
    ck_assert_msg(fd_relative_error(&all) <= 0.1, "relative error %g", fd_relative_error(&all));
    free(grads);
    free_batch(&b);
    sn_network_free(network);
}
END_TEST

/* Running statistics of norm i of a block, and its channels at the largest. */
static void block_statistics(sn_network *network, int s, int b, int i, float **mean, float **var)
{
    sc_model *m = network->model;
    *mean = m->stages[s].blocks[b].running_mean[i];
    *var = m->stages[s].blocks[b].running_var[i];
}

/* Floats of the model's running-statistics array. */
static size_t statistics_count(const sc_model *m)
{
    int64_t n = 2 * m->stem.out_channels;
    for (int s = 0; s < m->stage_count; s++)
        for (int b = 0; b < m->stages[s].block_count; b++)
            n += 2 * (2 * m->stages[s].blocks[b].mid_max + m->stages[s].width_max);
    return (size_t)n;
}

/* 6: recalibration of a subnet averages the per-batch statistics with equal
 * weights (each batch's statistics come from the subnet built on its own
 * with momentum 1) and leaves every other running statistic untouched. */
START_TEST(test_batchnorm_recalibration)
{
    sn_space space;
    make_space(&space, 3);
    const int64_t batch = 6;
    sn_network *big = make_supernet(&space, batch, 0.1);
    randomize_norms(big);
    sc_model *m = big->model;
    /* Distinctive running statistics everywhere before the recalibration. */
    size_t stats = statistics_count(m);
    gradcheck_fill_normal(m->running_statistics, (int64_t)stats, 1.0f, 50);
    for (size_t i = 0; i < stats; i++)
        m->running_statistics[i] = fabsf(m->running_statistics[i]) + 0.5f;
    float *before = malloc(stats * sizeof(float));
    memcpy(before, m->running_statistics, stats * sizeof(float));

    sn_arch arch;
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 96, SN_RNG_TEST, 0, 0);
    sn_arch_sample_uniform(&space, &stream, &arch);
    ck_assert_int_eq(sn_network_set_architecture(big, &arch), SN_OK);
    sn_space single;
    ck_assert_int_eq(sn_space_restrict(&space, &arch, &single), SN_OK);
    sn_network *small = make_supernet(&single, batch, 1.0);
    copy_slices(big, small);
    sc_model *sm = small->model;
    size_t small_stats = statistics_count(sm);
    double *average = calloc(small_stats, sizeof(double));

    ck_assert_int_eq(sn_network_begin_batchnorm_recalibration(big), SN_OK);
    const int batches = 3;
    for (int i = 0; i < batches; i++) {
        batch_data b;
        make_batch(&b, batch, 60 + 2 * (uint32_t)i);
        sn_network_forward(big, b.images, batch, &training);
        sn_network_forward(small, b.images, batch, &training); /* momentum 1: this batch's */
        for (size_t j = 0; j < small_stats; j++)
            average[j] += sm->running_statistics[j] / batches;
        free_batch(&b);
    }
    sn_network_end_batchnorm_recalibration(big);

    /* Compare norm by norm: the small network's arrays are its slices. */
    float *avg = malloc(small_stats * sizeof(float));
    for (size_t j = 0; j < small_stats; j++)
        avg[j] = (float)average[j];
    ck_assert(relative_difference(m->stem_running_mean, avg, sm->stem.out_channels) <= 1e-5);
    ck_assert(relative_difference(m->stem_running_var, avg + sm->stem.out_channels,
                                  sm->stem.out_channels) <= 1e-5);
    unsigned char *inside = calloc(stats, 1);
    for (int64_t c = 0; c < 2 * m->stem.out_channels; c++)
        inside[c] = 1;
    for (int s = 0; s < m->stage_count; s++) {
        for (int b = 0; b < sm->stages[s].block_count; b++) {
            for (int i = 0; i < SC_NORMS; i++) {
                float *mean, *var, *smean, *svar;
                block_statistics(big, s, b, i, &mean, &var);
                block_statistics(small, s, b, i, &smean, &svar);
                int64_t channels = svar - smean;
                float *amean = avg + (smean - sm->running_statistics);
                float *avar = avg + (svar - sm->running_statistics);
                ck_assert_msg(relative_difference(mean, amean, channels) <= 1e-5,
                              "stage %d block %d norm %d mean", s, b, i);
                ck_assert_msg(relative_difference(var, avar, channels) <= 1e-5,
                              "stage %d block %d norm %d var", s, b, i);
                for (int64_t c = 0; c < channels; c++) {
                    inside[(mean - m->running_statistics) + c] = 1;
                    inside[(var - m->running_statistics) + c] = 1;
                }
            }
        }
    }
    int64_t changed = 0;
    for (size_t j = 0; j < stats; j++)
        if (!inside[j] && m->running_statistics[j] != before[j])
            changed++;
    ck_assert_msg(changed == 0, "%lld running statistics outside the subnet changed",
                  (long long)changed);
    free(inside);
    free(avg);
    free(average);
    free(before);
    sn_network_free(small);
    sn_network_free(big);
}
END_TEST

/* sn_recalibrate_batchnorm takes `batches` batches in order from the index
 * list, wrapping round, normalised and unaugmented: the same statistics as
 * recalibrating by hand over those batches (indices 0-3, 4-7, then the 2
 * left, 8-9), bit for bit; and it refuses an empty request by name. */
START_TEST(test_recalibration_routine_takes_batches_in_order)
{
    sn_space space;
    make_space(&space, 2);
    const int64_t batch = 4, count = 10;
    sn_image_set set = {count, 1, image, image, CLASSES, NULL, NULL};
    set.pixels = malloc((size_t)(count * image * image));
    set.labels = malloc((size_t)count * sizeof(int32_t));
    for (int64_t i = 0; i < count * image * image; i++)
        set.pixels[i] = (uint8_t)((i * 2654435761u) >> 24);
    uint32_t indices[10];
    for (int i = 0; i < 10; i++) {
        set.labels[i] = i % CLASSES;
        indices[i] = (uint32_t)(9 - i); /* any order: it is the caller's */
    }
    sn_normalization norm = {1, {0.4f}, {0.3f}};
    float *images = sn_alloc_floats((size_t)(batch * image * image));
    int32_t labels[4];
    sn_arch arch;
    sn_arch_largest(&space, &arch);
    arch.choice[space.width_dimension[0]] = 1;

    sn_network *a = make_supernet(&space, batch, 0.1), *b = make_supernet(&space, batch, 0.1);
    ck_assert_int_eq(sn_network_set_architecture(a, &arch), SN_OK);
    ck_assert_int_eq(sn_network_set_architecture(b, &arch), SN_OK);
    sn_input_pipeline pipeline;
    test_pipeline(&pipeline, &norm, NULL);
    sn_image_source *source = NULL;
    ck_assert_int_eq(sn_image_source_from_set(&source, &set, &pipeline), SN_OK);
    ck_assert_int_eq(sn_recalibrate_batchnorm(a, source, indices, count, 3, batch, images, labels),
                     SN_OK);
    ck_assert_int_eq(sn_network_begin_batchnorm_recalibration(b), SN_OK);
    const int64_t starts[3] = {0, 4, 8}, sizes[3] = {4, 4, 2};
    const sn_forward_mode mode = {1, 0, 0, 0};
    for (int i = 0; i < 3; i++) {
        test_batch_fill(images, labels, &set, indices + starts[i], sizes[i], &norm, NULL, 0, 0,
                      sn_network_input_layout(b));
        sn_network_forward(b, images, sizes[i], &mode);
    }
    sn_network_end_batchnorm_recalibration(b);
    sc_model *ma = a->model, *mb = b->model;
    size_t stats = statistics_count(ma);
    ck_assert_mem_eq(ma->running_statistics, mb->running_statistics, stats * sizeof(float));
    /* and they moved: the routine did recalibrate */
    sn_network *c = make_supernet(&space, batch, 0.1);
    ck_assert(memcmp(ma->running_statistics, ((sc_model *)c->model)->running_statistics,
                     stats * sizeof(float)) != 0);

    ck_assert_int_eq(sn_recalibrate_batchnorm(a, source, indices, count, 0, batch, images, labels),
                     SN_ERR_ARGUMENT);
    sn_image_source_free(source);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "recalibration"));
    sn_network_free(a);
    sn_network_free(b);
    sn_network_free(c);
    sn_free(images);
    free(set.pixels);
    free(set.labels);
}
END_TEST

static Suite *supernet_cnn_suite(void)
{
    Suite *s = suite_create("supernet_cnn");
    TCase *tc = tcase_create("supernet_cnn");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sliced_equals_standalone);
    tcase_add_test(tc, test_macs_follow_architecture);
    tcase_add_test(tc, test_masked_one_hot_equals_sliced);
    tcase_add_test(tc, test_masked_gradients_finite_differences);
    tcase_add_test(tc, test_sliced_gradcheck);
    tcase_add_test(tc, test_batchnorm_recalibration);
    tcase_add_test(tc, test_recalibration_routine_takes_batches_in_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(supernet_cnn_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
