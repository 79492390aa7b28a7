/* Batches from an image set in memory through the library's own input
 * pipeline (a memory source of shiftnas/input.h), for the unit tests. */
#ifndef SHIFTNAS_TEST_IMAGE_BATCHES_H
#define SHIFTNAS_TEST_IMAGE_BATCHES_H

#include "shiftnas/input.h"

/* The pad crop and flip of a training batch; NULL: an evaluation batch. */
typedef struct {
    int crop_padding;
    int horizontal_flip;
} test_augmentation;

/* Fills `batch` images of `set` at sample_indices, normalised, augmented
 * when augmentation != NULL (keyed by seed, epoch and sample), in layout.
 * A failure fails the calling test. */
void test_batch_fill(float *images, int32_t *labels, const sn_image_set *set,
                     const uint32_t *sample_indices, int64_t batch,
                     const sn_normalization *normalization,
                     const test_augmentation *augmentation, uint64_t seed, uint64_t epoch,
                     sn_batch_layout layout);

/* sn_image_source_normalization over a memory source of `set`. */
int test_normalization(const sn_image_set *set, const uint32_t *indices, int64_t count,
                       sn_normalization *normalization);

/* A pipeline for `set` at its stored size with the given pad crop. */
void test_pipeline(sn_input_pipeline *pipeline, const sn_normalization *normalization,
                   const test_augmentation *augmentation);

#endif
