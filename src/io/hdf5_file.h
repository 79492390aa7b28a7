/* Opening and creating HDF5 files, the one way shiftnas does it (internal
 * to the library).
 *
 * Every file gets the same file access list: the sec2 driver; HDF5's
 * advisory file locking off, because our files are replaced by rename or
 * created exclusively (no reader meets a writer), the locks fail outright on
 * file systems without flock (some NFS and Lustre setups), and HDF5 1.10
 * would hold an exclusive lock that keeps h5py out of a running log; and the
 * strong close degree, so closing the file closes whatever a failed path
 * left open. HDF5's own error stack is silenced: one line naming the file
 * replaces it.
 *
 * Each function holds the process-wide HDF5 lock (hdf5_lock.h) for its own
 * calls; code that may run beside the prefetcher holds it for its later
 * calls on the file too. */
#ifndef SHIFTNAS_HDF5_FILE_H
#define SHIFTNAS_HDF5_FILE_H

#include <hdf5.h>

/* The file access list described above (the caller closes it), or -1 with
 * the message set, naming path. A caller may add to it (MPI-IO) and pass it
 * to sn_hdf5_file_create. */
hid_t sn_hdf5_file_access(const char *path);

/* Opens an existing file, mode H5F_ACC_RDONLY or H5F_ACC_RDWR, after
 * checking that path is a readable regular file with an HDF5 signature, so
 * that each failure has its own message: SN_ERR_IO "PATH: cannot open:
 * REASON" (missing, not a regular file, unreadable); SN_ERR_FORMAT "PATH:
 * HDF5 cannot open it: not an HDF5 file (no HDF5 signature)" or "PATH: HDF5
 * cannot open it (corrupt or truncated file)". *file is -1 on failure. */
int sn_hdf5_file_open(const char *path, unsigned mode, hid_t *file);

/* Creates path, mode H5F_ACC_TRUNC or H5F_ACC_EXCL. creation_list is
 * H5P_DEFAULT or the caller's (a user block); access_list is H5P_DEFAULT for
 * sn_hdf5_file_access's list, or one made by it and extended. SN_ERR_IO
 * "PATH: cannot create the HDF5 file: REASON" on failure (*file = -1). */
int sn_hdf5_file_create(const char *path, unsigned mode, hid_t creation_list, hid_t access_list,
                        hid_t *file);

#endif
