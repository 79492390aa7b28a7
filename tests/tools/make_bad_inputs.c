/*
 * make_bad_inputs: small hostile data sets for tests/cli/test_inputs.sh,
 * each wrong in one way (CI has no Python, so no h5py).
 *
 *   make_bad_inputs hdf5 KIND OUT.h5    an HDF5 image set (6 training and 4
 *                                       test images of 8x8, labels 0..2,
 *                                       attribute classes = 3) except:
 *     good               nothing wrong
 *     no-attribute       no classes attribute (labels 0..4: 5 classes)
 *     shape-mismatch     test images of 10x10
 *     float-images       /train/images of 4-byte floats in [0, 1]
 *     int16-images       /train/images of 2-byte signed integers
 *     channels-first     /train/images 6x3x8x8 (N x C x H x W)
 *     five-channels      /train/images 6x8x8x5
 *     rank-2             /train/images 6x64
 *     rank-5             /train/images 6x1x8x8x1
 *     huge-label         an int64 label of 2^40 at index 4
 *     huge-unsigned      a uint64 label of 2^64 - 1 at index 1
 *     negative-label     label -3 at index 2
 *     beyond-attribute   label 7 at index 5 (attribute classes = 3)
 *     zero-classes       attribute classes = 0
 *     float-labels       /train/labels of 8-byte floats
 *     string-labels      /train/labels of fixed-length strings
 *     label-count        5 labels for 6 images
 *     labels-2d          /train/labels 6x1
 *     no-test            no /test group
 *     no-labels          no /train/labels
 *     scalar-images      /train/images a scalar
 *     huge-shape         /train/images 10^6 x 10^6 x 10^6, never written
 *
 *   make_bad_inputs idx KIND DIR        an IDX directory (20 training and 5
 *                                       test images of 8x8, labels 0..9,
 *                                       uncompressed) except:
 *     good               nothing wrong
 *     label-200          training label 200 at index 17
 *     test-label-10      test label 10 at index 3
 *     shape-mismatch     test images of 10x10
 *     absurd-dimensions  training images header 4294967295^3, 16 bytes of data
 *     wrong-magic        training images start with "GIF89a"
 *     element-type       training images of element type 0x0D (float)
 *     labels-short       19 training labels for 20 images
 *     truncated          training images cut 10 bytes short
 *     trailing           training images with 3 bytes after the data
 *     images-2d          training images 20 x 64
 *     empty              a zero-byte training images file
 *     no-test            no t10k files
 */
#include <errno.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { TRAIN = 6, TEST = 4, SIDE = 8, IDX_TRAIN = 20, IDX_TEST = 5 };

static int usage(void)
{
    fprintf(stderr, "usage: make_bad_inputs hdf5 KIND OUT.h5 | make_bad_inputs idx KIND DIR\n");
    return 2;
}

/* ---- HDF5 ------------------------------------------------------------------ */

static int h5_dataset(hid_t file, const char *name, hid_t file_type, hid_t memory_type, int rank,
                      const hsize_t *dims, const void *data)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t space = rank > 0 ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t dataset = H5Dcreate2(file, name, file_type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    int failed = dataset < 0 ||
                 (data && H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0);
    if (dataset >= 0)
        H5Dclose(dataset);
    H5Sclose(space);
    H5Pclose(lcpl);
    return failed;
}

static int h5_classes(hid_t file, int32_t classes)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attribute = H5Acreate2(file, "classes", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    int failed = attribute < 0 || H5Awrite(attribute, H5T_NATIVE_INT32, &classes) < 0;
    if (attribute >= 0)
        H5Aclose(attribute);
    H5Sclose(space);
    return failed;
}

static int has(const char *kind, const char *name)
{
    return strcmp(kind, name) == 0;
}

/* /train/images as the kind wants them. */
static int train_images(hid_t file, const char *kind, const uint8_t *pixels)
{
    const char *name = "/train/images";
    if (has(kind, "float-images")) {
        float values[TRAIN * SIDE * SIDE];
        for (int i = 0; i < TRAIN * SIDE * SIDE; i++)
            values[i] = (float)pixels[i] / 255.0f;
        hsize_t dims[3] = {TRAIN, SIDE, SIDE};
        return h5_dataset(file, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dims, values);
    }
    if (has(kind, "int16-images")) {
        int16_t values[TRAIN * SIDE * SIDE];
        for (int i = 0; i < TRAIN * SIDE * SIDE; i++)
            values[i] = pixels[i];
        hsize_t dims[3] = {TRAIN, SIDE, SIDE};
        return h5_dataset(file, name, H5T_STD_I16LE, H5T_NATIVE_INT16, 3, dims, values);
    }
    if (has(kind, "channels-first") || has(kind, "five-channels")) {
        int first = has(kind, "channels-first");
        hsize_t dims[4] = {TRAIN, first ? 3 : SIDE, SIDE, first ? SIDE : 5};
        uint8_t *values = calloc(TRAIN * SIDE * SIDE * 5, 1);
        int failed = !values || h5_dataset(file, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, dims,
                                           values);
        free(values);
        return failed;
    }
    if (has(kind, "rank-2")) {
        hsize_t dims[2] = {TRAIN, SIDE * SIDE};
        return h5_dataset(file, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, dims, pixels);
    }
    if (has(kind, "rank-5")) {
        hsize_t dims[5] = {TRAIN, 1, SIDE, SIDE, 1};
        return h5_dataset(file, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, 5, dims, pixels);
    }
    if (has(kind, "scalar-images"))
        return h5_dataset(file, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, 0, NULL, pixels);
    if (has(kind, "huge-shape")) {
        hsize_t dims[3] = {1000000, 1000000, 1000000};
        return h5_dataset(file, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, 3, dims, NULL);
    }
    hsize_t dims[3] = {TRAIN, SIDE, SIDE};
    return h5_dataset(file, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, 3, dims, pixels);
}

/* /train/labels as the kind wants them. */
static int train_labels(hid_t file, const char *kind)
{
    const char *name = "/train/labels";
    int64_t labels[TRAIN] = {0, 1, 2, 0, 1, 2};
    if (has(kind, "no-attribute"))
        labels[3] = 4;
    if (has(kind, "no-labels"))
        return 0;
    if (has(kind, "huge-label"))
        labels[4] = (int64_t)1 << 40;
    if (has(kind, "negative-label"))
        labels[2] = -3;
    if (has(kind, "beyond-attribute"))
        labels[5] = 7;
    hsize_t dims[2] = {has(kind, "label-count") ? TRAIN - 1 : TRAIN, 1};
    if (has(kind, "huge-unsigned")) {
        uint64_t values[TRAIN] = {0, UINT64_MAX, 2, 0, 1, 2};
        return h5_dataset(file, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, dims, values);
    }
    if (has(kind, "float-labels")) {
        double values[TRAIN] = {0, 1, 2, 0, 1, 2};
        return h5_dataset(file, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, values);
    }
    if (has(kind, "string-labels")) {
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, 4);
        char values[TRAIN][4] = {"cat", "dog", "cow", "cat", "dog", "cow"};
        int failed = h5_dataset(file, name, type, type, 1, dims, values);
        H5Tclose(type);
        return failed;
    }
    return h5_dataset(file, name, H5T_STD_I64LE, H5T_NATIVE_INT64, has(kind, "labels-2d") ? 2 : 1,
                      dims, labels);
}

static int make_hdf5(const char *kind, const char *path)
{
    static const char *const kinds[] = {
        "good", "no-attribute", "shape-mismatch", "float-images", "int16-images",
        "channels-first", "five-channels", "rank-2", "rank-5", "huge-label", "huge-unsigned",
        "negative-label", "beyond-attribute", "zero-classes", "float-labels", "string-labels",
        "label-count", "labels-2d", "no-test", "no-labels", "scalar-images", "huge-shape"};
    int known = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        known |= has(kind, kinds[i]);
    if (!known)
        return usage();
    uint8_t pixels[TRAIN * SIDE * SIDE * 5];
    for (size_t i = 0; i < sizeof pixels; i++)
        pixels[i] = (uint8_t)(i * 37 % 251);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0)
        return 1;
    int failed = train_images(file, kind, pixels) || train_labels(file, kind);
    if (!has(kind, "no-test")) {
        int side = has(kind, "shape-mismatch") ? 10 : SIDE;
        hsize_t dims[3] = {TEST, (hsize_t)side, (hsize_t)side}, label_dims[1] = {TEST};
        int32_t labels[TEST] = {2, 1, 0, 1};
        failed = failed ||
                 h5_dataset(file, "/test/images", H5T_STD_U8LE, H5T_NATIVE_UINT8, 3, dims, pixels) ||
                 h5_dataset(file, "/test/labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, label_dims,
                            labels);
    }
    if (!has(kind, "no-attribute"))
        failed = failed || h5_classes(file, has(kind, "zero-classes") ? 0 : 3);
    if (H5Fclose(file) < 0)
        failed = 1;
    if (failed)
        fprintf(stderr, "make_bad_inputs: cannot write %s\n", path);
    return failed;
}

/* ---- IDX ------------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An IDX file of unsigned bytes: the header, then `size` bytes of data (or
 * of `data` when given, else a pattern). `cut` drops bytes from the end,
 * `extra` adds some. */
static int write_idx(const char *dir, const char *name, int type, int ndim, const uint32_t *dims,
                     const uint8_t *data, size_t size, size_t cut, size_t extra)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "make_bad_inputs: %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint8_t header[4 + 4 * 4] = {0, 0, (uint8_t)type, (uint8_t)ndim};
    for (int i = 0; i < ndim; i++)
        put_be32(header + 4 + 4 * i, dims[i]);
    int failed = fwrite(header, 1, 4 + 4 * (size_t)ndim, f) != 4 + 4 * (size_t)ndim;
    for (size_t i = 0; !failed && i + cut < size + extra; i++)
        failed = fputc(data && i < size ? data[i] : (int)(i * 37 % 251), f) == EOF;
    if (fclose(f) != 0)
        failed = 1;
    return failed;
}

static int write_raw(const char *dir, const char *name, const char *bytes, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int failed = !f || fwrite(bytes, 1, size, f) != size;
    if (f && fclose(f) != 0)
        failed = 1;
    return failed;
}

static int make_idx(const char *kind, const char *dir)
{
    static const char *const kinds[] = {
        "good", "label-200", "test-label-10", "shape-mismatch", "absurd-dimensions",
        "wrong-magic", "element-type", "labels-short", "truncated", "trailing", "images-2d",
        "empty", "no-test"};
    int known = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        known |= has(kind, kinds[i]);
    if (!known)
        return usage();
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "make_bad_inputs: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    uint8_t train_labels[IDX_TRAIN], test_labels[IDX_TEST];
    for (int i = 0; i < IDX_TRAIN; i++)
        train_labels[i] = (uint8_t)(i % 10);
    for (int i = 0; i < IDX_TEST; i++)
        test_labels[i] = (uint8_t)(i * 3 % 10);
    if (has(kind, "label-200"))
        train_labels[17] = 200;
    if (has(kind, "test-label-10"))
        test_labels[3] = 10;
    const char *images = "train-images-idx3-ubyte";
    size_t pixels = IDX_TRAIN * SIDE * SIDE;
    int failed;
    if (has(kind, "absurd-dimensions")) {
        const uint32_t dims[3] = {UINT32_MAX, UINT32_MAX, UINT32_MAX};
        failed = write_idx(dir, images, 0x08, 3, dims, NULL, 16, 0, 0);
    } else if (has(kind, "wrong-magic")) {
        failed = write_raw(dir, images, "GIF89a\x01\x00\x01\x00", 10);
    } else if (has(kind, "empty")) {
        failed = write_raw(dir, images, "", 0);
    } else if (has(kind, "images-2d")) {
        const uint32_t dims[2] = {IDX_TRAIN, SIDE * SIDE};
        failed = write_idx(dir, images, 0x08, 2, dims, NULL, pixels, 0, 0);
    } else {
        const uint32_t dims[3] = {IDX_TRAIN, SIDE, SIDE};
        failed = write_idx(dir, images, has(kind, "element-type") ? 0x0D : 0x08, 3, dims, NULL,
                           pixels, has(kind, "truncated") ? 10 : 0, has(kind, "trailing") ? 3 : 0);
    }
    const uint32_t label_dims[1] = {has(kind, "labels-short") ? IDX_TRAIN - 1 : IDX_TRAIN};
    failed = failed || write_idx(dir, "train-labels-idx1-ubyte", 0x08, 1, label_dims, train_labels,
                                 label_dims[0], 0, 0);
    if (!has(kind, "no-test")) {
        uint32_t side = has(kind, "shape-mismatch") ? 10 : SIDE;
        const uint32_t dims[3] = {IDX_TEST, side, side}, test_label_dims[1] = {IDX_TEST};
        failed = failed ||
                 write_idx(dir, "t10k-images-idx3-ubyte", 0x08, 3, dims, NULL,
                           IDX_TEST * side * side, 0, 0) ||
                 write_idx(dir, "t10k-labels-idx1-ubyte", 0x08, 1, test_label_dims, test_labels,
                           IDX_TEST, 0, 0);
    }
    if (failed)
        fprintf(stderr, "make_bad_inputs: cannot write %s\n", dir);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return usage();
    if (strcmp(argv[1], "hdf5") == 0)
        return make_hdf5(argv[2], argv[3]);
    if (strcmp(argv[1], "idx") == 0)
        return make_idx(argv[2], argv[3]);
    return usage();
}
