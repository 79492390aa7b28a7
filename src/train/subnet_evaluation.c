/*
 * Accuracy of one subnet of a trained supernet with inherited weights: the
 * measurement every strategy's subnets get, in training (epoch ends), in
 * `shiftnas search` (the evolution's fitness and the final test accuracy) and
 * in `shiftnas eval`; and the one chunked evaluation loop every evaluation
 * (fixed networks, the probability update's held-out losses) runs.
 */
#include "shiftnas/train.h"

#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/network.h"
#include "shiftnas/nn.h"
#include "shiftnas/tensor.h"

#include "subnet_evaluation.h"

/* One chunk of n images from indices: its summed cross-entropy (n times
 * the mean, in double) and its count of correct images; *logits receives
 * the network's output rows. */
static int evaluate_chunk(sn_network *network, sn_image_source *source, const uint32_t *indices,
                          int64_t n, const sn_forward_mode *mode, float *images, float *probs,
                          int32_t *labels, const float **logits, double *loss_sum,
                          int64_t *correct)
{
    SN_TRY(sn_image_source_fill_plain(source, images, labels, indices, n,
                                      sn_network_input_layout(network)));
    *logits = sn_network_forward(network, images, n, mode);
    *correct = 0;
    *loss_sum = (double)n * sn_softmax_cross_entropy_forward(probs, *logits, labels, n,
                                                             sn_network_classes(network), 0.0f,
                                                             correct);
    return SN_OK;
}

/* The one chunked evaluation loop; logits and labels, when not NULL,
 * receive every image's row and label. The chunks' sums are added in
 * chunk order (the split evaluation adds them in the same order). */
static int evaluate_chunks(sn_network *network, sn_image_source *source, const uint32_t *indices,
                           int64_t count, int64_t chunk, int batch_statistics, float *images,
                           float *probs, int32_t *labels, double *loss, double *accuracy,
                           float *all_logits, int32_t *all_labels)
{
    int classes = sn_network_classes(network);
    sn_forward_mode mode = {batch_statistics, 0, 0, 0};
    double loss_sum = 0;
    int64_t correct_sum = 0;
    for (int64_t start = 0; start < count; start += chunk) {
        int64_t n = count - start < chunk ? count - start : chunk;
        const float *logits;
        double chunk_loss;
        int64_t correct;
        SN_TRY(evaluate_chunk(network, source, indices + start, n, &mode, images, probs, labels,
                              &logits, &chunk_loss, &correct));
        if (all_logits)
            memcpy(all_logits + start * classes, logits, (size_t)(n * classes) * sizeof(float));
        if (all_labels)
            memcpy(all_labels + start, labels, (size_t)n * sizeof(int32_t));
        loss_sum += chunk_loss;
        correct_sum += correct;
    }
    *loss = count > 0 ? loss_sum / (double)count : 0.0;
    if (accuracy)
        *accuracy = count > 0 ? (double)correct_sum / (double)count : 0.0;
    return SN_OK;
}

int sn_evaluate_network(sn_network *network, sn_image_source *source, const uint32_t *indices,
                        int64_t count, int64_t chunk, int batch_statistics, float *images,
                        float *probs, int32_t *labels, double *loss, double *accuracy)
{
    return evaluate_chunks(network, source, indices, count, chunk, batch_statistics, images, probs,
                           labels, loss, accuracy, NULL, NULL);
}

int sn_subnet_evaluator_prepare(sn_subnet_evaluator *e, const sn_arch *arch)
{
    const sn_space *space = sn_network_space(e->network);
    if (space == NULL)
        return sn_error_set(SN_ERR_ARGUMENT, "subnet evaluation needs a supernet");
    sn_arch subnet = *arch;
    sn_arch_canonicalize(space, &subnet);
    SN_TRY(sn_network_set_architecture(e->network, &subnet));
    /* The running statistics were averaged over whatever subnets training
     * sampled; a CNN subnet gets its own from training batches first. */
    if (space->type == SN_SPACE_CNN)
        SN_TRY(sn_recalibrate_batchnorm(e->network, e->train_source, e->train_indices,
                                        e->train_count, e->recalibration_batches,
                                        e->recalibration_batch_size, e->images, e->labels));
    return SN_OK;
}

int sn_evaluate_subnet(sn_subnet_evaluator *e, const sn_arch *arch, sn_image_source *source,
                       const uint32_t *indices, int64_t count, double *loss, double *accuracy)
{
    return sn_evaluate_subnet_logits(e, arch, source, indices, count, NULL, NULL, loss, accuracy);
}

int sn_evaluate_subnet_logits(sn_subnet_evaluator *e, const sn_arch *arch,
                              sn_image_source *source, const uint32_t *indices, int64_t count,
                              float *logits, int32_t *labels, double *loss, double *accuracy)
{
    SN_TRY(sn_subnet_evaluator_prepare(e, arch));
    return evaluate_chunks(e->network, source, indices, count, e->chunk, 0, e->images, e->probs,
                           e->labels, loss, accuracy, logits, labels);
}

/* ---- split over the ranks (subnet_evaluation.h) ------------------------------ */

int sn_evaluation_split_init(sn_evaluation_split *split, const sn_dist *dist, int64_t images,
                             int64_t chunk)
{
    memset(split, 0, sizeof *split);
    split->dist = dist;
    split->chunks = images > 0 && chunk > 0 ? (images + chunk - 1) / chunk : 1;
    /* the gathers count doubles in ints */
    if (split->chunks > (1 << 29))
        return sn_error_set(SN_ERR_CONFIG, "evaluation: %lld chunks of %lld images are too many "
                                           "to gather (raise [train] eval_batch_size)",
                            (long long)split->chunks, (long long)chunk);
    size_t bytes = (size_t)(2 * split->chunks) * sizeof(double);
    split->mine = sn_alloc_bytes(bytes);
    split->all = sn_alloc_bytes(bytes);
    split->counts = sn_alloc_bytes((size_t)sn_dist_size(dist) * sizeof(int));
    if (!split->mine || !split->all || !split->counts)
        return sn_error_set(SN_ERR_NOMEM, "evaluation: no memory for %lld chunks' figures",
                            (long long)split->chunks);
    return SN_OK;
}

void sn_evaluation_split_free(sn_evaluation_split *split)
{
    sn_free(split->mine);
    sn_free(split->all);
    sn_free(split->counts);
    split->mine = split->all = NULL;
    split->counts = NULL;
}

/* Chunks [first, last) of this rank into split->mine as (loss sum, correct). */
static int evaluate_my_chunks(const sn_evaluation_split *split, sn_network *network,
                              sn_image_source *source, const uint32_t *indices, int64_t count,
                              int64_t chunk, int batch_statistics, float *images, float *probs,
                              int32_t *labels, int64_t first, int64_t last)
{
    sn_forward_mode mode = {batch_statistics, 0, 0, 0};
    for (int64_t c = first; c < last; c++) {
        int64_t start = c * chunk, n = count - start < chunk ? count - start : chunk;
        const float *logits;
        int64_t correct;
        double *mine = split->mine + 2 * (c - first);
        SN_TRY(evaluate_chunk(network, source, indices + start, n, &mode, images, probs, labels,
                              &logits, &mine[0], &correct));
        mine[1] = (double)correct; /* exact: fewer than 2^53 images */
    }
    return SN_OK;
}

int sn_evaluate_network_split(const sn_evaluation_split *split, sn_network *network,
                              sn_image_source *source, const uint32_t *indices, int64_t count,
                              int64_t chunk, int batch_statistics, float *images, float *probs,
                              int32_t *labels, double *loss, double *accuracy)
{
    const sn_dist *dist = split->dist;
    int rank = sn_dist_rank(dist), size = sn_dist_size(dist);
    int64_t chunks = count > 0 ? (count + chunk - 1) / chunk : 0;
    int status = chunks <= split->chunks
                     ? SN_OK
                     : sn_error_set(SN_ERR_ARGUMENT, "evaluation: %lld chunks, room for %lld",
                                    (long long)chunks, (long long)split->chunks);
    if (status == SN_OK)
        status = evaluate_my_chunks(split, network, source, indices, count, chunk,
                                    batch_statistics, images, probs, labels,
                                    (int64_t)rank * chunks / size,
                                    (int64_t)(rank + 1) * chunks / size);
    /* the gather needs every rank */
    SN_TRY(sn_dist_agree(dist, status));
    for (int r = 0; r < size; r++)
        split->counts[r] =
            (int)(2 * ((int64_t)(r + 1) * chunks / size - (int64_t)r * chunks / size));
    SN_TRY(sn_dist_allgather_doubles(dist, split->mine, split->counts, split->all));
    /* one process's order: chunk 0, 1, 2, ... */
    double loss_sum = 0, correct_sum = 0;
    for (int64_t c = 0; c < chunks; c++) {
        loss_sum += split->all[2 * c];
        correct_sum += split->all[2 * c + 1];
    }
    *loss = count > 0 ? loss_sum / (double)count : 0.0;
    if (accuracy)
        *accuracy = count > 0 ? correct_sum / (double)count : 0.0;
    return SN_OK;
}

int sn_evaluate_prepared_subnet_split(const sn_evaluation_split *split, sn_subnet_evaluator *e,
                                      sn_image_source *source, const uint32_t *indices,
                                      int64_t count, double *loss, double *accuracy)
{
    return sn_evaluate_network_split(split, e->network, source, indices, count, e->chunk, 0,
                                     e->images, e->probs, e->labels, loss, accuracy);
}
