/* The search space of a configuration's [space] section. */
#include "shiftnas/space.h"
#include "shiftnas/error.h"

#include <string.h>

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

int sn_space_from_config(sn_space *space, const sn_config *config, int image_channels,
                         int image_size, int classes)
{
    sn_space_description d;
    memset(&d, 0, sizeof d);
    d.type = strcmp(config->space_type, "vit") == 0 ? SN_SPACE_VIT : SN_SPACE_CNN;
    d.image_channels =
        config->space_image_channels ? (int)config->space_image_channels : image_channels;
    d.image_size = config->space_image_size ? (int)config->space_image_size : image_size;
    d.classes = config->space_classes ? (int)config->space_classes : classes;
    if (d.image_channels <= 0 || d.image_size <= 0 || d.classes <= 0)
        return sn_error_set(SN_ERR_CONFIG,
                            "configuration: [space] image_channels, image_size and classes "
                            "are unknown (%d, %d, %d): set them or give the data set's",
                            d.image_channels, d.image_size, d.classes);
    int status = copy_ints(d.depths, &d.depth_count, &config->space_depths, SN_SPACE_MAX_CHOICES,
                           "depths");
    if (status != SN_OK)
        return status;
    if (d.type == SN_SPACE_CNN) {
        d.stem_channels = (int)config->space_stem_channels;
        d.stem_stride = (int)config->space_stem_stride;
        d.stem_kernel = (int)config->space_stem_kernel;
        int strides = 0;
        if ((status = copy_ints(d.stage_channels, &d.stage_count, &config->space_stage_channels,
                                SN_SPACE_MAX_STAGES, "stage_channels")) != SN_OK ||
            (status = copy_ints(d.stage_strides, &strides, &config->space_stage_strides,
                                SN_SPACE_MAX_STAGES, "stage_strides")) != SN_OK ||
            (status = copy_ints(d.kernels, &d.kernel_count, &config->space_kernels,
                                SN_SPACE_MAX_CHOICES, "kernels")) != SN_OK ||
            (status = copy_doubles(d.width_ratios, &d.width_ratio_count,
                                   &config->space_width_ratios, "width_ratios")) != SN_OK ||
            (status = copy_doubles(d.expand_ratios, &d.expand_count,
                                   &config->space_expand_ratios, "expand_ratios")) != SN_OK)
            return status;
        if (strides != d.stage_count)
            return sn_error_set(SN_ERR_CONFIG,
                                "configuration: [space] stage_strides has %d entries but "
                                "stage_channels has %d (one stride per stage)",
                                strides, d.stage_count);
    } else {
        d.patch = (int)config->space_patch;
        d.head_dim = (int)config->space_head_dim;
        if ((status = copy_ints(d.embeds, &d.embed_count, &config->space_embeds,
                                SN_SPACE_MAX_CHOICES, "embeds")) != SN_OK ||
            (status = copy_ints(d.heads, &d.heads_count, &config->space_heads,
                                SN_SPACE_MAX_CHOICES, "heads")) != SN_OK ||
            (status = copy_doubles(d.mlp_ratios, &d.mlp_ratio_count, &config->space_mlp_ratios,
                                   "mlp_ratios")) != SN_OK)
            return status;
    }
    return sn_space_build(space, &d);
}
