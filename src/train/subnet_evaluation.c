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

/* The one chunked evaluation loop; logits and labels, when not NULL,
 * receive every image's row and label. */
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
        SN_TRY(sn_image_source_fill_plain(source, images, labels, indices + start, n,
                                          sn_network_input_layout(network)));
        const float *logits = sn_network_forward(network, images, n, &mode);
        if (all_logits)
            memcpy(all_logits + start * classes, logits, (size_t)(n * classes) * sizeof(float));
        if (all_labels)
            memcpy(all_labels + start, labels, (size_t)n * sizeof(int32_t));
        int64_t correct = 0;
        loss_sum += (double)n * sn_softmax_cross_entropy_forward(probs, logits, labels, n, classes,
                                                                 0.0f, &correct);
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
