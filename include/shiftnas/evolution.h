/*
 * shiftnas/evolution.h — evolutionary search for the best subnet under a MAC budget.
 *
 * `shiftnas search` compares sampling strategies by what this search finds in
 * the supernet each one trained: for a budget of max_macs multiply-adds
 * (sn_space_cost), the subnet with the best fitness (the CLI's fitness is the
 * validation accuracy with inherited weights after BN recalibration). The
 * search knows nothing of networks: it calls a fitness function.
 *
 * The search, with the defaults of sn_evolution_default_settings():
 *   generation 0   the seeds that fit (e.g. the generator's subnet), then
 *                  uniform draws, `population` children in all;
 *   generation g   the `parents` fittest subnets evaluated so far (elitist:
 *                  a parent survives until something beats it) breed
 *                  `population` children: the first
 *                  lround(crossover_share * population) by crossover of two
 *                  distinct parents (each dimension from either, uniformly;
 *                  a block or layer active in only one parent comes from
 *                  that one, the other holds no value for it; mutation
 *                  instead while fewer than two subnets exist), the rest by
 *                  mutation of one parent (each active dimension resampled
 *                  uniformly with mutation_probability; a block or layer the
 *                  mutation newly activates by raising a depth draws its
 *                  kernel/expand or heads/MLP ratio uniformly, as it has no
 *                  inherited value).
 * Every child is canonicalised and, if over the budget, repaired: one active
 * dimension that can shrink, chosen uniformly, is lowered by one choice, until
 * it fits (this ends: every move lowers a choice and the smallest subnet fits).
 * A child equal to a subnet already evaluated is redrawn: up to max_tries
 * times by its operator, then (after generation 0) up to max_tries times
 * uniformly, so that a population converged where every neighbour is already
 * evaluated does not end the search; then that child is given up. The
 * search ends when `evaluations` distinct subnets have been evaluated, or
 * when a whole generation finds nothing new (a space, or a budget, with fewer
 * fitting subnets than the evaluation budget).
 *
 * Uniform draws seldom come near the largest subnets, so a budget near the
 * top of the MACs range needs more evaluations or a seed near the budget
 * (the generator's subnet): on jobs/configs/cnn-space.ini with fitness = MACs,
 * the default 64 evaluations end within 1.2% of budgets up to the middle of
 * the range but 8.8% under (mean of 40 seeds) at 80% of it; 128 end 0.4% under.
 *
 * Guarantees: every subnet passed to the fitness function is canonical, has
 * MACs <= max_macs, and is passed once. Fitness ties go to the subnet
 * evaluated first (best and parents alike).
 *
 * Batches: a generation's children depend on earlier generations' fitness
 * only, so sn_evolution_search_batched asks for the fitness of a whole
 * generation's new subnets (at most `population`) in one call, which may
 * evaluate them in any order or on several processes (`shiftnas search` on
 * MPI ranks). The subnets, their order and the result are those of
 * sn_evolution_search with the same fitness, subnet by subnet.
 *
 * Randomness: child `i` of generation g draws everything (parent choices,
 * mutation, crossover, repair, redraws) from the stream
 *     (seed, SN_RNG_SAMPLER, step = g, item = SN_EVOLUTION_ITEM_BASE + i).
 * Training samplers use items slot * SN_SAMPLER_ROLES + role (< 2^30 for any
 * realistic slot) and the probability shift item 0xFFFFFFFF, so the search's
 * streams never coincide with training's even under the same seed. The result
 * is a pure function of (space, settings, max_macs, seed, seeds, fitness).
 */
#ifndef SHIFTNAS_EVOLUTION_H
#define SHIFTNAS_EVOLUTION_H

#include <stdint.h>

#include "shiftnas/api.h"
#include "shiftnas/space.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SN_EVOLUTION_ITEM_BASE = 0x40000000, /* first stream item of the search (see above) */
    SN_EVOLUTION_POPULATION_MAX = 1 << 20 /* keeps item = base + child below 2^31 */
};

/* Choices, with their defaults (sn_evolution_default_settings). */
typedef struct {
    int population;              /* children per generation, 1..SN_EVOLUTION_POPULATION_MAX: 16 */
    int evaluations;             /* budget of distinct fitness evaluations, >= 1: 64 */
    int parents;                 /* fittest subnets that breed each generation, 1..population: 4 */
    double mutation_probability; /* chance each active dimension is resampled, in [0, 1]: 0.2 */
    double crossover_share;      /* share of each generation made by crossover, in [0, 1]: 0.5 */
    int max_tries;               /* draws of one child per kind (operator, uniform), >= 1: 100 */
} sn_evolution_settings;

SN_API void sn_evolution_default_settings(sn_evolution_settings *settings);

/* The fitness of `arch` (higher is better) into *fitness. Returns SN_OK, or a
 * negative error code (with its message set) that stops the search and is
 * returned by sn_evolution_search. A NaN fitness stops it with SN_ERR_NUMERIC. */
typedef int (*sn_fitness_function)(void *context, const sn_arch *arch, double *fitness);

/* The fitness of archs[0 .. count-1] into fitness[0 .. count-1] (count >= 1);
 * otherwise as sn_fitness_function. */
typedef int (*sn_fitness_batch_function)(void *context, const sn_arch *archs, int count,
                                         double *fitness);

typedef struct {
    sn_arch best;        /* the fittest subnet evaluated (canonical) */
    double best_fitness; /* its fitness (-INFINITY before any evaluation) */
    int64_t best_macs;   /* its MACs (sn_space_cost), <= max_macs */
    int evaluations;     /* distinct subnets evaluated (<= settings->evaluations) */
    int generations;     /* generations that were run, generation 0 included */
} sn_evolution_result;

/* Runs the search. settings NULL means the defaults. seeds (seed_count of
 * them; may be NULL with 0) go first into generation 0, canonicalised, in
 * their order: a seed over the budget or equal to an earlier one is skipped,
 * and at most `population` seeds are used.
 * Errors: SN_ERR_ARGUMENT for a bad setting, a seed with a choice out of
 * range, or max_macs below the smallest subnet's MACs (the message gives both
 * figures); SN_ERR_NOMEM; the fitness function's code. On an error, *result
 * describes the evaluations made before it. Allocates one cache of
 * `evaluations` subnets, once; the loop allocates nothing. */
SN_API int sn_evolution_search(const sn_space *space, const sn_evolution_settings *settings,
                               int64_t max_macs, uint64_t seed, const sn_arch *seeds,
                               int seed_count, sn_fitness_function fitness, void *context,
                               sn_evolution_result *result);

/* The same search, a generation's new subnets at a time (see Batches above):
 * the same subnets and result as sn_evolution_search. After a failed batch
 * *result describes the evaluations before that batch (or, for a NaN, up to
 * the subnet before it). Also allocates a batch of min(population,
 * evaluations) subnets and values. */
SN_API int sn_evolution_search_batched(const sn_space *space, const sn_evolution_settings *settings,
                                       int64_t max_macs, uint64_t seed, const sn_arch *seeds,
                                       int seed_count, sn_fitness_batch_function fitness,
                                       void *context, sn_evolution_result *result);

/* Shrinks `arch` (canonicalised first) until its MACs fit max_macs, by
 * random one-choice-down moves of active dimensions drawn from the stream
 * (seed, SN_RNG_SAMPLER, 0, SN_EVOLUTION_ITEM_BASE - 1): the repair every
 * child gets. Started from the largest subnet it gives a strategy-independent
 * seed near the top of the budget, where uniform draws seldom land.
 * Returns the MACs, or SN_ERR_ARGUMENT if max_macs is below the smallest
 * subnet's. */
SN_API int64_t sn_evolution_shrink_to_fit(const sn_space *space, int64_t max_macs, uint64_t seed,
                                          sn_arch *arch);

#ifdef __cplusplus
}
#endif
#endif
