/*
 * A run's images (shiftnas/train.h): the sources [data] names, held in
 * memory or streamed, and the input pipeline built from [data] and the
 * stored shape.
 *
 * The training file is opened twice when streamed: once for the training
 * batches (read by the prefetcher's thread) and once for the main thread's
 * reads of the same file (validation, batch-norm recalibration, the
 * normalisation pass), so that no staging area is shared between threads.
 */
#include "shiftnas/train.h"

#include <stdio.h>
#include <string.h>

#include "shiftnas/error.h"

/* Images read per HDF5 request of a streamed source: the staging area. */
#define STREAM_STAGING_IMAGES 64
/* [data] stream = auto streams a training split whose pixels exceed this. */
#define STREAM_AUTO_BYTES ((int64_t)1 << 30)

void sn_run_data_close(sn_run_data *data)
{
    sn_image_source_free(data->train);
    sn_image_source_free(data->train_main);
    sn_image_source_free(data->test);
    sn_image_set_free(&data->train_set);
    sn_image_set_free(&data->test_set);
    memset(data, 0, sizeof *data);
}

static int open_streamed(sn_run_data *data, const sn_config *config)
{
    const sn_input_pipeline *p = &data->pipeline;
    SN_TRY(sn_image_source_open_stream(&data->train, config->path, "train", config->train_limit,
                                       STREAM_STAGING_IMAGES, p));
    SN_TRY(sn_image_source_open_stream(&data->train_main, config->path, "train",
                                       config->train_limit, STREAM_STAGING_IMAGES, p));
    return sn_image_source_open_stream(&data->test, config->path, "test", config->test_limit,
                                       STREAM_STAGING_IMAGES, p);
}

/* Streamed, or loaded whole ([data] stream; auto decides on the size). */
static int open_sources(sn_run_data *data, const sn_config *config)
{
    const sn_input_pipeline *p = &data->pipeline;
    int hdf5 = strcmp(config->dataset, "hdf5") == 0;
    if (hdf5 && strcmp(config->stream, "off") != 0) {
        SN_TRY(open_streamed(data, config));
        sn_image_source_shape s = sn_image_source_shape_of(data->train);
        int64_t bytes = s.count * s.channels * s.height * s.width;
        if (strcmp(config->stream, "on") == 0 || bytes > STREAM_AUTO_BYTES) {
            data->streamed = 1;
            return SN_OK;
        }
        sn_image_source_free(data->train);
        sn_image_source_free(data->train_main);
        sn_image_source_free(data->test);
        data->train = data->train_main = data->test = NULL;
    }
    SN_TRY(sn_load_datasets(config, &data->train_set, &data->test_set));
    SN_TRY(sn_image_source_from_set(&data->train, &data->train_set, p));
    SN_TRY(sn_image_source_from_set(&data->train_main, &data->train_set, p));
    return sn_image_source_from_set(&data->test, &data->test_set, p);
}

/* The pipeline [data] describes, checked against the stored shape. */
static int make_pipeline(sn_run_data *data, const sn_config *config, sn_image_source_shape s)
{
    sn_input_pipeline *p = &data->pipeline;
    p->input_size = (int)config->input_size;
    p->train_crop = strcmp(config->train_crop, "random-resized") == 0 ? SN_TRAIN_CROP_RANDOM_RESIZED
                                                                        : SN_TRAIN_CROP_PAD;
    p->crop_padding = (int)config->crop_padding;
    p->random_resized = (sn_random_resized_crop){config->crop_scale.values[0],
                                                 config->crop_scale.values[1],
                                                 config->crop_ratio.values[0],
                                                 config->crop_ratio.values[1],
                                                 config->horizontal_flip};
    p->eval_crop_fraction = config->eval_crop_fraction;
    int resampled = p->input_size > 0 && (p->input_size != s.height || p->input_size != s.width);
    if (resampled && p->train_crop == SN_TRAIN_CROP_PAD)
        return sn_error_set(SN_ERR_CONFIG,
                            "[data] input_size = %d differs from the stored %dx%d images of %s: "
                            "the pad crop keeps the stored size; set [data] train_crop = "
                            "random-resized",
                            p->input_size, s.height, s.width, config->path);
    int square_output = p->train_crop == SN_TRAIN_CROP_RANDOM_RESIZED || p->eval_crop_fraction < 1;
    if (p->input_size == 0 && square_output && s.height != s.width)
        return sn_error_set(SN_ERR_CONFIG,
                            "%s: %dx%d images need a square model input for the random-resized or "
                            "centre crop: set [data] input_size",
                            config->path, s.height, s.width);
    if (strcmp(config->normalization, "fixed") == 0 && config->mean.count != s.channels)
        return sn_error_set(SN_ERR_CONFIG,
                            "[data] normalization = fixed: mean and std have %d values, %s has %d "
                            "channel(s)",
                            config->mean.count, config->path, s.channels);
    int side = p->input_size > 0 ? p->input_size : 0;
    data->shape = (sn_input_shape){s.channels, side ? side : s.height, side ? side : s.width,
                                   s.classes};
    return SN_OK;
}

/* [data] classes over a streamed split: the whole-set loader checks it
 * itself (sn_load_datasets). */
static int check_streamed_classes(const sn_run_data *data, const sn_config *config)
{
    if (!data->streamed || config->data_classes <= 0)
        return SN_OK;
    const sn_image_source *sources[2] = {data->train, data->test};
    const char *splits[2] = {"train", "test"};
    for (int i = 0; i < 2; i++) {
        char name[SN_CONFIG_TEXT_MAX + 64];
        snprintf(name, sizeof name, "%s: dataset /%s/labels", config->path, splits[i]);
        SN_TRY(sn_labels_check(sn_image_source_labels(sources[i]),
                               sn_image_source_shape_of(sources[i]).count,
                               (int)config->data_classes, name, "[data] classes"));
    }
    return SN_OK;
}

int sn_run_data_open(sn_run_data *data, const sn_config *config)
{
    memset(data, 0, sizeof *data);
    int status = open_sources(data, config);
    sn_image_source_shape train = {0}, test = {0};
    if (status == SN_OK) {
        train = sn_image_source_shape_of(data->train);
        test = sn_image_source_shape_of(data->test);
        if (train.channels != test.channels || train.height != test.height ||
            train.width != test.width)
            status = sn_error_set(SN_ERR_FORMAT,
                                  "%s: /train/images are %dx%dx%d but /test/images are %dx%dx%d "
                                  "(channels x height x width): both splits need one shape",
                                  config->path, train.channels, train.height, train.width,
                                  test.channels, test.height, test.width);
    }
    if (status == SN_OK)
        status = check_streamed_classes(data, config);
    if (status == SN_OK) {
        /* Both splits agree on the classifier's size; [data] classes wins. */
        train.classes = test.classes = train.classes > test.classes ? train.classes : test.classes;
        if (config->data_classes > 0)
            train.classes = (int)config->data_classes;
        sn_image_source_set_classes(data->train, train.classes);
        sn_image_source_set_classes(data->train_main, train.classes);
        sn_image_source_set_classes(data->test, train.classes);
        data->train_count = train.count;
        data->test_count = test.count;
        status = make_pipeline(data, config, train);
    }
    if (status != SN_OK)
        sn_run_data_close(data);
    return status;
}

int sn_run_data_normalize(sn_run_data *data, const sn_config *config, const uint32_t *indices,
                          int64_t count)
{
    sn_normalization normalization;
    memset(&normalization, 0, sizeof normalization);
    if (strcmp(config->normalization, "fixed") == 0) {
        normalization.channels = data->shape.channels;
        for (int c = 0; c < normalization.channels; c++) {
            normalization.mean[c] = (float)config->mean.values[c];
            normalization.std[c] = (float)config->std.values[c];
        }
    } else {
        SN_TRY(sn_image_source_normalization(data->train_main, indices, count, &normalization));
    }
    sn_input_pipeline_set_normalization(&data->pipeline, &normalization);
    return SN_OK;
}
