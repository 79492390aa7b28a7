/* HDF5 files of named float tensors with attributes (shiftnas/export.h): a
 * subnet exported alone, the logits of an evaluation.
 *
 * The file is written under "<path>.tmp" and renamed over path once
 * complete. The first failure is kept in the handle, so a writer may make
 * its calls one after another and look at the status once, at close; every
 * message names the file and the object. */
#include "shiftnas/export.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hdf5_file.h"
#include "hdf5_lock.h"
#include "write_failure.h"
#include "shiftnas/error.h"

struct sn_export_file {
    hid_t file;
    int status;          /* the first failure, or SN_OK */
    char *path, *temporary;
};

/* ---- groups ------------------------------------------------------------ */

/* Opens `group` ("" = the root), making it and its parents when missing. */
static hid_t open_group(sn_export_file *f, const char *group)
{
    if (!group || !*group)
        return H5Gopen2(f->file, "/", H5P_DEFAULT);
    size_t length = strlen(group);
    char *prefix = malloc(length + 1);
    if (!prefix)
        return -1;
    hid_t handle = -1;
    for (size_t end = 1; end <= length; end++) {
        if (end < length && group[end] != '/')
            continue;
        memcpy(prefix, group, end);
        prefix[end] = '\0';
        if (handle >= 0)
            H5Gclose(handle);
        htri_t exists = H5Lexists(f->file, prefix, H5P_DEFAULT);
        handle = exists > 0 ? H5Gopen2(f->file, prefix, H5P_DEFAULT)
                 : exists == 0 ? H5Gcreate2(f->file, prefix, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                               : -1;
        if (handle < 0)
            break;
    }
    free(prefix);
    return handle;
}

/* "stage0/block1/expand/weight" -> group "stage0/block1/expand", leaf "weight". */
static int split_name(const char *name, char *group, size_t size, const char **leaf)
{
    const char *slash = strrchr(name, '/');
    if (!slash) {
        group[0] = '\0';
        *leaf = name;
        return 0;
    }
    if ((size_t)(slash - name) >= size)
        return -1;
    memcpy(group, name, (size_t)(slash - name));
    group[slash - name] = '\0';
    *leaf = slash + 1;
    return **leaf ? 0 : -1;
}

static int fail(sn_export_file *f, int code, const char *what, const char *name)
{
    if (f->status == SN_OK)
        f->status = sn_error_set(code, "%s: %s %s: cannot write it", f->path, what, name);
    return f->status;
}

/* ---- create and close --------------------------------------------------- */

int sn_export_path_check(const char *path)
{
    if (!path || !*path)
        return sn_error_set(SN_ERR_ARGUMENT, "export: no output path given");
    struct stat info;
    if (stat(path, &info) == 0 && S_ISDIR(info.st_mode))
        return sn_error_set(SN_ERR_IO, "%s: cannot write: it is a directory", path);
    const char *slash = strrchr(path, '/');
    char directory[4096];
    if (!slash)
        snprintf(directory, sizeof directory, ".");
    else
        snprintf(directory, sizeof directory, "%.*s", slash == path ? 1 : (int)(slash - path),
                 path);
    if (access(directory, W_OK | X_OK) != 0)
        return sn_error_set(SN_ERR_IO, "%s: cannot create it in %s: %s", path, directory,
                            strerror(errno));
    return SN_OK;
}

static int create_unlocked(sn_export_file **out, const char *path)
{
    *out = NULL;
    SN_TRY(sn_export_path_check(path));
    sn_export_file *f = calloc(1, sizeof *f);
    size_t length = strlen(path);
    if (f) {
        f->path = strdup(path);
        f->temporary = malloc(length + 5);
    }
    if (!f || !f->path || !f->temporary) {
        if (f) {
            free(f->path);
            free(f->temporary);
        }
        free(f);
        return sn_error_set(SN_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(f->temporary, path, length);
    memcpy(f->temporary + length, ".tmp", 5);
    /* open(2) first: its errno says why (no such directory, read-only), HDF5's does not */
    int fd = open(f->temporary, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        int status = sn_write_failed(f->temporary, "cannot create", errno);
        free(f->path);
        free(f->temporary);
        free(f);
        return status;
    }
    close(fd);
    /* Built in memory, saved at the close (hdf5_file.h says why). */
    int created = sn_hdf5_memory_file_create(f->temporary, H5P_DEFAULT, &f->file);
    if (created != SN_OK) {
        int status = created;
        unlink(f->temporary);
        free(f->path);
        free(f->temporary);
        free(f);
        return status;
    }
    *out = f;
    return SN_OK;
}

int sn_export_file_create(sn_export_file **file, const char *path, const char *format, int version)
{
    sn_hdf5_lock();
    int status = create_unlocked(file, path);
    sn_hdf5_unlock();
    if (status == SN_OK) {
        sn_export_file_text(*file, "", "format", format);
        sn_export_file_integer(*file, "", "version", version);
        status = (*file)->status;
        if (status != SN_OK) {
            sn_export_file_close(*file, 0);
            *file = NULL;
        }
    }
    return status;
}

int sn_export_file_close(sn_export_file *f, int commit)
{
    if (!f)
        return SN_OK;
    int status = f->status;
    if (commit && status == SN_OK)
        status = sn_hdf5_memory_file_save(f->file, f->temporary, 1);
    int closed = sn_hdf5_memory_file_close(f->file, f->temporary);
    if (commit && status == SN_OK)
        status = closed;
    if (commit && status == SN_OK && rename(f->temporary, f->path) != 0)
        status = sn_write_failed(f->path, "cannot rename the new file over it", errno);
    if (!commit || status != SN_OK)
        unlink(f->temporary);
    free(f->path);
    free(f->temporary);
    free(f);
    return status;
}

/* ---- datasets ----------------------------------------------------------- */

static int write_dataset(sn_export_file *f, const char *name, int ndim, const int64_t *shape,
                         hid_t file_type, hid_t memory_type, const void *values)
{
    if (f->status != SN_OK)
        return f->status;
    char group_name[512];
    const char *leaf;
    if (ndim < 1 || ndim > 4 || split_name(name, group_name, sizeof group_name, &leaf) != 0)
        return fail(f, SN_ERR_ARGUMENT, "dataset", name);
    hsize_t dims[4];
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 1)
            return fail(f, SN_ERR_ARGUMENT, "dataset", name);
        dims[d] = (hsize_t)shape[d];
    }
    hid_t group = open_group(f, group_name);
    hid_t space = group >= 0 ? H5Screate_simple(ndim, dims, NULL) : -1;
    hid_t dataset = space >= 0 ? H5Dcreate2(group, leaf, file_type, space, H5P_DEFAULT,
                                            H5P_DEFAULT, H5P_DEFAULT)
                               : -1;
    int ok = dataset >= 0 && H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                      values) >= 0;
    if (dataset >= 0 && H5Dclose(dataset) < 0)
        ok = 0;
    if (space >= 0)
        H5Sclose(space);
    if (group >= 0)
        H5Gclose(group);
    return ok ? SN_OK : fail(f, SN_ERR_IO, "dataset", name);
}

int sn_export_file_tensor(sn_export_file *f, const char *name, int ndim, const int64_t *shape,
                          const float *values)
{
    sn_hdf5_lock();
    int status = write_dataset(f, name, ndim, shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, values);
    sn_hdf5_unlock();
    return status;
}

int sn_export_file_int32s(sn_export_file *f, const char *name, int64_t count,
                          const int32_t *values)
{
    sn_hdf5_lock();
    int status = write_dataset(f, name, 1, &count, H5T_STD_I32LE, H5T_NATIVE_INT32, values);
    sn_hdf5_unlock();
    return status;
}

/* ---- attributes --------------------------------------------------------- */

/* An attribute of `count` values (0: a scalar). */
static int write_attribute(sn_export_file *f, const char *group_name, const char *name,
                           hid_t file_type, hid_t memory_type, const void *values, int count)
{
    if (f->status != SN_OK)
        return f->status;
    hsize_t dims[1] = {(hsize_t)(count > 0 ? count : 1)};
    hid_t group = open_group(f, group_name);
    hid_t space = group < 0 ? -1 : count > 0 ? H5Screate_simple(1, dims, NULL)
                                             : H5Screate(H5S_SCALAR);
    hid_t attribute = space >= 0 ? H5Acreate2(group, name, file_type, space, H5P_DEFAULT,
                                              H5P_DEFAULT)
                                 : -1;
    int ok = attribute >= 0 && H5Awrite(attribute, memory_type, values) >= 0;
    if (attribute >= 0 && H5Aclose(attribute) < 0)
        ok = 0;
    if (space >= 0)
        H5Sclose(space);
    if (group >= 0)
        H5Gclose(group);
    if (ok)
        return SN_OK;
    char where[600];
    snprintf(where, sizeof where, "%s%s%s", group_name && *group_name ? group_name : "",
             group_name && *group_name ? "/" : "", name);
    return fail(f, SN_ERR_IO, "attribute", where);
}

static int locked_attribute(sn_export_file *f, const char *group, const char *name,
                            hid_t file_type, hid_t memory_type, const void *values, int count)
{
    sn_hdf5_lock();
    int status = write_attribute(f, group, name, file_type, memory_type, values, count);
    sn_hdf5_unlock();
    return status;
}

int sn_export_file_integer(sn_export_file *f, const char *group, const char *name, int64_t value)
{
    return locked_attribute(f, group, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, 0);
}

int sn_export_file_real(sn_export_file *f, const char *group, const char *name, double value)
{
    return locked_attribute(f, group, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, 0);
}

int sn_export_file_floats(sn_export_file *f, const char *group, const char *name,
                          const float *values, int count)
{
    return locked_attribute(f, group, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, values,
                            count > 0 ? count : 1);
}

int sn_export_file_integers(sn_export_file *f, const char *group, const char *name,
                            const int64_t *values, int count)
{
    return locked_attribute(f, group, name, H5T_STD_I64LE, H5T_NATIVE_INT64, values,
                            count > 0 ? count : 1);
}

/* A variable-length UTF-8 string: h5py reads it as str. */
int sn_export_file_text(sn_export_file *f, const char *group, const char *name, const char *value)
{
    sn_hdf5_lock();
    hid_t type = H5Tcopy(H5T_C_S1);
    int status;
    if (type < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0)
        status = fail(f, SN_ERR_IO, "attribute", name);
    else
        status = write_attribute(f, group, name, type, type, &value, 0);
    if (type >= 0)
        H5Tclose(type);
    sn_hdf5_unlock();
    return status;
}

/* ---- logits -------------------------------------------------------------- */

int sn_logits_file_write(const char *path, const char *arch_text, const float *logits,
                         const int32_t *labels, int64_t count, int classes)
{
    sn_export_file *f = NULL;
    SN_TRY(sn_export_file_create(&f, path, SN_LOGITS_FORMAT, SN_LOGITS_VERSION));
    int64_t shape[2] = {count, classes};
    sn_export_file_text(f, "", "arch", arch_text);
    if (count > 0) {
        sn_export_file_tensor(f, "logits", 2, shape, logits);
        sn_export_file_int32s(f, "labels", count, labels);
    }
    sn_export_file_integer(f, "", "images", count);
    sn_export_file_integer(f, "", "classes", classes);
    return sn_export_file_close(f, 1);
}
