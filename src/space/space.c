/*
 * Search spaces as data: building the dimension table from a description,
 * checking it, restricting it to one architecture, and the architecture
 * operations that only need the table (activity, canonical form, extremes,
 * uniform sampling, one-hot vectors).
 */
#include "shiftnas/space.h"
#include "shiftnas/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *kind_name(sn_dimension_kind kind)
{
    switch (kind) {
    case SN_DIMENSION_DEPTH: return "depth";
    case SN_DIMENSION_WIDTH: return "width";
    case SN_DIMENSION_KERNEL: return "kernel";
    case SN_DIMENSION_EXPAND: return "expand ratio";
    case SN_DIMENSION_EMBED: return "embed dim";
    case SN_DIMENSION_HEADS: return "heads";
    case SN_DIMENSION_MLP_RATIO: return "mlp ratio";
    }
    return "?";
}

static int add_dimension(sn_space *space, sn_dimension_kind kind, int stage, int block, int count,
                         const double *choices)
{
    if (space->dimension_count >= SN_SPACE_MAX_DIMENSIONS)
        return sn_error_set(SN_ERR_CONFIG, "space: more than %d searchable dimensions",
                            SN_SPACE_MAX_DIMENSIONS);
    sn_dimension *d = &space->dimensions[space->dimension_count++];
    d->kind = kind;
    d->stage = stage;
    d->block = block;
    d->choice_count = count;
    for (int i = 0; i < count && i < SN_SPACE_MAX_CHOICES; i++)
        d->choices[i] = choices[i];
    return SN_OK;
}

static void ints_to_doubles(double *out, const int *in, int count)
{
    for (int i = 0; i < count; i++)
        out[i] = in[i];
}

static int largest_int(const sn_dimension *d)
{
    return (int)d->choices[d->choice_count - 1];
}

static int build_cnn(sn_space *space, const sn_space_description *desc)
{
    if (desc->stage_count < 1 || desc->stage_count > SN_SPACE_MAX_STAGES)
        return sn_error_set(SN_ERR_CONFIG, "space: %d stages (1 to %d allowed)", desc->stage_count,
                            SN_SPACE_MAX_STAGES);
    space->stem_channels = desc->stem_channels;
    space->stem_stride = desc->stem_stride;
    space->stem_kernel = desc->stem_kernel;
    space->stage_count = desc->stage_count;
    double depths[SN_SPACE_MAX_CHOICES], kernels[SN_SPACE_MAX_CHOICES];
    ints_to_doubles(depths, desc->depths, desc->depth_count);
    ints_to_doubles(kernels, desc->kernels, desc->kernel_count);
    int max_depth = desc->depth_count > 0 ? desc->depths[desc->depth_count - 1] : 0;
    for (int s = 0; s < desc->stage_count; s++) {
        space->stage_strides[s] = desc->stage_strides[s];
        double widths[SN_SPACE_MAX_CHOICES];
        for (int i = 0; i < desc->width_ratio_count; i++)
            widths[i] = (double)lround(desc->width_ratios[i] * desc->stage_channels[s]);
        SN_TRY(add_dimension(space, SN_DIMENSION_DEPTH, s, -1, desc->depth_count, depths));
        SN_TRY(add_dimension(space, SN_DIMENSION_WIDTH, s, -1, desc->width_ratio_count, widths));
        for (int b = 0; b < max_depth && b < SN_SPACE_MAX_BLOCKS; b++) {
            SN_TRY(add_dimension(space, SN_DIMENSION_KERNEL, s, b, desc->kernel_count, kernels));
            SN_TRY(add_dimension(space, SN_DIMENSION_EXPAND, s, b, desc->expand_count,
                                 desc->expand_ratios));
        }
    }
    return SN_OK;
}

static int build_vit(sn_space *space, const sn_space_description *desc)
{
    space->patch = desc->patch;
    space->head_dim = desc->head_dim;
    double embeds[SN_SPACE_MAX_CHOICES], depths[SN_SPACE_MAX_CHOICES], heads[SN_SPACE_MAX_CHOICES];
    ints_to_doubles(embeds, desc->embeds, desc->embed_count);
    ints_to_doubles(depths, desc->depths, desc->depth_count);
    ints_to_doubles(heads, desc->heads, desc->heads_count);
    SN_TRY(add_dimension(space, SN_DIMENSION_EMBED, -1, -1, desc->embed_count, embeds));
    SN_TRY(add_dimension(space, SN_DIMENSION_DEPTH, -1, -1, desc->depth_count, depths));
    int max_depth = desc->depth_count > 0 ? desc->depths[desc->depth_count - 1] : 0;
    if (max_depth > SN_SPACE_MAX_LAYERS)
        return sn_error_set(SN_ERR_CONFIG, "space: depth %d is more than %d layers", max_depth,
                            SN_SPACE_MAX_LAYERS);
    for (int l = 0; l < max_depth; l++) {
        SN_TRY(add_dimension(space, SN_DIMENSION_HEADS, -1, l, desc->heads_count, heads));
        SN_TRY(add_dimension(space, SN_DIMENSION_MLP_RATIO, -1, l, desc->mlp_ratio_count,
                             desc->mlp_ratios));
    }
    return SN_OK;
}

/* Checks one list of choices before it becomes a dimension. */
static int check_list(const char *what, int count, const double *values, int integers)
{
    if (count < 1 || count > SN_SPACE_MAX_CHOICES)
        return sn_error_set(SN_ERR_CONFIG, "space: %s has %d choices (1 to %d allowed)", what,
                            count, SN_SPACE_MAX_CHOICES);
    for (int i = 0; i < count; i++) {
        if (!(values[i] > 0.0) || !isfinite(values[i]))
            return sn_error_set(SN_ERR_CONFIG, "space: %s choice %g must be positive", what,
                                values[i]);
        if (integers && values[i] != floor(values[i]))
            return sn_error_set(SN_ERR_CONFIG, "space: %s choice %g must be a whole number", what,
                                values[i]);
        if (i > 0 && !(values[i] > values[i - 1]))
            return sn_error_set(SN_ERR_CONFIG,
                                "space: %s choices must be strictly ascending (%g after %g)", what,
                                values[i], values[i - 1]);
    }
    return SN_OK;
}

int sn_space_build(sn_space *space, const sn_space_description *desc)
{
    memset(space, 0, sizeof *space);
    space->type = desc->type;
    space->image_channels = desc->image_channels;
    space->image_size = desc->image_size;
    space->classes = desc->classes;
    if (desc->type == SN_SPACE_CNN) {
        /* The list checks come first so that a bad list is named as such
         * (not as the dimension it would have produced). */
        double tmp[SN_SPACE_MAX_CHOICES];
        ints_to_doubles(tmp, desc->depths, desc->depth_count);
        SN_TRY(check_list("depths", desc->depth_count, tmp, 1));
        ints_to_doubles(tmp, desc->kernels, desc->kernel_count);
        SN_TRY(check_list("kernels", desc->kernel_count, tmp, 1));
        SN_TRY(check_list("width_ratios", desc->width_ratio_count, desc->width_ratios, 0));
        SN_TRY(check_list("expand_ratios", desc->expand_count, desc->expand_ratios, 0));
        if (desc->depths[desc->depth_count - 1] > SN_SPACE_MAX_BLOCKS)
            return sn_error_set(SN_ERR_CONFIG, "space: depth %d is more than %d blocks per stage",
                                desc->depths[desc->depth_count - 1], SN_SPACE_MAX_BLOCKS);
        SN_TRY(build_cnn(space, desc));
    } else if (desc->type == SN_SPACE_VIT) {
        double tmp[SN_SPACE_MAX_CHOICES];
        ints_to_doubles(tmp, desc->embeds, desc->embed_count);
        SN_TRY(check_list("embeds", desc->embed_count, tmp, 1));
        ints_to_doubles(tmp, desc->depths, desc->depth_count);
        SN_TRY(check_list("depths", desc->depth_count, tmp, 1));
        ints_to_doubles(tmp, desc->heads, desc->heads_count);
        SN_TRY(check_list("heads", desc->heads_count, tmp, 1));
        SN_TRY(check_list("mlp_ratios", desc->mlp_ratio_count, desc->mlp_ratios, 0));
        SN_TRY(build_vit(space, desc));
    } else {
        return sn_error_set(SN_ERR_CONFIG, "space: unknown space type %d", (int)desc->type);
    }
    return sn_space_finish(space);
}

static int check_fixed_parts(const sn_space *space)
{
    if (space->image_channels < 1 || space->image_size < 1 || space->classes < 2)
        return sn_error_set(SN_ERR_CONFIG,
                            "space: images %dx%dx%d and %d classes: channels and size must be "
                            "positive and there must be at least 2 classes",
                            space->image_channels, space->image_size, space->image_size,
                            space->classes);
    if (space->type == SN_SPACE_CNN) {
        if (space->stem_channels < 1 || space->stem_stride < 1 || space->stem_kernel < 1 ||
            space->stem_kernel % 2 == 0)
            return sn_error_set(SN_ERR_CONFIG,
                                "space: stem of %d channels, stride %d, kernel %d: all must be "
                                "positive and the kernel odd",
                                space->stem_channels, space->stem_stride, space->stem_kernel);
        /* Padding k/2 keeps every map at least 1x1, whatever the strides. */
        for (int s = 0; s < space->stage_count; s++)
            if (space->stage_strides[s] < 1)
                return sn_error_set(SN_ERR_CONFIG, "space: stage %d stride %d must be positive",
                                    s + 1, space->stage_strides[s]);
    } else {
        if (space->patch < 1 || space->image_size % space->patch != 0)
            return sn_error_set(SN_ERR_CONFIG, "space: patch %d does not divide the %dx%d image",
                                space->patch, space->image_size, space->image_size);
        if (space->head_dim < 1)
            return sn_error_set(SN_ERR_CONFIG, "space: head_dim %d must be positive",
                                space->head_dim);
    }
    return SN_OK;
}

int sn_space_finish(sn_space *space)
{
    SN_TRY(check_fixed_parts(space));
    for (int i = 0; i < SN_SPACE_MAX_STAGES; i++) {
        space->depth_dimension[i] = space->width_dimension[i] = -1;
        for (int b = 0; b < SN_SPACE_MAX_BLOCKS; b++)
            space->kernel_dimension[i][b] = space->expand_dimension[i][b] = -1;
    }
    for (int l = 0; l < SN_SPACE_MAX_LAYERS; l++)
        space->heads_dimension[l] = space->mlp_dimension[l] = -1;
    space->embed_dimension = -1;
    int offset = 0;
    for (int i = 0; i < space->dimension_count; i++) {
        const sn_dimension *d = &space->dimensions[i];
        char what[64];
        if (d->stage >= 0 && d->block >= 0)
            snprintf(what, sizeof what, "stage %d block %d %s", d->stage + 1, d->block + 1,
                     kind_name(d->kind));
        else if (d->stage >= 0)
            snprintf(what, sizeof what, "stage %d %s", d->stage + 1, kind_name(d->kind));
        else if (d->block >= 0)
            snprintf(what, sizeof what, "layer %d %s", d->block + 1, kind_name(d->kind));
        else
            snprintf(what, sizeof what, "%s", kind_name(d->kind));
        int integers = d->kind != SN_DIMENSION_EXPAND && d->kind != SN_DIMENSION_MLP_RATIO;
        SN_TRY(check_list(what, d->choice_count, d->choices, integers));
        int s = d->stage, b = d->block;
        int cnn = space->type == SN_SPACE_CNN;
        int stage_ok = s >= 0 && s < space->stage_count;
        switch (d->kind) {
        case SN_DIMENSION_DEPTH:
            if (cnn && stage_ok && largest_int(d) <= SN_SPACE_MAX_BLOCKS)
                space->depth_dimension[s] = i;
            else if (!cnn && s == -1 && largest_int(d) <= SN_SPACE_MAX_LAYERS)
                space->depth_dimension[0] = i;
            else
                return sn_error_set(SN_ERR_CONFIG, "space: misplaced %s dimension %d", what, i);
            break;
        case SN_DIMENSION_WIDTH:
            if (!cnn || !stage_ok)
                return sn_error_set(SN_ERR_CONFIG, "space: misplaced %s dimension %d", what, i);
            space->width_dimension[s] = i;
            break;
        case SN_DIMENSION_KERNEL:
        case SN_DIMENSION_EXPAND:
            if (!cnn || !stage_ok || b < 0 || b >= SN_SPACE_MAX_BLOCKS)
                return sn_error_set(SN_ERR_CONFIG, "space: misplaced %s dimension %d", what, i);
            if (d->kind == SN_DIMENSION_KERNEL) {
                for (int j = 0; j < d->choice_count; j++)
                    if ((int)d->choices[j] % 2 == 0)
                        return sn_error_set(SN_ERR_CONFIG, "space: %s choice %g must be odd",
                                            what, d->choices[j]);
                space->kernel_dimension[s][b] = i;
            } else {
                space->expand_dimension[s][b] = i;
            }
            break;
        case SN_DIMENSION_EMBED:
            if (cnn)
                return sn_error_set(SN_ERR_CONFIG, "space: misplaced %s dimension %d", what, i);
            space->embed_dimension = i;
            break;
        case SN_DIMENSION_HEADS:
        case SN_DIMENSION_MLP_RATIO:
            if (cnn || b < 0 || b >= SN_SPACE_MAX_LAYERS)
                return sn_error_set(SN_ERR_CONFIG, "space: misplaced %s dimension %d", what, i);
            if (d->kind == SN_DIMENSION_HEADS)
                space->heads_dimension[b] = i;
            else
                space->mlp_dimension[b] = i;
            break;
        }
        space->choice_offset[i] = offset;
        offset += d->choice_count;
    }
    space->choice_total = offset;
    /* Every dimension a largest architecture needs must exist. */
    if (space->type == SN_SPACE_CNN) {
        for (int s = 0; s < space->stage_count; s++) {
            if (space->depth_dimension[s] < 0 || space->width_dimension[s] < 0)
                return sn_error_set(SN_ERR_CONFIG, "space: stage %d has no depth or width", s + 1);
            int depth = largest_int(&space->dimensions[space->depth_dimension[s]]);
            for (int b = 0; b < depth; b++)
                if (space->kernel_dimension[s][b] < 0 || space->expand_dimension[s][b] < 0)
                    return sn_error_set(SN_ERR_CONFIG,
                                        "space: stage %d block %d has no kernel or expand ratio",
                                        s + 1, b + 1);
        }
    } else {
        if (space->embed_dimension < 0 || space->depth_dimension[0] < 0)
            return sn_error_set(SN_ERR_CONFIG, "space: a vit space needs embed and depth");
        int depth = largest_int(&space->dimensions[space->depth_dimension[0]]);
        for (int l = 0; l < depth; l++)
            if (space->heads_dimension[l] < 0 || space->mlp_dimension[l] < 0)
                return sn_error_set(SN_ERR_CONFIG, "space: layer %d has no heads or mlp ratio",
                                    l + 1);
    }
    return SN_OK;
}

/* The depth that governs dimension d (its stage's or the ViT's), or -1 for
 * a dimension that is always active. */
static int governing_depth(const sn_space *space, const sn_dimension *d)
{
    if (d->kind == SN_DIMENSION_KERNEL || d->kind == SN_DIMENSION_EXPAND)
        return space->depth_dimension[d->stage];
    if (d->kind == SN_DIMENSION_HEADS || d->kind == SN_DIMENSION_MLP_RATIO)
        return space->depth_dimension[0];
    return -1;
}

int sn_arch_dimension_active(const sn_space *space, const sn_arch *arch, int d)
{
    const sn_dimension *dim = &space->dimensions[d];
    int depth_dim = governing_depth(space, dim);
    if (depth_dim < 0)
        return 1;
    return dim->block < (int)sn_arch_value(space, arch, depth_dim);
}

void sn_arch_canonicalize(const sn_space *space, sn_arch *arch)
{
    for (int d = 0; d < space->dimension_count; d++)
        if (!sn_arch_dimension_active(space, arch, d))
            arch->choice[d] = 0;
    for (int d = space->dimension_count; d < SN_SPACE_MAX_DIMENSIONS; d++)
        arch->choice[d] = 0;
}

void sn_arch_smallest(const sn_space *space, sn_arch *arch)
{
    memset(arch, 0, sizeof *arch);
    sn_arch_canonicalize(space, arch);
}

void sn_arch_largest(const sn_space *space, sn_arch *arch)
{
    memset(arch, 0, sizeof *arch);
    for (int d = 0; d < space->dimension_count; d++)
        arch->choice[d] = space->dimensions[d].choice_count - 1;
    sn_arch_canonicalize(space, arch);
}

void sn_arch_sample_uniform(const sn_space *space, sn_rng_stream *stream, sn_arch *arch)
{
    memset(arch, 0, sizeof *arch);
    /* Every dimension draws, active or not, so that the draws of one
     * dimension never depend on another's value. */
    for (int d = 0; d < space->dimension_count; d++)
        arch->choice[d] = (int)sn_rng_below(stream, (uint32_t)space->dimensions[d].choice_count);
    sn_arch_canonicalize(space, arch);
}

int sn_arch_equal(const sn_space *space, const sn_arch *a, const sn_arch *b)
{
    sn_arch ca = *a, cb = *b;
    sn_arch_canonicalize(space, &ca);
    sn_arch_canonicalize(space, &cb);
    for (int d = 0; d < space->dimension_count; d++)
        if (ca.choice[d] != cb.choice[d])
            return 0;
    return 1;
}

void sn_arch_one_hot(const sn_space *space, const sn_arch *arch, double *probabilities)
{
    memset(probabilities, 0, (size_t)space->choice_total * sizeof *probabilities);
    for (int d = 0; d < space->dimension_count; d++)
        probabilities[space->choice_offset[d] + arch->choice[d]] = 1.0;
}

int sn_space_restrict(const sn_space *space, const sn_arch *arch, sn_space *single)
{
    sn_space out = *space;
    out.dimension_count = 0;
    for (int d = 0; d < space->dimension_count; d++) {
        if (!sn_arch_dimension_active(space, arch, d))
            continue; /* a block or layer beyond the chosen depth is gone */
        sn_dimension dim = space->dimensions[d];
        dim.choices[0] = sn_arch_value(space, arch, d);
        dim.choice_count = 1;
        out.dimensions[out.dimension_count++] = dim;
    }
    SN_TRY(sn_space_finish(&out));
    *single = out;
    return SN_OK;
}

double sn_space_architecture_count(const sn_space *space)
{
    /* Sum over the depth choices of the product of the active dimensions'
     * choice counts; the CNN's stages are independent of each other. */
    if (space->type == SN_SPACE_CNN) {
        double total = 1.0;
        for (int s = 0; s < space->stage_count; s++) {
            const sn_dimension *depth = &space->dimensions[space->depth_dimension[s]];
            double stage = 0.0;
            for (int j = 0; j < depth->choice_count; j++) {
                double ways = 1.0;
                for (int b = 0; b < (int)depth->choices[j]; b++)
                    ways *= space->dimensions[space->kernel_dimension[s][b]].choice_count *
                            space->dimensions[space->expand_dimension[s][b]].choice_count;
                stage += ways;
            }
            total *= stage * space->dimensions[space->width_dimension[s]].choice_count;
        }
        return total;
    }
    const sn_dimension *depth = &space->dimensions[space->depth_dimension[0]];
    double total = 0.0;
    for (int j = 0; j < depth->choice_count; j++) {
        double ways = 1.0;
        for (int l = 0; l < (int)depth->choices[j]; l++)
            ways *= space->dimensions[space->heads_dimension[l]].choice_count *
                    space->dimensions[space->mlp_dimension[l]].choice_count;
        total += ways;
    }
    return total * space->dimensions[space->embed_dimension].choice_count;
}
