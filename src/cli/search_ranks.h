/* The measurements of `shiftnas search` spread over the ranks of a run
 * (mpirun -np N shiftnas search): every rank holds the whole trained run, so
 * a subnet's figures are the same bits on whichever rank computes them, and
 * the answer is the same at every rank count. */
#ifndef SHIFTNAS_CLI_SEARCH_RANKS_H
#define SHIFTNAS_CLI_SEARCH_RANKS_H

#include "shiftnas/dist.h"
#include "shiftnas/train.h"

/* The evolution's fitness on the ranks: a batch of candidates is shared out
 * (the largest first, each to the rank with the least work so far, work
 * counted in MACs), each rank evaluates its share, and every rank gets every
 * value. */
typedef struct {
    const sn_dist *dist;
    const sn_space *space;
    sn_subnet_evaluator evaluator; /* the rank's network and buffers, the fitness's recalibration */
    sn_image_source *source;       /* fitness images: source[indices[0..count)] */
    const uint32_t *indices;
    int64_t count;
    int capacity;                  /* candidates per batch the buffers below hold */
    int *owner;                    /* [capacity]: the rank that evaluates each candidate */
    double *load;                  /* [ranks]: work assigned so far */
    int *counts;                   /* [ranks]: candidates per rank */
    double *mine, *gathered;       /* [2 * capacity]: this rank's (accuracy, loss), every rank's */
    struct candidate_cost *order;  /* [capacity]: candidates by cost, for sharing out */
    int64_t evaluated;             /* fitness evaluations this rank made (fault injection) */
} sn_search_fitness;

/* Buffers for batches of up to `capacity` candidates. The evaluator is
 * copied (its buffers are shared with the original, which the caller keeps). */
int sn_search_fitness_init(sn_search_fitness *f, const sn_dist *dist, const sn_space *space,
                           const sn_subnet_evaluator *evaluator, sn_image_source *source,
                           const uint32_t *indices, int64_t count, int capacity);
void sn_search_fitness_free(sn_search_fitness *f);

/* fitness[i] = accuracy of archs[i] on the fitness images, on every rank.
 * A failure on any rank fails every rank (sn_dist_agree: the failing rank
 * keeps its message, the others get SN_ERR_PEER). */
int sn_search_fitness_evaluate(sn_search_fitness *f, const sn_arch *archs, int count,
                               double *fitness);
/* The same, also losses[i] = the mean cross-entropy of archs[i] on those
 * images (`shiftnas probe`: its whole test set as the images). losses may
 * be NULL. */
int sn_search_fitness_evaluate_losses(sn_search_fitness *f, const sn_arch *archs, int count,
                                      double *fitness, double *losses);

/* One subnet measured on the ranks: `arch` set and recalibrated on every
 * rank, then the chunks of each image set (sets[s] = source[indices[0..count)])
 * shared out in contiguous blocks; accuracies[s] = correct / count, the same
 * bits as one process evaluating the whole set (chunks are computed alike
 * wherever they run, and the counts of correct answers are summed exactly).
 * A set of 0 images gives accuracy 0. Failures as for the fitness. */
typedef struct {
    sn_image_source *source;
    const uint32_t *indices;
    int64_t count;
} sn_search_image_set;

enum { SN_SEARCH_SETS_MAX = 4 };

int sn_search_measure(const sn_dist *dist, sn_subnet_evaluator *evaluator, const sn_arch *arch,
                      const sn_search_image_set *sets, int set_count, double *accuracies);

#endif
