/* Test images written with libjpeg and libpng: the fixtures of
 * test_image_folder and of the image_fixtures program (tests/cli). */
#ifndef SHIFTNAS_TESTS_IMAGE_WRITER_H
#define SHIFTNAS_TESTS_IMAGE_WRITER_H

#include <stdint.h>

/* A smooth test pattern: channel c of pixel (y, x) of a w x h image, seeded
 * so that different images differ. */
uint8_t pattern_value(int x, int y, int c, int w, int h, unsigned seed);
/* Fills pixels[h][w][channels] with pattern_value. */
void pattern_fill(uint8_t *pixels, int w, int h, int channels, unsigned seed);

/* Baseline JPEG, quality 95. channels 1 (grey) or 3 (RGB, stored YCbCr). */
int write_jpeg(const char *path, const uint8_t *pixels, int w, int h, int channels);
/* A 4-channel CMYK JPEG of the given stored values; adobe: write the APP14
 * Adobe marker (then readers take the values as inverted inks); ycck: store
 * as YCCK instead of CMYK. */
int write_jpeg_cmyk(const char *path, const uint8_t *cmyk, int w, int h, int adobe, int ycck);

enum { PNG_GREY = 0, PNG_GREY_ALPHA = 4, PNG_RGB = 2, PNG_RGBA = 6, PNG_PALETTE = 3 };
/* pixels: [h][w][samples] with samples from the colour type (palette: one
 * index a pixel, palette_rgb gives 3 bytes per entry, palette_size entries);
 * depth 8 or 16 (16: two bytes a sample, big-endian as in the file). */
int write_png(const char *path, const uint8_t *pixels, int w, int h, int color_type, int depth,
              int interlaced, const uint8_t *palette_rgb, int palette_size);

/* A palette PNG whose tRNS chunk gives entry i the alpha palette_alpha[i]. */
int write_png_palette_alpha(const char *path, const uint8_t *index, int w, int h,
                            const uint8_t *palette_rgb, const uint8_t *palette_alpha, int palette_size);

#endif
