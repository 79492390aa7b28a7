/*
 * shiftnas/input.h — a run's input: image sources (held in memory or
 * streamed from an HDF5 file), the input pipeline that turns stored images
 * into a normalised batch, and the prefetcher that assembles batch t+1 while
 * batch t trains.
 *
 * An image source is one split of an image set. Held in memory (IDX files,
 * or an HDF5 file read whole) or streamed (an HDF5 file opened once, each
 * batch reading only the images it names), a source answers the same
 * request the same way: sample indices in, a float batch out. So a run gives
 * the same bits whether its images are streamed or not, and at every rank
 * count, because every random choice of a sample (crop, flip) is keyed by
 * (seed, SN_RNG_AUGMENT, epoch, sample index), never by where it is read.
 *
 * A streamed source keeps its labels (4 bytes an image) and a staging area
 * of a fixed number of images; requests larger than that are read in
 * pieces. Memory per source is therefore bounded whatever the file's size:
 * staging + HDF5's chunk cache (SN_STREAM_CHUNK_CACHE_BYTES) + the labels.
 *
 * The pipeline (doc/data.md):
 *   training    pad: random crop of the image padded by crop_padding zero
 *               pixels (0 = none), at the stored size; or random-resized:
 *               torchvision's RandomResizedCrop(input_size, scale, ratio)
 *               (shiftnas/image_transform.h); then a random flip if asked
 *   evaluation  the centred crop that Resize(input_size / eval_crop_fraction)
 *               + CenterCrop(input_size) keep, resampled to input_size
 *               (the whole image, unchanged, when the sizes agree and the
 *               fraction is 1)
 *   both        (pixel / 255 - mean[c]) / std[c] per channel
 *
 * Threads: Debian's parallel HDF5 is not thread-safe, so every HDF5 call
 * shiftnas makes while a prefetcher runs holds one process-wide lock
 * (src/io/hdf5_lock.h): the prefetcher's reads, checkpoints, the run log,
 * model files and the main thread's own evaluation reads.
 */
#ifndef SHIFTNAS_INPUT_H
#define SHIFTNAS_INPUT_H

#include <stdint.h>

#include "shiftnas/api.h"
#include "shiftnas/data.h"
#include "shiftnas/image_transform.h"

#ifdef __cplusplus
extern "C" {
#endif

/* HDF5's chunk cache per streamed dataset: room for a few chunks, never the
 * file. A chunk larger than this is read past the cache. */
#define SN_STREAM_CHUNK_CACHE_BYTES ((size_t)4 << 20)

typedef enum {
    SN_TRAIN_CROP_PAD = 0,            /* pad-and-crop at the stored size */
    SN_TRAIN_CROP_RANDOM_RESIZED = 1  /* RandomResizedCrop to input_size */
} sn_train_crop;

typedef struct {
    int input_size;                   /* the model's input side (square) */
    sn_train_crop train_crop;
    int crop_padding;                 /* pad mode: pixels of zero padding per side */
    sn_random_resized_crop random_resized; /* its horizontal_flip is the flip of both modes */
    double eval_crop_fraction;        /* in (0, 1] */
    sn_normalization normalization;
    float table[SN_MAX_CHANNELS][256]; /* (v / 255 - mean) / std, from normalization */
} sn_input_pipeline;

/* Sets the normalisation and its lookup table. */
SN_API void sn_input_pipeline_set_normalization(sn_input_pipeline *pipeline,
                                                const sn_normalization *normalization);

typedef struct sn_image_source sn_image_source;

typedef struct {
    int64_t count;
    int channels, height, width;      /* as stored */
    int classes;
} sn_image_source_shape;

/* A source over an image set in memory; the set is borrowed and must outlive
 * the source. */
SN_API int sn_image_source_from_set(sn_image_source **source, const sn_image_set *set,
                                    const sn_input_pipeline *pipeline);
/* A streamed source over /split of an HDF5 image set (layout in data.h),
 * its first `limit` images (0 = all), reading at most `staging` images per
 * HDF5 request. Every check sn_hdf5_image_set_read makes is made here too,
 * on the file's metadata and labels, before anything is read. */
SN_API int sn_image_source_open_stream(sn_image_source **source, const char *path,
                                       const char *split, int64_t limit, int64_t staging,
                                       const sn_input_pipeline *pipeline);
SN_API void sn_image_source_free(sn_image_source *source);

SN_API sn_image_source_shape sn_image_source_shape_of(const sn_image_source *source);
SN_API const int32_t *sn_image_source_labels(const sn_image_source *source);
/* Sets the classifier size (both splits of a set agree on it). */
SN_API void sn_image_source_set_classes(sn_image_source *source, int classes);
SN_API int sn_image_source_is_streamed(const sn_image_source *source);
/* The file or directory the images come from, for messages. */
SN_API const char *sn_image_source_name(const sn_image_source *source);

/* What one fill makes. samples[0..count) are the batch's images; they are
 * laid out in consecutive blocks of block_sizes[k] images, each block as a
 * batch of its own in `layout` (the shards of a data-parallel step; NULL
 * block_sizes = one block). training = 1 applies the training crop and
 * flip keyed by (seed, epoch, sample); 0 the evaluation crop. */
typedef struct {
    const uint32_t *samples;
    int64_t count;
    const int64_t *block_sizes;
    int blocks;
    int training;
    uint64_t seed, epoch;
    sn_batch_layout layout;
    float *images;                    /* [count, C, input, input] in blocks */
    int32_t *labels;                  /* [count]; may be NULL */
} sn_batch_request;

/* Reads (a streamed source) and transforms the request's images. An index
 * outside the source is SN_ERR_ARGUMENT; a failed read SN_ERR_FORMAT or
 * SN_ERR_IO naming the file and the images. */
SN_API int sn_image_source_fill(sn_image_source *source, const sn_batch_request *request);
/* One evaluation block of `count` images (no augmentation). */
SN_API int sn_image_source_fill_plain(sn_image_source *source, float *images, int32_t *labels,
                                      const uint32_t *samples, int64_t count,
                                      sn_batch_layout layout);

/* Per-channel mean and standard deviation of the given stored images, read
 * in pieces: exact integer sums per image, added in double in index order,
 * so the same bits streamed or held in memory. */
SN_API int sn_image_source_normalization(sn_image_source *source, const uint32_t *indices,
                                         int64_t count, sn_normalization *normalization);

/* ---- prefetch: the next batch is assembled while this one trains ---------- */

typedef struct sn_prefetcher sn_prefetcher;

/* A thread that fills requests from `source` (which it then owns for
 * reading: no other thread may fill from it while the prefetcher lives). */
SN_API int sn_prefetcher_start(sn_prefetcher **prefetcher, sn_image_source *source);
/* Starts filling `request` (its arrays must stay untouched until the wait).
 * One request at a time. */
SN_API void sn_prefetcher_submit(sn_prefetcher *prefetcher, const sn_batch_request *request);
/* Waits for the submitted request; returns its status (its message set on
 * this thread) and adds the seconds spent waiting to *waited. */
SN_API int sn_prefetcher_wait(sn_prefetcher *prefetcher, double *waited);
/* Waits for any request in flight, then ends the thread. */
SN_API void sn_prefetcher_stop(sn_prefetcher *prefetcher);

#ifdef __cplusplus
}
#endif
#endif
