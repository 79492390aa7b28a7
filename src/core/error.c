/* Error codes and the thread's last error message. */
#include "shiftnas/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One message per thread: BLIS may run threads, but only the thread that
 * detects a failure reports it. */
static _Thread_local char last_message[1024];

const char *sn_strerror(int code)
{
    switch (code) {
    case SN_OK: return "success";
    case SN_ERR_NOMEM: return "out of memory";
    case SN_ERR_IO: return "I/O error";
    case SN_ERR_FORMAT: return "malformed file";
    case SN_ERR_CONFIG: return "configuration error";
    case SN_ERR_NUMERIC: return "numerical error (NaN or Inf)";
    case SN_ERR_ARGUMENT: return "invalid argument";
    case SN_ERR_MPI: return "MPI error";
    case SN_ERR_INTERNAL: return "internal error";
    case SN_ERR_PEER: return "another rank failed";
    case SN_ERR_IO_TRANSIENT: return "I/O error (may pass)";
    default: return "unknown error";
    }
}

int sn_error_set(int code, const char *format, ...)
{
    /* Callers often wrap the previous message ("--arch: %s",
     * sn_error_message()): format into a scratch buffer first, since the
     * argument may point into last_message itself. */
    char message[sizeof last_message];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    memcpy(last_message, message, sizeof message);
    return code;
}

const char *sn_error_message(void)
{
    return last_message;
}

void sn_error_clear(void)
{
    last_message[0] = '\0';
}
