/* Shorter side to S, centre crop to S x S: a separable resampler with a box
 * (area) filter when shrinking and bilinear taps when enlarging (contract in
 * shiftnas/image_folder.h).
 *
 * Each axis gets a table of taps: output pixel o reads source pixels
 * first[o] .. first[o] + count[o] - 1 with weights summing to 1. The crop is
 * folded into the tables, so only the source rows under the crop are
 * filtered horizontally, and the vertical pass reads those rows. */
#include "shiftnas/image_folder.h"
#include "shiftnas/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sn_resize_scratch_free(sn_resize_scratch *scratch)
{
    free(scratch->data);
    memset(scratch, 0, sizeof *scratch);
}

typedef struct {
    int *first, *count;  /* [size] */
    float *weights;      /* [size][taps] */
    int taps;
} axis_taps;

/* Source extent n (the axis), shorter side m (the crop is m source pixels
 * long), output size S. The resized axis is round(n * S / m) long and the
 * crop starts at output pixel (that - S) / 2. */
static void axis_build(axis_taps *axis, int n, int m, int size)
{
    const double scale = (double)m / size;  /* source pixels per output pixel */
    const long resized = lround((double)n * size / m);
    const double offset = (double)((resized - size) / 2) * scale;
    for (int o = 0; o < size; o++) {
        float *w = axis->weights + (size_t)o * axis->taps;
        int first, count = 0;
        if (scale >= 1.0) {
            /* the source interval [a, b) under output pixel o */
            const double a = offset + o * scale, b = offset + (o + 1) * scale;
            first = (int)floor(a);
            int last = (int)ceil(b) - 1;
            if (first < 0)
                first = 0;
            if (last > n - 1)
                last = n - 1;
            double total = 0;
            for (int i = first; i <= last && count < axis->taps; i++) {
                double lo = a > i ? a : i, hi = b < i + 1 ? b : i + 1;
                double weight = hi > lo ? hi - lo : 0;
                w[count++] = (float)weight;
                total += weight;
            }
            for (int t = 0; t < count; t++)
                w[t] = (float)(w[t] / total);
        } else {
            /* pixel centres aligned: output centre o + 1/2 */
            double c = offset + (o + 0.5) * scale - 0.5;
            if (c < 0)
                c = 0;
            if (c > n - 1)
                c = n - 1;
            first = (int)floor(c);
            const double frac = c - first;
            w[count++] = (float)(1.0 - frac);
            if (first + 1 < n)
                w[count++] = (float)frac;
            else
                w[0] = 1.0f;
        }
        axis->first[o] = first;
        axis->count[o] = count;
    }
}

static int taps_for(int m, int size)
{
    return m > size ? (m + size - 1) / size + 2 : 2;
}

int sn_image_resize_crop(const uint8_t *src, int width, int height, int channels, int size,
                         uint8_t *dst, sn_resize_scratch *scratch)
{
    if (width < 1 || height < 1 || size < 1 || channels < 1 || channels > 4)
        return sn_error_set(SN_ERR_ARGUMENT, "resize: %dx%dx%d to %d: bad shape", width, height,
                            channels, size);
    const int m = width < height ? width : height;
    const int taps = taps_for(m, size);
    /* tables for x and y ([first, count] as floats-sized ints, then weights),
     * then rows of the horizontal pass */
    const size_t table = (size_t)size * (2 + taps);
    const size_t row = (size_t)size * channels;
    const size_t floats = 2 * table + (size_t)(height + 1) * row;
    if (floats > scratch->capacity) {
        float *bigger = realloc(scratch->data, floats * sizeof *bigger);
        if (!bigger)
            return sn_error_set(SN_ERR_NOMEM, "resize: cannot allocate %zu floats", floats);
        scratch->data = bigger;
        scratch->capacity = floats;
    }
    axis_taps ax, ay;
    int *ints = (int *)scratch->data;  /* int and float have the same size */
    ax.first = ints;
    ax.count = ints + size;
    ax.weights = scratch->data + 2 * (size_t)size;
    ax.taps = taps;
    ay.first = ints + table;
    ay.count = ints + table + size;
    ay.weights = scratch->data + table + 2 * (size_t)size;
    ay.taps = taps;
    float *rows = scratch->data + 2 * table;  /* [height][size][channels] */
    axis_build(&ax, width, m, size);
    axis_build(&ay, height, m, size);

    /* horizontal: only the source rows the vertical taps read */
    const int row_first = ay.first[0];
    const int row_last = ay.first[size - 1] + ay.count[size - 1] - 1;
    for (int y = row_first; y <= row_last; y++) {
        const uint8_t *in = src + (size_t)y * width * channels;
        float *out = rows + (size_t)y * row;
        for (int o = 0; o < size; o++) {
            const float *w = ax.weights + (size_t)o * taps;
            const uint8_t *p = in + (size_t)ax.first[o] * channels;
            const int count = ax.count[o];
            if (channels == 3) {
                float r = 0, g = 0, b = 0;
                for (int t = 0; t < count; t++) {
                    r += w[t] * p[3 * t];
                    g += w[t] * p[3 * t + 1];
                    b += w[t] * p[3 * t + 2];
                }
                out[3 * o] = r;
                out[3 * o + 1] = g;
                out[3 * o + 2] = b;
            } else {
                for (int c = 0; c < channels; c++) {
                    float sum = 0;
                    for (int t = 0; t < count; t++)
                        sum += w[t] * p[t * channels + c];
                    out[o * channels + c] = sum;
                }
            }
        }
    }
    /* vertical: whole rows at a time (the inner loop vectorises) */
    float *sum = rows + (size_t)height * row;  /* [size * channels] */
    for (int o = 0; o < size; o++) {
        const float *w = ay.weights + (size_t)o * taps;
        const float *in = rows + (size_t)ay.first[o] * row;
        for (size_t i = 0; i < row; i++)
            sum[i] = w[0] * in[i];
        for (int t = 1; t < ay.count[o]; t++) {
            const float *line = in + (size_t)t * row;
            for (size_t i = 0; i < row; i++)
                sum[i] += w[t] * line[i];
        }
        uint8_t *out = dst + (size_t)o * row;
        for (size_t i = 0; i < row; i++) {
            int v = (int)(sum[i] + 0.5f);
            out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    return SN_OK;
}
