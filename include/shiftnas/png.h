/*
 * shiftnas/png.h — a minimal PNG writer for plots (8-bit grayscale or RGB,
 * no interlace, filter 0 on every row, one zlib-compressed IDAT chunk).
 */
#ifndef SHIFTNAS_PNG_H
#define SHIFTNAS_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "shiftnas/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Encodes pixels (height rows of width x channels bytes; channels 1 = gray,
 * 3 = RGB) into a malloc'ed PNG file image. SN_ERR_ARGUMENT for a bad shape,
 * SN_ERR_NOMEM. The caller frees *png. */
SN_API int sn_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **png,
                         size_t *size);
/* sn_png_encode, written to `path` (SN_ERR_IO naming the path on failure). */
SN_API int sn_png_write(const char *path, const uint8_t *pixels, int width, int height,
                        int channels);

#ifdef __cplusplus
}
#endif
#endif
