/* Opening and creating HDF5 files (hdf5_file.h says how and why). */
#include "hdf5_file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hdf5_lock.h"
#include "shiftnas/error.h"
#include "write_failure.h"

#include <fcntl.h>
#include <stdlib.h>

/* H5Pset_file_locking arrived in HDF5 1.10.7 and 1.12.1; before them the
 * environment's HDF5_USE_FILE_LOCKING=FALSE turns locking off. */
static herr_t disable_file_locking(hid_t access_list)
{
#if H5_VERSION_GE(1, 12, 1) || (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
    return H5Pset_file_locking(access_list, 0, 1);
#else
    (void)access_list;
    return 0;
#endif
}

static hid_t make_access_list(void)
{
    hid_t access_list = H5Pcreate(H5P_FILE_ACCESS);
    if (access_list >= 0 &&
        (H5Pset_fapl_sec2(access_list) < 0 || disable_file_locking(access_list) < 0 ||
         H5Pset_fclose_degree(access_list, H5F_CLOSE_STRONG) < 0)) {
        H5Pclose(access_list);
        access_list = -1;
    }
    return access_list;
}

hid_t sn_hdf5_file_access(const char *path)
{
    sn_hdf5_lock();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t access_list = make_access_list();
    sn_hdf5_unlock();
    if (access_list < 0)
        sn_error_set(SN_ERR_INTERNAL, "%s: cannot make an HDF5 file access list", path);
    return access_list;
}

/* What HDF5 will not say: why a path cannot be opened. */
static int check_readable_hdf5(const char *path)
{
    struct stat info;
    if (stat(path, &info) != 0)
        return sn_error_set(SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(info.st_mode))
        return sn_error_set(SN_ERR_IO, "%s: cannot open: not a regular file", path);
    if (access(path, R_OK) != 0)
        return sn_error_set(SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: HDF5 cannot open it: not an HDF5 file (no HDF5 signature)", path);
    return SN_OK;
}

static int open_locked(const char *path, unsigned mode, hid_t *file)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    SN_TRY(check_readable_hdf5(path));
    hid_t access_list = make_access_list();
    if (access_list < 0)
        return sn_error_set(SN_ERR_INTERNAL, "%s: cannot make an HDF5 file access list", path);
    *file = H5Fopen(path, mode, access_list);
    H5Pclose(access_list);
    if (*file < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: HDF5 cannot open it (corrupt or truncated file)",
                            path);
    return SN_OK;
}

int sn_hdf5_file_open(const char *path, unsigned mode, hid_t *file)
{
    *file = -1;
    if (!path || !*path)
        return sn_error_set(SN_ERR_ARGUMENT, "HDF5 file: no path given");
    sn_hdf5_lock();
    int status = open_locked(path, mode, file);
    sn_hdf5_unlock();
    return status;
}

static int create_locked(const char *path, unsigned mode, hid_t creation_list, hid_t access_list,
                         hid_t *file)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t own = access_list == H5P_DEFAULT ? make_access_list() : -1;
    if (access_list == H5P_DEFAULT && own < 0)
        return sn_error_set(SN_ERR_INTERNAL, "%s: cannot make an HDF5 file access list", path);
    errno = 0;
    *file = H5Fcreate(path, mode, creation_list, own >= 0 ? own : access_list);
    int error = errno;
    if (own >= 0)
        H5Pclose(own);
    if (*file < 0)
        return sn_error_set(SN_ERR_IO, "%s: cannot create the HDF5 file: %s", path,
                            error ? strerror(error) : "HDF5 refused it");
    return SN_OK;
}

int sn_hdf5_file_create(const char *path, unsigned mode, hid_t creation_list, hid_t access_list,
                        hid_t *file)
{
    *file = -1;
    if (!path || !*path)
        return sn_error_set(SN_ERR_ARGUMENT, "HDF5 file: no path given");
    sn_hdf5_lock();
    int status = create_locked(path, mode, creation_list, access_list, file);
    sn_hdf5_unlock();
    return status;
}

/* ---- files shiftnas writes (hdf5_file.h says why in memory) ---------------- */

/* Memory grows by this much at a time. */
#define MEMORY_INCREMENT ((size_t)1 << 20)

static hid_t make_memory_access_list(void)
{
    hid_t access_list = H5Pcreate(H5P_FILE_ACCESS);
    if (access_list >= 0 && (H5Pset_fapl_core(access_list, MEMORY_INCREMENT, 0) < 0 ||
                             disable_file_locking(access_list) < 0 ||
                             H5Pset_fclose_degree(access_list, H5F_CLOSE_STRONG) < 0)) {
        H5Pclose(access_list);
        access_list = -1;
    }
    return access_list;
}

int sn_hdf5_memory_file_create(const char *path, hid_t creation_list, hid_t *file)
{
    *file = -1;
    if (!path || !*path)
        return sn_error_set(SN_ERR_ARGUMENT, "HDF5 file: no path given");
    /* Created now, empty, so that a path that cannot be written (no such
     * directory, no permission, read-only) fails before the work. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return sn_write_failed(path, "cannot create", errno);
    close(fd);
    sn_hdf5_lock();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t access_list = make_memory_access_list();
    if (access_list >= 0) {
        *file = H5Fcreate(path, H5F_ACC_TRUNC, creation_list, access_list);
        H5Pclose(access_list);
    }
    sn_hdf5_unlock();
    if (*file < 0)
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot make the HDF5 file in memory", path);
    return SN_OK;
}

int sn_hdf5_memory_file_open(const char *path, hid_t *file)
{
    *file = -1;
    if (!path || !*path)
        return sn_error_set(SN_ERR_ARGUMENT, "HDF5 file: no path given");
    sn_hdf5_lock();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int status = check_readable_hdf5(path);
    hid_t access_list = status == SN_OK ? make_memory_access_list() : -1;
    if (status == SN_OK && access_list < 0)
        status = sn_error_set(SN_ERR_INTERNAL, "%s: cannot make an HDF5 file access list", path);
    if (status == SN_OK) {
        *file = H5Fopen(path, H5F_ACC_RDWR, access_list);
        if (*file < 0)
            status = sn_error_set(SN_ERR_FORMAT, "%s: HDF5 cannot open it (corrupt or truncated file)", path);
    }
    if (access_list >= 0)
        H5Pclose(access_list);
    sn_hdf5_unlock();
    return status;
}

/* Writes size bytes to a new file at path (fsync'd when sync); the file is
 * removed when any step fails. */
static int write_bytes(const char *path, const unsigned char *bytes, size_t size, int sync)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return sn_write_failed(path, "cannot create", errno);
    const char *what = NULL;
    int error = 0;
    for (size_t done = 0; done < size && !what;) {
        ssize_t put = write(fd, bytes + done, size - done);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0) {
            what = "cannot write";
            error = put < 0 ? errno : 0;
        } else {
            done += (size_t)put;
        }
    }
    if (!what && sync && fsync(fd) != 0) {
        what = "cannot sync";
        error = errno;
    }
    if (close(fd) != 0 && !what) {
        what = "cannot close";
        error = errno;
    }
    if (!what)
        return SN_OK;
    unlink(path);
    return sn_write_failed(path, what, error);
}

int sn_hdf5_memory_file_save(hid_t file, const char *path, int sync)
{
    sn_hdf5_lock();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* The image starts after the user block (its bytes are the caller's,
     * zeros until then): the file is the block's zeros, then the image. */
    unsigned char *image = NULL;
    hsize_t user_block = 0;
    hid_t creation_list = H5Fget_create_plist(file);
    ssize_t size = creation_list >= 0 && H5Pget_userblock(creation_list, &user_block) >= 0 &&
                           H5Fflush(file, H5F_SCOPE_LOCAL) >= 0
                       ? H5Fget_file_image(file, NULL, 0)
                       : -1;
    if (creation_list >= 0)
        H5Pclose(creation_list);
    if (size > 0 && (image = calloc(1, (size_t)user_block + (size_t)size)) != NULL &&
        H5Fget_file_image(file, image + user_block, (size_t)size) != size)
        size = -1;
    sn_hdf5_unlock();
    int status;
    if (size <= 0)
        status = sn_error_set(SN_ERR_INTERNAL, "%s: HDF5 cannot give the file's bytes", path);
    else if (!image)
        status = sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate %lld bytes to save it", path, (long long)size);
    else
        status = write_bytes(path, image, (size_t)user_block + (size_t)size, sync);
    free(image);
    return status;
}

int sn_hdf5_memory_file_close(hid_t file, const char *path)
{
    if (file < 0)
        return SN_OK;
    sn_hdf5_lock();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    herr_t closed = H5Fclose(file);
    sn_hdf5_unlock();
    return closed < 0 ? sn_error_set(SN_ERR_INTERNAL, "%s: HDF5 cannot close the file in memory", path) : SN_OK;
}
