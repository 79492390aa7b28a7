/* Opening and creating HDF5 files (hdf5_file.h says how and why). */
#include "hdf5_file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hdf5_lock.h"
#include "shiftnas/error.h"

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
