/*
 * shiftnas/data.h — image sets: IDX and HDF5 readers, the train/validation
 * split and shuffling. Batches are assembled from image sources
 * (shiftnas/input.h).
 *
 * Every reader checks each header field against the file and reports a
 * malformed, truncated or mislabelled file as SN_ERR_FORMAT (a missing or
 * unreadable one as SN_ERR_IO) with a one-line message that starts with the
 * file's path: "data/train-images.gz: truncated: header says 60000 images of
 * 28x28, file holds 1024 pixel bytes".
 *
 * HDF5 image-set layout (what `shiftnas data convert` writes and what a user
 * brings, e.g. CIFAR-10 or downsampled ImageNet):
 *   /train/images   uint8, N x H x W (one channel) or N x H x W x C
 *   /train/labels   any integer type, N, values in [0, classes)
 *   /test/images, /test/labels   the same for the test split
 *   attribute "classes" on the root group (integer, optional; default:
 *   largest label + 1 over both splits); every label must be below it
 *   /class_names    optional: fixed-length strings, one per label (written
 *                   by `data convert FOLDER`; readers here ignore it)
 * Any storage layout HDF5 reads plainly is accepted: contiguous, or chunked
 * and extendible as `data convert FOLDER` writes it (one image per chunk,
 * N x S x S x C, shiftnas/image_folder.h).
 */
#ifndef SHIFTNAS_DATA_H
#define SHIFTNAS_DATA_H

#include "shiftnas/api.h"

#include <stddef.h>
#include <stdint.h>

#include "shiftnas/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t count;
    int channels, height, width;
    int classes;
    uint8_t *pixels;  /* [count, channels, height, width] */
    int32_t *labels;  /* [count], each in [0, classes) */
} sn_image_set;

SN_API void sn_image_set_free(sn_image_set *set);

/* ---- IDX (LeCun's format; raw or gzip-compressed) ---------------------- */

typedef struct {
    int ndim;            /* 1..4 */
    int64_t dims[4];
    uint8_t *data;       /* unsigned-byte elements, product(dims) of them */
} sn_idx_array;

SN_API void sn_idx_array_free(sn_idx_array *array);
/* Decodes an IDX file held in memory (already decompressed). Only the
 * unsigned-byte element type (0x08) is accepted. `name` is used in messages. */
SN_API int sn_idx_decode(const uint8_t *bytes, size_t size, const char *name, sn_idx_array *array);
/* Reads a whole file, gunzipping it when it starts with the gzip magic. The
 * caller frees *bytes with free(). max_bytes bounds the decompressed size. */
SN_API int sn_read_file_maybe_gzip(const char *path, size_t max_bytes, uint8_t **bytes,
                                   size_t *size);
/* Images (N x H x W) and labels (N) from two IDX files into one image set;
 * counts must agree; classes = largest label + 1. */
SN_API int sn_idx_load_image_set(const char *images_path, const char *labels_path,
                                 sn_image_set *set);
/* Fashion-MNIST (or MNIST) from a directory holding
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]: SN_IDX_CLASSES
 * classes; a label at or beyond it is SN_ERR_FORMAT naming the labels file
 * and the label's index. The training and test images must be of one size. */
enum { SN_IDX_CLASSES = 10 };
SN_API int sn_idx_load_directory(const char *directory, sn_image_set *train, sn_image_set *test);
/* The same with another class count (an IDX set such as EMNIST's; [data]
 * classes): classes > 0 replaces SN_IDX_CLASSES, and declared_by says where
 * it comes from in messages ("[data] classes"). */
SN_API int sn_idx_load_directory_classes(const char *directory, int classes,
                                         const char *declared_by, sn_image_set *train,
                                         sn_image_set *test);

/* ---- HDF5 image sets (layout above) ------------------------------------ */

/* split is "train" or "test". */
SN_API int sn_hdf5_image_set_read(const char *path, const char *split, sn_image_set *set);
/* Writes both splits (and the "classes" attribute) to a new file. */
SN_API int sn_hdf5_image_set_write(const char *path, const sn_image_set *train,
                                   const sn_image_set *test);

/* ---- the sets a configuration names ------------------------------------ */

/* Loads the training and test sets [data] names (an IDX directory or an
 * HDF5 file) whole, with [data] train_limit and test_limit applied; the two
 * must have one image shape (SN_ERR_FORMAT naming both otherwise) and get
 * one class count: [data] classes when it is > 0 (every label of the images
 * used must be below it: SN_ERR_FORMAT naming the file and the index
 * otherwise), else the data set's (10 for an IDX directory, an HDF5 set's
 * "classes" attribute, else the largest label + 1 over both splits). */
SN_API int sn_load_datasets(const sn_config *config, sn_image_set *train, sn_image_set *test);
/* Every label in [0, classes), or SN_ERR_FORMAT "NAME: label L at index I
 * is not below the C classes of DECLARED_BY". */
SN_API int sn_labels_check(const int32_t *labels, int64_t count, int classes, const char *name,
                           const char *declared_by);

/* ---- split, order, normalisation, augmentation, batches ---------------- */

typedef struct {
    uint32_t *train;       /* indices into the full training set, ascending */
    uint32_t *validation;  /* ascending */
    int64_t train_count, validation_count;
} sn_split;

/* A held-out validation split: validation_count images chosen by a random
 * permutation keyed by (seed, SN_RNG_SPLIT). 0 <= validation_count < total. */
SN_API int sn_split_make(int64_t total, int64_t validation_count, uint64_t seed, sn_split *split);
SN_API void sn_split_free(sn_split *split);

/* order[i] = indices[perm[i]] with perm keyed by (seed, SN_RNG_SHUFFLE, epoch):
 * the same order on every rank, in every run with this seed. */
SN_API void sn_epoch_order(uint32_t *order, const uint32_t *indices, int64_t count, uint64_t seed,
                           uint64_t epoch);

enum { SN_MAX_CHANNELS = 4 };

typedef struct {
    int channels;
    float mean[SN_MAX_CHANNELS];  /* in pixel units / 255 */
    float std[SN_MAX_CHANNELS];
} sn_normalization;

typedef enum {
    SN_LAYOUT_SAMPLE_MAJOR = 0,  /* [N, C, H, W]: the ViT's patch embedding */
    SN_LAYOUT_CHANNEL_MAJOR = 1  /* [C, N, H, W]: the CNN's layout */
} sn_batch_layout;

/* Batches (normalisation, crops, flips, the layout, shards as blocks) are
 * made from image sources: shiftnas/input.h. */

#ifdef __cplusplus
}
#endif
#endif
