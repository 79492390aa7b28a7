/* Shared between network.c, the fixed CNN (network_cnn.c) and the supernets
 * (supernet_cnn.c, supernet_vit.c; the fixed ViT is a one-architecture ViT
 * supernet). */
#ifndef SHIFTNAS_NETWORK_INTERNAL_H
#define SHIFTNAS_NETWORK_INTERNAL_H

#include "shiftnas/network.h"

/* A bump allocator over the activation slab, used twice: a sizing pass with
 * base == NULL (take() returns NULL and only counts), then an assigning pass
 * over the allocated slab with exactly the same sequence of take() calls. */
typedef struct {
    float *base;
    int64_t used;
} sn_arena;

static inline float *sn_arena_take(sn_arena *arena, int64_t floats)
{
    float *p = arena->base ? arena->base + arena->used : NULL;
    arena->used += (floats + 15) / 16 * 16; /* keep every buffer on a cache line */
    return p;
}

typedef struct {
    /* Declares parameters in the table (called once, before the slabs exist). */
    int (*declare)(sn_network *network);
    /* Lays out the activation buffers; called twice (see sn_arena). */
    void (*layout)(sn_network *network, sn_arena *arena);
    void (*initialize)(sn_network *network, uint64_t seed);
    const float *(*forward)(sn_network *network, const float *images, int64_t batch,
                            const sn_forward_mode *mode);
    void (*backward)(sn_network *network, const float *dlogits, int64_t batch);
    void (*free_model)(sn_network *network);
    /* Supernets only (NULL for the fixed networks). */
    int (*set_architecture)(sn_network *network, const sn_arch *arch);
    int (*set_soft_architecture)(sn_network *network, const float *probabilities);
    /* Resets the running statistics of the current subnet's slices. */
    void (*reset_running_statistics)(sn_network *network);
    /* The current subnet's tensors and properties (sn_network_visit_subnet). */
    int (*visit_subnet)(sn_network *network, const sn_subnet_visitor *visitor);
} sn_network_operations;

struct sn_network {
    const sn_network_operations *operations;
    void *model;                 /* the cnn_model or vit_model */
    sn_input_shape input;
    int64_t max_batch;
    sn_batch_layout layout;
    sn_parameter_table table;
    float *parameters;
    float *gradients;
    float *activations;
    int64_t activation_floats;
    int64_t macs, convolution_macs;
    /* supernets */
    sn_space *space;               /* owned copy; NULL for the fixed CNN */
    int fixed;                     /* a fixed network built as the supernet of a
                                      one-architecture space (the fixed ViT) */
    float *architecture_gradient;  /* space->choice_total floats */
    int recalibrating;             /* batch-norm recalibration in progress */
    int64_t recalibration_batches; /* batches averaged so far */
    /* batch-norm running statistics (owned by the model; NULL without batch norm) */
    float *running_statistics;
    int64_t running_statistics_count;
};

/* The momentum a batch-norm forward uses: the configured one, or 1/(n+1)
 * for the (n+1)-th batch of a recalibration (an equal-weight average). The
 * supernets call this once per training-mode forward, which counts the batch. */
static inline float sn_network_batchnorm_momentum(sn_network *network, float configured)
{
    if (!network->recalibrating)
        return configured;
    network->recalibration_batches++;
    return 1.0f / (float)network->recalibration_batches;
}

/* Copies the rows x cols block at values (row stride) into out, contiguous:
 * a first-k slice of a supernet weight made into a tensor of its own. */
static inline void sn_copy_block(float *out, const float *values, int64_t rows, int64_t cols,
                                 int64_t row_stride)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            out[r * cols + c] = values[r * row_stride + c];
}

int sn_network_cnn_attach(sn_network *network, const sn_cnn_settings *cnn,
                          const sn_layer_settings *layers);
/* network->space is set (an owned copy) before these are called. */
int sn_network_supernet_cnn_attach(sn_network *network, const sn_layer_settings *layers);
int sn_network_supernet_vit_attach(sn_network *network, const sn_layer_settings *layers);

/* Parameter initialisers: each fills entry e of the table from the stream
 * (seed, SN_RNG_PARAMETER_INIT, 0, e). */
void sn_init_normal(sn_network *network, int entry, uint64_t seed, float std);
void sn_init_truncated_normal(sn_network *network, int entry, uint64_t seed, float std);
void sn_init_uniform(sn_network *network, int entry, uint64_t seed, float bound);
void sn_init_constant(sn_network *network, int entry, float value);

/* Pointer to entry e in a slab laid out by the network's table. */
static inline float *sn_entry(const sn_network *network, float *slab, int entry)
{
    return slab + network->table.entries[entry].offset;
}

#endif
