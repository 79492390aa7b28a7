/* An image folder (train/<class>/..., val/ or test/) into one chunked HDF5
 * image set, on one rank or many (contract in shiftnas/image_folder.h).
 *
 * Rounds. The sorted file list of a split is cut into rounds of B x P files
 * (B = options->batch, P = ranks); in a round, rank r decodes the files
 * [round + r B, round + (r + 1) B) into its own buffer of B images. The ranks
 * then agree on a status (so a failure on one rank stops all of them after
 * the round, and nobody waits in a collective the others never reach),
 * exchange how many images each decoded, extend the datasets by the round's
 * total and write their images at offset = sum of the lower ranks' counts.
 * A skipped file drops out and the order of the rest is the sorted order, so
 * the file is the same for every P and B. Memory per rank: B images of
 * S x S x C, plus the largest file and the largest decoded image so far.
 *
 * HDF5. Under MPI the file is opened with the MPI-IO driver and every
 * extend and write is collective (a rank with nothing to write selects
 * nothing); without MPI it is an ordinary file. Images are chunked one per
 * chunk, so a reader pulls any image with one chunk read. */
#include "hdf5_file.h"
#include "hdf5_lock.h"
#include "write_failure.h"
#include "shiftnas/image_folder.h"
#include "shiftnas/error.h"
#include "shiftnas/format.h"
#include "dist/dist_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An encoded image larger than this is refused before it is read. */
#define MAX_FILE_BYTES ((size_t)256 << 20)
#define LABEL_CHUNK 4096

/* ---- listing ------------------------------------------------------------ */

/* File and folder names are anyone's bytes: a failure's message, which
 * names them, is escaped whole (control bytes and non-UTF-8 as \xNN), so
 * that it stays one printable line. Returns status. */
static int escape_message(int status)
{
    char escaped[4 * 1024 + 8];
    if (status != SN_OK)
        sn_error_set(status, "%s",
                     sn_format_user_text(escaped, sizeof escaped, sn_error_message(), 1023));
    return status;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

/* The non-hidden entries of `path` that are directories (want_dirs) or
 * regular files (symbolic links followed), sorted by name. */
static int list_entries(const char *path, int want_dirs, char ***names_out, int64_t *count_out)
{
    *names_out = NULL;
    *count_out = 0;
    DIR *dir = opendir(path);
    if (!dir)
        return sn_error_set(SN_ERR_IO, "%s: cannot open the folder: %s", path, strerror(errno));
    char **names = NULL;
    int64_t count = 0, capacity = 0;
    int status = SN_OK;
    struct dirent *entry;
    char full[4096];
    while (status == SN_OK && (entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(full, sizeof full, "%s/%s", path, entry->d_name) >= sizeof full) {
            status = sn_error_set(SN_ERR_IO, "%s/%s: path too long", path, entry->d_name);
            break;
        }
        struct stat info;
        if (stat(full, &info) != 0) {
            status = sn_error_set(SN_ERR_IO, "%s: cannot stat: %s", full, strerror(errno));
            break;
        }
        if (want_dirs ? !S_ISDIR(info.st_mode) : !S_ISREG(info.st_mode))
            continue;
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            char **bigger = realloc(names, (size_t)capacity * sizeof *names);
            if (!bigger) {
                status = sn_error_set(SN_ERR_NOMEM, "%s: out of memory listing it", path);
                break;
            }
            names = bigger;
        }
        names[count] = strdup(entry->d_name);
        if (!names[count]) {
            status = sn_error_set(SN_ERR_NOMEM, "%s: out of memory listing it", path);
            break;
        }
        count++;
    }
    closedir(dir);
    if (status != SN_OK) {
        free_names(names, count);
        return status;
    }
    if (count > 1)
        qsort(names, (size_t)count, sizeof *names, compare_strings);
    *names_out = names;
    *count_out = count;
    return SN_OK;
}

static int file_list_add(sn_file_list *list, int64_t *capacity, size_t *names_capacity, const char *path,
                         int32_t label)
{
    size_t length = strlen(path) + 1;
    if (list->count == *capacity) {
        int64_t bigger = *capacity ? 2 * *capacity : 1024;
        int64_t *offsets = realloc(list->offsets, (size_t)bigger * sizeof *offsets);
        if (offsets)
            list->offsets = offsets;
        int32_t *labels = realloc(list->labels, (size_t)bigger * sizeof *labels);
        if (labels)
            list->labels = labels;
        if (!offsets || !labels)
            return sn_error_set(SN_ERR_NOMEM, "out of memory listing images");
        *capacity = bigger;
    }
    if (list->names_bytes + length > *names_capacity) {
        size_t bigger = *names_capacity ? 2 * *names_capacity : 65536;
        while (bigger < list->names_bytes + length)
            bigger *= 2;
        char *names = realloc(list->names, bigger);
        if (!names)
            return sn_error_set(SN_ERR_NOMEM, "out of memory listing images");
        list->names = names;
        *names_capacity = bigger;
    }
    memcpy(list->names + list->names_bytes, path, length);
    list->offsets[list->count] = (int64_t)list->names_bytes;
    list->labels[list->count] = label;
    list->names_bytes += length;
    list->count++;
    return SN_OK;
}

static void file_list_free(sn_file_list *list)
{
    free(list->names);
    free(list->offsets);
    free(list->labels);
    memset(list, 0, sizeof *list);
}

void sn_image_folder_free(sn_image_folder *list)
{
    if (list->class_names)
        free_names(list->class_names, list->classes);
    file_list_free(&list->train);
    file_list_free(&list->test);
    memset(list, 0, sizeof *list);
}

static int class_index(const sn_image_folder *list, const char *name)
{
    char *const *found = bsearch(&name, list->class_names, (size_t)list->classes, sizeof(char *),
                                 compare_strings);
    return found ? (int)(found - list->class_names) : -1;
}

/* The files of FOLDER/split/<class>/ for each class sub-folder. */
static int list_split(const char *folder, const char *split, sn_image_folder *list, sn_file_list *files)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", folder, split);
    char **classes = NULL;
    int64_t class_count = 0;
    SN_TRY(list_entries(path, 1, &classes, &class_count));
    int64_t capacity = 0;
    size_t names_capacity = 0;
    int status = SN_OK;
    for (int64_t c = 0; c < class_count && status == SN_OK; c++) {
        int label = class_index(list, classes[c]);
        if (label < 0) {
            status = sn_error_set(SN_ERR_FORMAT, "%s/%s/%s: class '%s' is not a class of %s/train",
                                  folder, split, classes[c], classes[c], folder);
            break;
        }
        char class_path[4096], relative[4096];
        if ((size_t)snprintf(class_path, sizeof class_path, "%s/%s", path, classes[c]) >= sizeof class_path) {
            status = sn_error_set(SN_ERR_IO, "%s/%s: path too long", path, classes[c]);
            break;
        }
        char **files_here = NULL;
        int64_t file_count = 0;
        status = list_entries(class_path, 0, &files_here, &file_count);
        for (int64_t f = 0; f < file_count && status == SN_OK; f++) {
            if ((size_t)snprintf(relative, sizeof relative, "%s/%s/%s", split, classes[c], files_here[f]) >=
                sizeof relative)
                status = sn_error_set(SN_ERR_IO, "%s/%s: path too long", class_path, files_here[f]);
            else
                status = file_list_add(files, &capacity, &names_capacity, relative, label);
        }
        free_names(files_here, file_count);
    }
    free_names(classes, class_count);
    return status;
}

static int is_directory(const char *folder, const char *name)
{
    char path[4096];
    struct stat info;
    snprintf(path, sizeof path, "%s/%s", folder, name);
    return stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

static int list_folder(const char *folder, const char *test_split, sn_image_folder *list)
{
    memset(list, 0, sizeof *list);
    if (!is_directory(folder, "train"))
        return sn_error_set(SN_ERR_FORMAT, "%s: no train/ folder (expected train/<class>/<image>)", folder);
    if (test_split) {
        if (!*test_split || strchr(test_split, '/') || strcmp(test_split, "train") == 0 ||
            strlen(test_split) >= sizeof list->test_split)
            return sn_error_set(SN_ERR_ARGUMENT, "%s: '%s' cannot be the test split's folder", folder,
                                test_split);
        if (!is_directory(folder, test_split))
            return sn_error_set(SN_ERR_FORMAT, "%s: no %s/ folder (the named test split)", folder, test_split);
        snprintf(list->test_split, sizeof list->test_split, "%s", test_split);
    } else if (is_directory(folder, "val")) {
        snprintf(list->test_split, sizeof list->test_split, "val");
    } else if (is_directory(folder, "test")) {
        snprintf(list->test_split, sizeof list->test_split, "test");
    } else {
        return sn_error_set(SN_ERR_FORMAT, "%s: no val/ or test/ folder (name the test split with --test-split)",
                            folder);
    }
    char train_path[4096];
    snprintf(train_path, sizeof train_path, "%s/train", folder);
    int64_t classes = 0;
    int status = list_entries(train_path, 1, &list->class_names, &classes);
    if (status == SN_OK && classes == 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: no class folders", train_path);
    if (status == SN_OK && classes > INT32_MAX)
        status = sn_error_set(SN_ERR_FORMAT, "%s: too many class folders", train_path);
    list->classes = (int)classes;
    if (status == SN_OK)
        status = list_split(folder, "train", list, &list->train);
    if (status == SN_OK && list->train.count == 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: no images in its class folders", train_path);
    if (status == SN_OK)
        status = list_split(folder, list->test_split, list, &list->test);
    if (status == SN_OK && list->test.count == 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s/%s: no images in its class folders", folder, list->test_split);
    if (status != SN_OK)
        sn_image_folder_free(list);
    return status;
}

int sn_image_folder_list(const char *folder, const char *test_split, sn_image_folder *list)
{
    return escape_message(list_folder(folder, test_split, list));
}

/* ---- the same listing on every rank ----------------------------------- */

static int broadcast_file_list(const sn_dist *dist, sn_file_list *files)
{
    int64_t sizes[2] = {files->count, (int64_t)files->names_bytes};
    SN_TRY(sn_dist_broadcast(dist, sizes, sizeof sizes, 0));
    if (dist->rank != 0) {
        files->count = sizes[0];
        files->names_bytes = (size_t)sizes[1];
        files->names = malloc(files->names_bytes ? files->names_bytes : 1);
        files->offsets = malloc((size_t)(files->count ? files->count : 1) * sizeof *files->offsets);
        files->labels = malloc((size_t)(files->count ? files->count : 1) * sizeof *files->labels);
    }
    int ok = files->names && files->offsets && files->labels;
    int status = sn_dist_agree(dist, ok ? SN_OK : sn_error_set(SN_ERR_NOMEM, "out of memory for the file list"));
    if (status != SN_OK)
        return status;
    SN_TRY(sn_dist_broadcast(dist, files->names, files->names_bytes, 0));
    SN_TRY(sn_dist_broadcast(dist, files->labels, (size_t)files->count * sizeof *files->labels, 0));
    if (dist->rank != 0) {
        size_t position = 0;
        for (int64_t i = 0; i < files->count; i++) {
            files->offsets[i] = (int64_t)position;
            position += strlen(files->names + position) + 1;
        }
    }
    return SN_OK;
}

int sn_image_folder_list_on_ranks(const sn_dist *dist, const char *folder, const char *test_split,
                                  sn_image_folder *list)
{
    memset(list, 0, sizeof *list);
    int status = dist->rank == 0 ? sn_image_folder_list(folder, test_split, list) : SN_OK;
    SN_TRY(sn_dist_agree(dist, status));
    if (dist->size == 1)
        return SN_OK;
    /* class names as one NUL-separated block */
    int64_t bytes = 0;
    for (int c = 0; c < list->classes; c++)
        bytes += (int64_t)strlen(list->class_names[c]) + 1;
    int64_t header[2] = {list->classes, bytes};
    status = sn_dist_broadcast(dist, header, sizeof header, 0);
    bytes = header[1];
    char *block = status == SN_OK ? malloc((size_t)bytes) : NULL;
    if (block && dist->rank == 0) {
        size_t position = 0;
        for (int c = 0; c < list->classes; c++) {
            size_t length = strlen(list->class_names[c]) + 1;
            memcpy(block + position, list->class_names[c], length);
            position += length;
        }
    }
    if (status == SN_OK && !block)
        status = sn_error_set(SN_ERR_NOMEM, "out of memory for the class names");
    status = sn_dist_agree(dist, status);
    if (status == SN_OK)
        status = sn_dist_broadcast(dist, block, (size_t)bytes, 0);
    if (status == SN_OK)
        status = sn_dist_broadcast(dist, list->test_split, sizeof list->test_split, 0);
    if (status == SN_OK && dist->rank != 0) {
        list->class_names = calloc((size_t)header[0], sizeof *list->class_names);
        list->classes = (int)header[0];
        size_t position = 0;
        for (int c = 0; list->class_names && c < list->classes; c++) {
            list->class_names[c] = strdup(block + position);
            position += strlen(block + position) + 1;
            if (!list->class_names[c])
                break;
        }
        int ok = list->class_names != NULL;
        for (int c = 0; ok && c < list->classes; c++)
            ok = list->class_names[c] != NULL;
        if (!ok)
            status = sn_error_set(SN_ERR_NOMEM, "out of memory for the class names");
    }
    free(block);
    status = sn_dist_agree(dist, status);
    if (status == SN_OK)
        status = broadcast_file_list(dist, &list->train);
    if (status == SN_OK)
        status = broadcast_file_list(dist, &list->test);
    if (status != SN_OK)
        sn_image_folder_free(list);
    return status;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct {
    const sn_dist *dist;
    const sn_convert_options *options;
    const char *folder;
    const char *temporary;  /* the file being written */
    hid_t file, transfer;   /* transfer: collective under MPI */
    /* per rank, reused in every round */
    uint8_t *images;        /* [batch][S][S][C] */
    int32_t *labels;        /* [batch] */
    int64_t *counts;        /* [ranks] */
    sn_byte_buffer encoded;
    sn_image decoded;
    sn_resize_scratch scratch;
    int64_t skipped_total;  /* this rank's */
} converter;

static int create_split(converter *cv, const char *split, hid_t *images, hid_t *labels)
{
    const int size = cv->options->size, channels = cv->options->channels;
    const int rank = channels == 1 ? 3 : 4;
    hsize_t dims[4] = {0, (hsize_t)size, (hsize_t)size, (hsize_t)channels};
    hsize_t maxdims[4] = {H5S_UNLIMITED, (hsize_t)size, (hsize_t)size, (hsize_t)channels};
    hsize_t chunk[4] = {1, (hsize_t)size, (hsize_t)size, (hsize_t)channels};
    char group_path[16];
    snprintf(group_path, sizeof group_path, "/%s", split);
    *images = *labels = -1;
    hid_t group = H5Gcreate2(cv->file, group_path, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t space = H5Screate_simple(rank, dims, maxdims);
    hid_t create = H5Pcreate(H5P_DATASET_CREATE);
    int ok = group >= 0 && space >= 0 && create >= 0 && H5Pset_chunk(create, rank, chunk) >= 0 &&
             H5Pset_fill_time(create, H5D_FILL_TIME_NEVER) >= 0 &&
             (cv->options->deflate == 0 || H5Pset_deflate(create, (unsigned)cv->options->deflate) >= 0);
    if (ok)
        *images = H5Dcreate2(group, "images", H5T_STD_U8LE, space, H5P_DEFAULT, create, H5P_DEFAULT);
    if (create >= 0)
        H5Pclose(create);
    if (space >= 0)
        H5Sclose(space);
    hsize_t label_dims[1] = {0}, label_max[1] = {H5S_UNLIMITED}, label_chunk[1] = {LABEL_CHUNK};
    space = H5Screate_simple(1, label_dims, label_max);
    create = H5Pcreate(H5P_DATASET_CREATE);
    ok = ok && *images >= 0 && space >= 0 && create >= 0 && H5Pset_chunk(create, 1, label_chunk) >= 0;
    if (ok)
        *labels = H5Dcreate2(group, "labels", H5T_STD_I32LE, space, H5P_DEFAULT, create, H5P_DEFAULT);
    if (create >= 0)
        H5Pclose(create);
    if (space >= 0)
        H5Sclose(space);
    if (group >= 0)
        H5Gclose(group);
    if (ok && *labels >= 0)
        return SN_OK;
    return sn_error_set(SN_ERR_IO, "%s: cannot create /%s/images and /%s/labels", cv->temporary, split, split);
}

/* Extends a dataset from `before` to `before + total` along axis 0 and
 * writes this rank's `mine` rows at `offset` (collective). */
static int append_rows(converter *cv, hid_t dataset, const char *name, hid_t memory_type, int64_t before,
                       int64_t total, int64_t offset, int64_t mine, const void *data)
{
    hsize_t dims[4], maxdims[4];
    hid_t space = H5Dget_space(dataset);
    int rank = space >= 0 ? H5Sget_simple_extent_dims(space, dims, maxdims) : -1;
    if (space >= 0)
        H5Sclose(space);
    if (rank < 1)
        return sn_error_set(SN_ERR_IO, "%s: %s: cannot read its extent", cv->temporary, name);
    dims[0] = (hsize_t)(before + total);
    if (H5Dset_extent(dataset, dims) < 0) {
        char what[300];
        snprintf(what, sizeof what, "%s: cannot extend it to %lld rows", name, (long long)(before + total));
        return sn_write_failed(cv->temporary, what, sn_hdf5_errno());
    }
    hid_t file_space = H5Dget_space(dataset);
    hsize_t start[4] = {(hsize_t)(before + offset), 0, 0, 0};
    hsize_t count[4];
    memcpy(count, dims, sizeof count);
    count[0] = (hsize_t)mine;
    hid_t memory_space = H5Screate_simple(rank, count, NULL);
    int ok = file_space >= 0 && memory_space >= 0;
    if (ok && mine > 0) {
        ok = H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL) >= 0;
    } else if (ok) {
        ok = H5Sselect_none(file_space) >= 0 && H5Sselect_none(memory_space) >= 0;
    }
    /* every rank calls the write, with or without rows (collective) */
    int error = 0;
    if (ok && !(ok = H5Dwrite(dataset, memory_type, memory_space, file_space, cv->transfer, data) >= 0))
        error = sn_hdf5_errno();
    if (memory_space >= 0)
        H5Sclose(memory_space);
    if (file_space >= 0)
        H5Sclose(file_space);
    if (ok)
        return SN_OK;
    char what[300];
    snprintf(what, sizeof what, "%s: cannot write rows %lld..%lld", name, (long long)(before + offset),
             (long long)(before + offset + mine));
    return sn_write_failed(cv->temporary, what, error);
}

/* Decodes files [first, last) of the list into the rank's buffer; returns
 * the count of good images in *good. */
static int decode_block(converter *cv, const sn_file_list *files, int64_t first, int64_t last, int64_t *good)
{
    const int size = cv->options->size, channels = cv->options->channels;
    const size_t image_bytes = (size_t)size * size * channels;
    char path[4096];
    *good = 0;
    for (int64_t i = first; i < last; i++) {
        snprintf(path, sizeof path, "%s/%s", cv->folder, files->names + files->offsets[i]);
        int status = sn_read_file_into(path, MAX_FILE_BYTES, &cv->encoded);
        if (status == SN_OK)
            status = sn_image_decode(cv->encoded.data, cv->encoded.size, path, channels, size, &cv->decoded);
        if (status == SN_OK)
            status = sn_image_resize_crop(cv->decoded.pixels, cv->decoded.width, cv->decoded.height,
                                          channels, size, cv->images + (size_t)*good * image_bytes,
                                          &cv->scratch);
        escape_message(status);
        if (status == SN_ERR_FORMAT && cv->options->on_error == SN_ON_ERROR_SKIP) {
            cv->skipped_total++;
            if (cv->options->skipped)
                cv->options->skipped(cv->options->context, sn_error_message());
            continue;
        }
        if (status != SN_OK)
            return status;
        cv->labels[*good] = files->labels[i];
        (*good)++;
    }
    return SN_OK;
}

static int convert_split(converter *cv, const sn_file_list *files, const char *split, int64_t *written,
                         int64_t *skipped_before)
{
    const sn_dist *dist = cv->dist;
    const int64_t batch = cv->options->batch, ranks = dist->size;
    hid_t images = -1, labels = -1;
    int status = sn_dist_agree(dist, create_split(cv, split, &images, &labels));
    int64_t rows = 0;
    for (int64_t round = 0; status == SN_OK && round < files->count; round += batch * ranks) {
        int64_t first = round + dist->rank * batch, last = first + batch;
        if (first > files->count)
            first = files->count;
        if (last > files->count)
            last = files->count;
        int64_t good = 0;
        status = sn_dist_agree(dist, decode_block(cv, files, first, last, &good));
        if (status != SN_OK)
            break;
        for (int r = 0; r < ranks; r++)
            cv->counts[r] = r == dist->rank ? good : 0;
        status = sn_dist_sum_int64(dist, cv->counts, ranks);
        status = sn_dist_agree(dist, status);
        if (status != SN_OK)
            break;
        int64_t total = 0, offset = 0;
        for (int r = 0; r < ranks; r++) {
            if (r < dist->rank)
                offset += cv->counts[r];
            total += cv->counts[r];
        }
        if (total > 0) {
            char name[32];
            snprintf(name, sizeof name, "/%s/images", split);
            status = append_rows(cv, images, name, H5T_NATIVE_UINT8, rows, total, offset, good, cv->images);
            snprintf(name, sizeof name, "/%s/labels", split);
            int label_status = append_rows(cv, labels, name, H5T_NATIVE_INT32, rows, total, offset, good,
                                           cv->labels);
            status = sn_dist_agree(dist, status != SN_OK ? status : label_status);
            rows += total;
        }
        if (cv->options->progress && dist->rank == 0 && status == SN_OK) {
            int64_t done = round + batch * ranks < files->count ? round + batch * ranks : files->count;
            /* skipped so far: files handled minus rows written */
            sn_convert_progress progress = {split, done, files->count, *skipped_before + (done - rows),
                                            done == files->count};
            cv->options->progress(cv->options->context, &progress);
        }
    }
    if (images >= 0 && H5Dclose(images) < 0 && status == SN_OK)
        status = sn_error_set(SN_ERR_IO, "%s: cannot close /%s/images", cv->temporary, split);
    if (labels >= 0 && H5Dclose(labels) < 0 && status == SN_OK)
        status = sn_error_set(SN_ERR_IO, "%s: cannot close /%s/labels", cv->temporary, split);
    status = sn_dist_agree(dist, status);
    if (status == SN_OK && rows == 0)
        status = sn_dist_agree(dist, dist->rank == 0 ? sn_error_set(SN_ERR_FORMAT,
                                                                    "%s: no %s image could be read (%lld skipped)",
                                                                    cv->folder, split, (long long)files->count)
                                                     : SN_OK);
    *written = rows;
    *skipped_before += files->count - rows;
    return status;
}

/* The root attribute "classes" and the dataset /class_names (fixed-length
 * strings: parallel HDF5 cannot write variable-length data). */
static int write_classes(converter *cv, const sn_image_folder *list)
{
    int32_t classes = list->classes;
    size_t longest = 1;
    for (int c = 0; c < list->classes; c++)
        if (strlen(list->class_names[c]) + 1 > longest)
            longest = strlen(list->class_names[c]) + 1;
    char *names = calloc((size_t)list->classes, longest);
    if (!names)
        return sn_error_set(SN_ERR_NOMEM, "out of memory for the class names");
    for (int c = 0; c < list->classes; c++)
        memcpy(names + (size_t)c * longest, list->class_names[c], strlen(list->class_names[c]));
    hid_t root = H5Gopen2(cv->file, "/", H5P_DEFAULT);
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t attribute = root >= 0 && scalar >= 0
                          ? H5Acreate2(root, "classes", H5T_STD_I32LE, scalar, H5P_DEFAULT, H5P_DEFAULT)
                          : -1;
    int ok = attribute >= 0 && H5Awrite(attribute, H5T_NATIVE_INT32, &classes) >= 0;
    if (attribute >= 0)
        H5Aclose(attribute);
    hsize_t dims[1] = {(hsize_t)list->classes};
    hid_t type = H5Tcopy(H5T_C_S1);
    ok = ok && type >= 0 && H5Tset_size(type, longest) >= 0 && H5Tset_strpad(type, H5T_STR_NULLTERM) >= 0;
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dataset = ok && space >= 0
                        ? H5Dcreate2(cv->file, "class_names", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                        : -1;
    /* every rank writes the same names (collective) */
    ok = ok && dataset >= 0 && H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, cv->transfer, names) >= 0;
    if (dataset >= 0 && H5Dclose(dataset) < 0)
        ok = 0;
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (scalar >= 0)
        H5Sclose(scalar);
    if (root >= 0)
        H5Gclose(root);
    free(names);
    return ok ? SN_OK : sn_error_set(SN_ERR_IO, "%s: cannot write the class names", cv->temporary);
}

static int open_output(converter *cv)
{
    /* the project's access list (the partial name is ours alone), with
     * MPI-IO when the ranks write together */
    hid_t access_list = sn_hdf5_file_access(cv->temporary);
    cv->transfer = H5Pcreate(H5P_DATASET_XFER);
    int ok = access_list >= 0 && cv->transfer >= 0;
    if (ok && cv->dist->mpi)
        ok = H5Pset_fapl_mpio(access_list, cv->dist->comm, MPI_INFO_NULL) >= 0 &&
             H5Pset_dxpl_mpio(cv->transfer, H5FD_MPIO_COLLECTIVE) >= 0 &&
             /* a round's images are many chunks: one MPI-IO call for all */
             H5Pset_dxpl_mpio_chunk_opt(cv->transfer, H5FD_MPIO_CHUNK_ONE_IO) >= 0;
    int status = ok ? sn_hdf5_file_create(cv->temporary, H5F_ACC_TRUNC, H5P_DEFAULT, access_list,
                                          &cv->file)
                    : sn_error_set(SN_ERR_INTERNAL, "%s: cannot set up HDF5 property lists",
                                   cv->temporary);
    if (access_list >= 0)
        H5Pclose(access_list);
    return status;
}

/* ---- reading the class names back ----------------------------------------- */

void sn_image_folder_free_class_names(char **names, int count)
{
    free_names(names, count);
}

/* /class_names of an open file into *names (write_classes's layout). */
static int read_class_names(const char *path, hid_t file, char ***names, int *count)
{
    if (H5Lexists(file, "/class_names", H5P_DEFAULT) <= 0)
        return SN_OK;
    hid_t dataset = H5Dopen2(file, "/class_names", H5P_DEFAULT);
    hid_t type = dataset >= 0 ? H5Dget_type(dataset) : -1;
    hid_t space = dataset >= 0 ? H5Dget_space(dataset) : -1;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    size_t width = type >= 0 && H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) == 0
                       ? H5Tget_size(type)
                       : 0;
    int shaped = n > 0 && n < (1 << 24) && width > 0 && width < 4096;
    char *block = shaped ? calloc((size_t)n, width + 1) : NULL;
    int allocated = block != NULL;
    hid_t memory = block ? H5Tcopy(type) : -1;
    int read = memory >= 0 && H5Tset_size(memory, width + 1) >= 0 &&
               H5Dread(dataset, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, block) >= 0;
    char **list = read ? calloc((size_t)n, sizeof *list) : NULL;
    for (hssize_t c = 0; list && c < n; c++)
        if (!(list[c] = strdup(block + (size_t)c * (width + 1)))) {
            free_names(list, c);
            list = NULL;
        }
    if (memory >= 0)
        H5Tclose(memory);
    free(block);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (dataset >= 0)
        H5Dclose(dataset);
    if (!shaped || (allocated && !read))
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: /class_names is not one fixed-length string per class", path);
    if (!list)
        return sn_error_set(SN_ERR_NOMEM, "%s: out of memory for the class names", path);
    *names = list;
    *count = (int)n;
    return SN_OK;
}

int sn_image_folder_read_class_names(const char *path, char ***names, int *count)
{
    *names = NULL;
    *count = 0;
    sn_hdf5_lock();
    hid_t file = -1;
    int status = sn_hdf5_file_open(path, H5F_ACC_RDONLY, &file);
    if (status == SN_OK) {
        status = read_class_names(path, file, names, count);
        H5Fclose(file);
    }
    sn_hdf5_unlock();
    return status;
}

/* DIR/.NAME.partial beside out_path. */
static int temporary_name(const char *out_path, char *temporary, size_t size)
{
    char copy_dir[4096], copy_base[4096];
    snprintf(copy_dir, sizeof copy_dir, "%s", out_path);
    snprintf(copy_base, sizeof copy_base, "%s", out_path);
    if ((size_t)snprintf(temporary, size, "%s/.%s.partial", dirname(copy_dir), basename(copy_base)) >= size)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: path too long", out_path);
    return SN_OK;
}

/* Makes the finished file durable, then publishes it under out_path
 * without replacing anything there (link fails if out_path appeared). */
static int publish(const char *temporary, const char *out_path)
{
    int fd = open(temporary, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        int status = sn_error_set(SN_ERR_IO, "%s: cannot sync it: %s", temporary, strerror(errno));
        if (fd >= 0)
            close(fd);
        return status;
    }
    close(fd);
    if (link(temporary, out_path) != 0)
        return sn_error_set(SN_ERR_IO, "%s: cannot create it: %s", out_path, strerror(errno));
    unlink(temporary);
    char copy_dir[4096];
    snprintf(copy_dir, sizeof copy_dir, "%s", out_path);
    fd = open(dirname(copy_dir), O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return SN_OK;
}

static int check_options(const sn_convert_options *options)
{
    if (options->size < 1 || options->size > 2048)
        return sn_error_set(SN_ERR_ARGUMENT, "--size %d: must be in [1, 2048]", options->size);
    if (options->channels != 1 && options->channels != 3)
        return sn_error_set(SN_ERR_ARGUMENT, "--channels %d: must be 1 or 3", options->channels);
    if (options->deflate < 0 || options->deflate > 9)
        return sn_error_set(SN_ERR_ARGUMENT, "--deflate %d: must be in [0, 9]", options->deflate);
    if (options->batch < 1 || options->batch > 65536)
        return sn_error_set(SN_ERR_ARGUMENT, "--batch %d: must be in [1, 65536]", options->batch);
    return SN_OK;
}

int sn_image_folder_convert(const sn_dist *dist, const char *folder, const char *out_path,
                            const sn_convert_options *options, sn_convert_result *result)
{
    memset(result, 0, sizeof *result);
    char temporary[4096];
    int status = check_options(options);
    if (status == SN_OK)
        status = temporary_name(out_path, temporary, sizeof temporary);
    struct stat info;
    if (status == SN_OK && dist->rank == 0 && stat(out_path, &info) == 0)
        status = sn_error_set(SN_ERR_IO, "%s: already exists; not overwriting it", out_path);
    SN_TRY(sn_dist_agree(dist, status));

    sn_image_folder list;
    SN_TRY(sn_image_folder_list_on_ranks(dist, folder, options->test_split, &list));
    converter cv;
    memset(&cv, 0, sizeof cv);
    cv.dist = dist;
    cv.options = options;
    cv.folder = folder;
    cv.temporary = temporary;
    cv.file = cv.transfer = -1;
    const size_t image_bytes = (size_t)options->size * options->size * options->channels;
    cv.images = malloc((size_t)options->batch * image_bytes);
    cv.labels = malloc((size_t)options->batch * sizeof *cv.labels);
    cv.counts = malloc((size_t)dist->size * sizeof *cv.counts);
    status = cv.images && cv.labels && cv.counts
                 ? SN_OK
                 : sn_error_set(SN_ERR_NOMEM, "cannot allocate %d images of %zu bytes", options->batch,
                                image_bytes);
    status = sn_dist_agree(dist, status);
    if (status == SN_OK)
        status = sn_dist_agree(dist, open_output(&cv));
    int64_t skipped = 0;
    if (status == SN_OK)
        status = convert_split(&cv, &list.train, "train", &result->train_count, &skipped);
    result->train_skipped = skipped;
    if (status == SN_OK)
        status = convert_split(&cv, &list.test, "test", &result->test_count, &skipped);
    result->test_skipped = skipped - result->train_skipped;
    if (status == SN_OK)
        status = sn_dist_agree(dist, write_classes(&cv, &list));
    result->classes = list.classes;
    /* A failed run's file is worthless: emptying it first frees the space a
     * full disk needs for HDF5's final metadata flush. (If that flush fails
     * all the same, HDF5 1.10.8 keeps the file half closed and crashes
     * closing it again at exit; without the space it needs no call helps.) */
    if (status != SN_OK && dist->rank == 0 && cv.file >= 0)
        (void)truncate(temporary, 0);
    if (cv.file >= 0 && H5Fclose(cv.file) < 0 && status == SN_OK)
        status = sn_write_failed(temporary, "cannot close (flush) it", sn_hdf5_errno());
    if (cv.transfer >= 0)
        H5Pclose(cv.transfer);
    status = sn_dist_agree(dist, status);
    if (status == SN_OK)
        status = sn_dist_agree(dist, dist->rank == 0 ? publish(temporary, out_path) : SN_OK);
    if (status != SN_OK && dist->rank == 0)
        unlink(temporary); /* nothing half-written stays behind */
    free(cv.images);
    free(cv.labels);
    free(cv.counts);
    sn_byte_buffer_free(&cv.encoded);
    sn_image_free(&cv.decoded);
    sn_resize_scratch_free(&cv.scratch);
    sn_image_folder_free(&list);
    return status;
}
