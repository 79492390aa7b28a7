/* shiftnas data convert IDX_DIR OUT.h5 | shiftnas data info PATH */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "shiftnas/data.h"
#include "shiftnas/error.h"

static const char data_usage[] =
    "usage: shiftnas data convert IDX_DIR OUT.h5\n"
    "       shiftnas data info PATH\n"
    "\n"
    "convert  reads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from IDX_DIR\n"
    "         (e.g. /usr/share/datasets/fashion-mnist) and writes the HDF5 image-set\n"
    "         layout of doc/data.md (/train/images, /train/labels, /test/...).\n"
    "         OUT.h5 must not exist.\n"
    "info     prints the shape, classes and label counts of an IDX directory or an\n"
    "         HDF5 image set, after checking every field.\n";

static void print_set(const char *split, const sn_image_set *set)
{
    int64_t counts[256] = {0};
    for (int64_t i = 0; i < set->count; i++)
        if (set->labels[i] >= 0 && set->labels[i] < 256)
            counts[set->labels[i]]++;
    printf("%s: %lld images of %dx%dx%d (channels x height x width), %d classes; per class:",
           split, (long long)set->count, set->channels, set->height, set->width, set->classes);
    for (int c = 0; c < set->classes && c < 256; c++)
        printf(" %lld", (long long)counts[c]);
    printf("\n");
}

static int load_any(const char *path, sn_image_set *train, sn_image_set *test)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return sn_idx_load_directory(path, train, test);
    int status = sn_hdf5_image_set_read(path, "train", train);
    if (status == SN_OK)
        status = sn_hdf5_image_set_read(path, "test", test);
    return status;
}

int sn_command_data(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(data_usage, stdout);
        return SN_EXIT_OK;
    }
    sn_image_set train = {0}, test = {0};
    int status;
    if (argc == 4 && strcmp(argv[1], "convert") == 0) {
        struct stat st;
        if (stat(argv[3], &st) == 0) {
            fprintf(stderr, "shiftnas data: %s: already exists; not overwriting it\n", argv[3]);
            return SN_EXIT_FAILURE;
        }
        status = sn_idx_load_directory(argv[2], &train, &test);
        if (status == SN_OK)
            status = sn_hdf5_image_set_write(argv[3], &train, &test);
        if (status == SN_OK) {
            printf("wrote %s\n", argv[3]);
            print_set("train", &train);
            print_set("test", &test);
        }
    } else if (argc == 3 && strcmp(argv[1], "info") == 0) {
        status = load_any(argv[2], &train, &test);
        if (status == SN_OK) {
            print_set("train", &train);
            print_set("test", &test);
        }
    } else {
        fputs(data_usage, stderr);
        return SN_EXIT_USAGE;
    }
    sn_image_set_free(&train);
    sn_image_set_free(&test);
    if (status != SN_OK) {
        sn_cli_report_error("data");
        return SN_EXIT_FAILURE;
    }
    return SN_EXIT_OK;
}
