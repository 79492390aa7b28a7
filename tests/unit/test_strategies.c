/*
 * The supernet training step shared by every sampling strategy
 * (src/train/sn_supernet_training.c): each strategy plans the subnets its
 * sampler names, and the step's gradient is exactly the gradient of those
 * subnets' losses computed directly (so strategies differ only in what they
 * sample); steps are deterministic; shift's generator receives the task
 * gradient on masked steps; the probability update runs on held-out images;
 * the frozen-beta arm runs the same updates without moving p; the bucket
 * logged is the one the trained subnet's MACs fall in (the drawn one beside
 * it); the shift's and the search's held-out images never overlap.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shiftnas/error.h"
#include "shiftnas/network.h"
#include "shiftnas/nn.h"
#include "shiftnas/rng.h"
#include "shiftnas/runfiles.h"
#include "supernet_training.h"
#include "shift_target_input.h"
#include "image_batches.h"

enum { CLASSES = 5, IMAGE = 12, BATCH = 8, HELD_OUT = 16 };

static void make_space(sn_space *space)
{
    sn_space_description d;
    memset(&d, 0, sizeof d);
    d.type = SN_SPACE_CNN;
    d.image_channels = 1;
    d.image_size = IMAGE;
    d.classes = CLASSES;
    d.stem_channels = 4;
    d.stem_stride = 1;
    d.stem_kernel = 3;
    d.stage_count = 2;
    d.stage_channels[0] = 8;
    d.stage_channels[1] = 12;
    d.stage_strides[0] = 1;
    d.stage_strides[1] = 2;
    d.width_ratio_count = 2;
    d.width_ratios[0] = 0.5;
    d.width_ratios[1] = 1.0;
    d.depth_count = 2;
    d.depths[0] = 1;
    d.depths[1] = 2;
    d.kernel_count = 2;
    d.kernels[0] = 3;
    d.kernels[1] = 5;
    d.expand_count = 2;
    d.expand_ratios[0] = 2.0;
    d.expand_ratios[1] = 3.0;
    ck_assert_int_eq(sn_space_build(space, &d), SN_OK);
}

/* One strategy's training state on a fresh supernet. */
typedef struct {
    sn_config config;
    sn_space space;
    sn_network *network;
    sn_supernet_training training;
    sn_dist *dist;
    sn_data_parallel dp;
    float images[BATCH * IMAGE * IMAGE];
    int32_t labels[BATCH];
} fixture;

/* One shard: the step's gradient is then the batch's, bit for bit
 * (test_data_parallel checks the shards). `validation` may be NULL. */
static void fixture_open_with(fixture *f, const char *strategy, const char *const *sets,
                              int set_count, const sn_supernet_validation *validation)
{
    memset(f, 0, sizeof *f);
    sn_config_defaults(&f->config);
    snprintf(f->config.search_strategy, sizeof f->config.search_strategy, "%s", strategy);
    f->config.search_buckets = 4;
    f->config.generator_extra_targets = 2;
    for (int i = 0; i < set_count; i++)
        ck_assert_int_eq(sn_config_set(&f->config, sets[i]), SN_OK);
    make_space(&f->space);
    sn_layer_settings layers;
    sn_layer_settings_from_config(&layers, &f->config);
    ck_assert_int_eq(sn_network_create_supernet(&f->network, &f->space, &layers, HELD_OUT), SN_OK);
    sn_network_initialize(f->network, 3);
    f->config.distributed_shards = 1;
    ck_assert_int_eq(sn_dist_local(&f->dist), SN_OK);
    int64_t extra = strcmp(strategy, "shift") == 0 ? f->space.choice_total : 0;
    ck_assert_int_eq(sn_data_parallel_init(&f->dp, f->dist, &f->config, f->network, BATCH, extra),
                     SN_OK);
    int status = sn_supernet_training_init(&f->training, &f->config, f->network, &f->dp, 100, 0,
                                           BATCH, validation, NULL);
    ck_assert_msg(status == SN_OK, "init %s: %s", strategy, sn_error_message());
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 77, SN_RNG_TEST, 0, 0);
    for (int i = 0; i < BATCH * IMAGE * IMAGE; i++)
        f->images[i] = sn_rng_normal(&stream);
    for (int b = 0; b < BATCH; b++)
        f->labels[b] = (int32_t)(sn_rng_below(&stream, CLASSES));
}

static void fixture_open(fixture *f, const char *strategy, const char *const *sets, int set_count)
{
    fixture_open_with(f, strategy, sets, set_count, NULL);
}

static void fixture_close(fixture *f)
{
    sn_supernet_training_free(&f->training);
    sn_data_parallel_free(&f->dp);
    sn_dist_free(f->dist);
    sn_network_free(f->network);
}

static double run_step(fixture *f, int64_t step)
{
    sn_network_zero_gradients(f->network);
    double loss = NAN;
    int status = sn_supernet_training_step(&f->training, &f->dp, f->images, f->labels, step, &loss);
    ck_assert_msg(status == SN_OK, "step: %s", sn_error_message());
    ck_assert(isfinite(loss));
    return loss;
}

/* The gradient the planned subnets give when run one by one outside the
 * strategy code: cross-entropy for the labelled ones, soft cross-entropy
 * against the first subnet's softmax for distilled ones. */
static float *direct_gradient(fixture *f, int distill_from_first, double *mean_loss)
{
    sn_supernet_training *t = &f->training;
    const sn_parameter_table *table = sn_network_parameter_table(f->network);
    float probs[BATCH * CLASSES], dlogits[BATCH * CLASSES], teacher[BATCH * CLASSES];
    sn_network_zero_gradients(f->network);
    double sum = 0;
    for (int i = 0; i < t->subnet_count; i++) {
        ck_assert_int_eq(sn_network_set_architecture(f->network, &t->subnets[i]), SN_OK);
        sn_forward_mode mode = {1, (uint64_t)f->config.seed, 0, 0};
        const float *logits = sn_network_forward(f->network, f->images, BATCH, &mode);
        if (distill_from_first && i > 0) {
            sum += sn_soft_cross_entropy_forward(probs, logits, teacher, BATCH, CLASSES);
            sn_soft_cross_entropy_backward(dlogits, probs, teacher, BATCH, CLASSES, 1.0f);
        } else {
            float smoothing = (float)f->config.label_smoothing;
            sum += sn_softmax_cross_entropy_forward(probs, logits, f->labels, BATCH, CLASSES,
                                                    smoothing, NULL);
            memcpy(teacher, probs, sizeof probs);
            sn_softmax_cross_entropy_backward(dlogits, probs, f->labels, BATCH, CLASSES, smoothing,
                                              1.0f);
        }
        sn_network_backward(f->network, dlogits, BATCH);
    }
    *mean_loss = sum / t->subnet_count;
    float *copy = malloc(sizeof(float) * table->total);
    memcpy(copy, sn_network_gradients(f->network), sizeof(float) * table->total);
    return copy;
}

static float *gradient_copy(fixture *f)
{
    size_t n = sn_network_parameter_table(f->network)->total;
    float *copy = malloc(sizeof(float) * n);
    memcpy(copy, sn_network_gradients(f->network), sizeof(float) * n);
    return copy;
}

/* Largest |a - b| relative to max |b| (0 when both are zero). */
static double relative_difference(const float *a, const float *b, size_t n)
{
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return scale > 0 ? worst / scale : worst;
}

static const char *const sliced_strategies[] = {"uniform", "flops-uniform", "sandwich",
                                                "attentive"};

START_TEST(step_gradient_is_the_planned_subnets_gradient)
{
    /* Sliced strategies: the step's gradient is bit-for-bit the gradient of
     * the planned subnets run directly (the same kernels in the same order). */
    const char *name = sliced_strategies[_i];
    fixture f;
    fixture_open(&f, name, NULL, 0);
    for (int64_t step = 0; step < 3; step++) {
        double loss = run_step(&f, step);
        float *from_step = gradient_copy(&f);
        double direct_loss;
        float *direct = direct_gradient(&f, strcmp(name, "sandwich") == 0, &direct_loss);
        size_t n = sn_network_parameter_table(f.network)->total;
        /* Equal values entry by entry (==): bit for bit, except that the
         * exact reduction returns a zero sum as +0 where the direct
         * gradient may hold -0. */
        size_t unequal = 0;
        for (size_t i = 0; i < n; i++)
            unequal += from_step[i] != direct[i];
        ck_assert_msg(unequal == 0, "%s step %lld: %zu gradient entries differ, by up to %g",
                      name, (long long)step, unequal, relative_difference(from_step, direct, n));
        ck_assert_double_eq(loss, direct_loss);
        free(from_step);
        free(direct);
    }
    fixture_close(&f);
}
END_TEST

START_TEST(plans_follow_the_keyed_samplers)
{
    for (int s = 0; s < 4; s++) {
        fixture f;
        fixture_open(&f, sliced_strategies[s], NULL, 0);
        sn_supernet_training *t = &f.training;
        for (int64_t step = 0; step < 4; step++) {
            run_step(&f, step);
            sn_arch expected[SN_SAMPLER_SANDWICH_MAX];
            int count = 1;
            sn_sample_info info;
            switch (s) {
            case 0:
                sn_sample_uniform(&t->sampler, (uint64_t)step, 0, &expected[0]);
                break;
            case 1:
                ck_assert_int_eq(sn_sample_flops_uniform(&t->sampler, (uint64_t)step, 0,
                                                         &expected[0], &info), SN_OK);
                ck_assert_int_eq(t->drawn_bucket[0], info.bucket);
                break;
            case 2:
                ck_assert_int_eq(sn_sample_sandwich(&t->sampler, (uint64_t)step, expected,
                                                    SN_SAMPLER_SANDWICH_MAX, &count), SN_OK);
                ck_assert_int_eq(count, 2 + (int)f.config.search_sandwich_random);
                break;
            case 3: {
                /* attentive: the trained subnet is the candidate of lowest
                 * mini-batch loss */
                int best = 0;
                for (int j = 1; j < t->sampler.candidates; j++)
                    if (t->candidate_loss[j] < t->candidate_loss[best])
                        best = j;
                expected[0] = t->candidates[best];
                ck_assert_int_eq(t->sampler.candidates, (int)f.config.search_attentive_candidates);
                break;
            }
            }
            ck_assert_int_eq(t->subnet_count, count);
            for (int i = 0; i < count; i++) {
                sn_arch_canonicalize(&f.space, &expected[i]);
                ck_assert_msg(sn_arch_equal(&f.space, &t->subnets[i], &expected[i]),
                              "%s step %lld subnet %d is not the sampler's",
                              sliced_strategies[s], (long long)step, i);
                ck_assert_int_eq(t->subnet_macs[i], sn_space_cost(&f.space, &expected[i]).macs);
                /* the bucket is the one the MACs fall in, whatever was drawn */
                ck_assert_int_eq(t->bucket[i], sn_buckets_index(&t->sampler.buckets,
                                                                t->subnet_macs[i]));
                if (s != 1 && s != 3)
                    ck_assert_int_eq(t->drawn_bucket[i], -1);
            }
        }
        fixture_close(&f);
    }
}
END_TEST

START_TEST(attentive_worst_trains_the_highest_loss)
{
    const char *sets[] = {"search.attentive_mode=worst", "search.attentive_candidates=4"};
    fixture f;
    fixture_open(&f, "attentive", sets, 2);
    for (int64_t step = 0; step < 3; step++) {
        run_step(&f, step);
        sn_supernet_training *t = &f.training;
        ck_assert_int_eq(t->sampler.candidates, 4);
        int worst = 0;
        for (int j = 1; j < 4; j++)
            if (t->candidate_loss[j] > t->candidate_loss[worst])
                worst = j;
        sn_arch expected = t->candidates[worst];
        sn_arch_canonicalize(&f.space, &expected);
        ck_assert(sn_arch_equal(&f.space, &t->subnets[0], &expected));
    }
    fixture_close(&f);
}
END_TEST

START_TEST(steps_are_deterministic)
{
    static const char *const all[] = {"uniform", "flops-uniform", "sandwich", "attentive",
                                      "shift"};
    for (int s = 0; s < 5; s++) {
        fixture a, b;
        fixture_open(&a, all[s], NULL, 0);
        fixture_open(&b, all[s], NULL, 0);
        for (int64_t step = 5; step < 8; step++) {
            double la = run_step(&a, step), lb = run_step(&b, step);
            ck_assert_msg(la == lb, "%s: losses differ", all[s]);
            size_t n = sn_network_parameter_table(a.network)->total;
            ck_assert_msg(memcmp(sn_network_gradients(a.network), sn_network_gradients(b.network),
                                 sizeof(float) * n) == 0,
                          "%s: gradients differ", all[s]);
        }
        fixture_close(&a);
        fixture_close(&b);
    }
}
END_TEST

/* shift: the subnet is the generator's one-hot, run through the masked
 * supernet; its gradient equals the sliced subnet's (to rounding) and the
 * task loss reaches the generator; a sliced step (generator_task_interval)
 * gives the generator no task gradient. */
START_TEST(shift_runs_the_generator_subnet_masked)
{
    const char *sets[] = {"search.generator_lambda=0", "search.generator_extra_targets=0",
                          "search.generator_task_interval=2"};
    fixture f;
    fixture_open(&f, "shift", sets, 3);
    sn_supernet_training *t = &f.training;
    for (int64_t step = 0; step < 4; step++) {
        double loss = run_step(&f, step);
        ck_assert_int_eq(t->masked, step % 2 == 0);
        /* the plan is the generator's answer to a target in the drawn bucket */
        int drawn = sn_shift_draw_bucket(&t->shift, (uint64_t)step, 0);
        ck_assert_int_eq(t->drawn_bucket[0], drawn);
        ck_assert(t->target[0] >= (double)t->sampler.buckets.edge[drawn]);
        ck_assert(t->target[0] <= (double)t->sampler.buckets.edge[drawn + 1]);
        double generator_norm = 0;
        for (int e = 0; e < t->generator.table.count; e++) {
            const sn_parameter_entry *entry = &t->generator.table.entries[e];
            for (size_t i = 0; i < entry->count; i++)
                generator_norm += fabs(t->generator.grads[entry->offset + i]);
        }
        float *from_step = gradient_copy(&f);
        double direct_loss;
        float *direct = direct_gradient(&f, 0, &direct_loss);
        size_t n = sn_network_parameter_table(f.network)->total;
        double difference = relative_difference(from_step, direct, n);
        if (t->masked) {
            /* masked and sliced agree to float rounding (test_supernet_cnn
             * bounds the same at 1e-4) */
            ck_assert_msg(difference < 1e-4, "step %lld: masked vs sliced %g", (long long)step,
                          difference);
            ck_assert_msg(fabs(loss - direct_loss) < 1e-5, "loss %g vs %g", loss, direct_loss);
            ck_assert_msg(generator_norm > 0, "no task gradient reached the generator");
        } else {
            ck_assert(difference == 0);
            ck_assert_msg(generator_norm == 0, "a sliced step with lambda 0 moved the generator");
        }
        free(from_step);
        free(direct);
    }
    fixture_close(&f);
}
END_TEST

/* Held-out images for the probability update: HELD_OUT synthetic images
 * behind an image source (which points at pipeline: the struct must not
 * move while it is open). */
typedef struct {
    sn_image_set set;
    sn_input_pipeline pipeline;
    sn_image_source *source;
    uint32_t indices[HELD_OUT];
    float images[BATCH * IMAGE * IMAGE];
    int32_t labels[BATCH];
    sn_supernet_validation validation;
} held_out;

static void held_out_open(held_out *h)
{
    memset(h, 0, sizeof *h);
    h->set = (sn_image_set){HELD_OUT, 1, IMAGE, IMAGE, CLASSES, NULL, NULL};
    h->set.pixels = malloc(HELD_OUT * IMAGE * IMAGE);
    h->set.labels = malloc(sizeof(int32_t) * HELD_OUT);
    for (int i = 0; i < HELD_OUT; i++) {
        h->indices[i] = (uint32_t)i;
        h->set.labels[i] = i % CLASSES;
        for (int p = 0; p < IMAGE * IMAGE; p++)
            h->set.pixels[i * IMAGE * IMAGE + p] = (uint8_t)((i * 37 + p * 11) % 256);
    }
    static const sn_normalization normalization = {1, {0.5f}, {0.25f}};
    test_pipeline(&h->pipeline, &normalization, NULL);
    ck_assert_int_eq(sn_image_source_from_set(&h->source, &h->set, &h->pipeline), SN_OK);
    h->validation = (sn_supernet_validation){h->source, h->indices, HELD_OUT, BATCH, h->images,
                                             h->labels};
}

static void held_out_close(held_out *h)
{
    sn_image_source_free(h->source);
    free(h->set.pixels);
    free(h->set.labels);
}

/* Teaches the generator the space's MACs (L_RC alone), so that the
 * buckets' generated subnets differ and their losses change differently. */
static void teach_generator(fixture *f)
{
    sn_supernet_training *t = &f->training;
    sn_optimizer adam;
    sn_optimizer_settings settings = {SN_OPTIMIZER_ADAMW, 0, 0, 0.9f, 0.999f, 1e-8f, 0};
    ck_assert_int_eq(sn_optimizer_init(&adam, &settings, &t->generator.table), SN_OK);
    float p_scratch[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    for (int i = 0; i < 300; i++) {
        sn_generator_zero_gradients(&t->generator);
        for (int j = 0; j < 4; j++) {
            double target = t->generator.macs_min +
                            (t->generator.macs_max - t->generator.macs_min) * (j + 0.5) / 4;
            sn_generator_key key = {9, (uint64_t)i, (uint32_t)j};
            ck_assert_int_eq(sn_generator_forward(&t->generator, &f->space, target, 1.0f, &key, 1,
                                                  p_scratch, NULL), SN_OK);
            ck_assert_int_eq(sn_generator_backward(&t->generator, NULL, 1.0), SN_OK);
        }
        sn_optimizer_step(&adam, &t->generator.table, t->generator.params, t->generator.grads,
                          1e-2f);
    }
    sn_optimizer_free(&adam);
}

/* One training step with a crude optimiser step (so that the losses change
 * between updates), then what follows a step (the log rows, the update). */
static void train_step(fixture *f, int64_t step)
{
    run_step(f, step);
    const sn_parameter_table *table = sn_network_parameter_table(f->network);
    float *p = sn_network_parameters(f->network);
    const float *g = sn_network_gradients(f->network);
    for (size_t i = 0; i < table->total; i++)
        p[i] -= 0.05f * g[i];
    int status = sn_supernet_training_after_step(&f->training, step, 1.0);
    ck_assert_msg(status == SN_OK, "after step %lld: %s", (long long)step, sn_error_message());
}

/* A run log in a fresh directory under TMPDIR; path receives its name. */
static sn_run_log *open_log(const fixture *f, char *directory, size_t directory_size, char *path,
                            size_t path_size)
{
    const char *base = getenv("TMPDIR");
    snprintf(directory, directory_size, "%s/shiftnas-test-strategies-XXXXXX",
             base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(directory));
    snprintf(path, path_size, "%s/log.h5", directory);
    const sn_buckets *b = &f->training.sampler.buckets;
    sn_run_log *log = NULL;
    ck_assert_int_eq(sn_run_log_create(&log, path, f->config.search_strategy, b->count, b->edge),
                     SN_OK);
    return log;
}

/* The probability update evaluates every bucket's generated subnet on the
 * held-out images, stores the first losses, then moves beta. */
START_TEST(shift_updates_probabilities_from_held_out_losses)
{
    const char *sets[] = {"search.shift_interval=2", "search.shift_warmup=0",
                          "search.shift_learning_rate=0.5"};
    fixture f;
    held_out h;
    held_out_open(&h);
    fixture_open_with(&f, "shift", sets, 3, &h.validation);
    sn_supernet_training *t = &f.training;
    teach_generator(&f);
    double previous[SN_BUCKETS_MAX];
    for (int64_t step = 0; step < 6; step++) {
        train_step(&f, step);
        if (step == 1) {
            /* the first update stores the losses, beta stays 0 */
            ck_assert_int_eq(t->updates, 1);
            for (int k = 0; k < t->shift.count; k++) {
                ck_assert(isfinite(t->validation_loss[k]) && t->validation_loss[k] > 0);
                ck_assert(t->shift.beta[k] == 0.0);
            }
        }
        if (step == 3 || step == 5)
            for (int k = 0; k < t->shift.count; k++)
                ck_assert_msg(t->shift.delta[k] == t->validation_loss[k] - previous[k],
                              "delta of bucket %d is not the change of its held-out loss", k);
        if (step % 2 == 1)
            memcpy(previous, t->validation_loss, sizeof previous);
    }
    int distinct = 0;
    for (int k = 1; k < t->shift.count; k++)
        distinct += !sn_arch_equal(&f.space, &t->bucket_subnet[k], &t->bucket_subnet[k - 1]);
    ck_assert_msg(distinct > 0, "every bucket got the same generated subnet");
    ck_assert_int_eq(t->updates, 3);
    double sum = 0, spread = 0;
    for (int k = 0; k < t->shift.count; k++) {
        sum += t->shift.probability[k];
        spread = fmax(spread, fabs(t->shift.beta[k]));
    }
    ck_assert(fabs(sum - 1) < 1e-12);
    ck_assert_msg(spread > 0.1, "beta did not move (max |beta| %g)", spread);
    fixture_close(&f);
    held_out_close(&h);
}
END_TEST

/* The frozen-beta control arm: the same updates as the live shift (every
 * bucket's subnet evaluated on every held-out image at each update, the
 * statistic computed, a log.h5 row each), but beta and p stay uniform. */
START_TEST(frozen_shift_updates_without_moving)
{
    const char *sets[] = {"search.shift_interval=2", "search.shift_warmup=0",
                          "search.shift_learning_rate=0.5", "search.shift_frozen=true"};
    held_out h;
    held_out_open(&h);
    fixture live, frozen;
    fixture_open_with(&live, "shift", sets, 3, &h.validation);
    fixture_open_with(&frozen, "shift", sets, 4, &h.validation);
    ck_assert_int_eq(frozen.training.shift.options.frozen, 1);
    ck_assert_int_eq(live.training.shift.options.frozen, 0);
    teach_generator(&live);
    teach_generator(&frozen);
    char directory[512], path[600];
    frozen.training.log = open_log(&frozen, directory, sizeof directory, path, sizeof path);
    sn_supernet_training *t = &frozen.training;
    const int K = t->shift.count;
    for (int64_t step = 0; step < 6; step++) {
        train_step(&live, step);
        train_step(&frozen, step);
        ck_assert_int_eq(t->updates, live.training.updates);
        for (int k = 0; k < K; k++) {
            ck_assert(t->shift.beta[k] == 0.0);
            ck_assert(t->shift.probability[k] == 1.0 / K);
        }
        if (step == 1) /* nothing differs before the live arm's first move */
            ck_assert(memcmp(t->validation_loss, live.training.validation_loss,
                             sizeof(double) * (size_t)K) == 0);
        if (step == 3) /* the frozen arm computes the statistic it does not apply */
            for (int k = 0; k < K; k++)
                ck_assert(t->shift.delta[k] == live.training.shift.delta[k]);
    }
    ck_assert_int_eq(t->updates, 3);
    double spread = 0;
    for (int k = 0; k < K; k++)
        spread = fmax(spread, fabs(live.training.shift.beta[k]));
    ck_assert_msg(spread > 0.1, "the live arm's beta did not move (max |beta| %g)", spread);
    ck_assert_int_eq(sn_run_log_close(t->log), SN_OK);
    t->log = NULL;

    /* the log: a row per update, each with every bucket's held-out loss */
    sn_run_log_data data;
    ck_assert_msg(sn_run_log_read(path, &data) == SN_OK, "%s", sn_error_message());
    ck_assert_int_eq(data.update_count, 3);
    ck_assert_int_eq(data.subnet_count, 6);
    for (int64_t u = 0; u < data.update_count; u++) {
        ck_assert_int_eq(data.update_step[u], 2 * u + 1);
        for (int k = 0; k < K; k++) {
            ck_assert(data.update_beta[u * K + k] == 0.0);
            ck_assert(data.update_probability[u * K + k] == 1.0 / K);
            ck_assert(isfinite(data.update_validation_loss[u * K + k]));
        }
    }
    sn_run_log_data_free(&data);
    unlink(path);
    rmdir(directory);
    fixture_close(&live);
    fixture_close(&frozen);
    held_out_close(&h);
}
END_TEST

/* The bucket logged (and given to the variance statistic) is the one the
 * trained subnet's MACs fall in; the drawn one is its own column. A fresh
 * generator misses the drawn bucket often, which this run must see. */
START_TEST(shift_logs_the_actual_bucket_and_the_drawn_one)
{
    fixture f;
    fixture_open(&f, "shift", NULL, 0);
    sn_supernet_training *t = &f.training;
    char directory[512], path[600];
    t->log = open_log(&f, directory, sizeof directory, path, sizeof path);
    enum { STEPS = 16 };
    int actual[STEPS], drawn[STEPS], misses = 0;
    for (int64_t step = 0; step < STEPS; step++) {
        run_step(&f, step);
        ck_assert_int_eq(sn_supernet_training_after_step(t, step, 1.0), SN_OK);
        drawn[step] = sn_shift_draw_bucket(&t->shift, (uint64_t)step, 0);
        actual[step] = sn_buckets_index(&t->sampler.buckets, t->subnet_macs[0]);
        ck_assert_int_eq(t->drawn_bucket[0], drawn[step]);
        ck_assert_int_eq(t->bucket[0], actual[step]);
        /* the variance statistic's record of this step */
        int last = (t->shift.ring_head + t->shift.ring_capacity - 1) % t->shift.ring_capacity;
        ck_assert_int_eq(t->shift.ring_bucket[last], actual[step]);
        misses += actual[step] != drawn[step];
    }
    ck_assert_msg(misses > 0, "the generator never missed its bucket: the test proves nothing");
    ck_assert_int_eq(sn_run_log_close(t->log), SN_OK);
    t->log = NULL;
    sn_run_log_data data;
    ck_assert_msg(sn_run_log_read(path, &data) == SN_OK, "%s", sn_error_message());
    ck_assert_int_eq(data.subnet_count, STEPS);
    for (int i = 0; i < STEPS; i++) {
        ck_assert_int_eq(data.subnet_bucket[i], actual[i]);
        ck_assert_int_eq(data.subnet_drawn_bucket[i], drawn[i]);
        ck_assert(data.subnet_target_macs[i] >= (double)data.bucket_edges[drawn[i]]);
    }
    printf("shift: %d of %d steps trained a subnet outside its drawn bucket\n", misses, STEPS);
    sn_run_log_data_free(&data);
    unlink(path);
    rmdir(directory);
    fixture_close(&f);
}
END_TEST

/* Which held-out images the shift and the search's fitness use: the two
 * ends of the split, never overlapping; refused when the shift leaves none. */
START_TEST(held_out_plan_keeps_shift_and_fitness_apart)
{
    sn_config c;
    sn_config_defaults(&c);
    snprintf(c.model_type, sizeof c.model_type, "supernet");
    snprintf(c.search_strategy, sizeof c.search_strategy, "shift");
    c.shift_validation_images = 384;
    c.evolution_validation_images = 2000;
    sn_held_out_plan plan;
    ck_assert_int_eq(sn_held_out_plan_make(&c, 5000, &plan), SN_OK);
    ck_assert_int_eq(plan.shift_first, 5000 - 384);
    ck_assert_int_eq(plan.shift_count, 384);
    ck_assert_int_eq(plan.fitness_count, 2000);
    ck_assert_int_eq(sn_held_out_plan_make(&c, 2384, &plan), SN_OK); /* exactly adjacent */
    ck_assert_int_eq(plan.shift_first, 2000);
    /* one image too few: the fitness takes what the shift leaves */
    ck_assert_int_eq(sn_held_out_plan_make(&c, 2383, &plan), SN_OK);
    ck_assert_int_eq(plan.shift_first, 1999);
    ck_assert_int_eq(plan.fitness_count, 1999);
    ck_assert_int_eq(plan.shift_first + plan.shift_count, 2383);
    /* 0: every image the shift does not use */
    c.evolution_validation_images = 0;
    ck_assert_int_eq(sn_held_out_plan_make(&c, 1000, &plan), SN_OK);
    ck_assert_int_eq(plan.fitness_count, 1000 - 384);
    ck_assert_int_eq(plan.shift_first, 1000 - 384);
    ck_assert_int_eq(sn_held_out_plan_make(&c, 384, &plan), SN_ERR_CONFIG);
    ck_assert_msg(strstr(sn_error_message(), "leaves none of the 384 images") &&
                      !strchr(sn_error_message(), '\n'),
                  "%s", sn_error_message());
    c.evolution_validation_images = 2000;
    ck_assert_int_eq(sn_held_out_plan_make(&c, 384, &plan), SN_ERR_CONFIG);
    c.evolution_validation_images = 0;
    ck_assert_int_eq(sn_held_out_plan_make(&c, 0, &plan), SN_ERR_CONFIG);
    ck_assert_msg(strstr(sn_error_message(), "needs held-out images"), "%s", sn_error_message());
    /* the frozen arm evaluates the same images as the live shift */
    c.shift_frozen = 1;
    ck_assert_int_eq(sn_held_out_plan_make(&c, 1000, &plan), SN_OK);
    ck_assert_int_eq(plan.shift_count, 384);
    /* no shift images: the variance statistic, other strategies, a plain
     * network (whose [search] keys are unused); the fitness as before */
    static const char *const others[][3] = {{"supernet", "shift", "variance"},
                                            {"supernet", "uniform", "loss-change"},
                                            {"cnn", "shift", "loss-change"}};
    for (int i = 0; i < 3; i++) {
        snprintf(c.model_type, sizeof c.model_type, "%s", others[i][0]);
        snprintf(c.search_strategy, sizeof c.search_strategy, "%s", others[i][1]);
        snprintf(c.shift_statistic, sizeof c.shift_statistic, "%s", others[i][2]);
        c.evolution_validation_images = 2000;
        ck_assert_int_eq(sn_held_out_plan_make(&c, 300, &plan), SN_OK);
        ck_assert_int_eq(plan.shift_count, 0);
        ck_assert_int_eq(plan.fitness_count, 300);
        c.evolution_validation_images = 0;
        ck_assert_int_eq(sn_held_out_plan_make(&c, 300, &plan), SN_OK);
        ck_assert_int_eq(plan.fitness_count, 300);
        c.evolution_validation_images = 100;
        ck_assert_int_eq(sn_held_out_plan_make(&c, 300, &plan), SN_OK);
        ck_assert_int_eq(plan.fitness_count, 100);
    }
}
END_TEST

/* dL_val/dt of the target-input estimator (t the generator's normalised
 * target) against central differences of the held-out loss itself: the
 * generator's soft forward (there the loss is differentiable in t; the
 * update's hard one-hots make it piecewise constant), the masked supernet
 * over both chunks, then the generator's backward. h = 3e-3 in t; the
 * float32 loss's rounding (~1e-7) is far below the change (~1e-5). */
START_TEST(target_input_gradient_matches_the_held_out_loss)
{
    const char *sets[] = {"search.shift_estimator=target-input", "search.shift_interval=2",
                          "search.shift_warmup=0"};
    held_out h;
    held_out_open(&h);
    fixture f;
    fixture_open_with(&f, "shift", sets, 3, &h.validation);
    sn_supernet_training *t = &f.training;
    /* At their initialisations the network's output hardly depends on the
     * architecture, nor the generator's on its target: weights of a larger
     * scale, and a target input that matters, make the check a real one. */
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 78, SN_RNG_TEST, 0, 0);
    float *weights = sn_network_parameters(f.network);
    for (size_t i = 0; i < sn_network_parameter_table(f.network)->total; i++)
        weights[i] = 0.5f * sn_rng_normal(&stream);
    const sn_parameter_entry *w_ih = &t->generator.table.entries[t->generator.entry_w_ih];
    for (int64_t r = 0; r < w_ih->shape[0]; r++)
        t->generator.params[w_ih->offset + r * w_ih->shape[1]] *= 30.0f;
    sn_generator_key key = {9, 5, 3};
    double range = t->generator.macs_max - t->generator.macs_min;
    int64_t statistics;
    const float *running = sn_network_running_statistics(f.network, &statistics);
    float *running_before = malloc(sizeof(float) * (size_t)(statistics + 1));
    memcpy(running_before, running, sizeof(float) * (size_t)statistics);
    const double step = 3e-3;
    int checked = 0;
    for (int i = 0; i < 3; i++) {
        double target = t->generator.macs_min + range * (0.2 + 0.3 * i);
        double loss, slope, up, down, unused;
        ck_assert_int_eq(sn_target_input_evaluate(t, &h.validation, target, 1.0f, &key, 0, &loss,
                                                  &slope), SN_OK);
        ck_assert_int_eq(sn_target_input_evaluate(t, &h.validation, target + step * range, 1.0f,
                                                  &key, 0, &up, &unused), SN_OK);
        ck_assert_int_eq(sn_target_input_evaluate(t, &h.validation, target - step * range, 1.0f,
                                                  &key, 0, &down, &unused), SN_OK);
        double numeric = (up - down) / (2 * step);
        printf("target-input: t = %.1f: dL/dt %.6g, central difference %.6g (loss %.6f)\n",
               0.2 + 0.3 * i, slope, numeric, loss);
        ck_assert(isfinite(loss) && loss > 0);
        ck_assert_msg(fabs(slope - numeric) <= 0.03 * fabs(numeric) + 2e-5,
                      "dL/dt %g, central difference %g", slope, numeric);
        checked += fabs(numeric) > 1e-3;
    }
    ck_assert_msg(checked > 0, "the held-out loss hardly depends on the target: a vacuous check");
    ck_assert(memcmp(running_before, running, sizeof(float) * (size_t)statistics) == 0);
    free(running_before);
    fixture_close(&f);
    held_out_close(&h);
}
END_TEST

/* The update: the first only takes the snapshot (beta stays 0); the next
 * ones move beta by exactly (dL/dC under w_t - under w_{t-1}) times the
 * sampled dC~/dbeta, evaluated here again by hand from a copy of the
 * previous update's weights; the snapshot is then w_t; the update leaves
 * the weights, the running statistics and the generator's gradients as
 * they were. */
START_TEST(target_input_update_differentiates_between_snapshots)
{
    const char *sets[] = {"search.shift_estimator=target-input", "search.shift_interval=2",
                          "search.shift_warmup=0", "search.shift_learning_rate=0.5"};
    held_out h;
    held_out_open(&h);
    fixture f;
    fixture_open_with(&f, "shift", sets, 4, &h.validation);
    sn_supernet_training *t = &f.training;
    ck_assert_ptr_nonnull(t->snapshot);
    const sn_parameter_table *table = sn_network_parameter_table(f.network);
    size_t n = table->total, gn = t->generator.table.total;
    float *weights = sn_network_parameters(f.network);
    float *previous = malloc(sizeof(float) * n), *before_update = malloc(sizeof(float) * n);
    float *generator_grads = malloc(sizeof(float) * gn);
    int64_t statistics;
    const float *running = sn_network_running_statistics(f.network, &statistics);
    float *running_before = malloc(sizeof(float) * (size_t)(statistics + 1));
    double middle[SN_BUCKETS_MAX], middle_macs[SN_BUCKETS_MAX];
    for (int k = 0; k < t->shift.count; k++) {
        const int64_t *edge = t->sampler.buckets.edge;
        middle_macs[k] = 0.5 * ((double)edge[k] + (double)edge[k + 1]);
        middle[k] = sn_generator_normalized_target(&t->generator, middle_macs[k]);
    }
    for (int64_t step = 0; step < 6; step++) {
        run_step(&f, step);
        const float *g = sn_network_gradients(f.network);
        for (size_t i = 0; i < n; i++)
            weights[i] -= 0.05f * g[i];
        int due = step % 2 == 1;
        sn_shift_target_draw draw;
        sn_shift_target_input_draw(&t->shift, middle, (uint64_t)step, &draw);
        memcpy(before_update, weights, sizeof(float) * n);
        memcpy(running_before, running, sizeof(float) * (size_t)statistics);
        memcpy(generator_grads, t->generator.grads, sizeof(float) * gn);
        ck_assert_int_eq(sn_supernet_training_after_step(&f.training, step, 1.0), SN_OK);
        if (!due)
            continue;
        ck_assert(memcmp(before_update, weights, sizeof(float) * n) == 0);
        ck_assert(memcmp(t->snapshot, weights, sizeof(float) * n) == 0);
        ck_assert(memcmp(running_before, running, sizeof(float) * (size_t)statistics) == 0);
        ck_assert(memcmp(generator_grads, t->generator.grads, sizeof(float) * gn) == 0);
        ck_assert_int_eq(t->shift.have_previous, 1);
        double expected_now = NAN, expected_before = NAN;
        if (step > 1) {
            /* Eq. 8 by hand: the same sample, generator (as after_step's
             * optimiser step left it) and noise under the previous update's
             * weights and under these */
            sn_generator_key key = {(uint64_t)f.config.seed, (uint64_t)step,
                                    SN_TARGET_INPUT_GENERATOR_ITEM};
            float temperature = sn_generator_temperature(&t->generator.settings, step, 100);
            double loss;
            memcpy(weights, previous, sizeof(float) * n);
            ck_assert_int_eq(sn_target_input_evaluate(t, &h.validation, middle_macs[draw.bucket],
                                                      temperature, &key, 1, &loss,
                                                      &expected_before), SN_OK);
            memcpy(weights, before_update, sizeof(float) * n);
            ck_assert_int_eq(sn_target_input_evaluate(t, &h.validation, middle_macs[draw.bucket],
                                                      temperature, &key, 1, &loss,
                                                      &expected_now), SN_OK);
            ck_assert_msg(loss == t->validation_loss[draw.bucket], "loss %.17g, update %.17g", loss, t->validation_loss[draw.bucket]);
        }
        if (step == 1) {
            ck_assert_int_eq(t->shift.updates, 0);
            for (int k = 0; k < t->shift.count; k++)
                ck_assert(t->shift.beta[k] == 0.0 && isnan(t->validation_loss[k]));
        } else {
            int b = draw.bucket;
            ck_assert_int_eq(t->shift.gumbel_bucket, b);
            ck_assert_msg(t->shift.delta[b] == expected_now - expected_before,
                          "delta %.17g, by hand %.17g", t->shift.delta[b],
                          expected_now - expected_before);
            for (int k = 0; k < t->shift.count; k++) {
                ck_assert(t->shift.gradient[k] == t->shift.delta[b] * draw.input_gradient[k]);
                ck_assert(k == b ? isfinite(t->validation_loss[k]) && t->validation_loss[k] > 0
                                 : isnan(t->validation_loss[k]));
            }
        }
        memcpy(previous, weights, sizeof(float) * n);
    }
    ck_assert_int_eq(t->shift.updates, 2);
    ck_assert_int_eq(t->updates, 3);
    double spread = 0;
    for (int k = 0; k < t->shift.count; k++)
        spread = fmax(spread, fabs(t->shift.beta[k]));
    ck_assert_msg(spread > 0.1, "beta did not move (max |beta| %g)", spread);
    free(previous);
    free(before_update);
    free(generator_grads);
    free(running_before);
    fixture_close(&f);
    held_out_close(&h);
}
END_TEST

/* The variance statistic has no held-out loss for target-input to
 * differentiate: refused at setup, naming both keys. */
START_TEST(target_input_refuses_the_variance_statistic)
{
    sn_config config;
    sn_config_defaults(&config);
    ck_assert_int_eq(sn_config_set(&config, "search.strategy=shift"), SN_OK);
    ck_assert_int_eq(sn_config_set(&config, "search.shift_estimator=target-input"), SN_OK);
    ck_assert_int_eq(sn_config_set(&config, "search.shift_statistic=variance"), SN_OK);
    sn_space space;
    make_space(&space);
    sn_layer_settings layers;
    sn_layer_settings_from_config(&layers, &config);
    sn_network *network = NULL;
    ck_assert_int_eq(sn_network_create_supernet(&network, &space, &layers, BATCH), SN_OK);
    sn_dist *dist = NULL;
    ck_assert_int_eq(sn_dist_local(&dist), SN_OK);
    config.distributed_shards = 1;
    sn_data_parallel dp;
    ck_assert_int_eq(sn_data_parallel_init(&dp, dist, &config, network, BATCH, space.choice_total),
                     SN_OK);
    sn_supernet_training training;
    ck_assert_int_eq(sn_supernet_training_init(&training, &config, network, &dp, 100, 0, BATCH,
                                               NULL, NULL), SN_ERR_CONFIG);
    ck_assert_msg(strstr(sn_error_message(), "shift_estimator = target-input") &&
                      strstr(sn_error_message(), "shift_statistic = loss-change"),
                  "message: %s", sn_error_message());
    sn_supernet_training_free(&training);
    sn_data_parallel_free(&dp);
    sn_dist_free(dist);
    sn_network_free(network);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("strategies");
    TCase *c = tcase_create("step");
    tcase_set_timeout(c, 120);
    tcase_add_loop_test(c, step_gradient_is_the_planned_subnets_gradient, 0, 4);
    tcase_add_test(c, plans_follow_the_keyed_samplers);
    tcase_add_test(c, attentive_worst_trains_the_highest_loss);
    tcase_add_test(c, steps_are_deterministic);
    tcase_add_test(c, shift_runs_the_generator_subnet_masked);
    tcase_add_test(c, shift_updates_probabilities_from_held_out_losses);
    tcase_add_test(c, target_input_gradient_matches_the_held_out_loss);
    tcase_add_test(c, target_input_update_differentiates_between_snapshots);
    tcase_add_test(c, target_input_refuses_the_variance_statistic);
    tcase_add_test(c, frozen_shift_updates_without_moving);
    tcase_add_test(c, shift_logs_the_actual_bucket_and_the_drawn_one);
    tcase_add_test(c, held_out_plan_keeps_shift_and_fitness_apart);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    sn_blas_setup_for(1, SN_BLAS_SMALL_PRODUCTS);
    SRunner *runner = srunner_create(suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
