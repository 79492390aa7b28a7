/*
 * shiftnas/space.h — search spaces, architectures, and the one FLOPs counter.
 *
 * A search space is data: a list of searchable dimensions, each with its
 * ascending choices, plus the fixed parts (input, stem, strides, patch size).
 * An architecture is one choice index per dimension. Two spaces exist:
 *
 *   cnn (BigNAS / Once-for-All style): a stem 3x3 convolution (stride
 *       stem_stride, stem_channels), then stages of inverted-residual blocks
 *       (1x1 expand - BN - act, depthwise kxk - BN - act, 1x1 project - BN;
 *       the first block of a stage has stride stage_strides[s] and no
 *       residual; the others have stride 1 and a residual), global average
 *       pooling and a linear classifier. Per stage: depth (first d blocks)
 *       and width (first w output channels). Per block: depthwise kernel
 *       (a smaller kernel is the centre crop of the largest) and expansion
 *       ratio (mid channels = lround(ratio * active input channels)).
 *   vit (AutoFormer style): patch embedding, class token, position
 *       embedding, pre-norm transformer layers, final layer norm, linear head
 *       on the class token. Embed dim (one for all layers, first k), depth
 *       (first L layers), per layer: heads (first h heads of q, k and v, each
 *       head_dim wide) and MLP ratio (hidden units = lround(ratio * embed)).
 *
 * Dimension order (the order of sn_arch.choice and of probability vectors):
 *   cnn: for each stage s: depth(s), width(s), then for each block b of the
 *        stage's largest depth: kernel(s, b), expand(s, b).
 *   vit: embed, depth, then for each layer l of the largest depth: heads(l),
 *        mlp_ratio(l).
 * A dimension of a block or layer beyond the chosen depth is inactive: it does
 * not change the network, and the canonical form sets it to choice 0.
 */
#ifndef SHIFTNAS_SPACE_H
#define SHIFTNAS_SPACE_H

#include "shiftnas/api.h"

#include <stddef.h>
#include <stdint.h>

#include "shiftnas/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SN_SPACE_MAX_CHOICES = 8,
    SN_SPACE_MAX_STAGES = 8,
    SN_SPACE_MAX_BLOCKS = 8,   /* per stage */
    SN_SPACE_MAX_LAYERS = 24,  /* ViT */
    SN_SPACE_MAX_DIMENSIONS = 2 * SN_SPACE_MAX_STAGES * (SN_SPACE_MAX_BLOCKS + 1),
    SN_ARCH_TEXT_MAX = 2048,      /* room for any canonical text sn_arch_format writes */
    SN_ARCH_TEXT_INPUT_MAX = 8192 /* the longest text sn_arch_parse reads, blanks included */
};

typedef enum { SN_SPACE_CNN = 1, SN_SPACE_VIT = 2 } sn_space_type;

typedef enum {
    SN_DIMENSION_DEPTH,     /* cnn: blocks of a stage; vit: layers */
    SN_DIMENSION_WIDTH,     /* cnn: output channels of a stage */
    SN_DIMENSION_KERNEL,    /* cnn: depthwise kernel of a block (odd) */
    SN_DIMENSION_EXPAND,    /* cnn: expansion ratio of a block */
    SN_DIMENSION_EMBED,     /* vit: embedding width of every layer */
    SN_DIMENSION_HEADS,     /* vit: attention heads of a layer */
    SN_DIMENSION_MLP_RATIO  /* vit: MLP hidden units / embed of a layer */
} sn_dimension_kind;

typedef struct {
    sn_dimension_kind kind;
    int stage;  /* cnn: the stage; vit: -1 */
    int block;  /* cnn kernel/expand: block in its stage; vit heads/mlp: layer; else -1 */
    int choice_count;
    double choices[SN_SPACE_MAX_CHOICES]; /* strictly ascending; integers exact */
} sn_dimension;

typedef struct {
    sn_space_type type;
    int image_channels, image_size, classes; /* square images */

    /* cnn fixed parts */
    int stem_channels, stem_stride, stem_kernel;
    int stage_count;
    int stage_strides[SN_SPACE_MAX_STAGES];

    /* vit fixed parts */
    int patch, head_dim;

    int dimension_count;
    sn_dimension dimensions[SN_SPACE_MAX_DIMENSIONS];

    /* Index of each dimension in dimensions[] (-1 where absent). */
    int depth_dimension[SN_SPACE_MAX_STAGES];  /* cnn per stage; vit uses [0] */
    int width_dimension[SN_SPACE_MAX_STAGES];
    int kernel_dimension[SN_SPACE_MAX_STAGES][SN_SPACE_MAX_BLOCKS];
    int expand_dimension[SN_SPACE_MAX_STAGES][SN_SPACE_MAX_BLOCKS];
    int embed_dimension;
    int heads_dimension[SN_SPACE_MAX_LAYERS];
    int mlp_dimension[SN_SPACE_MAX_LAYERS];

    /* Offsets of each dimension's choices in a probability vector, and its
     * length (the sum of choice_count). */
    int choice_offset[SN_SPACE_MAX_DIMENSIONS];
    int choice_total;
} sn_space;

/* One choice index per dimension (0 = smallest choice). */
typedef struct {
    int choice[SN_SPACE_MAX_DIMENSIONS];
} sn_arch;

/* ---- building a space --------------------------------------------------- */

/* The space's settings, as a caller gives them (src/train makes them from
 * the configuration's [space] section, shiftnas/settings.h): every stage and
 * block share the same choice lists. Widths are given per stage as the
 * largest width times width ratios. */
typedef struct {
    sn_space_type type;
    int image_channels, image_size, classes;
    /* cnn */
    int stem_channels, stem_stride, stem_kernel;
    int stage_count;
    int stage_channels[SN_SPACE_MAX_STAGES];   /* largest width of each stage */
    int stage_strides[SN_SPACE_MAX_STAGES];
    int width_ratio_count;
    double width_ratios[SN_SPACE_MAX_CHOICES]; /* width = lround(ratio * stage_channels) */
    int depth_count;
    int depths[SN_SPACE_MAX_CHOICES];          /* cnn: blocks per stage; vit: layers */
    int kernel_count;
    int kernels[SN_SPACE_MAX_CHOICES];
    int expand_count;
    double expand_ratios[SN_SPACE_MAX_CHOICES];
    /* vit */
    int patch, head_dim;
    int embed_count;
    int embeds[SN_SPACE_MAX_CHOICES];
    int heads_count;
    int heads[SN_SPACE_MAX_CHOICES];
    int mlp_ratio_count;
    double mlp_ratios[SN_SPACE_MAX_CHOICES];
} sn_space_description;

/* Builds the dimension table from a description and checks it (choices
 * ascending and positive, odd kernels, widths >= 1, the patch divides the
 * image, the stem and strides leave at least a 1x1 map, limits above). On
 * failure: SN_ERR_CONFIG with a message naming the offending entry. */
SN_API int sn_space_build(sn_space *space, const sn_space_description *description);

/* Recomputes the index tables and choice offsets from dimensions[]; checks
 * the dimensions (used after editing a space, e.g. by sn_space_restrict). */
SN_API int sn_space_finish(sn_space *space);

/* The space that holds only `arch`: every active dimension keeps just its
 * chosen value, depths keep only the chosen depth (the blocks or layers beyond
 * it are gone). A network built from it is the subnet built on its own. */
SN_API int sn_space_restrict(const sn_space *space, const sn_arch *arch, sn_space *single);

/* Number of distinct architectures (inactive dimensions not counted), as a
 * double: spaces reach 10^20 and more. */
SN_API double sn_space_architecture_count(const sn_space *space);

/* ---- architectures ------------------------------------------------------- */

/* Value of dimension d's chosen candidate. */
static inline double sn_arch_value(const sn_space *space, const sn_arch *arch, int d)
{
    return space->dimensions[d].choices[arch->choice[d]];
}

/* 1 if dimension d changes the network under arch (its block or layer is
 * within the chosen depth), else 0. */
SN_API int sn_arch_dimension_active(const sn_space *space, const sn_arch *arch, int d);
/* Sets every inactive dimension to choice 0. */
SN_API void sn_arch_canonicalize(const sn_space *space, sn_arch *arch);
SN_API void sn_arch_smallest(const sn_space *space, sn_arch *arch);
SN_API void sn_arch_largest(const sn_space *space, sn_arch *arch);
/* Each dimension uniform over its choices, from `stream`; canonical. */
SN_API void sn_arch_sample_uniform(const sn_space *space, sn_rng_stream *stream, sn_arch *arch);
SN_API int sn_arch_equal(const sn_space *space, const sn_arch *a, const sn_arch *b);

/* Canonical text, e.g. "cnn:d=2,3;w=16,32;k=3,5,5,3,3;e=3,4,6,3,3" (k and e
 * list the active blocks stage by stage) or "vit:e=192;d=12;h=3,4,...;m=3.5,4,..."
 * (h and m list the active layers). Fails (SN_ERR_ARGUMENT) if it does not fit. */
SN_API int sn_arch_format(const sn_space *space, const sn_arch *arch, char *text, size_t size);
/* Parses the canonical text back (blanks ignored). A text longer than
 * SN_ARCH_TEXT_INPUT_MAX characters is refused before it is read. An error
 * names the dimension and the value (e.g. "stage 2 width 20 is not a choice
 * (16, 24, 32)"), the user's text escaped; SN_ERR_ARGUMENT. */
SN_API int sn_arch_parse(const sn_space *space, const char *text, sn_arch *arch);

/* ---- the FLOPs counter --------------------------------------------------- */

/* Multiply-accumulates of one image's forward pass and parameter count of
 * the subnet. Convention (doc/search-spaces.md): every multiply-add of a
 * convolution, linear layer and attention product counts one; norms,
 * activations, softmax, pooling, residual adds and biases count none. ViT
 * tokens include the class token. Parameters: every weight, bias and norm
 * scale/shift the subnet uses (its slices), class token and position
 * embedding included; running statistics excluded. */
typedef struct {
    int64_t macs;
    int64_t parameters;
} sn_cost;

SN_API sn_cost sn_space_cost(const sn_space *space, const sn_arch *arch);

/* ---- MACs counts as users write them (src/space/macs_text.c) ---------- */

enum {
    SN_MACS_LIST_TEXT_MAX = 1023, /* characters of a --targets list */
    SN_MACS_LIST_MAX = 64         /* targets in one list */
};
/* The largest MACs count a target may be (1000000G): far beyond any network,
 * and small enough to be exact as a double and as an int64 budget. */
#define SN_MACS_MAX 1e15

/* A positive MACs count as users write it: "2.5M" -> 2500000 (k, M, G are
 * powers of 1000; a plain number is MACs), at most SN_MACS_MAX.
 * SN_ERR_ARGUMENT for anything else (inf, nan, 1e308G, -3M, 2M5); nothing
 * is recorded, callers name the option in their message. */
SN_API int sn_macs_parse(const char *text, double *macs);

/* A comma-separated list of such counts ("2.5M,5M,8M"), checked whole before
 * anything is parsed: at most SN_MACS_LIST_TEXT_MAX characters and `max`
 * (at most SN_MACS_LIST_MAX) items, none empty. SN_ERR_ARGUMENT with one
 * line naming the item by position ("item 2 is empty", "at most 64 targets,
 * got 65", "item 1, '1e308G', is out of range: ..."); callers prefix the
 * option. */
SN_API int sn_macs_parse_list(const char *list, double *macs, int max, int *count);

/* The same MAC count as a differentiable function of soft choices:
 * probabilities[choice_offset[d] + j] is the weight of choice j of dimension
 * d (each dimension's weights sum to 1). Every quantity the count multiplies
 * (a width, a kernel area, a depth gate) becomes its expectation under the
 * dimension's weights, so at one-hot weights the result is exactly
 * sn_space_cost().macs. Writes d macs / d probabilities into gradient
 * (choice_total entries) unless it is NULL. */
SN_API double sn_space_soft_macs(const sn_space *space, const double *probabilities,
                                 double *gradient);

/* One-hot probabilities of arch (choice_total entries). */
SN_API void sn_arch_one_hot(const sn_space *space, const sn_arch *arch, double *probabilities);

#ifdef __cplusplus
}
#endif
#endif
