/* JPEG (libjpeg-turbo) and PNG (libpng) decoding into interleaved uint8
 * images with 1 or 3 channels (conventions in shiftnas/image_folder.h).
 *
 * Both libraries report errors by calling a function that must not return;
 * ours longjmp back to the decoder, which turns the library's text into one
 * message naming the file. libjpeg's default error_exit would call exit()
 * and its warnings would print: both are replaced. */
#include "shiftnas/image_folder.h"
#include "shiftnas/error.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

void sn_image_free(sn_image *image)
{
    free(image->pixels);
    memset(image, 0, sizeof *image);
}

void sn_byte_buffer_free(sn_byte_buffer *buffer)
{
    free(buffer->data);
    memset(buffer, 0, sizeof *buffer);
}

static int grow(uint8_t **data, size_t *capacity, size_t bytes)
{
    if (bytes <= *capacity)
        return SN_OK;
    uint8_t *bigger = realloc(*data, bytes);
    if (!bigger)
        return SN_ERR_NOMEM;
    *data = bigger;
    *capacity = bytes;
    return SN_OK;
}

int sn_read_file_into(const char *path, size_t max_bytes, sn_byte_buffer *buffer)
{
    buffer->size = 0;
    FILE *file = fopen(path, "rb");
    if (!file)
        return sn_error_set(SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat info;
    if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
        fclose(file);
        return sn_error_set(SN_ERR_IO, "%s: cannot read: not a regular file", path);
    }
    if ((uint64_t)info.st_size > max_bytes) {
        fclose(file);
        return sn_error_set(SN_ERR_FORMAT, "%s: file of %lld bytes is larger than the %zu accepted",
                            path, (long long)info.st_size, max_bytes);
    }
    size_t want = (size_t)info.st_size;
    if (grow(&buffer->data, &buffer->capacity, want ? want : 1) != SN_OK) {
        fclose(file);
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, want);
    }
    size_t got = fread(buffer->data, 1, want, file);
    int failed = ferror(file);
    fclose(file);
    if (failed || got != want)
        return sn_error_set(SN_ERR_IO, "%s: read failed (%zu of %zu bytes)", path, got, want);
    buffer->size = got;
    return SN_OK;
}

sn_image_kind sn_image_sniff(const uint8_t *bytes, size_t size)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
        return SN_IMAGE_JPEG;
    if (size >= 8 && memcmp(bytes, png_magic, 8) == 0)
        return SN_IMAGE_PNG;
    return SN_IMAGE_UNKNOWN;
}

/* In place: 1 -> 3 channels (replicate) or 3 -> 1 (BT.601 luma). The buffer
 * already holds width * height * 3 bytes. */
static void convert_channels(sn_image *image, int channels)
{
    const size_t n = (size_t)image->width * image->height;
    uint8_t *p = image->pixels;
    if (image->channels == 1 && channels == 3) {
        for (size_t i = n; i-- > 0;) {
            uint8_t v = p[i];
            p[3 * i] = p[3 * i + 1] = p[3 * i + 2] = v;
        }
    } else if (image->channels == 3 && channels == 1) {
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)((299u * p[3 * i] + 587u * p[3 * i + 1] + 114u * p[3 * i + 2] + 500u) / 1000u);
    }
    image->channels = channels;
}

/* ---- JPEG ------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int warning_code;  /* first warning's msg_code, -1 if none */
    char warning[JMSG_LENGTH_MAX];
} jpeg_errors;

static void jpeg_error_exit(j_common_ptr cinfo)
{
    jpeg_errors *errors = (jpeg_errors *)cinfo->err;
    cinfo->err->format_message(cinfo, errors->message);
    longjmp(errors->jump, 1);
}

/* Warnings (level < 0) are kept, not printed: damaged data fails the image.
 * Trace messages (level >= 0) are dropped. */
static void jpeg_emit_message(j_common_ptr cinfo, int level)
{
    jpeg_errors *errors = (jpeg_errors *)cinfo->err;
    if (level < 0 && errors->warning_code < 0) {
        errors->warning_code = cinfo->err->msg_code;
        cinfo->err->format_message(cinfo, errors->warning);
    }
}

static void jpeg_output_nothing(j_common_ptr cinfo)
{
    (void)cinfo;
}

/* CMYK rows (4 bytes a pixel) -> RGB in place; `inverted` for Adobe files. */
static void cmyk_to_rgb(uint8_t *p, size_t pixels, int inverted)
{
    for (size_t i = 0; i < pixels; i++) {
        unsigned c = p[4 * i], m = p[4 * i + 1], y = p[4 * i + 2], k = p[4 * i + 3];
        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }
        /* now (255 - ink) for each: R = 255 (1 - c)(1 - k) */
        p[3 * i] = (uint8_t)((c * k + 127) / 255);
        p[3 * i + 1] = (uint8_t)((m * k + 127) / 255);
        p[3 * i + 2] = (uint8_t)((y * k + 127) / 255);
    }
}

static int decode_jpeg(const uint8_t *bytes, size_t size, const char *name, int channels, int min_side,
                       sn_image *image)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_errors errors;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&errors.base);
    errors.base.error_exit = jpeg_error_exit;
    errors.base.emit_message = jpeg_emit_message;
    errors.base.output_message = jpeg_output_nothing;
    errors.warning_code = -1;
    errors.message[0] = errors.warning[0] = '\0';
    if (setjmp(errors.jump)) {
        jpeg_destroy_decompress(&cinfo);
        if (errors.warning_code == JWRN_JPEG_EOF)
            return sn_error_set(SN_ERR_FORMAT, "%s: truncated JPEG data", name);
        return sn_error_set(SN_ERR_FORMAT, "%s: corrupt JPEG: %s", name, errors.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo.out_color_space = JCS_GRAYSCALE;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK;  /* libjpeg turns YCCK into CMYK */
        cmyk = 1;
        break;
    default:
        jpeg_destroy_decompress(&cinfo);
        return sn_error_set(SN_ERR_FORMAT, "%s: unsupported JPEG colour space %d", name,
                            (int)cinfo.jpeg_color_space);
    }
    /* The smallest DCT scale that still covers min_side: decoding at 1/4
     * scale skips most of the inverse DCT work. Only 1/8, 1/4, 1/2 and 1:
     * libjpeg-turbo has SIMD code for those inverse DCTs and plain C for the
     * others (3/8, 6/8, ...), and here the smaller C-decoded image was the
     * slower one in total (doc/data.md has the figures). */
    cinfo.scale_denom = 8;
    for (unsigned n = 1; n <= 8; n *= 2) {
        cinfo.scale_num = n;
        jpeg_calc_output_dimensions(&cinfo);
        if (min_side <= 0 || (int)(cinfo.output_width < cinfo.output_height ? cinfo.output_width
                                                                           : cinfo.output_height) >= min_side)
            break;
    }
    if (min_side <= 0) {
        cinfo.scale_num = cinfo.scale_denom = 1;
        jpeg_calc_output_dimensions(&cinfo);
    }
    const int64_t width = cinfo.output_width, height = cinfo.output_height;
    if (width < 1 || height < 1 || width * height > SN_IMAGE_MAX_PIXELS) {
        jpeg_destroy_decompress(&cinfo);
        return sn_error_set(SN_ERR_FORMAT, "%s: JPEG of %lldx%lld pixels is %s", name, (long long)width,
                            (long long)height, width < 1 || height < 1 ? "empty" : "too large");
    }
    const int components = cinfo.output_components;
    size_t bytes_needed = (size_t)(width * height * (components > 3 ? components : 3));
    if (grow(&image->pixels, &image->capacity, bytes_needed) != SN_OK) {
        jpeg_destroy_decompress(&cinfo);
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, bytes_needed);
    }
    jpeg_start_decompress(&cinfo);
    const size_t stride = (size_t)width * (size_t)cinfo.output_components;
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = image->pixels + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    const int inverted = cinfo.saw_Adobe_marker;
    jpeg_destroy_decompress(&cinfo);
    if (errors.warning_code == JWRN_JPEG_EOF)
        return sn_error_set(SN_ERR_FORMAT, "%s: truncated JPEG data", name);
    if (errors.warning_code >= 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: corrupt JPEG data: %s", name, errors.warning);
    image->width = (int)width;
    image->height = (int)height;
    if (cmyk) {
        cmyk_to_rgb(image->pixels, (size_t)(width * height), inverted);
        image->channels = 3;
    } else {
        image->channels = components;
    }
    convert_channels(image, channels);
    return SN_OK;
}

/* ---- PNG -------------------------------------------------------------- */

typedef struct {
    const uint8_t *bytes;
    size_t size, position;
    char message[256];
    int truncated;
} png_source;

static void png_read_memory(png_structp png, png_bytep out, size_t length)
{
    png_source *source = png_get_io_ptr(png);
    if (length > source->size - source->position) {
        source->truncated = 1;
        png_error(png, "truncated PNG data");
    }
    memcpy(out, source->bytes + source->position, length);
    source->position += length;
}

static void png_error_handler(png_structp png, png_const_charp message)
{
    png_source *source = png_get_error_ptr(png);
    snprintf(source->message, sizeof source->message, "%s", message);
    png_longjmp(png, 1);
}

static void png_warning_handler(png_structp png, png_const_charp message)
{
    (void)png;
    (void)message;
}

static int decode_png(const uint8_t *bytes, size_t size, const char *name, int channels, sn_image *image)
{
    png_source source = {bytes, size, 0, "", 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_error_handler,
                                             png_warning_handler);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot create a PNG decoder", name);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        if (source.truncated)
            return sn_error_set(SN_ERR_FORMAT, "%s: truncated PNG data", name);
        return sn_error_set(SN_ERR_FORMAT, "%s: corrupt PNG: %s", name, source.message);
    }
    png_set_read_fn(png, &source, png_read_memory);
    /* a bad CRC in an ancillary chunk (text, colour profile) is dropped quietly */
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_QUIET_USE);
    png_read_info(png, info);
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
    if (width < 1 || height < 1 || (int64_t)width * height > SN_IMAGE_MAX_PIXELS) {
        png_destroy_read_struct(&png, &info, NULL);
        return sn_error_set(SN_ERR_FORMAT, "%s: PNG of %lux%lu pixels is %s", name, (unsigned long)width,
                            (unsigned long)height, width < 1 || height < 1 ? "empty" : "too large");
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16)
        png_set_scale_16(png);
    /* expanding a palette also turns its tRNS chunk into alpha: strip that too */
    if ((color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_strip_alpha(png);
    const int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const int components = png_get_channels(png, info);
    const size_t stride = png_get_rowbytes(png, info);
    if ((components != 1 && components != 3) || stride != (size_t)width * components) {
        png_destroy_read_struct(&png, &info, NULL);
        return sn_error_set(SN_ERR_INTERNAL, "%s: PNG decoded to %d channels, %zu bytes a row", name,
                            components, stride);
    }
    size_t bytes_needed = (size_t)width * height * 3;
    if (grow(&image->pixels, &image->capacity, bytes_needed) != SN_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, bytes_needed);
    }
    /* Row by row, pass by pass: an interlaced image is combined in place. */
    for (int pass = 0; pass < passes; pass++)
        for (png_uint_32 y = 0; y < height; y++)
            png_read_row(png, image->pixels + (size_t)y * stride, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    image->width = (int)width;
    image->height = (int)height;
    image->channels = components;
    convert_channels(image, channels);
    return SN_OK;
}

int sn_image_decode(const uint8_t *bytes, size_t size, const char *name, int channels, int min_side,
                    sn_image *image)
{
    if (channels != 1 && channels != 3)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: channels must be 1 or 3, not %d", name, channels);
    if (size == 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: empty file", name);
    switch (sn_image_sniff(bytes, size)) {
    case SN_IMAGE_JPEG:
        return decode_jpeg(bytes, size, name, channels, min_side, image);
    case SN_IMAGE_PNG:
        return decode_png(bytes, size, name, channels, image);
    default:
        return sn_error_set(SN_ERR_FORMAT, "%s: unknown image type (neither JPEG nor PNG by its first bytes)",
                            name);
    }
}
