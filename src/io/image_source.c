/*
 * Image sources (shiftnas/input.h): one split held in memory or streamed
 * from an HDF5 file, and the input pipeline that turns a request's stored
 * images into a normalised float batch.
 *
 * Both kinds of source hand the pipeline the same thing, a strided view of
 * each stored image (channels first in memory, channels last as HDF5 stores
 * it), so the pixels a batch sees do not depend on where they were read.
 */
#include "shiftnas/input.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/rng.h"
#include "hdf5_stream.h"

/* Images handed to the pipeline per piece of a memory source's request
 * (the pointer table's size; a streamed source uses its staging size). */
#define MEMORY_PIECE 256

struct sn_image_source {
    const sn_input_pipeline *pipeline;
    const sn_image_set *set;    /* in memory (borrowed), or NULL */
    sn_h5_stream *stream;       /* streamed, or NULL */
    sn_image_source_shape shape;
    const int32_t *labels;
    const uint8_t **images;     /* [piece]: the current piece's stored images */
    int64_t piece;
    char name[1024];
};

void sn_input_pipeline_set_normalization(sn_input_pipeline *pipeline,
                                         const sn_normalization *normalization)
{
    pipeline->normalization = *normalization;
    for (int c = 0; c < SN_MAX_CHANNELS; c++) {
        float mean = c < normalization->channels ? normalization->mean[c] : 0.0f;
        float std = c < normalization->channels ? normalization->std[c] : 1.0f;
        for (int v = 0; v < 256; v++)
            pipeline->table[c][v] = ((float)v / 255.0f - mean) / std;
    }
}

static int source_create(sn_image_source **out, const sn_input_pipeline *pipeline, int64_t piece,
                         const char *name)
{
    *out = NULL;
    sn_image_source *source = calloc(1, sizeof *source);
    if (source)
        source->images = malloc(sizeof *source->images * (size_t)piece);
    if (!source || !source->images) {
        free(source);
        return sn_error_set(SN_ERR_NOMEM, "%s: out of memory for an image source", name);
    }
    source->pipeline = pipeline;
    source->piece = piece;
    snprintf(source->name, sizeof source->name, "%s", name);
    *out = source;
    return SN_OK;
}

int sn_image_source_from_set(sn_image_source **out, const sn_image_set *set,
                             const sn_input_pipeline *pipeline)
{
    SN_TRY(source_create(out, pipeline, MEMORY_PIECE, "(images in memory)"));
    sn_image_source *source = *out;
    source->set = set;
    source->shape = (sn_image_source_shape){set->count, set->channels, set->height, set->width,
                                            set->classes};
    source->labels = set->labels;
    return SN_OK;
}

int sn_image_source_open_stream(sn_image_source **out, const char *path, const char *split,
                                int64_t limit, int64_t staging,
                                const sn_input_pipeline *pipeline)
{
    *out = NULL;
    sn_h5_stream *stream = NULL;
    SN_TRY(sn_h5_stream_open(&stream, path, split, limit, staging));
    int status = source_create(out, pipeline, staging, path);
    if (status != SN_OK) {
        sn_h5_stream_close(stream);
        return status;
    }
    sn_image_source *source = *out;
    source->stream = stream;
    source->shape.count = sn_h5_stream_count(stream);
    sn_h5_stream_image_shape(stream, &source->shape.channels, &source->shape.height,
                             &source->shape.width);
    source->shape.classes = sn_h5_stream_classes(stream);
    source->labels = sn_h5_stream_labels(stream);
    return SN_OK;
}

void sn_image_source_free(sn_image_source *source)
{
    if (!source)
        return;
    sn_h5_stream_close(source->stream);
    free(source->images);
    free(source);
}

sn_image_source_shape sn_image_source_shape_of(const sn_image_source *source)
{
    return source->shape;
}

const int32_t *sn_image_source_labels(const sn_image_source *source)
{
    return source->labels;
}

void sn_image_source_set_classes(sn_image_source *source, int classes)
{
    source->shape.classes = classes;
}

int sn_image_source_is_streamed(const sn_image_source *source)
{
    return source->stream != NULL;
}

const char *sn_image_source_name(const sn_image_source *source)
{
    return source->name;
}

/* ---- reading a piece ------------------------------------------------------ */

/* Points source->images[0..count) at the stored images of indices[..]. */
static int read_piece(sn_image_source *source, const uint32_t *indices, int64_t count)
{
    if (source->stream)
        return sn_h5_stream_read(source->stream, indices, count, source->images);
    const sn_image_set *set = source->set;
    const size_t image_bytes = (size_t)set->channels * (size_t)set->height * (size_t)set->width;
    for (int64_t i = 0; i < count; i++) {
        if ((int64_t)indices[i] >= set->count)
            return sn_error_set(SN_ERR_ARGUMENT, "%s: image %u requested, the set has %lld",
                                source->name, indices[i], (long long)set->count);
        source->images[i] = set->pixels + (size_t)indices[i] * image_bytes;
    }
    return SN_OK;
}

static sn_image_view view_of(const sn_image_source *source, const uint8_t *pixels)
{
    const sn_image_source_shape *s = &source->shape;
    if (source->stream) /* [H, W, C], as HDF5 stores it */
        return (sn_image_view){pixels, s->channels, s->height, s->width, 1,
                               (int64_t)s->width * s->channels, s->channels};
    return (sn_image_view){pixels, s->channels, s->height, s->width,
                           (int64_t)s->height * s->width, s->width, 1};
}

/* ---- the pipeline, one image ---------------------------------------------- */

/* The pad crop and flip of one sample. The draw order (dy, dx, then flip)
 * is part of the meaning of a seed: changing it changes every run's data. */
typedef struct {
    int dy, dx, flip;
} pad_draw;

static pad_draw draw_pad_crop(const sn_input_pipeline *p, uint64_t seed, uint64_t epoch,
                              uint32_t sample)
{
    pad_draw d = {0, 0, 0};
    const int pad = p->crop_padding, flip = p->random_resized.horizontal_flip;
    if (pad == 0 && !flip)
        return d;
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, seed, SN_RNG_AUGMENT, epoch, sample);
    if (pad > 0) {
        d.dy = (int)sn_rng_below(&stream, (uint32_t)(2 * pad + 1)) - pad;
        d.dx = (int)sn_rng_below(&stream, (uint32_t)(2 * pad + 1)) - pad;
    }
    if (flip)
        d.flip = (int)(sn_rng_next_u32(&stream) >> 31);
    return d;
}

/* Output column x reads source column x + dx, or W-1-x + dx when flipped
 * (crop first, then mirror the crop); outside the image is zero padding,
 * i.e. the normalised value of pixel 0. */
static void pad_crop(float *out, int64_t channel_stride, const sn_image_view *v,
                     const pad_draw *d, const float (*table)[256])
{
    const int H = v->height, W = v->width;
    int x0, x1;
    if (d->flip) {
        x0 = d->dx > 0 ? d->dx : 0;
        x1 = W + d->dx < W ? W + d->dx : W;
    } else {
        x0 = d->dx < 0 ? -d->dx : 0;
        x1 = W - d->dx < W ? W - d->dx : W;
    }
    if (x1 < x0)
        x1 = x0;
    if (x0 > W)
        x0 = x1 = W;
    const int64_t step = v->column_stride;
    for (int c = 0; c < v->channels; c++) {
        const float *lut = table[c];
        const float zero = lut[0];
        const uint8_t *source = v->pixels + c * v->channel_stride;
        for (int y = 0; y < H; y++) {
            float *row = out + c * channel_stride + (int64_t)y * W;
            const int sy = y + d->dy;
            if (sy < 0 || sy >= H) {
                for (int x = 0; x < W; x++)
                    row[x] = zero;
                continue;
            }
            const uint8_t *src = source + (int64_t)sy * v->row_stride;
            for (int x = 0; x < x0; x++)
                row[x] = zero;
            if (d->flip) {
                const int mirror = W - 1 + d->dx;
                for (int x = x0; x < x1; x++)
                    row[x] = lut[src[(mirror - x) * step]];
            } else {
                for (int x = x0; x < x1; x++)
                    row[x] = lut[src[(x + d->dx) * step]];
            }
            for (int x = x1; x < W; x++)
                row[x] = zero;
        }
    }
}

/* The output side: input_size, or the stored size when it is 0. */
static void output_size(const sn_input_pipeline *p, const sn_image_view *v, int *height, int *width)
{
    *height = p->input_size > 0 ? p->input_size : v->height;
    *width = p->input_size > 0 ? p->input_size : v->width;
}

static void transform_image(const sn_input_pipeline *p, const sn_image_view *v, float *out,
                            int64_t channel_stride, const sn_batch_request *r, uint32_t sample)
{
    int out_height, out_width;
    output_size(p, v, &out_height, &out_width);
    const float(*table)[256] = (const float(*)[256])p->table;
    if (r->training && p->train_crop == SN_TRAIN_CROP_PAD) {
        pad_draw d = draw_pad_crop(p, r->seed, r->epoch, sample);
        pad_crop(out, channel_stride, v, &d, table);
        return;
    }
    sn_crop crop;
    if (r->training) {
        sn_rng_stream stream;
        sn_rng_stream_init(&stream, r->seed, SN_RNG_AUGMENT, r->epoch, sample);
        crop = sn_random_resized_crop_draw(&p->random_resized, v->height, v->width, &stream);
    } else if (out_height == v->height && out_width == v->width && p->eval_crop_fraction >= 1.0) {
        crop = (sn_crop){0, 0, v->height, v->width, 0};
    } else {
        crop = sn_center_crop(v->height, v->width, out_height, p->eval_crop_fraction);
    }
    sn_crop_resize(out, channel_stride, out_height, out_width, v, &crop, table);
}

/* ---- requests ------------------------------------------------------------- */

/* Block of `count` images whose first float is at `block`; image b of it. */
static float *image_in_block(float *block, sn_batch_layout layout, int channels, int64_t plane,
                             int64_t count, int64_t b, int64_t *channel_stride)
{
    if (layout == SN_LAYOUT_SAMPLE_MAJOR) {
        *channel_stride = plane;
        return block + b * channels * plane;
    }
    *channel_stride = count * plane;
    return block + b * plane;
}

static int fill_block(sn_image_source *source, const sn_batch_request *r, int64_t first,
                      int64_t count)
{
    const sn_input_pipeline *p = source->pipeline;
    const int channels = source->shape.channels;
    sn_image_view shape_view = view_of(source, NULL);
    int out_height, out_width;
    output_size(p, &shape_view, &out_height, &out_width);
    const int64_t plane = (int64_t)out_height * out_width;
    float *block = r->images + first * channels * plane;
    for (int64_t done = 0; done < count; done += source->piece) {
        int64_t n = count - done < source->piece ? count - done : source->piece;
        const uint32_t *samples = r->samples + first + done;
        SN_TRY(read_piece(source, samples, n));
        for (int64_t i = 0; i < n; i++) {
            int64_t channel_stride;
            float *out = image_in_block(block, r->layout, channels, plane, count, done + i,
                                        &channel_stride);
            sn_image_view view = view_of(source, source->images[i]);
            transform_image(p, &view, out, channel_stride, r, samples[i]);
            if (r->labels)
                r->labels[first + done + i] = source->labels[samples[i]];
        }
    }
    return SN_OK;
}

int sn_image_source_fill(sn_image_source *source, const sn_batch_request *r)
{
    if (!r->block_sizes)
        return fill_block(source, r, 0, r->count);
    int64_t first = 0;
    for (int k = 0; k < r->blocks; k++) {
        SN_TRY(fill_block(source, r, first, r->block_sizes[k]));
        first += r->block_sizes[k];
    }
    if (first != r->count)
        return sn_error_set(SN_ERR_INTERNAL, "%s: blocks of %lld images for a request of %lld",
                            source->name, (long long)first, (long long)r->count);
    return SN_OK;
}

int sn_image_source_fill_plain(sn_image_source *source, float *images, int32_t *labels,
                               const uint32_t *samples, int64_t count, sn_batch_layout layout)
{
    sn_batch_request request = {samples, count, NULL, 1, 0, 0, 0, layout, images, labels};
    return sn_image_source_fill(source, &request);
}

/* ---- normalisation ---------------------------------------------------------- */

int sn_image_source_normalization(sn_image_source *source, const uint32_t *indices,
                                  int64_t count, sn_normalization *normalization)
{
    memset(normalization, 0, sizeof *normalization);
    const sn_image_source_shape *s = &source->shape;
    if (s->channels < 1 || s->channels > SN_MAX_CHANNELS)
        return sn_error_set(SN_ERR_ARGUMENT, "normalisation: %d channels: expected 1 to %d",
                            s->channels, SN_MAX_CHANNELS);
    if (count < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "normalisation: no images (count %lld)", (long long)count);
    double sum[SN_MAX_CHANNELS] = {0}, sum_sq[SN_MAX_CHANNELS] = {0};
    for (int64_t done = 0; done < count; done += source->piece) {
        int64_t n = count - done < source->piece ? count - done : source->piece;
        SN_TRY(read_piece(source, indices + done, n));
        for (int64_t i = 0; i < n; i++) {
            sn_image_view v = view_of(source, source->images[i]);
            for (int c = 0; c < s->channels; c++) {
                /* Per image the sums are exact integers; across images they
                 * are added in double in index order, as
                 * whatever the piece size or the source. */
                uint64_t sum_image = 0, sum_sq_image = 0;
                for (int y = 0; y < v.height; y++) {
                    const uint8_t *row = v.pixels + c * v.channel_stride + y * v.row_stride;
                    for (int x = 0; x < v.width; x++) {
                        uint32_t p = row[x * v.column_stride];
                        sum_image += p;
                        sum_sq_image += p * p;
                    }
                }
                sum[c] += (double)sum_image;
                sum_sq[c] += (double)sum_sq_image;
            }
        }
    }
    const double pixels = (double)count * (double)s->height * (double)s->width;
    normalization->channels = s->channels;
    for (int c = 0; c < s->channels; c++) {
        double mean = sum[c] / pixels / 255.0;
        double variance = sum_sq[c] / pixels / (255.0 * 255.0) - mean * mean;
        double std = variance > 1e-12 ? sqrt(variance) : 1.0;
        normalization->mean[c] = (float)mean;
        normalization->std[c] = (float)std;
    }
    return SN_OK;
}
