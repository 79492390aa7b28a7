/* Test images written with libjpeg and libpng (see image_writer.h). */
#include "image_writer.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>
#include <png.h>

uint8_t pattern_value(int x, int y, int c, int w, int h, unsigned seed)
{
    /* gradients plus a seeded offset, never wrapping: smooth, so JPEG keeps
     * it closely (at most 150 + 50 + 55 = 255) */
    unsigned v = (unsigned)(x * 150 / (w > 1 ? w - 1 : 1) + y * 50 / (h > 1 ? h - 1 : 1));
    return (uint8_t)(v + (seed * 13u + (unsigned)c * 17u) % 56u);
}

void pattern_fill(uint8_t *pixels, int w, int h, int channels, unsigned seed)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++)
                pixels[((size_t)y * w + x) * channels + c] = pattern_value(x, y, c, w, h, seed);
}

static int write_jpeg_any(const char *path, const uint8_t *pixels, int w, int h, int components,
                          J_COLOR_SPACE in, J_COLOR_SPACE stored, int adobe)
{
    FILE *file = fopen(path, "wb");
    if (!file)
        return -1;
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr errors;
    cinfo.err = jpeg_std_error(&errors);  /* the writer's input is ours: errors are bugs */
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, file);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = components;
    cinfo.in_color_space = in;
    jpeg_set_defaults(&cinfo);
    jpeg_set_colorspace(&cinfo, stored);
    cinfo.write_Adobe_marker = adobe ? TRUE : FALSE;
    jpeg_set_quality(&cinfo, 95, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * w * components);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return fclose(file) == 0 ? 0 : -1;
}

int write_jpeg(const char *path, const uint8_t *pixels, int w, int h, int channels)
{
    return write_jpeg_any(path, pixels, w, h, channels, channels == 1 ? JCS_GRAYSCALE : JCS_RGB,
                          channels == 1 ? JCS_GRAYSCALE : JCS_YCbCr, 0);
}

int write_jpeg_cmyk(const char *path, const uint8_t *cmyk, int w, int h, int adobe, int ycck)
{
    return write_jpeg_any(path, cmyk, w, h, 4, JCS_CMYK, ycck ? JCS_YCCK : JCS_CMYK, adobe);
}

static const uint8_t *trns_alpha;  /* set by write_png_palette_alpha */

int write_png_palette_alpha(const char *path, const uint8_t *index, int w, int h,
                            const uint8_t *palette_rgb, const uint8_t *palette_alpha, int palette_size)
{
    trns_alpha = palette_alpha;
    int status = write_png(path, index, w, h, PNG_PALETTE, 8, 0, palette_rgb, palette_size);
    trns_alpha = NULL;
    return status;
}

int write_png(const char *path, const uint8_t *pixels, int w, int h, int color_type, int depth,
              int interlaced, const uint8_t *palette_rgb, int palette_size)
{
    FILE *file = fopen(path, "wb");
    if (!file)
        return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(file);
        return -1;
    }
    png_init_io(png, file);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
                 interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_PALETTE) {
        png_color palette[256];
        for (int i = 0; i < palette_size; i++) {
            palette[i].red = palette_rgb[3 * i];
            palette[i].green = palette_rgb[3 * i + 1];
            palette[i].blue = palette_rgb[3 * i + 2];
        }
        png_set_PLTE(png, info, palette, palette_size);
        if (trns_alpha)
            png_set_tRNS(png, info, trns_alpha, palette_size, NULL);
    }
    png_write_info(png, info);
    int samples = color_type == PNG_GREY || color_type == PNG_PALETTE ? 1
                  : color_type == PNG_GREY_ALPHA                      ? 2
                  : color_type == PNG_RGB                             ? 3
                                                                      : 4;
    size_t stride = (size_t)w * samples * (depth / 8);
    png_bytep *rows = malloc((size_t)h * sizeof *rows);
    for (int y = 0; y < h; y++)
        rows[y] = (png_bytep)(pixels + (size_t)y * stride);
    png_write_image(png, rows);  /* handles the interlace passes */
    png_write_end(png, NULL);
    free(rows);
    png_destroy_write_struct(&png, &info);
    return fclose(file) == 0 ? 0 : -1;
}
