/* The CNN supernet's model, shared by supernet_cnn.c (structure, sliced and
 * masked forward/backward) and supernet_cnn_masks.c (the soft masks of
 * masked mode and their gradients to the probabilities). */
#ifndef SHIFTNAS_SUPERNET_CNN_H
#define SHIFTNAS_SUPERNET_CNN_H

#include "network_internal.h"
#include "shiftnas/nn.h"

enum { SC_EXPAND, SC_DEPTHWISE, SC_PROJECT, SC_NORMS };

typedef struct {
    int stage, index, stride;
    int kernel_dimension, expand_dimension;
    int input_width_dimension;    /* -1: the stem (its fixed width) */
    int64_t in_max, mid_max;      /* largest input and mid channels */
    int kernel_max;
    int64_t in_height, in_width, out_height, out_width;
    /* parameter entries */
    int expand_weight, depthwise_weight, project_weight;
    int gamma[SC_NORMS], beta[SC_NORMS];
    float *running_mean[SC_NORMS], *running_var[SC_NORMS]; /* largest size */
    /* the current subnet (sliced mode) */
    int64_t in, mid;
    int kernel;
    /* activations, sized for the largest; channel-major [C, N, H, W] */
    const float *input;                                    /* the last forward's */
    float *expand_out, *expand_act, *expand_masked;        /* [mid, N, in HW] */
    float *depthwise_out, *depthwise_act, *depthwise_masked; /* [mid, N, out HW] */
    float *project_out, *project_norm, *block_out;         /* [width, N, out HW] */
    float *saved_mean[SC_NORMS], *saved_inv_std[SC_NORMS];
    /* masked mode: set by set_soft_architecture, except masked_kernel (forward) */
    float *mid_mask;      /* [mid_max] */
    float *kernel_mask;   /* [K*K] */
    float *masked_kernel; /* [mid_max, K, K]: the depthwise weight times kernel_mask */
    float gate;           /* the residual branch's depth gate */
} sc_block;

typedef struct {
    int depth_dimension, width_dimension;
    int block_count;          /* the largest depth */
    int64_t width_max;
    int64_t out_height, out_width;
    int depth;                /* sliced mode */
    int64_t width;
    float *width_mask;        /* masked mode, [width_max] */
    sc_block blocks[SN_SPACE_MAX_BLOCKS];
} sc_stage;

typedef struct {
    float bn_momentum;
    int masked;               /* 0: sliced mode (arch), 1: masked mode (probabilities) */
    sn_arch arch;
    float *probabilities;     /* [choice_total] */
    sn_conv2d_dims stem;      /* batch set per call */
    int64_t stem_height, stem_width;
    int stem_weight, stem_gamma, stem_beta;
    float *stem_running_mean, *stem_running_var;
    float *stem_out, *stem_act, *stem_saved_mean, *stem_saved_inv_std;
    int stage_count;
    sc_stage stages[SN_SPACE_MAX_STAGES];
    int classifier_weight, classifier_bias;
    float *running_statistics; /* owned: every norm's running mean and variance */
    float *pooled, *logits;
    float *grad_a, *grad_b;    /* ping-pong block-output gradients */
    float *grad_branch;        /* a residual branch's gradient */
    float *grad_mid_a, *grad_mid_b;
    float *workspace;          /* the stem's im2col */
    /* masked-mode scratch */
    float *scaled_gamma, *scaled_beta, *scaled_dgamma, *scaled_dbeta; /* [widest] */
    float *width_grad;         /* d loss / d width mask of the stage in backward */
    float *mid_grad;           /* d loss / d mid mask of the block in backward */
    float *kernel_grad;        /* d loss / d masked_kernel */
    const float *images;
} sc_model;

/* sn_network_visit_subnet of the CNN supernet (supernet_cnn_subnet.c). */
int sc_visit_subnet(sn_network *network, const sn_subnet_visitor *visitor);

/* set_soft_architecture: every mask and gate from m->probabilities. */
void sc_masks_from_probabilities(sn_network *network);

/* out[c, :] = in[c, :] * scale[c] over channels x count (out may be in). */
void sc_scale_channels(float *out, const float *in, const float *scale, int64_t channels,
                       int64_t count);
/* The block's depthwise weight times its kernel mask, as a full K x K view. */
sn_kernel_view sc_mask_kernel(sn_network *network, sc_block *k);
/* scaled_gamma/beta = width mask * gamma/beta of the stage's project norm. */
void sc_scale_norm(sc_model *m, const sc_stage *st, const float *gamma, const float *beta);

/* Gated branch: dbranch = gate * dout; d loss / d gate goes to the depth
 * probabilities. n = floats of the block output. */
void sc_gate_backward(sn_network *network, const sc_stage *st, const sc_block *k,
                      float *dbranch, const float *dout, int64_t n);
/* The width-masked project norm: din from dout (may alias), the real scale
 * and shift gradients, and d loss / d width mask into m->width_grad. */
void sc_norm_backward_masked(sn_network *network, sc_model *m, const sc_stage *st,
                             const sc_block *k, float *din, const float *dout, int64_t channels,
                             int64_t count);
/* A channel mask's backward, in place: mask_grad[c] += <d[c], unmasked[c]>,
 * then d[c] *= mask[c]. */
void sc_mask_backward(float *mask_grad, float *d, const float *unmasked, const float *mask,
                      int64_t channels, int64_t count);
/* Depthwise backward through the kernel mask: din, the weight gradient
 * (times the mask) and d loss / d kernel probabilities. */
void sc_depthwise_backward_masked(sn_network *network, sc_block *k, float *din,
                                  const float *dout, const float *in, const sn_conv2d_dims *d);
/* Chain rule from d loss / d mask to the probabilities that built it. */
void sc_mid_mask_to_probabilities(sn_network *network, const sc_block *k, const float *mid_grad);
void sc_width_mask_to_probabilities(sn_network *network, const sc_stage *st,
                                    const float *width_grad);

#endif
