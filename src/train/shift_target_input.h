/*
 * The target-input estimator of the probability shift (internal to
 * src/train; doc/algorithm.md): the paper's route of G(B) into L_val
 * through the generator's target input C, with Eq. 8's difference between
 * the weights of this update (w_t) and of the previous one (w_{t-1}).
 *
 * Per update: one keyed Gumbel sample of the bucket logits picks bucket b
 * (sn_shift_target_input_draw); the generator runs at C = b's middle (hard
 * one-hots, keyed noise, the step's temperature); the masked supernet with
 * those one-hots runs forward and backward over the held-out chunks (each
 * rank its chunks; the per-chunk architecture gradients are gathered and
 * added in chunk order on rank 0, so every rank count gives the same bits);
 * the generator's backward of that task gradient (lambda = 0; its training
 * gradients are kept aside and put back) gives dL/dC. This is done under
 * w_{t-1} (the snapshot) and under w_t, and rank 0 moves beta by
 * sn_shift_update_target_input. The snapshot then becomes w_t. The first
 * update only takes the snapshot.
 *
 * The snapshot holds the parameters only: the held-out passes never read
 * the batch-norm running statistics (a CNN subnet is evaluated with its
 * chunk's batch statistics, a ViT space has none), and the passes leave them
 * as they were.
 */
#ifndef SHIFTNAS_SHIFT_TARGET_INPUT_H
#define SHIFTNAS_SHIFT_TARGET_INPUT_H

#include "supernet_training.h"

/* The generator's Gumbel item at a probability update (the training step's
 * items are 0..generator_extra_targets). */
enum { SN_TARGET_INPUT_GENERATOR_ITEM = 0x7FFFFFFF };

/* Allocates the snapshot and the buffers (once, at setup); SN_ERR_NOMEM. */
int sn_target_input_init(sn_supernet_training *training);
void sn_target_input_free(sn_supernet_training *training);

/* The held-out loss of the generator's architecture for `target_macs` under
 * the current weights, and its derivative dL/dt in the generator's input t
 * (sn_generator_normalized_target; dL/dC in MACs is that over the MACs
 * range). `hard` picks the generator's one-hot (the update) or soft
 * (the finite-difference test: only there is the loss differentiable in t)
 * forward. Collective: every rank evaluates its chunks; *loss and
 * *input_gradient are set on rank 0 only. The running statistics, the
 * generator's parameter gradients and the weights are left as they were
 * (the supernet's gradient slab is overwritten). */
int sn_target_input_evaluate(sn_supernet_training *training, const sn_supernet_validation *v,
                             double target_macs, float temperature, const sn_generator_key *key,
                             int hard, double *loss, double *input_gradient);

/* One probability update of the target-input estimator after `step`
 * (collective; rank 0 updates the shift and the caller broadcasts it).
 * training->validation_loss[b] becomes the held-out loss at w_t of the
 * sampled bucket, NaN for the others. */
int sn_target_input_update(sn_supernet_training *training, int64_t step,
                           const sn_supernet_validation *v);

#endif
