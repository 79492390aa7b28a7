/* The evolutionary search (src/search/evolution.c) over synthetic fitness
 * functions whose optimum is known: the subnet's MACs (the optimum is the
 * largest subnet under the budget) and minus the Hamming distance to a hidden
 * subnet. A probe fitness checks every call: the subnet fits the budget, is
 * canonical, and was not passed before. */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/evolution.h"
#include "shiftnas/rng.h"
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

/* The tiny spaces of test_space_core.c: a two-stage CNN (16x16x1) and a
 * three-layer ViT (8x8x1), small enough to enumerate. */
static sn_space_description tiny_cnn(void)
{
    sn_space_description d;
    memset(&d, 0, sizeof d);
    d.type = SN_SPACE_CNN;
    d.image_channels = 1, d.image_size = 16, d.classes = 10;
    d.stem_channels = 8, d.stem_stride = 2, d.stem_kernel = 3;
    d.stage_count = 2;
    d.stage_channels[0] = 8, d.stage_channels[1] = 16;
    d.stage_strides[0] = 1, d.stage_strides[1] = 2;
    d.width_ratio_count = 2, d.width_ratios[0] = 0.5, d.width_ratios[1] = 1.0;
    d.depth_count = 2, d.depths[0] = 1, d.depths[1] = 2;
    d.kernel_count = 2, d.kernels[0] = 3, d.kernels[1] = 5;
    d.expand_count = 2, d.expand_ratios[0] = 2.0, d.expand_ratios[1] = 3.0;
    return d;
}

static sn_space_description tiny_vit(void)
{
    sn_space_description d;
    memset(&d, 0, sizeof d);
    d.type = SN_SPACE_VIT;
    d.image_channels = 1, d.image_size = 8, d.classes = 3;
    d.patch = 4, d.head_dim = 4;
    d.embed_count = 2, d.embeds[0] = 8, d.embeds[1] = 12;
    d.depth_count = 3, d.depths[0] = 1, d.depths[1] = 2, d.depths[2] = 3;
    d.heads_count = 2, d.heads[0] = 1, d.heads[1] = 2;
    d.mlp_ratio_count = 2, d.mlp_ratios[0] = 1.0, d.mlp_ratios[1] = 2.5;
    return d;
}

static int64_t macs_of(const sn_space *space, const sn_arch *arch)
{
    return sn_space_cost(space, arch).macs;
}

static void macs_range(const sn_space *space, int64_t *lo, int64_t *hi)
{
    sn_arch a;
    sn_arch_smallest(space, &a);
    *lo = macs_of(space, &a);
    sn_arch_largest(space, &a);
    *hi = macs_of(space, &a);
}

/* ---- the probe fitness ----------------------------------------------------- */

enum { FIT_MACS, FIT_TARGET, FIT_CONSTANT };
enum { PROBE_CAPACITY = 512 };

typedef struct {
    const sn_space *space;
    int64_t max_macs;
    int kind;
    sn_arch target;    /* FIT_TARGET: fitness = -(differing dimensions) */
    int fail_at;       /* > 0: the fail_at-th call returns SN_ERR_IO */
    int count;
    sn_arch *seen;     /* every subnet passed, in order (PROBE_CAPACITY) */
} probe;

static void probe_init(probe *p, const sn_space *space, int64_t max_macs, int kind)
{
    memset(p, 0, sizeof *p);
    p->space = space;
    p->max_macs = max_macs;
    p->kind = kind;
    p->seen = calloc(PROBE_CAPACITY, sizeof *p->seen);
    ck_assert(p->seen != NULL);
}

static void probe_free(probe *p)
{
    free(p->seen);
    p->seen = NULL;
}

static int hamming(const sn_space *space, const sn_arch *a, const sn_arch *b)
{
    int n = 0;
    for (int d = 0; d < space->dimension_count; d++)
        n += a->choice[d] != b->choice[d];
    return n;
}

static int probe_fitness(void *context, const sn_arch *arch, double *fitness)
{
    probe *p = context;
    int64_t macs = macs_of(p->space, arch);
    ck_assert_msg(macs <= p->max_macs, "evaluated a subnet of %" PRId64 " MACs over the budget %" PRId64,
                  macs, p->max_macs);
    sn_arch canonical = *arch;
    sn_arch_canonicalize(p->space, &canonical);
    ck_assert_msg(memcmp(&canonical, arch, sizeof canonical) == 0, "evaluated a non-canonical subnet");
    for (int i = 0; i < p->count; i++)
        ck_assert_msg(!sn_arch_equal(p->space, &p->seen[i], arch),
                      "evaluation %d repeats evaluation %d", p->count, i);
    ck_assert(p->count < PROBE_CAPACITY);
    p->seen[p->count++] = *arch;
    if (p->fail_at == p->count)
        return sn_error_set(SN_ERR_IO, "probe: evaluation %d fails", p->count);
    switch (p->kind) {
    case FIT_MACS:
        *fitness = (double)macs;
        break;
    case FIT_TARGET:
        *fitness = -(double)hamming(p->space, arch, &p->target);
        break;
    default:
        *fitness = 1.0;
    }
    return SN_OK;
}

static void run_ok(const sn_space *space, const sn_evolution_settings *settings, int64_t max_macs,
                   uint64_t seed, const sn_arch *seeds, int seed_count, probe *p,
                   sn_evolution_result *r)
{
    int rc = sn_evolution_search(space, settings, max_macs, seed, seeds, seed_count, probe_fitness,
                                 p, r);
    ck_assert_msg(rc == SN_OK, "search: %s", sn_error_message());
    ck_assert_int_eq(r->evaluations, p->count);
    ck_assert(r->best_macs <= max_macs);
    ck_assert_int_eq(r->best_macs, macs_of(space, &r->best));
}

/* ---- tests ------------------------------------------------------------------- */

/* Fitness = MACs on the CNN space of jobs/configs/cnn-space.ini (802328 ..
 * 8476704 MACs): the best subnet found must be within 3% under the budget.
 * Budgets at 10%, 30% and 50% of the MACs range with the default 64
 * evaluations (over seeds 1..40 the worst was 0.55%, 1.12%, 1.10% under), and
 * at 80% with 128 evaluations (worst of 40 seeds 1.50%). Near the top of the
 * range 64 evaluations are not enough: at 80% the mean over 40 seeds was
 * 8.8% under (worst 22%), since uniform draws rarely come near the largest
 * subnets and three generations climb only so far. Every evaluation fits and
 * is new (the probe), and the whole evaluation budget is used. */
START_TEST(macs_fitness_gets_close_to_the_budget)
{
    sn_space space;
    load_space("cnn-space.ini", &space);
    int64_t lo, hi;
    macs_range(&space, &lo, &hi);
    const double fractions[4] = {0.1, 0.3, 0.5, 0.8};
    const int evaluations[4] = {64, 64, 64, 128};
    for (int i = 0; i < 4; i++) {
        int64_t budget = lo + (int64_t)(fractions[i] * (double)(hi - lo));
        sn_evolution_settings s;
        sn_evolution_default_settings(&s);
        s.evaluations = evaluations[i];
        probe p;
        probe_init(&p, &space, budget, FIT_MACS);
        sn_evolution_result r;
        run_ok(&space, &s, budget, 11, NULL, 0, &p, &r);
        printf("budget %" PRId64 " (range %" PRId64 "..%" PRId64 "): best %" PRId64
               " MACs (%.2f%% under), %d evaluations, %d generations\n",
               budget, lo, hi, r.best_macs, 100.0 * (double)(budget - r.best_macs) / (double)budget,
               r.evaluations, r.generations);
        ck_assert_int_eq(r.evaluations, s.evaluations);
        ck_assert_int_eq(r.generations, s.evaluations / s.population);
        ck_assert_msg((double)r.best_macs >= 0.97 * (double)budget,
                      "best %" PRId64 " is more than 3%% under the budget %" PRId64, r.best_macs,
                      budget);
        ck_assert(r.best_fitness == (double)r.best_macs);
        probe_free(&p);
    }
}
END_TEST

/* Fitness = -(dimensions differing from a hidden subnet) at half the MACs
 * range. Random search with the same budget is the same search with a single
 * generation (population = evaluations = 64: seed-keyed uniform draws,
 * repaired to fit). Over seeds 1..6, evolution's best must beat random's on
 * average and not lose on any of these seeds. Figures when written (24
 * dimensions): evolution -2.17 mean (per seed -1 -4 -4 -2 -1 -1), random
 * -4.50 (-4 -6 -4 -6 -3 -4). Over seeds 1..100: evolution -2.71, random
 * -5.18; evolution lost on 2 seeds and tied on 7, so the per-seed check is a
 * property of these six seeds, the mean is the general one. */
START_TEST(evolution_beats_random_search_on_a_hidden_target)
{
    sn_space space;
    load_space("cnn-space.ini", &space);
    int64_t lo, hi;
    macs_range(&space, &lo, &hi);
    int64_t budget = lo + (hi - lo) / 2;
    sn_arch target;
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 2024, SN_RNG_TEST, 0, 0);
    do
        sn_arch_sample_uniform(&space, &stream, &target);
    while (macs_of(&space, &target) > budget);

    sn_evolution_settings evolution, random;
    sn_evolution_default_settings(&evolution);
    random = evolution;
    random.population = random.evaluations;
    double evolution_sum = 0.0, random_sum = 0.0;
    enum { SEEDS = 6 };
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        sn_evolution_result re, rr;
        probe p;
        probe_init(&p, &space, budget, FIT_TARGET);
        p.target = target;
        run_ok(&space, &evolution, budget, seed, NULL, 0, &p, &re);
        ck_assert_int_eq(re.evaluations, evolution.evaluations);
        probe_free(&p);
        probe_init(&p, &space, budget, FIT_TARGET);
        p.target = target;
        run_ok(&space, &random, budget, seed, NULL, 0, &p, &rr);
        ck_assert_int_eq(rr.evaluations, random.evaluations);
        ck_assert_int_eq(rr.generations, 1);
        probe_free(&p);
        printf("seed %d: evolution %g, random %g\n", (int)seed, re.best_fitness, rr.best_fitness);
        ck_assert_msg(re.best_fitness >= rr.best_fitness, "seed %d: evolution %g < random %g",
                      (int)seed, re.best_fitness, rr.best_fitness);
        evolution_sum += re.best_fitness;
        random_sum += rr.best_fitness;
    }
    printf("%d dimensions: evolution mean %.2f, random mean %.2f\n", space.dimension_count,
           evolution_sum / SEEDS, random_sum / SEEDS);
    ck_assert(evolution_sum > random_sum);
}
END_TEST

/* Same inputs, same sequence of evaluations and the same result; another
 * seed evaluates other subnets. */
START_TEST(search_is_deterministic)
{
    sn_space space;
    load_space("cnn-space.ini", &space);
    int64_t lo, hi;
    macs_range(&space, &lo, &hi);
    int64_t budget = lo + (hi - lo) / 3;
    probe a, b, c;
    sn_evolution_result ra, rb, rc;
    probe_init(&a, &space, budget, FIT_MACS);
    probe_init(&b, &space, budget, FIT_MACS);
    probe_init(&c, &space, budget, FIT_MACS);
    run_ok(&space, NULL, budget, 99, NULL, 0, &a, &ra);
    run_ok(&space, NULL, budget, 99, NULL, 0, &b, &rb);
    run_ok(&space, NULL, budget, 100, NULL, 0, &c, &rc);
    ck_assert_int_eq(a.count, b.count);
    ck_assert(memcmp(a.seen, b.seen, (size_t)a.count * sizeof *a.seen) == 0);
    ck_assert(memcmp(&ra, &rb, sizeof ra) == 0);
    int differ = 0;
    for (int i = 0; i < a.count && i < c.count; i++)
        differ += !sn_arch_equal(&space, &a.seen[i], &c.seen[i]);
    ck_assert_int_gt(differ, a.count / 2);
    probe_free(&a);
    probe_free(&b);
    probe_free(&c);
}
END_TEST

/* A budget under the smallest subnet: SN_ERR_ARGUMENT naming both figures,
 * and no evaluation. */
/* The strategy-independent seed of `shiftnas search`: the largest subnet
 * shrunk at random until it fits. It fits, it is canonical, it is the same
 * for the same seed, and a loose budget leaves the largest subnet alone. */
START_TEST(shrink_to_fit_fits_and_is_keyed)
{
    sn_space space;
    load_space("cnn-space.ini", &space);
    int64_t lo, hi;
    macs_range(&space, &lo, &hi);
    for (int i = 1; i <= 9; i++) {
        int64_t budget = lo + (hi - lo) * i / 10;
        sn_arch a, b, canonical;
        sn_arch_largest(&space, &a);
        sn_arch_largest(&space, &b);
        int64_t macs = sn_evolution_shrink_to_fit(&space, budget, 7, &a);
        ck_assert(macs == macs_of(&space, &a));
        ck_assert_msg(macs <= budget, "%lld over the budget %lld", (long long)macs,
                      (long long)budget);
        /* one step short of the budget: shrinking stops at the first fit, so
         * the seed is near the top of the budget, not at the bottom */
        ck_assert_msg(macs > lo, "shrank to the smallest subnet for budget %lld", (long long)budget);
        canonical = a;
        sn_arch_canonicalize(&space, &canonical);
        ck_assert(sn_arch_equal(&space, &a, &canonical));
        ck_assert_int_eq(sn_evolution_shrink_to_fit(&space, budget, 7, &b), macs);
        ck_assert(sn_arch_equal(&space, &a, &b));
    }
    sn_arch largest, copy;
    sn_arch_largest(&space, &largest);
    copy = largest;
    ck_assert_int_eq(sn_evolution_shrink_to_fit(&space, hi, 1, &copy), hi);
    ck_assert(sn_arch_equal(&space, &copy, &largest));
    ck_assert_int_eq(sn_evolution_shrink_to_fit(&space, lo - 1, 1, &copy), SN_ERR_ARGUMENT);
}
END_TEST

START_TEST(budget_below_the_smallest_subnet_is_refused)
{
    sn_space space;
    load_space("cnn-space.ini", &space);
    int64_t lo, hi;
    macs_range(&space, &lo, &hi);
    probe p;
    probe_init(&p, &space, lo - 1, FIT_MACS);
    sn_evolution_result r;
    sn_error_clear();
    ck_assert_int_eq(sn_evolution_search(&space, NULL, lo - 1, 1, NULL, 0, probe_fitness, &p, &r),
                     SN_ERR_ARGUMENT);
    char budget[32], smallest[32];
    snprintf(budget, sizeof budget, "%" PRId64, lo - 1);
    snprintf(smallest, sizeof smallest, "%" PRId64, lo);
    ck_assert_msg(strstr(sn_error_message(), budget) != NULL, "%s", sn_error_message());
    ck_assert_msg(strstr(sn_error_message(), smallest) != NULL, "%s", sn_error_message());
    ck_assert_int_eq(p.count, 0);
    ck_assert_int_eq(r.evaluations, 0);
    /* exactly the smallest is a valid budget: only the smallest subnet fits */
    sn_evolution_settings s;
    sn_evolution_default_settings(&s);
    s.max_tries = 10;
    p.max_macs = lo;
    run_ok(&space, &s, lo, 1, NULL, 0, &p, &r);
    ck_assert_int_eq(r.evaluations, 1);
    ck_assert_int_eq(r.best_macs, lo);
    probe_free(&p);
}
END_TEST

/* Seeds: one over the budget is never evaluated; one under it (given in a
 * non-canonical form) is evaluated first, canonicalised; its repeat is
 * skipped; a seed with a choice out of range is refused. With a constant
 * fitness every tie goes to the first evaluation: the seed is the best. */
START_TEST(seeds_that_fit_go_first)
{
    sn_space space;
    load_space("cnn-space.ini", &space);
    int64_t lo, hi;
    macs_range(&space, &lo, &hi);
    int64_t budget = lo + (hi - lo) / 2;
    sn_arch seeds[3];
    sn_arch_largest(&space, &seeds[0]);
    ck_assert(macs_of(&space, &seeds[0]) > budget);
    sn_arch_smallest(&space, &seeds[1]);
    seeds[1].choice[space.width_dimension[0]] = 1;
    int inactive = space.kernel_dimension[0][2]; /* stage 0 block 2: beyond depth 1 */
    ck_assert(!sn_arch_dimension_active(&space, &seeds[1], inactive));
    seeds[1].choice[inactive] = 1;
    seeds[2] = seeds[1];
    sn_arch canonical = seeds[1];
    sn_arch_canonicalize(&space, &canonical);

    probe p;
    probe_init(&p, &space, budget, FIT_CONSTANT);
    sn_evolution_result r;
    run_ok(&space, NULL, budget, 5, seeds, 3, &p, &r);
    ck_assert(memcmp(&p.seen[0], &canonical, sizeof canonical) == 0);
    for (int i = 0; i < p.count; i++)
        ck_assert(!sn_arch_equal(&space, &p.seen[i], &seeds[0]));
    ck_assert(memcmp(&r.best, &canonical, sizeof canonical) == 0);
    ck_assert(r.best_fitness == 1.0);
    probe_free(&p);

    seeds[2].choice[space.depth_dimension[1]] = 7;
    probe_init(&p, &space, budget, FIT_CONSTANT);
    ck_assert_int_eq(sn_evolution_search(&space, NULL, budget, 5, seeds, 3, probe_fitness, &p, &r),
                     SN_ERR_ARGUMENT);
    ck_assert_msg(strstr(sn_error_message(), "seed 2") != NULL, "%s", sn_error_message());
    ck_assert_int_eq(p.count, 0);
    probe_free(&p);
}
END_TEST

/* The fitness function's error stops the search at once and comes back with
 * its message; a NaN fitness is SN_ERR_NUMERIC. */
static int nan_fitness(void *context, const sn_arch *arch, double *fitness)
{
    (void)arch;
    ++*(int *)context;
    *fitness = NAN;
    return SN_OK;
}

START_TEST(fitness_errors_stop_the_search)
{
    sn_space space;
    load_space("cnn-space.ini", &space);
    int64_t lo, hi;
    macs_range(&space, &lo, &hi);
    probe p;
    probe_init(&p, &space, hi, FIT_MACS);
    p.fail_at = 21; /* inside generation 1 */
    sn_evolution_result r;
    ck_assert_int_eq(sn_evolution_search(&space, NULL, hi, 3, NULL, 0, probe_fitness, &p, &r),
                     SN_ERR_IO);
    ck_assert_str_eq(sn_error_message(), "probe: evaluation 21 fails");
    ck_assert_int_eq(p.count, 21);
    ck_assert_int_eq(r.evaluations, 20);
    ck_assert_int_eq(r.generations, 2);
    probe_free(&p);

    int calls = 0;
    ck_assert_int_eq(sn_evolution_search(&space, NULL, hi, 3, NULL, 0, nan_fitness, &calls, &r),
                     SN_ERR_NUMERIC);
    ck_assert_int_eq(calls, 1);
    ck_assert_msg(strstr(sn_error_message(), "cnn:") != NULL, "%s", sn_error_message());
}
END_TEST

/* Each distinct canonical subnet of a tiny space that fits `budget`, by
 * enumerating every choice vector and keeping the canonical ones. */
static int count_fitting(const sn_space *space, int64_t budget, int64_t *macs_sorted, int capacity)
{
    int n = 0, digits[SN_SPACE_MAX_DIMENSIONS] = {0};
    for (;;) {
        sn_arch a;
        memset(&a, 0, sizeof a);
        for (int d = 0; d < space->dimension_count; d++)
            a.choice[d] = digits[d];
        sn_arch c = a;
        sn_arch_canonicalize(space, &c);
        if (memcmp(&a, &c, sizeof a) == 0 && macs_of(space, &a) <= budget) {
            ck_assert(n < capacity);
            macs_sorted[n++] = macs_of(space, &a);
        }
        int d = 0;
        while (d < space->dimension_count && ++digits[d] == space->dimensions[d].choice_count)
            digits[d++] = 0;
        if (d == space->dimension_count)
            return n;
    }
}

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* A budget that leaves fewer fitting subnets than evaluations (tiny CNN and
 * ViT; the 25th-smallest MACs as budget): the search evaluates every one of
 * them once, finds the largest, and stops instead of looping (seeds 1..4).
 * With the whole tiny ViT space (168 subnets) and 500 evaluations allowed, it
 * evaluates exactly the space's architecture count. */
START_TEST(small_spaces_are_exhausted_and_the_search_stops)
{
    sn_space_description descs[2] = {tiny_cnn(), tiny_vit()};
    static int64_t macs[4096];
    for (int i = 0; i < 2; i++) {
        sn_space space;
        ck_assert_msg(sn_space_build(&space, &descs[i]) == SN_OK, "%s", sn_error_message());
        int64_t lo, hi;
        macs_range(&space, &lo, &hi);
        int all = count_fitting(&space, hi, macs, 4096);
        ck_assert_int_eq(all, (int)sn_space_architecture_count(&space));
        qsort(macs, (size_t)all, sizeof macs[0], compare_i64);
        int64_t budget = macs[24];
        int fitting = count_fitting(&space, budget, macs, 4096);
        ck_assert_int_ge(fitting, 25);
        ck_assert_int_lt(fitting, 64);
        probe p;
        sn_evolution_result r;
        for (uint64_t seed = 1; seed <= 4; seed++) {
            probe_init(&p, &space, budget, FIT_MACS);
            run_ok(&space, NULL, budget, seed, NULL, 0, &p, &r);
            printf("tiny %s, seed %d: %d subnets fit %" PRId64 " MACs; %d evaluated in %d generations\n",
                   i == 0 ? "cnn" : "vit", (int)seed, fitting, budget, r.evaluations, r.generations);
            ck_assert_int_eq(r.evaluations, fitting);
            ck_assert_int_eq(r.best_macs, budget);
            probe_free(&p);
        }

        if (all < 500) {
            sn_evolution_settings s;
            sn_evolution_default_settings(&s);
            s.evaluations = 500;
            probe_init(&p, &space, hi, FIT_MACS);
            run_ok(&space, &s, hi, 8, NULL, 0, &p, &r);
            ck_assert_int_eq(r.evaluations, all);
            ck_assert_int_eq(r.best_macs, hi);
            probe_free(&p);
        }
    }
}
END_TEST

START_TEST(bad_settings_are_refused)
{
    sn_space space;
    load_space("cnn-space.ini", &space);
    int64_t lo, hi;
    macs_range(&space, &lo, &hi);
    sn_evolution_settings base, s;
    sn_evolution_default_settings(&base);
    ck_assert_int_eq(base.population, 16);
    ck_assert_int_eq(base.evaluations, 64);
    ck_assert_int_eq(base.parents, 4);
    ck_assert_int_eq(base.max_tries, 100);
    int calls = 0;
    sn_evolution_result r;
    const char *needles[7] = {"population", "evaluations", "parents", "parents",
                              "mutation", "crossover", "tries"};
    for (int i = 0; i < 7; i++) {
        s = base;
        switch (i) {
        case 0: s.population = 0; break;
        case 1: s.evaluations = 0; break;
        case 2: s.parents = 0; break;
        case 3: s.parents = s.population + 1; break;
        case 4: s.mutation_probability = 1.5; break;
        case 5: s.crossover_share = NAN; break;
        default: s.max_tries = 0;
        }
        ck_assert_int_eq(sn_evolution_search(&space, &s, hi, 1, NULL, 0, nan_fitness, &calls, &r),
                         SN_ERR_ARGUMENT);
        ck_assert_msg(strstr(sn_error_message(), needles[i]) != NULL, "case %d: %s", i,
                      sn_error_message());
    }
    ck_assert_int_eq(calls, 0);
}
END_TEST

/* The batched search asks for the same subnets in the same order and finds
 * the same result, a generation at a time (batches of at most `population`),
 * with and without seeds, over budgets across the range and small
 * populations whose last batch is cut by the budget. */
typedef struct {
    probe *p;
    int calls, largest;
    int population;
} batch_probe;

static int batch_probe_fitness(void *context, const sn_arch *archs, int count, double *fitness)
{
    batch_probe *b = context;
    ck_assert_int_ge(count, 1);
    ck_assert_int_le(count, b->population);
    b->calls++;
    if (count > b->largest)
        b->largest = count;
    for (int i = 0; i < count; i++)
        SN_TRY(probe_fitness(b->p, &archs[i], &fitness[i]));
    return SN_OK;
}

START_TEST(batches_ask_for_the_same_subnets)
{
    sn_space space;
    load_space("cnn-space.ini", &space);
    int64_t lo, hi;
    macs_range(&space, &lo, &hi);
    sn_arch seed_arch;
    sn_arch_largest(&space, &seed_arch);
    const int populations[3] = {16, 5, 64};
    for (int i = 1; i <= 4; i++) {
        int64_t budget = lo + (hi - lo) * i / 5;
        sn_evolution_settings s;
        sn_evolution_default_settings(&s);
        s.population = populations[i % 3];
        s.evaluations = 64;
        s.parents = 4;
        probe a, b;
        probe_init(&a, &space, budget, FIT_MACS);
        probe_init(&b, &space, budget, FIT_MACS);
        sn_evolution_result ra, rb;
        int seeds = i % 2;
        run_ok(&space, &s, budget, (uint64_t)i, seeds ? &seed_arch : NULL, seeds, &a, &ra);
        batch_probe batch = {&b, 0, 0, s.population};
        ck_assert_int_eq(sn_evolution_search_batched(&space, &s, budget, (uint64_t)i,
                                                     seeds ? &seed_arch : NULL, seeds,
                                                     batch_probe_fitness, &batch, &rb),
                         SN_OK);
        ck_assert_int_eq(a.count, b.count);
        ck_assert(memcmp(a.seen, b.seen, (size_t)a.count * sizeof *a.seen) == 0);
        ck_assert(memcmp(&ra, &rb, sizeof ra) == 0);
        ck_assert_int_eq(batch.calls, rb.generations);
        ck_assert_int_eq(batch.largest, s.population);
        probe_free(&a);
        probe_free(&b);
    }
    /* a failing batch stops the search, with the evaluations before it */
    probe p;
    probe_init(&p, &space, hi, FIT_MACS);
    p.fail_at = 21; /* inside generation 1's batch (16..31) */
    batch_probe batch = {&p, 0, 0, 16};
    sn_evolution_result r;
    ck_assert_int_eq(sn_evolution_search_batched(&space, NULL, hi, 3, NULL, 0, batch_probe_fitness,
                                                 &batch, &r),
                     SN_ERR_IO);
    ck_assert_str_eq(sn_error_message(), "probe: evaluation 21 fails");
    ck_assert_int_eq(r.evaluations, 16);
    ck_assert_int_eq(batch.calls, 2);
    probe_free(&p);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("evolution");
    TCase *search = tcase_create("search");
    tcase_add_test(search, macs_fitness_gets_close_to_the_budget);
    tcase_add_test(search, evolution_beats_random_search_on_a_hidden_target);
    tcase_add_test(search, search_is_deterministic);
    tcase_add_test(search, small_spaces_are_exhausted_and_the_search_stops);
    tcase_add_test(search, batches_ask_for_the_same_subnets);
    suite_add_tcase(suite, search);
    TCase *contract = tcase_create("contract");
    tcase_add_test(contract, budget_below_the_smallest_subnet_is_refused);
    tcase_add_test(contract, shrink_to_fit_fits_and_is_keyed);
    tcase_add_test(contract, seeds_that_fit_go_first);
    tcase_add_test(contract, fitness_errors_stop_the_search);
    tcase_add_test(contract, bad_settings_are_refused);
    suite_add_tcase(suite, contract);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
