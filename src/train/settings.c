/*
 * The one place where the run configuration becomes the settings of the
 * networks, spaces, buckets, generator and evolution (shiftnas/settings.h).
 */
#include "shiftnas/settings.h"

#include <string.h>

#include "shiftnas/error.h"

/* ---- the search space ------------------------------------------------------ */

/* Copies a configuration list into a description's choice list; a list
 * longer than the space allows is an error naming its key. */
static int copy_ints(int *out, int *count, const sn_int_list *list, int limit, const char *key)
{
    if (list->count > limit)
        return sn_error_set(SN_ERR_CONFIG, "configuration: [space] %s has %d entries (at most %d)",
                            key, list->count, limit);
    for (int i = 0; i < list->count; i++)
        out[i] = (int)list->values[i];
    *count = list->count;
    return SN_OK;
}

static int copy_doubles(double *out, int *count, const sn_float_list *list, const char *key)
{
    if (list->count > SN_SPACE_MAX_CHOICES)
        return sn_error_set(SN_ERR_CONFIG, "configuration: [space] %s has %d entries (at most %d)",
                            key, list->count, SN_SPACE_MAX_CHOICES);
    for (int i = 0; i < list->count; i++)
        out[i] = list->values[i];
    *count = list->count;
    return SN_OK;
}

static int cnn_space_from_config(sn_space_description *d, const sn_config *config)
{
    d->stem_channels = (int)config->space_stem_channels;
    d->stem_stride = (int)config->space_stem_stride;
    d->stem_kernel = (int)config->space_stem_kernel;
    int strides = 0;
    int status;
    if ((status = copy_ints(d->stage_channels, &d->stage_count, &config->space_stage_channels,
                            SN_SPACE_MAX_STAGES, "stage_channels")) != SN_OK ||
        (status = copy_ints(d->stage_strides, &strides, &config->space_stage_strides,
                            SN_SPACE_MAX_STAGES, "stage_strides")) != SN_OK ||
        (status = copy_ints(d->kernels, &d->kernel_count, &config->space_kernels,
                            SN_SPACE_MAX_CHOICES, "kernels")) != SN_OK ||
        (status = copy_doubles(d->width_ratios, &d->width_ratio_count,
                               &config->space_width_ratios, "width_ratios")) != SN_OK ||
        (status = copy_doubles(d->expand_ratios, &d->expand_count, &config->space_expand_ratios,
                               "expand_ratios")) != SN_OK)
        return status;
    if (strides != d->stage_count)
        return sn_error_set(SN_ERR_CONFIG,
                            "configuration: [space] stage_strides has %d entries but "
                            "stage_channels has %d (one stride per stage)",
                            strides, d->stage_count);
    return SN_OK;
}

static int vit_space_from_config(sn_space_description *d, const sn_config *config)
{
    d->patch = (int)config->space_patch;
    d->head_dim = (int)config->space_head_dim;
    int status;
    if ((status = copy_ints(d->embeds, &d->embed_count, &config->space_embeds,
                            SN_SPACE_MAX_CHOICES, "embeds")) != SN_OK ||
        (status = copy_ints(d->heads, &d->heads_count, &config->space_heads, SN_SPACE_MAX_CHOICES,
                            "heads")) != SN_OK ||
        (status = copy_doubles(d->mlp_ratios, &d->mlp_ratio_count, &config->space_mlp_ratios,
                               "mlp_ratios")) != SN_OK)
        return status;
    return SN_OK;
}

int sn_space_description_from_config(sn_space_description *d, const sn_config *config,
                                     int image_channels, int image_size, int classes)
{
    memset(d, 0, sizeof *d);
    d->type = strcmp(config->space_type, "vit") == 0 ? SN_SPACE_VIT : SN_SPACE_CNN;
    d->image_channels =
        config->space_image_channels ? (int)config->space_image_channels : image_channels;
    d->image_size = config->space_image_size ? (int)config->space_image_size : image_size;
    d->classes = config->space_classes ? (int)config->space_classes : classes;
    if (d->image_channels <= 0 || d->image_size <= 0 || d->classes <= 0)
        return sn_error_set(SN_ERR_CONFIG,
                            "configuration: [space] image_channels, image_size and classes "
                            "are unknown (%d, %d, %d): set them or give the data set's",
                            d->image_channels, d->image_size, d->classes);
    SN_TRY(copy_ints(d->depths, &d->depth_count, &config->space_depths, SN_SPACE_MAX_CHOICES,
                     "depths"));
    return d->type == SN_SPACE_CNN ? cnn_space_from_config(d, config)
                                   : vit_space_from_config(d, config);
}

int sn_space_from_config(sn_space *space, const sn_config *config, int image_channels,
                         int image_size, int classes)
{
    sn_space_description d;
    SN_TRY(sn_space_description_from_config(&d, config, image_channels, image_size, classes));
    return sn_space_build(space, &d);
}

/* ---- networks ------------------------------------------------------------- */

void sn_layer_settings_from_config(sn_layer_settings *settings, const sn_config *config)
{
    settings->bn_momentum = config->bn_momentum;
    settings->dropout = config->vit_dropout;
    settings->drop_path = config->vit_drop_path;
}

static int cnn_settings_from_config(sn_cnn_settings *cnn, const sn_config *config)
{
    const sn_int_list *channels = &config->cnn_channels, *strides = &config->cnn_strides;
    if (channels->count < 1 || channels->count != strides->count)
        return sn_error_set(SN_ERR_CONFIG,
                            "[cnn] channels has %d entries but strides has %d: one stride per block",
                            channels->count, strides->count);
    if (channels->count > SN_CNN_MAX_BLOCKS)
        return sn_error_set(SN_ERR_CONFIG, "[cnn] channels has %d entries (at most %d)",
                            channels->count, SN_CNN_MAX_BLOCKS);
    cnn->block_count = channels->count;
    for (int i = 0; i < channels->count; i++) {
        cnn->channels[i] = (int)channels->values[i];
        cnn->strides[i] = (int)strides->values[i];
    }
    cnn->kernel = (int)config->cnn_kernel;
    cnn->hardswish = strcmp(config->cnn_activation, "hardswish") == 0;
    return SN_OK;
}

static void vit_settings_from_config(sn_vit_settings *vit, const sn_config *config)
{
    vit->patch = (int)config->vit_patch;
    vit->embed_dim = (int)config->vit_embed_dim;
    vit->depth = (int)config->vit_depth;
    vit->heads = (int)config->vit_heads;
    vit->mlp_hidden = (int)config->vit_mlp_hidden;
}

int sn_network_settings_from_config(sn_network_settings *settings, const sn_config *config,
                                    const sn_input_shape *input)
{
    memset(settings, 0, sizeof *settings);
    sn_layer_settings_from_config(&settings->layers, config);
    if (strcmp(config->model_type, "supernet") == 0) {
        settings->type = SN_NETWORK_SUPERNET;
        return sn_space_description_from_config(&settings->space, config, input->channels,
                                                 input->height, input->classes);
    }
    if (strcmp(config->model_type, "cnn") == 0) {
        settings->type = SN_NETWORK_CNN;
        return cnn_settings_from_config(&settings->cnn, config);
    }
    if (strcmp(config->model_type, "vit") == 0) {
        settings->type = SN_NETWORK_VIT;
        vit_settings_from_config(&settings->vit, config);
        return SN_OK;
    }
    return sn_error_set(SN_ERR_CONFIG, "[model] type = %s: not a known network",
                        config->model_type);
}

/* ---- search ----------------------------------------------------------------- */

int sn_buckets_from_config(sn_buckets *buckets, const sn_space *space, const sn_config *config)
{
    int status = config->search_bucket_step > 0
                     ? sn_buckets_from_step(buckets, space, config->search_bucket_step)
                     : sn_buckets_equal_width(buckets, space, (int)config->search_buckets);
    if (status != SN_OK)
        return sn_error_set(SN_ERR_CONFIG, "[search] %s: %s",
                            config->search_bucket_step > 0 ? "bucket_step" : "buckets",
                            sn_error_message());
    return SN_OK;
}

void sn_generator_settings_from_config(sn_generator_settings *settings, const sn_config *config)
{
    sn_generator_default_settings(settings);
    settings->hidden = (int)config->generator_hidden;
    settings->embedding = (int)config->generator_embedding;
    settings->temperature_start = (float)config->generator_temperature_start;
    settings->temperature_end = (float)config->generator_temperature_end;
}

void sn_evolution_settings_from_config(sn_evolution_settings *settings, const sn_config *config)
{
    sn_evolution_default_settings(settings);
    settings->population = (int)config->evolution_population;
    settings->evaluations = (int)config->evolution_evaluations;
    settings->parents = (int)config->evolution_parents;
    settings->mutation_probability = config->evolution_mutation_probability;
    settings->crossover_share = config->evolution_crossover_share;
}
