/* The measurements of `shiftnas search` spread over the ranks (search_ranks.h). */
#include "search_ranks.h"

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "shiftnas/error.h"

struct candidate_cost {
    double cost;
    int index;
};
typedef struct candidate_cost candidate_cost;

int sn_search_fitness_init(sn_search_fitness *f, const sn_dist *dist, const sn_space *space,
                           const sn_subnet_evaluator *evaluator, sn_image_source *source,
                           const uint32_t *indices, int64_t count, int capacity)
{
    memset(f, 0, sizeof *f);
    f->dist = dist;
    f->space = space;
    f->evaluator = *evaluator;
    f->source = source;
    f->indices = indices;
    f->count = count;
    f->capacity = capacity;
    int ranks = sn_dist_size(dist);
    f->owner = malloc((size_t)capacity * sizeof *f->owner);
    f->load = malloc((size_t)ranks * sizeof *f->load);
    f->counts = malloc((size_t)ranks * sizeof *f->counts);
    /* two values per candidate: its accuracy and its loss */
    f->mine = malloc((size_t)(2 * capacity) * sizeof *f->mine);
    f->gathered = malloc((size_t)(2 * capacity) * sizeof *f->gathered);
    f->order = malloc((size_t)capacity * sizeof *f->order);
    if (!f->owner || !f->load || !f->counts || !f->mine || !f->gathered || !f->order) {
        sn_search_fitness_free(f);
        return sn_error_set(SN_ERR_NOMEM, "search: out of memory for batches of %d subnets",
                            capacity);
    }
    return SN_OK;
}

void sn_search_fitness_free(sn_search_fitness *f)
{
    free(f->owner);
    free(f->load);
    free(f->counts);
    free(f->mine);
    free(f->gathered);
    free(f->order);
    f->order = NULL;
    f->owner = NULL;
    f->load = NULL;
    f->counts = NULL;
    f->mine = NULL;
    f->gathered = NULL;
}

/* A pass over an image costs roughly a fixed part (the layers' calls, the
 * normalisations) plus a part per multiply-add; the fixed part, in MACs,
 * keeps a batch of small subnets from all landing on one rank. */
enum { PER_IMAGE_OVERHEAD_MACS = 500000 };


/* Costliest first; equal costs in candidate order. */
static int by_cost(const void *a, const void *b)
{
    const candidate_cost *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* owner[i] for archs[0..count): the costliest candidates first, each to the
 * rank with the least work so far (ties: the lowest rank). A function of
 * the candidates alone, so every rank computes the same shares. */
static void share_out(sn_search_fitness *f, const sn_arch *archs, int count)
{
    int ranks = sn_dist_size(f->dist);
    for (int r = 0; r < ranks; r++) {
        f->load[r] = 0;
        f->counts[r] = 0;
    }
    for (int i = 0; i < count; i++)
        f->order[i] = (candidate_cost){
            (double)sn_space_cost(f->space, &archs[i]).macs + PER_IMAGE_OVERHEAD_MACS, i};
    qsort(f->order, (size_t)count, sizeof *f->order, by_cost);
    for (int k = 0; k < count; k++) {
        int least = 0;
        for (int r = 1; r < ranks; r++)
            if (f->load[r] < f->load[least])
                least = r;
        f->owner[f->order[k].index] = least;
        f->load[least] += f->order[k].cost;
        f->counts[least]++;
    }
}

/* This rank's share, in candidate order, into f->mine as (accuracy, loss). */
static int evaluate_share(sn_search_fitness *f, const sn_arch *archs, int count)
{
    int rank = sn_dist_rank(f->dist), n = 0;
    for (int i = 0; i < count; i++) {
        if (f->owner[i] != rank)
            continue;
        double loss;
        f->evaluated++;
#ifdef SHIFTNAS_FAULT_INJECTION
        if (sn_cli_search_fault(rank, f->evaluated))
            return sn_error_set(SN_ERR_IO,
                                "fitness evaluation %lld of this rank: injected I/O error "
                                "(SHIFTNAS_INJECT_FAULT)",
                                (long long)f->evaluated);
#endif
        SN_TRY(sn_evaluate_subnet(&f->evaluator, &archs[i], f->source, f->indices, f->count,
                                  &loss, &f->mine[2 * n]));
        f->mine[2 * n + 1] = loss;
        n++;
    }
    return SN_OK;
}

int sn_search_fitness_evaluate(sn_search_fitness *f, const sn_arch *archs, int count,
                               double *fitness)
{
    return sn_search_fitness_evaluate_losses(f, archs, count, fitness, NULL);
}

int sn_search_fitness_evaluate_losses(sn_search_fitness *f, const sn_arch *archs, int count,
                                      double *fitness, double *losses)
{
    if (count > f->capacity)
        return sn_error_set(SN_ERR_ARGUMENT, "search: a batch of %d subnets exceeds %d", count,
                            f->capacity);
    share_out(f, archs, count);
    SN_TRY(sn_dist_agree(f->dist, evaluate_share(f, archs, count)));
    int ranks = sn_dist_size(f->dist), at = 0;
    for (int r = 0; r < ranks; r++)
        f->counts[r] *= 2;
    SN_TRY(sn_dist_allgather_doubles(f->dist, f->mine, f->counts, f->gathered));
    /* gathered holds rank 0's pairs in candidate order, then rank 1's, ... */
    for (int r = 0; r < ranks; r++)
        for (int i = 0; i < count; i++)
            if (f->owner[i] == r) {
                fitness[i] = f->gathered[at++];
                if (losses)
                    losses[i] = f->gathered[at];
                at++;
            }
    return SN_OK;
}

/* This rank's contiguous block of a set's chunks, counting correct answers
 * into *correct. */
static int count_correct(const sn_dist *dist, sn_subnet_evaluator *e,
                         const sn_search_image_set *set, int64_t *correct)
{
    int64_t chunks = (set->count + e->chunk - 1) / e->chunk;
    int64_t rank = sn_dist_rank(dist), ranks = sn_dist_size(dist);
    int64_t first = rank * chunks / ranks * e->chunk;
    int64_t end = (rank + 1) * chunks / ranks * e->chunk;
    if (end > set->count)
        end = set->count;
    *correct = 0;
    if (end <= first)
        return SN_OK;
    double loss, accuracy;
    SN_TRY(sn_evaluate_network(e->network, set->source, set->indices + first, end - first,
                               e->chunk, 0, e->images, e->probs, e->labels, &loss, &accuracy));
    /* accuracy = correct / n rounded once; times n it is within 2^-51 * n of
     * the integer, so rounding gives it back exactly (n < 2^51). */
    *correct = llround(accuracy * (double)(end - first));
    return SN_OK;
}

int sn_search_measure(const sn_dist *dist, sn_subnet_evaluator *evaluator, const sn_arch *arch,
                      const sn_search_image_set *sets, int set_count, double *accuracies)
{
    if (set_count < 1 || set_count > SN_SEARCH_SETS_MAX)
        return sn_error_set(SN_ERR_ARGUMENT, "search: %d image sets to measure, not 1..%d",
                            set_count, SN_SEARCH_SETS_MAX);
    int64_t correct[SN_SEARCH_SETS_MAX];
    int status = sn_subnet_evaluator_prepare(evaluator, arch);
    for (int s = 0; s < set_count && status == SN_OK; s++)
        status = count_correct(dist, evaluator, &sets[s], &correct[s]);
    SN_TRY(sn_dist_agree(dist, status));
    SN_TRY(sn_dist_sum_int64(dist, correct, set_count));
    for (int s = 0; s < set_count; s++)
        accuracies[s] = sets[s].count > 0 ? (double)correct[s] / (double)sets[s].count : 0.0;
    return SN_OK;
}
