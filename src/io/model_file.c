/* The model file (layout in shiftnas/runfiles.h and doc/run-files.md):
 * trained weights, written atomically, read back with every entry checked.
 *
 * A model file may have been copied, truncated or edited by hand, so reading
 * checks the format attributes, every entry's type and shape against the
 * table, the values' finiteness and that no foreign entry is present; every
 * failure becomes one message naming the file and the entry. */
#include "hdf5_file.h"
#include "hdf5_lock.h"
#include "write_failure.h"
#include "shiftnas/error.h"
#include "shiftnas/runfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODEL_FORMAT "shiftnas-model"
#define MODEL_VERSION 1
/* A configuration is a few kilobytes of INI; a larger string is not ours. */
#define MAX_STRING_BYTES ((size_t)16 << 20)

/* "[8, 16]" */
static void format_shape(char *out, size_t size, int ndim, const hsize_t *dims)
{
    size_t used = (size_t)snprintf(out, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)dims[i]);
    if (used < size)
        snprintf(out + used, size - used, "]");
}

/* A name HDF5 would take as a path or refuse. */
static int bad_link_name(const char *name)
{
    return !name || !*name || strchr(name, '/') || strcmp(name, ".") == 0;
}

/* ---- writing ----------------------------------------------------------- */

/* A variable-length UTF-8 string: no size limit in the object header, and
 * h5py reads it as str. */
static int write_string_attribute(const char *path, hid_t object, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    int ok = type >= 0 && H5Tset_size(type, H5T_VARIABLE) >= 0 && H5Tset_cset(type, H5T_CSET_UTF8) >= 0;
    hid_t space = ok ? H5Screate(H5S_SCALAR) : -1;
    hid_t attribute = space >= 0 ? H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = attribute >= 0 && H5Awrite(attribute, type, &value) >= 0;
    if (attribute >= 0 && H5Aclose(attribute) < 0)
        ok = 0;
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    return ok ? SN_OK : sn_error_set(SN_ERR_IO, "%s: attribute %s: cannot write it", path, name);
}

static int write_integer_attribute(const char *path, hid_t object, const char *name, hid_t file_type,
                                   hid_t memory_type, const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attribute = space >= 0 ? H5Acreate2(object, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT)
                                 : -1;
    int ok = attribute >= 0 && H5Awrite(attribute, memory_type, value) >= 0;
    if (attribute >= 0 && H5Aclose(attribute) < 0)
        ok = 0;
    if (space >= 0)
        H5Sclose(space);
    return ok ? SN_OK : sn_error_set(SN_ERR_IO, "%s: attribute %s: cannot write it", path, name);
}

static int write_part(const char *path, hid_t file, const sn_model_part *part)
{
    hid_t group = H5Gcreate2(file, part->group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (group < 0)
        return sn_error_set(SN_ERR_IO, "%s: group %s: cannot create it", path, part->group);
    int status = SN_OK;
    for (int i = 0; i < part->table->count && status == SN_OK; i++) {
        const sn_parameter_entry *e = &part->table->entries[i];
        hsize_t dims[SN_MAX_DIMS];
        for (int d = 0; d < e->ndim; d++)
            dims[d] = (hsize_t)e->shape[d];
        hid_t space = H5Screate_simple(e->ndim, dims, NULL);
        hid_t dataset = space >= 0 ? H5Dcreate2(group, e->name, H5T_IEEE_F32LE, space, H5P_DEFAULT,
                                                H5P_DEFAULT, H5P_DEFAULT)
                                   : -1;
        int ok = dataset >= 0 && H5Dwrite(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                          part->values + e->offset) >= 0;
        if (dataset >= 0 && H5Dclose(dataset) < 0)
            ok = 0;
        if (space >= 0)
            H5Sclose(space);
        if (!ok)
            status = sn_error_set(SN_ERR_IO, "%s: %s/%s: cannot write it", path, part->group, e->name);
    }
    if (H5Gclose(group) < 0 && status == SN_OK)
        status = sn_error_set(SN_ERR_IO, "%s: group %s: cannot close it", path, part->group);
    return status;
}

static int check_parts_for_writing(const char *path, const sn_model_part *parts, int count)
{
    if (!parts || count < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: no model parts to write", path);
    for (int p = 0; p < count; p++) {
        if (bad_link_name(parts[p].group) || !parts[p].table || !parts[p].values)
            return sn_error_set(SN_ERR_ARGUMENT, "%s: model part %d: missing or invalid group, table or values",
                                path, p);
        for (int q = 0; q < p; q++)
            if (strcmp(parts[p].group, parts[q].group) == 0)
                return sn_error_set(SN_ERR_ARGUMENT, "%s: model part %s given twice", path, parts[p].group);
        for (int i = 0; i < parts[p].table->count; i++)
            if (bad_link_name(parts[p].table->entries[i].name))
                return sn_error_set(SN_ERR_ARGUMENT, "%s: %s: entry name \"%s\" cannot be a dataset name",
                                    path, parts[p].group, parts[p].table->entries[i].name);
    }
    return SN_OK;
}

/* fsync of a directory by name, so that a rename in it is durable (the
 * file itself is synced when it is saved). */
static int sync_path(const char *path, int directory)
{
    int fd = open(path, O_RDONLY | (directory ? O_DIRECTORY : 0));
    if (fd < 0)
        return -1;
    int result = fsync(fd);
    close(fd);
    return result;
}

static void directory_of(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, size, ".");
    else if (slash == path)
        snprintf(out, size, "/");
    else
        snprintf(out, size, "%.*s", (int)(slash - path), path);
}

static int sn_model_file_write_unlocked(const char *path, const char *config_text, int64_t step,
                        const sn_model_part *parts, int count)
{
    if (!path || !*path)
        return sn_error_set(SN_ERR_ARGUMENT, "model file: no path given");
    if (!config_text)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: no configuration text given", path);
    SN_TRY(check_parts_for_writing(path, parts, count));
    const size_t length = strlen(path);
    char *temporary = malloc(length + 5);
    if (!temporary)
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate a path", path);
    memcpy(temporary, path, length);
    memcpy(temporary + length, ".tmp", 5);

    /* Built in memory (hdf5_file.h), saved to the temporary, renamed: a
     * model file is only ever replaced whole, and no reader meets a writer. */
    hid_t file = -1;
    int created = sn_hdf5_memory_file_create(temporary, H5P_DEFAULT, &file);
    if (created != SN_OK) {
        free(temporary);
        return created;
    }
    const int version = MODEL_VERSION;
    int status = write_string_attribute(path, file, "format", MODEL_FORMAT);
    if (status == SN_OK)
        status = write_integer_attribute(path, file, "version", H5T_STD_I32LE, H5T_NATIVE_INT, &version);
    if (status == SN_OK)
        status = write_integer_attribute(path, file, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &step);
    if (status == SN_OK)
        status = write_string_attribute(path, file, "config", config_text);
    for (int p = 0; p < count && status == SN_OK; p++)
        status = write_part(path, file, &parts[p]);
    if (status == SN_OK)
        status = sn_hdf5_memory_file_save(file, temporary, 1);
    int closed = sn_hdf5_memory_file_close(file, temporary);
    if (status == SN_OK)
        status = closed;
    if (status == SN_OK && rename(temporary, path) != 0)
        status = sn_write_failed(path, "cannot rename the new file over it", errno);
    if (status != SN_OK) {
        unlink(temporary); /* no half-written file left behind */
    } else {
        /* The new file is in place; failing to sync its directory only
         * weakens durability across a power cut, so it is not an error. */
        char directory[4096];
        directory_of(path, directory, sizeof directory);
        sync_path(directory, 1);
    }
    free(temporary);
    return status;
}

/* ---- reading ----------------------------------------------------------- */

static int open_model_file(const char *path, hid_t *file)
{
    *file = -1;
    if (!path || !*path)
        return sn_error_set(SN_ERR_ARGUMENT, "model file: no path given");
    return sn_hdf5_file_open(path, H5F_ACC_RDONLY, file);
}

/* Reads a scalar string attribute, fixed or variable length (h5py writes
 * either), into a malloc'd NUL-terminated copy. */
static int read_string_attribute(const char *path, hid_t object, const char *name, char **value)
{
    *value = NULL;
    htri_t exists = H5Aexists(object, name);
    if (exists <= 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: attribute %s: missing (not a shiftnas model file?)", path,
                            name);
    hid_t attribute = H5Aopen(object, name, H5P_DEFAULT);
    hid_t type = attribute >= 0 ? H5Aget_type(attribute) : -1;
    hid_t space = attribute >= 0 ? H5Aget_space(attribute) : -1;
    hid_t memory_type = -1;
    int status = SN_OK;
    if (type < 0 || space < 0) {
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute %s: cannot open it", path, name);
    } else if (H5Tget_class(type) != H5T_STRING || H5Sget_simple_extent_type(space) != H5S_SCALAR) {
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute %s: not a single string", path, name);
    } else if (H5Tis_variable_str(type) > 0) {
        memory_type = H5Tcopy(H5T_C_S1);
        char *stored = NULL;
        if (memory_type < 0 || H5Tset_size(memory_type, H5T_VARIABLE) < 0 ||
            H5Tset_cset(memory_type, H5Tget_cset(type)) < 0 || H5Aread(attribute, memory_type, &stored) < 0 || !stored) {
            status = sn_error_set(SN_ERR_FORMAT, "%s: attribute %s: cannot read it", path, name);
        } else {
            size_t length = strnlen(stored, MAX_STRING_BYTES + 1);
            if (length > MAX_STRING_BYTES)
                status = sn_error_set(SN_ERR_FORMAT, "%s: attribute %s: longer than %zu bytes", path,
                                      name, MAX_STRING_BYTES);
            else if (!(*value = malloc(length + 1)))
                status = sn_error_set(SN_ERR_NOMEM, "%s: attribute %s: cannot allocate %zu bytes", path,
                                      name, length + 1);
            else
                memcpy(*value, stored, length + 1);
        }
        if (stored)
            H5free_memory(stored);
    } else {
        size_t size = H5Tget_size(type);
        if (size == 0 || size > MAX_STRING_BYTES) {
            status = sn_error_set(SN_ERR_FORMAT, "%s: attribute %s: string of %zu bytes", path, name, size);
        } else if (!(*value = calloc(size + 1, 1))) {
            status = sn_error_set(SN_ERR_NOMEM, "%s: attribute %s: cannot allocate %zu bytes", path, name,
                                  size + 1);
        } else {
            memory_type = H5Tcopy(H5T_C_S1);
            if (memory_type < 0 || H5Tset_size(memory_type, size) < 0 ||
                H5Tset_strpad(memory_type, H5T_STR_NULLPAD) < 0 ||
                H5Tset_cset(memory_type, H5Tget_cset(type)) < 0 ||
                H5Aread(attribute, memory_type, *value) < 0)
                status = sn_error_set(SN_ERR_FORMAT, "%s: attribute %s: cannot read it", path, name);
        }
    }
    if (memory_type >= 0)
        H5Tclose(memory_type);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (attribute >= 0)
        H5Aclose(attribute);
    if (status != SN_OK) {
        free(*value);
        *value = NULL;
    }
    return status;
}

/* A scalar integer attribute, converted to int64. */
static int read_integer_attribute(const char *path, hid_t object, const char *name, int64_t *value)
{
    htri_t exists = H5Aexists(object, name);
    if (exists <= 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: attribute %s: missing", path, name);
    hid_t attribute = H5Aopen(object, name, H5P_DEFAULT);
    hid_t type = attribute >= 0 ? H5Aget_type(attribute) : -1;
    hid_t space = attribute >= 0 ? H5Aget_space(attribute) : -1;
    int status = SN_OK;
    if (type < 0 || space < 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute %s: cannot open it", path, name);
    else if (H5Tget_class(type) != H5T_INTEGER || H5Sget_simple_extent_npoints(space) != 1)
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute %s: not a single integer", path, name);
    else if (H5Aread(attribute, H5T_NATIVE_INT64, value) < 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute %s: cannot read it", path, name);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (attribute >= 0)
        H5Aclose(attribute);
    return status;
}

/* format and version: refuse anything that is not a model file we know. */
static int check_identity(const char *path, hid_t file)
{
    char *format = NULL;
    SN_TRY(read_string_attribute(path, file, "format", &format));
    int same = strcmp(format, MODEL_FORMAT) == 0;
    if (!same)
        sn_error_set(SN_ERR_FORMAT, "%s: attribute format is \"%.64s\", expected \"%s\"", path, format,
                     MODEL_FORMAT);
    free(format);
    if (!same)
        return SN_ERR_FORMAT;
    int64_t version = 0;
    SN_TRY(read_integer_attribute(path, file, "version", &version));
    if (version != MODEL_VERSION)
        return sn_error_set(SN_ERR_FORMAT, "%s: model file version %lld, this shiftnas reads version %d",
                            path, (long long)version, MODEL_VERSION);
    return SN_OK;
}

/* Stored as we wrote it or as a careful editor might: IEEE float32 of either
 * byte order; contiguous, compact or chunked storage inside this file. */
static int check_entry_storage(const char *path, const char *group, const sn_parameter_entry *e,
                               hid_t dataset)
{
    hid_t type = H5Dget_type(dataset);
    if (type < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: cannot read its type", path, group, e->name);
    int is_float32 = H5Tequal(type, H5T_IEEE_F32LE) > 0 || H5Tequal(type, H5T_IEEE_F32BE) > 0;
    H5T_class_t type_class = H5Tget_class(type);
    size_t type_size = H5Tget_size(type);
    H5Tclose(type);
    if (!is_float32) {
        char found[64];
        if (type_class == H5T_FLOAT)
            snprintf(found, sizeof found, "float%zu", 8 * type_size);
        else if (type_class == H5T_INTEGER)
            snprintf(found, sizeof found, "an integer of %zu bytes", type_size);
        else
            snprintf(found, sizeof found, "HDF5 type class %d", (int)type_class);
        return sn_error_set(SN_ERR_FORMAT, "%s: %s/%s has type %s, expected float32", path, group,
                            e->name, found);
    }
    hid_t space = H5Dget_space(dataset);
    if (space < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: cannot read its dataspace", path, group, e->name);
    hsize_t dims[H5S_MAX_RANK];
    int rank = H5Sget_simple_extent_type(space) == H5S_SIMPLE ? H5Sget_simple_extent_dims(space, dims, NULL)
                                                               : 0;
    H5Sclose(space);
    if (rank < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: cannot read its dimensions", path, group, e->name);
    int same = rank == e->ndim;
    for (int d = 0; d < rank && same; d++)
        same = dims[d] == (hsize_t)e->shape[d];
    if (!same) {
        hsize_t expected[SN_MAX_DIMS];
        for (int d = 0; d < e->ndim; d++)
            expected[d] = (hsize_t)e->shape[d];
        char found_text[160], expected_text[160];
        format_shape(found_text, sizeof found_text, rank, dims);
        format_shape(expected_text, sizeof expected_text, e->ndim, expected);
        return sn_error_set(SN_ERR_FORMAT, "%s: %s/%s has shape %s, expected %s", path, group, e->name,
                            found_text, expected_text);
    }
    hid_t plist = H5Dget_create_plist(dataset);
    if (plist < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: cannot read its creation properties", path, group,
                            e->name);
    H5D_layout_t layout = H5Pget_layout(plist);
    int external = H5Pget_external_count(plist);
    int status = SN_OK;
    if (external != 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: stored in external files, which are not accepted",
                              path, group, e->name);
    else if (layout != H5D_CONTIGUOUS && layout != H5D_COMPACT && layout != H5D_CHUNKED)
        status = sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: unsupported storage layout %d", path, group,
                              e->name, (int)layout);
    if (status == SN_OK && layout == H5D_CHUNKED) {
        /* HDF5 1.10 trusts chunk dimensions; a forged chunk larger than the
         * dataset makes it read past the decompressed buffer. */
        hsize_t chunk[H5S_MAX_RANK];
        int chunk_rank = H5Pget_chunk(plist, H5S_MAX_RANK, chunk);
        int fits = chunk_rank == e->ndim;
        for (int d = 0; d < e->ndim && fits; d++)
            fits = chunk[d] >= 1 && chunk[d] <= (hsize_t)e->shape[d];
        if (!fits)
            status = sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: chunks do not fit the dataset", path, group,
                                  e->name);
    }
    H5Pclose(plist);
    return status;
}

static int read_entry(const char *path, hid_t group, const sn_model_part *part, const sn_parameter_entry *e)
{
    htri_t exists = H5Lexists(group, e->name, H5P_DEFAULT);
    if (exists < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: cannot look it up (corrupt group)", path,
                            part->group, e->name);
    if (exists == 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: missing", path, part->group, e->name);
    hid_t dataset = H5Oopen(group, e->name, H5P_DEFAULT);
    if (dataset < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: cannot open it", path, part->group, e->name);
    if (H5Iget_type(dataset) != H5I_DATASET) {
        H5Oclose(dataset);
        return sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: not a dataset", path, part->group, e->name);
    }
    float *values = part->values + e->offset;
    int status = check_entry_storage(path, part->group, e, dataset);
    if (status == SN_OK && H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: read failed (corrupt or truncated data)", path,
                              part->group, e->name);
    H5Oclose(dataset);
    for (size_t i = 0; i < e->count && status == SN_OK; i++)
        if (!isfinite(values[i]))
            status = sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: element %zu is %s", path, part->group,
                                  e->name, i, isnan(values[i]) ? "NaN" : "infinite");
    return status;
}

/* An entry the table lacks means the file belongs to another model. Links
 * are listed by index: H5Literate's callback type differs between 1.10 and
 * 1.12. A name too long for the table cannot be one of its entries. */
static int check_no_foreign_entry(const char *path, hid_t group, const sn_model_part *part)
{
    H5G_info_t info;
    if (H5Gget_info(group, &info) < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: group %s: cannot list it (corrupt group)", path,
                            part->group);
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char name[SN_MAX_NAME + 1];
        ssize_t length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                                            H5P_DEFAULT);
        if (length < 0)
            return sn_error_set(SN_ERR_FORMAT, "%s: group %s: cannot list it (corrupt group)", path,
                                part->group);
        if (length < SN_MAX_NAME && sn_parameter_table_find(part->table, name) >= 0)
            continue;
        return sn_error_set(SN_ERR_FORMAT, "%s: %s/%s%s is not an entry of this model (a different model's file?)",
                            path, part->group, name, length > SN_MAX_NAME ? "..." : "");
    }
    return SN_OK;
}

static int read_part(const char *path, hid_t file, const sn_model_part *part)
{
    htri_t exists = H5Lexists(file, part->group, H5P_DEFAULT);
    if (exists <= 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: group %s: missing", path, part->group);
    hid_t group = H5Oopen(file, part->group, H5P_DEFAULT);
    if (group < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: group %s: cannot open it", path, part->group);
    if (H5Iget_type(group) != H5I_GROUP) {
        H5Oclose(group);
        return sn_error_set(SN_ERR_FORMAT, "%s: %s: not a group", path, part->group);
    }
    int status = SN_OK;
    for (int i = 0; i < part->table->count && status == SN_OK; i++)
        status = read_entry(path, group, part, &part->table->entries[i]);
    if (status == SN_OK)
        status = check_no_foreign_entry(path, group, part);
    H5Oclose(group);
    return status;
}

static int sn_model_file_read_unlocked(const char *path, const sn_model_part *parts, int count, int64_t *step)
{
    if (!parts || count < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: no model parts to read", path ? path : "model file");
    for (int p = 0; p < count; p++)
        if (bad_link_name(parts[p].group) || !parts[p].table || !parts[p].values)
            return sn_error_set(SN_ERR_ARGUMENT, "%s: model part %d: missing or invalid group, table or values",
                                path ? path : "model file", p);
    hid_t file;
    SN_TRY(open_model_file(path, &file));
    /* A file names its filters by number; an unknown one would make HDF5
     * search the plugin path and dlopen what it finds. We write no filters,
     * so plugin loading is off while we read. */
    unsigned plugin_state = 0;
    int restore_plugins = H5PLget_loading_state(&plugin_state) >= 0;
    if (restore_plugins)
        H5PLset_loading_state(0);
    int64_t stored_step = 0;
    int status = check_identity(path, file);
    if (status == SN_OK)
        status = read_integer_attribute(path, file, "step", &stored_step);
    for (int p = 0; p < count && status == SN_OK; p++)
        status = read_part(path, file, &parts[p]);
    H5Fclose(file);
    if (restore_plugins)
        H5PLset_loading_state(plugin_state);
    if (status == SN_OK && step)
        *step = stored_step;
    return status;
}

static int sn_model_file_read_config_unlocked(const char *path, char **config_text)
{
    if (!config_text)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: nowhere to put the configuration", path ? path : "model file");
    *config_text = NULL;
    hid_t file;
    SN_TRY(open_model_file(path, &file));
    int status = check_identity(path, file);
    if (status == SN_OK)
        status = read_string_attribute(path, file, "config", config_text);
    H5Fclose(file);
    return status;
}

/* ---- describing a model file (shiftnas inspect) ----------------------- */

/* Datasets and values of one group; links are listed by index, as in
 * check_no_foreign_entry. */
static int describe_group(const char *path, hid_t group, const char *name, int64_t *arrays,
                          int64_t *values)
{
    H5G_info_t info;
    if (H5Gget_info(group, &info) < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: group %s: cannot list it (corrupt group)", path,
                            name);
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char entry[SN_MAX_NAME + 1];
        if (H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, entry, sizeof entry,
                               H5P_DEFAULT) < 0)
            return sn_error_set(SN_ERR_FORMAT, "%s: group %s: cannot list it (corrupt group)",
                                path, name);
        hid_t dataset = H5Dopen2(group, entry, H5P_DEFAULT);
        hid_t space = dataset >= 0 ? H5Dget_space(dataset) : -1;
        hssize_t points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
        if (space >= 0)
            H5Sclose(space);
        if (dataset >= 0)
            H5Dclose(dataset);
        if (points < 0)
            return sn_error_set(SN_ERR_FORMAT, "%s: %s/%s: not a readable dataset", path, name,
                                entry);
        (*arrays)++;
        *values += (int64_t)points;
    }
    return SN_OK;
}

/* Every top-level group: its datasets and values (the first
 * SN_MODEL_FILE_PARTS_MAX groups). */
static int describe_parts(const char *path, hid_t file, sn_model_file_info *info)
{
    H5G_info_t root;
    if (H5Gget_info(file, &root) < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: cannot list its groups (damaged?)", path);
    for (hsize_t i = 0; i < root.nlinks && info->part_count < SN_MODEL_FILE_PARTS_MAX; i++) {
        char *name = info->parts[info->part_count].group;
        size_t size = sizeof info->parts[0].group;
        ssize_t length = H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, size,
                                            H5P_DEFAULT);
        if (length < 0 || (size_t)length >= size)
            return sn_error_set(SN_ERR_FORMAT, "%s: cannot list its groups (damaged?)", path);
        hid_t group = H5Oopen(file, name, H5P_DEFAULT);
        if (group < 0)
            return sn_error_set(SN_ERR_FORMAT, "%s: %s: cannot open it", path, name);
        int status = H5Iget_type(group) != H5I_GROUP
                         ? sn_error_set(SN_ERR_FORMAT, "%s: %s: not a group", path, name)
                         : describe_group(path, group, name,
                                          &info->parts[info->part_count].arrays,
                                          &info->parts[info->part_count].values);
        H5Oclose(group);
        SN_TRY(status);
        info->part_count++;
    }
    return SN_OK;
}

static int sn_model_file_describe_unlocked(const char *path, sn_model_file_info *info)
{
    memset(info, 0, sizeof *info);
    hid_t file;
    SN_TRY(open_model_file(path, &file));
    int status = check_identity(path, file);
    if (status == SN_OK)
        status = read_integer_attribute(path, file, "step", &info->step);
    if (status == SN_OK)
        status = describe_parts(path, file, info);
    H5Fclose(file);
    return status;
}

/* ---- the public entries hold the HDF5 lock (src/io/hdf5_lock.h) ---- */

int sn_model_file_write(const char *path, const char *config_text, int64_t step,
                        const sn_model_part *parts, int count)
{
    sn_hdf5_lock();
    int status = sn_model_file_write_unlocked(path, config_text, step, parts, count);
    sn_hdf5_unlock();
    return status;
}

int sn_model_file_read(const char *path, const sn_model_part *parts, int count, int64_t *step)
{
    sn_hdf5_lock();
    int status = sn_model_file_read_unlocked(path, parts, count, step);
    sn_hdf5_unlock();
    return status;
}

int sn_model_file_read_config(const char *path, char **config_text)
{
    sn_hdf5_lock();
    int status = sn_model_file_read_config_unlocked(path, config_text);
    sn_hdf5_unlock();
    return status;
}

int sn_model_file_describe(const char *path, sn_model_file_info *info)
{
    sn_hdf5_lock();
    int status = sn_model_file_describe_unlocked(path, info);
    sn_hdf5_unlock();
    return status;
}
