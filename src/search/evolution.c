/* The evolutionary search of `shiftnas search` (shiftnas/evolution.h): an
 * elitist genetic search over canonical subnets under a MAC budget, with a
 * cache of every evaluation so that no subnet costs two fitness calls (a call
 * is a BN recalibration plus a validation pass: the whole cost of the search).
 *
 * A generation's children depend on the fitness of earlier generations only
 * (the parents), and on their own generation's earlier children only through
 * the duplicate check. So a generation is made whole first, its new subnets
 * entered in the cache as pending, then evaluated: one at a time (a fitness
 * function) or in one call (a batch fitness function, which may spread them
 * over ranks). Both ask for the same subnets in the same order. */
#include <math.h>
#include <stdlib.h>

#include "shiftnas/error.h"
#include "shiftnas/evolution.h"

void sn_evolution_default_settings(sn_evolution_settings *settings)
{
    settings->population = 16;
    settings->evaluations = 64;
    settings->parents = 4;
    settings->mutation_probability = 0.2;
    settings->crossover_share = 0.5;
    settings->max_tries = 100;
}

/* One evaluated subnet. */
typedef struct {
    sn_arch arch;
    uint64_t hash; /* of the canonical choices: compared before the arrays */
    int64_t macs;
    double fitness;
} evaluated;

typedef struct {
    const sn_space *space;
    const sn_evolution_settings *settings;
    int64_t max_macs;
    uint64_t seed;
    sn_fitness_function fitness;             /* one of these two */
    sn_fitness_batch_function batch_fitness;
    void *context;
    evaluated *cache; /* settings->evaluations entries, in evaluation order */
    int count;        /* entries made; those from `evaluated` on are pending */
    int evaluated;
    sn_arch *batch;   /* a generation's pending subnets and their fitness, */
    double *values;   /* for the batch fitness function (batch_capacity) */
    int *parents;     /* settings->parents indices into cache, fittest first */
    int parent_count;
    sn_evolution_result *result;
} search;

static int check_settings(const sn_evolution_settings *s)
{
    if (s->population < 1 || s->population > SN_EVOLUTION_POPULATION_MAX)
        return sn_error_set(SN_ERR_ARGUMENT, "evolution: population %d is not in 1..%d",
                            s->population, SN_EVOLUTION_POPULATION_MAX);
    if (s->evaluations < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "evolution: evaluations %d is below 1",
                            s->evaluations);
    if (s->parents < 1 || s->parents > s->population)
        return sn_error_set(SN_ERR_ARGUMENT, "evolution: parents %d is not in 1..%d (population)",
                            s->parents, s->population);
    if (!(s->mutation_probability >= 0.0 && s->mutation_probability <= 1.0))
        return sn_error_set(SN_ERR_ARGUMENT, "evolution: mutation probability %g is not in [0, 1]",
                            s->mutation_probability);
    if (!(s->crossover_share >= 0.0 && s->crossover_share <= 1.0))
        return sn_error_set(SN_ERR_ARGUMENT, "evolution: crossover share %g is not in [0, 1]",
                            s->crossover_share);
    if (s->max_tries < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "evolution: max tries %d is below 1", s->max_tries);
    return SN_OK;
}

static int check_seed(const sn_space *space, const sn_arch *arch, int index)
{
    for (int d = 0; d < space->dimension_count; d++)
        if (arch->choice[d] < 0 || arch->choice[d] >= space->dimensions[d].choice_count)
            return sn_error_set(SN_ERR_ARGUMENT,
                                "evolution: seed %d: dimension %d has choice %d, not in 0..%d",
                                index, d, arch->choice[d], space->dimensions[d].choice_count - 1);
    return SN_OK;
}

/* FNV-1a over the choices. */
static uint64_t arch_hash(const sn_space *space, const sn_arch *arch)
{
    uint64_t h = 14695981039346656037ULL;
    for (int d = 0; d < space->dimension_count; d++) {
        h ^= (uint64_t)(uint32_t)arch->choice[d];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Evaluated or pending: either way asked for once. */
static int already_in_cache(const search *s, const sn_arch *arch, uint64_t hash)
{
    for (int i = 0; i < s->count; i++)
        if (s->cache[i].hash == hash && sn_arch_equal(s->space, &s->cache[i].arch, arch))
            return 1;
    return 0;
}

/* Shrinks a canonical subnet until it fits: a uniform choice among the active
 * dimensions that can go one choice down. Random rather than greedy so that
 * repaired children do not all lose the same dimension. Returns its MACs. */
static int64_t repair(const sn_space *space, int64_t max_macs, sn_rng_stream *stream,
                      sn_arch *arch)
{
    int64_t macs = sn_space_cost(space, arch).macs;
    int shrinkable[SN_SPACE_MAX_DIMENSIONS];
    while (macs > max_macs) {
        int n = 0;
        for (int d = 0; d < space->dimension_count; d++)
            if (arch->choice[d] > 0 && sn_arch_dimension_active(space, arch, d))
                shrinkable[n++] = d;
        if (n == 0)
            break; /* the smallest subnet, which fits: the caller checked max_macs */
        arch->choice[shrinkable[sn_rng_below(stream, (uint32_t)n)]]--;
        sn_arch_canonicalize(space, arch); /* a lower depth drops its last block */
        macs = sn_space_cost(space, arch).macs;
    }
    return macs;
}

/* Every dimension draws its two numbers whether used or not, so one
 * dimension's draws never depend on another's value. Dimensions come in an
 * order where a depth precedes its blocks or layers, so `child`'s depth is
 * settled when its blocks are reached. */
static void mutate(const sn_space *space, double probability, sn_rng_stream *stream,
                   const sn_arch *parent, sn_arch *child)
{
    *child = *parent;
    for (int d = 0; d < space->dimension_count; d++) {
        float u = sn_rng_uniform(stream);
        int c = (int)sn_rng_below(stream, (uint32_t)space->dimensions[d].choice_count);
        if (!sn_arch_dimension_active(space, child, d)) {
            child->choice[d] = 0; /* dropped by a lowered depth */
            continue;
        }
        /* A block a raised depth brings in has no inherited value: draw it. */
        if (!sn_arch_dimension_active(space, parent, d) || (double)u < probability)
            child->choice[d] = c;
    }
    sn_arch_canonicalize(space, child);
}

static void crossover(const sn_space *space, sn_rng_stream *stream, const sn_arch *a,
                      const sn_arch *b, sn_arch *child)
{
    *child = *a;
    for (int d = 0; d < space->dimension_count; d++) {
        int from_b = (int)sn_rng_below(stream, 2);
        /* A block inactive in one parent holds the canonical 0, not a gene:
         * the child takes it from the parent where it is active. */
        int active_a = sn_arch_dimension_active(space, a, d);
        int active_b = sn_arch_dimension_active(space, b, d);
        if (active_a != active_b)
            from_b = active_b;
        if (from_b)
            child->choice[d] = b->choice[d];
    }
    sn_arch_canonicalize(space, child);
}

/* Enters a new subnet in the cache, pending its fitness. */
static void add_pending(search *s, const sn_arch *arch, uint64_t hash, int64_t macs)
{
    evaluated *e = &s->cache[s->count++];
    e->arch = *arch;
    e->hash = hash;
    e->macs = macs;
}

static int check_fitness_code(int rc)
{
    if (rc > 0)
        return sn_error_set(SN_ERR_ARGUMENT, "evolution: the fitness function returned %d", rc);
    return rc;
}

/* The next pending subnet's fitness, in evaluation order. */
static int record(search *s, double fitness)
{
    evaluated *e = &s->cache[s->evaluated];
    if (isnan(fitness)) {
        char text[SN_ARCH_TEXT_MAX];
        if (sn_arch_format(s->space, &e->arch, text, sizeof text) != SN_OK)
            text[0] = '\0';
        return sn_error_set(SN_ERR_NUMERIC, "evolution: the fitness of %s is NaN", text);
    }
    e->fitness = fitness;
    s->evaluated++;
    sn_evolution_result *r = s->result;
    r->evaluations = s->evaluated;
    if (s->evaluated == 1 || fitness > r->best_fitness) { /* strict: a tie keeps the earlier */
        r->best = e->arch;
        r->best_fitness = fitness;
        r->best_macs = e->macs;
    }
    return SN_OK;
}

/* Every pending subnet's fitness. One at a time, a failure stops the search
 * at once (no later subnet is asked for); in a batch, the values are
 * recorded in order up to the first NaN. */
static int evaluate_pending(search *s)
{
    if (!s->batch_fitness) {
        while (s->evaluated < s->count) {
            double fitness;
            SN_TRY(check_fitness_code(
                s->fitness(s->context, &s->cache[s->evaluated].arch, &fitness)));
            SN_TRY(record(s, fitness));
        }
        return SN_OK;
    }
    int n = s->count - s->evaluated;
    if (n == 0)
        return SN_OK;
    for (int i = 0; i < n; i++)
        s->batch[i] = s->cache[s->evaluated + i].arch;
    SN_TRY(check_fitness_code(s->batch_fitness(s->context, s->batch, n, s->values)));
    for (int i = 0; i < n; i++)
        SN_TRY(record(s, s->values[i]));
    return SN_OK;
}

/* The `parents` fittest subnets evaluated so far, fittest first; an equal
 * fitness ranks the earlier evaluation first (strict comparison below). */
static void select_parents(search *s)
{
    int k = s->settings->parents, n = 0;
    for (int i = 0; i < s->count; i++) {
        double f = s->cache[i].fitness;
        int at = n;
        while (at > 0 && f > s->cache[s->parents[at - 1]].fitness)
            at--;
        if (at >= k)
            continue;
        if (n < k)
            n++;
        for (int j = n - 1; j > at; j--)
            s->parents[j] = s->parents[j - 1];
        s->parents[at] = i;
    }
    s->parent_count = n;
}

/* Child `slot` of `generation`: a new subnet that fits, into *arch, or 0 if
 * every draw gave a subnet already evaluated. After generation 0 a child makes
 * max_tries draws by crossover or mutation, then max_tries uniform draws: a
 * population converged on a corner whose neighbours are all evaluated must
 * not end the search while the budget still has unexplored subnets. */
static int make_child(const search *s, int generation, int slot, sn_arch *arch, uint64_t *hash,
                      int64_t *macs)
{
    const sn_space *space = s->space;
    const sn_evolution_settings *set = s->settings;
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, s->seed, SN_RNG_SAMPLER, (uint64_t)generation,
                       (uint32_t)SN_EVOLUTION_ITEM_BASE + (uint32_t)slot);
    int crossovers = (int)lround(set->crossover_share * set->population);
    int tries = generation == 0 ? set->max_tries : 2 * set->max_tries;
    for (int t = 0; t < tries; t++) {
        if (generation == 0 || t >= set->max_tries) {
            sn_arch_sample_uniform(space, &stream, arch);
        } else if (slot < crossovers && s->parent_count >= 2) {
            uint32_t pc = (uint32_t)s->parent_count;
            uint32_t a = sn_rng_below(&stream, pc), b = sn_rng_below(&stream, pc - 1);
            if (b >= a)
                b++; /* two distinct parents */
            crossover(space, &stream, &s->cache[s->parents[a]].arch,
                      &s->cache[s->parents[b]].arch, arch);
        } else {
            uint32_t a = sn_rng_below(&stream, (uint32_t)s->parent_count);
            mutate(space, set->mutation_probability, &stream, &s->cache[s->parents[a]].arch, arch);
        }
        *macs = repair(space, s->max_macs, &stream, arch);
        *hash = arch_hash(space, arch);
        if (!already_in_cache(s, arch, *hash))
            return 1;
    }
    return 0;
}

/* Generation 0's seeds, pending: *used = how many. */
static void add_seeds(search *s, const sn_arch *seeds, int seed_count, int *used)
{
    *used = 0;
    for (int i = 0; i < seed_count && *used < s->settings->population &&
                    s->count < s->settings->evaluations;
         i++) {
        sn_arch arch = seeds[i];
        sn_arch_canonicalize(s->space, &arch);
        int64_t macs = sn_space_cost(s->space, &arch).macs;
        uint64_t hash = arch_hash(s->space, &arch);
        if (macs > s->max_macs || already_in_cache(s, &arch, hash))
            continue;
        add_pending(s, &arch, hash, macs);
        (*used)++;
    }
}

static int run(search *s, const sn_arch *seeds, int seed_count)
{
    const sn_evolution_settings *set = s->settings;
    int first_slot = 0;
    for (int g = 0; s->count < set->evaluations; g++) {
        s->result->generations = g + 1;
        int before = s->count;
        if (g == 0)
            add_seeds(s, seeds, seed_count, &first_slot);
        else
            select_parents(s);
        for (int i = g == 0 ? first_slot : 0; i < set->population && s->count < set->evaluations;
             i++) {
            sn_arch arch;
            uint64_t hash;
            int64_t macs;
            if (make_child(s, g, i, &arch, &hash, &macs))
                add_pending(s, &arch, hash, macs);
        }
        if (s->count == before)
            break; /* nothing new within max_tries for any child: the fitting space is spent */
        SN_TRY(evaluate_pending(s));
    }
    return SN_OK;
}

int64_t sn_evolution_shrink_to_fit(const sn_space *space, int64_t max_macs, uint64_t seed,
                                   sn_arch *arch)
{
    sn_arch smallest;
    sn_arch_smallest(space, &smallest);
    int64_t smallest_macs = sn_space_cost(space, &smallest).macs;
    if (max_macs < smallest_macs)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "evolution: MAC budget %lld is below the smallest subnet's %lld MACs",
                            (long long)max_macs, (long long)smallest_macs);
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, seed, SN_RNG_SAMPLER, 0, SN_EVOLUTION_ITEM_BASE - 1);
    sn_arch_canonicalize(space, arch);
    return repair(space, max_macs, &stream, arch);
}

/* The search with either kind of fitness function (the other NULL). */
static int search_with(const sn_space *space, const sn_evolution_settings *settings,
                       int64_t max_macs, uint64_t seed, const sn_arch *seeds, int seed_count,
                       sn_fitness_function fitness, sn_fitness_batch_function batch_fitness,
                       void *context, sn_evolution_result *result)
{
    sn_evolution_settings defaults;
    if (!settings) {
        sn_evolution_default_settings(&defaults);
        settings = &defaults;
    }
    result->best_fitness = -INFINITY;
    sn_arch_smallest(space, &result->best);
    result->best_macs = 0;
    result->evaluations = 0;
    result->generations = 0;
    if (!fitness && !batch_fitness)
        return sn_error_set(SN_ERR_ARGUMENT, "evolution: no fitness function");
    SN_TRY(check_settings(settings));
    if (seed_count < 0 || (seed_count > 0 && !seeds))
        return sn_error_set(SN_ERR_ARGUMENT, "evolution: seed count %d without %s", seed_count,
                            seed_count < 0 ? "meaning" : "an array");
    for (int i = 0; i < seed_count; i++)
        SN_TRY(check_seed(space, &seeds[i], i));
    sn_arch smallest;
    sn_arch_smallest(space, &smallest);
    int64_t smallest_macs = sn_space_cost(space, &smallest).macs;
    if (max_macs < smallest_macs)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "evolution: MAC budget %lld is below the smallest subnet's %lld MACs",
                            (long long)max_macs, (long long)smallest_macs);

    search s = {.space = space, .settings = settings, .max_macs = max_macs, .seed = seed,
                .fitness = fitness, .batch_fitness = batch_fitness, .context = context,
                .result = result};
    /* a generation adds at most `population` subnets, and never more than the budget */
    int batch_capacity = settings->population < settings->evaluations ? settings->population
                                                                      : settings->evaluations;
    s.cache = malloc((size_t)settings->evaluations * sizeof *s.cache);
    s.parents = malloc((size_t)settings->parents * sizeof *s.parents);
    if (batch_fitness) {
        s.batch = malloc((size_t)batch_capacity * sizeof *s.batch);
        s.values = malloc((size_t)batch_capacity * sizeof *s.values);
    }
    int rc = SN_OK;
    if (!s.cache || !s.parents || (batch_fitness && (!s.batch || !s.values)))
        rc = sn_error_set(SN_ERR_NOMEM, "evolution: no memory for a cache of %d subnets",
                          settings->evaluations);
    else
        rc = run(&s, seeds, seed_count);
    free(s.cache);
    free(s.parents);
    free(s.batch);
    free(s.values);
    return rc;
}

int sn_evolution_search(const sn_space *space, const sn_evolution_settings *settings,
                        int64_t max_macs, uint64_t seed, const sn_arch *seeds, int seed_count,
                        sn_fitness_function fitness, void *context, sn_evolution_result *result)
{
    return search_with(space, settings, max_macs, seed, seeds, seed_count, fitness, NULL, context,
                       result);
}

int sn_evolution_search_batched(const sn_space *space, const sn_evolution_settings *settings,
                                int64_t max_macs, uint64_t seed, const sn_arch *seeds,
                                int seed_count, sn_fitness_batch_function fitness, void *context,
                                sn_evolution_result *result)
{
    return search_with(space, settings, max_macs, seed, seeds, seed_count, NULL, fitness, context,
                       result);
}
