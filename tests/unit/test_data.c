/* Data: IDX and HDF5 readers (good and malformed files), the split, the epoch
 * order, normalisation, augmentation and batch assembly, fuzz regressions. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "shiftnas/data.h"
#include "shiftnas/error.h"
#include "shiftnas/rng.h"
#include "image_batches.h"

#ifndef TEST_SOURCE_DIR
#define TEST_SOURCE_DIR "."
#endif

/* ---- helpers ------------------------------------------------------------ */

/* Each test runs in its own (forked) process with its own directory. */
static char temp_dir[256];

static void make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(temp_dir, sizeof temp_dir, "%s/shiftnas-iodata-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(temp_dir));
}

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void)info;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_temp_dir(void)
{
    if (temp_dir[0])
        nftw(temp_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    temp_dir[0] = '\0';
}

static const char *temp_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", temp_dir, name);
    return out;
}

static void write_file(const char *path, const void *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_gzip(const char *path, const void *bytes, size_t size)
{
    gzFile f = gzopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzwrite(f, bytes, (unsigned)size), (int)size);
    ck_assert_int_eq(gzclose(f), Z_OK);
}

static uint8_t *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *bytes = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(bytes, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return bytes;
}

/* An IDX file: magic 0 0 type ndim, big-endian dims, then the data. */
static size_t make_idx(uint8_t *out, int type, int ndim, const uint32_t *dims, const uint8_t *data,
                       size_t data_size)
{
    out[0] = 0;
    out[1] = 0;
    out[2] = (uint8_t)type;
    out[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        out[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        out[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        out[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        out[7 + 4 * i] = (uint8_t)dims[i];
    }
    memcpy(out + 4 + 4 * ndim, data, data_size);
    return 4 + 4 * (size_t)ndim + data_size;
}

/* A valid pair: 3 images of 2x4 (pixel = 10*n + position) and labels 2, 0, 4. */
enum { PAIR_N = 3, PAIR_H = 2, PAIR_W = 4 };
static uint8_t pair_pixels[PAIR_N * PAIR_H * PAIR_W];
static const uint8_t pair_labels[PAIR_N] = {2, 0, 4};

static size_t make_pair_images(uint8_t *out)
{
    for (int i = 0; i < PAIR_N * PAIR_H * PAIR_W; i++)
        pair_pixels[i] = (uint8_t)(10 * (i / (PAIR_H * PAIR_W)) + i % (PAIR_H * PAIR_W));
    const uint32_t dims[3] = {PAIR_N, PAIR_H, PAIR_W};
    return make_idx(out, 0x08, 3, dims, pair_pixels, sizeof pair_pixels);
}

static size_t make_pair_labels(uint8_t *out)
{
    const uint32_t dims[1] = {PAIR_N};
    return make_idx(out, 0x08, 1, dims, pair_labels, sizeof pair_labels);
}

static void check_pair_set(const sn_image_set *set, int classes)
{
    ck_assert_int_eq(set->count, PAIR_N);
    ck_assert_int_eq(set->channels, 1);
    ck_assert_int_eq(set->height, PAIR_H);
    ck_assert_int_eq(set->width, PAIR_W);
    ck_assert_int_eq(set->classes, classes);
    ck_assert_mem_eq(set->pixels, pair_pixels, sizeof pair_pixels);
    for (int i = 0; i < PAIR_N; i++)
        ck_assert_int_eq(set->labels[i], pair_labels[i]);
}

/* Loads images_bytes / labels_bytes written to files; expects `code` and a
 * message that names the file `bad` ("images" or "labels") and holds `word`. */
static void expect_load_error(const uint8_t *images, size_t images_size, const uint8_t *labels,
                              size_t labels_size, const char *bad, int code, const char *word)
{
    char images_path[512], labels_path[512];
    temp_path(images_path, sizeof images_path, "images.idx");
    temp_path(labels_path, sizeof labels_path, "labels.idx");
    write_file(images_path, images, images_size);
    write_file(labels_path, labels, labels_size);
    sn_image_set set;
    sn_error_clear();
    int rc = sn_idx_load_image_set(images_path, labels_path, &set);
    const char *message = sn_error_message();
    ck_assert_msg(rc == code, "expected code %d, got %d (%s)", code, rc, message);
    ck_assert_ptr_null(set.pixels);
    const char *expected_path = strcmp(bad, "images") == 0 ? images_path : labels_path;
    ck_assert_msg(strncmp(message, expected_path, strlen(expected_path)) == 0,
                  "message does not start with %s: %s", expected_path, message);
    ck_assert_msg(strstr(message, word) != NULL, "message lacks \"%s\": %s", word, message);
    ck_assert_ptr_null(strchr(message, '\n'));
}

/* ---- IDX ---------------------------------------------------------------- */

START_TEST(idx_decodes_raw_and_gzip_files)
{
    make_temp_dir();
    uint8_t images[256], labels[64];
    size_t images_size = make_pair_images(images), labels_size = make_pair_labels(labels);
    char ip[512], lp[512], igz[512], lgz[512];
    write_file(temp_path(ip, sizeof ip, "i.idx"), images, images_size);
    write_file(temp_path(lp, sizeof lp, "l.idx"), labels, labels_size);
    write_gzip(temp_path(igz, sizeof igz, "i.idx.gz"), images, images_size);
    write_gzip(temp_path(lgz, sizeof lgz, "l.idx.gz"), labels, labels_size);

    sn_image_set raw, gz;
    ck_assert_int_eq(sn_idx_load_image_set(ip, lp, &raw), SN_OK);
    check_pair_set(&raw, 5); /* a pair alone: the largest label + 1 */
    ck_assert_int_eq(sn_idx_load_image_set(igz, lgz, &gz), SN_OK);
    check_pair_set(&gz, 5);
    sn_image_set_free(&raw);
    sn_image_set_free(&gz);
    ck_assert_ptr_null(raw.pixels);

    /* The gunzipped bytes are the original bytes. */
    uint8_t *bytes;
    size_t size;
    ck_assert_int_eq(sn_read_file_maybe_gzip(igz, 1 << 20, &bytes, &size), SN_OK);
    ck_assert_uint_eq(size, images_size);
    ck_assert_mem_eq(bytes, images, size);
    free(bytes);

    /* sn_idx_decode by itself. */
    sn_idx_array array;
    ck_assert_int_eq(sn_idx_decode(images, images_size, "mem", &array), SN_OK);
    ck_assert_int_eq(array.ndim, 3);
    ck_assert_int_eq(array.dims[0], PAIR_N);
    ck_assert_int_eq(array.dims[1], PAIR_H);
    ck_assert_int_eq(array.dims[2], PAIR_W);
    ck_assert_mem_eq(array.data, pair_pixels, sizeof pair_pixels);
    sn_idx_array_free(&array);
    ck_assert_ptr_null(array.data);
    remove_temp_dir();
}
END_TEST

/* gunzip accepts concatenated members; the size bound applies to the
 * decompressed bytes; raw files pass through. */
START_TEST(gzip_members_and_size_bound)
{
    make_temp_dir();
    uint8_t data[5000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 % 251);
    char a[512], b[512], joined[512], raw[512];
    write_gzip(temp_path(a, sizeof a, "a.gz"), data, 3000);
    write_gzip(temp_path(b, sizeof b, "b.gz"), data + 3000, 2000);
    size_t size_a, size_b;
    uint8_t *bytes_a = read_whole(a, &size_a), *bytes_b = read_whole(b, &size_b);
    uint8_t *both = malloc(size_a + size_b);
    memcpy(both, bytes_a, size_a);
    memcpy(both + size_a, bytes_b, size_b);
    write_file(temp_path(joined, sizeof joined, "joined.gz"), both, size_a + size_b);

    uint8_t *out;
    size_t size;
    ck_assert_int_eq(sn_read_file_maybe_gzip(joined, sizeof data, &out, &size), SN_OK);
    ck_assert_uint_eq(size, sizeof data);
    ck_assert_mem_eq(out, data, sizeof data);
    free(out);
    /* One byte under the decompressed size is refused. */
    ck_assert_int_eq(sn_read_file_maybe_gzip(joined, sizeof data - 1, &out, &size), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "too large"));
    ck_assert_ptr_null(out);
    /* Raw file: passed through, bounded the same way. */
    write_file(temp_path(raw, sizeof raw, "raw.bin"), data, sizeof data);
    ck_assert_int_eq(sn_read_file_maybe_gzip(raw, sizeof data, &out, &size), SN_OK);
    ck_assert_uint_eq(size, sizeof data);
    ck_assert_mem_eq(out, data, sizeof data);
    free(out);
    ck_assert_int_eq(sn_read_file_maybe_gzip(raw, 100, &out, &size), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), raw));
    /* Garbage after the last member. */
    memcpy(both + size_a, "junk", 4);
    write_file(joined, both, size_a + 4);
    ck_assert_int_eq(sn_read_file_maybe_gzip(joined, 1 << 20, &out, &size), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "trailing"));
    free(both);
    free(bytes_a);
    free(bytes_b);
    remove_temp_dir();
}
END_TEST

START_TEST(idx_bad_magic)
{
    make_temp_dir();
    uint8_t images[256], labels[64];
    size_t is = make_pair_images(images), ls = make_pair_labels(labels);
    images[1] = 0x01;
    expect_load_error(images, is, labels, ls, "images", SN_ERR_FORMAT, "magic");
    remove_temp_dir();
}
END_TEST

START_TEST(idx_wrong_type_byte)
{
    make_temp_dir();
    uint8_t images[256], labels[64];
    size_t is = make_pair_images(images), ls = make_pair_labels(labels);
    labels[2] = 0x0D; /* float */
    expect_load_error(images, is, labels, ls, "labels", SN_ERR_FORMAT, "type 0x0d");
    remove_temp_dir();
}
END_TEST

START_TEST(idx_dimension_count_0_and_5)
{
    make_temp_dir();
    uint8_t images[256], labels[64];
    size_t is = make_pair_images(images), ls = make_pair_labels(labels);
    images[3] = 0;
    expect_load_error(images, is, labels, ls, "images", SN_ERR_FORMAT, "dimension count 0");
    images[3] = 5;
    expect_load_error(images, is, labels, ls, "images", SN_ERR_FORMAT, "dimension count 5");
    remove_temp_dir();
}
END_TEST

START_TEST(idx_zero_dimension)
{
    make_temp_dir();
    uint8_t images[256], labels[64];
    size_t is = make_pair_images(images), ls = make_pair_labels(labels);
    images[4 + 4 * 1 + 3] = 0; /* height 0 */
    expect_load_error(images, is, labels, ls, "images", SN_ERR_FORMAT, "dimension 2 of 3 is zero");
    remove_temp_dir();
}
END_TEST

START_TEST(idx_truncated_header)
{
    make_temp_dir();
    uint8_t images[256], labels[64];
    size_t ls = make_pair_labels(labels);
    make_pair_images(images);
    /* ndim 3 needs 16 header bytes; give 10. */
    expect_load_error(images, 10, labels, ls, "images", SN_ERR_FORMAT, "truncated header");
    /* Shorter than the magic. */
    expect_load_error(images, 3, labels, ls, "images", SN_ERR_FORMAT, "truncated header");
    remove_temp_dir();
}
END_TEST

START_TEST(idx_truncated_data)
{
    make_temp_dir();
    uint8_t images[256], labels[64];
    size_t is = make_pair_images(images), ls = make_pair_labels(labels);
    expect_load_error(images, is - 5, labels, ls, "images", SN_ERR_FORMAT,
                      "truncated: header says 3 x 2 x 4 = 24 pixel bytes, file holds 19");
    remove_temp_dir();
}
END_TEST

START_TEST(idx_trailing_bytes)
{
    make_temp_dir();
    uint8_t images[256], labels[64];
    size_t is = make_pair_images(images), ls = make_pair_labels(labels);
    labels[ls] = 7;
    expect_load_error(images, is, labels, ls + 1, "labels", SN_ERR_FORMAT,
                      "trailing bytes: header says 3 = 3 label bytes, file holds 4");
    remove_temp_dir();
}
END_TEST

START_TEST(idx_corrupt_and_truncated_gzip)
{
    make_temp_dir();
    uint8_t images[256], labels[64];
    size_t is = make_pair_images(images), ls = make_pair_labels(labels);
    char path[512], lp[512];
    write_gzip(temp_path(path, sizeof path, "images.gz"), images, is);
    write_file(temp_path(lp, sizeof lp, "labels.idx"), labels, ls);
    size_t gz_size;
    uint8_t *gz = read_whole(path, &gz_size);
    sn_image_set set;

    /* The first deflate byte 0xff declares block type 3, which is reserved. */
    uint8_t saved = gz[10];
    gz[10] = 0xff;
    write_file(path, gz, gz_size);
    ck_assert_int_eq(sn_idx_load_image_set(path, lp, &set), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), path));
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "corrupt gzip"));
    /* A flipped CRC is corruption too. */
    gz[10] = saved;
    gz[gz_size - 6] ^= 0x55;
    write_file(path, gz, gz_size);
    ck_assert_int_eq(sn_idx_load_image_set(path, lp, &set), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "corrupt gzip"));
    gz[gz_size - 6] ^= 0x55;

    /* Cut in the middle of the stream, and just before the trailer ends. */
    write_file(path, gz, gz_size / 2);
    ck_assert_int_eq(sn_idx_load_image_set(path, lp, &set), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), path));
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "truncated gzip"));
    write_file(path, gz, gz_size - 1);
    ck_assert_int_eq(sn_idx_load_image_set(path, lp, &set), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "truncated gzip"));
    /* Only the magic. */
    write_file(path, gz, 2);
    ck_assert_int_eq(sn_idx_load_image_set(path, lp, &set), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "truncated gzip"));
    free(gz);
    remove_temp_dir();
}
END_TEST

START_TEST(idx_images_must_be_3d_labels_1d)
{
    make_temp_dir();
    uint8_t images[256], labels[64];
    size_t ls = make_pair_labels(labels);
    const uint32_t flat[2] = {PAIR_N, PAIR_H * PAIR_W};
    make_pair_images(images);
    size_t is = make_idx(images, 0x08, 2, flat, pair_pixels, sizeof pair_pixels);
    expect_load_error(images, is, labels, ls, "images", SN_ERR_FORMAT, "3 dimensions");
    is = make_pair_images(images);
    const uint32_t label_dims[2] = {PAIR_N, 1};
    ls = make_idx(labels, 0x08, 2, label_dims, pair_labels, sizeof pair_labels);
    expect_load_error(images, is, labels, ls, "labels", SN_ERR_FORMAT, "1 dimension");
    remove_temp_dir();
}
END_TEST

START_TEST(idx_label_count_mismatch)
{
    make_temp_dir();
    uint8_t images[256], labels[64];
    size_t is = make_pair_images(images);
    const uint32_t dims[1] = {PAIR_N - 1};
    size_t ls = make_idx(labels, 0x08, 1, dims, pair_labels, PAIR_N - 1);
    expect_load_error(images, is, labels, ls, "labels", SN_ERR_FORMAT, "count mismatch: 2 labels");
    remove_temp_dir();
}
END_TEST

START_TEST(idx_missing_file)
{
    make_temp_dir();
    char missing[512], lp[512];
    uint8_t labels[64];
    size_t ls = make_pair_labels(labels);
    write_file(temp_path(lp, sizeof lp, "labels.idx"), labels, ls);
    temp_path(missing, sizeof missing, "no-such-images.idx");
    sn_image_set set;
    ck_assert_int_eq(sn_idx_load_image_set(missing, lp, &set), SN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), missing));
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "No such file"));
    sn_image_set train, test;
    ck_assert_int_eq(sn_idx_load_directory(temp_dir, &train, &test), SN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "train-images-idx3-ubyte"));
    remove_temp_dir();
}
END_TEST

/* A directory mixing raw and .gz names loads; the test split is separate. */
START_TEST(idx_directory_accepts_raw_and_gz_names)
{
    make_temp_dir();
    uint8_t images[256], labels[64];
    size_t is = make_pair_images(images), ls = make_pair_labels(labels);
    char p[512];
    write_gzip(temp_path(p, sizeof p, "train-images-idx3-ubyte.gz"), images, is);
    write_file(temp_path(p, sizeof p, "train-labels-idx1-ubyte"), labels, ls);
    write_file(temp_path(p, sizeof p, "t10k-images-idx3-ubyte"), images, is);
    write_gzip(temp_path(p, sizeof p, "t10k-labels-idx1-ubyte.gz"), labels, ls);
    sn_image_set train, test;
    ck_assert_int_eq(sn_idx_load_directory(temp_dir, &train, &test), SN_OK);
    check_pair_set(&train, SN_IDX_CLASSES); /* a directory: Fashion-MNIST's 10 */
    check_pair_set(&test, SN_IDX_CLASSES);
    sn_image_set_free(&train);
    sn_image_set_free(&test);
    /* A broken test split frees the training set and reports the test file. */
    write_file(temp_path(p, sizeof p, "t10k-images-idx3-ubyte"), images, is - 1);
    ck_assert_int_eq(sn_idx_load_directory(temp_dir, &train, &test), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "t10k-images-idx3-ubyte: truncated"));
    ck_assert_ptr_null(train.pixels);
    remove_temp_dir();
}
END_TEST

/* An IDX directory declares 10 classes: a label at or beyond them is an
 * error naming the labels file and the index, unless another count is
 * declared; a test set of another size names both files. */
START_TEST(idx_directory_labels_against_declared_classes)
{
    make_temp_dir();
    uint8_t images[256], labels[64];
    size_t is = make_pair_images(images), ls = make_pair_labels(labels);
    char p[512], test_images[512];
    write_file(temp_path(p, sizeof p, "train-images-idx3-ubyte"), images, is);
    labels[8 + 1] = 200; /* the label at index 1 */
    write_file(temp_path(p, sizeof p, "train-labels-idx1-ubyte"), labels, ls);
    write_file(temp_path(test_images, sizeof test_images, "t10k-images-idx3-ubyte"), images, is);
    labels[8 + 1] = 0;
    write_file(temp_path(p, sizeof p, "t10k-labels-idx1-ubyte"), labels, ls);
    sn_image_set train, test;
    ck_assert_int_eq(sn_idx_load_directory(temp_dir, &train, &test), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "train-labels-idx1-ubyte: label 200 at index 1 "
                                                     "is not below the 10 classes of an IDX"));
    ck_assert_ptr_null(train.labels);
    ck_assert_int_eq(sn_idx_load_directory_classes(temp_dir, 100, "[data] classes", &train, &test),
                     SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "label 200 at index 1 is not below the 100 "
                                                     "classes of [data] classes"));
    ck_assert_int_eq(sn_idx_load_directory_classes(temp_dir, 201, "[data] classes", &train, &test),
                     SN_OK);
    ck_assert_int_eq(train.classes, 201);
    ck_assert_int_eq(test.classes, 201);
    ck_assert_int_eq(train.labels[1], 200);
    sn_image_set_free(&train);
    sn_image_set_free(&test);

    /* another size in the test split: both files and both sizes named */
    const uint32_t dims[3] = {PAIR_N, PAIR_H + 1, PAIR_W};
    uint8_t bigger[PAIR_N * (PAIR_H + 1) * PAIR_W] = {0};
    is = make_idx(images, 0x08, 3, dims, bigger, sizeof bigger);
    write_file(test_images, images, is);
    ck_assert_int_eq(sn_idx_load_directory_classes(temp_dir, 201, "[data] classes", &train, &test),
                     SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "t10k-images-idx3-ubyte: test images are 3x4, "
                                                     "but the training images of"));
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "train-images-idx3-ubyte are 2x4"));
    remove_temp_dir();
}
END_TEST

/* The real Fashion-MNIST, when the machine has it: 6000 training and 1000
 * test images per class. */
START_TEST(idx_loads_fashion_mnist)
{
    const char *directory = "/usr/share/datasets/fashion-mnist";
    struct stat info;
    if (stat(directory, &info) != 0) {
        printf("note: %s is absent; the Fashion-MNIST case checked nothing\n", directory);
        fflush(stdout);
        return;
    }
    sn_image_set train, test;
    int rc = sn_idx_load_directory(directory, &train, &test);
    ck_assert_msg(rc == SN_OK, "%s", sn_error_message());
    ck_assert_int_eq(train.count, 60000);
    ck_assert_int_eq(test.count, 10000);
    ck_assert_int_eq(train.height, 28);
    ck_assert_int_eq(train.width, 28);
    ck_assert_int_eq(train.channels, 1);
    ck_assert_int_eq(test.height, 28);
    ck_assert_int_eq(train.classes, 10);
    ck_assert_int_eq(test.classes, 10);
    int64_t per_class[10] = {0}, test_per_class[10] = {0};
    for (int64_t i = 0; i < train.count; i++)
        per_class[train.labels[i]]++;
    for (int64_t i = 0; i < test.count; i++)
        test_per_class[test.labels[i]]++;
    for (int c = 0; c < 10; c++) {
        ck_assert_int_eq(per_class[c], 6000);
        ck_assert_int_eq(test_per_class[c], 1000);
    }
    sn_image_set_free(&train);
    sn_image_set_free(&test);
}
END_TEST

/* ---- HDF5 --------------------------------------------------------------- */

static sn_image_set make_set(int64_t count, int channels, int height, int width, int classes,
                             uint32_t salt)
{
    sn_image_set set = {count, channels, height, width, classes, NULL, NULL};
    size_t n = (size_t)(count * channels * height * width);
    set.pixels = malloc(n);
    set.labels = malloc((size_t)count * sizeof *set.labels);
    for (size_t i = 0; i < n; i++)
        set.pixels[i] = (uint8_t)((i * 37 + salt) % 256);
    for (int64_t i = 0; i < count; i++)
        set.labels[i] = (int32_t)((i * 3 + salt) % (uint32_t)classes);
    return set;
}

static void check_sets_equal(const sn_image_set *a, const sn_image_set *b)
{
    ck_assert_int_eq(a->count, b->count);
    ck_assert_int_eq(a->channels, b->channels);
    ck_assert_int_eq(a->height, b->height);
    ck_assert_int_eq(a->width, b->width);
    ck_assert_mem_eq(a->pixels, b->pixels, (size_t)(a->count * a->channels * a->height * a->width));
    ck_assert_mem_eq(a->labels, b->labels, (size_t)a->count * sizeof *a->labels);
}

static void round_trip(int channels)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "set.h5");
    sn_image_set train = make_set(7, channels, 5, 3, 4, 1), test = make_set(4, channels, 5, 3, 6, 2);
    ck_assert_int_eq(sn_hdf5_image_set_write(path, &train, &test), SN_OK);
    sn_image_set read_train, read_test;
    int rc = sn_hdf5_image_set_read(path, "train", &read_train);
    ck_assert_msg(rc == SN_OK, "%s", sn_error_message());
    ck_assert_int_eq(sn_hdf5_image_set_read(path, "test", &read_test), SN_OK);
    check_sets_equal(&train, &read_train);
    check_sets_equal(&test, &read_test);
    /* The written attribute is the larger class count. */
    ck_assert_int_eq(read_train.classes, 6);
    ck_assert_int_eq(read_test.classes, 6);

    /* The file layout: rank 3 for one channel, else N x H x W x C. */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t dataset = H5Dopen2(file, "/train/images", H5P_DEFAULT);
    hid_t space = H5Dget_space(dataset);
    hsize_t dims[4];
    int rank = H5Sget_simple_extent_dims(space, dims, NULL);
    ck_assert_int_eq(rank, channels == 1 ? 3 : 4);
    ck_assert_uint_eq(dims[0], 7);
    ck_assert_uint_eq(dims[1], 5);
    ck_assert_uint_eq(dims[2], 3);
    if (channels > 1) {
        ck_assert_uint_eq(dims[3], (unsigned)channels);
        uint8_t *nhwc = malloc(7 * 5 * 3 * (size_t)channels);
        H5Dread(dataset, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, nhwc);
        /* image 2, channel 1, row 3, column 2 */
        ck_assert_uint_eq(nhwc[((2 * 5 + 3) * 3 + 2) * channels + 1],
                          train.pixels[((2 * channels + 1) * 5 + 3) * 3 + 2]);
        free(nhwc);
    }
    H5Sclose(space);
    H5Dclose(dataset);
    H5Fclose(file);
    sn_image_set_free(&train);
    sn_image_set_free(&test);
    sn_image_set_free(&read_train);
    sn_image_set_free(&read_test);
    remove_temp_dir();
}

START_TEST(hdf5_round_trip_one_channel)
{
    round_trip(1);
}
END_TEST

START_TEST(hdf5_round_trip_three_channels)
{
    round_trip(3);
}
END_TEST

/* Hand-built files for the malformed cases. */
static hid_t h5_create(const char *path)
{
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    return file;
}

static void h5_dataset(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims,
                       const void *data)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dataset = H5Dcreate2(file, name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(dataset, 0);
    if (data)
        ck_assert_int_ge(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    H5Dclose(dataset);
    H5Sclose(space);
    H5Pclose(lcpl);
}

static void h5_classes(hid_t file, int32_t classes)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attribute = H5Acreate2(file, "classes", H5T_NATIVE_INT32, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attribute, H5T_NATIVE_INT32, &classes);
    H5Aclose(attribute);
    H5Sclose(space);
}

static uint8_t h5_pixels[4 * 3 * 2 * 5];
static float h5_float_pixels[4 * 3 * 2];
static int32_t h5_labels[4] = {0, 1, 2, 1};

/* Writes a well-formed train split (4 images of 3x2, one channel) except
 * where `variant` says otherwise. */
typedef enum {
    H5_GOOD,
    H5_NO_LABELS,
    H5_FLOAT_IMAGES,
    H5_RANK_2_IMAGES,
    H5_FIVE_CHANNELS,
    H5_LABEL_COUNT,
    H5_NEGATIVE_LABEL,
    H5_SMALL_CLASSES,
    H5_HUGE_UNWRITTEN,
    H5_UNWRITTEN
} h5_variant;

static void write_variant(const char *path, h5_variant variant)
{
    hid_t file = h5_create(path);
    hsize_t dims3[3] = {4, 3, 2}, dims4[4] = {4, 3, 2, 5}, dims2[2] = {4, 6}, label_dims[1] = {4};
    int32_t labels[4];
    memcpy(labels, h5_labels, sizeof labels);
    switch (variant) {
    case H5_FLOAT_IMAGES:
        h5_dataset(file, "/train/images", H5T_NATIVE_FLOAT, 3, dims3, h5_float_pixels);
        break;
    case H5_RANK_2_IMAGES:
        h5_dataset(file, "/train/images", H5T_NATIVE_UINT8, 2, dims2, h5_pixels);
        break;
    case H5_FIVE_CHANNELS:
        h5_dataset(file, "/train/images", H5T_NATIVE_UINT8, 4, dims4, h5_pixels);
        break;
    case H5_HUGE_UNWRITTEN: {
        /* 10^6 images of 1000x1000: 10^12 elements, never written. */
        hsize_t huge[3] = {1000000, 1000, 1000};
        h5_dataset(file, "/train/images", H5T_NATIVE_UINT8, 3, huge, NULL);
        break;
    }
    case H5_UNWRITTEN: {
        hsize_t big[3] = {4, 4096, 4096}; /* 64 MiB declared, no storage */
        h5_dataset(file, "/train/images", H5T_NATIVE_UINT8, 3, big, NULL);
        break;
    }
    default:
        h5_dataset(file, "/train/images", H5T_NATIVE_UINT8, 3, dims3, h5_pixels);
    }
    if (variant == H5_NEGATIVE_LABEL)
        labels[2] = -1;
    if (variant == H5_LABEL_COUNT)
        label_dims[0] = 3;
    if (variant != H5_NO_LABELS)
        h5_dataset(file, "/train/labels", H5T_NATIVE_INT32, 1, label_dims, labels);
    h5_classes(file, variant == H5_SMALL_CLASSES ? 2 : 3);
    H5Fclose(file);
}

static void expect_hdf5_error(h5_variant variant, int code, const char *word)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "bad.h5");
    write_variant(path, variant);
    sn_image_set set;
    sn_error_clear();
    int rc = sn_hdf5_image_set_read(path, "train", &set);
    const char *message = sn_error_message();
    ck_assert_msg(rc == code, "expected %d, got %d (%s)", code, rc, message);
    ck_assert_ptr_null(set.pixels);
    ck_assert_ptr_null(set.labels);
    ck_assert_msg(strncmp(message, path, strlen(path)) == 0, "message lacks the path: %s", message);
    ck_assert_msg(strstr(message, word) != NULL, "message lacks \"%s\": %s", word, message);
    ck_assert_ptr_null(strchr(message, '\n'));
    remove_temp_dir();
}

START_TEST(hdf5_good_hand_built_file)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "good.h5");
    write_variant(path, H5_GOOD);
    sn_image_set set;
    ck_assert_int_eq(sn_hdf5_image_set_read(path, "train", &set), SN_OK);
    ck_assert_int_eq(set.count, 4);
    ck_assert_int_eq(set.classes, 3);
    ck_assert_int_eq(set.labels[2], 2);
    sn_image_set_free(&set);
    remove_temp_dir();
}
END_TEST

START_TEST(hdf5_missing_dataset)
{
    expect_hdf5_error(H5_NO_LABELS, SN_ERR_FORMAT, "/train/labels: missing");
    /* The test split is absent altogether from the hand-built file. */
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "good.h5");
    write_variant(path, H5_GOOD);
    sn_image_set set;
    ck_assert_int_eq(sn_hdf5_image_set_read(path, "test", &set), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "/test/images: missing"));
    ck_assert_int_eq(sn_hdf5_image_set_read(path, "validation", &set), SN_ERR_ARGUMENT);
    remove_temp_dir();
}
END_TEST

START_TEST(hdf5_images_wrong_type)
{
    expect_hdf5_error(H5_FLOAT_IMAGES, SN_ERR_FORMAT,
                      "/train/images: holds 4-byte floating point numbers; shiftnas reads 8-bit "
                      "unsigned images");
}
END_TEST

START_TEST(hdf5_images_wrong_rank_or_channels)
{
    expect_hdf5_error(H5_RANK_2_IMAGES, SN_ERR_FORMAT, "wrong rank 2");
    expect_hdf5_error(H5_FIVE_CHANNELS, SN_ERR_FORMAT, "4x3x2x5 looks channels-first");
}
END_TEST

START_TEST(hdf5_label_count_mismatch)
{
    expect_hdf5_error(H5_LABEL_COUNT, SN_ERR_FORMAT, "count mismatch: 3 labels for 4 images");
}
END_TEST

START_TEST(hdf5_label_out_of_range)
{
    expect_hdf5_error(H5_NEGATIVE_LABEL, SN_ERR_FORMAT, "label -1 at index 2 is out of range");
}
END_TEST

START_TEST(hdf5_classes_attribute_too_small)
{
    expect_hdf5_error(H5_SMALL_CLASSES, SN_ERR_FORMAT,
                      "/train/labels: label 2 at index 2 is not below the 2 classes of the "
                      "attribute /classes");
}
END_TEST

/* Declared shapes without stored data are refused before any allocation
 * (the first would need a terabyte). */
START_TEST(hdf5_forged_sizes_refused)
{
    expect_hdf5_error(H5_HUGE_UNWRITTEN, SN_ERR_FORMAT, "too large");
    expect_hdf5_error(H5_UNWRITTEN, SN_ERR_FORMAT, "holds no data");
}
END_TEST

/* Without the attribute, classes is the largest label + 1 over both splits,
 * and labels of any integer type are accepted. */
START_TEST(hdf5_default_classes_over_both_splits)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "noattr.h5");
    hid_t file = h5_create(path);
    hsize_t dims3[3] = {4, 3, 2}, label_dims[1] = {4};
    const uint8_t train_labels[4] = {0, 3, 1, 2};
    const int64_t test_labels[4] = {5, 0, 0, 1};
    h5_dataset(file, "/train/images", H5T_NATIVE_UINT8, 3, dims3, h5_pixels);
    h5_dataset(file, "/train/labels", H5T_NATIVE_UINT8, 1, label_dims, train_labels);
    h5_dataset(file, "/test/images", H5T_NATIVE_UINT8, 3, dims3, h5_pixels);
    h5_dataset(file, "/test/labels", H5T_NATIVE_INT64, 1, label_dims, test_labels);
    H5Fclose(file);
    sn_image_set set;
    ck_assert_int_eq(sn_hdf5_image_set_read(path, "train", &set), SN_OK);
    ck_assert_int_eq(set.classes, 6);
    ck_assert_int_eq(set.labels[1], 3);
    sn_image_set_free(&set);
    ck_assert_int_eq(sn_hdf5_image_set_read(path, "test", &set), SN_OK);
    ck_assert_int_eq(set.classes, 6);
    ck_assert_int_eq(set.labels[0], 5);
    sn_image_set_free(&set);
    remove_temp_dir();
}
END_TEST

/* Labels are checked at their true value whatever their type: 2^40 is
 * not reported as 2147483647. */
START_TEST(hdf5_labels_at_their_true_value)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "wide.h5");
    hid_t file = h5_create(path);
    hsize_t dims3[3] = {4, 3, 2}, label_dims[1] = {4};
    const int64_t labels[4] = {0, 1, (int64_t)1 << 40, 1};
    h5_dataset(file, "/train/images", H5T_NATIVE_UINT8, 3, dims3, h5_pixels);
    h5_dataset(file, "/train/labels", H5T_NATIVE_INT64, 1, label_dims, labels);
    H5Fclose(file);
    sn_image_set set;
    ck_assert_int_eq(sn_hdf5_image_set_read(path, "train", &set), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "label 1099511627776 at index 2 is out of range"));
    remove_temp_dir();
}
END_TEST

/* sn_load_datasets: [data] classes wins over the set's count, and the labels
 * of the images used must be below it; a test split of another shape names
 * both shapes. */
START_TEST(load_datasets_declared_classes_and_shapes)
{
    make_temp_dir();
    sn_config config;
    sn_config_defaults(&config);
    snprintf(config.dataset, sizeof config.dataset, "hdf5");
    temp_path(config.path, sizeof config.path, "set.h5");
    sn_image_set train = make_set(20, 1, 8, 8, 3, 1), test = make_set(10, 1, 8, 8, 3, 2);
    ck_assert_int_eq(sn_hdf5_image_set_write(config.path, &train, &test), SN_OK);
    sn_image_set_free(&train);
    sn_image_set_free(&test);
    ck_assert_int_eq(sn_load_datasets(&config, &train, &test), SN_OK);
    ck_assert_int_eq(train.classes, 3); /* the attribute */
    sn_image_set_free(&train);
    sn_image_set_free(&test);
    config.data_classes = 7;
    ck_assert_int_eq(sn_load_datasets(&config, &train, &test), SN_OK);
    ck_assert_int_eq(train.classes, 7);
    ck_assert_int_eq(test.classes, 7);
    sn_image_set_free(&train);
    sn_image_set_free(&test);
    config.data_classes = 1; /* make_set's labels: 1 in the training split, 2 in the test split */
    ck_assert_int_eq(sn_load_datasets(&config, &train, &test), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "/train/labels: label 1 at index 0"));
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "not below the 1 classes of [data] classes"));
    ck_assert_ptr_null(train.labels);
    config.data_classes = 0;

    hid_t file = h5_create(config.path);
    hsize_t dims3[3] = {4, 3, 2}, wider[3] = {4, 3, 3}, label_dims[1] = {4};
    h5_dataset(file, "/train/images", H5T_NATIVE_UINT8, 3, dims3, h5_pixels);
    h5_dataset(file, "/train/labels", H5T_NATIVE_INT32, 1, label_dims, h5_labels);
    h5_dataset(file, "/test/images", H5T_NATIVE_UINT8, 3, wider, h5_pixels);
    h5_dataset(file, "/test/labels", H5T_NATIVE_INT32, 1, label_dims, h5_labels);
    H5Fclose(file);
    ck_assert_int_eq(sn_load_datasets(&config, &train, &test), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "set.h5: /train/images are 1x3x2 but "
                                                     "/test/images are 1x3x3"));
    ck_assert_ptr_null(train.pixels);
    remove_temp_dir();
}
END_TEST

START_TEST(hdf5_not_hdf5_truncated_and_missing)
{
    make_temp_dir();
    char path[512], good[512], missing[512];
    temp_path(path, sizeof path, "text.h5");
    const char *text = "this is not an HDF5 file\n";
    write_file(path, text, strlen(text));
    sn_image_set set;
    ck_assert_int_eq(sn_hdf5_image_set_read(path, "train", &set), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), path));
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "not an HDF5 file"));

    sn_image_set train = make_set(50, 1, 8, 8, 3, 1), test = make_set(20, 1, 8, 8, 3, 2);
    ck_assert_int_eq(sn_hdf5_image_set_write(temp_path(good, sizeof good, "good.h5"), &train, &test),
                     SN_OK);
    size_t size;
    uint8_t *bytes = read_whole(good, &size);
    /* Cut at several places: inside the metadata and inside the raw data. */
    const size_t cuts[] = {size / 2, size - 100, 1000, 3000};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        write_file(path, bytes, cuts[k]);
        for (int s = 0; s < 2; s++) {
            sn_error_clear();
            int rc = sn_hdf5_image_set_read(path, s ? "test" : "train", &set);
            ck_assert_msg(rc == SN_ERR_FORMAT, "cut at %zu: got %d (%s)", cuts[k], rc,
                          sn_error_message());
            ck_assert_ptr_nonnull(strstr(sn_error_message(), path));
        }
    }
    free(bytes);
    ck_assert_int_eq(sn_hdf5_image_set_read(temp_path(missing, sizeof missing, "none.h5"), "train", &set),
                     SN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "No such file"));
    sn_image_set_free(&train);
    sn_image_set_free(&test);
    remove_temp_dir();
}
END_TEST

/* ---- split and order ---------------------------------------------------- */

START_TEST(split_partitions_sorted_and_keyed)
{
    sn_split a, b, c;
    ck_assert_int_eq(sn_split_make(1000, 150, 42, &a), SN_OK);
    ck_assert_int_eq(a.train_count, 850);
    ck_assert_int_eq(a.validation_count, 150);
    uint8_t seen[1000] = {0};
    for (int64_t i = 0; i < a.train_count; i++) {
        ck_assert_uint_lt(a.train[i], 1000);
        if (i)
            ck_assert_uint_gt(a.train[i], a.train[i - 1]);
        seen[a.train[i]]++;
    }
    for (int64_t i = 0; i < a.validation_count; i++) {
        ck_assert_uint_lt(a.validation[i], 1000);
        if (i)
            ck_assert_uint_gt(a.validation[i], a.validation[i - 1]);
        seen[a.validation[i]]++;
    }
    for (int i = 0; i < 1000; i++)
        ck_assert_uint_eq(seen[i], 1); /* disjoint and covering */
    /* Not simply the first or last 150. */
    ck_assert_uint_ne(a.validation[0] + a.validation[149], 0 + 149);
    ck_assert_uint_ne(a.validation[0], 850);

    ck_assert_int_eq(sn_split_make(1000, 150, 42, &b), SN_OK);
    ck_assert_mem_eq(a.validation, b.validation, 150 * sizeof(uint32_t));
    ck_assert_mem_eq(a.train, b.train, 850 * sizeof(uint32_t));
    ck_assert_int_eq(sn_split_make(1000, 150, 43, &c), SN_OK);
    ck_assert_int_ne(memcmp(a.validation, c.validation, 150 * sizeof(uint32_t)), 0);

    /* The validation set is the first 150 of the SN_RNG_SPLIT permutation. */
    uint32_t perm[1000];
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 42, SN_RNG_SPLIT, 0, 0);
    sn_rng_permutation(&stream, perm, 1000);
    uint8_t held[1000] = {0};
    for (int i = 0; i < 150; i++)
        held[perm[i]] = 1;
    for (int64_t i = 0; i < a.validation_count; i++)
        ck_assert(held[a.validation[i]]);
    sn_split_free(&a);
    sn_split_free(&b);
    sn_split_free(&c);
    ck_assert_ptr_null(a.train);

    ck_assert_int_eq(sn_split_make(10, 0, 1, &a), SN_OK);
    ck_assert_int_eq(a.train_count, 10);
    ck_assert_int_eq(a.validation_count, 0);
    sn_split_free(&a);
    ck_assert_int_eq(sn_split_make(10, 10, 1, &a), SN_ERR_ARGUMENT);
    ck_assert_int_eq(sn_split_make(10, -1, 1, &a), SN_ERR_ARGUMENT);
}
END_TEST

START_TEST(epoch_order_is_a_keyed_permutation)
{
    enum { N = 300 };
    uint32_t indices[N], order[N], again[N], next_epoch[N];
    for (int i = 0; i < N; i++)
        indices[i] = 1000 + 2 * i; /* not 0..N-1, so the mapping shows */
    sn_epoch_order(order, indices, N, 7, 3);
    int seen[N] = {0};
    for (int i = 0; i < N; i++) {
        ck_assert_uint_ge(order[i], 1000);
        ck_assert_uint_eq((order[i] - 1000) % 2, 0);
        seen[(order[i] - 1000) / 2]++;
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    sn_epoch_order(again, indices, N, 7, 3);
    ck_assert_mem_eq(order, again, sizeof order);
    sn_epoch_order(next_epoch, indices, N, 7, 4);
    ck_assert_int_ne(memcmp(order, next_epoch, sizeof order), 0);
    sn_epoch_order(again, indices, N, 8, 3);
    ck_assert_int_ne(memcmp(order, again, sizeof order), 0);
    /* order[i] = indices[perm[i]], perm keyed by (seed, SN_RNG_SHUFFLE, epoch). */
    uint32_t perm[N];
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 7, SN_RNG_SHUFFLE, 3, 0);
    sn_rng_permutation(&stream, perm, N);
    for (int i = 0; i < N; i++)
        ck_assert_uint_eq(order[i], indices[perm[i]]);
}
END_TEST

/* ---- normalisation and batches ------------------------------------------ */

START_TEST(normalization_by_hand)
{
    /* Two images, two channels, 1x2 pixels each:
     *   image 0: c0 = {0, 255}, c1 = {51, 51}
     *   image 1: c0 = {255, 255}, c1 = {102, 0}
     * Over images {0, 1}: c0 values 0,1,1,1 -> mean 0.75, var 0.1875;
     * c1 values 0.2,0.2,0.4,0 -> mean 0.2, var 0.02. Image 1 alone:
     * c0 mean 1, var 0 (std reported as 1); c1 mean 0.2, var 0.04. */
    uint8_t pixels[] = {0, 255, 51, 51, 255, 255, 102, 0};
    int32_t labels[] = {0, 1};
    sn_image_set set = {2, 2, 1, 2, 2, pixels, labels};
    const uint32_t both[] = {0, 1}, second[] = {1};
    sn_normalization n;
    ck_assert_int_eq(test_normalization(&set, both, 2, &n), SN_OK);
    ck_assert_int_eq(n.channels, 2);
    /* float rounding of values computed in double: 1e-6 */
    ck_assert_float_eq_tol(n.mean[0], 0.75f, 1e-6f);
    ck_assert_float_eq_tol(n.std[0], (float)sqrt(0.1875), 1e-6f);
    ck_assert_float_eq_tol(n.mean[1], 0.2f, 1e-6f);
    ck_assert_float_eq_tol(n.std[1], (float)sqrt(0.02), 1e-6f);
    ck_assert_int_eq(test_normalization(&set, second, 1, &n), SN_OK);
    ck_assert_float_eq_tol(n.mean[0], 1.0f, 1e-6f);
    ck_assert_float_eq_tol(n.std[0], 1.0f, 1e-6f);
    ck_assert_float_eq_tol(n.mean[1], 0.2f, 1e-6f);
    ck_assert_float_eq_tol(n.std[1], 0.2f, 1e-6f);
    const uint32_t bad[] = {2};
    ck_assert_int_eq(test_normalization(&set, bad, 1, &n), SN_ERR_ARGUMENT);
}
END_TEST

/* A 5x5 image set (2 channels) with distinct, asymmetric pixels. */
enum { BH = 5, BW = 5, BC = 2, BN = 6 };

static sn_image_set batch_set(void)
{
    sn_image_set set = {BN, BC, BH, BW, 3, malloc(BN * BC * BH * BW), malloc(BN * sizeof(int32_t))};
    for (int i = 0; i < BN * BC * BH * BW; i++)
        set.pixels[i] = (uint8_t)(1 + (i * 13) % 250); /* never 0: padding shows as 0 */
    for (int i = 0; i < BN; i++)
        set.labels[i] = i % 3;
    return set;
}

static const sn_normalization batch_norm = {BC, {0.3f, 0.6f, 0, 0}, {0.2f, 0.25f, 1, 1}};

static float normalised(int c, int pixel)
{
    return ((float)pixel / 255.0f - batch_norm.mean[c]) / batch_norm.std[c];
}

/* Pixel (c, y, x) of image n, or 0 outside the image. */
static int source_pixel(const sn_image_set *set, int n, int c, int y, int x)
{
    if (y < 0 || y >= BH || x < 0 || x >= BW)
        return 0;
    return set->pixels[((n * BC + c) * BH + y) * BW + x];
}

START_TEST(batch_without_augmentation_is_exact)
{
    sn_image_set set = batch_set();
    const uint32_t samples[3] = {4, 0, 2};
    float out[3 * BC * BH * BW];
    int32_t labels[3];
    test_batch_fill(out, labels, &set, samples, 3, &batch_norm, NULL, 1, 0, SN_LAYOUT_SAMPLE_MAJOR);
    for (int b = 0; b < 3; b++) {
        ck_assert_int_eq(labels[b], set.labels[samples[b]]);
        for (int c = 0; c < BC; c++)
            for (int y = 0; y < BH; y++)
                for (int x = 0; x < BW; x++)
                    /* the same float expression: exact up to 1 ulp-ish rounding */
                    ck_assert_float_eq_tol(out[((b * BC + c) * BH + y) * BW + x],
                                           normalised(c, source_pixel(&set, (int)samples[b], c, y, x)),
                                           1e-6f);
    }
    /* An augmentation that does nothing is no augmentation. */
    const test_augmentation none = {0, 0};
    float same[3 * BC * BH * BW];
    test_batch_fill(same, labels, &set, samples, 3, &batch_norm, &none, 1, 0, SN_LAYOUT_SAMPLE_MAJOR);
    ck_assert_mem_eq(out, same, sizeof out);
    sn_image_set_free(&set);
}
END_TEST

START_TEST(batch_layouts_are_transposes)
{
    sn_image_set set = batch_set();
    const uint32_t samples[4] = {5, 1, 3, 1};
    const test_augmentation aug = {2, 1};
    float nchw[4 * BC * BH * BW], cnhw[4 * BC * BH * BW];
    int32_t labels[4];
    test_batch_fill(nchw, labels, &set, samples, 4, &batch_norm, &aug, 9, 2, SN_LAYOUT_SAMPLE_MAJOR);
    test_batch_fill(cnhw, labels, &set, samples, 4, &batch_norm, &aug, 9, 2, SN_LAYOUT_CHANNEL_MAJOR);
    for (int b = 0; b < 4; b++)
        for (int c = 0; c < BC; c++)
            for (int p = 0; p < BH * BW; p++)
                ck_assert_float_eq(nchw[(b * BC + c) * BH * BW + p], cnhw[(c * 4 + b) * BH * BW + p]);
    sn_image_set_free(&set);
}
END_TEST

/* The draw the library makes for a sample, reproduced from its documented
 * key and order: dy, dx = below(2 pad + 1) - pad, then flip = top bit. */
static void reproduce_draw(uint64_t seed, uint64_t epoch, uint32_t sample, int pad, int flip_on,
                           int *dy, int *dx, int *flip)
{
    sn_rng_stream s;
    sn_rng_stream_init(&s, seed, SN_RNG_AUGMENT, epoch, sample);
    *dy = *dx = *flip = 0;
    if (pad > 0) {
        *dy = (int)sn_rng_below(&s, (uint32_t)(2 * pad + 1)) - pad;
        *dx = (int)sn_rng_below(&s, (uint32_t)(2 * pad + 1)) - pad;
    }
    if (flip_on)
        *flip = (int)(sn_rng_next_u32(&s) >> 31);
}

/* Checks a filled sample against crop-then-flip of the source. */
static void check_augmented(const float *out, const sn_image_set *set, int n, int dy, int dx, int flip)
{
    for (int c = 0; c < BC; c++)
        for (int y = 0; y < BH; y++)
            for (int x = 0; x < BW; x++) {
                int sx = flip ? BW - 1 - x + dx : x + dx;
                ck_assert_float_eq_tol(out[(c * BH + y) * BW + x],
                                       normalised(c, source_pixel(set, n, c, y + dy, sx)), 1e-6f);
            }
}

START_TEST(batch_crop_shifts_content)
{
    sn_image_set set = batch_set();
    const test_augmentation aug = {2, 0};
    /* Find an epoch whose draw for sample 3 shifts both ways, so the check
     * covers padding on two sides. */
    int dy = 0, dx = 0, flip = 0;
    uint64_t epoch = 0;
    for (; epoch < 100; epoch++) {
        reproduce_draw(11, epoch, 3, 2, 0, &dy, &dx, &flip);
        if (dy != 0 && dx != 0)
            break;
    }
    ck_assert_uint_lt(epoch, 100);
    const uint32_t sample = 3;
    float out[BC * BH * BW];
    int32_t label;
    test_batch_fill(out, &label, &set, &sample, 1, &batch_norm, &aug, 11, epoch, SN_LAYOUT_SAMPLE_MAJOR);
    check_augmented(out, &set, 3, dy, dx, 0);
    /* Padding is the normalised value of a 0 pixel. */
    int py = dy > 0 ? BH - 1 : 0, px = dx > 0 ? BW - 1 : 0;
    ck_assert_float_eq_tol(out[py * BW + px], normalised(0, 0), 1e-6f);
    /* Over many epochs every shift in [-2, 2] occurs and none outside. */
    int seen[5][5] = {{0}};
    for (uint64_t e = 0; e < 400; e++) {
        reproduce_draw(11, e, 3, 2, 0, &dy, &dx, &flip);
        ck_assert(dy >= -2 && dy <= 2 && dx >= -2 && dx <= 2);
        seen[dy + 2][dx + 2] = 1;
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            ck_assert(seen[i][j]);
    /* Padding wider than the image: some shifts leave only zeros. */
    const test_augmentation wide = {7, 1};
    for (uint64_t e = 0; e < 50; e++) {
        reproduce_draw(5, e, 2, 7, 1, &dy, &dx, &flip);
        const uint32_t s2 = 2;
        test_batch_fill(out, &label, &set, &s2, 1, &batch_norm, &wide, 5, e, SN_LAYOUT_SAMPLE_MAJOR);
        check_augmented(out, &set, 2, dy, dx, flip);
    }
    sn_image_set_free(&set);
}
END_TEST

START_TEST(batch_flip_mirrors_half_the_time)
{
    sn_image_set set = batch_set();
    const test_augmentation aug = {0, 1};
    int flipped = 0;
    for (uint64_t epoch = 0; epoch < 400; epoch++) {
        int dy, dx, flip;
        reproduce_draw(3, epoch, 1, 0, 1, &dy, &dx, &flip);
        const uint32_t sample = 1;
        float out[BC * BH * BW];
        int32_t label;
        test_batch_fill(out, &label, &set, &sample, 1, &batch_norm, &aug, 3, epoch,
                      SN_LAYOUT_SAMPLE_MAJOR);
        /* The image is asymmetric, so the output tells flipped from not. */
        int mirrored = out[0] == normalised(0, source_pixel(&set, 1, 0, 0, BW - 1));
        ck_assert_int_eq(mirrored, flip);
        check_augmented(out, &set, 1, 0, 0, flip);
        flipped += flip;
    }
    /* Binomial(400, 1/2): sd 10, so [140, 260] is a 6-sigma band. */
    ck_assert_int_ge(flipped, 140);
    ck_assert_int_le(flipped, 260);
    sn_image_set_free(&set);
}
END_TEST

START_TEST(batch_augmentation_independent_of_position)
{
    sn_image_set set = batch_set();
    const test_augmentation aug = {2, 1};
    const uint32_t first[3] = {0, 4, 5}, second[2] = {5, 0};
    float a[3 * BC * BH * BW], b[2 * BC * BH * BW];
    int32_t la[3], lb[2];
    test_batch_fill(a, la, &set, first, 3, &batch_norm, &aug, 21, 6, SN_LAYOUT_SAMPLE_MAJOR);
    test_batch_fill(b, lb, &set, second, 2, &batch_norm, &aug, 21, 6, SN_LAYOUT_SAMPLE_MAJOR);
    const size_t image = BC * BH * BW;
    ck_assert_mem_eq(a + 2 * image, b, image * sizeof(float));     /* sample 5 */
    ck_assert_mem_eq(a, b + image, image * sizeof(float));         /* sample 0 */
    ck_assert_int_eq(la[2], lb[0]);
    /* Another epoch gives another augmentation for at least one sample. */
    float c[3 * BC * BH * BW];
    test_batch_fill(c, la, &set, first, 3, &batch_norm, &aug, 21, 7, SN_LAYOUT_SAMPLE_MAJOR);
    ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
    sn_image_set_free(&set);
}
END_TEST

/* ---- fuzz regressions ----------------------------------------------------- */

typedef int (*replay_fn)(const char *path, const uint8_t *bytes, size_t size);

/* Runs `replay` on every file of tests/fuzz/<kind>/<reader>; returns the count. */
static int replay_directory(const char *kind, const char *reader, replay_fn replay)
{
    char directory[1024];
    snprintf(directory, sizeof directory, "%s/tests/fuzz/%s/%s", TEST_SOURCE_DIR, kind, reader);
    DIR *dir = opendir(directory);
    if (!dir) {
        printf("note: %s is absent; nothing replayed\n", directory);
        fflush(stdout);
        return 0;
    }
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", directory, entry->d_name);
        size_t size;
        uint8_t *bytes = read_whole(path, &size);
        ck_assert_msg(replay(path, bytes, size), "replay failed for %s", path);
        free(bytes);
        count++;
    }
    closedir(dir);
    return count;
}

/* What the IDX fuzzer does with an input: decode the bytes; if they are
 * gzip, also read the file through the gunzip path and decode the result.
 * Returns the decoder's code for the bytes as they would be used (after
 * gunzip when gzip). */
static int idx_replay(const char *path, const uint8_t *bytes, size_t size)
{
    sn_idx_array array;
    int rc = sn_idx_decode(bytes, size, path, &array);
    sn_idx_array_free(&array);
    if (rc < 0 && strstr(sn_error_message(), path) == NULL)
        return -100; /* a failure that does not name the file */
    if (size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
        uint8_t *inflated;
        size_t inflated_size;
        rc = sn_read_file_maybe_gzip(path, (size_t)64 << 20, &inflated, &inflated_size);
        if (rc == SN_OK) {
            rc = sn_idx_decode(inflated, inflated_size, path, &array);
            sn_idx_array_free(&array);
            free(inflated);
        }
        if (rc < 0 && strstr(sn_error_message(), path) == NULL)
            return -100;
    }
    return rc;
}

/* A regression must come back as a clean error (or a valid file, for
 * inputs that once exhausted time or memory), never as a crash. */
static int idx_rejects(const char *path, const uint8_t *bytes, size_t size)
{
    return idx_replay(path, bytes, size) != -100;
}

static int idx_accepts(const char *path, const uint8_t *bytes, size_t size)
{
    return idx_replay(path, bytes, size) == SN_OK;
}

/* Under AddressSanitizer, inputs that hit bugs inside libhdf5 itself
 * (named libhdf5-*, see doc/fuzzing.md) abort the process in HDF5's own code
 * or leak there; they are replayed in plain builds only, where HDF5 returns
 * an error for them. */
#if defined(__SANITIZE_ADDRESS__)
#define BUILT_WITH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUILT_WITH_ASAN 1
#endif
#endif
#ifndef BUILT_WITH_ASAN
#define BUILT_WITH_ASAN 0
#endif

static int hdf5_replay(const char *path, int expect_ok)
{
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (BUILT_WITH_ASAN && strncmp(name, "libhdf5-", 8) == 0) {
        printf("note: %s not replayed under AddressSanitizer (a bug inside libhdf5)\n", name);
        fflush(stdout);
        return 1;
    }
    int ok = 1;
    for (int s = 0; s < 2; s++) {
        sn_image_set set;
        sn_error_clear();
        int rc = sn_hdf5_image_set_read(path, s ? "test" : "train", &set);
        if (expect_ok)
            ok &= rc == SN_OK;
        else
            ok &= rc < 0 && strstr(sn_error_message(), path) != NULL;
        if (!ok)
            printf("%s (%s): %d %s\n", path, s ? "test" : "train", rc, sn_error_message());
        sn_image_set_free(&set);
    }
    return ok;
}

/* Every HDF5 crasher kept so far is a malformed file: both splits must come
 * back as errors naming the file. */
static int hdf5_rejects(const char *path, const uint8_t *bytes, size_t size)
{
    (void)bytes;
    (void)size;
    return hdf5_replay(path, 0);
}

static int hdf5_accepts(const char *path, const uint8_t *bytes, size_t size)
{
    (void)bytes;
    (void)size;
    return hdf5_replay(path, 1);
}

START_TEST(fuzz_corpus_and_regressions_replay)
{
    int corpus = replay_directory("corpus", "idx", idx_accepts);
    corpus += replay_directory("corpus", "hdf5", hdf5_accepts);
    int regressions = replay_directory("regressions", "idx", idx_rejects);
    regressions += replay_directory("regressions", "hdf5", hdf5_rejects);
    printf("note: visited %d corpus files and %d fuzz regressions\n", corpus, regressions);
    fflush(stdout);
    ck_assert_int_gt(corpus, 0);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("data");
    TCase *idx = tcase_create("idx");
    tcase_add_test(idx, idx_decodes_raw_and_gzip_files);
    tcase_add_test(idx, gzip_members_and_size_bound);
    tcase_add_test(idx, idx_bad_magic);
    tcase_add_test(idx, idx_wrong_type_byte);
    tcase_add_test(idx, idx_dimension_count_0_and_5);
    tcase_add_test(idx, idx_zero_dimension);
    tcase_add_test(idx, idx_truncated_header);
    tcase_add_test(idx, idx_truncated_data);
    tcase_add_test(idx, idx_trailing_bytes);
    tcase_add_test(idx, idx_corrupt_and_truncated_gzip);
    tcase_add_test(idx, idx_images_must_be_3d_labels_1d);
    tcase_add_test(idx, idx_label_count_mismatch);
    tcase_add_test(idx, idx_missing_file);
    tcase_add_test(idx, idx_directory_accepts_raw_and_gz_names);
    tcase_add_test(idx, idx_directory_labels_against_declared_classes);
    suite_add_tcase(suite, idx);
    TCase *real = tcase_create("fashion_mnist");
    tcase_set_timeout(real, 60); /* 30 MB of gzip; slower under sanitizers */
    tcase_add_test(real, idx_loads_fashion_mnist);
    suite_add_tcase(suite, real);
    TCase *hdf5 = tcase_create("hdf5");
    tcase_set_timeout(hdf5, 20);
    tcase_add_test(hdf5, hdf5_round_trip_one_channel);
    tcase_add_test(hdf5, hdf5_round_trip_three_channels);
    tcase_add_test(hdf5, hdf5_good_hand_built_file);
    tcase_add_test(hdf5, hdf5_missing_dataset);
    tcase_add_test(hdf5, hdf5_images_wrong_type);
    tcase_add_test(hdf5, hdf5_images_wrong_rank_or_channels);
    tcase_add_test(hdf5, hdf5_label_count_mismatch);
    tcase_add_test(hdf5, hdf5_label_out_of_range);
    tcase_add_test(hdf5, hdf5_classes_attribute_too_small);
    tcase_add_test(hdf5, hdf5_forged_sizes_refused);
    tcase_add_test(hdf5, hdf5_default_classes_over_both_splits);
    tcase_add_test(hdf5, hdf5_not_hdf5_truncated_and_missing);
    tcase_add_test(hdf5, hdf5_labels_at_their_true_value);
    tcase_add_test(hdf5, load_datasets_declared_classes_and_shapes);
    suite_add_tcase(suite, hdf5);
    TCase *order = tcase_create("split_order");
    tcase_add_test(order, split_partitions_sorted_and_keyed);
    tcase_add_test(order, epoch_order_is_a_keyed_permutation);
    suite_add_tcase(suite, order);
    TCase *batch = tcase_create("batch");
    tcase_add_test(batch, normalization_by_hand);
    tcase_add_test(batch, batch_without_augmentation_is_exact);
    tcase_add_test(batch, batch_layouts_are_transposes);
    tcase_add_test(batch, batch_crop_shifts_content);
    tcase_add_test(batch, batch_flip_mirrors_half_the_time);
    tcase_add_test(batch, batch_augmentation_independent_of_position);
    suite_add_tcase(suite, batch);
    TCase *fuzz = tcase_create("fuzz_regressions");
    tcase_set_timeout(fuzz, 30);
    tcase_add_test(fuzz, fuzz_corpus_and_regressions_replay);
    suite_add_tcase(suite, fuzz);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
