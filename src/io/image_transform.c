/* The per-image transforms: the random training crop, the evaluation crop
 * and their bilinear resampling into normalised floats. */
#include "shiftnas/image_transform.h"

#include <math.h>
#include <string.h>

/* torchvision's RandomResizedCrop gives up on random boxes after 10 tries. */
enum { RANDOM_CROP_TRIES = 10 };

/* Python's round(): half to even. Written out rather than nearbyint() so
 * that the crops do not depend on the floating-point rounding mode. Returns
 * a double so that callers can range-check before converting to int. */
static double round_half_even(double value)
{
    double nearest = floor(value + 0.5);
    if (nearest - value == 0.5 && fmod(nearest, 2.0) != 0.0)
        nearest -= 1.0;
    return nearest;
}

static int clamp_int(double value, int low, int high)
{
    if (value < low)
        return low;
    if (value > high)
        return high;
    return (int)value;
}

/* torchvision's fallback: the largest centred box whose ratio is the image's
 * own clamped to the range. The clamps keep a box of at least one pixel
 * even for ranges that exclude every box of the image. */
static sn_crop fallback_center_crop(const sn_random_resized_crop *settings, int height, int width)
{
    const double image_ratio = (double)width / height;
    int crop_height = height, crop_width = width;
    if (image_ratio < settings->ratio_min)
        crop_height = clamp_int(round_half_even(width / settings->ratio_min), 1, height);
    else if (image_ratio > settings->ratio_max)
        crop_width = clamp_int(round_half_even(height * settings->ratio_max), 1, width);
    sn_crop crop = {(height - crop_height) / 2, (width - crop_width) / 2, crop_height, crop_width, 0};
    return crop;
}

sn_crop sn_random_resized_crop_draw(const sn_random_resized_crop *settings, int height, int width,
                                    sn_rng_stream *stream)
{
    const double area = (double)height * width;
    const double log_ratio_min = log(settings->ratio_min), log_ratio_max = log(settings->ratio_max);
    sn_crop crop;
    int found = 0;
    for (int attempt = 0; attempt < RANDOM_CROP_TRIES && !found; attempt++) {
        /* Two statements: the scale must be drawn before the ratio, and C
         * leaves the order of evaluation inside one expression open. */
        const double scale_draw = sn_rng_uniform(stream);
        const double ratio_draw = sn_rng_uniform(stream);
        const double target_area =
            area * (settings->scale_min + (settings->scale_max - settings->scale_min) * scale_draw);
        const double ratio = exp(log_ratio_min + (log_ratio_max - log_ratio_min) * ratio_draw);
        const double w = round_half_even(sqrt(target_area * ratio));
        const double h = round_half_even(sqrt(target_area / ratio));
        if (w > 0 && w <= width && h > 0 && h <= height) {
            crop.height = (int)h;
            crop.width = (int)w;
            crop.top = (int)sn_rng_below(stream, (uint32_t)(height - crop.height) + 1u);
            crop.left = (int)sn_rng_below(stream, (uint32_t)(width - crop.width) + 1u);
            found = 1;
        }
    }
    if (!found)
        crop = fallback_center_crop(settings, height, width);
    crop.flip = settings->horizontal_flip ? (int)(sn_rng_next_u32(stream) >> 31) : 0;
    return crop;
}

sn_crop sn_center_crop(int height, int width, int out, double fraction)
{
    const int shorter = height < width ? height : width;
    /* Resize maps the shorter side to `resized`; CenterCrop then keeps `out`
     * of those, i.e. out * shorter / resized source pixels. */
    double resized = round_half_even(out / fraction);
    if (resized < 1)
        resized = 1;
    const int side = clamp_int(round_half_even(out * (double)shorter / resized), 1, shorter);
    sn_crop crop = {(height - side) / 2, (width - side) / 2, side, side, 0};
    return crop;
}

/* ---- resampling ------------------------------------------------------- */

/* Where output index i of out_size falls in a crop of crop_size along one
 * axis (half-pixel centres, clamped to the crop): between crop indices
 * *first and *second, *weight of the way to *second. */
static void source_position(int i, int out_size, int crop_size, int *first, int *second,
                            float *weight)
{
    double x = (i + 0.5) * ((double)crop_size / out_size) - 0.5;
    if (x < 0)
        x = 0;
    int x0 = (int)x;
    if (x0 > crop_size - 1)
        x0 = crop_size - 1;
    *first = x0;
    *second = x0 + 1 < crop_size ? x0 + 1 : crop_size - 1;
    *weight = (float)(x - x0);
}

/* The exact-size case: no interpolation at all, one table load per pixel. */
static void copy_through_table(float *out, int64_t out_channel_stride, const sn_image_view *image,
                               const sn_crop *crop, const float (*lut)[256])
{
    const int64_t column_stride = image->column_stride;
    for (int c = 0; c < image->channels; c++) {
        const float *table = lut[c];
        const uint8_t *plane = image->pixels + c * image->channel_stride +
                               crop->top * image->row_stride + crop->left * column_stride;
        for (int y = 0; y < crop->height; y++) {
            const uint8_t *source = plane + y * image->row_stride;
            float *row = out + c * out_channel_stride + (int64_t)y * crop->width;
            if (!crop->flip && column_stride == 1) {
                for (int x = 0; x < crop->width; x++)
                    row[x] = table[source[x]];
            } else {
                const int64_t step = crop->flip ? -column_stride : column_stride;
                const uint8_t *start = crop->flip ? source + (crop->width - 1) * column_stride : source;
                for (int x = 0; x < crop->width; x++)
                    row[x] = table[start[x * step]];
            }
        }
    }
}

/* Source rows resampled horizontally (through the table) for one channel and
 * one tile of output columns. Consecutive output rows mostly need the same
 * one or two source rows, so the last two are kept: each source row is
 * resampled once and the vertical blend runs over contiguous floats. */
typedef struct {
    const uint8_t *crop_origin;  /* this channel's pixel at the crop's top-left */
    int64_t row_stride;
    const int64_t *first, *second;  /* byte offsets from a row's crop start */
    const float *weight;
    int count;
    const float *table;
    float *buffer[2];
    int held[2];  /* crop row in each buffer, -1: none */
} row_cache;

static const float *row_cache_get(row_cache *cache, int row, int keep)
{
    for (int i = 0; i < 2; i++)
        if (cache->held[i] == row)
            return cache->buffer[i];
    /* Rows are asked for in increasing order: evict the older one unless it
     * is the row the caller still needs. */
    int slot = cache->held[0] <= cache->held[1] ? 0 : 1;
    if (cache->held[slot] == keep)
        slot = 1 - slot;
    const uint8_t *source = cache->crop_origin + row * cache->row_stride;
    float *buffer = cache->buffer[slot];
    for (int x = 0; x < cache->count; x++) {
        const float a = cache->table[source[cache->first[x]]];
        const float b = cache->table[source[cache->second[x]]];
        buffer[x] = a + cache->weight[x] * (b - a);
    }
    cache->held[slot] = row;
    return buffer;
}

/* Output columns [column_begin, column_begin + count) of every channel. */
static void resample_tile(float *out, int64_t out_channel_stride, int out_height, int out_width,
                          int column_begin, int count, const sn_image_view *image,
                          const sn_crop *crop, const float (*lut)[256])
{
    int64_t first[SN_TRANSFORM_COLUMN_TILE], second[SN_TRANSFORM_COLUMN_TILE];
    float weight[SN_TRANSFORM_COLUMN_TILE];
    float upper_buffer[SN_TRANSFORM_COLUMN_TILE], lower_buffer[SN_TRANSFORM_COLUMN_TILE];
    for (int x = 0; x < count; x++) {
        /* Mirroring the resampled crop is resampling at mirrored positions:
         * half-pixel centres and the clamps are symmetric. */
        const int column = column_begin + x;
        const int position = crop->flip ? out_width - 1 - column : column;
        int c0, c1;
        source_position(position, out_width, crop->width, &c0, &c1, &weight[x]);
        first[x] = c0 * image->column_stride;
        second[x] = c1 * image->column_stride;
    }
    for (int c = 0; c < image->channels; c++) {
        row_cache cache = {image->pixels + c * image->channel_stride + crop->top * image->row_stride +
                               crop->left * image->column_stride,
                           image->row_stride, first, second, weight, count, lut[c],
                           {upper_buffer, lower_buffer}, {-1, -1}};
        for (int y = 0; y < out_height; y++) {
            int r0, r1;
            float w;
            source_position(y, out_height, crop->height, &r0, &r1, &w);
            float *row = out + c * out_channel_stride + (int64_t)y * out_width + column_begin;
            const float *upper = row_cache_get(&cache, r0, -1);
            if (w == 0.0f || r1 == r0) {
                memcpy(row, upper, (size_t)count * sizeof *row);
                continue;
            }
            const float *lower = row_cache_get(&cache, r1, r0);
            for (int x = 0; x < count; x++)
                row[x] = upper[x] + w * (lower[x] - upper[x]);
        }
    }
}

void sn_crop_resize(float *out, int64_t out_channel_stride, int out_height, int out_width,
                    const sn_image_view *image, const sn_crop *crop, const float (*lut)[256])
{
    if (crop->height == out_height && crop->width == out_width) {
        copy_through_table(out, out_channel_stride, image, crop, lut);
        return;
    }
    for (int begin = 0; begin < out_width; begin += SN_TRANSFORM_COLUMN_TILE) {
        const int count = out_width - begin < SN_TRANSFORM_COLUMN_TILE ? out_width - begin
                                                                       : SN_TRANSFORM_COLUMN_TILE;
        resample_tile(out, out_channel_stride, out_height, out_width, begin, count, image, crop, lut);
    }
}
