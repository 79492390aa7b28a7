/* A failed write, said once (internal to the library): every writer of a
 * file — checkpoints, `latest`, model.h5, log.h5, metrics.csv, config.ini,
 * search.csv, report files, exports — reports "PATH: WHAT: CAUSE" with the
 * cause the system gave (errno: "No space left on device", "Read-only file
 * system", "Disk quota exceeded", "Input/output error"), never a guess.
 *
 * The code tells the caller whether trying again may help:
 * SN_ERR_IO_TRANSIENT for causes that often pass on a cluster file system
 * (EIO, ESTALE, ETIMEDOUT, EINTR, EAGAIN), SN_ERR_IO for those a person
 * must fix first (ENOSPC, EDQUOT, EROFS, EACCES, ...). doc/checkpoint.md
 * says what train makes of it (exit 75 or 1).
 *
 * HDF5 reports a failed system call on its error stack ("errno = 28, error
 * message = ..."); sn_hdf5_errno reads it there, right after the failing
 * call (the next HDF5 call clears the stack). */
#ifndef SHIFTNAS_IO_WRITE_FAILURE_H
#define SHIFTNAS_IO_WRITE_FAILURE_H

#include <stdio.h>

/* SN_ERR_IO_TRANSIENT or SN_ERR_IO for a failed call's errno. */
int sn_write_error_code(int error);

/* Records "PATH: WHAT: CAUSE" (CAUSE is strerror(error), or "the write
 * failed" without one) and returns sn_write_error_code(error). */
int sn_write_failed(const char *path, const char *what, int error);

/* The errno of the system call behind the last failed HDF5 call of this
 * thread (0 when HDF5 names none); falls back to errno as HDF5 left it. */
int sn_hdf5_errno(void);

/* Ends a stdio stream written to path: the stream's error flag, fflush,
 * fsync when `sync`, fclose — always closed; on failure the message names
 * path and the cause and the code is returned. */
int sn_stdio_finish(FILE *f, const char *path, int sync);

#endif
