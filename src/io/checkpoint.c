/* Checkpoint files (contract in shiftnas/checkpoint.h): HDF5 datasets and
 * root attributes behind a text header that carries the file's size and a
 * CRC-32.
 *
 * Why a header in front of HDF5. A checkpoint is what a run resumes from
 * after a kill, a full disk or a copy between machines, so the files it
 * meets are exactly the damaged ones: cut short by a crash, half copied, a
 * bit flipped on a disk. HDF5's parser trusts what it reads — a damaged
 * file can make it fail anywhere, read out of bounds or loop — and it has no
 * checksum over the data. So the reader compares the header's size with the
 * file's and recomputes the CRC before HDF5 parses a byte: a damaged file is
 * refused with "truncated" or "damaged", never reaches HDF5, and HDF5 only
 * ever sees files written whole by this code. (A file whose header was
 * forged to match still meets the checks below, which refuse what our
 * writer never makes: soft and external links, storage other than
 * contiguous and exactly as large as the data.)
 *
 * Why the user block. HDF5 reserves the first 512 bytes of the file for its
 * user (it looks for its superblock at 0, 512, 1024, ...), so the header
 * lives inside an ordinary HDF5 file that h5py and h5dump open unchanged.
 * The file is built in memory and saved whole at the finish (hdf5_file.h
 * says why: a failed write must not leave HDF5 with a file it cannot
 * close); the header is written last, when the file's length and CRC are
 * known; until then the user block is zeros and the reader refuses it as
 * foreign, so even an unfinished file cannot pass.
 *
 * Storage, for readers other than ours: datasets are contiguous and
 * little-endian (H5T_IEEE_F32LE, _F64LE, H5T_STD_I64LE, _I32LE, _U8LE);
 * text attributes are scalar variable-length UTF-8 strings (h5py reads them
 * as str); int64 and float64 attributes are scalar H5T_STD_I64LE and
 * H5T_IEEE_F64LE. Everything is in HDF5's earliest file format (groups are
 * symbol tables, so names carry HDF5's default ASCII flag; h5py decodes them
 * as UTF-8 either way). No object records a time, so the same contents
 * give the same bytes and two checkpoints can be compared with cmp. */
#include "checkpoint_header.h"
#include "hdf5_file.h"
#include "write_failure.h"

#include "shiftnas/checkpoint.h"
#include "shiftnas/error.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Nesting deeper than this, or more links than this in a listing, is not a
 * file we wrote; the limits keep a forged file with a group linked into
 * itself from keeping the listing busy for ever. */
#define LIST_DEPTH_MAX 64
#define LIST_LINKS_MAX 1000000

struct sn_checkpoint_writer {
    char *path;
    hid_t file;
    int failed; /* a write failed: finishing would publish an incomplete file */
};

struct sn_checkpoint_reader {
    char *path;
    hid_t file;
};

/* ---- types ----------------------------------------------------------------- */

static const char *const type_names[] = {"float32", "float64", "int64", "int32", "uint8"};
static const size_t type_sizes[] = {4, 8, 8, 4, 1};
#define TYPE_COUNT ((int)(sizeof type_names / sizeof type_names[0]))

static int valid_type(sn_checkpoint_type type)
{
    return (int)type >= 0 && (int)type < TYPE_COUNT;
}

const char *sn_checkpoint_type_name(sn_checkpoint_type type)
{
    return valid_type(type) ? type_names[type] : "unknown";
}

size_t sn_checkpoint_type_size(sn_checkpoint_type type)
{
    return valid_type(type) ? type_sizes[type] : 0;
}

static hid_t file_type_of(sn_checkpoint_type type)
{
    switch (type) {
    case SN_CHECKPOINT_FLOAT32: return H5T_IEEE_F32LE;
    case SN_CHECKPOINT_FLOAT64: return H5T_IEEE_F64LE;
    case SN_CHECKPOINT_INT64: return H5T_STD_I64LE;
    case SN_CHECKPOINT_INT32: return H5T_STD_I32LE;
    case SN_CHECKPOINT_UINT8: return H5T_STD_U8LE;
    }
    return -1;
}

static hid_t memory_type_of(sn_checkpoint_type type)
{
    switch (type) {
    case SN_CHECKPOINT_FLOAT32: return H5T_NATIVE_FLOAT;
    case SN_CHECKPOINT_FLOAT64: return H5T_NATIVE_DOUBLE;
    case SN_CHECKPOINT_INT64: return H5T_NATIVE_INT64;
    case SN_CHECKPOINT_INT32: return H5T_NATIVE_INT32;
    case SN_CHECKPOINT_UINT8: return H5T_NATIVE_UINT8;
    }
    return -1;
}

/* The checkpoint type a stored HDF5 type is (either byte order), or -1;
 * `found` receives a name for messages either way. */
static int classify_type(hid_t type, char *found, size_t size)
{
    const hid_t little[] = {H5T_IEEE_F32LE, H5T_IEEE_F64LE, H5T_STD_I64LE, H5T_STD_I32LE, H5T_STD_U8LE};
    const hid_t big[] = {H5T_IEEE_F32BE, H5T_IEEE_F64BE, H5T_STD_I64BE, H5T_STD_I32BE, H5T_STD_U8BE};
    for (int t = 0; t < TYPE_COUNT; t++)
        if (H5Tequal(type, little[t]) > 0 || H5Tequal(type, big[t]) > 0) {
            snprintf(found, size, "%s", type_names[t]);
            return t;
        }
    H5T_class_t type_class = H5Tget_class(type);
    size_t bytes = H5Tget_size(type);
    if (type_class == H5T_FLOAT)
        snprintf(found, size, "a float of %zu bytes", bytes);
    else if (type_class == H5T_INTEGER)
        snprintf(found, size, "%s integer of %zu bytes", H5Tget_sign(type) == H5T_SGN_NONE ? "an unsigned" : "an",
                 bytes);
    else if (type_class == H5T_STRING)
        snprintf(found, size, "text");
    else
        snprintf(found, size, "HDF5 type class %d", (int)type_class);
    return -1;
}

/* "[3, 4]"; a scalar is "[]". */
static void format_shape(char *out, size_t size, int rank, const int64_t *dims)
{
    size_t used = (size_t)snprintf(out, size, "[");
    for (int i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < size)
        snprintf(out + used, size - used, "]");
}

/* ---- names and lookup ---------------------------------------------------- */

/* "a/b/c": no empty, "." or ".." component, no leading or trailing '/'. */
static int valid_dataset_name(const char *name)
{
    if (!name || !*name)
        return 0;
    for (const char *component = name;;) {
        const char *end = strchr(component, '/');
        size_t length = end ? (size_t)(end - component) : strlen(component);
        if (length == 0 || (length == 1 && component[0] == '.') ||
            (length == 2 && component[0] == '.' && component[1] == '.'))
            return 0;
        if (!end)
            return 1;
        component = end + 1;
    }
}

typedef enum {
    LOOKUP_DATASET,
    LOOKUP_GROUP,
    LOOKUP_OTHER,   /* a named datatype, a soft or external link */
    LOOKUP_ABSENT,
    LOOKUP_BLOCKED, /* a component before the last is not a group */
    LOOKUP_BROKEN   /* HDF5 failed to look it up: a damaged file */
} lookup_result;

static lookup_result object_kind(hid_t location, const char *name)
{
    H5L_info_t link;
    if (H5Lget_info(location, name, &link, H5P_DEFAULT) < 0)
        return LOOKUP_BROKEN;
    if (link.type != H5L_TYPE_HARD)
        return LOOKUP_OTHER; /* never followed: an external link opens another file */
    hid_t object = H5Oopen(location, name, H5P_DEFAULT);
    if (object < 0)
        return LOOKUP_BROKEN;
    H5I_type_t kind = H5Iget_type(object);
    H5Oclose(object);
    return kind == H5I_DATASET ? LOOKUP_DATASET : kind == H5I_GROUP ? LOOKUP_GROUP : LOOKUP_OTHER;
}

/* Looks name up one component at a time, following hard links only. */
static lookup_result lookup(hid_t file, const char *name)
{
    char *prefix = strdup(name);
    if (!prefix)
        return LOOKUP_BROKEN;
    lookup_result result = LOOKUP_ABSENT;
    for (char *end = prefix;;) {
        end = strchr(end, '/');
        if (end)
            *end = '\0';
        htri_t exists = H5Lexists(file, prefix, H5P_DEFAULT);
        if (exists < 0) {
            result = LOOKUP_BROKEN;
            break;
        }
        if (exists == 0) {
            result = LOOKUP_ABSENT;
            break;
        }
        result = object_kind(file, prefix);
        if (!end)
            break;
        if (result != LOOKUP_GROUP) {
            if (result != LOOKUP_BROKEN)
                result = LOOKUP_BLOCKED;
            break;
        }
        *end++ = '/';
    }
    free(prefix);
    return result;
}

/* ---- writing -------------------------------------------------------------- */

int sn_checkpoint_writer_create(sn_checkpoint_writer **writer, const char *path)
{
    if (!writer)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: nowhere to put the checkpoint writer", path ? path : "checkpoint");
    *writer = NULL;
    if (!path || !*path)
        return sn_error_set(SN_ERR_ARGUMENT, "checkpoint: no path given");
    sn_checkpoint_writer *w = calloc(1, sizeof *w);
    char *copy = strdup(path);
    if (!w || !copy) {
        free(w);
        free(copy);
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate the checkpoint writer", path);
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t creation_list = H5Pcreate(H5P_FILE_CREATE);
    hid_t file = -1;
    int status = creation_list >= 0 && H5Pset_userblock(creation_list, SN_CHECKPOINT_HEADER_BYTES) >= 0
                     ? sn_hdf5_memory_file_create(path, creation_list, &file)
                     : sn_error_set(SN_ERR_INTERNAL, "%s: cannot make an HDF5 file creation list", path);
    if (creation_list >= 0)
        H5Pclose(creation_list);
    if (status != SN_OK) {
        free(copy);
        free(w);
        return status;
    }
    w->path = copy;
    w->file = file;
    *writer = w;
    return SN_OK;
}

static int writer_usable(const sn_checkpoint_writer *writer, const char *name, const char *what)
{
    if (!writer)
        return sn_error_set(SN_ERR_ARGUMENT, "checkpoint: no writer for %s '%s'", what, name ? name : "(null)");
    if (writer->failed)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: %s '%s': an earlier write failed; abandon the checkpoint",
                            writer->path, what, name ? name : "(null)");
    return SN_OK;
}

/* Element count of dims, or -1 if a dim is negative or the byte count
 * overflows. */
static int64_t element_count(int rank, const int64_t *dims, size_t type_size)
{
    int64_t count = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 0)
            return -1;
        if (dims[d] > 0 && count > INT64_MAX / (int64_t)type_size / dims[d])
            return -1;
        count *= dims[d];
    }
    return count;
}

/* A failed write of `name`: the message with the cause HDF5 met. */
static int dataset_failed(const sn_checkpoint_writer *writer, const char *name, const char *what, int error)
{
    char part[600];
    snprintf(part, sizeof part, "dataset '%s': %s", name, what);
    return sn_write_failed(writer->path, part, error);
}

/* Creates the groups before the last '/' of name that do not exist yet
 * (lookup has checked that those that exist are groups). */
static int create_groups(sn_checkpoint_writer *writer, const char *name)
{
    char *prefix = strdup(name);
    if (!prefix)
        return sn_error_set(SN_ERR_NOMEM, "%s: dataset '%s': cannot allocate its name", writer->path, name);
    hid_t creation_list = H5Pcreate(H5P_GROUP_CREATE);
    int ok = creation_list >= 0 && H5Pset_obj_track_times(creation_list, 0) >= 0;
    int error = 0;
    for (char *end = prefix; ok && (end = strchr(end, '/')) != NULL; *end++ = '/') {
        *end = '\0';
        htri_t exists = H5Lexists(writer->file, prefix, H5P_DEFAULT);
        hid_t group = exists == 0 ? H5Gcreate2(writer->file, prefix, H5P_DEFAULT, creation_list, H5P_DEFAULT) : -1;
        ok = exists > 0 || (group >= 0 && H5Gclose(group) >= 0);
        if (!ok)
            error = sn_hdf5_errno();
    }
    if (creation_list >= 0)
        H5Pclose(creation_list);
    free(prefix);
    return ok ? SN_OK : dataset_failed(writer, name, "cannot create the groups of its path", error);
}

static int write_dataset(sn_checkpoint_writer *writer, const char *name, sn_checkpoint_type type, int rank,
                         const int64_t *dims, int64_t count, const void *data)
{
    SN_TRY(create_groups(writer, name));
    hsize_t extent[SN_CHECKPOINT_RANK_MAX];
    for (int d = 0; d < rank; d++)
        extent[d] = (hsize_t)dims[d];
    hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, extent, NULL);
    hid_t creation_list = H5Pcreate(H5P_DATASET_CREATE);
    /* No modification times: the same state gives the same bytes, so two
     * checkpoints can be compared with cmp. No fill: written once, in full. */
    int ok = space >= 0 && creation_list >= 0 && H5Pset_layout(creation_list, H5D_CONTIGUOUS) >= 0 &&
             H5Pset_fill_time(creation_list, H5D_FILL_TIME_NEVER) >= 0 &&
             H5Pset_obj_track_times(creation_list, 0) >= 0;
    hid_t dataset = ok ? H5Dcreate2(writer->file, name, file_type_of(type), space, H5P_DEFAULT, creation_list,
                                    H5P_DEFAULT)
                       : -1;
    int error = dataset < 0 ? sn_hdf5_errno() : 0;
    ok = dataset >= 0;
    /* HDF5 wants a buffer even for no elements; there is nothing to write. */
    if (ok && count > 0 && H5Dwrite(dataset, memory_type_of(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        error = sn_hdf5_errno();
        ok = 0;
    }
    if (dataset >= 0 && H5Dclose(dataset) < 0 && ok) {
        error = sn_hdf5_errno();
        ok = 0;
    }
    if (creation_list >= 0)
        H5Pclose(creation_list);
    if (space >= 0)
        H5Sclose(space);
    return ok ? SN_OK : dataset_failed(writer, name, "cannot write it", error);
}

int sn_checkpoint_write_array(sn_checkpoint_writer *writer, const char *name, sn_checkpoint_type type, int rank,
                              const int64_t *dims, const void *data)
{
    SN_TRY(writer_usable(writer, name, "dataset"));
    const char *path = writer->path;
    if (!valid_dataset_name(name))
        return sn_error_set(SN_ERR_ARGUMENT, "%s: dataset name '%s' is not of the form a/b/c", path,
                            name ? name : "(null)");
    if (!valid_type(type))
        return sn_error_set(SN_ERR_ARGUMENT, "%s: dataset '%s': unknown type %d", path, name, (int)type);
    if (rank < 0 || rank > SN_CHECKPOINT_RANK_MAX || (rank > 0 && !dims))
        return sn_error_set(SN_ERR_ARGUMENT, "%s: dataset '%s': rank %d (0..%d, with dims)", path, name, rank,
                            SN_CHECKPOINT_RANK_MAX);
    int64_t count = element_count(rank, dims, type_sizes[type]);
    if (count < 0)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: dataset '%s': a negative dim or too many elements", path, name);
    if (count > 0 && !data)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: dataset '%s': no data", path, name);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    lookup_result found = lookup(writer->file, name);
    int status = SN_OK;
    if (found == LOOKUP_BLOCKED)
        status = sn_error_set(SN_ERR_ARGUMENT, "%s: dataset '%s': a part of its path is a dataset, not a group",
                              path, name);
    else if (found == LOOKUP_DATASET)
        status = sn_error_set(SN_ERR_ARGUMENT, "%s: dataset '%s' is already written", path, name);
    else if (found != LOOKUP_ABSENT)
        status = sn_error_set(SN_ERR_ARGUMENT, "%s: dataset '%s': a group or link of that name already exists",
                              path, name);
    else
        status = write_dataset(writer, name, type, rank, dims, count, data);
    if (status == SN_ERR_IO || status == SN_ERR_IO_TRANSIENT)
        writer->failed = 1; /* the file may now hold a part of the dataset */
    return status;
}

/* A scalar root attribute of file type `file_type`; for text, `value` points
 * to the char pointer. */
static int write_attribute(sn_checkpoint_writer *writer, const char *name, hid_t file_type, hid_t memory_type,
                           const void *value)
{
    SN_TRY(writer_usable(writer, name, "attribute"));
    if (!name || !*name)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: an attribute without a name", writer->path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    htri_t exists = H5Aexists(writer->file, name);
    if (exists != 0)
        return exists > 0 ? sn_error_set(SN_ERR_ARGUMENT, "%s: attribute '%s' is already written", writer->path,
                                         name)
                          : sn_error_set(SN_ERR_IO, "%s: attribute '%s': cannot look it up", writer->path, name);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attribute = space >= 0 ? H5Acreate2(writer->file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int ok = attribute >= 0 && H5Awrite(attribute, memory_type, value) >= 0;
    int error = ok ? 0 : sn_hdf5_errno();
    if (attribute >= 0 && H5Aclose(attribute) < 0 && ok) {
        error = sn_hdf5_errno();
        ok = 0;
    }
    if (space >= 0)
        H5Sclose(space);
    if (!ok) {
        writer->failed = 1;
        char part[600];
        snprintf(part, sizeof part, "attribute '%s': cannot write it", name);
        return sn_write_failed(writer->path, part, error);
    }
    return SN_OK;
}

int sn_checkpoint_write_text(sn_checkpoint_writer *writer, const char *name, const char *text)
{
    if (!text)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: attribute '%s': no text", writer ? writer->path : "checkpoint",
                            name ? name : "(null)");
    /* Variable length: no size limit in the object header; h5py reads str. */
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0) {
        if (type >= 0)
            H5Tclose(type);
        return sn_error_set(SN_ERR_INTERNAL, "%s: attribute '%s': cannot make a string type",
                            writer ? writer->path : "checkpoint", name ? name : "(null)");
    }
    int status = write_attribute(writer, name, type, type, &text);
    H5Tclose(type);
    return status;
}

int sn_checkpoint_write_int64(sn_checkpoint_writer *writer, const char *name, int64_t value)
{
    return write_attribute(writer, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

int sn_checkpoint_write_double(sn_checkpoint_writer *writer, const char *name, double value)
{
    return write_attribute(writer, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

static void writer_free(sn_checkpoint_writer *writer)
{
    free(writer->path);
    free(writer);
}

int sn_checkpoint_writer_finish(sn_checkpoint_writer *writer)
{
    if (!writer)
        return sn_error_set(SN_ERR_ARGUMENT, "checkpoint: no writer to finish");
    const char *path = writer->path;
    int status = SN_OK;
    if (writer->failed)
        status = sn_error_set(SN_ERR_ARGUMENT, "%s: not finished: an earlier write failed", path);
    /* The header's fsync makes the whole file durable. */
    if (status == SN_OK)
        status = sn_hdf5_memory_file_save(writer->file, path, 0);
    int closed = sn_hdf5_memory_file_close(writer->file, path);
    if (status == SN_OK)
        status = closed;
    if (status == SN_OK)
        status = sn_checkpoint_header_write(path);
    if (status != SN_OK)
        unlink(path);
    writer_free(writer);
    return status;
}

void sn_checkpoint_writer_abandon(sn_checkpoint_writer *writer)
{
    if (!writer)
        return;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    sn_hdf5_memory_file_close(writer->file, writer->path);
    unlink(writer->path);
    writer_free(writer);
}

/* ---- reading -------------------------------------------------------------- */

int sn_checkpoint_open(sn_checkpoint_reader **reader, const char *path)
{
    if (!reader)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: nowhere to put the checkpoint reader", path ? path : "checkpoint");
    *reader = NULL;
    SN_TRY(sn_checkpoint_verify(path, NULL));
    sn_checkpoint_reader *r = calloc(1, sizeof *r);
    char *copy = strdup(path);
    if (!r || !copy) {
        free(r);
        free(copy);
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate the checkpoint reader", path);
    }
    hid_t file = -1;
    int status = sn_hdf5_file_open(path, H5F_ACC_RDONLY, &file);
    if (status == SN_OK) {
        /* HDF5 would also find a superblock further on; ours is at 512. */
        hid_t creation_list = H5Fget_create_plist(file);
        hsize_t user_block = 0;
        if (creation_list < 0 || H5Pget_userblock(creation_list, &user_block) < 0 ||
            user_block != SN_CHECKPOINT_HEADER_BYTES)
            status = sn_error_set(SN_ERR_FORMAT, "%s: HDF5 cannot open it (no superblock after the header)", path);
        if (creation_list >= 0)
            H5Pclose(creation_list);
    }
    if (status != SN_OK) {
        if (file >= 0)
            H5Fclose(file);
        free(copy);
        free(r);
        return status;
    }
    r->path = copy;
    r->file = file;
    *reader = r;
    return SN_OK;
}

void sn_checkpoint_close(sn_checkpoint_reader *reader)
{
    if (!reader)
        return;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    H5Fclose(reader->file);
    free(reader->path);
    free(reader);
}

const char *sn_checkpoint_reader_path(const sn_checkpoint_reader *reader)
{
    return reader ? reader->path : NULL;
}

int sn_checkpoint_has(sn_checkpoint_reader *reader, const char *name)
{
    if (!reader || !valid_dataset_name(name))
        return 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return lookup(reader->file, name) == LOOKUP_DATASET;
}

/* The stored type, rank and dims of an open dataset. */
static int dataset_shape(const char *path, const char *name, hid_t dataset, sn_checkpoint_type *type, int *rank,
                         int64_t *dims)
{
    hid_t stored_type = H5Dget_type(dataset);
    if (stored_type < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s': cannot read its type", path, name);
    char found[64];
    int t = classify_type(stored_type, found, sizeof found);
    H5Tclose(stored_type);
    if (t < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' has an unsupported type (%s)", path, name, found);
    hid_t space = H5Dget_space(dataset);
    if (space < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s': cannot read its dataspace", path, name);
    H5S_class_t space_class = H5Sget_simple_extent_type(space);
    int stored_rank = space_class == H5S_SIMPLE ? H5Sget_simple_extent_ndims(space) : 0;
    hsize_t extent[H5S_MAX_RANK];
    int status = SN_OK;
    if (space_class != H5S_SIMPLE && space_class != H5S_SCALAR)
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' has an unsupported (null) dataspace", path, name);
    else if (stored_rank < 0 || stored_rank > SN_CHECKPOINT_RANK_MAX)
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' has rank %d, more than %d", path, name, stored_rank,
                              SN_CHECKPOINT_RANK_MAX);
    else if (stored_rank > 0 && H5Sget_simple_extent_dims(space, extent, NULL) != stored_rank)
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s': cannot read its dims", path, name);
    H5Sclose(space);
    if (status != SN_OK)
        return status;
    for (int d = 0; d < SN_CHECKPOINT_RANK_MAX; d++)
        dims[d] = 0;
    for (int d = 0; d < stored_rank; d++) {
        if (extent[d] > (hsize_t)INT64_MAX)
            return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' has a dim of %llu", path, name,
                                (unsigned long long)extent[d]);
        dims[d] = (int64_t)extent[d];
    }
    *type = (sn_checkpoint_type)t;
    *rank = stored_rank;
    return SN_OK;
}

/* Opens a dataset by name: SN_ERR_FORMAT naming it when it is missing or
 * something else. */
static int open_dataset(sn_checkpoint_reader *reader, const char *name, hid_t *dataset)
{
    *dataset = -1;
    const char *path = reader->path;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    switch (lookup(reader->file, name)) {
    case LOOKUP_DATASET:
        break;
    case LOOKUP_ABSENT:
    case LOOKUP_BLOCKED:
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' is missing", path, name);
    case LOOKUP_GROUP:
        return sn_error_set(SN_ERR_FORMAT, "%s: '%s' is a group, expected a dataset", path, name);
    case LOOKUP_OTHER:
        return sn_error_set(SN_ERR_FORMAT, "%s: '%s' is not a dataset (a link or a named type)", path, name);
    case LOOKUP_BROKEN:
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s': HDF5 cannot look it up (damaged file)", path, name);
    }
    *dataset = H5Dopen2(reader->file, name, H5P_DEFAULT);
    if (*dataset < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s': HDF5 cannot open it", path, name);
    return SN_OK;
}

int sn_checkpoint_array_shape(sn_checkpoint_reader *reader, const char *name, sn_checkpoint_type *type, int *rank,
                              int64_t *dims)
{
    if (!reader || !type || !rank || !dims)
        return sn_error_set(SN_ERR_ARGUMENT, "checkpoint: array_shape needs a reader and type, rank and dims");
    if (!valid_dataset_name(name))
        return sn_error_set(SN_ERR_ARGUMENT, "%s: dataset name '%s' is not of the form a/b/c", reader->path,
                            name ? name : "(null)");
    hid_t dataset;
    SN_TRY(open_dataset(reader, name, &dataset));
    int status = dataset_shape(reader->path, name, dataset, type, rank, dims);
    H5Dclose(dataset);
    return status;
}

/* Only what our writer makes: contiguous storage inside the file, as large
 * as the data. HDF5 1.10 trusts a compact layout's size (a damaged one of 0
 * bytes makes H5Dread copy from nowhere); a chunked layout would run filters
 * the file names; external storage would read other files. */
static int check_storage(const char *path, const char *name, hid_t dataset, hsize_t bytes)
{
    hid_t creation_list = H5Dget_create_plist(dataset);
    if (creation_list < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s': cannot read its storage properties", path, name);
    H5D_layout_t layout = H5Pget_layout(creation_list);
    int external = H5Pget_external_count(creation_list);
    H5Pclose(creation_list);
    if (external != 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' is stored in external files", path, name);
    if (layout != H5D_CONTIGUOUS)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' has storage layout %s, expected contiguous", path, name,
                            layout == H5D_COMPACT ? "compact" : layout == H5D_CHUNKED ? "chunked" : "other");
    hsize_t stored = H5Dget_storage_size(dataset);
    if (stored != bytes)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' has %llu bytes of storage, expected %llu", path, name,
                            (unsigned long long)stored, (unsigned long long)bytes);
    return SN_OK;
}

int sn_checkpoint_read_array(sn_checkpoint_reader *reader, const char *name, sn_checkpoint_type type, int rank,
                             const int64_t *dims, void *data)
{
    if (!reader)
        return sn_error_set(SN_ERR_ARGUMENT, "checkpoint: no reader for dataset '%s'", name ? name : "(null)");
    const char *path = reader->path;
    if (!valid_dataset_name(name))
        return sn_error_set(SN_ERR_ARGUMENT, "%s: dataset name '%s' is not of the form a/b/c", path,
                            name ? name : "(null)");
    if (!valid_type(type) || rank < 0 || rank > SN_CHECKPOINT_RANK_MAX || (rank > 0 && !dims))
        return sn_error_set(SN_ERR_ARGUMENT, "%s: dataset '%s': type %d, rank %d asked for", path, name, (int)type,
                            rank);
    int64_t count = element_count(rank, dims, type_sizes[type]);
    if (count < 0 || (count > 0 && !data))
        return sn_error_set(SN_ERR_ARGUMENT, "%s: dataset '%s': negative dims or no buffer", path, name);
    hid_t dataset;
    SN_TRY(open_dataset(reader, name, &dataset));
    sn_checkpoint_type stored_type;
    int stored_rank = 0;
    int64_t stored_dims[SN_CHECKPOINT_RANK_MAX];
    int status = dataset_shape(path, name, dataset, &stored_type, &stored_rank, stored_dims);
    if (status == SN_OK && stored_type != type)
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' has type %s, expected %s", path, name,
                              type_names[stored_type], type_names[type]);
    if (status == SN_OK) {
        int same = stored_rank == rank;
        for (int d = 0; d < rank && same; d++)
            same = stored_dims[d] == dims[d];
        if (!same) {
            char found[256], expected[256];
            format_shape(found, sizeof found, stored_rank, stored_dims);
            format_shape(expected, sizeof expected, rank, dims);
            status = sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' has shape %s, expected %s", path, name, found,
                                  expected);
        }
    }
    if (status == SN_OK)
        status = check_storage(path, name, dataset, (hsize_t)count * type_sizes[type]);
    if (status == SN_OK && count > 0 &&
        H5Dread(dataset, memory_type_of(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s': HDF5 cannot read it (damaged file)", path, name);
    H5Dclose(dataset);
    return status;
}

/* ---- root attributes ------------------------------------------------------- */

typedef enum { KIND_TEXT, KIND_INT64, KIND_DOUBLE } attribute_kind;
static const char *const kind_names[] = {"text", "an int64", "a float64"};

/* Opens a root attribute that holds one value of `kind`: *attribute and
 * *type are left open for the caller on success. */
static int open_attribute(sn_checkpoint_reader *reader, const char *name, attribute_kind kind, hid_t *attribute,
                          hid_t *type)
{
    *attribute = *type = -1;
    const char *path = reader->path;
    if (!name || !*name)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: an attribute without a name", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    htri_t exists = H5Aexists(reader->file, name);
    if (exists < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: attribute '%s': HDF5 cannot look it up (damaged file)", path, name);
    if (exists == 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: attribute '%s' is missing", path, name);
    *attribute = H5Aopen(reader->file, name, H5P_DEFAULT);
    *type = *attribute >= 0 ? H5Aget_type(*attribute) : -1;
    hid_t space = *attribute >= 0 ? H5Aget_space(*attribute) : -1;
    int status = SN_OK;
    if (*type < 0 || space < 0) {
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute '%s': HDF5 cannot open it (damaged file)", path, name);
    } else {
        H5T_class_t type_class = H5Tget_class(*type);
        size_t size = H5Tget_size(*type);
        int is_signed = H5Tget_sign(*type) == H5T_SGN_2;
        int fits = 0;
        if (kind == KIND_TEXT)
            fits = type_class == H5T_STRING;
        else if (kind == KIND_INT64) /* any integer int64 holds exactly */
            fits = type_class == H5T_INTEGER && size >= 1 && (is_signed ? size <= 8 : size < 8);
        else /* a float64 or float32, which float64 holds exactly */
            fits = type_class == H5T_FLOAT && (size == 8 || size == 4);
        hssize_t points = H5Sget_simple_extent_npoints(space);
        if (!fits) {
            char found[64];
            classify_type(*type, found, sizeof found);
            status = sn_error_set(SN_ERR_FORMAT, "%s: attribute '%s' is %s, expected %s", path, name, found,
                                  kind_names[kind]);
        } else if (points != 1) {
            status = sn_error_set(SN_ERR_FORMAT, "%s: attribute '%s' holds %lld values, expected one (%s)", path,
                                  name, (long long)points, kind_names[kind]);
        }
    }
    if (space >= 0)
        H5Sclose(space);
    if (status != SN_OK) {
        if (*type >= 0)
            H5Tclose(*type);
        if (*attribute >= 0)
            H5Aclose(*attribute);
        *attribute = *type = -1;
    }
    return status;
}

int sn_checkpoint_read_text(sn_checkpoint_reader *reader, const char *name, char **text)
{
    if (!reader || !text)
        return sn_error_set(SN_ERR_ARGUMENT, "checkpoint: read_text needs a reader and a place for the text");
    *text = NULL;
    hid_t attribute, type;
    SN_TRY(open_attribute(reader, name, KIND_TEXT, &attribute, &type));
    const char *path = reader->path;
    hid_t memory_type = H5Tcopy(H5T_C_S1);
    int status = SN_OK;
    htri_t variable = H5Tis_variable_str(type);
    size_t size = H5Tget_size(type);
    /* Same character set: HDF5 does not convert between ASCII and UTF-8. */
    if (memory_type < 0 || variable < 0 || H5Tset_cset(memory_type, H5Tget_cset(type)) < 0) {
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute '%s': cannot read its string type", path, name);
    } else if (variable) {
        char *stored = NULL;
        if (H5Tset_size(memory_type, H5T_VARIABLE) < 0 || H5Aread(attribute, memory_type, &stored) < 0) {
            status = sn_error_set(SN_ERR_FORMAT, "%s: attribute '%s': HDF5 cannot read it (damaged file)", path,
                                  name);
        } else {
            *text = strdup(stored ? stored : "");
            if (!*text)
                status = sn_error_set(SN_ERR_NOMEM, "%s: attribute '%s': cannot allocate its copy", path, name);
        }
        if (stored)
            H5free_memory(stored);
    } else if (size == 0 || !(*text = calloc(size + 1, 1))) {
        status = sn_error_set(size ? SN_ERR_NOMEM : SN_ERR_FORMAT, "%s: attribute '%s': a string of %zu bytes",
                              path, name, size);
    } else if (H5Tset_size(memory_type, size) < 0 || H5Tset_strpad(memory_type, H5T_STR_NULLPAD) < 0 ||
               H5Aread(attribute, memory_type, *text) < 0) {
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute '%s': HDF5 cannot read it (damaged file)", path, name);
    }
    if (memory_type >= 0)
        H5Tclose(memory_type);
    H5Tclose(type);
    H5Aclose(attribute);
    if (status != SN_OK) {
        free(*text);
        *text = NULL;
    }
    return status;
}

static int read_number(sn_checkpoint_reader *reader, const char *name, attribute_kind kind, hid_t memory_type,
                       void *value)
{
    if (!reader || !value)
        return sn_error_set(SN_ERR_ARGUMENT, "checkpoint: reading attribute '%s' needs a reader and a place",
                            name ? name : "(null)");
    hid_t attribute, type;
    SN_TRY(open_attribute(reader, name, kind, &attribute, &type));
    int status = SN_OK;
    if (H5Aread(attribute, memory_type, value) < 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: attribute '%s': HDF5 cannot read it (damaged file)", reader->path,
                              name);
    H5Tclose(type);
    H5Aclose(attribute);
    return status;
}

int sn_checkpoint_read_int64(sn_checkpoint_reader *reader, const char *name, int64_t *value)
{
    return read_number(reader, name, KIND_INT64, H5T_NATIVE_INT64, value);
}

int sn_checkpoint_read_double(sn_checkpoint_reader *reader, const char *name, double *value)
{
    return read_number(reader, name, KIND_DOUBLE, H5T_NATIVE_DOUBLE, value);
}

/* ---- listing --------------------------------------------------------------- */

typedef struct {
    sn_checkpoint_reader *reader;
    sn_checkpoint_visit visit;
    void *context;
    long links; /* seen so far, against LIST_LINKS_MAX */
} list_state;

static int list_group(list_state *state, hid_t group, const char *prefix, int depth);

/* One link of a group: a dataset is visited, a group descended into. */
static int list_link(list_state *state, hid_t group, const char *name, const char *full, int depth)
{
    const char *path = state->reader->path;
    lookup_result kind = object_kind(group, name);
    if (kind == LOOKUP_BROKEN)
        return sn_error_set(SN_ERR_FORMAT, "%s: '%s': HDF5 cannot open it (damaged file)", path, full);
    if (kind == LOOKUP_OTHER)
        return sn_error_set(SN_ERR_FORMAT, "%s: '%s' is neither a dataset nor a group", path, full);
    hid_t object = H5Oopen(group, name, H5P_DEFAULT);
    if (object < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: '%s': HDF5 cannot open it (damaged file)", path, full);
    int status;
    if (kind == LOOKUP_GROUP) {
        status = list_group(state, object, full, depth + 1);
    } else {
        sn_checkpoint_type type;
        int rank = 0;
        int64_t dims[SN_CHECKPOINT_RANK_MAX];
        status = dataset_shape(path, full, object, &type, &rank, dims);
        if (status == SN_OK)
            status = state->visit(state->context, full, type, rank, dims);
    }
    H5Oclose(object);
    return status;
}

static int list_group(list_state *state, hid_t group, const char *prefix, int depth)
{
    const char *path = state->reader->path;
    if (depth > LIST_DEPTH_MAX)
        return sn_error_set(SN_ERR_FORMAT, "%s: '%s': groups nested deeper than %d", path, prefix, LIST_DEPTH_MAX);
    H5G_info_t info;
    if (H5Gget_info(group, &info) < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: group '%s': HDF5 cannot list it (damaged file)", path,
                            *prefix ? prefix : "/");
    int status = SN_OK;
    size_t prefix_length = strlen(prefix);
    for (hsize_t i = 0; i < info.nlinks && status == SN_OK; i++) {
        if (++state->links > LIST_LINKS_MAX)
            return sn_error_set(SN_ERR_FORMAT, "%s: more than %d links (groups linked into themselves?)", path,
                                LIST_LINKS_MAX);
        ssize_t length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
        char *full = length > 0 ? malloc(prefix_length + (size_t)length + 2) : NULL;
        if (!full)
            return length > 0 ? sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate a name", path)
                              : sn_error_set(SN_ERR_FORMAT, "%s: group '%s': HDF5 cannot list it (damaged file)",
                                             path, *prefix ? prefix : "/");
        size_t start = prefix_length ? prefix_length + 1 : 0;
        memcpy(full, prefix, prefix_length);
        full[prefix_length] = '/';
        if (H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, full + start, (size_t)length + 1,
                               H5P_DEFAULT) != length)
            status = sn_error_set(SN_ERR_FORMAT, "%s: group '%s': HDF5 cannot list it (damaged file)", path,
                                  *prefix ? prefix : "/");
        else
            status = list_link(state, group, full + start, full, depth);
        free(full);
    }
    return status;
}

int sn_checkpoint_list(sn_checkpoint_reader *reader, sn_checkpoint_visit visit, void *context)
{
    if (!reader || !visit)
        return sn_error_set(SN_ERR_ARGUMENT, "checkpoint: list needs a reader and a visit function");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    list_state state = {reader, visit, context, 0};
    return list_group(&state, reader->file, "", 0);
}
