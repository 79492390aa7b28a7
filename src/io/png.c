/* A minimal PNG writer: signature, IHDR, one IDAT (zlib), IEND; chunk CRCs
 * from zlib's crc32(). Enough for the plots the commands write. */
#include "shiftnas/png.h"
#include "shiftnas/error.h"
#include "write_failure.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put_u32(uint8_t *out, uint32_t x)
{
    out[0] = (uint8_t)(x >> 24);
    out[1] = (uint8_t)(x >> 16);
    out[2] = (uint8_t)(x >> 8);
    out[3] = (uint8_t)x;
}

/* Writes one chunk (length, type, data, CRC of type and data) at out;
 * returns the bytes written. The data may already be in place at out + 8. */
static size_t put_chunk(uint8_t *out, const char *type, const uint8_t *data, size_t length)
{
    put_u32(out, (uint32_t)length);
    memcpy(out + 4, type, 4);
    if (length && data != out + 8)
        memcpy(out + 8, data, length);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, out + 4, (uInt)(4 + length));
    put_u32(out + 8 + length, (uint32_t)crc);
    return 12 + length;
}

int sn_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **png,
                  size_t *size)
{
    *png = NULL;
    *size = 0;
    if (width < 1 || height < 1 || width > 16384 || height > 16384 ||
        (channels != 1 && channels != 3))
        return sn_error_set(SN_ERR_ARGUMENT,
                            "png: cannot encode %dx%d pixels of %d channels (1..16384 a side, "
                            "1 or 3 channels)",
                            width, height, channels);
    /* each row starts with its filter type, 0 (none) */
    size_t row = 1 + (size_t)width * (size_t)channels;
    size_t raw_size = row * (size_t)height;
    uint8_t *raw = malloc(raw_size);
    uLongf packed_size = compressBound((uLong)raw_size);
    /* signature, IHDR (13), IDAT, IEND: 8 + 25 + 12 + packed + 12 */
    uint8_t *out = malloc(8 + 25 + 24 + (size_t)packed_size);
    if (!raw || !out) {
        free(raw);
        free(out);
        return sn_error_set(SN_ERR_NOMEM, "png: out of memory for %dx%d pixels", width, height);
    }
    for (int y = 0; y < height; y++) {
        raw[(size_t)y * row] = 0;
        memcpy(raw + (size_t)y * row + 1, pixels + (size_t)y * (row - 1), row - 1);
    }
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    memcpy(out, signature, 8);
    size_t used = 8;
    uint8_t header[13];
    put_u32(header, (uint32_t)width);
    put_u32(header + 4, (uint32_t)height);
    header[8] = 8;                       /* bits per sample */
    header[9] = channels == 1 ? 0 : 2;   /* colour type: gray or RGB */
    header[10] = header[11] = header[12] = 0; /* deflate, filter set 0, no interlace */
    used += put_chunk(out + used, "IHDR", header, sizeof header);
    /* compress straight into the IDAT chunk's data field */
    int z = compress2(out + used + 8, &packed_size, raw, (uLong)raw_size, Z_BEST_COMPRESSION);
    free(raw);
    if (z != Z_OK) {
        free(out);
        return sn_error_set(SN_ERR_INTERNAL, "png: zlib compress2 failed (%d)", z);
    }
    used += put_chunk(out + used, "IDAT", out + used + 8, (size_t)packed_size);
    used += put_chunk(out + used, "IEND", NULL, 0);
    *png = out;
    *size = used;
    return SN_OK;
}

int sn_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels)
{
    uint8_t *png;
    size_t size;
    int status = sn_png_encode(pixels, width, height, channels, &png, &size);
    if (status != SN_OK)
        return status;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(png);
        return sn_write_failed(path, "cannot create", errno);
    }
    fwrite(png, 1, size, f); /* a short write sets the error flag */
    free(png);
    return sn_stdio_finish(f, path, 0);
}
