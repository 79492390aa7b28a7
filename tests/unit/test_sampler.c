/* Sampling side of the search: FLOPs buckets, keyed samplers (uniform,
 * flops-uniform, sandwich, attentive) and the probability shift. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/rng.h"
#include "shiftnas/sampler.h"
#include "shiftnas/settings.h"
#include "shiftnas/space.h"

static void load_space(const char *name, sn_space *space)
{
    const char *source = getenv("SHIFTNAS_SOURCE_DIR");
    ck_assert_msg(source != NULL, "SHIFTNAS_SOURCE_DIR is not set (run through make check)");
    char path[1024];
    snprintf(path, sizeof path, "%s/jobs/configs/%s", source, name);
    sn_config config;
    sn_config_defaults(&config);
    ck_assert_msg(sn_config_load_file(&config, path) == SN_OK, "%s: %s", path, sn_error_message());
    ck_assert_msg(sn_space_from_config(space, &config, 1, 28, 10) == SN_OK, "%s: %s", name,
                  sn_error_message());
}

static int64_t macs_of(const sn_space *space, const sn_arch *arch)
{
    return sn_space_cost(space, arch).macs;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Membership by hand on edges {0, 10, 20, 30}: [0,10) [10,20) [20,30]. */
START_TEST(bucket_membership_by_hand)
{
    sn_buckets b = {.count = 3, .edge = {0, 10, 20, 30}};
    ck_assert_int_eq(sn_buckets_index(&b, -1), -1);
    ck_assert_int_eq(sn_buckets_index(&b, 0), 0);
    ck_assert_int_eq(sn_buckets_index(&b, 9), 0);
    ck_assert_int_eq(sn_buckets_index(&b, 10), 1);
    ck_assert_int_eq(sn_buckets_index(&b, 19), 1);
    ck_assert_int_eq(sn_buckets_index(&b, 20), 2);
    ck_assert_int_eq(sn_buckets_index(&b, 30), 2); /* top edge inclusive in the last bucket */
    ck_assert_int_eq(sn_buckets_index(&b, 31), -1);
    sn_rng_stream s;
    sn_rng_stream_init(&s, 1, SN_RNG_TEST, 0, 0);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 1000; i++) {
            double t = sn_buckets_target(&b, k, &s);
            ck_assert(t >= (double)b.edge[k] && t < (double)b.edge[k + 1]);
        }
}
END_TEST

/* Equal-width and step buckets of the CNN space: edges computed by hand
 * from its smallest and largest MACs. */
START_TEST(bucket_edges_of_a_space)
{
    sn_space space;
    load_space("cnn-space.ini", &space);
    sn_arch a;
    sn_arch_smallest(&space, &a);
    int64_t lo = macs_of(&space, &a);
    sn_arch_largest(&space, &a);
    int64_t hi = macs_of(&space, &a);
    sn_buckets b;
    ck_assert_int_eq(sn_buckets_equal_width(&b, &space, 8), SN_OK);
    ck_assert_int_eq(b.count, 8);
    for (int k = 0; k <= 8; k++)
        ck_assert_int_eq(b.edge[k], lo + (hi - lo) * k / 8);
    ck_assert_int_eq(sn_buckets_index(&b, lo), 0);
    ck_assert_int_eq(sn_buckets_index(&b, hi), 7);
    ck_assert_int_eq(sn_buckets_index(&b, b.edge[3]), 3);
    ck_assert_int_eq(sn_buckets_index(&b, b.edge[3] - 1), 2);

    int64_t step = (hi - lo) / 3 + 1; /* three buckets, the last narrower */
    ck_assert_int_eq(sn_buckets_from_step(&b, &space, step), SN_OK);
    ck_assert_int_eq(b.count, 3);
    ck_assert_int_eq(b.edge[1], lo + step);
    ck_assert_int_eq(b.edge[2], lo + 2 * step);
    ck_assert_int_eq(b.edge[3], hi);
    ck_assert_int_eq(sn_buckets_from_step(&b, &space, hi - lo), SN_OK);
    ck_assert_int_eq(b.count, 1);
    ck_assert_int_eq(sn_buckets_from_step(&b, &space, 0), SN_ERR_ARGUMENT);
    ck_assert_int_eq(sn_buckets_from_step(&b, &space, 1), SN_ERR_ARGUMENT); /* too many */
    ck_assert_int_eq(sn_buckets_equal_width(&b, &space, 0), SN_ERR_ARGUMENT);
    ck_assert_int_eq(sn_buckets_equal_width(&b, &space, SN_BUCKETS_MAX + 1), SN_ERR_ARGUMENT);
}
END_TEST

/* A step's subnets depend on (seed, step, slot) only: drawing in reverse
 * order gives the same subnets; another seed gives other subnets. */
START_TEST(samplers_are_keyed)
{
    sn_space space;
    load_space("cnn-space.ini", &space);
    sn_buckets b;
    ck_assert_int_eq(sn_buckets_equal_width(&b, &space, 8), SN_OK);
    sn_sampler s, other;
    ck_assert_int_eq(sn_sampler_init(&s, &space, &b, 5), SN_OK);
    ck_assert_int_eq(sn_sampler_init(&other, &space, &b, 6), SN_OK);
    enum { STEPS = 10, SLOTS = 4 };
    static sn_arch forward[STEPS][SLOTS], backward[STEPS][SLOTS], uni[STEPS][SLOTS];
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < SLOTS; i++) {
            ck_assert_int_eq(sn_sample_flops_uniform(&s, (uint64_t)t, (uint32_t)i, &forward[t][i], NULL), SN_OK);
            sn_sample_uniform(&s, (uint64_t)t, (uint32_t)i, &uni[t][i]);
        }
    for (int t = STEPS - 1; t >= 0; t--)
        for (int i = SLOTS - 1; i >= 0; i--) {
            sn_arch u;
            sn_sample_uniform(&s, (uint64_t)t, (uint32_t)i, &u);
            ck_assert(sn_arch_equal(&space, &u, &uni[t][i]));
            ck_assert_int_eq(sn_sample_flops_uniform(&s, (uint64_t)t, (uint32_t)i, &backward[t][i], NULL), SN_OK);
        }
    int differ = 0;
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < SLOTS; i++) {
            ck_assert(sn_arch_equal(&space, &forward[t][i], &backward[t][i]));
            sn_arch a;
            ck_assert_int_eq(sn_sample_flops_uniform(&other, (uint64_t)t, (uint32_t)i, &a, NULL), SN_OK);
            differ += !sn_arch_equal(&space, &a, &forward[t][i]);
        }
    ck_assert_int_gt(differ, STEPS * SLOTS / 2);
    /* the shift's bucket draw is keyed too */
    sn_shift_options o;
    sn_shift_options_defaults(&o);
    sn_shift shift;
    ck_assert_int_eq(sn_shift_init(&shift, 8, &o, 5), SN_OK);
    int first[20];
    for (int t = 0; t < 20; t++)
        first[t] = sn_shift_draw_bucket(&shift, (uint64_t)t, 1);
    for (int t = 19; t >= 0; t--)
        ck_assert_int_eq(sn_shift_draw_bucket(&shift, (uint64_t)t, 1), first[t]);
    sn_shift_free(&shift);
}
END_TEST

/* Every bucket of a shipped space, the rare top ones included, gets
 * subnets inside it. Prints rejection figures. */
static void check_every_bucket(const char *config, int per_bucket)
{
    sn_space space;
    load_space(config, &space);
    sn_buckets b;
    ck_assert_int_eq(sn_buckets_equal_width(&b, &space, 8), SN_OK);
    sn_sampler s;
    ck_assert_int_eq(sn_sampler_init(&s, &space, &b, 11), SN_OK);
    printf("%s: buckets over [%lld, %lld] MACs\n", config, (long long)b.edge[0], (long long)b.edge[8]);
    for (int k = 0; k < b.count; k++) {
        int rejected = 0, tries = 0, moves = 0, distinct = 0;
        static sn_arch drawn[100];
        ck_assert_int_le(per_bucket, 100);
        double t0 = now_seconds();
        for (int i = 0; i < per_bucket; i++) {
            sn_arch a;
            sn_sample_info info;
            ck_assert_int_eq(sn_sample_in_bucket(&s, k, (uint64_t)i, 0, &a, &info), SN_OK);
            ck_assert_msg(info.in_bucket, "%s bucket %d sample %d: %lld MACs outside", config, k, i,
                          (long long)info.macs);
            ck_assert_int_eq(sn_buckets_index(&b, macs_of(&space, &a)), k);
            ck_assert_int_eq(info.macs, macs_of(&space, &a));
            sn_arch c = a;
            sn_arch_canonicalize(&space, &c);
            ck_assert(sn_arch_equal(&space, &a, &c));
            drawn[i] = a;
            int fresh = 1;
            for (int j = 0; j < i && fresh; j++)
                fresh = !sn_arch_equal(&space, &drawn[j], &a);
            distinct += fresh;
            rejected += info.moves > 0 || info.tries == s.max_tries;
            tries += info.tries;
            moves += info.moves;
        }
        double dt = now_seconds() - t0;
        printf("  bucket %d [%lld, %lld): rejection failed %d/%d, mean tries %.1f, mean moves %.2f, "
               "%d distinct, %.1f us/sample\n",
               k, (long long)b.edge[k], (long long)b.edge[k + 1], rejected, per_bucket,
               (double)tries / per_bucket, (double)moves / per_bucket, distinct, 1e6 * dt / per_bucket);
        /* the guided search must not collapse a rare bucket to one subnet */
        ck_assert_int_ge(distinct, per_bucket / 2);
    }
}

START_TEST(flops_uniform_reaches_every_cnn_bucket)
{
    check_every_bucket("cnn-space.ini", 100);
}
END_TEST

START_TEST(flops_uniform_reaches_every_vit_bucket)
{
    check_every_bucket("vit-space.ini", 100);
}
END_TEST

/* The bucket histogram of flops-uniform is uniform: 4000 draws, 500
 * expected per bucket, binomial sd 20.9; tolerance 5 sd (105). */
START_TEST(flops_uniform_histogram_is_uniform)
{
    sn_space space;
    load_space("cnn-space.ini", &space);
    sn_buckets b;
    ck_assert_int_eq(sn_buckets_equal_width(&b, &space, 8), SN_OK);
    sn_sampler s;
    ck_assert_int_eq(sn_sampler_init(&s, &space, &b, 3), SN_OK);
    int histogram[8] = {0}, uniform_histogram[8] = {0};
    double t0 = now_seconds();
    for (int t = 0; t < 4000; t++) {
        sn_arch a;
        ck_assert_int_eq(sn_sample_flops_uniform(&s, (uint64_t)t, 0, &a, NULL), SN_OK);
        int k = sn_buckets_index(&b, macs_of(&space, &a));
        ck_assert_int_ge(k, 0);
        histogram[k]++;
    }
    double dt = now_seconds() - t0;
    for (int t = 0; t < 4000; t++) {
        sn_arch a;
        sn_sample_uniform(&s, (uint64_t)t, 0, &a);
        uniform_histogram[sn_buckets_index(&b, macs_of(&space, &a))]++;
    }
    printf("flops-uniform cnn histogram (%.1f us/sample):", 1e6 * dt / 4000);
    for (int k = 0; k < 8; k++)
        printf(" %d", histogram[k]);
    printf("\nuniform cnn histogram:");
    for (int k = 0; k < 8; k++)
        printf(" %d", uniform_histogram[k]);
    printf("\n");
    for (int k = 0; k < 8; k++)
        ck_assert_msg(abs(histogram[k] - 500) <= 105, "bucket %d: %d", k, histogram[k]);
    /* and uniform sampling is not: its top bucket is starved */
    ck_assert_int_lt(uniform_histogram[7], 100);
}
END_TEST

START_TEST(sandwich_contents)
{
    sn_space space;
    load_space("cnn-space.ini", &space);
    sn_buckets b;
    ck_assert_int_eq(sn_buckets_equal_width(&b, &space, 8), SN_OK);
    sn_sampler s;
    ck_assert_int_eq(sn_sampler_init(&s, &space, &b, 9), SN_OK);
    sn_arch archs[SN_SAMPLER_SANDWICH_MAX], largest, smallest, u;
    int count = 0;
    sn_arch_largest(&space, &largest);
    sn_arch_smallest(&space, &smallest);
    int differ = 0;
    for (uint64_t t = 0; t < 10; t++) {
        ck_assert_int_eq(sn_sample_sandwich(&s, t, archs, SN_SAMPLER_SANDWICH_MAX, &count), SN_OK);
        ck_assert_int_eq(count, 4);
        ck_assert(sn_arch_equal(&space, &archs[0], &largest));
        ck_assert(sn_arch_equal(&space, &archs[1], &smallest));
        for (int i = 2; i < 4; i++) {
            sn_sample_uniform(&s, t, (uint32_t)i, &u);
            ck_assert(sn_arch_equal(&space, &archs[i], &u));
        }
        differ += !sn_arch_equal(&space, &archs[2], &archs[3]);
    }
    ck_assert_int_gt(differ, 5);
    s.sandwich_random = 3;
    ck_assert_int_eq(sn_sample_sandwich(&s, 0, archs, 5, &count), SN_OK);
    ck_assert_int_eq(count, 5);
    ck_assert_int_eq(sn_sample_sandwich(&s, 0, archs, 4, &count), SN_ERR_ARGUMENT);
}
END_TEST

START_TEST(attentive_candidates_and_selection)
{
    sn_space space;
    load_space("vit-space.ini", &space);
    sn_buckets b;
    ck_assert_int_eq(sn_buckets_equal_width(&b, &space, 8), SN_OK);
    sn_sampler s;
    ck_assert_int_eq(sn_sampler_init(&s, &space, &b, 4), SN_OK);
    int seen[8] = {0};
    for (uint64_t t = 0; t < 40; t++) {
        sn_arch archs[SN_SAMPLER_CANDIDATES_MAX];
        int count, bucket;
        double target;
        ck_assert_int_eq(sn_sample_attentive(&s, t, 2, archs, SN_SAMPLER_CANDIDATES_MAX, &count,
                                             &bucket, &target), SN_OK);
        ck_assert_int_eq(count, 3);
        ck_assert(target >= (double)b.edge[bucket] && target < (double)b.edge[bucket + 1]);
        for (int j = 0; j < count; j++)
            ck_assert_int_eq(sn_buckets_index(&b, macs_of(&space, &archs[j])), bucket);
        seen[bucket]++;
    }
    int buckets_seen = 0;
    for (int k = 0; k < 8; k++)
        buckets_seen += seen[k] > 0;
    ck_assert_int_ge(buckets_seen, 6);

    const double losses[5] = {2.0, 1.5, NAN, 3.0, 1.5};
    ck_assert_int_eq(sn_attentive_select(losses, 5, SN_ATTENTIVE_BEST), 1); /* tie: lower index */
    ck_assert_int_eq(sn_attentive_select(losses, 5, SN_ATTENTIVE_WORST), 3);
    const double nan_first[2] = {NAN, 4.0};
    ck_assert_int_eq(sn_attentive_select(nan_first, 2, SN_ATTENTIVE_BEST), 1);
    ck_assert_int_eq(sn_attentive_select(nan_first, 1, SN_ATTENTIVE_WORST), SN_ERR_NUMERIC);
    ck_assert_int_eq(sn_attentive_select(losses, 0, SN_ATTENTIVE_BEST), SN_ERR_ARGUMENT);
}
END_TEST

/* Central differences (h = 1e-5, double) of E_{softmax(beta)}[delta] and of
 * the Gumbel relaxation against the analytic gradients; the truncation error
 * is O(h^2) ~ 1e-10, so 1e-8 absolute is a safe bound. */
static double gumbel_relaxed(const double *beta, const double *delta, const double *g, int K, double T)
{
    double z[8], y[8], sum = 0.0;
    for (int k = 0; k < K; k++)
        z[k] = (beta[k] + g[k]) / T;
    sn_softmax(z, K, y);
    for (int k = 0; k < K; k++)
        sum += y[k] * delta[k];
    return sum;
}

START_TEST(beta_gradient_matches_finite_differences)
{
    enum { K = 8 };
    double beta[K], delta[K], g[K], grad[K], grad_g[K];
    sn_rng_stream s;
    sn_rng_stream_init(&s, 2, SN_RNG_TEST, 0, 0);
    for (int k = 0; k < K; k++) {
        beta[k] = sn_rng_normal(&s);
        delta[k] = 0.1 * sn_rng_normal(&s);
        g[k] = sn_rng_gumbel(&s);
    }
    double T = 0.7;
    sn_shift_expectation(beta, delta, K, grad);
    int sampled = sn_shift_gumbel_gradient(beta, delta, g, K, T, grad_g);
    for (int k = 0; k < K; k++)
        ck_assert((beta[k] + g[k]) <= (beta[sampled] + g[sampled]));
    const double h = 1e-5;
    double sum = 0.0;
    for (int j = 0; j < K; j++) {
        double save = beta[j];
        beta[j] = save + h;
        double up = sn_shift_expectation(beta, delta, K, NULL), up_g = gumbel_relaxed(beta, delta, g, K, T);
        beta[j] = save - h;
        double down = sn_shift_expectation(beta, delta, K, NULL), down_g = gumbel_relaxed(beta, delta, g, K, T);
        beta[j] = save;
        ck_assert_double_eq_tol(grad[j], (up - down) / (2 * h), 1e-8);
        ck_assert_double_eq_tol(grad_g[j], (up_g - down_g) / (2 * h), 1e-8);
        sum += grad[j];
    }
    ck_assert_double_eq_tol(sum, 0.0, 1e-12); /* softmax is shift-invariant */
}
END_TEST

/* The target-input estimator's relaxed target C~ = sum_k softmax((beta +
 * g)/T)_k middle_k: its gradient against central differences (as above);
 * the forward's C is the argmax bucket's middle. */
START_TEST(target_input_gradient_matches_finite_differences)
{
    enum { K = 8 };
    double beta[K], middle[K], g[K];
    sn_rng_stream s;
    sn_rng_stream_init(&s, 4, SN_RNG_TEST, 0, 0);
    for (int k = 0; k < K; k++) {
        beta[k] = sn_rng_normal(&s);
        middle[k] = (k + 0.5) / K;
        g[k] = sn_rng_gumbel(&s);
    }
    const double T = 0.7, h = 1e-5;
    sn_shift_target_draw draw;
    sn_shift_target_input_sample(beta, middle, g, K, T, &draw);
    for (int k = 0; k < K; k++)
        ck_assert((beta[k] + g[k]) <= (beta[draw.bucket] + g[draw.bucket]));
    ck_assert(draw.input == middle[draw.bucket]);
    ck_assert_double_eq_tol(draw.relaxed, gumbel_relaxed(beta, middle, g, K, T), 1e-15);
    for (int j = 0; j < K; j++) {
        double save = beta[j];
        beta[j] = save + h;
        double up = gumbel_relaxed(beta, middle, g, K, T);
        beta[j] = save - h;
        double down = gumbel_relaxed(beta, middle, g, K, T);
        beta[j] = save;
        ck_assert_double_eq_tol(draw.input_gradient[j], (up - down) / (2 * h), 1e-8);
    }
}
END_TEST

/* The target-input update: the first call only marks the snapshot taken;
 * then gradient = (now - before) * dC~/dbeta, delta holds the difference at
 * the sampled bucket only, one Adam step (lr along -sign(gradient) at the
 * first step); a non-finite slope changes nothing; the draw is keyed;
 * sn_shift_update refuses this estimator and the variance statistic refuses
 * it at init. */
START_TEST(target_input_update_descends_the_slope_difference)
{
    enum { K = 6 };
    sn_shift_options o;
    sn_shift_options_defaults(&o);
    o.estimator = SN_SHIFT_TARGET_INPUT;
    sn_shift shift;
    ck_assert_int_eq(sn_shift_init(&shift, K, &o, 5), SN_OK);
    double middle[K];
    for (int k = 0; k < K; k++)
        middle[k] = (k + 0.5) / K;
    sn_shift_target_draw draw, again;
    sn_shift_target_input_draw(&shift, middle, 42, &draw);
    sn_shift_target_input_draw(&shift, middle, 42, &again);
    ck_assert(memcmp(&draw, &again, sizeof draw) == 0);
    double loss[K] = {1, 1, 1, 1, 1, 1};
    ck_assert_int_eq(sn_shift_update(&shift, loss, 42), SN_ERR_ARGUMENT);
    ck_assert_int_eq(sn_shift_update_target_input(&shift, &draw, NAN, NAN), SN_OK);
    ck_assert_int_eq(shift.have_previous, 1);
    ck_assert_int_eq(shift.updates, 0);
    for (int k = 0; k < K; k++)
        ck_assert(shift.beta[k] == 0.0);
    ck_assert_int_eq(sn_shift_update_target_input(&shift, &draw, INFINITY, 0.1), SN_ERR_NUMERIC);
    ck_assert_int_eq(shift.updates, 0);
    ck_assert_int_eq(sn_shift_update_target_input(&shift, &draw, 0.3, 0.1), SN_OK);
    ck_assert_int_eq(shift.updates, 1);
    ck_assert_int_eq(shift.gumbel_bucket, draw.bucket);
    double sum = 0;
    for (int k = 0; k < K; k++) {
        if (k == draw.bucket)
            ck_assert_double_eq_tol(shift.delta[k], 0.2, 1e-15);
        else
            ck_assert(isnan(shift.delta[k]));
        ck_assert_double_eq_tol(shift.gradient[k], 0.2 * draw.input_gradient[k], 1e-15);
        /* Adam's first step: lr g / (|g| + epsilon), against the gradient */
        double g = shift.gradient[k];
        ck_assert_double_eq_tol(shift.beta[k], -o.learning_rate * g / (fabs(g) + o.epsilon),
                                1e-12);
        sum += shift.probability[k];
    }
    ck_assert_double_eq_tol(sum, 1.0, 1e-12);
    ck_assert_int_eq(sn_shift_check_state(&shift), SN_OK);
    sn_shift_free(&shift);

    o.statistic = SN_SHIFT_VARIANCE;
    ck_assert_int_eq(sn_shift_init(&shift, K, &o, 5), SN_ERR_ARGUMENT);
    o.statistic = SN_SHIFT_LOSS_CHANGE;
    o.estimator = SN_SHIFT_EXPECTATION;
    ck_assert_int_eq(sn_shift_init(&shift, K, &o, 5), SN_OK);
    ck_assert_int_eq(sn_shift_update_target_input(&shift, &draw, 0.3, 0.1), SN_ERR_ARGUMENT);
    sn_shift_free(&shift);
}
END_TEST

/* Synthetic run: bucket 3's validation loss falls by 0.05 per update, the
 * others wander by +-0.002. With the default lr, 20 Adam updates (21 calls:
 * the first only stores the snapshot) take p_3 above 0.5. */
static void run_shift(sn_shift_estimator estimator, int updates, double *p3)
{
    sn_shift_options o;
    sn_shift_options_defaults(&o);
    o.estimator = estimator;
    sn_shift shift;
    ck_assert_int_eq(sn_shift_init(&shift, 8, &o, 1), SN_OK);
    sn_rng_stream s;
    sn_rng_stream_init(&s, 3, SN_RNG_TEST, 0, 0);
    for (int t = 0; t <= updates; t++) {
        double loss[8];
        for (int k = 0; k < 8; k++)
            loss[k] = 2.0 + 0.002 * (2.0 * sn_rng_uniform(&s) - 1.0);
        loss[3] = 2.0 - 0.05 * t;
        ck_assert_int_eq(sn_shift_update(&shift, loss, (uint64_t)(100 * (t + 1))), SN_OK);
        if (t == 0)
            ck_assert_double_eq_tol(shift.probability[3], 0.125, 1e-12);
    }
    ck_assert_int_eq(shift.updates, updates);
    double sum = 0.0;
    for (int k = 0; k < 8; k++)
        sum += shift.probability[k];
    ck_assert_double_eq_tol(sum, 1.0, 1e-12);
    *p3 = shift.probability[3];
    printf("shift (%s): p_3 after %d updates = %.3f, beta_3 = %.3f\n",
           estimator == SN_SHIFT_GUMBEL ? "gumbel" : "expectation", updates, *p3, shift.beta[3]);
    sn_shift_free(&shift);
}

START_TEST(shift_moves_probability_to_the_falling_bucket)
{
    double p3;
    run_shift(SN_SHIFT_EXPECTATION, 20, &p3);
    ck_assert(p3 > 0.5);
    run_shift(SN_SHIFT_GUMBEL, 20, &p3);
    ck_assert(p3 > 0.5);

    sn_shift_options o;
    sn_shift_options_defaults(&o);
    o.warmup = 50;
    sn_shift shift;
    ck_assert_int_eq(sn_shift_init(&shift, 8, &o, 1), SN_OK);
    ck_assert(!sn_shift_due(&shift, 49));
    ck_assert(!sn_shift_due(&shift, 148));
    ck_assert(sn_shift_due(&shift, 149));
    ck_assert(!sn_shift_due(&shift, 150));
    ck_assert(sn_shift_due(&shift, 249));
    double bad[8] = {1, 1, 1, NAN, 1, 1, 1, 1};
    ck_assert_int_eq(sn_shift_update(&shift, bad, 0), SN_ERR_NUMERIC);
    ck_assert_int_eq(shift.have_previous, 0);
    sn_shift_free(&shift);
}
END_TEST

/* Draws follow probability[]: with p = (0, .., 0.75 at 5, 0.25 at 6) 4000
 * draws give bucket 5 in 3000 +- 5 sd (sd 27.4). */
START_TEST(shift_draw_follows_probabilities)
{
    sn_shift_options o;
    sn_shift_options_defaults(&o);
    sn_shift shift;
    ck_assert_int_eq(sn_shift_init(&shift, 8, &o, 2), SN_OK);
    memset(shift.probability, 0, sizeof shift.probability);
    shift.probability[5] = 0.75;
    shift.probability[6] = 0.25;
    int five = 0;
    for (uint64_t t = 0; t < 4000; t++) {
        int k = sn_shift_draw_bucket(&shift, t, 0);
        ck_assert(k == 5 || k == 6);
        five += k == 5;
    }
    ck_assert_int_le(abs(five - 3000), 137);
    sn_shift_free(&shift);
}
END_TEST

/* Variance statistic: bucket 5's training loss is noisy (uniform +-0.3,
 * variance 0.03), the others +-0.02 (variance 1.3e-4); softmax(var/0.01)
 * gives bucket 5 e^3 / (e^3 + 7 e^0.013) = 0.74. The ring keeps only the
 * last `interval` records: an earlier noisy bucket 2 is forgotten. */
START_TEST(variance_statistic_picks_the_noisiest_bucket)
{
    sn_shift_options o;
    sn_shift_options_defaults(&o);
    o.statistic = SN_SHIFT_VARIANCE;
    sn_shift shift;
    ck_assert_int_eq(sn_shift_init(&shift, 8, &o, 1), SN_OK);
    sn_rng_stream s;
    sn_rng_stream_init(&s, 4, SN_RNG_TEST, 0, 0);
    for (int t = 0; t < 250; t++) {
        int k = t % 8;
        int noisy = t < 150 ? 2 : 5;
        double amplitude = k == noisy ? 0.3 : 0.02;
        ck_assert_int_eq(sn_shift_record(&shift, k, 1.0 + amplitude * (2.0 * sn_rng_uniform(&s) - 1.0)), SN_OK);
    }
    ck_assert_int_eq(sn_shift_record(&shift, 8, 1.0), SN_ERR_ARGUMENT);
    ck_assert_int_eq(sn_shift_record(&shift, 1, INFINITY), SN_ERR_NUMERIC);
    ck_assert_int_eq(sn_shift_update(&shift, NULL, 250), SN_OK);
    int best = 0, records = 0;
    for (int k = 0; k < 8; k++) {
        records += shift.record_count[k];
        if (shift.probability[k] > shift.probability[best])
            best = k;
    }
    ck_assert_int_eq(records, 100);
    ck_assert_int_eq(best, 5);
    ck_assert(shift.probability[5] > 0.6);
    ck_assert(shift.variance[5] > 0.015 && shift.variance[5] < 0.045);
    printf("variance statistic: p_5 = %.3f, var_5 = %.4f, var_2 = %.6f\n", shift.probability[5],
           shift.variance[5], shift.variance[2]);
    sn_shift_free(&shift);
}
END_TEST

/* The frozen control arm: every update measures what the live shift
 * measures (delta, the estimator's gradient, the ring's variances, the
 * update count) while beta, Adam and p stay at their uniform start. */
START_TEST(frozen_shift_measures_but_never_moves)
{
    for (int statistic = 0; statistic < 2; statistic++)
        for (int estimator = 0; estimator < 2; estimator++) {
            sn_shift_options o;
            sn_shift_options_defaults(&o);
            o.statistic = statistic ? SN_SHIFT_VARIANCE : SN_SHIFT_LOSS_CHANGE;
            o.estimator = estimator ? SN_SHIFT_GUMBEL : SN_SHIFT_EXPECTATION;
            o.interval = 16;
            sn_shift live, frozen;
            ck_assert_int_eq(sn_shift_init(&live, 4, &o, 3), SN_OK);
            o.frozen = 1;
            ck_assert_int_eq(sn_shift_init(&frozen, 4, &o, 3), SN_OK);
            for (int u = 0; u < 6; u++) {
                double loss[4];
                for (int k = 0; k < 4; k++)
                    loss[k] = 2.0 - 0.05 * u * (k == 3) + 0.001 * ((u * 7 + k) % 5);
                for (int r = 0; r < 16; r++) {
                    int k = r % 4;
                    double record = 1.0 + (k == 1 ? 0.3 : 0.02) * ((r * 13 % 7) / 3.0 - 1.0);
                    ck_assert_int_eq(sn_shift_record(&live, k, record), SN_OK);
                    ck_assert_int_eq(sn_shift_record(&frozen, k, record), SN_OK);
                }
                ck_assert_int_eq(sn_shift_update(&live, loss, (uint64_t)u), SN_OK);
                ck_assert_int_eq(sn_shift_update(&frozen, loss, (uint64_t)u), SN_OK);
                ck_assert_int_eq(frozen.updates, live.updates);
                for (int k = 0; k < 4; k++) {
                    ck_assert(frozen.beta[k] == 0.0);
                    ck_assert(frozen.probability[k] == 0.25);
                    ck_assert(frozen.adam_m[k] == 0.0 && frozen.adam_v[k] == 0.0);
                    /* the same measurements; the gradient is the same
                     * until the live arm's beta has moved (after update 1) */
                    ck_assert(frozen.delta[k] == live.delta[k]);
                    if (u <= 1)
                        ck_assert(frozen.gradient[k] == live.gradient[k]);
                    ck_assert(frozen.variance[k] == live.variance[k]);
                }
                ck_assert_int_eq(frozen.adam_t, 0);
            }
            ck_assert_int_eq(frozen.updates, statistic ? 6 : 5);
            double spread = 0;
            for (int k = 0; k < 4; k++)
                spread = fmax(spread, fabs(live.probability[k] - 0.25));
            ck_assert_msg(spread > 0.01, "the live arm did not move (statistic %d estimator %d)",
                          statistic, estimator);
            ck_assert_int_eq(sn_shift_check_state(&frozen), SN_OK);
            sn_shift_free(&live);
            sn_shift_free(&frozen);
        }
}
END_TEST

/* ---- the shift's state visitor -------------------------------------------- */

/* The state fields in checkpoint order: the visitor is the one list. */
static const char *const shift_state_names[] = {
    "beta", "probability", "adam_m", "adam_v", "adam_t", "have_previous", "previous_loss",
    "delta", "gradient", "gumbel_bucket", "updates", "ring_head", "ring_size", "ring_bucket",
    "ring_loss", "mean", "variance", "record_count"};
enum { SHIFT_STATE_FIELDS = sizeof shift_state_names / sizeof *shift_state_names };

typedef struct {
    int count;
    sn_shift_field fields[32];
} field_list;

static int collect_field(const sn_shift_field *field, void *context)
{
    field_list *list = context;
    ck_assert_int_lt(list->count, 32);
    list->fields[list->count++] = *field;
    return SN_OK;
}

static int stop_at_third(const sn_shift_field *field, void *context)
{
    (void)field;
    return ++*(int *)context == 3 ? SN_ERR_IO : SN_OK;
}

static void init_shift(sn_shift *shift, int buckets, int interval)
{
    sn_shift_options o;
    sn_shift_options_defaults(&o);
    o.interval = interval;
    ck_assert_int_eq(sn_shift_init(shift, buckets, &o, 11), SN_OK);
}

/* The control arm with the paper's estimator: the update is measured (delta,
 * gradient, the sampled bucket) but beta and p stay uniform. */
START_TEST(frozen_target_input_measures_but_never_moves)
{
    enum { K = 5 };
    sn_shift_options o;
    sn_shift_options_defaults(&o);
    o.estimator = SN_SHIFT_TARGET_INPUT;
    o.frozen = 1;
    sn_shift shift;
    ck_assert_int_eq(sn_shift_init(&shift, K, &o, 9), SN_OK);
    double middle[K];
    for (int k = 0; k < K; k++)
        middle[k] = (k + 0.5) / K;
    sn_shift_target_draw draw;
    sn_shift_target_input_draw(&shift, middle, 7, &draw);
    ck_assert_int_eq(sn_shift_update_target_input(&shift, &draw, NAN, NAN), SN_OK);
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(sn_shift_update_target_input(&shift, &draw, 0.5 + round, 0.1), SN_OK);
        ck_assert(shift.delta[draw.bucket] == 0.5 + round - 0.1);
        ck_assert(shift.gradient[draw.bucket] != 0.0);
        for (int k = 0; k < K; k++) {
            ck_assert(shift.beta[k] == 0.0);
            ck_assert(shift.probability[k] == 1.0 / K);
        }
    }
    ck_assert_int_eq(shift.updates, 3);
    ck_assert_int_eq(shift.gumbel_bucket, draw.bucket);
    sn_shift_free(&shift);
}
END_TEST

START_TEST(shift_visitor_lists_every_state_field)
{
    sn_shift shift;
    init_shift(&shift, 5, 7);
    field_list list = {0};
    ck_assert_int_eq(sn_shift_visit_state(&shift, collect_field, &list), SN_OK);
    ck_assert_int_eq(list.count, SHIFT_STATE_FIELDS);
    const char *base = (const char *)&shift;
    for (int i = 0; i < list.count; i++) {
        const sn_shift_field *f = &list.fields[i];
        ck_assert_str_eq(f->name, shift_state_names[i]);
        size_t element = f->type == SN_SHIFT_FIELD_INT ? sizeof(int) : 8;
        ck_assert_uint_eq(f->bytes, (size_t)f->count * element);
        if (f->scalar) {
            ck_assert_int_eq(f->count, 1);
        } else {
            int ring = strncmp(f->name, "ring_", 5) == 0;
            ck_assert_int_eq(f->count, ring ? 7 : 5);
        }
        /* the shift's own memory: its struct, or its ring */
        const char *data = f->data;
        int inside = data >= base && data + f->bytes <= base + sizeof shift;
        ck_assert(inside || f->data == (void *)shift.ring_bucket || f->data == (void *)shift.ring_loss);
    }
    /* a visitor's failure stops the walk and is returned */
    int calls = 0;
    ck_assert_int_eq(sn_shift_visit_state(&shift, stop_at_third, &calls), SN_ERR_IO);
    ck_assert_int_eq(calls, 3);
    sn_shift_free(&shift);
}
END_TEST

START_TEST(shift_state_hash_sees_every_field)
{
    sn_shift a, b;
    init_shift(&a, 4, 6);
    init_shift(&b, 4, 6);
    const uint64_t start = 0x9e3779b97f4a7c15ull; /* any start */
    ck_assert_uint_eq(sn_shift_state_hash(&a, start), sn_shift_state_hash(&b, start));
    field_list list = {0};
    ck_assert_int_eq(sn_shift_visit_state(&a, collect_field, &list), SN_OK);
    for (int i = 0; i < list.count; i++) {
        const sn_shift_field *f = &list.fields[i];
        /* the last element of each field: a vector is hashed whole */
        unsigned char *last = (unsigned char *)f->data + f->bytes - 1;
        uint64_t before = sn_shift_state_hash(&a, start);
        *last ^= 0x40;
        ck_assert_msg(sn_shift_state_hash(&a, start) != before, "a change of %s leaves the hash",
                      f->name);
        *last ^= 0x40;
        ck_assert_uint_eq(sn_shift_state_hash(&a, start), before);
    }
    sn_shift_free(&a);
    sn_shift_free(&b);
}
END_TEST

START_TEST(shift_check_state_refuses_impossible_state)
{
    sn_shift shift;
    init_shift(&shift, 3, 4);
    ck_assert_int_eq(sn_shift_check_state(&shift), SN_OK);
    shift.options.statistic = SN_SHIFT_VARIANCE; /* fills the ring and the counts */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(sn_shift_record(&shift, i, 1.0 + i), SN_OK);
    ck_assert_int_eq(sn_shift_update(&shift, NULL, 0), SN_OK);
    ck_assert_int_eq(sn_shift_check_state(&shift), SN_OK);
    /* each broken field is named */
    const char *const fragments[] = {"ring position",   "ring_bucket[1]", "sums to",
                                     "not a distribution", "have_previous", "gumbel_bucket",
                                     "record_count[2]", "adam_t"};
    for (size_t c = 0; c < sizeof fragments / sizeof *fragments; c++) {
        sn_shift copy = shift;
        int bucket = copy.ring_bucket[1];
        switch (c) {
        case 0: copy.ring_head = 4; break;
        case 1: copy.ring_bucket[1] = 3; break;
        case 2: copy.probability[0] += 0.25; break;
        case 3: copy.beta[1] = NAN; break;
        case 4: copy.have_previous = 2; break;
        case 5: copy.gumbel_bucket = 3; break;
        case 6: copy.record_count[2] = 5; break;
        default: copy.adam_t = -1; break;
        }
        ck_assert_int_eq(sn_shift_check_state(&copy), SN_ERR_FORMAT);
        ck_assert_msg(strstr(sn_error_message(), fragments[c]) != NULL, "case %zu: %s", c,
                      sn_error_message());
        shift.ring_bucket[1] = bucket; /* the ring is shared with the copy */
    }
    ck_assert_int_eq(sn_shift_check_state(&shift), SN_OK);
    sn_shift_free(&shift);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("sampler");
    TCase *buckets = tcase_create("buckets");
    tcase_add_test(buckets, bucket_membership_by_hand);
    tcase_add_test(buckets, bucket_edges_of_a_space);
    suite_add_tcase(suite, buckets);
    TCase *samplers = tcase_create("samplers");
    tcase_add_test(samplers, samplers_are_keyed);
    tcase_add_test(samplers, flops_uniform_reaches_every_cnn_bucket);
    tcase_add_test(samplers, flops_uniform_reaches_every_vit_bucket);
    tcase_add_test(samplers, flops_uniform_histogram_is_uniform);
    tcase_add_test(samplers, sandwich_contents);
    tcase_add_test(samplers, attentive_candidates_and_selection);
    suite_add_tcase(suite, samplers);
    TCase *shift = tcase_create("shift");
    tcase_add_test(shift, beta_gradient_matches_finite_differences);
    tcase_add_test(shift, target_input_gradient_matches_finite_differences);
    tcase_add_test(shift, target_input_update_descends_the_slope_difference);
    tcase_add_test(shift, shift_moves_probability_to_the_falling_bucket);
    tcase_add_test(shift, shift_draw_follows_probabilities);
    tcase_add_test(shift, variance_statistic_picks_the_noisiest_bucket);
    tcase_add_test(shift, frozen_shift_measures_but_never_moves);
    tcase_add_test(shift, frozen_target_input_measures_but_never_moves);
    tcase_add_test(shift, shift_visitor_lists_every_state_field);
    tcase_add_test(shift, shift_state_hash_sees_every_field);
    tcase_add_test(shift, shift_check_state_refuses_impossible_state);
    suite_add_tcase(suite, shift);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
