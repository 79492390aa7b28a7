/*
 * Image sources, the input pipeline and the prefetcher (shiftnas/input.h).
 *
 * The central checks: a streamed HDF5 source gives the same batches, bit for
 * bit, as the same images held in memory, for 1, 3 and 4 channels, sizes
 * other than 28x28, non-square images, contiguous and chunked datasets,
 * every crop mode and both layouts, whatever the staging size; and the
 * prefetcher's thread gives what a direct fill gives, reports a failed read
 * with its message, and shares HDF5 safely with a writer on the main thread.
 */
#include <check.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shiftnas/data.h"
#include "shiftnas/error.h"
#include "shiftnas/input.h"
#include "shiftnas/rng.h"
#include "image_batches.h"

static char temp_dir[256];

static void make_temp_dir(void)
{
    if (temp_dir[0])
        return;
    snprintf(temp_dir, sizeof temp_dir, "%s/shiftnas-input-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(temp_dir));
}

/* A set of `count` images [C, H, W] with keyed random pixels. */
static sn_image_set random_set(int64_t count, int channels, int height, int width, int classes,
                               uint32_t key)
{
    sn_image_set set = {count, channels, height, width, classes, NULL, NULL};
    size_t bytes = (size_t)(count * channels * height * width);
    set.pixels = malloc(bytes);
    set.labels = malloc(sizeof(int32_t) * (size_t)count);
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 5, SN_RNG_TEST, key, 0);
    for (size_t i = 0; i < bytes; i++)
        set.pixels[i] = (uint8_t)sn_rng_below(&stream, 256);
    for (int64_t i = 0; i < count; i++)
        set.labels[i] = (int32_t)sn_rng_below(&stream, (uint32_t)classes);
    return set;
}

/* Writes train (and the same as test) to path: contiguous through the
 * library's writer, or chunked one image per chunk (as `data convert`). */
static void write_set(const char *path, const sn_image_set *set, int chunked)
{
    unlink(path);
    if (!chunked) {
        ck_assert_int_eq(sn_hdf5_image_set_write(path, set, set), SN_OK);
        return;
    }
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(file >= 0);
    const int C = set->channels, H = set->height, W = set->width;
    const int64_t plane = (int64_t)H * W;
    uint8_t *interleaved = malloc((size_t)(set->count * C * plane));
    for (int64_t n = 0; n < set->count; n++)
        for (int c = 0; c < C; c++)
            for (int64_t p = 0; p < plane; p++)
                interleaved[(n * plane + p) * C + c] = set->pixels[(n * C + c) * plane + p];
    const char *splits[2] = {"/train", "/test"};
    for (int s = 0; s < 2; s++) {
        hid_t group = H5Gcreate2(file, splits[s], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dims[4] = {(hsize_t)set->count, (hsize_t)H, (hsize_t)W, (hsize_t)C};
        hsize_t chunk[4] = {1, (hsize_t)H, (hsize_t)W, (hsize_t)C};
        hid_t create = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(create, 4, chunk);
        hid_t space = H5Screate_simple(4, dims, NULL);
        hid_t images = H5Dcreate2(group, "images", H5T_STD_U8LE, space, H5P_DEFAULT, create,
                                  H5P_DEFAULT);
        ck_assert(H5Dwrite(images, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, interleaved) >= 0);
        hid_t label_space = H5Screate_simple(1, dims, NULL);
        hid_t labels = H5Dcreate2(group, "labels", H5T_STD_I32LE, label_space, H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT);
        ck_assert(H5Dwrite(labels, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, set->labels) >= 0);
        H5Dclose(labels);
        H5Sclose(label_space);
        H5Dclose(images);
        H5Sclose(space);
        H5Pclose(create);
        H5Gclose(group);
    }
    free(interleaved);
    ck_assert(H5Fclose(file) >= 0);
}

/* The pipelines every comparison runs through. */
static void pipelines(sn_input_pipeline p[4], const sn_normalization *norm, int side)
{
    test_augmentation pad = {3, 1};
    test_pipeline(&p[0], norm, &pad);             /* pad crop + flip, stored size */
    test_pipeline(&p[1], norm, NULL);             /* no augmentation */
    test_pipeline(&p[2], norm, &pad);             /* random-resized to a square side */
    p[2].train_crop = SN_TRAIN_CROP_RANDOM_RESIZED;
    p[2].input_size = side;
    test_pipeline(&p[3], norm, NULL);             /* centre crop for evaluation */
    p[3].train_crop = SN_TRAIN_CROP_RANDOM_RESIZED;
    p[3].input_size = side;
    p[3].eval_crop_fraction = 0.875;
}

/* Fills `count` samples in blocks through `source`; returns a new buffer. */
static float *fill(sn_image_source *source, const sn_input_pipeline *p, const uint32_t *samples,
                   int64_t count, const int64_t *blocks, int block_count, int training,
                   sn_batch_layout layout, int channels, int height, int width, int32_t *labels)
{
    int side_h = p->input_size ? p->input_size : height, side_w = p->input_size ? p->input_size : width;
    float *images = malloc(sizeof(float) * (size_t)(count * channels * side_h * side_w));
    sn_batch_request request = {samples, count, blocks, block_count, training, 17, 3, layout,
                                images, labels};
    ck_assert_msg(sn_image_source_fill(source, &request) == SN_OK, "%s", sn_error_message());
    return images;
}

static void check_stream_equals_memory(int channels, int height, int width, int chunked,
                                       int64_t staging)
{
    make_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/set-%d-%dx%d-%d.h5", temp_dir, channels, height, width, chunked);
    sn_image_set set = random_set(23, channels, height, width, 5, (uint32_t)(channels * 100 + height));
    write_set(path, &set, chunked);
    sn_normalization norm = {channels, {0.5f, 0.4f, 0.3f, 0.6f}, {0.2f, 0.3f, 0.25f, 0.22f}};
    sn_input_pipeline p[4];
    pipelines(p, &norm, 9);
    /* shuffled with a run of consecutive indices and a repeat, three blocks */
    const uint32_t samples[12] = {7, 3, 4, 5, 6, 22, 0, 19, 3, 11, 12, 1};
    const int64_t blocks[3] = {5, 4, 3};
    for (int k = 0; k < 4; k++) {
        sn_image_source *memory = NULL, *streamed = NULL;
        ck_assert_int_eq(sn_image_source_from_set(&memory, &set, &p[k]), SN_OK);
        ck_assert_msg(sn_image_source_open_stream(&streamed, path, "train", 0, staging, &p[k]) == SN_OK,
                      "%s", sn_error_message());
        ck_assert(sn_image_source_is_streamed(streamed));
        sn_image_source_shape s = sn_image_source_shape_of(streamed);
        ck_assert_int_eq(s.count, 23);
        ck_assert_int_eq(s.channels, channels);
        ck_assert_int_eq(s.height, height);
        ck_assert_int_eq(s.width, width);
        for (int layout = 0; layout < 2; layout++) {
            int training = k != 3;
            int32_t la[12], lb[12];
            float *a = fill(memory, &p[k], samples, 12, blocks, 3, training, (sn_batch_layout)layout,
                            channels, height, width, la);
            float *b = fill(streamed, &p[k], samples, 12, blocks, 3, training, (sn_batch_layout)layout,
                            channels, height, width, lb);
            int side_h = p[k].input_size ? p[k].input_size : height;
            int side_w = p[k].input_size ? p[k].input_size : width;
            ck_assert_msg(memcmp(a, b, sizeof(float) * (size_t)(12 * channels * side_h * side_w)) == 0,
                          "%d channel(s) %dx%d %s, pipeline %d, layout %d, staging %lld: streamed "
                          "batch differs from the same images in memory",
                          channels, height, width, chunked ? "chunked" : "contiguous", k, layout,
                          (long long)staging);
            ck_assert(memcmp(la, lb, sizeof la) == 0);
            for (int i = 0; i < 12; i++)
                ck_assert_int_eq(la[i], set.labels[samples[i]]);
            free(a);
            free(b);
        }
        sn_normalization from_memory, from_stream;
        const uint32_t all[6] = {0, 1, 2, 9, 10, 22};
        ck_assert_int_eq(sn_image_source_normalization(memory, all, 6, &from_memory), SN_OK);
        ck_assert_int_eq(sn_image_source_normalization(streamed, all, 6, &from_stream), SN_OK);
        ck_assert(memcmp(&from_memory, &from_stream, sizeof from_memory) == 0);
        sn_image_source_free(memory);
        sn_image_source_free(streamed);
    }
    sn_image_set_free(&set);
}

START_TEST(streamed_batches_equal_batches_in_memory)
{
    const int channels[3] = {1, 3, 4};
    for (int i = 0; i < 3; i++) {
        check_stream_equals_memory(channels[i], 13, 17, 0, 64);
        check_stream_equals_memory(channels[i], 12, 12, 1, 64);
        check_stream_equals_memory(channels[i], 13, 17, 1, 2); /* pieces of 2 images */
    }
}
END_TEST

/* The blocks of a request are laid out each on its own: block k of a
 * channel-major request equals the same samples filled as one batch. */
START_TEST(blocks_are_batches_of_their_own)
{
    sn_image_set set = random_set(10, 3, 6, 7, 4, 9);
    sn_normalization norm = {3, {0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}};
    sn_input_pipeline p[4];
    pipelines(p, &norm, 5);
    sn_image_source *source = NULL;
    ck_assert_int_eq(sn_image_source_from_set(&source, &set, &p[0]), SN_OK);
    const uint32_t samples[7] = {9, 1, 4, 4, 0, 8, 2};
    const int64_t blocks[2] = {4, 3};
    float *whole = fill(source, &p[0], samples, 7, blocks, 2, 1, SN_LAYOUT_CHANNEL_MAJOR, 3, 6, 7, NULL);
    float *first = fill(source, &p[0], samples, 4, NULL, 1, 1, SN_LAYOUT_CHANNEL_MAJOR, 3, 6, 7, NULL);
    float *second = fill(source, &p[0], samples + 4, 3, NULL, 1, 1, SN_LAYOUT_CHANNEL_MAJOR, 3, 6, 7, NULL);
    ck_assert(memcmp(whole, first, sizeof(float) * 4 * 3 * 42) == 0);
    ck_assert(memcmp(whole + 4 * 3 * 42, second, sizeof(float) * 3 * 3 * 42) == 0);
    /* and one block over all seven is not the same thing with 3 channels */
    float *one = fill(source, &p[0], samples, 7, NULL, 1, 1, SN_LAYOUT_CHANNEL_MAJOR, 3, 6, 7, NULL);
    ck_assert(memcmp(whole, one, sizeof(float) * 7 * 3 * 42) != 0);
    free(whole);
    free(first);
    free(second);
    free(one);
    sn_image_source_free(source);
    sn_image_set_free(&set);
}
END_TEST

/* The evaluation crop of a stored size equal to the input and fraction 1
 * is the image itself; the random-resized crop produces the input size. */
START_TEST(evaluation_of_the_stored_size_is_the_image)
{
    sn_image_set set = random_set(3, 2, 8, 8, 2, 4);
    sn_normalization norm = {2, {0.1f, 0.2f}, {0.5f, 0.4f}};
    sn_input_pipeline p;
    test_pipeline(&p, &norm, NULL);
    sn_image_source *source = NULL;
    ck_assert_int_eq(sn_image_source_from_set(&source, &set, &p), SN_OK);
    const uint32_t samples[3] = {2, 0, 1};
    float *out = fill(source, &p, samples, 3, NULL, 1, 0, SN_LAYOUT_SAMPLE_MAJOR, 2, 8, 8, NULL);
    for (int b = 0; b < 3; b++)
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 64; i++)
                ck_assert(out[(b * 2 + c) * 64 + i] ==
                          p.table[c][set.pixels[((int)samples[b] * 2 + c) * 64 + i]]);
    free(out);
    sn_image_source_free(source);
    sn_image_set_free(&set);
}
END_TEST

/* A streamed split refuses an image it does not hold, naming the file. */
START_TEST(streamed_source_refuses_an_index_outside_it)
{
    make_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/small.h5", temp_dir);
    sn_image_set set = random_set(5, 1, 4, 4, 2, 1);
    write_set(path, &set, 1);
    sn_input_pipeline p;
    test_pipeline(&p, NULL, NULL);
    sn_image_source *source = NULL;
    ck_assert_int_eq(sn_image_source_open_stream(&source, path, "train", 3, 4, &p), SN_OK);
    ck_assert_int_eq(sn_image_source_shape_of(source).count, 3); /* the limit */
    const uint32_t bad[2] = {1, 3};
    float out[2 * 16];
    ck_assert_int_eq(sn_image_source_fill_plain(source, out, NULL, bad, 2, SN_LAYOUT_SAMPLE_MAJOR),
                     SN_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), path));
    sn_image_source_free(source);
    ck_assert_int_eq(sn_image_source_open_stream(&source, path, "validation", 0, 4, &p),
                     SN_ERR_ARGUMENT);
    ck_assert_int_eq(sn_image_source_open_stream(&source, "/nonexistent/x.h5", "train", 0, 4, &p),
                     SN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "/nonexistent/x.h5"));
    sn_image_set_free(&set);
}
END_TEST

/* Images that vanish under an open stream (the file truncated mid-run:
 * HDF5 would read zeros past its end) are a one-line error naming the
 * file, not black images and not a crash. */
START_TEST(a_file_truncated_under_a_stream_is_an_error)
{
    make_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/truncated.h5", temp_dir);
    sn_image_set set = random_set(400, 3, 16, 16, 2, 2);
    write_set(path, &set, 0);
    sn_input_pipeline p;
    test_pipeline(&p, NULL, NULL);
    sn_image_source *source = NULL;
    ck_assert_int_eq(sn_image_source_open_stream(&source, path, "train", 0, 8, &p), SN_OK);
    ck_assert_int_eq(truncate(path, 4096), 0);
    const uint32_t last[2] = {398, 399};
    float out[2 * 3 * 256];
    int status = sn_image_source_fill_plain(source, out, NULL, last, 2, SN_LAYOUT_SAMPLE_MAJOR);
    ck_assert_int_eq(status, SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), path));
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "changed size"));
    ck_assert_ptr_null(strchr(sn_error_message(), '\n'));
    sn_image_source_free(source);
    sn_image_set_free(&set);
}
END_TEST

/* The prefetcher's fill is the direct fill; a failed one reports on the
 * waiting thread with its message, and the next request still works. */
START_TEST(prefetcher_fills_as_a_direct_fill_and_reports_failures)
{
    sn_image_set set = random_set(12, 3, 5, 5, 3, 8);
    sn_input_pipeline p;
    test_augmentation pad = {1, 1};
    test_pipeline(&p, NULL, &pad);
    sn_image_source *source = NULL, *direct = NULL;
    ck_assert_int_eq(sn_image_source_from_set(&source, &set, &p), SN_OK);
    ck_assert_int_eq(sn_image_source_from_set(&direct, &set, &p), SN_OK);
    sn_prefetcher *prefetcher = NULL;
    ck_assert_int_eq(sn_prefetcher_start(&prefetcher, source), SN_OK);
    double waited = 0;
    ck_assert_int_eq(sn_prefetcher_wait(prefetcher, &waited), SN_OK); /* nothing submitted */
    const uint32_t samples[6] = {11, 2, 5, 5, 0, 7};
    float a[6 * 75], b[6 * 75];
    int32_t la[6], lb[6];
    for (int epoch = 0; epoch < 3; epoch++) {
        sn_batch_request r = {samples, 6, NULL, 1, 1, 4, (uint64_t)epoch, SN_LAYOUT_CHANNEL_MAJOR,
                              a, la};
        sn_prefetcher_submit(prefetcher, &r);
        ck_assert_int_eq(sn_prefetcher_wait(prefetcher, &waited), SN_OK);
        r.images = b;
        r.labels = lb;
        ck_assert_int_eq(sn_image_source_fill(direct, &r), SN_OK);
        ck_assert(memcmp(a, b, sizeof a) == 0);
        ck_assert(memcmp(la, lb, sizeof la) == 0);
    }
    const uint32_t bad[1] = {12};
    sn_batch_request r = {bad, 1, NULL, 1, 1, 4, 0, SN_LAYOUT_CHANNEL_MAJOR, a, la};
    sn_prefetcher_submit(prefetcher, &r);
    sn_error_set(SN_OK, "(no message)");
    ck_assert_int_eq(sn_prefetcher_wait(prefetcher, &waited), SN_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "image 12 requested"));
    r.samples = samples;
    sn_prefetcher_submit(prefetcher, &r);
    ck_assert_int_eq(sn_prefetcher_wait(prefetcher, &waited), SN_OK);
    ck_assert(waited >= 0);
    sn_prefetcher_stop(prefetcher);
    sn_image_source_free(source);
    sn_image_source_free(direct);
    sn_image_set_free(&set);
}
END_TEST

/* Debian's HDF5 is not thread-safe: the prefetcher streams a file while
 * this thread writes and reads other HDF5 files through the library; with
 * the lock every batch is right and nothing crashes (run it under the
 * sanitizers to see a race). */
START_TEST(prefetching_beside_hdf5_writers_is_safe)
{
    make_temp_dir();
    char path[512], other[512];
    snprintf(path, sizeof path, "%s/stream.h5", temp_dir);
    snprintf(other, sizeof other, "%s/other.h5", temp_dir);
    sn_image_set set = random_set(64, 3, 16, 16, 4, 6);
    write_set(path, &set, 1);
    sn_image_set small = random_set(8, 1, 4, 4, 2, 7);
    sn_input_pipeline p;
    test_pipeline(&p, NULL, NULL);
    sn_image_source *streamed = NULL, *memory = NULL;
    ck_assert_int_eq(sn_image_source_open_stream(&streamed, path, "train", 0, 4, &p), SN_OK);
    ck_assert_int_eq(sn_image_source_from_set(&memory, &set, &p), SN_OK);
    sn_prefetcher *prefetcher = NULL;
    ck_assert_int_eq(sn_prefetcher_start(&prefetcher, streamed), SN_OK);
    uint32_t samples[32];
    float *a = malloc(sizeof(float) * 32 * 3 * 256), *b = malloc(sizeof(float) * 32 * 3 * 256);
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 32; i++)
            samples[i] = (uint32_t)((i * 29 + round * 7) % 64);
        sn_batch_request r = {samples, 32, NULL, 1, 0, 0, 0, SN_LAYOUT_SAMPLE_MAJOR, a, NULL};
        sn_prefetcher_submit(prefetcher, &r);
        unlink(other);
        ck_assert_int_eq(sn_hdf5_image_set_write(other, &small, &small), SN_OK);
        sn_image_set back;
        ck_assert_int_eq(sn_hdf5_image_set_read(other, "test", &back), SN_OK);
        ck_assert(memcmp(back.pixels, small.pixels, 8 * 16) == 0);
        sn_image_set_free(&back);
        ck_assert_int_eq(sn_prefetcher_wait(prefetcher, NULL), SN_OK);
        r.images = b;
        ck_assert_int_eq(sn_image_source_fill(memory, &r), SN_OK);
        ck_assert(memcmp(a, b, sizeof(float) * 32 * 3 * 256) == 0);
    }
    sn_prefetcher_stop(prefetcher);
    free(a);
    free(b);
    sn_image_source_free(streamed);
    sn_image_source_free(memory);
    sn_image_set_free(&set);
    sn_image_set_free(&small);
}
END_TEST

static Suite *input_suite(void)
{
    Suite *s = suite_create("input");
    TCase *tc = tcase_create("input");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, streamed_batches_equal_batches_in_memory);
    tcase_add_test(tc, blocks_are_batches_of_their_own);
    tcase_add_test(tc, evaluation_of_the_stored_size_is_the_image);
    tcase_add_test(tc, streamed_source_refuses_an_index_outside_it);
    tcase_add_test(tc, a_file_truncated_under_a_stream_is_an_error);
    tcase_add_test(tc, prefetcher_fills_as_a_direct_fill_and_reports_failures);
    tcase_add_test(tc, prefetching_beside_hdf5_writers_is_safe);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(input_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    if (temp_dir[0]) {
        char command[300];
        snprintf(command, sizeof command, "rm -rf '%s'", temp_dir);
        if (system(command) != 0)
            fprintf(stderr, "could not remove %s\n", temp_dir);
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
