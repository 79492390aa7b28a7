/* Image sets in memory: the validation split, the epoch order, normalisation,
 * augmentation and batch assembly. */
#include "shiftnas/data.h"
#include "shiftnas/error.h"
#include "shiftnas/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sn_image_set_free(sn_image_set *set)
{
    if (!set)
        return;
    free(set->pixels);
    free(set->labels);
    memset(set, 0, sizeof *set);
}

int sn_split_make(int64_t total, int64_t validation_count, uint64_t seed, sn_split *split)
{
    memset(split, 0, sizeof *split);
    /* Indices are uint32 and the permutation counts in uint32. */
    if (total < 1 || total > (int64_t)UINT32_MAX)
        return sn_error_set(SN_ERR_ARGUMENT, "split: %lld images: expected 1 to %u", (long long)total,
                            UINT32_MAX);
    if (validation_count < 0 || validation_count >= total)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "split: validation count %lld out of range: expected 0 <= count < %lld",
                            (long long)validation_count, (long long)total);
    uint32_t *order = malloc((size_t)total * sizeof *order);
    uint8_t *held_out = calloc((size_t)total, 1);
    split->train = malloc((size_t)(total - validation_count) * sizeof *split->train);
    split->validation = malloc((size_t)(validation_count ? validation_count : 1) * sizeof *split->validation);
    if (!order || !held_out || !split->train || !split->validation) {
        free(order);
        free(held_out);
        sn_split_free(split);
        return sn_error_set(SN_ERR_NOMEM, "split: cannot allocate index lists for %lld images",
                            (long long)total);
    }
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, seed, SN_RNG_SPLIT, 0, 0);
    sn_rng_permutation(&stream, order, (uint32_t)total);
    for (int64_t i = 0; i < validation_count; i++)
        held_out[order[i]] = 1;
    /* A pass in index order yields both lists already sorted. */
    int64_t t = 0, v = 0;
    for (int64_t i = 0; i < total; i++) {
        if (held_out[i])
            split->validation[v++] = (uint32_t)i;
        else
            split->train[t++] = (uint32_t)i;
    }
    split->train_count = t;
    split->validation_count = v;
    free(order);
    free(held_out);
    return SN_OK;
}

void sn_split_free(sn_split *split)
{
    if (!split)
        return;
    free(split->train);
    free(split->validation);
    memset(split, 0, sizeof *split);
}

void sn_epoch_order(uint32_t *order, const uint32_t *indices, int64_t count, uint64_t seed,
                    uint64_t epoch)
{
    /* The permutation is built in `order` itself and then mapped through
     * `indices` in place (each slot is read once, then overwritten), so no
     * scratch memory is needed. `order` must not alias `indices`. */
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, seed, SN_RNG_SHUFFLE, epoch, 0);
    sn_rng_permutation(&stream, order, (uint32_t)count);
    for (int64_t i = 0; i < count; i++)
        order[i] = indices[order[i]];
}

int sn_normalization_compute(const sn_image_set *set, const uint32_t *indices, int64_t count,
                             sn_normalization *normalization)
{
    memset(normalization, 0, sizeof *normalization);
    if (set->channels < 1 || set->channels > SN_MAX_CHANNELS)
        return sn_error_set(SN_ERR_ARGUMENT, "normalisation: %d channels: expected 1 to %d",
                            set->channels, SN_MAX_CHANNELS);
    if (count < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "normalisation: no images (count %lld)", (long long)count);
    const int64_t plane = (int64_t)set->height * set->width;
    double sum[SN_MAX_CHANNELS] = {0}, sum_sq[SN_MAX_CHANNELS] = {0};
    for (int64_t i = 0; i < count; i++) {
        if ((int64_t)indices[i] >= set->count)
            return sn_error_set(SN_ERR_ARGUMENT, "normalisation: index %u at position %lld is out of range (%lld images)",
                                indices[i], (long long)i, (long long)set->count);
        const uint8_t *image = set->pixels + (int64_t)indices[i] * set->channels * plane;
        for (int c = 0; c < set->channels; c++) {
            /* Per image the sums are exact integers; across images they are
             * added in double in index order, so the result is reproducible. */
            uint64_t s = 0, s2 = 0;
            const uint8_t *p = image + c * plane;
            for (int64_t k = 0; k < plane; k++) {
                s += p[k];
                s2 += (uint32_t)p[k] * p[k];
            }
            sum[c] += (double)s;
            sum_sq[c] += (double)s2;
        }
    }
    const double n = (double)count * (double)plane;
    normalization->channels = set->channels;
    for (int c = 0; c < set->channels; c++) {
        double mean = sum[c] / n / 255.0;
        double variance = sum_sq[c] / n / (255.0 * 255.0) - mean * mean;
        /* A constant channel has no spread to divide by; std 1 then merely
         * centres it instead of producing Inf. */
        double std = variance > 1e-12 ? sqrt(variance) : 1.0;
        normalization->mean[c] = (float)mean;
        normalization->std[c] = (float)std;
    }
    return SN_OK;
}

/* The augmentation of one sample. The draw order (dy, dx, then flip) is part
 * of the meaning of a seed: changing it changes every run's data stream. */
typedef struct {
    int dy, dx, flip;
} augment_draw;

static augment_draw draw_augmentation(const sn_augmentation *augmentation, uint64_t seed,
                                      uint64_t epoch, uint32_t sample)
{
    augment_draw d = {0, 0, 0};
    if (!augmentation)
        return d;
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, seed, SN_RNG_AUGMENT, epoch, sample);
    int pad = augmentation->crop_padding;
    if (pad > 0) {
        d.dy = (int)sn_rng_below(&stream, (uint32_t)(2 * pad + 1)) - pad;
        d.dx = (int)sn_rng_below(&stream, (uint32_t)(2 * pad + 1)) - pad;
    }
    if (augmentation->horizontal_flip)
        d.flip = (int)(sn_rng_next_u32(&stream) >> 31);
    return d;
}

void sn_batch_fill(float *images, int32_t *labels, const sn_image_set *set,
                   const uint32_t *sample_indices, int64_t batch,
                   const sn_normalization *normalization, const sn_augmentation *augmentation,
                   uint64_t seed, uint64_t epoch, sn_batch_layout layout)
{
    const int C = set->channels, H = set->height, W = set->width;
    const int64_t plane = (int64_t)H * W;
    /* Normalisation as a per-channel table of the 256 pixel values: one load
     * per pixel on the hot path, and no allocation (4 KiB of stack). A NULL
     * normalisation means plain pixel / 255. */
    float table[SN_MAX_CHANNELS][256];
    for (int c = 0; c < C && c < SN_MAX_CHANNELS; c++) {
        float mean = normalization ? normalization->mean[c] : 0.0f;
        float std = normalization ? normalization->std[c] : 1.0f;
        for (int v = 0; v < 256; v++)
            table[c][v] = ((float)v / 255.0f - mean) / std;
    }
    for (int64_t b = 0; b < batch; b++) {
        const uint32_t sample = sample_indices[b];
        if (labels)
            labels[b] = set->labels[sample];
        const augment_draw d = draw_augmentation(augmentation, seed, epoch, sample);
        /* Output column x reads source column sx = x + dx, or W-1-x + dx when
         * flipped (crop first, then mirror the crop). [x0, x1) is where sx
         * falls inside the image; the rest is zero padding. */
        int x0, x1;
        if (d.flip) {
            x0 = d.dx > 0 ? d.dx : 0;
            x1 = W + d.dx < W ? W + d.dx : W;
        } else {
            x0 = d.dx < 0 ? -d.dx : 0;
            x1 = W - d.dx < W ? W - d.dx : W;
        }
        if (x1 < x0)
            x1 = x0;
        if (x0 > W)
            x0 = x1 = W;
        const uint8_t *image = set->pixels + (int64_t)sample * C * plane;
        for (int c = 0; c < C; c++) {
            const float *lut = table[c];
            const float zero = lut[0];
            float *out = layout == SN_LAYOUT_SAMPLE_MAJOR ? images + (b * C + c) * plane
                                                          : images + ((int64_t)c * batch + b) * plane;
            const uint8_t *source = image + c * plane;
            for (int y = 0; y < H; y++) {
                float *row = out + (int64_t)y * W;
                const int sy = y + d.dy;
                if (sy < 0 || sy >= H) {
                    for (int x = 0; x < W; x++)
                        row[x] = zero;
                    continue;
                }
                const uint8_t *src = source + (int64_t)sy * W;
                for (int x = 0; x < x0; x++)
                    row[x] = zero;
                if (d.flip) {
                    const int mirror = W - 1 + d.dx;
                    for (int x = x0; x < x1; x++)
                        row[x] = lut[src[mirror - x]];
                } else {
                    for (int x = x0; x < x1; x++)
                        row[x] = lut[src[x + d.dx]];
                }
                for (int x = x1; x < W; x++)
                    row[x] = zero;
            }
        }
    }
}

void sn_batch_fill_blocks(float *images, int32_t *labels, const sn_image_set *set,
                          const uint32_t *sample_indices, const int64_t *block_sizes, int blocks,
                          const sn_normalization *normalization,
                          const sn_augmentation *augmentation, uint64_t seed, uint64_t epoch,
                          sn_batch_layout layout)
{
    const int64_t image_floats = (int64_t)set->channels * set->height * set->width;
    int64_t begin = 0;
    for (int k = 0; k < blocks; k++) {
        sn_batch_fill(images + begin * image_floats, labels ? labels + begin : NULL, set,
                      sample_indices + begin, block_sizes[k], normalization, augmentation, seed,
                      epoch, layout);
        begin += block_sizes[k];
    }
}
