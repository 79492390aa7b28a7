/*
 * shiftnas/error.h — error codes and the last error message.
 *
 * Every function that can fail returns an int: 0 (SN_OK) on success, a negative
 * SN_ERR_* code on failure. The function that detects a failure also records a
 * one-line message with sn_error_set(), naming the file and the problem where
 * there is a file ("train-images.gz: truncated: expected 47040000 pixel bytes,
 * got 1024"). Callers that merely pass a failure up do not overwrite it. The
 * library never exits; only the command-line front end decides to stop.
 */
#ifndef SHIFTNAS_ERROR_H
#define SHIFTNAS_ERROR_H

#include "shiftnas/api.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sn_error_code {
    SN_OK = 0,
    SN_ERR_NOMEM = -1,    /* an allocation failed */
    SN_ERR_IO = -2,       /* a file could not be opened, read or written */
    SN_ERR_FORMAT = -3,   /* a file's contents are malformed or inconsistent */
    SN_ERR_CONFIG = -4,   /* an unknown key, a bad value, an impossible combination */
    SN_ERR_NUMERIC = -5,  /* a NaN or Inf appeared in a loss or gradient */
    SN_ERR_ARGUMENT = -6, /* a caller passed a value outside the documented range */
    SN_ERR_MPI = -7,      /* an MPI call failed or the ranks disagree */
    SN_ERR_INTERNAL = -8, /* a broken invariant: a bug in shiftnas */
    SN_ERR_PEER = -9,     /* another rank failed (it reports; this rank stays quiet) */
    SN_ERR_IO_TRANSIENT = -10 /* a write failed for a cause that often passes (EIO, ESTALE,
                                 ETIMEDOUT, EINTR, EAGAIN): the same write may succeed later */
};

/* A short name for a code ("I/O error", "malformed file", ...). */
SN_API const char *sn_strerror(int code);

/* Records the message of the failure being reported and returns `code`, so
 * that a failing branch reads `return sn_error_set(SN_ERR_IO, "%s: %s", ...)`. */
SN_API int sn_error_set(int code, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* The message of the last failure on this thread ("" if none). */
SN_API const char *sn_error_message(void);

/* Forgets the last message (tests use it between cases). */
SN_API void sn_error_clear(void);

/* Propagate a failure: evaluates `call` once, returns its code if negative. */
#define SN_TRY(call)                \
    do {                            \
        int sn_try_status_ = (call);\
        if (sn_try_status_ < 0)     \
            return sn_try_status_;  \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
