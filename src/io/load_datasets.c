/* The training and test sets [data] names, loaded whole (IDX directory or
 * HDF5 file), checked against each other and against [data] classes, with
 * [data]'s limits applied. */
#include "shiftnas/data.h"

#include <string.h>

#include "shiftnas/error.h"

static void truncate_set(sn_image_set *set, int64_t limit)
{
    if (limit > 0 && limit < set->count)
        set->count = limit;
}

int sn_labels_check(const int32_t *labels, int64_t count, int classes, const char *name,
                    const char *declared_by)
{
    for (int64_t i = 0; i < count; i++)
        if (labels[i] < 0 || labels[i] >= classes)
            return sn_error_set(SN_ERR_FORMAT,
                                "%s: label %d at index %lld is not below the %d classes of %s",
                                name, labels[i], (long long)i, classes, declared_by);
    return SN_OK;
}

/* "FILE: /train/labels" (an HDF5 set) or "DIR" (an IDX directory, whose
 * reader checked its labels already) for messages. */
static void labels_name(char *out, size_t size, const sn_config *config, const char *split)
{
    if (strcmp(config->dataset, "hdf5") == 0)
        snprintf(out, size, "%s: dataset /%s/labels", config->path, split);
    else
        snprintf(out, size, "%s (%s labels)", config->path, split);
}

static int load_both(const sn_config *config, sn_image_set *train, sn_image_set *test)
{
    int classes = (int)config->data_classes;
    if (strcmp(config->dataset, "fashion-mnist") == 0)
        return classes > 0 ? sn_idx_load_directory_classes(config->path, classes,
                                                           "[data] classes", train, test)
                           : sn_idx_load_directory(config->path, train, test);
    SN_TRY(sn_hdf5_image_set_read(config->path, "train", train));
    return sn_hdf5_image_set_read(config->path, "test", test);
}

int sn_load_datasets(const sn_config *config, sn_image_set *train, sn_image_set *test)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    int status = load_both(config, train, test);
    if (status == SN_OK && (train->channels != test->channels || train->height != test->height ||
                            train->width != test->width)) {
        /* the message first: freeing the sets zeroes their shapes */
        const int hdf5 = strcmp(config->dataset, "hdf5") == 0;
        status = sn_error_set(SN_ERR_FORMAT,
                              "%s: %s are %dx%dx%d but %s are %dx%dx%d (channels x height x "
                              "width): both splits need one shape",
                              config->path, hdf5 ? "/train/images" : "the training images",
                              train->channels, train->height, train->width,
                              hdf5 ? "/test/images" : "the test images", test->channels,
                              test->height, test->width);
    }
    if (status == SN_OK) {
        truncate_set(train, config->train_limit);
        truncate_set(test, config->test_limit);
    }
    int classes = (int)config->data_classes;
    if (status == SN_OK && classes > 0) {
        /* [data] classes wins over the set's count; the images used must fit it */
        char name[SN_CONFIG_TEXT_MAX + 64];
        labels_name(name, sizeof name, config, "train");
        status = sn_labels_check(train->labels, train->count, classes, name, "[data] classes");
        if (status == SN_OK) {
            labels_name(name, sizeof name, config, "test");
            status = sn_labels_check(test->labels, test->count, classes, name, "[data] classes");
        }
        train->classes = test->classes = classes;
    }
    if (status != SN_OK) {
        sn_image_set_free(train);
        sn_image_set_free(test);
        return status;
    }
    if (classes <= 0)
        train->classes = test->classes =
            train->classes > test->classes ? train->classes : test->classes;
    return SN_OK;
}
