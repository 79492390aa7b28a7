/* Batches through the library's input pipeline (image_batches.h). */
#include "image_batches.h"

#include <check.h>
#include <string.h>

#include "shiftnas/error.h"

void test_pipeline(sn_input_pipeline *pipeline, const sn_normalization *normalization,
                   const test_augmentation *augmentation)
{
    memset(pipeline, 0, sizeof *pipeline);
    pipeline->train_crop = SN_TRAIN_CROP_PAD;
    pipeline->crop_padding = augmentation ? augmentation->crop_padding : 0;
    pipeline->random_resized = (sn_random_resized_crop){0.08, 1, 0.75, 4.0 / 3,
                                                        augmentation ? augmentation->horizontal_flip
                                                                     : 0};
    pipeline->eval_crop_fraction = 1;
    sn_normalization plain = {SN_MAX_CHANNELS, {0, 0, 0, 0}, {1, 1, 1, 1}};
    sn_input_pipeline_set_normalization(pipeline, normalization ? normalization : &plain);
}

void test_batch_fill(float *images, int32_t *labels, const sn_image_set *set,
                     const uint32_t *sample_indices, int64_t batch,
                     const sn_normalization *normalization,
                     const test_augmentation *augmentation, uint64_t seed, uint64_t epoch,
                     sn_batch_layout layout)
{
    sn_input_pipeline pipeline;
    test_pipeline(&pipeline, normalization, augmentation);
    sn_image_source *source = NULL;
    ck_assert_int_eq(sn_image_source_from_set(&source, set, &pipeline), SN_OK);
    sn_batch_request request = {sample_indices, batch, NULL, 1, augmentation != NULL,
                                seed, epoch, layout, images, labels};
    ck_assert_msg(sn_image_source_fill(source, &request) == SN_OK, "%s", sn_error_message());
    sn_image_source_free(source);
}

int test_normalization(const sn_image_set *set, const uint32_t *indices, int64_t count,
                       sn_normalization *normalization)
{
    sn_input_pipeline pipeline;
    test_pipeline(&pipeline, NULL, NULL);
    sn_image_source *source = NULL;
    ck_assert_int_eq(sn_image_source_from_set(&source, set, &pipeline), SN_OK);
    int status = sn_image_source_normalization(source, indices, count, normalization);
    sn_image_source_free(source);
    return status;
}
