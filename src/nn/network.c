/* The network object: slabs, dispatch to the fixed CNN or ViT, initialisers. */
#include "network_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/rng.h"

/* Declares the parameters, sizes and allocates the three slabs, and lays out
 * the activations, once the model is attached. */
static int network_allocate(sn_network *network)
{
    int status = network->operations->declare(network);
    if (status != SN_OK)
        return status;
    sn_arena sizing = {NULL, 0};
    network->operations->layout(network, &sizing);
    network->activation_floats = sizing.used;
    network->parameters = sn_alloc_floats(network->table.total);
    network->gradients = sn_alloc_floats(network->table.total);
    network->activations = sn_alloc_floats((size_t)sizing.used);
    if (!network->parameters || !network->gradients || !network->activations)
        return sn_error_set(SN_ERR_NOMEM,
                            "network: cannot allocate %zu parameters and %lld activation floats",
                            network->table.total, (long long)sizing.used);
    sn_arena assign = {network->activations, 0};
    network->operations->layout(network, &assign);
    return SN_OK;
}

static sn_network *network_new(const sn_input_shape *input, int64_t max_batch)
{
    sn_network *network = calloc(1, sizeof *network);
    if (!network) {
        sn_error_set(SN_ERR_NOMEM, "network: out of memory");
        return NULL;
    }
    network->input = *input;
    network->max_batch = max_batch;
    sn_parameter_table_init(&network->table);
    return network;
}

/* Gives network its own copy of space and the architecture-gradient buffer. */
static int network_take_space(sn_network *network, const sn_space *space)
{
    network->space = malloc(sizeof *network->space);
    network->architecture_gradient = sn_alloc_floats((size_t)space->choice_total);
    if (!network->space || !network->architecture_gradient)
        return sn_error_set(SN_ERR_NOMEM, "network: out of memory");
    *network->space = *space;
    memset(network->architecture_gradient, 0, (size_t)space->choice_total * sizeof(float));
    return SN_OK;
}

/* After the slabs exist: a supernet starts at its largest architecture. */
static int network_start_at_largest(sn_network *network)
{
    sn_arch largest;
    sn_arch_largest(network->space, &largest);
    return network->operations->set_architecture(network, &largest);
}

/* The fixed ViT is the ViT supernet of the space that holds just that
 * network: one code path, one set of tests for both. */
static int vit_fixed_attach(sn_network *network, const sn_vit_settings *vit,
                            const sn_layer_settings *layers)
{
    if (vit->heads < 1 || vit->embed_dim % vit->heads != 0)
        return sn_error_set(SN_ERR_CONFIG, "[vit] embed_dim = %d is not divisible by heads = %d",
                            vit->embed_dim, vit->heads);
    if (network->input.height != network->input.width)
        return sn_error_set(SN_ERR_CONFIG, "vit: images must be square, not %dx%d",
                            network->input.height, network->input.width);
    sn_space_description d;
    memset(&d, 0, sizeof d);
    d.type = SN_SPACE_VIT;
    d.image_channels = network->input.channels;
    d.image_size = network->input.height;
    d.classes = network->input.classes;
    d.patch = vit->patch;
    d.head_dim = vit->embed_dim / vit->heads;
    d.embed_count = d.depth_count = d.heads_count = d.mlp_ratio_count = 1;
    d.embeds[0] = vit->embed_dim;
    d.depths[0] = vit->depth;
    d.heads[0] = vit->heads;
    /* hidden / embed: lround(ratio * embed) gives back exactly mlp_hidden */
    d.mlp_ratios[0] = (double)vit->mlp_hidden / (double)vit->embed_dim;
    sn_space space;
    int status = sn_space_build(&space, &d);
    if (status != SN_OK) {
        char reason[512];
        snprintf(reason, sizeof reason, "%s", sn_error_message());
        return sn_error_set(SN_ERR_CONFIG, "[vit] %s", reason);
    }
    SN_TRY(network_take_space(network, &space));
    network->fixed = 1;
    return sn_network_supernet_vit_attach(network, layers);
}

/* A supernet network: its space must be for the input's shape. */
static int supernet_create(sn_network **out, const sn_network_settings *settings,
                           const sn_input_shape *input, int64_t max_batch)
{
    sn_space space;
    SN_TRY(sn_space_build(&space, &settings->space));
    if (space.image_channels != input->channels || space.image_size != input->height ||
        space.image_size != input->width || space.classes != input->classes)
        return sn_error_set(SN_ERR_CONFIG,
                            "[space] is for %dx%dx%d images and %d classes but the data set "
                            "has %dx%dx%d images and %d classes",
                            space.image_channels, space.image_size, space.image_size,
                            space.classes, input->channels, input->height, input->width,
                            input->classes);
    return sn_network_create_supernet(out, &space, &settings->layers, max_batch);
}

int sn_network_create(sn_network **out, const sn_network_settings *settings,
                      const sn_input_shape *input, int64_t max_batch)
{
    *out = NULL;
    if (max_batch < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "network: batch size must be >= 1");
    if (settings->type == SN_NETWORK_SUPERNET)
        return supernet_create(out, settings, input, max_batch);
    sn_network *network = network_new(input, max_batch);
    if (!network)
        return SN_ERR_NOMEM;
    int status;
    if (settings->type == SN_NETWORK_CNN)
        status = sn_network_cnn_attach(network, &settings->cnn, &settings->layers);
    else if (settings->type == SN_NETWORK_VIT)
        status = vit_fixed_attach(network, &settings->vit, &settings->layers);
    else
        status = sn_error_set(SN_ERR_ARGUMENT, "network: %d is not a network type",
                              (int)settings->type);
    if (status == SN_OK)
        status = network_allocate(network);
    if (status == SN_OK && network->space != NULL)
        status = network_start_at_largest(network);
    if (status != SN_OK) {
        sn_network_free(network);
        return status;
    }
    *out = network;
    return SN_OK;
}

int sn_network_create_supernet(sn_network **out, const sn_space *space,
                               const sn_layer_settings *layers, int64_t max_batch)
{
    *out = NULL;
    if (max_batch < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "network: batch size must be >= 1");
    sn_input_shape input = {space->image_channels, space->image_size, space->image_size,
                            space->classes};
    sn_network *network = network_new(&input, max_batch);
    if (!network)
        return SN_ERR_NOMEM;
    int status = network_take_space(network, space);
    if (status == SN_OK)
        status = space->type == SN_SPACE_CNN ? sn_network_supernet_cnn_attach(network, layers)
                                             : sn_network_supernet_vit_attach(network, layers);
    if (status == SN_OK)
        status = network_allocate(network);
    if (status == SN_OK)
        status = network_start_at_largest(network);
    if (status != SN_OK) {
        sn_network_free(network);
        return status;
    }
    *out = network;
    return SN_OK;
}

const sn_space *sn_network_space(const sn_network *network)
{
    return network->fixed ? NULL : network->space;
}

int sn_network_set_architecture(sn_network *network, const sn_arch *arch)
{
    if (!network->space || network->fixed)
        return sn_error_set(SN_ERR_ARGUMENT, "network: a fixed network has no architecture to set");
    return network->operations->set_architecture(network, arch);
}

int sn_network_set_soft_architecture(sn_network *network, const float *probabilities)
{
    if (!network->space || network->fixed)
        return sn_error_set(SN_ERR_ARGUMENT, "network: a fixed network has no architecture to set");
    return network->operations->set_soft_architecture(network, probabilities);
}

int sn_network_visit_subnet(sn_network *network, const sn_subnet_visitor *visitor)
{
    if (!network->operations->visit_subnet)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "network: only a supernet's subnet can be walked, not the fixed CNN");
    return network->operations->visit_subnet(network, visitor);
}

const float *sn_network_architecture_gradient(const sn_network *network)
{
    return network->fixed ? NULL : network->architecture_gradient;
}

int sn_network_begin_batchnorm_recalibration(sn_network *network)
{
    if (!network->operations->reset_running_statistics)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "network: batch-norm recalibration needs a supernet with batch norm");
    network->operations->reset_running_statistics(network);
    network->recalibrating = 1;
    network->recalibration_batches = 0;
    return SN_OK;
}

void sn_network_end_batchnorm_recalibration(sn_network *network)
{
    network->recalibrating = 0;
}

void sn_network_free(sn_network *network)
{
    if (!network)
        return;
    if (network->operations && network->operations->free_model)
        network->operations->free_model(network);
    free(network->space);
    sn_free(network->architecture_gradient);
    sn_free(network->parameters);
    sn_free(network->gradients);
    sn_free(network->activations);
    sn_parameter_table_free(&network->table);
    free(network);
}

void sn_network_initialize(sn_network *network, uint64_t seed)
{
    network->operations->initialize(network, seed);
}

const sn_parameter_table *sn_network_parameter_table(const sn_network *network)
{
    return &network->table;
}

float *sn_network_parameters(sn_network *network)
{
    return network->parameters;
}

float *sn_network_gradients(sn_network *network)
{
    return network->gradients;
}

void sn_network_zero_gradients(sn_network *network)
{
    memset(network->gradients, 0, network->table.total * sizeof(float));
}

float *sn_network_running_statistics(sn_network *network, int64_t *count)
{
    *count = network->running_statistics_count;
    return network->running_statistics;
}

sn_batch_layout sn_network_input_layout(const sn_network *network)
{
    return network->layout;
}

int sn_network_classes(const sn_network *network)
{
    return network->input.classes;
}

const float *sn_network_forward(sn_network *network, const float *images, int64_t batch,
                                const sn_forward_mode *mode)
{
    return network->operations->forward(network, images, batch, mode);
}

void sn_network_backward(sn_network *network, const float *dlogits, int64_t batch)
{
    network->operations->backward(network, dlogits, batch);
}

int64_t sn_network_macs(const sn_network *network)
{
    return network->macs;
}

int64_t sn_network_convolution_macs(const sn_network *network)
{
    return network->convolution_macs;
}

int64_t sn_network_activation_floats(const sn_network *network)
{
    return network->activation_floats;
}

static void entry_stream(sn_rng_stream *stream, uint64_t seed, int entry)
{
    sn_rng_stream_init(stream, seed, SN_RNG_PARAMETER_INIT, 0, (uint32_t)entry);
}

void sn_init_normal(sn_network *network, int entry, uint64_t seed, float std)
{
    sn_rng_stream stream;
    entry_stream(&stream, seed, entry);
    float *p = sn_entry(network, network->parameters, entry);
    for (size_t i = 0; i < network->table.entries[entry].count; i++)
        p[i] = std * sn_rng_normal(&stream);
}

void sn_init_truncated_normal(sn_network *network, int entry, uint64_t seed, float std)
{
    /* Redraw outside two standard deviations, as timm's trunc_normal_ does. */
    sn_rng_stream stream;
    entry_stream(&stream, seed, entry);
    float *p = sn_entry(network, network->parameters, entry);
    for (size_t i = 0; i < network->table.entries[entry].count; i++) {
        float z;
        do
            z = sn_rng_normal(&stream);
        while (fabsf(z) > 2.0f);
        p[i] = std * z;
    }
}

void sn_init_uniform(sn_network *network, int entry, uint64_t seed, float bound)
{
    sn_rng_stream stream;
    entry_stream(&stream, seed, entry);
    float *p = sn_entry(network, network->parameters, entry);
    for (size_t i = 0; i < network->table.entries[entry].count; i++)
        p[i] = bound * (2.0f * sn_rng_uniform(&stream) - 1.0f);
}

void sn_init_constant(sn_network *network, int entry, float value)
{
    float *p = sn_entry(network, network->parameters, entry);
    for (size_t i = 0; i < network->table.entries[entry].count; i++)
        p[i] = value;
}
