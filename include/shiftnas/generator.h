/*
 * shiftnas/generator.h — the architecture generator (AG) of ShiftNAS.
 *
 * Given a MAC target C, an LSTM (hidden 64) runs over the space's searchable
 * dimensions in their documented order (shiftnas/space.h) and emits one
 * choice per dimension. At decision d its input is
 *     x_d = [ t, e_d ],   t = (C - macs_min) / (macs_max - macs_min)
 * where e_d embeds the previous decision: e_0 is a learned "start" row and
 * e_d = sum_j p_{d-1,j} E[kind(d-1), j] (an embedding lookup when p_{d-1} is
 * one-hot, and differentiable in p_{d-1}, so the straight-through gradient also
 * reaches earlier decisions through the next step's input). One linear head per
 * kind of dimension present in the space maps h_d to SN_SPACE_MAX_CHOICES
 * logits, of which the dimension's first choice_count are used:
 *     y_d = softmax((logits_d + g_d) / tau),  g ~ Gumbel (SN_RNG_GUMBEL stream)
 *     p_d = hard ? one_hot(argmax y_d) : y_d
 * Straight-through: the backward always uses the Jacobian of y_d (p_d is
 * treated as y_d). p (choice_total floats) drives the masked supernet
 * (sn_network_set_soft_architecture); after the supernet's backward,
 * sn_network_architecture_gradient() is d L_task / d p, which
 * sn_generator_backward() takes together with the resource loss
 *     L_RC = ((macs(p) - C) / (macs_max - macs_min))^2
 * where macs(p) is sn_space_soft_macs() at the forward's p: at a hard one-hot
 * p it is exactly the subnet's MAC count, and its gradient in p is the
 * counter's exact derivative there.
 *
 * All buffers are allocated by sn_generator_create(); forward, backward and
 * argmax do not allocate. The parameters and their gradients live in two slabs
 * described by an sn_parameter_table, so the sn_optimizer_* functions train the
 * generator like any network. Parameter gradients ACCUMULATE (several targets
 * per step sum); sn_generator_zero_gradients() clears them.
 */
#ifndef SHIFTNAS_GENERATOR_H
#define SHIFTNAS_GENERATOR_H

#include <stddef.h>
#include <stdint.h>

#include "shiftnas/api.h"
#include "shiftnas/space.h"
#include "shiftnas/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { SN_GENERATOR_KINDS = 7 }; /* the sn_dimension_kind values */

/* Choices, with their defaults (sn_generator_default_settings). */
typedef struct {
    int hidden;              /* LSTM hidden units: 64 (the paper's "64 hidden numbers") */
    int embedding;           /* width E of a decision's embedding: 16 */
    float temperature_start; /* Gumbel-softmax tau at step 0: 5 */
    float temperature_end;   /* tau at the last step: 0.5 (exponential anneal) */
    int hard;                /* 1: hard one-hot forward, straight-through backward */
    float embedding_init;    /* embedding rows ~ N(0, embedding_init^2): 1 (as nn.Embedding) */
} sn_generator_settings;

SN_API void sn_generator_default_settings(sn_generator_settings *settings);

/* Exponential anneal tau(step) = start * (end/start)^(step/total_steps),
 * clamped to end for step >= total_steps (and start for step <= 0). */
SN_API float sn_generator_temperature(const sn_generator_settings *settings, int64_t step,
                                      int64_t total_steps);

/* The key of a forward's Gumbel noise: stream (seed, SN_RNG_GUMBEL, step, item);
 * dimension d draws its choice_count numbers in order, dimensions in order. */
typedef struct {
    uint64_t seed;
    uint64_t step;
    uint32_t item;
} sn_generator_key;

typedef struct {
    sn_generator_settings settings;
    int dimension_count, choice_total, input_size;
    int kind[SN_SPACE_MAX_DIMENSIONS];         /* kind of each dimension */
    int choice_count[SN_SPACE_MAX_DIMENSIONS];
    int choice_offset[SN_SPACE_MAX_DIMENSIONS];
    double macs_min, macs_max;                 /* smallest and largest subnet */

    /* Parameters: "lstm.w_ih" [4H, 1+E], "lstm.w_hh" [4H, H], "lstm.bias" [4H],
     * "embedding" [1 + 7*SN_SPACE_MAX_CHOICES, E] (row 0: start; row
     * 1 + kind*SN_SPACE_MAX_CHOICES + j: choice j of a dimension of that kind),
     * and for each kind k present in the space "head.<kind>.weight"
     * [SN_SPACE_MAX_CHOICES, H] and "head.<kind>.bias" [SN_SPACE_MAX_CHOICES]. */
    sn_parameter_table table;
    float *params, *grads;
    int entry_w_ih, entry_w_hh, entry_bias, entry_embedding;
    int entry_head_weight[SN_GENERATOR_KINDS], entry_head_bias[SN_GENERATOR_KINDS]; /* -1: absent */

    /* Saved by the last forward for backward. */
    float *x;       /* [D, 1+E] inputs */
    float *h, *c;   /* [D+1, H]; row 0 is the zero initial state */
    float *gates;   /* [D, 4H] */
    float *soft;    /* [D, SN_SPACE_MAX_CHOICES] y_d */
    float *p;       /* [choice_total] the forward's p */
    double *p_double, *rc_gradient; /* [choice_total]: p, d L_RC / d p */
    float temperature;
    int forward_done;

    /* Backward scratch. */
    float *dp;      /* [choice_total] */
    float *dh, *dc, *dx, *workspace;

    /* argmax scratch (separate so that argmax never disturbs a pending backward). */
    float *a_h, *a_c, *a_x, *a_gates, *a_logits;

    /* Results of the last forward. */
    double target_macs;
    double macs;     /* sn_space_soft_macs(p) */
    double rc_loss;  /* L_RC */
    /* Results of the last backward: d L / d t through the LSTM's input only
     * (L_RC's direct dependence on C is not included). */
    double target_input_gradient;
} sn_generator;

/* Builds the generator for `space` (which must stay the same for every later
 * call), parameters initialised from (seed, SN_RNG_PARAMETER_INIT): LSTM and
 * heads U(-1/sqrt(H), 1/sqrt(H)) (PyTorch's LSTM/Linear rule), head biases 0,
 * embeddings N(0, embedding_init^2). SN_ERR_ARGUMENT for bad settings or a
 * space whose smallest and largest subnet have the same MACs; SN_ERR_NOMEM. */
SN_API int sn_generator_create(sn_generator *generator, const sn_space *space,
                               const sn_generator_settings *settings, uint64_t seed);
SN_API void sn_generator_free(sn_generator *generator);
SN_API void sn_generator_zero_gradients(sn_generator *generator);

/* (target_macs - macs_min) / (macs_max - macs_min). */
SN_API double sn_generator_normalized_target(const sn_generator *generator, double target_macs);

/* One forward: fills probabilities[choice_total] (hard one-hots if hard,
 * else the soft y) and arch (the argmax of each y_d, i.e. the chosen one-hot
 * when hard; not canonicalised: inactive dimensions keep their choice), and
 * computes generator->macs and ->rc_loss. temperature > 0. arch may be NULL.
 * SN_ERR_ARGUMENT if space is not the generator's or temperature <= 0. */
SN_API int sn_generator_forward(sn_generator *generator, const sn_space *space, double target_macs,
                                float temperature, const sn_generator_key *key, int hard,
                                float *probabilities, sn_arch *arch);

/* Accumulates into generator->grads the gradient of L_task + lambda * L_RC
 * for the last forward, where dloss_dp (choice_total floats, e.g.
 * sn_network_architecture_gradient(); NULL = no task loss) is d L_task / d p.
 * Back-propagates through the straight-through Gumbel-softmax, the heads, the
 * LSTM unrolled over every decision and the embeddings. SN_ERR_ARGUMENT
 * without a preceding forward. */
SN_API int sn_generator_backward(sn_generator *generator, const float *dloss_dp, double lambda);

/* Deployment: the architecture of the largest probability of every decision
 * for the target (no noise, temperature irrelevant; each decision's one-hot
 * feeds the next). Not canonicalised. Does not touch the forward's saved state. */
SN_API int sn_generator_argmax(sn_generator *generator, const sn_space *space, double target_macs,
                               sn_arch *arch);

#ifdef __cplusplus
}
#endif
#endif
