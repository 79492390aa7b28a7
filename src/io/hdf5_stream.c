/*
 * A streamed split of an HDF5 image set: the file stays open, the labels are
 * read once, and each request reads only the images it names.
 *
 * A request is cut into runs of consecutive indices, one hyperslab read
 * each: a shuffled training batch is one small read per image, an
 * evaluation chunk (consecutive indices) one read for the whole chunk. On a
 * chunked dataset HDF5 reads whole chunks, so one image per chunk (what
 * `shiftnas data convert` writes) reads nothing twice; larger chunks are
 * decompressed whole for each image they serve, which doc/data.md warns of.
 * The chunk cache is bounded (SN_STREAM_CHUNK_CACHE_BYTES), so memory does
 * not grow with the file.
 */
#include "hdf5_stream.h"

#include <errno.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/input.h"
#include "hdf5_images_internal.h"
#include "hdf5_lock.h"

/* Pixels a streamed dataset may hold: far beyond any image set (2^40 bytes
 * is a terabyte), below what the index arithmetic can count. */
#define MAX_STREAMED_ELEMENTS ((uint64_t)1 << 40)

struct sn_h5_stream {
    char *path;
    char split[8];
    h5_reader reader;
    hid_t images;          /* /split/images */
    hid_t file_space;      /* its dataspace, reselected per run */
    hid_t memory_space;    /* [staging, H, W, C] */
    int64_t count;
    int channels, height, width, classes;
    size_t image_bytes;
    int32_t *labels;       /* [count] */
    uint8_t *staging;      /* [staging, H, W, C] */
    int64_t capacity;
};

static int open_images(sn_h5_stream *s, int64_t limit)
{
    /* HDF5's chunk cache: nslots a prime well above the chunks that fit,
     * w0 = 1 (evict chunks read in full first: a streamed image is not read
     * again soon). */
    hid_t access = H5Pcreate(H5P_DATASET_ACCESS);
    if (access < 0)
        return sn_error_set(SN_ERR_INTERNAL, "%s: cannot create an HDF5 property list", s->path);
    H5Pset_chunk_cache(access, 521, SN_STREAM_CHUNK_CACHE_BYTES, 1.0);
    sn_h5_image_shape shape;
    int status = sn_h5_open_images(&s->reader, s->split, access, MAX_STREAMED_ELEMENTS, &s->images,
                                   &shape);
    H5Pclose(access);
    SN_TRY(status);
    s->count = limit > 0 && limit < shape.count ? limit : shape.count;
    s->channels = shape.channels;
    s->height = shape.height;
    s->width = shape.width;
    s->image_bytes = (size_t)shape.channels * (size_t)shape.height * (size_t)shape.width;
    int32_t largest = 0;
    int64_t labels = 0;
    int declared = 0;
    SN_TRY(sn_h5_read_classes_attribute(&s->reader, &declared));
    SN_TRY(sn_h5_read_labels(&s->reader, s->split, shape.count, declared, &s->labels, &labels,
                             &largest));
    SN_TRY(sn_h5_resolve_classes(&s->reader, s->split, declared, largest, &s->classes));
    hsize_t dims[4] = {(hsize_t)s->capacity, (hsize_t)s->height, (hsize_t)s->width,
                       (hsize_t)s->channels};
    s->file_space = H5Dget_space(s->images);
    s->memory_space = H5Screate_simple(4, dims, NULL);
    if (s->file_space < 0 || s->memory_space < 0)
        return sn_error_set(SN_ERR_INTERNAL, "%s: /%s/images: cannot create dataspaces", s->path,
                            s->split);
    if (s->image_bytes > SIZE_MAX / (size_t)s->capacity ||
        !(s->staging = malloc(s->image_bytes * (size_t)s->capacity)))
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate staging for %lld images of %zu bytes",
                            s->path, (long long)s->capacity, s->image_bytes);
    return SN_OK;
}

int sn_h5_stream_open(sn_h5_stream **stream, const char *path, const char *split, int64_t limit,
                      int64_t staging)
{
    *stream = NULL;
    if (staging < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: streaming needs room for at least one image", path);
    sn_h5_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return sn_error_set(SN_ERR_NOMEM, "%s: out of memory opening it", path);
    }
    snprintf(s->split, sizeof s->split, "%s", split ? split : "");
    s->images = s->file_space = s->memory_space = -1;
    s->capacity = staging;
    sn_hdf5_lock();
    int status = sn_h5_reader_open(&s->reader, s->path, split);
    if (status == SN_OK)
        status = open_images(s, limit);
    sn_hdf5_unlock();
    if (status != SN_OK) {
        sn_h5_stream_close(s);
        return status;
    }
    *stream = s;
    return SN_OK;
}

void sn_h5_stream_close(sn_h5_stream *s)
{
    if (!s)
        return;
    sn_hdf5_lock();
    if (s->memory_space >= 0)
        H5Sclose(s->memory_space);
    if (s->file_space >= 0)
        H5Sclose(s->file_space);
    if (s->images >= 0)
        H5Dclose(s->images);
    sn_h5_reader_close(&s->reader);
    sn_hdf5_unlock();
    free(s->labels);
    free(s->staging);
    free(s->path);
    free(s);
}

int64_t sn_h5_stream_count(const sn_h5_stream *s)
{
    return s->count;
}

void sn_h5_stream_image_shape(const sn_h5_stream *s, int *channels, int *height, int *width)
{
    *channels = s->channels;
    *height = s->height;
    *width = s->width;
}

int sn_h5_stream_classes(const sn_h5_stream *s)
{
    return s->classes;
}

const int32_t *sn_h5_stream_labels(const sn_h5_stream *s)
{
    return s->labels;
}

int64_t sn_h5_stream_staging(const sn_h5_stream *s)
{
    return s->capacity;
}

/* Images [first, first + length) of the file into staging slots
 * [slot, slot + length). The caller holds the lock. */
static int read_run(sn_h5_stream *s, uint32_t first, int64_t length, int64_t slot)
{
    hsize_t file_start[4] = {first, 0, 0, 0}, memory_start[4] = {(hsize_t)slot, 0, 0, 0};
    hsize_t block[4] = {(hsize_t)length, (hsize_t)s->height, (hsize_t)s->width,
                        (hsize_t)s->channels};
    if (H5Sselect_hyperslab(s->file_space, H5S_SELECT_SET, file_start, NULL, block, NULL) < 0 ||
        H5Sselect_hyperslab(s->memory_space, H5S_SELECT_SET, memory_start, NULL, block, NULL) < 0)
        return sn_error_set(SN_ERR_INTERNAL, "%s: /%s/images: cannot select images %u..%lld",
                            s->path, s->split, first, (long long)first + length - 1);
    if (H5Dread(s->images, H5T_NATIVE_UINT8, s->memory_space, s->file_space, H5P_DEFAULT,
                s->staging) >= 0)
        return SN_OK;
    if (length == 1)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: /%s/images: reading image %u failed (corrupt or truncated data, "
                            "or an I/O error)",
                            s->path, s->split, first);
    return sn_error_set(SN_ERR_FORMAT,
                        "%s: /%s/images: reading images %u..%lld failed (corrupt or truncated "
                        "data, or an I/O error)",
                        s->path, s->split, first, (long long)first + length - 1);
}

/* HDF5's file driver fills a read past the end of the file with zeros: a
 * file truncated under a running stream (an interrupted copy, a full disk
 * on the writer's side) would train on black images without a word. So
 * every request checks that the file still has the size it had at open. */
static int check_unchanged(const sn_h5_stream *s)
{
    struct stat info;
    if (stat(s->path, &info) != 0)
        return sn_error_set(SN_ERR_IO, "%s: cannot check the file while reading it: %s", s->path,
                            strerror(errno));
    if ((uint64_t)info.st_size != s->reader.file_size)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: the file changed size while the run read it (%llu bytes at the "
                            "start, %llu now): images read from it cannot be trusted",
                            s->path, (unsigned long long)s->reader.file_size,
                            (unsigned long long)info.st_size);
    return SN_OK;
}

int sn_h5_stream_read(sn_h5_stream *s, const uint32_t *indices, int64_t count,
                      const uint8_t **images)
{
    if (count > s->capacity)
        return sn_error_set(SN_ERR_INTERNAL, "%s: %lld images requested at once, room for %lld",
                            s->path, (long long)count, (long long)s->capacity);
    for (int64_t i = 0; i < count; i++)
        if ((int64_t)indices[i] >= s->count)
            return sn_error_set(SN_ERR_ARGUMENT, "%s: /%s: image %u requested, the split has %lld",
                                s->path, s->split, indices[i], (long long)s->count);
    int status = SN_OK;
    sn_hdf5_lock();
    for (int64_t i = 0; i < count && status == SN_OK;) {
        int64_t length = 1;
        while (i + length < count && indices[i + length] == indices[i] + (uint32_t)length)
            length++;
        status = read_run(s, indices[i], length, i);
        i += length;
    }
    sn_hdf5_unlock();
    if (status == SN_OK)
        status = check_unchanged(s);
    for (int64_t i = 0; i < count; i++)
        images[i] = s->staging + (size_t)i * s->image_bytes;
    return status;
}
