/* libFuzzer target: the HDF5 image-set reader on arbitrary file contents,
 * both splits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shiftnas/data.h"
#include "shiftnas/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/shiftnas-iodata-fuzz-hdf5-%ld.h5", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    static const char *const splits[2] = {"train", "test"};
    for (int s = 0; s < 2; s++) {
        sn_image_set set;
        sn_error_clear();
        int rc = sn_hdf5_image_set_read(path, splits[s], &set);
        if (rc == SN_OK) {
            /* Touch everything so that a wrong size shows under ASan. */
            int64_t pixels = set.count * set.channels * set.height * set.width;
            unsigned sum = 0;
            for (int64_t i = 0; i < pixels; i++)
                sum += set.pixels[i];
            for (int64_t i = 0; i < set.count; i++)
                if (set.labels[i] < 0 || set.labels[i] >= set.classes)
                    abort(); /* the reader promised labels in [0, classes) */
            (void)sum;
        } else if (sn_error_message()[0] == '\0') {
            abort(); /* every failure must say why */
        }
        sn_image_set_free(&set);
    }
    unlink(path);
    return 0;
}
