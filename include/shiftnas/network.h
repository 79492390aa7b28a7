/*
 * shiftnas/network.h — a whole classifier: parameters, activations, forward
 * and backward over a batch.
 *
 * A network owns three slabs sized when it is built: parameters, parameter
 * gradients (both laid out by one parameter table) and activations (every
 * buffer a forward saves for its backward, sized for max_batch). Nothing is
 * allocated afterwards, so a training step allocates nothing.
 *
 * A network is built from its settings below (sn_network_settings), plain
 * structs that know nothing of the run configuration; src/train makes them
 * from [model], [cnn], [vit], [space] and [train] (shiftnas/settings.h).
 * The fixed networks:
 *   cnn: blocks of conv(k, stride) - batch norm - activation, global average
 *        pooling, linear classifier. Activations channel-major [C, N, H, W].
 *   vit: patch embedding, class token, position embedding, pre-norm blocks
 *        (layer norm, multi-head self-attention, residual; layer norm, MLP
 *        with GELU, residual; drop-path on both branches), final layer norm,
 *        linear head on the class token.
 */
#ifndef SHIFTNAS_NETWORK_H
#define SHIFTNAS_NETWORK_H

#include "shiftnas/api.h"

#include <stdint.h>

#include "shiftnas/data.h"
#include "shiftnas/space.h"
#include "shiftnas/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sn_network sn_network;

typedef struct {
    int channels, height, width; /* input images */
    int classes;
} sn_input_shape;

/* ---- settings ------------------------------------------------------------ */

enum { SN_CNN_MAX_BLOCKS = 16 };

/* The fixed CNN: block b is conv(kernel, strides[b]) to channels[b] maps
 * (padding kernel / 2) - batch norm - activation. */
typedef struct {
    int block_count;                 /* 1..SN_CNN_MAX_BLOCKS */
    int channels[SN_CNN_MAX_BLOCKS];
    int strides[SN_CNN_MAX_BLOCKS];
    int kernel;
    int hardswish;                   /* activation: hard-swish instead of ReLU */
} sn_cnn_settings;

/* The fixed ViT: patches of patch x patch pixels embedded in embed_dim, depth
 * layers of `heads` heads (embed_dim / heads wide each, so heads must divide
 * embed_dim) and an MLP of mlp_hidden units. */
typedef struct {
    int patch, embed_dim, depth, heads, mlp_hidden;
} sn_vit_settings;

/* What training does inside the layers, for every kind of network. */
typedef struct {
    double bn_momentum;  /* momentum of the batch-norm running statistics (CNNs) */
    double dropout;      /* ViT dropout rate */
    double drop_path;    /* ViT drop-path rate of the deepest layer: layer l of
                            L gets drop_path * l / (L - 1) (AutoFormer's rates) */
} sn_layer_settings;

typedef enum { SN_NETWORK_CNN = 1, SN_NETWORK_VIT, SN_NETWORK_SUPERNET } sn_network_type;

/* A whole network: one of cnn, vit or space (as `type` says), and layers. */
typedef struct {
    sn_network_type type;
    sn_cnn_settings cnn;          /* SN_NETWORK_CNN */
    sn_vit_settings vit;          /* SN_NETWORK_VIT */
    sn_space_description space;   /* SN_NETWORK_SUPERNET: the supernet's space (its
                                     image shape and classes must be the input's) */
    sn_layer_settings layers;
} sn_network_settings;

/* Builds the network the settings describe for inputs of this shape and
 * batches of at most max_batch images; checks that the shapes work (e.g. the
 * patch size divides the image) and reports what does not (SN_ERR_CONFIG, in
 * the configuration's terms: "[cnn] block 2 ...", "[vit] embed_dim = ..."). */
SN_API int sn_network_create(sn_network **network, const sn_network_settings *settings,
                             const sn_input_shape *input, int64_t max_batch);
SN_API void sn_network_free(sn_network *network);

/* Deterministic initialisation: parameter entry e is drawn from the stream
 * (seed, SN_RNG_PARAMETER_INIT, 0, e). Also resets running statistics. */
SN_API void sn_network_initialize(sn_network *network, uint64_t seed);

SN_API const sn_parameter_table *sn_network_parameter_table(const sn_network *network);
SN_API float *sn_network_parameters(sn_network *network);
SN_API float *sn_network_gradients(sn_network *network);
/* Zeroes the parameter gradients (they accumulate in backward). */
SN_API void sn_network_zero_gradients(sn_network *network);

/* Every batch-norm running mean and variance of the network (*count floats;
 * NULL and 0 without batch norm). Training-mode forwards update them; data-
 * parallel training merges them across shards (src/train/data_parallel.c). */
SN_API float *sn_network_running_statistics(sn_network *network, int64_t *count);

/* How the network wants its input batch laid out. */
SN_API sn_batch_layout sn_network_input_layout(const sn_network *network);
SN_API int sn_network_classes(const sn_network *network);

typedef struct {
    int training;     /* batch statistics, dropout and drop-path on */
    uint64_t seed;    /* the run's seed: dropout/drop-path streams */
    uint64_t step;    /* training step: keys the streams */
    uint32_t shard;   /* which part of the global batch: keys the streams */
} sn_forward_mode;

/* Forward pass over `batch` images (batch <= max_batch). Returns the logits,
 * [batch, classes], in the network's own buffer (valid until the next call). */
SN_API const float *sn_network_forward(sn_network *network, const float *images, int64_t batch,
                                       const sn_forward_mode *mode);
/* Backward pass of the last training-mode forward: accumulates parameter
 * gradients. dlogits [batch, classes]. A supernet of a ViT space also takes
 * the backward of an evaluation-mode forward (dropout and drop-path were
 * then the identity): the probability update differentiates held-out
 * losses so. */
SN_API void sn_network_backward(sn_network *network, const float *dlogits, int64_t batch);

/* Multiply-accumulates of one image's forward pass (the FLOPs convention of
 * doc/: one multiply-add counts as one), and of its convolutions alone. */
SN_API int64_t sn_network_macs(const sn_network *network);
SN_API int64_t sn_network_convolution_macs(const sn_network *network);
/* Floats in the activation slab (for memory accounting). */
SN_API int64_t sn_network_activation_floats(const sn_network *network);

/* ---- supernets ([model] type = supernet) ----------------------------------
 *
 * A supernet holds every subnet of its search space in one parameter slab
 * (weight entanglement: a subnet uses the first channels, heads, units and
 * blocks of each weight, and the centre crop of each depthwise kernel). It
 * runs in one of two modes:
 *   sliced: set_architecture(arch); forward and backward run the subnet alone
 *           on strided views of the shared weights (its cost only); backward
 *           writes gradients only into the subnet's slices, every other
 *           gradient entry stays as it was (zero after zero_gradients).
 *   masked: set_soft_architecture(p); forward runs the largest network with
 *           every choice applied as a mask M·p (the architecture generator's
 *           differentiable form); backward also writes d loss / d p. At a
 *           one-hot p the outputs equal the sliced subnet's.
 * sn_network_macs() reports the current architecture's MACs (the largest
 * subnet's in masked mode). */

/* Builds a supernet for `space` (its image shape and classes) with the
 * layer settings (bn_momentum for a CNN space, dropout and drop_path for a ViT
 * space). Starts in sliced mode at the largest architecture. */
SN_API int sn_network_create_supernet(sn_network **network, const sn_space *space,
                                      const sn_layer_settings *layers, int64_t max_batch);
/* The search space of a supernet; NULL for a fixed network. */
SN_API const sn_space *sn_network_space(const sn_network *network);
SN_API int sn_network_set_architecture(sn_network *network, const sn_arch *arch);
/* probabilities: space->choice_total floats, each dimension's summing to 1. */
SN_API int sn_network_set_soft_architecture(sn_network *network, const float *probabilities);
/* d loss / d probabilities of the last masked-mode backward (choice_total
 * floats, overwritten by each backward); NULL for a fixed network. */
SN_API const float *sn_network_architecture_gradient(const sn_network *network);

/* Batch-norm recalibration of the current subnet: begin resets the running
 * statistics of its slices; each training-mode forward until end then adds
 * its batch statistics to an equal-weight average (so after n batches the
 * running statistics are the mean over those n batches). */
SN_API int sn_network_begin_batchnorm_recalibration(sn_network *network);
SN_API void sn_network_end_batchnorm_recalibration(sn_network *network);

/* ---- a subnet on its own ---------------------------------------------------
 *
 * sn_network_visit_subnet walks the current (sliced) subnet of a supernet in
 * forward order and hands over what a reader needs to rebuild it without
 * shiftnas: each tensor it computes with, as a contiguous C-order copy of
 * its slice in PyTorch's layout (convolutions [out, in/groups, k, k], linear
 * layers [out, in]), batch-norm running statistics included; and the
 * integer, real and text properties of each group (strides, kernels, heads,
 * eps, activation). Names are '/'-separated paths, e.g.
 *   cnn: stem/conv/weight, stem/norm/running_mean,
 *        stage0/block1/expand/weight, stage0/block1/depthwise_norm/bias,
 *        head/weight
 *   vit: patch_embed/weight, class_token, position, blocks/3/norm1/weight,
 *        blocks/3/attention/qkv/weight ([q; k; v] rows), blocks/3/mlp/fc1/bias,
 *        norm/weight, head/weight
 * group "" is the network itself. doc/export.md lists every name. A callback
 * returning non-zero stops the walk with that status. */
typedef struct {
    void *context;
    int (*tensor)(void *context, const char *name, int ndim, const int64_t *shape,
                  const float *values);
    int (*integer)(void *context, const char *group, const char *name, int64_t value);
    int (*real)(void *context, const char *group, const char *name, double value);
    int (*text)(void *context, const char *group, const char *name, const char *value);
} sn_subnet_visitor;

/* SN_ERR_ARGUMENT for a fixed CNN or a supernet in masked mode; SN_ERR_NOMEM
 * if the copy buffer cannot be had; else the first callback failure. */
SN_API int sn_network_visit_subnet(sn_network *network, const sn_subnet_visitor *visitor);

#ifdef __cplusplus
}
#endif
#endif
