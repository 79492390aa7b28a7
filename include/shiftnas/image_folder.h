/*
 * shiftnas/image_folder.h — JPEG and PNG decoding, the square resampler, and
 * the conversion of an ImageNet-style image folder into an HDF5 image set.
 *
 * An image in memory is H x W x C interleaved uint8 (C = 1 or 3), rows top
 * to bottom: pixel (y, x) channel c is pixels[(y * W + x) * C + c]. For a
 * 4 x 2 RGB image that is 24 bytes, row 0 first: R G B R G B R G B R G B.
 *
 * Buffers (sn_image, sn_byte_buffer, sn_resize_scratch) grow and are reused:
 * a loop over thousands of images allocates only when an image is larger
 * than every one before it. Free them with their _free function.
 *
 * Decoding failures (corrupt, truncated, empty, unknown type, too large) are
 * SN_ERR_FORMAT with a one-line message that starts with the name passed in:
 * "data/train/n01/x.jpg: truncated JPEG data". libjpeg and libpng never
 * print and never exit: their errors and libjpeg's warnings become that
 * message (a libjpeg warning means the pixels are damaged, so it fails the
 * image); libpng's warnings (benign ancillary-chunk issues) are ignored.
 */
#ifndef SHIFTNAS_IMAGE_FOLDER_H
#define SHIFTNAS_IMAGE_FOLDER_H

#include <stddef.h>
#include <stdint.h>

#include "shiftnas/api.h"
#include "shiftnas/dist.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- decoding ------------------------------------------------------------ */

/* Decoded images larger than this many pixels (after JPEG DCT scaling) are
 * refused: a 100000 x 100000 PNG must not take 30 GB. */
#define SN_IMAGE_MAX_PIXELS ((int64_t)1 << 27)

typedef struct {
    uint8_t *pixels;    /* [height, width, channels] */
    size_t capacity;    /* bytes allocated */
    int width, height, channels;
} sn_image;

SN_API void sn_image_free(sn_image *image);

typedef struct {
    uint8_t *data;
    size_t size, capacity;
} sn_byte_buffer;

SN_API void sn_byte_buffer_free(sn_byte_buffer *buffer);

/* Reads a whole file into buffer (reused). Files above max_bytes are refused. */
SN_API int sn_read_file_into(const char *path, size_t max_bytes, sn_byte_buffer *buffer);

/* The kind of an encoded image, from its first bytes (never its name). */
typedef enum { SN_IMAGE_UNKNOWN = 0, SN_IMAGE_JPEG = 1, SN_IMAGE_PNG = 2 } sn_image_kind;
SN_API sn_image_kind sn_image_sniff(const uint8_t *bytes, size_t size);

/* Decodes a JPEG or PNG held in memory into image (reused) with `channels`
 * (1 or 3) channels:
 * - grey is replicated to three channels; colour becomes grey by ITU-R
 *   BT.601 luma, Y = (299 R + 587 G + 114 B) / 1000 (for a YCbCr JPEG,
 *   libjpeg's own Y, the same weights);
 * - alpha is dropped: the stored colour is kept as it is, not composited
 *   (what PIL's convert("RGB") does); palette images are expanded; 16-bit
 *   samples are scaled to 8 bits (v * 255 / 65535, rounded);
 * - CMYK and YCCK JPEGs become RGB as R = 255 (1 - c)(1 - k) with ink
 *   fractions c, k (likewise G from m, B from y). Adobe's files (an APP14
 *   "Adobe" marker, which is what Photoshop writes) store the inks inverted,
 *   255 - ink, so there R = C K / 255 on the stored values.
 * min_side > 0 lets a JPEG decode at the smallest DCT scale of 1/8, 1/4,
 * 1/2 (libjpeg-turbo's SIMD-accelerated ones) whose shorter side is still
 * >= min_side; the result is then smaller than the file's image. `name` starts every message. */
SN_API int sn_image_decode(const uint8_t *bytes, size_t size, const char *name, int channels,
                           int min_side, sn_image *image);

/* ---- resampling ------------------------------------------------------------ */

typedef struct {
    float *data;
    size_t capacity;  /* floats */
} sn_resize_scratch;

SN_API void sn_resize_scratch_free(sn_resize_scratch *scratch);

/* Resizes src (height x width x channels) so that its shorter side is `size`
 * and keeps the centred size x size square: dst is size x size x channels.
 * The longer side becomes round(long * size / short) pixels and the crop
 * starts at (that - size) / 2 (integer division). Downscaling averages the
 * source area under each output pixel (box filter with fractional edge
 * weights: antialiased; an integer factor gives exact block averages);
 * upscaling is bilinear with pixel centres aligned. Separable, in float,
 * rounded to nearest. */
SN_API int sn_image_resize_crop(const uint8_t *src, int width, int height, int channels, int size,
                                uint8_t *dst, sn_resize_scratch *scratch);

/* ---- image folders ----------------------------------------------------------
 *
 * FOLDER/train/<class>/<file> and FOLDER/<test split>/<class>/<file>: the
 * classes are train's sub-folders sorted by name (byte order), a label is a
 * class's position; files are sorted by name within a class; names starting
 * with '.' are skipped. The test split is named, or "val" or else "test". */

typedef struct {
    int64_t count;
    char *names;        /* paths relative to FOLDER, NUL-separated */
    int64_t *offsets;   /* [count]: where each path starts in names */
    int32_t *labels;    /* [count] */
    size_t names_bytes;
} sn_file_list;

typedef struct {
    int classes;
    char **class_names;  /* [classes], sorted */
    sn_file_list train, test;
    char test_split[256];  /* "val", "test" or the named one */
} sn_image_folder;

/* Lists FOLDER (see above). test_split may be NULL (auto-detect). A test
 * class missing from train, a folder without train/ or a test split, or a
 * train split with no images is SN_ERR_FORMAT naming the folder. */
SN_API int sn_image_folder_list(const char *folder, const char *test_split, sn_image_folder *list);
SN_API void sn_image_folder_free(sn_image_folder *list);
/* The same listing on every rank: rank 0 lists and broadcasts (an agreed
 * failure when rank 0 cannot list). */
SN_API int sn_image_folder_list_on_ranks(const sn_dist *dist, const char *folder,
                                         const char *test_split, sn_image_folder *list);

typedef enum { SN_ON_ERROR_STOP = 0, SN_ON_ERROR_SKIP = 1 } sn_on_error;

typedef struct {
    const char *split;      /* "train" or "test" */
    int64_t done, total;    /* files handled in this split (good + skipped) */
    int64_t skipped;        /* files skipped so far, both splits */
    int finished;           /* 1 on the last call for the split */
} sn_convert_progress;

typedef struct {
    int size;               /* stored side S: images are S x S (1..2048) */
    int channels;           /* 1 or 3 */
    sn_on_error on_error;
    int deflate;            /* 0 = uncompressed, 1..9 deflate level */
    int batch;              /* images each rank decodes per round (>= 1) */
    const char *test_split; /* NULL: "val" or "test" */
    /* Called on rank 0 after every round (progress == NULL: none). */
    void (*progress)(void *context, const sn_convert_progress *progress);
    /* Called on the rank that skipped a file, with its one-line message. */
    void (*skipped)(void *context, const char *message);
    void *context;
} sn_convert_options;

typedef struct {
    int64_t train_count, test_count;    /* images written */
    int64_t train_skipped, test_skipped;
    int classes;
} sn_convert_result;

/* Converts FOLDER into the HDF5 image-set layout of shiftnas/data.h at
 * out_path, on every rank of dist (collective: every rank calls it with the
 * same arguments). Layout: /train/images uint8 N x S x S x C (N x S x S for
 * C = 1), chunked one image per chunk, /train/labels int32 N, the same under
 * /test, root attribute "classes" (int32) and /class_names (fixed-length
 * strings, one per label). Ranks decode disjoint files in rounds of
 * batch x ranks files and write one file collectively (parallel HDF5 under
 * MPI); the output is the same at every rank count and batch size. The file
 * is written as DIR/.NAME.partial and renamed to out_path only when complete;
 * on failure it is removed. An existing out_path is refused. Failures are
 * agreed: the rank that failed first keeps the message, the others return
 * SN_ERR_PEER. With SN_ON_ERROR_SKIP, undecodable files are left out. */
SN_API int sn_image_folder_convert(const sn_dist *dist, const char *folder, const char *out_path,
                                   const sn_convert_options *options, sn_convert_result *result);

/* The /class_names a conversion wrote into path: *names (malloc'd, one
 * string per label; free with sn_image_folder_free_class_names) and *count.
 * A file without them (IDX-converted, h5py-made) gives *names = NULL and
 * *count = 0. SN_ERR_IO or SN_ERR_FORMAT naming path when the file cannot be
 * opened or its /class_names is not one fixed-length string per class. */
SN_API int sn_image_folder_read_class_names(const char *path, char ***names, int *count);
SN_API void sn_image_folder_free_class_names(char **names, int count);

#ifdef __cplusplus
}
#endif
#endif
