/* IDX files (LeCun's MNIST format), raw or gzip-compressed, into image sets. */
#include "shiftnas/data.h"
#include "shiftnas/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* An IDX file here is MNIST-sized; a bound keeps a forged header or a gzip
 * bomb from exhausting memory. 2^31 pixel bytes is ~35x ImageNet-32. */
#define IDX_MAX_FILE_BYTES (((size_t)1 << 31) + 64)

enum { IDX_TYPE_UNSIGNED_BYTE = 0x08, IDX_MAX_DIMS = 4, READ_CHUNK = 1 << 16 };

void sn_idx_array_free(sn_idx_array *array)
{
    if (!array)
        return;
    free(array->data);
    memset(array, 0, sizeof *array);
}

static uint32_t read_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* "60000 x 28 x 28" for messages. */
static void format_dims(char *out, size_t size, int ndim, const int64_t *dims)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < ndim && used < size; i++) {
        int n = snprintf(out + used, size - used, i ? " x %lld" : "%lld", (long long)dims[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int sn_idx_decode(const uint8_t *bytes, size_t size, const char *name, sn_idx_array *array)
{
    memset(array, 0, sizeof *array);
    if (size < 4)
        return sn_error_set(SN_ERR_FORMAT, "%s: truncated header: %zu bytes, the IDX magic alone is 4",
                            name, size);
    if (bytes[0] != 0 || bytes[1] != 0)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: bad magic: first bytes are 0x%02x 0x%02x, an IDX file starts with two zero bytes",
                            name, bytes[0], bytes[1]);
    if (bytes[2] != IDX_TYPE_UNSIGNED_BYTE)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: unsupported element type 0x%02x: only unsigned byte (0x08) is accepted",
                            name, bytes[2]);
    int ndim = bytes[3];
    if (ndim < 1 || ndim > IDX_MAX_DIMS)
        return sn_error_set(SN_ERR_FORMAT, "%s: bad dimension count %d: expected 1 to %d", name, ndim,
                            IDX_MAX_DIMS);
    size_t header = 4 + 4 * (size_t)ndim;
    if (size < header)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: truncated header: %d dimensions need %zu header bytes, file holds %zu",
                            name, ndim, header, size);
    int64_t dims[IDX_MAX_DIMS] = {0};
    /* Each dimension is below 2^32, so the product stays exact in uint64 as
     * long as it is checked against a bound below 2^32 after every factor. */
    uint64_t product = 1;
    int too_large = 0;
    for (int i = 0; i < ndim; i++) {
        dims[i] = read_be32(bytes + 4 + 4 * i);
        if (dims[i] == 0)
            return sn_error_set(SN_ERR_FORMAT, "%s: dimension %d of %d is zero", name, i + 1, ndim);
        if (!too_large) {
            product *= (uint64_t)dims[i];
            if (product > (uint64_t)IDX_MAX_FILE_BYTES)
                too_large = 1;
        }
    }
    char shape[96];
    format_dims(shape, sizeof shape, ndim, dims);
    const char *what = ndim == 1 ? "label bytes" : "pixel bytes";
    size_t held = size - header;
    if (too_large)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: too large: header says %s elements, over the limit of %zu bytes (file holds %zu)",
                            name, shape, IDX_MAX_FILE_BYTES, held);
    if (held < product)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: truncated: header says %s = %llu %s, file holds %zu", name, shape,
                            (unsigned long long)product, what, held);
    if (held > product)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: trailing bytes: header says %s = %llu %s, file holds %zu (%zu extra)",
                            name, shape, (unsigned long long)product, what, held,
                            held - (size_t)product);
    uint8_t *data = malloc(product);
    if (!data)
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate %llu bytes", name,
                            (unsigned long long)product);
    memcpy(data, bytes + header, product);
    array->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        array->dims[i] = dims[i];
    array->data = data;
    return SN_OK;
}

/* Reads a whole stream into a malloc'd buffer, refusing more than `limit`
 * bytes. An empty file yields a valid 1-byte allocation and size 0. */
static int read_whole_file(const char *path, FILE *file, size_t limit, uint8_t **bytes, size_t *size)
{
    struct stat info;
    size_t capacity = READ_CHUNK;
    if (fstat(fileno(file), &info) == 0 && S_ISREG(info.st_mode)) {
        if ((uint64_t)info.st_size > (uint64_t)limit)
            return sn_error_set(SN_ERR_FORMAT, "%s: too large: %lld bytes, over the limit of %zu",
                                path, (long long)info.st_size, limit);
        capacity = (size_t)info.st_size + 1; /* +1 to see the end of file in one pass */
    }
    uint8_t *data = malloc(capacity);
    if (!data)
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, capacity);
    size_t used = 0;
    for (;;) {
        size_t got = fread(data + used, 1, capacity - used, file);
        used += got;
        if (used < capacity) {
            if (ferror(file)) {
                int saved = errno;
                free(data);
                return sn_error_set(SN_ERR_IO, "%s: read error: %s", path,
                                    strerror(saved ? saved : EIO));
            }
            break;
        }
        /* The buffer is full: the file grew, or it is not a regular file. */
        if (capacity > limit) {
            free(data);
            return sn_error_set(SN_ERR_FORMAT, "%s: too large: over the limit of %zu bytes", path,
                                limit);
        }
        size_t grown_capacity = capacity > limit / 2 ? limit + 1 : capacity * 2;
        uint8_t *grown = realloc(data, grown_capacity);
        if (!grown) {
            free(data);
            return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, grown_capacity);
        }
        data = grown;
        capacity = grown_capacity;
    }
    if (used > limit) {
        free(data);
        return sn_error_set(SN_ERR_FORMAT, "%s: too large: over the limit of %zu bytes", path, limit);
    }
    *bytes = data;
    *size = used;
    return SN_OK;
}

/* Inflates a gzip file held in memory, growing the output up to `limit`.
 * Concatenated members are accepted, as gunzip does; anything else after the
 * last member is an error. */
static int gunzip_memory(const char *path, const uint8_t *input, size_t input_size, size_t limit,
                         uint8_t **bytes, size_t *size)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot initialise zlib", path);
    /* One byte past the limit is room enough to notice a file that exceeds it. */
    size_t cap = limit < SIZE_MAX ? limit + 1 : limit;
    /* Deflate rarely compresses images past 4:1; start there and double. */
    size_t capacity = input_size < cap / 4 ? input_size * 4 : cap;
    if (capacity < READ_CHUNK)
        capacity = cap < READ_CHUNK ? cap : READ_CHUNK;
    uint8_t *out = malloc(capacity);
    if (!out) {
        inflateEnd(&z);
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, capacity);
    }
    size_t used = 0, consumed = 0;
    int status = SN_OK;
    while (status == SN_OK) {
        if (used == capacity) {
            if (capacity >= cap) {
                status = sn_error_set(SN_ERR_FORMAT, "%s: too large: decompresses to more than %zu bytes",
                                      path, limit);
                break;
            }
            size_t grown_capacity = capacity > cap / 2 ? cap : capacity * 2;
            uint8_t *grown = realloc(out, grown_capacity);
            if (!grown) {
                status = sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, grown_capacity);
                break;
            }
            out = grown;
            capacity = grown_capacity;
        }
        /* zlib counts in uInt: feed and drain at most 1 GiB a call. */
        size_t in_chunk = input_size - consumed, out_chunk = capacity - used;
        if (in_chunk > (size_t)1 << 30)
            in_chunk = (size_t)1 << 30;
        if (out_chunk > (size_t)1 << 30)
            out_chunk = (size_t)1 << 30;
        z.next_in = (Bytef *)(input + consumed);
        z.avail_in = (uInt)in_chunk;
        z.next_out = out + used;
        z.avail_out = (uInt)out_chunk;
        int rc = inflate(&z, Z_NO_FLUSH);
        consumed += in_chunk - z.avail_in;
        used += out_chunk - z.avail_out;
        switch (rc) {
        case Z_STREAM_END:
            if (consumed == input_size) {
                if (used > limit)
                    status = sn_error_set(SN_ERR_FORMAT,
                                          "%s: too large: decompresses to more than %zu bytes", path, limit);
                goto done;
            }
            if (input_size - consumed >= 2 && input[consumed] == 0x1f && input[consumed + 1] == 0x8b) {
                inflateReset(&z);
                break;
            }
            status = sn_error_set(SN_ERR_FORMAT,
                                  "%s: trailing bytes: %zu bytes after the gzip stream are not another gzip member",
                                  path, input_size - consumed);
            break;
        case Z_OK:
        case Z_BUF_ERROR:
            /* Stuck only if the input ran out while output room remained:
             * the stream was cut short. */
            if (consumed == input_size && used < capacity)
                status = sn_error_set(SN_ERR_FORMAT,
                                      "%s: truncated gzip stream: input ends after %zu decompressed bytes",
                                      path, used);
            break;
        case Z_MEM_ERROR:
            status = sn_error_set(SN_ERR_NOMEM, "%s: zlib ran out of memory", path);
            break;
        default: /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
            status = sn_error_set(SN_ERR_FORMAT, "%s: corrupt gzip stream: %s", path,
                                  z.msg ? z.msg : "invalid data");
            break;
        }
    }
done:
    inflateEnd(&z);
    if (status != SN_OK) {
        free(out);
        return status;
    }
    *bytes = out;
    *size = used;
    return SN_OK;
}

int sn_read_file_maybe_gzip(const char *path, size_t max_bytes, uint8_t **bytes, size_t *size)
{
    *bytes = NULL;
    *size = 0;
    FILE *file = fopen(path, "rb");
    if (!file)
        return sn_error_set(SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    /* Deflate never expands data by more than a few bytes per 16 KiB block,
     * so a compressed file 1/8 larger than max_bytes cannot fit in it. */
    size_t raw_limit = max_bytes > SIZE_MAX / 2 ? SIZE_MAX / 2 : max_bytes + max_bytes / 8 + 4096;
    uint8_t *raw = NULL;
    size_t raw_size = 0;
    int status = read_whole_file(path, file, raw_limit, &raw, &raw_size);
    fclose(file);
    if (status < 0)
        return status;
    if (raw_size >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        status = gunzip_memory(path, raw, raw_size, max_bytes, bytes, size);
        free(raw);
        return status;
    }
    if (raw_size > max_bytes) {
        free(raw);
        return sn_error_set(SN_ERR_FORMAT, "%s: too large: %zu bytes, over the limit of %zu", path,
                            raw_size, max_bytes);
    }
    *bytes = raw;
    *size = raw_size;
    return SN_OK;
}

static int load_idx_file(const char *path, sn_idx_array *array)
{
    uint8_t *bytes;
    size_t size;
    memset(array, 0, sizeof *array);
    SN_TRY(sn_read_file_maybe_gzip(path, IDX_MAX_FILE_BYTES, &bytes, &size));
    int status = sn_idx_decode(bytes, size, path, array);
    free(bytes);
    return status;
}

/* The pair's labels into set->labels, each checked against `classes`
 * (declared by `declared_by`, for the message) when it is > 0; else the
 * count is the largest label + 1. */
static int take_labels(const char *labels_path, const sn_idx_array *labels, int classes,
                       const char *declared_by, sn_image_set *set)
{
    int32_t *values = malloc((size_t)labels->dims[0] * sizeof *values);
    if (!values)
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate %lld labels", labels_path,
                            (long long)labels->dims[0]);
    int largest = 0;
    for (int64_t i = 0; i < labels->dims[0]; i++) {
        values[i] = labels->data[i];
        if (classes > 0 && values[i] >= classes) {
            free(values);
            return sn_error_set(SN_ERR_FORMAT,
                                "%s: label %d at index %lld is not below the %d classes of %s",
                                labels_path, labels->data[i], (long long)i, classes, declared_by);
        }
        if (values[i] > largest)
            largest = values[i];
    }
    set->labels = values;
    set->classes = classes > 0 ? classes : largest + 1;
    return SN_OK;
}

/* sn_idx_load_image_set with the labels checked against a declared count. */
static int load_pair(const char *images_path, const char *labels_path, int classes,
                     const char *declared_by, sn_image_set *set)
{
    memset(set, 0, sizeof *set);
    sn_idx_array images, labels;
    SN_TRY(load_idx_file(images_path, &images));
    int status = load_idx_file(labels_path, &labels);
    if (status < 0) {
        sn_idx_array_free(&images);
        return status;
    }
    if (images.ndim != 3)
        status = sn_error_set(SN_ERR_FORMAT, "%s: images must have 3 dimensions (count x height x width), file has %d",
                              images_path, images.ndim);
    else if (labels.ndim != 1)
        status = sn_error_set(SN_ERR_FORMAT, "%s: labels must have 1 dimension, file has %d",
                              labels_path, labels.ndim);
    else if (labels.dims[0] != images.dims[0])
        status = sn_error_set(SN_ERR_FORMAT, "%s: count mismatch: %lld labels, but %s holds %lld images",
                              labels_path, (long long)labels.dims[0], images_path,
                              (long long)images.dims[0]);
    if (status == SN_OK)
        status = take_labels(labels_path, &labels, classes, declared_by, set);
    sn_idx_array_free(&labels);
    if (status < 0) {
        sn_idx_array_free(&images);
        return status;
    }
    set->count = images.dims[0];
    set->channels = 1;
    set->height = (int)images.dims[1];
    set->width = (int)images.dims[2];
    set->pixels = images.data; /* [N, H, W] is [N, 1, H, W] */
    return SN_OK;
}

int sn_idx_load_image_set(const char *images_path, const char *labels_path, sn_image_set *set)
{
    return load_pair(images_path, labels_path, 0, NULL, set);
}

/* The raw name if it exists, else name.gz; an error naming both otherwise. */
static int find_idx_file(const char *directory, const char *name, char *path, size_t size)
{
    struct stat info;
    int n = snprintf(path, size, "%s/%s", directory, name);
    if (n < 0 || (size_t)n + 3 >= size)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: directory path too long", directory);
    if (stat(path, &info) == 0)
        return SN_OK;
    strcat(path, ".gz");
    if (stat(path, &info) == 0)
        return SN_OK;
    int saved = errno;
    path[n] = '\0';
    return sn_error_set(SN_ERR_IO, "%s: cannot open (nor %s.gz): %s", path, path, strerror(saved));
}

int sn_idx_load_directory_classes(const char *directory, int classes, const char *declared_by,
                                  sn_image_set *train, sn_image_set *test)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (classes <= 0) {
        classes = SN_IDX_CLASSES;
        declared_by = "an IDX directory (Fashion-MNIST, MNIST; [data] classes sets another count)";
    }
    char train_images[4096], images[4096], labels[4096];
    SN_TRY(find_idx_file(directory, "train-images-idx3-ubyte", train_images, sizeof train_images));
    SN_TRY(find_idx_file(directory, "train-labels-idx1-ubyte", labels, sizeof labels));
    SN_TRY(load_pair(train_images, labels, classes, declared_by, train));
    int status = find_idx_file(directory, "t10k-images-idx3-ubyte", images, sizeof images);
    if (status == SN_OK)
        status = find_idx_file(directory, "t10k-labels-idx1-ubyte", labels, sizeof labels);
    if (status == SN_OK)
        status = load_pair(images, labels, classes, declared_by, test);
    if (status == SN_OK && (test->height != train->height || test->width != train->width))
        status = sn_error_set(SN_ERR_FORMAT,
                              "%s: test images are %dx%d, but the training images of %s are %dx%d",
                              images, test->height, test->width, train_images, train->height,
                              train->width);
    if (status < 0) {
        sn_image_set_free(train);
        sn_image_set_free(test);
    }
    return status;
}

int sn_idx_load_directory(const char *directory, sn_image_set *train, sn_image_set *test)
{
    return sn_idx_load_directory_classes(directory, 0, NULL, train, test);
}
