/*
 * make_image_set: HDF5 image sets for the tests, beyond 28x28 grey.
 *
 *   make_image_set colour IDX_DIR OUT.h5 CHANNELS SIZE [TRAIN TEST]
 *       Fashion-MNIST with CHANNELS channels (1..4) at SIZE x SIZE (>= 28,
 *       the 28x28 image centred on a black border): channel c is the grey
 *       image times 1 - 0.2c, so every channel carries the whole image.
 *       TRAIN and TEST keep the first images of each split.
 *
 *   make_image_set synthetic OUT.h5 CHANNELS SIZE CLASSES TRAIN TEST SEED [chunked|deflate]
 *       An ImageNet-shaped set (N x SIZE x SIZE x CHANNELS uint8) that can
 *       be learnt: class k is a blob of its own colour at its own place on
 *       noise. "chunked" stores one image per chunk, as `shiftnas data
 *       convert` does from an image folder ("deflate": and compressed);
 *       otherwise the datasets are contiguous.
 *
 * The images are a function of the arguments alone (keyed random streams),
 * so a test can make the same set twice.
 */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/data.h"
#include "shiftnas/error.h"
#include "shiftnas/rng.h"

static int usage(void)
{
    fprintf(stderr, "usage: make_image_set colour IDX_DIR OUT.h5 CHANNELS SIZE [TRAIN TEST]\n"
                    "       make_image_set synthetic OUT.h5 CHANNELS SIZE CLASSES TRAIN TEST SEED "
                    "[chunked|deflate]\n");
    return 2;
}

/* Fashion-MNIST's set recoloured into `out` (allocated here). */
static int colour_set(const sn_image_set *grey, int channels, int size, int64_t limit,
                      sn_image_set *out)
{
    int64_t count = limit > 0 && limit < grey->count ? limit : grey->count;
    int64_t plane = (int64_t)size * size, border = (size - grey->width) / 2;
    *out = (sn_image_set){count, channels, size, size, grey->classes, NULL, NULL};
    out->pixels = calloc((size_t)(count * channels * plane), 1);
    out->labels = malloc(sizeof(int32_t) * (size_t)count);
    if (!out->pixels || !out->labels)
        return 1;
    for (int64_t n = 0; n < count; n++) {
        out->labels[n] = grey->labels[n];
        const uint8_t *source = grey->pixels + n * grey->height * grey->width;
        for (int c = 0; c < channels; c++) {
            uint8_t *target = out->pixels + (n * channels + c) * plane;
            for (int y = 0; y < grey->height; y++)
                for (int x = 0; x < grey->width; x++)
                    target[(y + border) * size + x + border] =
                        (uint8_t)(source[y * grey->width + x] * (1.0 - 0.2 * c) + 0.5);
        }
    }
    return 0;
}

static int run_colour(int argc, char **argv)
{
    if (argc != 6 && argc != 8)
        return usage();
    int channels = atoi(argv[4]), size = atoi(argv[5]);
    int64_t train_limit = argc == 8 ? atoll(argv[6]) : 0, test_limit = argc == 8 ? atoll(argv[7]) : 0;
    if (channels < 1 || channels > 4 || size < 28)
        return usage();
    sn_image_set grey_train, grey_test, train, test;
    if (sn_idx_load_directory(argv[2], &grey_train, &grey_test) != SN_OK) {
        fprintf(stderr, "make_image_set: %s\n", sn_error_message());
        return 1;
    }
    int failed = colour_set(&grey_train, channels, size, train_limit, &train) ||
                 colour_set(&grey_test, channels, size, test_limit, &test);
    if (!failed && sn_hdf5_image_set_write(argv[3], &train, &test) != SN_OK) {
        fprintf(stderr, "make_image_set: %s\n", sn_error_message());
        failed = 1;
    }
    sn_image_set_free(&grey_train);
    sn_image_set_free(&grey_test);
    sn_image_set_free(&train);
    sn_image_set_free(&test);
    return failed;
}

/* One synthetic image, [H, W, C] as stored: noise plus a blob whose colour
 * and place depend on the class. */
static void synthetic_image(uint8_t *pixels, int channels, int size, int classes, int label,
                            uint64_t seed, uint32_t index)
{
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, seed, SN_RNG_TEST, 0, index);
    double cx = size * (0.25 + 0.5 * (label % 4) / 3.0), cy = size * (0.25 + 0.5 * (label / 4 % 4) / 3.0);
    double radius = size * (0.12 + 0.08 * sn_rng_uniform(&stream));
    cx += size * 0.05 * (sn_rng_uniform(&stream) - 0.5);
    cy += size * 0.05 * (sn_rng_uniform(&stream) - 0.5);
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            int inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) < radius * radius;
            for (int c = 0; c < channels; c++) {
                int hue = ((label * 37 + c * 91) % 256);
                int noise = (int)sn_rng_below(&stream, 64);
                int value = inside ? 96 + hue / 2 + noise / 2 : noise;
                pixels[((size_t)y * size + x) * channels + c] = (uint8_t)(value > 255 ? 255 : value);
            }
        }
    (void)classes;
}

static int write_split(hid_t file, const char *split, int channels, int size, int classes,
                       int64_t count, uint64_t seed, int chunked, int deflate)
{
    hid_t group = H5Gcreate2(file, split, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[4] = {(hsize_t)count, (hsize_t)size, (hsize_t)size, (hsize_t)channels};
    hsize_t chunk[4] = {1, (hsize_t)size, (hsize_t)size, (hsize_t)channels};
    hid_t create = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked)
        H5Pset_chunk(create, 4, chunk);
    if (deflate)
        H5Pset_deflate(create, 1);
    hid_t space = H5Screate_simple(4, dims, NULL);
    hid_t images = H5Dcreate2(group, "images", H5T_STD_U8LE, space, H5P_DEFAULT, create, H5P_DEFAULT);
    size_t image_bytes = (size_t)size * size * channels;
    uint8_t *pixels = malloc(image_bytes);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)count);
    int failed = group < 0 || images < 0 || !pixels || !labels;
    uint32_t offset = strcmp(split, "train") == 0 ? 0 : 1u << 30;
    for (int64_t n = 0; n < count && !failed; n++) {
        labels[n] = (int32_t)((n * 7 + (offset ? 3 : 0)) % classes);
        synthetic_image(pixels, channels, size, classes, labels[n], seed, offset + (uint32_t)n);
        hsize_t start[4] = {(hsize_t)n, 0, 0, 0};
        hid_t file_space = H5Dget_space(images);
        hid_t memory_space = H5Screate_simple(4, chunk, NULL);
        H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, chunk, NULL);
        failed = H5Dwrite(images, H5T_NATIVE_UINT8, memory_space, file_space, H5P_DEFAULT, pixels) < 0;
        H5Sclose(memory_space);
        H5Sclose(file_space);
    }
    hsize_t label_dims[1] = {(hsize_t)count};
    hid_t label_space = H5Screate_simple(1, label_dims, NULL);
    hid_t label_set = failed ? -1 : H5Dcreate2(group, "labels", H5T_STD_I32LE, label_space, H5P_DEFAULT,
                                               H5P_DEFAULT, H5P_DEFAULT);
    if (label_set < 0 || H5Dwrite(label_set, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels) < 0)
        failed = 1;
    if (label_set >= 0)
        H5Dclose(label_set);
    H5Sclose(label_space);
    free(pixels);
    free(labels);
    if (images >= 0)
        H5Dclose(images);
    H5Sclose(space);
    H5Pclose(create);
    if (group >= 0)
        H5Gclose(group);
    return failed;
}

static int run_synthetic(int argc, char **argv)
{
    if (argc != 9 && argc != 10)
        return usage();
    int channels = atoi(argv[3]), size = atoi(argv[4]), classes = atoi(argv[5]);
    int64_t train = atoll(argv[6]), test = atoll(argv[7]);
    uint64_t seed = strtoull(argv[8], NULL, 10);
    int deflate = argc == 10 && strcmp(argv[9], "deflate") == 0;
    int chunked = deflate || (argc == 10 && strcmp(argv[9], "chunked") == 0);
    if (channels < 1 || channels > 4 || size < 1 || classes < 2 || train < 1 || test < 1)
        return usage();
    hid_t file = H5Fcreate(argv[2], H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        fprintf(stderr, "make_image_set: %s: cannot create it\n", argv[2]);
        return 1;
    }
    int failed = write_split(file, "train", channels, size, classes, train, seed, chunked, deflate) ||
                 write_split(file, "test", channels, size, classes, test, seed, chunked, deflate);
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t attribute = H5Acreate2(file, "classes", H5T_STD_I32LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    int32_t value = classes;
    if (attribute < 0 || H5Awrite(attribute, H5T_NATIVE_INT32, &value) < 0)
        failed = 1;
    H5Aclose(attribute);
    H5Sclose(scalar);
    if (H5Fclose(file) < 0)
        failed = 1;
    if (failed) {
        fprintf(stderr, "make_image_set: %s: writing failed\n", argv[2]);
        remove(argv[2]);
    }
    return failed;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "colour") == 0)
        return run_colour(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "synthetic") == 0)
        return run_synthetic(argc, argv);
    return usage();
}
