/* HDF5 image sets (layout in shiftnas/data.h): validated reading, writing.
 *
 * The file may come from anywhere, so every shape, type and size is checked
 * before anything is allocated, and every HDF5 failure becomes one message
 * naming the file and the dataset. Serial access (the sec2 driver) suffices:
 * each rank reads the whole set. */
#include "shiftnas/data.h"
#include "shiftnas/error.h"
#include "hdf5_images_internal.h"
#include "hdf5_file.h"
#include "hdf5_lock.h"

#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Refused before allocating: larger than any set this tool trains on. */
#define MAX_ELEMENTS ((uint64_t)1 << 31)
/* Deflate cannot expand data by more than 1032:1; a chunked dataset that
 * claims more than this many times its stored bytes is forged. */
#define MAX_COMPRESSION_RATIO 1100
/* An upper bound on classes keeps `largest label + 1` and the classifier's
 * size sane: ImageNet-21k has 21841. */
#define MAX_CLASSES (1 << 24)
/* Chunks beyond the dataset's extent (extendible axes) stay below this. */
#define MAX_CHUNK_BYTES ((uint64_t)16 << 20)


static void close_dataset(hid_t dataset, hid_t type)
{
    if (type >= 0)
        H5Tclose(type);
    if (dataset >= 0)
        H5Dclose(dataset);
}

/* Opens /split/name after checking that each link exists: H5Dopen2 on a path
 * with a missing group fails with a less helpful error. */
static int open_dataset(const h5_reader *r, const char *split, const char *name, hid_t access,
                        hid_t *dataset)
{
    char group[16], full[64];
    snprintf(group, sizeof group, "/%s", split);
    snprintf(full, sizeof full, "/%s/%s", split, name);
    *dataset = -1;
    htri_t exists = H5Lexists(r->file, group, H5P_DEFAULT);
    if (exists > 0)
        exists = H5Lexists(r->file, full, H5P_DEFAULT);
    if (exists < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: cannot look it up (corrupt group structure)",
                            r->path, full);
    if (exists == 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: missing", r->path, full);
    *dataset = H5Dopen2(r->file, full, access);
    if (*dataset < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: cannot open it (not a dataset, or corrupt)",
                            r->path, full);
    return SN_OK;
}

/* A dataset's extent, checked by read_shape. */
typedef struct {
    int rank;
    hsize_t dims[4], maxdims[4];
    uint64_t elements;
} h5_shape;

/* "60000x28x28" for messages. */
static void format_shape(char *out, size_t size, int rank, const hsize_t *dims)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < rank && used < size; i++) {
        int n = snprintf(out + used, size - used, i ? "x%llu" : "%llu", (unsigned long long)dims[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* A simple dataspace of rank in [min_rank, max_rank] with nonzero dims whose
 * product stays within MAX_ELEMENTS; `layout` names the expected axes. */
static int read_shape(const h5_reader *r, hid_t dataset, const char *full, int min_rank,
                      int max_rank, const char *layout, uint64_t max_elements, h5_shape *shape)
{
    memset(shape, 0, sizeof *shape);
    hid_t space = H5Dget_space(dataset);
    if (space < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: cannot read its dataspace", r->path, full);
    int status = SN_OK;
    if (H5Sget_simple_extent_type(space) != H5S_SIMPLE) {
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: not a simple array (scalar or null dataspace)",
                              r->path, full);
    } else {
        shape->rank = H5Sget_simple_extent_ndims(space);
        if (shape->rank < min_rank || shape->rank > max_rank) {
            hsize_t dims[H5S_MAX_RANK];
            char stored[160] = "?";
            if (shape->rank >= 0 && shape->rank <= H5S_MAX_RANK &&
                H5Sget_simple_extent_dims(space, dims, NULL) == shape->rank)
                format_shape(stored, sizeof stored, shape->rank, dims);
            status = min_rank == max_rank
                         ? sn_error_set(SN_ERR_FORMAT,
                                        "%s: dataset %s: wrong rank %d (shape %s), expected %d (%s)",
                                        r->path, full, shape->rank, stored, min_rank, layout)
                         : sn_error_set(SN_ERR_FORMAT,
                                        "%s: dataset %s: wrong rank %d (shape %s), expected %d or %d "
                                        "(%s)",
                                        r->path, full, shape->rank, stored, min_rank, max_rank,
                                        layout);
        } else if (H5Sget_simple_extent_dims(space, shape->dims, shape->maxdims) != shape->rank) {
            status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: cannot read its dimensions", r->path,
                                  full);
        } else {
            shape->elements = 1;
            for (int i = 0; i < shape->rank && status == SN_OK; i++) {
                if (shape->dims[i] == 0)
                    status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: dimension %d is zero", r->path,
                                          full, i + 1);
                else if (shape->dims[i] > max_elements || shape->elements * shape->dims[i] > max_elements)
                    status = sn_error_set(SN_ERR_FORMAT,
                                          "%s: dataset %s: too large: more than %llu elements%s", r->path,
                                          full, (unsigned long long)max_elements,
                                          max_elements == MAX_ELEMENTS ? " to hold in memory "
                                                                         "(set [data] stream = on)" : "");
                else
                    shape->elements *= shape->dims[i];
            }
        }
    }
    H5Sclose(space);
    return status;
}

/* Chunk dimensions must fit the dataset. HDF5 1.10 trusts them: a forged
 * chunk of 1 x 131072 x 512 over a 2 x 2 x 2 dataset makes H5Dread allocate
 * gigabytes and copy past the end of the decompressed chunk. Along a fixed
 * axis a chunk is at most the axis (HDF5 itself refuses to create more); an
 * extendible axis may have a larger chunk, but the chunk stays small. */
static int check_chunks(const h5_reader *r, hid_t plist, const char *full, const h5_shape *shape,
                        size_t element_size)
{
    hsize_t chunk[32];
    int chunk_rank = H5Pget_chunk(plist, 32, chunk);
    if (chunk_rank != shape->rank)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: chunk rank %d differs from the dataset rank %d",
                            r->path, full, chunk_rank, shape->rank);
    uint64_t chunk_bytes = element_size;
    for (int i = 0; i < shape->rank; i++) {
        int extendible = shape->maxdims[i] > shape->dims[i];
        if (chunk[i] == 0 || (!extendible && chunk[i] > shape->dims[i]) || chunk[i] > MAX_CHUNK_BYTES)
            return sn_error_set(SN_ERR_FORMAT,
                                "%s: dataset %s: chunk dimension %d is %llu for an axis of %llu", r->path,
                                full, i + 1, (unsigned long long)chunk[i],
                                (unsigned long long)shape->dims[i]);
        chunk_bytes *= chunk[i];
        if (chunk_bytes > MAX_CHUNK_BYTES && chunk_bytes > shape->elements * element_size)
            return sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: chunks of more than %llu bytes", r->path,
                                full, (unsigned long long)MAX_CHUNK_BYTES);
    }
    return SN_OK;
}

/* Checks that the dataset's bytes are actually backed by storage in this
 * file, so that a forged shape cannot make us allocate gigabytes. */
static int check_storage(const h5_reader *r, hid_t dataset, const char *full, const h5_shape *shape,
                         size_t element_size)
{
    const uint64_t logical_bytes = shape->elements * element_size;
    hid_t plist = H5Dget_create_plist(dataset);
    if (plist < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: cannot read its creation properties",
                            r->path, full);
    H5D_layout_t layout = H5Pget_layout(plist);
    int external = H5Pget_external_count(plist);
    int status = SN_OK;
    if (external != 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: stored in external files, which are not accepted",
                              r->path, full);
    else if (layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED && layout != H5D_COMPACT)
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: unsupported storage layout %d (virtual?)",
                              r->path, full, (int)layout);
    else if (layout == H5D_CHUNKED)
        status = check_chunks(r, plist, full, shape, element_size);
    H5Pclose(plist);
    if (status != SN_OK)
        return status;
    uint64_t stored = H5Dget_storage_size(dataset);
    if (stored == 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: holds no data (nothing was written)", r->path,
                            full);
    if (stored > r->file_size)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: dataset %s: claims %llu stored bytes, the file has only %llu", r->path,
                            full, (unsigned long long)stored, (unsigned long long)r->file_size);
    if (layout == H5D_CHUNKED) {
        if (logical_bytes / MAX_COMPRESSION_RATIO > stored)
            return sn_error_set(SN_ERR_FORMAT,
                                "%s: dataset %s: %llu bytes of data cannot come from %llu stored bytes",
                                r->path, full, (unsigned long long)logical_bytes,
                                (unsigned long long)stored);
    } else if (stored != logical_bytes) {
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: dataset %s: shape says %llu bytes, storage holds %llu", r->path, full,
                            (unsigned long long)logical_bytes, (unsigned long long)stored);
    }
    return SN_OK;
}

/* "4-byte floating point", "2-byte unsigned integer", "string": what a
 * dataset of the wrong type holds, in words. */
static void describe_type(char *out, size_t size, hid_t type)
{
    size_t bytes = H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_INTEGER:
        snprintf(out, size, "%zu-byte %s integers", bytes,
                 H5Tget_sign(type) == H5T_SGN_NONE ? "unsigned" : "signed");
        break;
    case H5T_FLOAT: snprintf(out, size, "%zu-byte floating point numbers", bytes); break;
    case H5T_STRING: snprintf(out, size, "strings"); break;
    case H5T_ENUM: snprintf(out, size, "%zu-byte enumeration values", bytes); break;
    case H5T_COMPOUND: snprintf(out, size, "compound records of %zu bytes", bytes); break;
    case H5T_ARRAY: snprintf(out, size, "arrays of %zu bytes", bytes); break;
    case H5T_BITFIELD: snprintf(out, size, "%zu-byte bit fields", bytes); break;
    case H5T_OPAQUE: snprintf(out, size, "opaque %zu-byte values", bytes); break;
    default: snprintf(out, size, "values of HDF5 type class %d", (int)H5Tget_class(type)); break;
    }
}

/* Why /split/images of this type cannot be read, and what to do. */
static int wrong_image_type(const h5_reader *r, const char *full, hid_t type)
{
    char found[64];
    describe_type(found, sizeof found, type);
    if (H5Tget_class(type) == H5T_FLOAT)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: dataset %s: holds %s; shiftnas reads 8-bit unsigned images "
                            "(uint8, 0 to 255): convert them, e.g. numpy's "
                            "(x * 255).round().clip(0, 255).astype('uint8') for values in 0 to 1",
                            r->path, full, found);
    return sn_error_set(SN_ERR_FORMAT,
                        "%s: dataset %s: holds %s; shiftnas reads 8-bit unsigned images (uint8, "
                        "0 to 255): convert them, e.g. numpy's x.astype('uint8') after scaling to "
                        "0 to 255",
                        r->path, full, found);
}

/* Rank-4 images whose last axis is no channel count: channels first
 * (N x C x H x W, PyTorch's layout) is the likely cause. */
static int wrong_channels(const h5_reader *r, const char *full, const hsize_t *dims)
{
    char stored[96];
    format_shape(stored, sizeof stored, 4, dims);
    if (dims[1] >= 1 && dims[1] <= SN_MAX_CHANNELS)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: dataset %s: shape %s looks channels-first (N x C x H x W); "
                            "shiftnas reads N x H x W x C, channels last (1 to %d): transpose it, "
                            "e.g. numpy's x.transpose(0, 2, 3, 1)",
                            r->path, full, stored, SN_MAX_CHANNELS);
    return sn_error_set(SN_ERR_FORMAT,
                        "%s: dataset %s: shape %s has %llu channels in its last axis; images are "
                        "N x H x W x C with 1 to %d channels last",
                        r->path, full, stored, (unsigned long long)dims[3], SN_MAX_CHANNELS);
}

int sn_h5_open_images(const h5_reader *r, const char *split, hid_t access, uint64_t max_elements,
                      hid_t *images, sn_h5_image_shape *image_shape)
{
    char full[64];
    snprintf(full, sizeof full, "/%s/images", split);
    hid_t dataset = -1, type = -1;
    SN_TRY(open_dataset(r, split, "images", access, &dataset));
    int status = SN_OK;
    type = H5Dget_type(dataset);
    if (type < 0) {
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: cannot read its type", r->path, full);
    } else if (H5Tget_class(type) != H5T_INTEGER || H5Tget_size(type) != 1 ||
               H5Tget_sign(type) != H5T_SGN_NONE) {
        status = wrong_image_type(r, full, type);
    }
    h5_shape shape = {0};
    if (status == SN_OK)
        status = read_shape(r, dataset, full, 3, 4, "N x H x W, or N x H x W x C with channels last",
                            max_elements, &shape);
    const int rank = shape.rank;
    const hsize_t *dims = shape.dims;
    if (status == SN_OK && rank == 4 && dims[3] > SN_MAX_CHANNELS)
        status = wrong_channels(r, full, dims);
    if (status == SN_OK && (dims[1] > SN_H5_MAX_SIDE || dims[2] > SN_H5_MAX_SIDE))
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: image size %llux%llu too large (at most %d a side)",
                              r->path, full, (unsigned long long)dims[1], (unsigned long long)dims[2],
                              SN_H5_MAX_SIDE);
    if (status == SN_OK && dims[0] > UINT32_MAX)
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: %llu images: at most %u", r->path, full,
                              (unsigned long long)dims[0], UINT32_MAX);
    if (status == SN_OK)
        status = check_storage(r, dataset, full, &shape, 1);
    if (type >= 0)
        H5Tclose(type);
    if (status != SN_OK) {
        H5Dclose(dataset);
        return status;
    }
    *images = dataset;
    *image_shape = (sn_h5_image_shape){(int64_t)shape.dims[0], shape.rank == 4 ? (int)shape.dims[3] : 1,
                                       (int)shape.dims[1], (int)shape.dims[2]};
    return SN_OK;
}

/* Reads /split/images into set (count, channels, height, width, pixels). */
static int read_images(const h5_reader *r, const char *split, sn_image_set *set)
{
    char full[64];
    snprintf(full, sizeof full, "/%s/images", split);
    hid_t dataset = -1;
    sn_h5_image_shape shape;
    SN_TRY(sn_h5_open_images(r, split, H5P_DEFAULT, MAX_ELEMENTS, &dataset, &shape));
    const uint64_t elements = (uint64_t)shape.count * shape.channels * shape.height * shape.width;
    int status = SN_OK;
    uint8_t *stored = NULL, *pixels = NULL;
    if (status == SN_OK) {
        stored = malloc(elements);
        if (!stored)
            status = sn_error_set(SN_ERR_NOMEM, "%s: dataset %s: cannot allocate %llu bytes", r->path,
                                  full, (unsigned long long)elements);
    }
    if (status == SN_OK && H5Dread(dataset, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, stored) < 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: read failed (corrupt or truncated data)",
                              r->path, full);
    const int64_t count = shape.count;
    const int height = shape.height, width = shape.width, channels = shape.channels;
    if (status == SN_OK && channels > 1) {
        /* [N, H, W, C] on file -> [N, C, H, W] in memory. */
        pixels = malloc(elements);
        if (!pixels) {
            status = sn_error_set(SN_ERR_NOMEM, "%s: dataset %s: cannot allocate %llu bytes", r->path,
                                  full, (unsigned long long)elements);
        } else {
            const int64_t plane = (int64_t)height * width;
            for (int64_t n = 0; n < count; n++) {
                const uint8_t *src = stored + n * plane * channels;
                uint8_t *dst = pixels + n * plane * channels;
                for (int64_t p = 0; p < plane; p++)
                    for (int c = 0; c < channels; c++)
                        dst[c * plane + p] = src[p * channels + c];
            }
            free(stored);
            stored = NULL;
        }
    } else if (status == SN_OK) {
        pixels = stored;
        stored = NULL;
    }
    free(stored);
    H5Dclose(dataset);
    if (status != SN_OK) {
        free(pixels);
        return status;
    }
    set->count = count;
    set->channels = channels;
    set->height = height;
    set->width = width;
    set->pixels = pixels;
    return SN_OK;
}

/* Labels are read this many at a time, as 64-bit integers, so that a label
 * of any integer type is checked at its true value. */
enum { LABEL_BLOCK = 1 << 16 };

/* Checks one block of labels read as 64-bit integers (unsigned when the
 * stored type is) and stores them; first is the block's index. */
static int check_label_block(const h5_reader *r, const char *full, const uint64_t *block,
                             size_t n, int is_unsigned, uint64_t first, int declared,
                             int32_t *values, int32_t *largest)
{
    for (size_t i = 0; i < n; i++) {
        unsigned long long index = (unsigned long long)(first + i);
        int negative = !is_unsigned && (int64_t)block[i] < 0;
        if (negative)
            return sn_error_set(SN_ERR_FORMAT,
                                "%s: dataset %s: label %lld at index %llu is out of range "
                                "(negative)",
                                r->path, full, (long long)(int64_t)block[i], index);
        if (declared > 0 && block[i] >= (uint64_t)declared)
            return sn_error_set(SN_ERR_FORMAT,
                                "%s: dataset %s: label %llu at index %llu is not below the %d "
                                "classes of the attribute /classes",
                                r->path, full, (unsigned long long)block[i], index, declared);
        if (block[i] >= MAX_CLASSES)
            return sn_error_set(SN_ERR_FORMAT,
                                "%s: dataset %s: label %llu at index %llu is out of range (at "
                                "most %d classes)",
                                r->path, full, (unsigned long long)block[i], index, MAX_CLASSES);
        values[first + i] = (int32_t)block[i];
        if (values[first + i] > *largest)
            *largest = values[first + i];
    }
    return SN_OK;
}

/* Reads the whole of a checked labels dataset, a block at a time. */
static int read_label_values(const h5_reader *r, hid_t dataset, const char *full, int is_unsigned,
                             uint64_t elements, int declared, int32_t *values, int32_t *largest)
{
    uint64_t *block = malloc(sizeof *block * LABEL_BLOCK);
    hid_t file_space = H5Dget_space(dataset);
    hsize_t block_dims[1] = {LABEL_BLOCK};
    hid_t memory_space = H5Screate_simple(1, block_dims, NULL);
    int status = SN_OK;
    if (!block || file_space < 0 || memory_space < 0)
        status = sn_error_set(SN_ERR_NOMEM, "%s: dataset %s: out of memory reading it", r->path,
                              full);
    hid_t memory_type = is_unsigned ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64;
    for (uint64_t first = 0; status == SN_OK && first < elements; first += LABEL_BLOCK) {
        hsize_t start[1] = {first}, count[1] = {elements - first < LABEL_BLOCK ? elements - first
                                                                              : LABEL_BLOCK};
        hsize_t memory_start[1] = {0};
        if (H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Sselect_hyperslab(memory_space, H5S_SELECT_SET, memory_start, NULL, count, NULL) <
                0 ||
            H5Dread(dataset, memory_type, memory_space, file_space, H5P_DEFAULT, block) < 0)
            status = sn_error_set(SN_ERR_FORMAT,
                                  "%s: dataset %s: read failed (corrupt or truncated data)",
                                  r->path, full);
        else
            status = check_label_block(r, full, block, (size_t)count[0], is_unsigned, first,
                                       declared, values, largest);
    }
    if (memory_space >= 0)
        H5Sclose(memory_space);
    if (file_space >= 0)
        H5Sclose(file_space);
    free(block);
    return status;
}

/* Reads /split/labels (any integer type, checked at its true value, stored
 * as int32) into *labels; checks that it holds `expected` entries (or any
 * count if expected < 0), that none is negative or (declared > 0) at or
 * beyond the attribute /classes, and reports the largest. */
int sn_h5_read_labels(const h5_reader *r, const char *split, int64_t expected, int declared,
                      int32_t **labels, int64_t *count, int32_t *largest)
{
    char full[64];
    snprintf(full, sizeof full, "/%s/labels", split);
    *labels = NULL;
    hid_t dataset = -1, type = -1;
    SN_TRY(open_dataset(r, split, "labels", H5P_DEFAULT, &dataset));
    int status = SN_OK;
    type = H5Dget_type(dataset);
    size_t type_size = type >= 0 ? H5Tget_size(type) : 0;
    if (type < 0) {
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: cannot read its type", r->path, full);
    } else if (H5Tget_class(type) != H5T_INTEGER || type_size == 0 || type_size > 8) {
        char found[64];
        describe_type(found, sizeof found, type);
        status = sn_error_set(SN_ERR_FORMAT,
                              "%s: dataset %s: holds %s; labels are integers (class indices 0, "
                              "1, ...)",
                              r->path, full, found);
    }
    int is_unsigned = status == SN_OK && H5Tget_sign(type) == H5T_SGN_NONE;
    h5_shape shape = {0};
    if (status == SN_OK)
        status = read_shape(r, dataset, full, 1, 1, "N, one label per image", MAX_ELEMENTS, &shape);
    const hsize_t *dims = shape.dims;
    const uint64_t elements = shape.elements;
    if (status == SN_OK && expected >= 0 && (int64_t)dims[0] != expected)
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: count mismatch: %llu labels for %lld images",
                              r->path, full, (unsigned long long)dims[0], (long long)expected);
    if (status == SN_OK)
        status = check_storage(r, dataset, full, &shape, type_size);
    int32_t *values = NULL;
    if (status == SN_OK) {
        values = malloc(elements * sizeof *values);
        if (!values)
            status = sn_error_set(SN_ERR_NOMEM, "%s: dataset %s: cannot allocate %llu labels", r->path,
                                  full, (unsigned long long)elements);
    }
    int32_t max_label = 0;
    if (status == SN_OK)
        status = read_label_values(r, dataset, full, is_unsigned, elements, declared, values,
                                   &max_label);
    close_dataset(dataset, type);
    if (status != SN_OK) {
        free(values);
        return status;
    }
    *labels = values;
    *count = (int64_t)elements;
    *largest = max_label;
    return SN_OK;
}

/* The root attribute "classes": 0 if absent, else its value after checks. */
int sn_h5_read_classes_attribute(const h5_reader *r, int *classes)

{
    *classes = 0;
    hid_t root = H5Gopen2(r->file, "/", H5P_DEFAULT);
    if (root < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: cannot open the root group", r->path);
    int status = SN_OK;
    htri_t exists = H5Aexists(root, "classes");
    if (exists < 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute /classes: cannot look it up", r->path);
    if (status != SN_OK || exists == 0) {
        H5Gclose(root);
        return status;
    }
    hid_t attribute = H5Aopen(root, "classes", H5P_DEFAULT);
    hid_t type = attribute >= 0 ? H5Aget_type(attribute) : -1;
    hid_t space = attribute >= 0 ? H5Aget_space(attribute) : -1;
    long long value = 0;
    if (attribute < 0 || type < 0 || space < 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute /classes: cannot open it", r->path);
    else if (H5Tget_class(type) != H5T_INTEGER)
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute /classes: not an integer", r->path);
    else if (H5Sget_simple_extent_npoints(space) != 1)
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute /classes: holds %lld values, expected one",
                              r->path, (long long)H5Sget_simple_extent_npoints(space));
    else if (H5Aread(attribute, H5T_NATIVE_LLONG, &value) < 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute /classes: cannot read it", r->path);
    else if (value < 1 || value > MAX_CLASSES)
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute /classes: %lld is out of range (1 to %d)",
                              r->path, value, MAX_CLASSES);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (attribute >= 0)
        H5Aclose(attribute);
    H5Gclose(root);
    if (status == SN_OK)
        *classes = (int)value;
    return status;
}

int sn_h5_resolve_classes(const h5_reader *r, const char *split, int declared, int32_t largest,
                          int *classes)
{
    /* the labels were read against the attribute: it stands */
    *classes = declared;
    if (declared > 0)
        return SN_OK;
    /* Without the attribute the count is the largest label + 1 over both
     * splits, so that train and test agree on the classifier's size. */
    const char *other = strcmp(split, "train") == 0 ? "test" : "train";
    char other_group[16], other_labels_path[64];
    snprintf(other_group, sizeof other_group, "/%s", other);
    snprintf(other_labels_path, sizeof other_labels_path, "/%s/labels", other);
    if (H5Lexists(r->file, other_group, H5P_DEFAULT) > 0 &&
        H5Lexists(r->file, other_labels_path, H5P_DEFAULT) > 0) {
        int32_t *other_labels = NULL, other_largest = 0;
        int64_t other_count = 0;
        int status = sn_h5_read_labels(r, other, -1, 0, &other_labels, &other_count,
                                       &other_largest);
        free(other_labels);
        SN_TRY(status);
        if (other_largest > largest)
            largest = other_largest;
    }
    *classes = largest + 1;
    return SN_OK;
}

static int read_split(h5_reader *r, const char *split, sn_image_set *set)
{
    SN_TRY(read_images(r, split, set));
    int64_t count = 0;
    int32_t largest = 0;
    int declared = 0, classes = 0;
    int status = sn_h5_read_classes_attribute(r, &declared);
    if (status == SN_OK)
        status = sn_h5_read_labels(r, split, set->count, declared, &set->labels, &count, &largest);
    if (status == SN_OK)
        status = sn_h5_resolve_classes(r, split, declared, largest, &classes);
    if (status != SN_OK) {
        sn_image_set_free(set);
        return status;
    }
    set->classes = classes;
    return SN_OK;
}

int sn_h5_reader_open(h5_reader *r, const char *path, const char *split)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->file = -1;
    if (!split || (strcmp(split, "train") != 0 && strcmp(split, "test") != 0))
        return sn_error_set(SN_ERR_ARGUMENT, "%s: split must be \"train\" or \"test\", not \"%s\"", path,
                            split ? split : "(null)");
    SN_TRY(sn_hdf5_file_open(path, H5F_ACC_RDONLY, &r->file));
    struct stat info;
    if (stat(path, &info) != 0) {
        H5Fclose(r->file);
        r->file = -1;
        return sn_error_set(SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    r->file_size = (uint64_t)info.st_size;
    /* A file names its filters by number; an unknown one would make HDF5
     * search the plugin path and dlopen what it finds. Data sets need only
     * the built-in deflate, so plugin loading is off while the file is open. */
    r->restore_plugins = H5PLget_loading_state(&r->plugin_state) >= 0;
    if (r->restore_plugins)
        H5PLset_loading_state(0);
    return SN_OK;
}

void sn_h5_reader_close(h5_reader *r)
{
    if (r->file >= 0)
        H5Fclose(r->file);
    if (r->file >= 0 && r->restore_plugins)
        H5PLset_loading_state(r->plugin_state);
    r->file = -1;
}

int sn_hdf5_image_set_read(const char *path, const char *split, sn_image_set *set)
{
    memset(set, 0, sizeof *set);
    sn_hdf5_lock();
    h5_reader r;
    int status = sn_h5_reader_open(&r, path, split);
    if (status == SN_OK)
        status = read_split(&r, split, set);
    sn_h5_reader_close(&r);
    sn_hdf5_unlock();
    return status;
}

/* ---- writing ----------------------------------------------------------- */

static int check_set_for_writing(const char *path, const char *split, const sn_image_set *set)
{
    if (!set || !set->pixels || !set->labels || set->count < 1 || set->height < 1 || set->width < 1 ||
        set->channels < 1 || set->channels > SN_MAX_CHANNELS || set->classes < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: %s set is empty or has an invalid shape", path, split);
    for (int64_t i = 0; i < set->count; i++)
        if (set->labels[i] < 0 || set->labels[i] >= set->classes)
            return sn_error_set(SN_ERR_ARGUMENT, "%s: %s label %d at index %lld is outside [0, %d)", path,
                                split, set->labels[i], (long long)i, set->classes);
    return SN_OK;
}

static int write_dataset(const char *path, hid_t group, const char *full, const char *name,
                         hid_t file_type, hid_t memory_type, int rank, const hsize_t *dims,
                         const void *data)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dataset = space >= 0 ? H5Dcreate2(group, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT,
                                            H5P_DEFAULT)
                               : -1;
    int ok = dataset >= 0 && H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
    if (dataset >= 0 && H5Dclose(dataset) < 0)
        ok = 0;
    if (space >= 0)
        H5Sclose(space);
    return ok ? SN_OK : sn_error_set(SN_ERR_IO, "%s: dataset %s: cannot write it", path, full);
}

static int write_split(const char *path, hid_t file, const char *split, const sn_image_set *set)
{
    char group_path[16], full[64];
    snprintf(group_path, sizeof group_path, "/%s", split);
    hid_t group = H5Gcreate2(file, group_path, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (group < 0)
        return sn_error_set(SN_ERR_IO, "%s: group %s: cannot create it", path, group_path);
    const int64_t plane = (int64_t)set->height * set->width;
    const size_t bytes = (size_t)(set->count * plane * set->channels);
    const uint8_t *pixels = set->pixels;
    uint8_t *interleaved = NULL;
    int status = SN_OK;
    if (set->channels > 1) {
        /* [N, C, H, W] in memory -> [N, H, W, C] on file, as image tools store it. */
        interleaved = malloc(bytes);
        if (!interleaved) {
            H5Gclose(group);
            return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, bytes);
        }
        for (int64_t n = 0; n < set->count; n++) {
            const uint8_t *src = set->pixels + n * plane * set->channels;
            uint8_t *dst = interleaved + n * plane * set->channels;
            for (int c = 0; c < set->channels; c++)
                for (int64_t p = 0; p < plane; p++)
                    dst[p * set->channels + c] = src[c * plane + p];
        }
        pixels = interleaved;
    }
    hsize_t dims[4] = {(hsize_t)set->count, (hsize_t)set->height, (hsize_t)set->width,
                       (hsize_t)set->channels};
    snprintf(full, sizeof full, "/%s/images", split);
    status = write_dataset(path, group, full, "images", H5T_STD_U8LE, H5T_NATIVE_UINT8,
                           set->channels == 1 ? 3 : 4, dims, pixels);
    free(interleaved);
    if (status == SN_OK) {
        snprintf(full, sizeof full, "/%s/labels", split);
        status = write_dataset(path, group, full, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dims,
                               set->labels);
    }
    if (H5Gclose(group) < 0 && status == SN_OK)
        status = sn_error_set(SN_ERR_IO, "%s: group %s: cannot close it", path, group_path);
    return status;
}

static int write_classes_attribute(const char *path, hid_t file, int32_t classes)
{
    hid_t root = H5Gopen2(file, "/", H5P_DEFAULT);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attribute = root >= 0 && space >= 0
                          ? H5Acreate2(root, "classes", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT)
                          : -1;
    int ok = attribute >= 0 && H5Awrite(attribute, H5T_NATIVE_INT32, &classes) >= 0;
    if (attribute >= 0)
        H5Aclose(attribute);
    if (space >= 0)
        H5Sclose(space);
    if (root >= 0)
        H5Gclose(root);
    return ok ? SN_OK : sn_error_set(SN_ERR_IO, "%s: attribute /classes: cannot write it", path);
}

int sn_hdf5_image_set_write(const char *path, const sn_image_set *train, const sn_image_set *test)
{
    SN_TRY(check_set_for_writing(path, "train", train));
    SN_TRY(check_set_for_writing(path, "test", test));
    if (train->channels != test->channels || train->height != test->height || train->width != test->width)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: train images are %dx%dx%d, test images %dx%dx%d", path,
                            train->channels, train->height, train->width, test->channels, test->height,
                            test->width);
    sn_hdf5_lock();
    hid_t file = -1;
    int created = sn_hdf5_file_create(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT, &file);
    if (created != SN_OK) {
        sn_hdf5_unlock();
        return created;
    }
    int status = write_split(path, file, "train", train);
    if (status == SN_OK)
        status = write_split(path, file, "test", test);
    if (status == SN_OK)
        status = write_classes_attribute(path, file,
                                         train->classes > test->classes ? train->classes : test->classes);
    if (H5Fclose(file) < 0 && status == SN_OK)
        status = sn_error_set(SN_ERR_IO, "%s: cannot close (flush) the HDF5 file", path);
    sn_hdf5_unlock();
    if (status != SN_OK)
        unlink(path); /* no half-written set left behind */
    return status;
}
