/* A failed write, said once (write_failure.h). */
#include "write_failure.h"

#include <errno.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shiftnas/error.h"

int sn_write_error_code(int error)
{
    switch (error) {
    case EIO:
    case ESTALE:
    case ETIMEDOUT:
    case EINTR:
    case EAGAIN:
        return SN_ERR_IO_TRANSIENT;
    default:
        return SN_ERR_IO;
    }
}

int sn_write_failed(const char *path, const char *what, int error)
{
    const char *cause = error ? strerror(error) : "the write failed";
    if (what && *what)
        sn_error_set(SN_ERR_IO, "%s: %s: %s", path, what, cause);
    else
        sn_error_set(SN_ERR_IO, "%s: %s", path, cause);
    return sn_write_error_code(error);
}

/* HDF5's system-call errors read "..., errno = 28, error message = '...'". */
static herr_t find_errno(unsigned depth, const H5E_error2_t *entry, void *context)
{
    (void)depth;
    int *error = context;
    const char *at = entry->desc ? strstr(entry->desc, "errno = ") : NULL;
    if (at && *error == 0)
        *error = atoi(at + strlen("errno = "));
    return 0;
}

int sn_hdf5_errno(void)
{
    int saved = errno;
    int error = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_errno, &error);
    return error > 0 ? error : saved;
}

int sn_stdio_finish(FILE *f, const char *path, int sync)
{
    /* A write that failed inside fprintf left its bytes in the buffer and
     * the error flag set: fflush tries them again and says why it fails;
     * if it succeeds the flag still counts, with the errno of that write. */
    int error = errno;
    const char *what = NULL;
    errno = 0;
    if (fflush(f) != 0) {
        what = "cannot write";
        error = errno;
    } else if (ferror(f)) {
        what = "cannot write";
    } else if (sync && fsync(fileno(f)) != 0) {
        what = "cannot sync";
        error = errno;
    }
    errno = 0;
    if (fclose(f) != 0 && !what) {
        what = "cannot close";
        error = errno;
    }
    return what ? sn_write_failed(path, what, error) : SN_OK;
}
