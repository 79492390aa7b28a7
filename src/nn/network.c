/* The network object: slabs, dispatch to the fixed CNN or ViT, initialisers. */
#include "network_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/rng.h"

int sn_network_create(sn_network **out, const sn_config *config, const sn_input_shape *input,
                      int64_t max_batch)
{
    *out = NULL;
    if (max_batch < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "network: batch size must be >= 1");
    sn_network *network = calloc(1, sizeof *network);
    if (!network)
        return sn_error_set(SN_ERR_NOMEM, "network: out of memory");
    network->input = *input;
    network->max_batch = max_batch;
    sn_parameter_table_init(&network->table);
    int status;
    if (strcmp(config->model_type, "cnn") == 0)
        status = sn_network_cnn_attach(network, config);
    else if (strcmp(config->model_type, "vit") == 0)
        status = sn_network_vit_attach(network, config);
    else
        status = sn_error_set(SN_ERR_CONFIG, "[model] type = %s: not a known network",
                              config->model_type);
    if (status == SN_OK)
        status = network->operations->declare(network);
    if (status == SN_OK) {
        sn_arena sizing = {NULL, 0};
        network->operations->layout(network, &sizing);
        network->activation_floats = sizing.used;
        network->parameters = sn_alloc_floats(network->table.total);
        network->gradients = sn_alloc_floats(network->table.total);
        network->activations = sn_alloc_floats((size_t)sizing.used);
        if (!network->parameters || !network->gradients || !network->activations) {
            status = sn_error_set(SN_ERR_NOMEM,
                                  "network: cannot allocate %zu parameters and %lld activation floats",
                                  network->table.total, (long long)sizing.used);
        } else {
            sn_arena assign = {network->activations, 0};
            network->operations->layout(network, &assign);
        }
    }
    if (status != SN_OK) {
        sn_network_free(network);
        return status;
    }
    *out = network;
    return SN_OK;
}

void sn_network_free(sn_network *network)
{
    if (!network)
        return;
    if (network->operations && network->operations->free_model)
        network->operations->free_model(network);
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
