/* Image folders: the resampler, JPEG and PNG decoding of images written here
 * with libjpeg and libpng, damaged and unknown files, the folder listing and
 * the conversion to HDF5 on one process. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <check.h>
#include <ftw.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_writer.h"
#include "shiftnas/data.h"
#include "shiftnas/dist.h"
#include "shiftnas/error.h"
#include "shiftnas/image_folder.h"

static char temp_dir[256];

static void make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(temp_dir, sizeof temp_dir, "%s/shiftnas-images-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(temp_dir));
}

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void)info;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_temp_dir(void)
{
    nftw(temp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", temp_dir, name);
}

static uint8_t *read_all(const char *path, size_t *size)
{
    sn_byte_buffer buffer = {0};
    ck_assert_int_eq(sn_read_file_into(path, (size_t)1 << 30, &buffer), SN_OK);
    *size = buffer.size;
    return buffer.data;
}

static void write_bytes(const char *path, const uint8_t *bytes, size_t size)
{
    FILE *file = fopen(path, "wb");
    ck_assert_ptr_nonnull(file);
    ck_assert_uint_eq(fwrite(bytes, 1, size, file), size);
    fclose(file);
}

static int max_difference(const uint8_t *a, const uint8_t *b, size_t n)
{
    int worst = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d > worst)
            worst = d;
    }
    return worst;
}

/* Decodes a file written by the test. */
static int decode_file(const char *path, int channels, int min_side, sn_image *image)
{
    size_t size = 0;
    uint8_t *bytes = read_all(path, &size);
    int status = sn_image_decode(bytes, size, path, channels, min_side, image);
    free(bytes);
    return status;
}

static unsigned lcg(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 24;
}

/* ---- resampler ------------------------------------------------------------ */

START_TEST(test_resize_constant_stays_constant)
{
    const int shapes[][3] = {{37, 53, 3}, {300, 200, 3}, {53, 37, 1}, {7, 10, 3}, {1000, 999, 1}};
    const int sizes[] = {32, 100, 17, 24, 256};
    sn_resize_scratch scratch = {0};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int w = shapes[s][0], h = shapes[s][1], c = shapes[s][2], size = sizes[s];
        uint8_t *src = malloc((size_t)w * h * c), *dst = malloc((size_t)size * size * c);
        memset(src, 173, (size_t)w * h * c);
        ck_assert_int_eq(sn_image_resize_crop(src, w, h, c, size, dst, &scratch), SN_OK);
        for (size_t i = 0; i < (size_t)size * size * c; i++)
            ck_assert_msg(dst[i] == 173, "%dx%d -> %d: byte %zu is %d", w, h, size, i, dst[i]);
        free(src);
        free(dst);
    }
    sn_resize_scratch_free(&scratch);
}
END_TEST

/* An integer factor gives the exact (rounded) block average. */
START_TEST(test_resize_integer_factor_is_block_average)
{
    const int w = 40, h = 40, c = 3, size = 10, f = 4;
    uint8_t src[40 * 40 * 3], dst[10 * 10 * 3];
    unsigned state = 7;
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)lcg(&state);
    sn_resize_scratch scratch = {0};
    ck_assert_int_eq(sn_image_resize_crop(src, w, h, c, size, dst, &scratch), SN_OK);
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            for (int k = 0; k < c; k++) {
                int sum = 0;
                for (int dy = 0; dy < f; dy++)
                    for (int dx = 0; dx < f; dx++)
                        sum += src[((y * f + dy) * w + x * f + dx) * c + k];
                ck_assert_int_eq(dst[(y * size + x) * c + k], (sum + f * f / 2) / (f * f));
            }
    sn_resize_scratch_free(&scratch);
}
END_TEST

/* 37 x 53 at S = 37: no scaling, the centred 37 rows starting at (53-37)/2. */
START_TEST(test_resize_centre_crop_portrait_and_landscape)
{
    uint8_t src[37 * 53], dst[37 * 37];
    for (int i = 0; i < 37 * 53; i++)
        src[i] = (uint8_t)(i * 7 + i / 37);
    sn_resize_scratch scratch = {0};
    /* portrait: width 37, height 53 */
    ck_assert_int_eq(sn_image_resize_crop(src, 37, 53, 1, 37, dst, &scratch), SN_OK);
    for (int y = 0; y < 37; y++)
        for (int x = 0; x < 37; x++)
            ck_assert_int_eq(dst[y * 37 + x], src[(y + 8) * 37 + x]);
    /* landscape: width 53, height 37 */
    ck_assert_int_eq(sn_image_resize_crop(src, 53, 37, 1, 37, dst, &scratch), SN_OK);
    for (int y = 0; y < 37; y++)
        for (int x = 0; x < 37; x++)
            ck_assert_int_eq(dst[y * 37 + x], src[y * 53 + x + 8]);
    sn_resize_scratch_free(&scratch);
}
END_TEST

/* 300 x 200 to 100: halves both sides (150 x 100) and crops columns 25..124,
 * i.e. 2 x 2 block averages of source columns 50..249. */
START_TEST(test_resize_300x200_shorter_side_and_crop)
{
    const int w = 300, h = 200, c = 3, size = 100;
    uint8_t *src = malloc((size_t)w * h * c), *dst = malloc((size_t)size * size * c);
    unsigned state = 11;
    for (size_t i = 0; i < (size_t)w * h * c; i++)
        src[i] = (uint8_t)lcg(&state);
    sn_resize_scratch scratch = {0};
    ck_assert_int_eq(sn_image_resize_crop(src, w, h, c, size, dst, &scratch), SN_OK);
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            for (int k = 0; k < c; k++) {
                int sum = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        sum += src[((2 * y + dy) * w + 50 + 2 * x + dx) * c + k];
                ck_assert_int_eq(dst[(y * size + x) * c + k], (sum + 2) / 4);
            }
    free(src);
    free(dst);
    sn_resize_scratch_free(&scratch);
}
END_TEST

/* Upscaling is bilinear with aligned centres: a 2-pixel ramp 0..255 at
 * S = 4 samples x = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped). */
START_TEST(test_resize_upscale_bilinear)
{
    const uint8_t src[4] = {0, 255, 0, 255};
    uint8_t dst[16];
    sn_resize_scratch scratch = {0};
    ck_assert_int_eq(sn_image_resize_crop(src, 2, 2, 1, 4, dst, &scratch), SN_OK);
    const uint8_t expected[4] = {0, 64, 191, 255};
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            ck_assert_int_eq(dst[y * 4 + x], expected[x]);
    sn_resize_scratch_free(&scratch);
}
END_TEST

/* ---- JPEG ---------------------------------------------------------------- */

START_TEST(test_jpeg_grey_and_rgb)
{
    make_temp_dir();
    char path[512];
    const int w = 64, h = 48;
    uint8_t grey[64 * 48], rgb[64 * 48 * 3];
    pattern_fill(grey, w, h, 1, 3);
    pattern_fill(rgb, w, h, 3, 5);
    sn_image image = {0};

    path_in(path, sizeof path, "grey.jpg");
    ck_assert_int_eq(write_jpeg(path, grey, w, h, 1), 0);
    ck_assert_int_eq(decode_file(path, 1, 0, &image), SN_OK);
    ck_assert_int_eq(image.width, w);
    ck_assert_int_eq(image.height, h);
    ck_assert_int_eq(image.channels, 1);
    ck_assert_int_le(max_difference(image.pixels, grey, sizeof grey), 8);
    /* grey replicated to three channels */
    ck_assert_int_eq(decode_file(path, 3, 0, &image), SN_OK);
    ck_assert_int_eq(image.channels, 3);
    for (int i = 0; i < w * h; i++) {
        ck_assert_int_eq(image.pixels[3 * i], image.pixels[3 * i + 1]);
        ck_assert_int_eq(image.pixels[3 * i], image.pixels[3 * i + 2]);
        ck_assert_int_le(abs(image.pixels[3 * i] - grey[i]), 8);
    }

    path_in(path, sizeof path, "rgb.jpg");
    ck_assert_int_eq(write_jpeg(path, rgb, w, h, 3), 0);
    ck_assert_int_eq(decode_file(path, 3, 0, &image), SN_OK);
    ck_assert_int_eq(image.channels, 3);
    ck_assert_int_le(max_difference(image.pixels, rgb, sizeof rgb), 12);
    /* colour to grey: BT.601 luma */
    ck_assert_int_eq(decode_file(path, 1, 0, &image), SN_OK);
    ck_assert_int_eq(image.channels, 1);
    for (int i = 0; i < w * h; i++) {
        int y = (299 * rgb[3 * i] + 587 * rgb[3 * i + 1] + 114 * rgb[3 * i + 2] + 500) / 1000;
        ck_assert_int_le(abs(image.pixels[i] - y), 6);
    }
    sn_image_free(&image);
    remove_temp_dir();
}
END_TEST

/* DCT scaling: the smallest of 1/8, 1/4, 1/2, 1 that keeps the shorter side
 * >= min_side. */
START_TEST(test_jpeg_dct_scaling)
{
    make_temp_dir();
    char path[512];
    const int w = 400, h = 300;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    pattern_fill(rgb, w, h, 3, 1);
    path_in(path, sizeof path, "big.jpg");
    ck_assert_int_eq(write_jpeg(path, rgb, w, h, 3), 0);
    sn_image image = {0};
    ck_assert_int_eq(decode_file(path, 3, 100, &image), SN_OK);
    /* 1/2: 200 x 150 (1/4 would give 75 rows, too few) */
    ck_assert_int_eq(image.width, 200);
    ck_assert_int_eq(image.height, 150);
    ck_assert_int_eq(decode_file(path, 3, 75, &image), SN_OK); /* 1/4 exactly covers 75 */
    ck_assert_int_eq(image.width, 100);
    ck_assert_int_eq(image.height, 75);
    ck_assert_int_eq(decode_file(path, 3, 30, &image), SN_OK); /* 1/8: 50 x 38 */
    ck_assert_int_eq(image.height, 38);
    ck_assert_int_eq(decode_file(path, 3, 300, &image), SN_OK);
    ck_assert_int_eq(image.height, 300);
    ck_assert_int_eq(decode_file(path, 3, 1000, &image), SN_OK); /* never above full size */
    ck_assert_int_eq(image.height, 300);
    free(rgb);
    sn_image_free(&image);
    remove_temp_dir();
}
END_TEST

/* CMYK: R = 255 (1 - c)(1 - k); Adobe files store 255 - ink. */
START_TEST(test_jpeg_cmyk_and_ycck)
{
    make_temp_dir();
    char path[512];
    const int w = 32, h = 16;
    const double ink[4] = {0.2, 0.5, 0.8, 0.1};
    const int expected[3] = {(int)(255 * 0.8 * 0.9 + 0.5), (int)(255 * 0.5 * 0.9 + 0.5),
                             (int)(255 * 0.2 * 0.9 + 0.5)};
    uint8_t cmyk[32 * 16 * 4];
    sn_image image = {0};
    for (int variant = 0; variant < 3; variant++) {
        int adobe = variant != 0, ycck = variant == 2;
        for (int i = 0; i < w * h; i++)
            for (int k = 0; k < 4; k++) {
                int stored = (int)(ink[k] * 255 + 0.5);
                cmyk[4 * i + k] = (uint8_t)(adobe ? 255 - stored : stored);
            }
        path_in(path, sizeof path, "cmyk.jpg");
        ck_assert_int_eq(write_jpeg_cmyk(path, cmyk, w, h, adobe, ycck), 0);
        ck_assert_int_eq(decode_file(path, 3, 0, &image), SN_OK);
        ck_assert_int_eq(image.channels, 3);
        for (int i = 0; i < w * h; i++)
            for (int k = 0; k < 3; k++)
                ck_assert_msg(abs(image.pixels[3 * i + k] - expected[k]) <= 3,
                              "variant %d pixel %d channel %d: %d, expected %d", variant, i, k,
                              image.pixels[3 * i + k], expected[k]);
        ck_assert_int_eq(decode_file(path, 1, 0, &image), SN_OK);
        int luma = (299 * expected[0] + 587 * expected[1] + 114 * expected[2] + 500) / 1000;
        ck_assert_int_le(abs(image.pixels[0] - luma), 3);
    }
    sn_image_free(&image);
    remove_temp_dir();
}
END_TEST

/* ---- PNG ------------------------------------------------------------------ */

START_TEST(test_png_kinds)
{
    make_temp_dir();
    char path[512];
    enum { W = 23, H = 17 };
    uint8_t rgb[W * H * 3], grey[W * H], rgba[W * H * 4], grey_alpha[W * H * 2], wide[W * H * 3 * 2];
    uint8_t index[W * H], palette[16 * 3];
    pattern_fill(rgb, W, H, 3, 9);
    pattern_fill(grey, W, H, 1, 4);
    for (int i = 0; i < W * H; i++) {
        for (int k = 0; k < 3; k++) {
            rgba[4 * i + k] = rgb[3 * i + k];
            wide[6 * i + 2 * k] = rgb[3 * i + k];      /* v * 257, big-endian */
            wide[6 * i + 2 * k + 1] = rgb[3 * i + k];
        }
        rgba[4 * i + 3] = (uint8_t)(i % 3 == 0 ? 0 : 128); /* transparent pixels keep their colour */
        grey_alpha[2 * i] = grey[i];
        grey_alpha[2 * i + 1] = (uint8_t)(i * 13);
        index[i] = (uint8_t)(i % 16);
    }
    for (int i = 0; i < 16 * 3; i++)
        palette[i] = (uint8_t)(i * 5 + 3);
    sn_image image = {0};

    path_in(path, sizeof path, "rgb.png");
    ck_assert_int_eq(write_png(path, rgb, W, H, PNG_RGB, 8, 0, NULL, 0), 0);
    ck_assert_int_eq(decode_file(path, 3, 0, &image), SN_OK);
    ck_assert_int_eq(image.width, W);
    ck_assert_int_eq(image.height, H);
    ck_assert_mem_eq(image.pixels, rgb, sizeof rgb);
    ck_assert_int_eq(decode_file(path, 1, 0, &image), SN_OK);
    for (int i = 0; i < W * H; i++)
        ck_assert_int_eq(image.pixels[i],
                         (299 * rgb[3 * i] + 587 * rgb[3 * i + 1] + 114 * rgb[3 * i + 2] + 500) / 1000);

    path_in(path, sizeof path, "interlaced.png");
    ck_assert_int_eq(write_png(path, rgb, W, H, PNG_RGB, 8, 1, NULL, 0), 0);
    ck_assert_int_eq(decode_file(path, 3, 0, &image), SN_OK);
    ck_assert_mem_eq(image.pixels, rgb, sizeof rgb);

    path_in(path, sizeof path, "rgba.png");
    ck_assert_int_eq(write_png(path, rgba, W, H, PNG_RGBA, 8, 0, NULL, 0), 0);
    ck_assert_int_eq(decode_file(path, 3, 0, &image), SN_OK);
    ck_assert_int_eq(image.channels, 3);
    ck_assert_mem_eq(image.pixels, rgb, sizeof rgb);

    path_in(path, sizeof path, "wide.png");
    ck_assert_int_eq(write_png(path, wide, W, H, PNG_RGB, 16, 0, NULL, 0), 0);
    ck_assert_int_eq(decode_file(path, 3, 0, &image), SN_OK);
    ck_assert_mem_eq(image.pixels, rgb, sizeof rgb);

    path_in(path, sizeof path, "grey.png");
    ck_assert_int_eq(write_png(path, grey, W, H, PNG_GREY, 8, 0, NULL, 0), 0);
    ck_assert_int_eq(decode_file(path, 1, 0, &image), SN_OK);
    ck_assert_int_eq(image.channels, 1);
    ck_assert_mem_eq(image.pixels, grey, sizeof grey);
    ck_assert_int_eq(decode_file(path, 3, 0, &image), SN_OK);
    for (int i = 0; i < W * H; i++)
        for (int k = 0; k < 3; k++)
            ck_assert_int_eq(image.pixels[3 * i + k], grey[i]);

    path_in(path, sizeof path, "grey-alpha.png");
    ck_assert_int_eq(write_png(path, grey_alpha, W, H, PNG_GREY_ALPHA, 8, 1, NULL, 0), 0);
    ck_assert_int_eq(decode_file(path, 1, 0, &image), SN_OK);
    ck_assert_mem_eq(image.pixels, grey, sizeof grey);

    path_in(path, sizeof path, "palette.png");
    ck_assert_int_eq(write_png(path, index, W, H, PNG_PALETTE, 8, 0, palette, 16), 0);
    ck_assert_int_eq(decode_file(path, 3, 0, &image), SN_OK);
    for (int i = 0; i < W * H; i++)
        for (int k = 0; k < 3; k++)
            ck_assert_int_eq(image.pixels[3 * i + k], palette[3 * index[i] + k]);

    /* a palette with transparency (tRNS): alpha dropped the same way */
    uint8_t palette_alpha[16];
    for (int i = 0; i < 16; i++)
        palette_alpha[i] = (uint8_t)(i * 17);
    path_in(path, sizeof path, "palette-alpha.png");
    ck_assert_int_eq(write_png_palette_alpha(path, index, W, H, palette, palette_alpha, 16), 0);
    ck_assert_int_eq(decode_file(path, 3, 0, &image), SN_OK);
    ck_assert_int_eq(image.channels, 3);
    for (int i = 0; i < W * H; i++)
        for (int k = 0; k < 3; k++)
            ck_assert_int_eq(image.pixels[3 * i + k], palette[3 * index[i] + k]);
    sn_image_free(&image);
    remove_temp_dir();
}
END_TEST

/* ---- damaged and unknown files --------------------------------------------- */

/* status SN_ERR_FORMAT, one line, naming the file and the problem */
static void expect_format_error(const char *path, const uint8_t *bytes, size_t size, const char *problem)
{
    sn_image image = {0};
    sn_error_clear();
    int status = sn_image_decode(bytes, size, path, 3, 0, &image);
    ck_assert_int_eq(status, SN_ERR_FORMAT);
    const char *message = sn_error_message();
    ck_assert_msg(strncmp(message, path, strlen(path)) == 0, "message '%s' does not start with %s", message,
                  path);
    ck_assert_msg(strstr(message, problem) != NULL, "message '%s' lacks '%s'", message, problem);
    ck_assert_ptr_null(strchr(message, '\n'));
    sn_image_free(&image);
}

START_TEST(test_damaged_and_unknown_files)
{
    make_temp_dir();
    char path[512];
    const int w = 64, h = 64;
    uint8_t rgb[64 * 64 * 3];
    pattern_fill(rgb, w, h, 3, 2);
    size_t size = 0;

    path_in(path, sizeof path, "x.jpg");
    ck_assert_int_eq(write_jpeg(path, rgb, w, h, 3), 0);
    uint8_t *jpeg = read_all(path, &size);
    expect_format_error("data/train/n01/x.jpg", jpeg, size / 2, "truncated JPEG data");
    /* the frame header (SOF0) says 0 x 0 */
    uint8_t *damaged = malloc(size);
    memcpy(damaged, jpeg, size);
    for (size_t i = 2; i + 9 < size; i++)
        if (damaged[i] == 0xff && damaged[i + 1] == 0xc0) {
            memset(damaged + i + 5, 0, 4);
            break;
        }
    expect_format_error("data/train/n01/sof.jpg", damaged, size, "corrupt JPEG");
    /* garbage instead of the entropy-coded data */
    memcpy(damaged, jpeg, size);
    for (size_t i = size / 3; i < size - 2; i++)
        damaged[i] = (uint8_t)(i * 151);
    expect_format_error("data/train/n01/garbage.jpg", damaged, size, "JPEG");
    free(damaged);
    free(jpeg);

    path_in(path, sizeof path, "x.png");
    ck_assert_int_eq(write_png(path, rgb, w, h, PNG_RGB, 8, 0, NULL, 0), 0);
    uint8_t *png = read_all(path, &size);
    expect_format_error("data/train/n01/x.png", png, size - 20, "truncated PNG data");
    png[20] ^= 0x55; /* inside IHDR: its CRC no longer matches */
    expect_format_error("data/train/n01/crc.png", png, size, "corrupt PNG");
    free(png);

    expect_format_error("data/train/n01/empty.jpg", (const uint8_t *)"", 0, "empty file");
    const uint8_t gif[] = "GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    expect_format_error("data/train/n01/photo.jpg", gif, sizeof gif - 1, "unknown image type");
    ck_assert_int_eq(sn_image_sniff(gif, sizeof gif - 1), SN_IMAGE_UNKNOWN);
    remove_temp_dir();
}
END_TEST

/* ---- folders and conversion ----------------------------------------------- */

static void make_dir(const char *relative)
{
    char path[512];
    path_in(path, sizeof path, relative);
    ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void jpeg_at(const char *relative, int w, int h, unsigned seed)
{
    char path[512];
    path_in(path, sizeof path, relative);
    uint8_t *rgb = malloc((size_t)w * h * 3);
    pattern_fill(rgb, w, h, 3, seed);
    ck_assert_int_eq(write_jpeg(path, rgb, w, h, 3), 0);
    free(rgb);
}

/* classes "C", "a", "b" (byte order), a hidden file and folder, val/ */
static void make_folder(void)
{
    make_dir("f");
    make_dir("f/train");
    make_dir("f/val");
    const char *classes[] = {"b", "a", "C"};
    for (int c = 0; c < 3; c++) {
        char rel[128];
        snprintf(rel, sizeof rel, "f/train/%s", classes[c]);
        make_dir(rel);
        snprintf(rel, sizeof rel, "f/val/%s", classes[c]);
        make_dir(rel);
        for (int i = 0; i < 3; i++) {
            snprintf(rel, sizeof rel, "f/train/%s/img%d.jpg", classes[c], 2 - i);
            jpeg_at(rel, 40 + 7 * i, 30 + 5 * c, (unsigned)(c * 10 + i));
        }
        snprintf(rel, sizeof rel, "f/val/%s/v.jpg", classes[c]);
        jpeg_at(rel, 33, 33, (unsigned)c);
    }
    make_dir("f/train/.hidden");
    jpeg_at("f/train/.hidden/x.jpg", 8, 8, 1);
    jpeg_at("f/train/a/.x.jpg", 8, 8, 1);
}

START_TEST(test_folder_listing)
{
    make_temp_dir();
    make_folder();
    char folder[512];
    path_in(folder, sizeof folder, "f");
    sn_image_folder list;
    ck_assert_int_eq(sn_image_folder_list(folder, NULL, &list), SN_OK);
    ck_assert_int_eq(list.classes, 3);
    ck_assert_str_eq(list.class_names[0], "C");
    ck_assert_str_eq(list.class_names[1], "a");
    ck_assert_str_eq(list.class_names[2], "b");
    ck_assert_str_eq(list.test_split, "val");
    ck_assert_int_eq(list.train.count, 9);
    ck_assert_int_eq(list.test.count, 3);
    ck_assert_str_eq(list.train.names + list.train.offsets[0], "train/C/img0.jpg");
    ck_assert_str_eq(list.train.names + list.train.offsets[5], "train/a/img2.jpg");
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(list.train.labels[i], i / 3);
    sn_image_folder_free(&list);

    /* a test class that train does not have */
    make_dir("f/val/zebra");
    sn_error_clear();
    ck_assert_int_eq(sn_image_folder_list(folder, NULL, &list), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "/f/val/zebra"));
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "not a class"));
    /* a named test split that does not exist */
    ck_assert_int_eq(sn_image_folder_list(folder, "holdout", &list), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "holdout"));
    remove_temp_dir();
}
END_TEST

START_TEST(test_convert_one_process)
{
    make_temp_dir();
    make_folder();
    /* an unknown file type in train/a (the 4th file of a, after img2.jpg) */
    char path[512], folder[512], out[512], partial[512];
    path_in(path, sizeof path, "f/train/a/zz.jpg");
    write_bytes(path, (const uint8_t *)"not an image", 12);
    path_in(folder, sizeof folder, "f");
    path_in(out, sizeof out, "set.h5");
    path_in(partial, sizeof partial, ".set.h5.partial");
    sn_dist *dist = NULL;
    ck_assert_int_eq(sn_dist_local(&dist), SN_OK);
    sn_convert_options options = {0};
    options.size = 16;
    options.channels = 3;
    options.batch = 2;
    sn_convert_result result;

    /* stop: fails naming the file, leaves nothing */
    ck_assert_int_eq(sn_image_folder_convert(dist, folder, out, &options, &result), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "f/train/a/zz.jpg: unknown image type"));
    ck_assert_int_ne(access(out, F_OK), 0);
    ck_assert_int_ne(access(partial, F_OK), 0);

    /* skip: 9 train images, 3 test, labels in file order */
    options.on_error = SN_ON_ERROR_SKIP;
    ck_assert_int_eq(sn_image_folder_convert(dist, folder, out, &options, &result), SN_OK);
    ck_assert_int_eq(result.train_count, 9);
    ck_assert_int_eq(result.train_skipped, 1);
    ck_assert_int_eq(result.test_count, 3);
    ck_assert_int_eq(access(partial, F_OK), -1);
    sn_image_set set;
    ck_assert_int_eq(sn_hdf5_image_set_read(out, "train", &set), SN_OK);
    ck_assert_int_eq(set.count, 9);
    ck_assert_int_eq(set.channels, 3);
    ck_assert_int_eq(set.height, 16);
    ck_assert_int_eq(set.width, 16);
    ck_assert_int_eq(set.classes, 3);
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(set.labels[i], i / 3);
    /* image 0 is train/C/img0.jpg: decode and resize it here and compare */
    sn_image image = {0};
    path_in(path, sizeof path, "f/train/C/img0.jpg");
    ck_assert_int_eq(decode_file(path, 3, 16, &image), SN_OK);
    uint8_t expected[16 * 16 * 3];
    sn_resize_scratch scratch = {0};
    ck_assert_int_eq(sn_image_resize_crop(image.pixels, image.width, image.height, 3, 16, expected, &scratch),
                     SN_OK);
    for (int p = 0; p < 16 * 16; p++)
        for (int k = 0; k < 3; k++)
            ck_assert_int_eq(set.pixels[k * 256 + p], expected[p * 3 + k]); /* set is [C, H, W] */
    sn_image_set_free(&set);
    sn_image_free(&image);
    sn_resize_scratch_free(&scratch);

    /* one image per chunk; the class names */
    hid_t file = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    hid_t dataset = H5Dopen2(file, "/train/images", H5P_DEFAULT);
    hid_t plist = H5Dget_create_plist(dataset);
    hsize_t chunk[4];
    ck_assert_int_eq(H5Pget_chunk(plist, 4, chunk), 4);
    ck_assert_int_eq(chunk[0], 1);
    ck_assert_int_eq(chunk[1], 16);
    ck_assert_int_eq(chunk[3], 3);
    H5Pclose(plist);
    H5Dclose(dataset);
    dataset = H5Dopen2(file, "/class_names", H5P_DEFAULT);
    ck_assert_int_ge(dataset, 0);
    hid_t type = H5Dget_type(dataset);
    size_t width = H5Tget_size(type);
    char *names = calloc(3, width);
    ck_assert_int_ge(H5Dread(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, names), 0);
    ck_assert_str_eq(names, "C");
    ck_assert_str_eq(names + width, "a");
    ck_assert_str_eq(names + 2 * width, "b");
    free(names);
    H5Tclose(type);
    H5Dclose(dataset);
    H5Fclose(file);
    /* and as the library reads them back */
    char **read_names = NULL;
    int count = 0;
    ck_assert_int_eq(sn_image_folder_read_class_names(out, &read_names, &count), SN_OK);
    ck_assert_int_eq(count, 3);
    ck_assert_str_eq(read_names[0], "C");
    ck_assert_str_eq(read_names[2], "b");
    sn_image_folder_free_class_names(read_names, count);
    char text_file[600];
    snprintf(text_file, sizeof text_file, "%s/names.txt", temp_dir);
    FILE *text = fopen(text_file, "w");
    ck_assert_ptr_nonnull(text);
    fputs("C a b\n", text);
    fclose(text);
    ck_assert_int_eq(sn_image_folder_read_class_names(text_file, &read_names, &count), SN_ERR_FORMAT);
    ck_assert_ptr_null(read_names);

    /* an existing output is refused and kept */
    struct stat before;
    ck_assert_int_eq(stat(out, &before), 0);
    ck_assert_int_eq(sn_image_folder_convert(dist, folder, out, &options, &result), SN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "already exists"));
    sn_dist_free(dist);
    remove_temp_dir();
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("image_folder");
    TCase *resize = tcase_create("resize");
    tcase_add_test(resize, test_resize_constant_stays_constant);
    tcase_add_test(resize, test_resize_integer_factor_is_block_average);
    tcase_add_test(resize, test_resize_centre_crop_portrait_and_landscape);
    tcase_add_test(resize, test_resize_300x200_shorter_side_and_crop);
    tcase_add_test(resize, test_resize_upscale_bilinear);
    suite_add_tcase(suite, resize);
    TCase *decode = tcase_create("decode");
    tcase_add_test(decode, test_jpeg_grey_and_rgb);
    tcase_add_test(decode, test_jpeg_dct_scaling);
    tcase_add_test(decode, test_jpeg_cmyk_and_ycck);
    tcase_add_test(decode, test_png_kinds);
    tcase_add_test(decode, test_damaged_and_unknown_files);
    suite_add_tcase(suite, decode);
    TCase *folder = tcase_create("folder");
    tcase_add_test(folder, test_folder_listing);
    tcase_add_test(folder, test_convert_one_process);
    suite_add_tcase(suite, folder);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
