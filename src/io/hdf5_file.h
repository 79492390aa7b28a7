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

/* ---- files shiftnas writes: built in memory, saved by shiftnas ----------
 *
 * Why. A file HDF5 writes through its sec2 driver is lost for good when a
 * write fails: once a metadata flush has failed, HDF5 1.10 can neither
 * flush nor close the file again (its cache keeps the failed entries), and
 * the half-closed file crashes the library's exit handler (H5F__close_cb,
 * from exit or MPI_Finalize). So every file shiftnas writes — checkpoints,
 * model.h5, log.h5, exports — is an HDF5 "core" file in memory, and its
 * bytes (H5Fget_file_image: the same bytes sec2 would write) reach the disk
 * through plain system calls checked here: a failure is one message with
 * errno's cause, and the HDF5 file still closes. The cost is the file's
 * size in memory while it is written. */

/* Creates an empty HDF5 file in memory that will be saved to path
 * (creation_list as sn_hdf5_file_create); nothing touches the disk. */
int sn_hdf5_memory_file_create(const char *path, hid_t creation_list, hid_t *file);

/* Reads the existing file at path into memory, for appending and saving
 * back (errors as sn_hdf5_file_open's). */
int sn_hdf5_memory_file_open(const char *path, hid_t *file);

/* Writes the file's current bytes to path: created or truncated, written,
 * fsync'd when `sync`, closed. The HDF5 file stays open. On failure the
 * message names path and the cause (write_failure.h's codes) and path is
 * removed. */
int sn_hdf5_memory_file_save(hid_t file, const char *path, int sync);

/* Closes a memory file: it never writes, so it cannot fail on storage.
 * SN_ERR_INTERNAL if HDF5 refuses anyway. */
int sn_hdf5_memory_file_close(hid_t file, const char *path);

#endif
