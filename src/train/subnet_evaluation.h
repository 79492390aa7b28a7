/*
 * Evaluations split over the ranks (internal to src/train; doc/distributed.md,
 * "Epoch ends"). The images are cut into chunks of `chunk` images, a fixed
 * list whatever the rank count; rank r of P evaluates chunks
 * [⌊rC/P⌋, ⌊(r+1)C/P⌋). Each chunk gives its summed cross-entropy (one
 * double, computed exactly as one process computes it) and its count of
 * correct images; every rank gathers both for every chunk and adds them in
 * chunk order, the order of one process's loop. So the loss and accuracy
 * are the same bits at any rank count, and every rank holds them.
 */
#ifndef SHIFTNAS_TRAIN_SUBNET_EVALUATION_H
#define SHIFTNAS_TRAIN_SUBNET_EVALUATION_H

#include "shiftnas/dist.h"
#include "shiftnas/train.h"

/* The gathers' buffers, allocated once (an epoch's end allocates nothing). */
typedef struct {
    const sn_dist *dist;
    int64_t chunks;   /* the most chunks an evaluation may have */
    double *mine;     /* [2 * chunks]: this rank's (loss sum, correct) per chunk */
    double *all;      /* [2 * chunks]: every chunk's, in chunk order */
    int *counts;      /* [ranks] */
} sn_evaluation_split;

/* Buffers for evaluations of up to `images` images in chunks of `chunk`. */
int sn_evaluation_split_init(sn_evaluation_split *split, const sn_dist *dist, int64_t images,
                             int64_t chunk);
void sn_evaluation_split_free(sn_evaluation_split *split);

/* sn_evaluate_network (shiftnas/train.h) with the chunks split over the
 * ranks. Collective: every rank calls it with the same arguments (its own
 * buffers); a failure on one rank stops every rank (the ranks agree before
 * the gather). */
int sn_evaluate_network_split(const sn_evaluation_split *split, struct sn_network *network,
                              sn_image_source *source, const uint32_t *indices, int64_t count,
                              int64_t chunk, int batch_statistics, float *images, float *probs,
                              int32_t *labels, double *loss, double *accuracy);

/* The evaluation of sn_evaluate_subnet on the subnet the evaluator was
 * prepared for (sn_subnet_evaluator_prepare), split over the ranks; the
 * preparation (its batch-norm recalibration) is every rank's own. */
int sn_evaluate_prepared_subnet_split(const sn_evaluation_split *split,
                                      sn_subnet_evaluator *evaluator, sn_image_source *source,
                                      const uint32_t *indices, int64_t count, double *loss,
                                      double *accuracy);

#endif
