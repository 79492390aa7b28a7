/* Image transforms: the exact-size copy, bilinear resampling against a naive
 * double-precision reference, the random resized crop (ranges, keys, draw
 * order, fallback, degenerate images), the evaluation crop, batch placement. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/image_transform.h"
#include "shiftnas/rng.h"

/* ---- helpers ------------------------------------------------------------ */

enum { MAX_CHANNELS = 4 };

static const sn_random_resized_crop deit_settings = {0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, 1};

/* ImageNet-like statistics, different per channel so that a channel mix-up
 * shows in the values. */
static void make_table(float lut[MAX_CHANNELS][256])
{
    const float mean[MAX_CHANNELS] = {0.485f, 0.456f, 0.406f, 0.5f};
    const float std[MAX_CHANNELS] = {0.229f, 0.224f, 0.225f, 0.25f};
    for (int c = 0; c < MAX_CHANNELS; c++)
        for (int v = 0; v < 256; v++)
            lut[c][v] = ((float)v / 255.0f - mean[c]) / std[c];
}

/* Random pixels, channels-first [C,H,W]. */
static uint8_t *random_image(int channels, int height, int width, uint32_t item)
{
    size_t n = (size_t)channels * height * width;
    uint8_t *pixels = malloc(n);
    ck_assert_ptr_nonnull(pixels);
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 11, SN_RNG_TEST, 0, item);
    for (size_t i = 0; i < n; i++)
        pixels[i] = (uint8_t)(sn_rng_next_u32(&stream) >> 24);
    return pixels;
}

/* The same pixels channels-last [H,W,C]. */
static uint8_t *to_channels_last(const uint8_t *chw, int channels, int height, int width)
{
    uint8_t *hwc = malloc((size_t)channels * height * width);
    ck_assert_ptr_nonnull(hwc);
    for (int c = 0; c < channels; c++)
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                hwc[((size_t)y * width + x) * channels + c] = chw[((size_t)c * height + y) * width + x];
    return hwc;
}

static sn_image_view channels_first(const uint8_t *pixels, int channels, int height, int width)
{
    sn_image_view view = {pixels, channels, height, width, (int64_t)height * width, width, 1};
    return view;
}

static sn_image_view channels_last(const uint8_t *pixels, int channels, int height, int width)
{
    sn_image_view view = {pixels, channels, height, width, 1, (int64_t)width * channels, channels};
    return view;
}

static float *alloc_floats(size_t n)
{
    float *p = malloc(n * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

/* Along one axis: the clamped source coordinate of output index i, split into
 * the lower neighbour (returned through *low, *high) and the fraction. */
static double reference_axis(int i, int out_size, int crop_size, int *low, int *high)
{
    double s = (i + 0.5) * (double)crop_size / (double)out_size - 0.5;
    s = fmax(0.0, fmin(s, (double)(crop_size - 1)));
    *low = (int)floor(s);
    *high = *low + 1 < crop_size ? *low + 1 : *low;
    return s - *low;
}

/* Naive bilinear resize of a crop of a channels-first image, pixel by pixel
 * in double; the flip mirrors the finished output. ref is [C, oh, ow]. */
static void reference_resize(double *ref, int out_height, int out_width, const uint8_t *chw,
                             int channels, int height, int width, const sn_crop *crop,
                             float lut[MAX_CHANNELS][256])
{
    for (int c = 0; c < channels; c++)
        for (int y = 0; y < out_height; y++)
            for (int x = 0; x < out_width; x++) {
                int y0, y1, x0, x1;
                double fy = reference_axis(y, out_height, crop->height, &y0, &y1);
                double fx = reference_axis(x, out_width, crop->width, &x0, &x1);
#define PIXEL(yy, xx) \
    ((double)lut[c][chw[((size_t)c * height + crop->top + (yy)) * width + crop->left + (xx)]])
                double top = PIXEL(y0, x0) * (1 - fx) + PIXEL(y0, x1) * fx;
                double bottom = PIXEL(y1, x0) * (1 - fx) + PIXEL(y1, x1) * fx;
#undef PIXEL
                int ox = crop->flip ? out_width - 1 - x : x;
                ref[((size_t)c * out_height + y) * out_width + ox] = top * (1 - fy) + bottom * fy;
            }
}

static int crop_inside(const sn_crop *crop, int height, int width)
{
    return crop->height >= 1 && crop->width >= 1 && crop->top >= 0 && crop->left >= 0 &&
           crop->top + crop->height <= height && crop->left + crop->width <= width;
}

static int crops_equal(const sn_crop *a, const sn_crop *b)
{
    return a->top == b->top && a->left == b->left && a->height == b->height &&
           a->width == b->width && a->flip == b->flip;
}

static sn_crop draw_keyed(const sn_random_resized_crop *settings, int height, int width,
                          uint64_t epoch, uint32_t sample)
{
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 1234, SN_RNG_AUGMENT, epoch, sample);
    return sn_random_resized_crop_draw(settings, height, width, &stream);
}

/* ---- the exact-size copy ------------------------------------------------ */

START_TEST(exact_size_is_a_copy_through_the_table)
{
    float lut[MAX_CHANNELS][256];
    make_table(lut);
    const int channel_counts[] = {1, 3, 4};
    const int H = 9, W = 13;
    const sn_crop crops[] = {{0, 0, 9, 13, 0}, {0, 0, 9, 13, 1}, {2, 3, 5, 7, 0}, {2, 3, 5, 7, 1},
                             {8, 12, 1, 1, 1}};
    for (size_t k = 0; k < 3; k++) {
        const int C = channel_counts[k];
        uint8_t *chw = random_image(C, H, W, (uint32_t)k);
        uint8_t *hwc = to_channels_last(chw, C, H, W);
        sn_image_view first = channels_first(chw, C, H, W), last = channels_last(hwc, C, H, W);
        for (size_t j = 0; j < sizeof crops / sizeof crops[0]; j++) {
            const sn_crop *crop = &crops[j];
            const int h = crop->height, w = crop->width;
            /* A channel stride larger than the plane: the gap stays untouched. */
            const int64_t stride = (int64_t)h * w + 5;
            float *a = alloc_floats((size_t)C * stride), *b = alloc_floats((size_t)C * stride);
            sn_crop_resize(a, stride, h, w, &first, crop, (const float(*)[256])lut);
            sn_crop_resize(b, stride, h, w, &last, crop, (const float(*)[256])lut);
            for (int c = 0; c < C; c++) {
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        const int sx = crop->left + (crop->flip ? w - 1 - x : x);
                        const float want = lut[c][chw[((size_t)c * H + crop->top + y) * W + sx]];
                        const size_t at = (size_t)(c * stride) + (size_t)y * w + x;
                        ck_assert_msg(a[at] == want && b[at] == want,
                                      "C=%d crop %zu: (%d,%d,%d) = %g / %g, want %g", C, j, c, y, x,
                                      a[at], b[at], want);
                    }
                for (int64_t g = (int64_t)h * w; g < stride; g++)
                    ck_assert(isnan(a[c * stride + g]) && isnan(b[c * stride + g]));
            }
            free(a);
            free(b);
        }
        free(chw);
        free(hwc);
    }
}
END_TEST

START_TEST(flip_mirrors_exactly)
{
    float lut[MAX_CHANNELS][256];
    make_table(lut);
    const int C = 3, H = 21, W = 17;
    uint8_t *chw = random_image(C, H, W, 40);
    sn_image_view view = channels_first(chw, C, H, W);
    /* Both the exact-size path and the resampling path. */
    const int sizes[][2] = {{7, 9}, {12, 5}, {30, 31}};
    for (int k = 0; k < 3; k++) {
        const int oh = sizes[k][0], ow = sizes[k][1];
        sn_crop plain = {3, 2, 7, 9, 0}, mirrored = plain;
        mirrored.flip = 1;
        float *a = alloc_floats((size_t)C * oh * ow), *b = alloc_floats((size_t)C * oh * ow);
        sn_crop_resize(a, (int64_t)oh * ow, oh, ow, &view, &plain, (const float(*)[256])lut);
        sn_crop_resize(b, (int64_t)oh * ow, oh, ow, &view, &mirrored, (const float(*)[256])lut);
        for (int c = 0; c < C; c++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++) {
                    const size_t row = ((size_t)c * oh + y) * ow;
                    ck_assert_msg(a[row + x] == b[row + ow - 1 - x], "%dx%d (%d,%d,%d)", oh, ow, c,
                                  y, x);
                }
        free(a);
        free(b);
    }
    free(chw);
}
END_TEST

/* ---- bilinear resampling ------------------------------------------------ */

typedef struct {
    int height, width;
    sn_crop crop;
    int out_height, out_width;
} resize_case;

START_TEST(bilinear_matches_naive_reference)
{
    float lut[MAX_CHANNELS][256];
    make_table(lut);
    const resize_case cases[] = {
        {37, 53, {0, 0, 37, 53, 0}, 24, 24},    /* non-square source, downscale */
        {37, 53, {0, 0, 37, 53, 1}, 24, 24},
        {37, 53, {3, 5, 30, 41, 1}, 24, 24},    /* an interior crop */
        {5, 7, {0, 0, 5, 7, 0}, 16, 16},        /* upscale */
        {5, 7, {0, 0, 5, 7, 1}, 16, 16},
        {37, 53, {10, 20, 1, 1, 0}, 4, 6},      /* a one-pixel crop */
        {37, 53, {2, 4, 20, 24, 0}, 20, 13},    /* same height, other width */
        {3, 5, {0, 0, 3, 5, 1}, 4, 1100},       /* wider than one column tile */
    };
    const int C = 3;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const resize_case *t = &cases[k];
        const int oh = t->out_height, ow = t->out_width;
        uint8_t *chw = random_image(C, t->height, t->width, 100 + (uint32_t)k);
        uint8_t *hwc = to_channels_last(chw, C, t->height, t->width);
        sn_image_view first = channels_first(chw, C, t->height, t->width);
        sn_image_view last = channels_last(hwc, C, t->height, t->width);
        const size_t n = (size_t)C * oh * ow;
        float *a = alloc_floats(n), *b = alloc_floats(n);
        double *ref = malloc(n * sizeof *ref);
        ck_assert_ptr_nonnull(ref);
        sn_crop_resize(a, (int64_t)oh * ow, oh, ow, &first, &t->crop, (const float(*)[256])lut);
        sn_crop_resize(b, (int64_t)oh * ow, oh, ow, &last, &t->crop, (const float(*)[256])lut);
        reference_resize(ref, oh, ow, chw, C, t->height, t->width, &t->crop, lut);
        ck_assert_msg(memcmp(a, b, n * sizeof *a) == 0, "case %zu: layouts differ", k);
        double worst = 0;
        for (size_t i = 0; i < n; i++)
            worst = fmax(worst, fabs(a[i] - ref[i]));
        ck_assert_msg(worst < 1e-5, "case %zu: max |error| %g", k, worst);
        free(a);
        free(b);
        free(ref);
        free(chw);
        free(hwc);
    }
}
END_TEST

START_TEST(constant_image_stays_constant)
{
    float lut[MAX_CHANNELS][256];
    make_table(lut);
    const int C = 3, H = 19, W = 31;
    const uint8_t value[3] = {0, 77, 255};
    uint8_t *chw = malloc((size_t)C * H * W);
    ck_assert_ptr_nonnull(chw);
    for (int c = 0; c < C; c++)
        memset(chw + (size_t)c * H * W, value[c], (size_t)H * W);
    sn_image_view view = channels_first(chw, C, H, W);
    const sn_crop crops[] = {{0, 0, 19, 31, 0}, {4, 6, 11, 9, 1}, {0, 30, 19, 1, 0}};
    const int sizes[][2] = {{8, 8}, {40, 23}, {19, 31}};
    for (int j = 0; j < 3; j++)
        for (int k = 0; k < 3; k++) {
            const int oh = sizes[k][0], ow = sizes[k][1];
            float *out = alloc_floats((size_t)C * oh * ow);
            sn_crop_resize(out, (int64_t)oh * ow, oh, ow, &view, &crops[j], (const float(*)[256])lut);
            for (int c = 0; c < C; c++)
                for (int i = 0; i < oh * ow; i++)
                    ck_assert_msg(out[c * oh * ow + i] == lut[c][value[c]], "crop %d size %d: %g", j,
                                  k, out[c * oh * ow + i]);
            free(out);
        }
    free(chw);
}
END_TEST

START_TEST(horizontal_gradient_stays_monotone)
{
    float lut[MAX_CHANNELS][256];
    make_table(lut);
    const int H = 10, W = 50;
    uint8_t *pixels = malloc((size_t)H * W);
    ck_assert_ptr_nonnull(pixels);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            pixels[y * W + x] = (uint8_t)(x * 5);
    sn_image_view view = channels_first(pixels, 1, H, W);
    const int sizes[][2] = {{17, 23}, {8, 100}, {3, 7}};
    for (int k = 0; k < 3; k++)
        for (int flip = 0; flip < 2; flip++) {
            const int oh = sizes[k][0], ow = sizes[k][1];
            sn_crop crop = {1, 2, 8, 45, flip};
            float *out = alloc_floats((size_t)oh * ow);
            sn_crop_resize(out, (int64_t)oh * ow, oh, ow, &view, &crop, (const float(*)[256])lut);
            for (int y = 0; y < oh; y++) {
                const float *row = out + (size_t)y * ow;
                for (int x = 1; x < ow; x++)
                    ck_assert_msg(flip ? row[x] <= row[x - 1] : row[x] >= row[x - 1],
                                  "%dx%d flip %d row %d: %g then %g", oh, ow, flip, y, row[x - 1],
                                  row[x]);
                ck_assert(flip ? row[0] > row[ow - 1] : row[0] < row[ow - 1]);
            }
            free(out);
        }
    free(pixels);
}
END_TEST

/* ---- the random resized crop --------------------------------------------- */

/* Whether real sides within half a pixel of the rounded ones can have an area
 * and ratio in the settings' ranges (an accepted draw must). */
static int within_ranges(const sn_random_resized_crop *s, const sn_crop *crop, int height, int width)
{
    const double area = (double)height * width, h = crop->height, w = crop->width;
    return (w + 0.5) * (h + 0.5) >= s->scale_min * area * (1 - 1e-9) &&
           (w - 0.5) * (h - 0.5) <= s->scale_max * area * (1 + 1e-9) &&
           (w + 0.5) / (h - 0.5) >= s->ratio_min * (1 - 1e-9) &&
           (w - 0.5) / (h + 0.5) <= s->ratio_max * (1 + 1e-9);
}

START_TEST(random_crops_inside_and_in_range)
{
    const int shapes[][2] = {{256, 256}, {300, 200}, {64, 480}};
    /* torchvision's fallback for each shape under DeiT's ratio range. */
    const sn_crop fallback[] = {{0, 0, 256, 256, 0}, {16, 0, 267, 200, 0}, {0, 197, 64, 85, 0}};
    const int samples = 3000;
    for (int k = 0; k < 3; k++) {
        const int H = shapes[k][0], W = shapes[k][1];
        int flips = 0, fallbacks = 0;
        double smallest = 1, largest = 0;
        for (int i = 0; i < samples; i++) {
            const sn_crop crop = draw_keyed(&deit_settings, H, W, 5, (uint32_t)i);
            ck_assert_msg(crop_inside(&crop, H, W), "%dx%d sample %d: crop %d,%d %dx%d", H, W, i,
                          crop.top, crop.left, crop.height, crop.width);
            flips += crop.flip;
            sn_crop unflipped = crop;
            unflipped.flip = 0;
            if (!within_ranges(&deit_settings, &crop, H, W)) {
                ck_assert_msg(crops_equal(&unflipped, &fallback[k]),
                              "%dx%d sample %d: %dx%d is neither in range nor the fallback", H, W, i,
                              crop.height, crop.width);
                fallbacks++;
            }
            const double fraction = (double)crop.height * crop.width / ((double)H * W);
            smallest = fmin(smallest, fraction);
            largest = fmax(largest, fraction);
        }
        /* 6 standard deviations of a fair coin over 3000 draws: 164. */
        ck_assert_msg(abs(flips - samples / 2) < 165, "%dx%d: %d flips of %d", H, W, flips, samples);
        if (k < 2) {
            ck_assert_msg(smallest < 0.1 && largest > 0.8, "%dx%d: areas %g..%g", H, W, smallest,
                          largest);
            ck_assert_msg(fallbacks < samples / 100, "%dx%d: %d fallbacks", H, W, fallbacks);
        }
    }
}
END_TEST

START_TEST(random_crops_are_keyed)
{
    const int H = 256, W = 256, samples = 1000;
    int same_as_next = 0, same_next_epoch = 0;
    for (int i = 0; i < samples; i++) {
        const sn_crop a = draw_keyed(&deit_settings, H, W, 2, (uint32_t)i);
        const sn_crop again = draw_keyed(&deit_settings, H, W, 2, (uint32_t)i);
        ck_assert(crops_equal(&a, &again));
        const sn_crop next = draw_keyed(&deit_settings, H, W, 2, (uint32_t)i + 1);
        const sn_crop later = draw_keyed(&deit_settings, H, W, 3, (uint32_t)i);
        same_as_next += crops_equal(&a, &next);
        same_next_epoch += crops_equal(&a, &later);
    }
    ck_assert_msg(same_as_next <= 2, "%d equal neighbours", same_as_next);
    ck_assert_msg(same_next_epoch <= 2, "%d equal across epochs", same_next_epoch);
}
END_TEST

/* The draw order documented in the header, written out again: a change of
 * order (or of the number of numbers drawn) changes every seed's crops. */
static sn_crop documented_draw(const sn_random_resized_crop *s, int H, int W, sn_rng_stream *stream)
{
    for (int attempt = 0; attempt < 10; attempt++) {
        double u_scale = sn_rng_uniform(stream);
        double u_ratio = sn_rng_uniform(stream);
        double area = (double)H * W * (s->scale_min + u_scale * (s->scale_max - s->scale_min));
        double ratio = exp(log(s->ratio_min) + u_ratio * (log(s->ratio_max) - log(s->ratio_min)));
        double w = nearbyint(sqrt(area * ratio)), h = nearbyint(sqrt(area / ratio));
        if (w >= 1 && w <= W && h >= 1 && h <= H) {
            sn_crop crop = {0, 0, (int)h, (int)w, 0};
            crop.top = (int)sn_rng_below(stream, (uint32_t)(H - crop.height + 1));
            crop.left = (int)sn_rng_below(stream, (uint32_t)(W - crop.width + 1));
            crop.flip = s->horizontal_flip ? (int)(sn_rng_next_u32(stream) >> 31) : 0;
            return crop;
        }
    }
    sn_crop crop = {-1, -1, -1, -1, s->horizontal_flip ? (int)(sn_rng_next_u32(stream) >> 31) : 0};
    return crop; /* fallbacks are checked elsewhere */
}

START_TEST(random_crop_draw_order_is_documented)
{
    sn_random_resized_crop settings = deit_settings;
    for (int flip = 0; flip < 2; flip++) {
        settings.horizontal_flip = flip;
        for (uint32_t i = 0; i < 2000; i++) {
            sn_rng_stream ours, theirs;
            sn_rng_stream_init(&ours, 99, SN_RNG_AUGMENT, 7, i);
            theirs = ours;
            const sn_crop a = sn_random_resized_crop_draw(&settings, 240, 320, &ours);
            const sn_crop b = documented_draw(&settings, 240, 320, &theirs);
            if (b.height > 0)
                ck_assert_msg(crops_equal(&a, &b), "sample %u: %d,%d %dx%d flip %d vs %d,%d %dx%d flip %d",
                              i, a.top, a.left, a.height, a.width, a.flip, b.top, b.left, b.height,
                              b.width, b.flip);
            /* Both consumed the same numbers. */
            ck_assert_uint_eq(sn_rng_next_u32(&ours), sn_rng_next_u32(&theirs));
        }
    }
}
END_TEST

START_TEST(random_crop_fallback_is_torchvisions)
{
    /* No box of a square image has a ratio in [2, 3] at full area: every try
     * fails, and the centre crop takes the range's nearest ratio. */
    sn_random_resized_crop wide = {1.0, 1.0, 2.0, 3.0, 0};
    sn_random_resized_crop tall = {1.0, 1.0, 0.25, 0.5, 0};
    for (uint32_t i = 0; i < 50; i++) {
        const sn_crop a = draw_keyed(&wide, 100, 100, 0, i);
        const sn_crop b = draw_keyed(&tall, 100, 100, 0, i);
        const sn_crop want_a = {25, 0, 50, 100, 0}, want_b = {0, 25, 100, 50, 0};
        ck_assert(crops_equal(&a, &want_a));
        ck_assert(crops_equal(&b, &want_b));
    }
}
END_TEST

START_TEST(degenerate_images_give_valid_crops)
{
    const int shapes[][2] = {{1, 1}, {1, 100}, {100, 1}, {2, 3}};
    const sn_random_resized_crop odd[] = {
        {0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, 1},
        {0.001, 0.002, 1000.0, 2000.0, 1},   /* ratio far above any box */
        {0.5, 1.0, 0.0005, 0.001, 0},        /* ratio far below any box */
        {1.0, 1.0, 1.0, 1.0, 1},
    };
    for (int k = 0; k < 4; k++)
        for (int s = 0; s < 4; s++)
            for (uint32_t i = 0; i < 500; i++) {
                const sn_crop crop = draw_keyed(&odd[s], shapes[k][0], shapes[k][1], 1, i);
                ck_assert_msg(crop_inside(&crop, shapes[k][0], shapes[k][1]),
                              "%dx%d settings %d sample %u: %d,%d %dx%d", shapes[k][0], shapes[k][1],
                              s, i, crop.top, crop.left, crop.height, crop.width);
            }
}
END_TEST

/* ---- the evaluation crop ------------------------------------------------ */

START_TEST(center_crop_boxes)
{
    const struct {
        int height, width, out;
        double fraction;
        sn_crop want;
    } cases[] = {
        {256, 256, 224, 0.875, {16, 16, 224, 224, 0}},
        {300, 200, 224, 0.875, {62, 12, 175, 175, 0}},   /* 224 * 200 / 256 = 175 */
        {200, 300, 224, 0.875, {12, 62, 175, 175, 0}},
        {100, 100, 64, 1.0, {0, 0, 100, 100, 0}},
        {28, 40, 28, 1.0, {0, 6, 28, 28, 0}},
        {28, 28, 224, 0.875, {2, 2, 24, 24, 0}},         /* 24.5 rounds to even */
        {1, 1, 224, 0.875, {0, 0, 1, 1, 0}},
        {300, 300, 224, 0.9, {15, 15, 270, 270, 0}},     /* Resize(round(248.9) = 249) */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const sn_crop got = sn_center_crop(cases[k].height, cases[k].width, cases[k].out, cases[k].fraction);
        ck_assert_msg(crops_equal(&got, &cases[k].want), "case %zu: %d,%d %dx%d", k, got.top, got.left,
                      got.height, got.width);
    }
}
END_TEST

/* ---- batch placement ---------------------------------------------------- */

START_TEST(random_crops_land_in_channel_major_batch)
{
    float lut[MAX_CHANNELS][256];
    make_table(lut);
    const int C = 3, H = 45, W = 70, batch = 4, oh = 20, ow = 24;
    const int64_t plane = (int64_t)oh * ow, stride = batch * plane;
    uint8_t *chw = random_image(C, H, W, 7);
    uint8_t *hwc = to_channels_last(chw, C, H, W);
    sn_image_view first = channels_first(chw, C, H, W), last = channels_last(hwc, C, H, W);
    float *a = alloc_floats((size_t)(C * stride)), *b = alloc_floats((size_t)(C * stride));
    sn_crop crops[4];
    for (int i = 0; i < batch; i++) {
        crops[i] = draw_keyed(&deit_settings, H, W, 0, (uint32_t)i);
        sn_crop_resize(a + i * plane, stride, oh, ow, &first, &crops[i], (const float(*)[256])lut);
        sn_crop_resize(b + i * plane, stride, oh, ow, &last, &crops[i], (const float(*)[256])lut);
    }
    ck_assert(memcmp(a, b, (size_t)(C * stride) * sizeof *a) == 0);
    double *ref = malloc((size_t)(C * plane) * sizeof *ref);
    ck_assert_ptr_nonnull(ref);
    for (int i = 0; i < batch; i++) {
        reference_resize(ref, oh, ow, chw, C, H, W, &crops[i], lut);
        for (int c = 0; c < C; c++)
            for (int64_t p = 0; p < plane; p++) {
                const float got = a[c * stride + i * plane + p];
                ck_assert_msg(fabs(got - ref[c * plane + p]) < 1e-5, "sample %d channel %d pixel %lld: %g vs %g",
                              i, c, (long long)p, got, ref[c * plane + p]);
            }
    }
    free(ref);
    free(a);
    free(b);
    free(chw);
    free(hwc);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("image_transform");
    TCase *resize = tcase_create("resize");
    tcase_add_test(resize, exact_size_is_a_copy_through_the_table);
    tcase_add_test(resize, flip_mirrors_exactly);
    tcase_add_test(resize, bilinear_matches_naive_reference);
    tcase_add_test(resize, constant_image_stays_constant);
    tcase_add_test(resize, horizontal_gradient_stays_monotone);
    suite_add_tcase(suite, resize);
    TCase *crops = tcase_create("crops");
    tcase_add_test(crops, random_crops_inside_and_in_range);
    tcase_add_test(crops, random_crops_are_keyed);
    tcase_add_test(crops, random_crop_draw_order_is_documented);
    tcase_add_test(crops, random_crop_fallback_is_torchvisions);
    tcase_add_test(crops, degenerate_images_give_valid_crops);
    tcase_add_test(crops, center_crop_boxes);
    suite_add_tcase(suite, crops);
    TCase *batch = tcase_create("batch");
    tcase_add_test(batch, random_crops_land_in_channel_major_batch);
    suite_add_tcase(suite, batch);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
