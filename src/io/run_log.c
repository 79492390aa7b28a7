/* The run log (layout in shiftnas/runfiles.h and doc/run-files.md): one row
 * per trained subnet and one per probability update, in extendible datasets
 * that h5py can read while the run goes on.
 *
 * Subnet rows arrive once per training step, so they are buffered and written
 * SN_RUN_LOG_BUFFER_ROWS at a time (the chunk length), with no allocation per
 * row. Updates are rare and are written at once. Every dataset of a group is
 * extended to the same length in one write, so after a flush the groups'
 * datasets agree on their lengths. */
#include "hdf5_file.h"
#include "hdf5_lock.h"
#include "write_failure.h"
#include "shiftnas/error.h"
#include "shiftnas/runfiles.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_FORMAT "shiftnas-log"
#define LOG_VERSION 1

/* drawn_bucket came last (logs written before it lack it: read as -1). */
enum { SUBNET_STEP, SUBNET_SLOT, SUBNET_BUCKET, SUBNET_TARGET_MACS, SUBNET_MACS, SUBNET_LOSS,
       SUBNET_DRAWN_BUCKET, SUBNET_COLUMNS };
enum { UPDATE_BETA, UPDATE_PROBABILITY, UPDATE_STATISTIC, UPDATE_VALIDATION_LOSS, UPDATE_COLUMNS };

static const char *const subnet_names[SUBNET_COLUMNS] = {"step", "slot", "bucket", "target_macs",
                                                         "macs", "loss", "drawn_bucket"};
static const char *const update_names[UPDATE_COLUMNS] = {"beta", "probability", "statistic",
                                                         "validation_loss"};

struct sn_run_log {
    char *path;
    hid_t file;
    hid_t subnet_sets[SUBNET_COLUMNS];
    hid_t update_step_set;
    hid_t update_sets[UPDATE_COLUMNS];
    int buckets;
    int broken;               /* a write failed: the datasets may disagree */
    int64_t subnet_rows;      /* rows on file */
    int64_t update_rows;
    int buffered;             /* rows waiting in the buffers below */
    int64_t *step;            /* [SN_RUN_LOG_BUFFER_ROWS] each */
    int32_t *slot, *bucket;
    double *target_macs;
    int64_t *macs;
    double *loss;
    int32_t *drawn_bucket;
    double *nan_row;          /* [K]: validation_loss when none is given */
};

static int write_attribute(const sn_run_log *log, const char *name, hid_t file_type, hid_t memory_type,
                           hid_t space, const void *value)
{
    hid_t attribute = space >= 0 ? H5Acreate2(log->file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT)
                                 : -1;
    int ok = attribute >= 0 && H5Awrite(attribute, memory_type, value) >= 0;
    if (attribute >= 0 && H5Aclose(attribute) < 0)
        ok = 0;
    return ok ? SN_OK : sn_error_set(SN_ERR_IO, "%s: attribute %s: cannot write it", log->path, name);
}

static int write_root_attributes(const sn_run_log *log, const char *strategy, const int64_t *bucket_edges)
{
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t text = H5Tcopy(H5T_C_S1);
    if (text >= 0 && (H5Tset_size(text, H5T_VARIABLE) < 0 || H5Tset_cset(text, H5T_CSET_UTF8) < 0)) {
        H5Tclose(text);
        text = -1;
    }
    const char *format = LOG_FORMAT;
    const int version = LOG_VERSION;
    int status = text >= 0 ? write_attribute(log, "format", text, text, scalar, &format)
                           : sn_error_set(SN_ERR_INTERNAL, "%s: cannot make a string type", log->path);
    if (status == SN_OK)
        status = write_attribute(log, "version", H5T_STD_I32LE, H5T_NATIVE_INT, scalar, &version);
    if (status == SN_OK)
        status = write_attribute(log, "strategy", text, text, scalar, &strategy);
    if (status == SN_OK)
        status = write_attribute(log, "buckets", H5T_STD_I32LE, H5T_NATIVE_INT, scalar, &log->buckets);
    if (status == SN_OK) {
        /* K + 1 edges, or none at all without buckets. */
        hsize_t count = log->buckets > 0 ? (hsize_t)log->buckets + 1 : 0;
        const int64_t none = 0;
        hid_t edges_space = H5Screate_simple(1, &count, NULL);
        status = write_attribute(log, "bucket_edges", H5T_STD_I64LE, H5T_NATIVE_INT64, edges_space,
                                 log->buckets > 0 ? (const void *)bucket_edges : (const void *)&none);
        if (edges_space >= 0)
            H5Sclose(edges_space);
    }
    if (text >= 0)
        H5Tclose(text);
    if (scalar >= 0)
        H5Sclose(scalar);
    return status;
}

/* An empty dataset of rank 1 ([0]) or 2 ([0, columns]) that grows along its
 * first axis, chunked by chunk_rows rows. */
static hid_t create_extendible(hid_t group, const char *name, hid_t type, int rank, hsize_t columns,
                               hsize_t chunk_rows)
{
    hsize_t dims[2] = {0, columns}, maxdims[2] = {H5S_UNLIMITED, columns};
    /* A chunk cannot exceed a fixed axis, and a zero-width axis (no buckets)
     * cannot be chunked: there the width is left unlimited. */
    hsize_t chunk[2] = {chunk_rows, columns > 0 ? columns : 1};
    if (rank == 2 && columns == 0)
        maxdims[1] = H5S_UNLIMITED;
    hid_t space = H5Screate_simple(rank, dims, maxdims);
    hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    hid_t dataset = -1;
    if (space >= 0 && plist >= 0 && H5Pset_chunk(plist, rank, chunk) >= 0)
        dataset = H5Dcreate2(group, name, type, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    if (plist >= 0)
        H5Pclose(plist);
    if (space >= 0)
        H5Sclose(space);
    return dataset;
}

static int create_datasets(sn_run_log *log)
{
    const hid_t subnet_types[SUBNET_COLUMNS] = {H5T_STD_I64LE, H5T_STD_I32LE,  H5T_STD_I32LE,
                                                H5T_IEEE_F64LE, H5T_STD_I64LE, H5T_IEEE_F64LE,
                                                H5T_STD_I32LE};
    hid_t group = H5Gcreate2(log->file, "subnets", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (group < 0)
        return sn_error_set(SN_ERR_IO, "%s: group subnets: cannot create it", log->path);
    for (int c = 0; c < SUBNET_COLUMNS; c++) {
        log->subnet_sets[c] = create_extendible(group, subnet_names[c], subnet_types[c], 1, 0,
                                                SN_RUN_LOG_BUFFER_ROWS);
        if (log->subnet_sets[c] < 0) {
            H5Gclose(group);
            return sn_error_set(SN_ERR_IO, "%s: dataset subnets/%s: cannot create it", log->path,
                                subnet_names[c]);
        }
    }
    H5Gclose(group);
    group = H5Gcreate2(log->file, "updates", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (group < 0)
        return sn_error_set(SN_ERR_IO, "%s: group updates: cannot create it", log->path);
    /* About 64 KiB per chunk: updates come a few hundred per run. */
    const hsize_t columns = (hsize_t)log->buckets;
    const hsize_t chunk_rows = columns > 0 && 8192 / columns > 16 ? 8192 / columns : 16;
    log->update_step_set = create_extendible(group, "step", H5T_STD_I64LE, 1, 0, 1024);
    if (log->update_step_set < 0) {
        H5Gclose(group);
        return sn_error_set(SN_ERR_IO, "%s: dataset updates/step: cannot create it", log->path);
    }
    for (int c = 0; c < UPDATE_COLUMNS; c++) {
        log->update_sets[c] = create_extendible(group, update_names[c], H5T_IEEE_F64LE, 2, columns,
                                                chunk_rows);
        if (log->update_sets[c] < 0) {
            H5Gclose(group);
            return sn_error_set(SN_ERR_IO, "%s: dataset updates/%s: cannot create it", log->path,
                                update_names[c]);
        }
    }
    H5Gclose(group);
    return SN_OK;
}

/* Releases everything; returns the first failure of closing the file. */
static int destroy(sn_run_log *log)
{
    int status = SN_OK;
    for (int c = 0; c < SUBNET_COLUMNS; c++)
        if (log->subnet_sets[c] >= 0)
            H5Dclose(log->subnet_sets[c]);
    if (log->update_step_set >= 0)
        H5Dclose(log->update_step_set);
    for (int c = 0; c < UPDATE_COLUMNS; c++)
        if (log->update_sets[c] >= 0)
            H5Dclose(log->update_sets[c]);
    if (log->file >= 0)
        status = sn_hdf5_memory_file_close(log->file, log->path);
    free(log->path);
    free(log->step);
    free(log->slot);
    free(log->bucket);
    free(log->target_macs);
    free(log->macs);
    free(log->loss);
    free(log->drawn_bucket);
    free(log->nan_row);
    free(log);
    return status;
}

/* A log handle with every buffer allocated and no HDF5 object open yet;
 * NULL (message set) when memory runs out. Shared by create and
 * open_append. */
static sn_run_log *allocate_log(const char *path, int buckets)
{
    sn_run_log *log = calloc(1, sizeof *log);
    if (!log) {
        sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate the run log", path);
        return NULL;
    }
    log->file = log->update_step_set = -1;
    for (int c = 0; c < SUBNET_COLUMNS; c++)
        log->subnet_sets[c] = -1;
    for (int c = 0; c < UPDATE_COLUMNS; c++)
        log->update_sets[c] = -1;
    log->buckets = buckets;
    const size_t rows = SN_RUN_LOG_BUFFER_ROWS;
    log->path = strdup(path);
    log->step = malloc(rows * sizeof *log->step);
    log->slot = malloc(rows * sizeof *log->slot);
    log->bucket = malloc(rows * sizeof *log->bucket);
    log->target_macs = malloc(rows * sizeof *log->target_macs);
    log->macs = malloc(rows * sizeof *log->macs);
    log->loss = malloc(rows * sizeof *log->loss);
    log->drawn_bucket = malloc(rows * sizeof *log->drawn_bucket);
    log->nan_row = malloc((size_t)(buckets > 0 ? buckets : 1) * sizeof *log->nan_row);
    if (!log->path || !log->step || !log->slot || !log->bucket || !log->target_macs || !log->macs ||
        !log->loss || !log->drawn_bucket || !log->nan_row) {
        destroy(log);
        sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate the run log's buffers", path);
        return NULL;
    }
    for (int k = 0; k < buckets; k++)
        log->nan_row[k] = NAN;
    return log;
}

/* The log as it is in memory replaces the file (hdf5_file.h says why in
 * memory): written to PATH.tmp, synced, renamed over PATH, so a reader
 * meets the old log or the new one, never a half-written one. */
static int save(const sn_run_log *log)
{
    size_t length = strlen(log->path);
    char *temporary = malloc(length + 5);
    if (!temporary)
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate a path", log->path);
    memcpy(temporary, log->path, length);
    memcpy(temporary + length, ".tmp", 5);
    int status = sn_hdf5_memory_file_save(log->file, temporary, 1);
    if (status == SN_OK && rename(temporary, log->path) != 0) {
        status = sn_write_failed(log->path, "cannot rename the new log over it", errno);
        unlink(temporary);
    }
    free(temporary);
    return status;
}

static int sn_run_log_create_unlocked(sn_run_log **out, const char *path, const char *strategy, int buckets,
                      const int64_t *bucket_edges)
{
    if (!out)
        return sn_error_set(SN_ERR_ARGUMENT, "run log: nowhere to put the handle");
    *out = NULL;
    if (!path || !*path || !strategy)
        return sn_error_set(SN_ERR_ARGUMENT, "run log %s: no path or strategy given", path ? path : "");
    if (buckets < 0 || (buckets > 0 && !bucket_edges))
        return sn_error_set(SN_ERR_ARGUMENT, "%s: %d buckets %s", path, buckets,
                            buckets < 0 ? "(must be >= 0)" : "without their edges");
    struct stat info;
    if (lstat(path, &info) == 0)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: already exists; a run log is never overwritten", path);
    sn_run_log *log = allocate_log(path, buckets);
    if (!log)
        return SN_ERR_NOMEM;

    /* Built in memory and saved whole at every flush: h5py can open the
     * log while the run writes it (hdf5_file.h). */
    int status = sn_hdf5_memory_file_create(path, H5P_DEFAULT, &log->file);
    if (status != SN_OK) {
        destroy(log);
        return status;
    }
    status = write_root_attributes(log, strategy, bucket_edges);
    if (status == SN_OK)
        status = create_datasets(log);
    if (status == SN_OK)
        status = save(log);
    if (status != SN_OK) {
        destroy(log);
        remove(path); /* a log without its datasets would only mislead */
        return status;
    }
    *out = log;
    return SN_OK;
}

/* ---- reading: shared by open_append and sn_run_log_read ------------------- */

/* The number of rows of an extendible dataset (its first axis). */
static int dataset_rows(const char *path, hid_t dataset, const char *name, int64_t *rows)
{
    hsize_t dims[2] = {0, 0};
    hid_t space = H5Dget_space(dataset);
    int rank = space >= 0 ? H5Sget_simple_extent_dims(space, dims, NULL) : -1;
    if (space >= 0)
        H5Sclose(space);
    if (rank < 1)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset %s: cannot read its shape", path, name);
    *rows = (int64_t)dims[0];
    return SN_OK;
}

static int read_int_attribute(const char *path, hid_t file, const char *name, int *value)
{
    hid_t attribute = H5Aopen(file, name, H5P_DEFAULT);
    int ok = attribute >= 0 && H5Aread(attribute, H5T_NATIVE_INT, value) >= 0;
    if (attribute >= 0)
        H5Aclose(attribute);
    return ok ? SN_OK : sn_error_set(SN_ERR_FORMAT, "%s: attribute %s: missing or unreadable",
                                     path, name);
}

static int read_text_attribute(const char *path, hid_t file, const char *name, char *out,
                               size_t size)
{
    hid_t attribute = H5Aopen(file, name, H5P_DEFAULT);
    hid_t type = attribute >= 0 ? H5Aget_type(attribute) : -1;
    int ok = 0;
    if (type >= 0 && H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) > 0) {
        char *value = NULL;
        if (H5Aread(attribute, type, &value) >= 0 && value) {
            ok = snprintf(out, size, "%s", value) < (int)size;
            H5free_memory(value);
        }
    }
    if (type >= 0)
        H5Tclose(type);
    if (attribute >= 0)
        H5Aclose(attribute);
    return ok ? SN_OK : sn_error_set(SN_ERR_FORMAT, "%s: attribute %s: missing or unreadable",
                                     path, name);
}

/* The root attributes: a shiftnas log of our version, its strategy and K. */
static int read_header(const char *path, hid_t file, char *strategy, size_t size, int *buckets)
{
    char format[64];
    int version = 0;
    SN_TRY(read_text_attribute(path, file, "format", format, sizeof format));
    if (strcmp(format, LOG_FORMAT) != 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: not a shiftnas run log (format '%s')", path, format);
    SN_TRY(read_int_attribute(path, file, "version", &version));
    if (version != LOG_VERSION)
        return sn_error_set(SN_ERR_FORMAT, "%s: run log version %d (this shiftnas writes %d)", path,
                            version, LOG_VERSION);
    SN_TRY(read_text_attribute(path, file, "strategy", strategy, size));
    SN_TRY(read_int_attribute(path, file, "buckets", buckets));
    if (*buckets < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: attribute buckets = %d is negative", path, *buckets);
    return SN_OK;
}

static int sn_run_log_open_append_unlocked(sn_run_log **out, const char *path, const char *strategy, int buckets)
{
    if (!out || !path || !strategy || buckets < 0)
        return sn_error_set(SN_ERR_ARGUMENT, "run log: bad arguments to open for appending");
    *out = NULL;
    sn_run_log *log = allocate_log(path, buckets);
    if (!log)
        return SN_ERR_NOMEM;

    int opened = sn_hdf5_memory_file_open(path, &log->file);
    if (opened != SN_OK) {
        destroy(log);
        return opened;
    }
    char stored_strategy[64];
    int stored_buckets = -1;
    int status = read_header(path, log->file, stored_strategy, sizeof stored_strategy, &stored_buckets);
    if (status == SN_OK && (strcmp(stored_strategy, strategy) != 0 || stored_buckets != buckets))
        status = sn_error_set(SN_ERR_FORMAT, "%s: a log of strategy %s with %d buckets, not %s with %d",
                              path, stored_strategy, stored_buckets, strategy, buckets);
    char name[64];
    for (int c = 0; status == SN_OK && c < SUBNET_COLUMNS; c++) {
        snprintf(name, sizeof name, "subnets/%s", subnet_names[c]);
        log->subnet_sets[c] = H5Dopen2(log->file, name, H5P_DEFAULT);
        int64_t n = 0;
        /* A log from before drawn_bucket can be read (-1), not extended:
         * its bucket column holds the drawn buckets, the new rows would
         * hold the actual ones. */
        if (log->subnet_sets[c] < 0 && c == SUBNET_DRAWN_BUCKET)
            status = sn_error_set(SN_ERR_FORMAT,
                                  "%s: dataset %s is missing (a log of an older shiftnas, whose "
                                  "bucket column means the drawn bucket): finish the run with "
                                  "the shiftnas that started it",
                                  path, name);
        else
            status = log->subnet_sets[c] < 0
                         ? sn_error_set(SN_ERR_FORMAT, "%s: dataset %s is missing", path, name)
                         : dataset_rows(path, log->subnet_sets[c], name, &n);
        if (status == SN_OK && c > 0 && n != log->subnet_rows)
            status = sn_error_set(SN_ERR_FORMAT, "%s: the subnets datasets differ in length", path);
        log->subnet_rows = n;
    }
    if (status == SN_OK) {
        log->update_step_set = H5Dopen2(log->file, "updates/step", H5P_DEFAULT);
        status = log->update_step_set < 0
                     ? sn_error_set(SN_ERR_FORMAT, "%s: dataset updates/step is missing", path)
                     : dataset_rows(path, log->update_step_set, "updates/step", &log->update_rows);
    }
    for (int c = 0; status == SN_OK && c < UPDATE_COLUMNS; c++) {
        snprintf(name, sizeof name, "updates/%s", update_names[c]);
        log->update_sets[c] = H5Dopen2(log->file, name, H5P_DEFAULT);
        int64_t n = 0;
        status = log->update_sets[c] < 0
                     ? sn_error_set(SN_ERR_FORMAT, "%s: dataset %s is missing", path, name)
                     : dataset_rows(path, log->update_sets[c], name, &n);
        if (status == SN_OK && n != log->update_rows)
            status = sn_error_set(SN_ERR_FORMAT, "%s: the updates datasets differ in length", path);
    }
    if (status != SN_OK) {
        destroy(log);
        return status;
    }
    *out = log;
    return SN_OK;
}

/* A column of the log into a malloc'd buffer of memory_type: rank 1, or
 * rank 2 with exactly `columns` columns (0 without buckets); *rows its
 * length. */
static int read_column(const char *path, hid_t file, const char *name, hid_t memory_type,
                       size_t element, int rank, int columns, void **data, int64_t *rows)
{
    *data = NULL;
    *rows = 0;
    hid_t set = H5Dopen2(file, name, H5P_DEFAULT);
    if (set < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset %s is missing", path, name);
    hid_t space = H5Dget_space(set);
    hsize_t dims[2] = {0, 0};
    int status = SN_OK;
    if (space < 0 || H5Sget_simple_extent_ndims(space) != rank ||
        H5Sget_simple_extent_dims(space, dims, NULL) < 0 || (rank == 2 && dims[1] != (hsize_t)columns))
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s has an unexpected shape", path, name);
    const size_t values = (size_t)dims[0] * (size_t)(rank == 2 ? columns : 1);
    if (status == SN_OK && !(*data = malloc(element * (values > 0 ? values : 1))))
        status = sn_error_set(SN_ERR_NOMEM, "%s: no memory for dataset %s", path, name);
    if (status == SN_OK && values > 0 &&
        H5Dread(set, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s cannot be read", path, name);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(set);
    if (status != SN_OK) {
        free(*data);
        *data = NULL;
        return status;
    }
    *rows = (int64_t)dims[0];
    return SN_OK;
}

static int read_bucket_edges(const char *path, hid_t file, sn_run_log_data *data)
{
    if (data->buckets == 0)
        return SN_OK;
    data->bucket_edges = malloc(sizeof *data->bucket_edges * ((size_t)data->buckets + 1));
    if (!data->bucket_edges)
        return sn_error_set(SN_ERR_NOMEM, "%s: no memory for %d bucket edges", path, data->buckets);
    hid_t attribute = H5Aopen(file, "bucket_edges", H5P_DEFAULT);
    hid_t space = attribute >= 0 ? H5Aget_space(attribute) : -1;
    int ok = space >= 0 && H5Sget_simple_extent_npoints(space) == (hssize_t)data->buckets + 1 &&
             H5Aread(attribute, H5T_NATIVE_INT64, data->bucket_edges) >= 0;
    if (space >= 0)
        H5Sclose(space);
    if (attribute >= 0)
        H5Aclose(attribute);
    return ok ? SN_OK
              : sn_error_set(SN_ERR_FORMAT, "%s: attribute bucket_edges is not K + 1 = %d values",
                             path, data->buckets + 1);
}

/* A log written before the drawn_bucket column: none recorded (-1). */
static int missing_drawn_buckets(const char *path, sn_run_log_data *data)
{
    size_t rows = (size_t)data->subnet_count;
    data->subnet_drawn_bucket = malloc(sizeof *data->subnet_drawn_bucket * (rows > 0 ? rows : 1));
    if (!data->subnet_drawn_bucket)
        return sn_error_set(SN_ERR_NOMEM, "%s: no memory for %zu drawn buckets", path, rows);
    for (size_t i = 0; i < rows; i++)
        data->subnet_drawn_bucket[i] = -1;
    return SN_OK;
}

static int read_data(const char *path, hid_t file, sn_run_log_data *data)
{
    SN_TRY(read_header(path, file, data->strategy, sizeof data->strategy, &data->buckets));
    SN_TRY(read_bucket_edges(path, file, data));
    void **subnet_columns[SUBNET_COLUMNS] = {
        (void **)&data->subnet_step, (void **)&data->subnet_slot, (void **)&data->subnet_bucket,
        (void **)&data->subnet_target_macs, (void **)&data->subnet_macs, (void **)&data->subnet_loss,
        (void **)&data->subnet_drawn_bucket};
    const hid_t subnet_types[SUBNET_COLUMNS] = {H5T_NATIVE_INT64,  H5T_NATIVE_INT32, H5T_NATIVE_INT32,
                                                H5T_NATIVE_DOUBLE, H5T_NATIVE_INT64, H5T_NATIVE_DOUBLE,
                                                H5T_NATIVE_INT32};
    const size_t subnet_sizes[SUBNET_COLUMNS] = {8, 4, 4, 8, 8, 8, 4};
    char name[64];
    for (int c = 0; c < SUBNET_COLUMNS; c++) {
        int64_t rows = 0;
        snprintf(name, sizeof name, "subnets/%s", subnet_names[c]);
        if (c == SUBNET_DRAWN_BUCKET && H5Lexists(file, name, H5P_DEFAULT) <= 0) {
            SN_TRY(missing_drawn_buckets(path, data));
            continue;
        }
        SN_TRY(read_column(path, file, name, subnet_types[c], subnet_sizes[c], 1, 0,
                           subnet_columns[c], &rows));
        if (c > 0 && rows != data->subnet_count)
            return sn_error_set(SN_ERR_FORMAT, "%s: the subnets datasets differ in length", path);
        data->subnet_count = rows;
    }
    SN_TRY(read_column(path, file, "updates/step", H5T_NATIVE_INT64, sizeof(int64_t), 1, 0,
                       (void **)&data->update_step, &data->update_count));
    double **update_columns[UPDATE_COLUMNS] = {&data->update_beta, &data->update_probability,
                                               &data->update_statistic,
                                               &data->update_validation_loss};
    for (int c = 0; c < UPDATE_COLUMNS; c++) {
        int64_t rows = 0;
        snprintf(name, sizeof name, "updates/%s", update_names[c]);
        SN_TRY(read_column(path, file, name, H5T_NATIVE_DOUBLE, sizeof(double), 2, data->buckets,
                           (void **)update_columns[c], &rows));
        if (rows != data->update_count)
            return sn_error_set(SN_ERR_FORMAT, "%s: the updates datasets differ in length", path);
    }
    return SN_OK;
}

void sn_run_log_data_free(sn_run_log_data *data)
{
    if (!data)
        return;
    free(data->bucket_edges);
    free(data->subnet_step);
    free(data->subnet_slot);
    free(data->subnet_bucket);
    free(data->subnet_target_macs);
    free(data->subnet_macs);
    free(data->subnet_loss);
    free(data->subnet_drawn_bucket);
    free(data->update_step);
    free(data->update_beta);
    free(data->update_probability);
    free(data->update_statistic);
    free(data->update_validation_loss);
    memset(data, 0, sizeof *data);
}

int sn_run_log_read(const char *path, sn_run_log_data *data)
{
    memset(data, 0, sizeof *data);
    if (!path || !*path)
        return sn_error_set(SN_ERR_ARGUMENT, "run log: no path given");
    sn_hdf5_lock();
    hid_t file = -1;
    int status = sn_hdf5_file_open(path, H5F_ACC_RDONLY, &file);
    if (status == SN_OK) {
        status = read_data(path, file, data);
        H5Fclose(file);
    }
    sn_hdf5_unlock();
    if (status != SN_OK)
        sn_run_log_data_free(data);
    return status;
}

/* Appends rows [first, first + count) of a column: extend, then write the
 * new rows' hyperslab from memory of the given type. For 2-D datasets each
 * row holds `columns` values. */
static int append_rows(const sn_run_log *log, hid_t dataset, const char *group, const char *name,
                       hid_t memory_type, int rank, hsize_t columns, hsize_t first, hsize_t count,
                       const void *data)
{
    hsize_t dims[2] = {first + count, columns}, start[2] = {first, 0}, size[2] = {count, columns};
    int ok = H5Dset_extent(dataset, dims) >= 0;
    if (ok && count > 0 && (rank == 1 || columns > 0)) {
        hid_t file_space = H5Dget_space(dataset);
        hid_t memory_space = H5Screate_simple(rank, size, NULL);
        ok = file_space >= 0 && memory_space >= 0 &&
             H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, size, NULL) >= 0 &&
             H5Dwrite(dataset, memory_type, memory_space, file_space, H5P_DEFAULT, data) >= 0;
        if (memory_space >= 0)
            H5Sclose(memory_space);
        if (file_space >= 0)
            H5Sclose(file_space);
    }
    return ok ? SN_OK
              : sn_error_set(SN_ERR_IO, "%s: dataset %s/%s: cannot append %llu rows", log->path, group, name,
                             (unsigned long long)count);
}

static int check_usable(const sn_run_log *log)
{
    if (!log)
        return sn_error_set(SN_ERR_ARGUMENT, "run log: NULL handle");
    if (log->broken)
        return sn_error_set(SN_ERR_IO, "%s: unusable after an earlier write failure", log->path);
    return SN_OK;
}

static int write_subnet_rows(sn_run_log *log)
{
    if (log->buffered == 0)
        return SN_OK;
    const void *columns[SUBNET_COLUMNS] = {log->step,        log->slot, log->bucket,
                                           log->target_macs, log->macs, log->loss,
                                           log->drawn_bucket};
    const hid_t memory_types[SUBNET_COLUMNS] = {H5T_NATIVE_INT64,  H5T_NATIVE_INT32, H5T_NATIVE_INT32,
                                                H5T_NATIVE_DOUBLE, H5T_NATIVE_INT64, H5T_NATIVE_DOUBLE,
                                                H5T_NATIVE_INT32};
    for (int c = 0; c < SUBNET_COLUMNS; c++) {
        int status = append_rows(log, log->subnet_sets[c], "subnets", subnet_names[c], memory_types[c], 1,
                                 0, (hsize_t)log->subnet_rows, (hsize_t)log->buffered, columns[c]);
        if (status != SN_OK) {
            log->broken = 1;
            return status;
        }
    }
    log->subnet_rows += log->buffered;
    log->buffered = 0;
    return SN_OK;
}

static int sn_run_log_subnet_unlocked(sn_run_log *log, int64_t step, int slot, int bucket,
                                      int drawn_bucket, double target_macs, int64_t macs, double loss)
{
    SN_TRY(check_usable(log));
    if (bucket < -1 || bucket >= log->buckets)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: subnet at step %lld: bucket %d outside -1..%d", log->path,
                            (long long)step, bucket, log->buckets - 1);
    if (drawn_bucket < -1 || drawn_bucket >= log->buckets)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: subnet at step %lld: drawn bucket %d outside -1..%d",
                            log->path, (long long)step, drawn_bucket, log->buckets - 1);
    if (log->buffered == SN_RUN_LOG_BUFFER_ROWS)
        SN_TRY(write_subnet_rows(log));
    const int row = log->buffered++;
    log->step[row] = step;
    log->slot[row] = slot;
    log->bucket[row] = bucket;
    log->target_macs[row] = target_macs;
    log->macs[row] = macs;
    log->loss[row] = loss;
    log->drawn_bucket[row] = drawn_bucket;
    return SN_OK;
}

static int sn_run_log_update_unlocked(sn_run_log *log, int64_t step, const double *beta, const double *probability,
                      const double *statistic, const double *validation_loss)
{
    SN_TRY(check_usable(log));
    if (log->buckets > 0 && (!beta || !probability || !statistic))
        return sn_error_set(SN_ERR_ARGUMENT, "%s: update at step %lld: missing beta, probability or statistic",
                            log->path, (long long)step);
    const double *rows[UPDATE_COLUMNS] = {beta, probability, statistic,
                                          validation_loss ? validation_loss : log->nan_row};
    const hsize_t first = (hsize_t)log->update_rows, columns = (hsize_t)log->buckets;
    int status = append_rows(log, log->update_step_set, "updates", "step", H5T_NATIVE_INT64, 1, 0, first,
                             1, &step);
    for (int c = 0; c < UPDATE_COLUMNS && status == SN_OK; c++)
        status = append_rows(log, log->update_sets[c], "updates", update_names[c], H5T_NATIVE_DOUBLE, 2,
                             columns, first, 1, rows[c]);
    if (status != SN_OK) {
        log->broken = 1;
        return status;
    }
    log->update_rows++;
    return SN_OK;
}

const char *sn_run_log_path(const sn_run_log *log)
{
    return log->path;
}

static int sn_run_log_flush_unlocked(sn_run_log *log)
{
    SN_TRY(check_usable(log));
    SN_TRY(write_subnet_rows(log));
    int status = save(log);
    if (status != SN_OK)
        log->broken = 1; /* the file on disk is the previous flush's */
    return status;
}

static int sn_run_log_close_unlocked(sn_run_log *log)
{
    if (!log)
        return SN_OK;
    /* A broken log already reported its failure; closing still says that
     * the buffered rows never reached the file. */
    int status = log->broken ? sn_error_set(SN_ERR_IO, "%s: closed after a write failure: %d buffered rows lost",
                                            log->path, log->buffered)
                             : sn_run_log_flush(log);
    int closed = destroy(log);
    return status != SN_OK ? status : closed;
}

/* ---- the public entries hold the HDF5 lock (src/io/hdf5_lock.h) ---- */

int sn_run_log_create(sn_run_log **out, const char *path, const char *strategy, int buckets,
                      const int64_t *bucket_edges)
{
    sn_hdf5_lock();
    int status = sn_run_log_create_unlocked(out, path, strategy, buckets, bucket_edges);
    sn_hdf5_unlock();
    return status;
}

int sn_run_log_open_append(sn_run_log **out, const char *path, const char *strategy, int buckets)
{
    sn_hdf5_lock();
    int status = sn_run_log_open_append_unlocked(out, path, strategy, buckets);
    sn_hdf5_unlock();
    return status;
}

int sn_run_log_subnet(sn_run_log *log, int64_t step, int slot, int bucket, int drawn_bucket,
                      double target_macs, int64_t macs, double loss)
{
    sn_hdf5_lock();
    int status = sn_run_log_subnet_unlocked(log, step, slot, bucket, drawn_bucket, target_macs, macs,
                                            loss);
    sn_hdf5_unlock();
    return status;
}

int sn_run_log_update(sn_run_log *log, int64_t step, const double *beta, const double *probability,
                      const double *statistic, const double *validation_loss)
{
    sn_hdf5_lock();
    int status = sn_run_log_update_unlocked(log, step, beta, probability, statistic, validation_loss);
    sn_hdf5_unlock();
    return status;
}

int sn_run_log_flush(sn_run_log *log)
{
    sn_hdf5_lock();
    int status = sn_run_log_flush_unlocked(log);
    sn_hdf5_unlock();
    return status;
}

int sn_run_log_close(sn_run_log *log)
{
    sn_hdf5_lock();
    int status = sn_run_log_close_unlocked(log);
    sn_hdf5_unlock();
    return status;
}
