/* The training and test sets [data] names, loaded whole (IDX directory or
 * HDF5 file), checked against each other, with [data]'s limits applied. */
#include "shiftnas/data.h"

#include <string.h>

#include "shiftnas/error.h"

static void truncate_set(sn_image_set *set, int64_t limit)
{
    if (limit > 0 && limit < set->count)
        set->count = limit;
}

int sn_load_datasets(const sn_config *config, sn_image_set *train, sn_image_set *test)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    int status;
    if (strcmp(config->dataset, "fashion-mnist") == 0) {
        status = sn_idx_load_directory(config->path, train, test);
    } else {
        status = sn_hdf5_image_set_read(config->path, "train", train);
        if (status == SN_OK)
            status = sn_hdf5_image_set_read(config->path, "test", test);
    }
    if (status != SN_OK) {
        sn_image_set_free(train);
        sn_image_set_free(test);
        return status;
    }
    if (train->channels != test->channels || train->height != test->height ||
        train->width != test->width) {
        /* the message first: freeing the sets zeroes their shapes */
        status = sn_error_set(SN_ERR_FORMAT, "%s: training images (%dx%dx%d) and test images (%dx%dx%d) differ in shape",
                              config->path, train->channels, train->height, train->width,
                              test->channels, test->height, test->width);
        sn_image_set_free(train);
        sn_image_set_free(test);
        return status;
    }
    int classes = train->classes > test->classes ? train->classes : test->classes;
    train->classes = test->classes = classes;
    truncate_set(train, config->train_limit);
    truncate_set(test, config->test_limit);
    return SN_OK;
}
