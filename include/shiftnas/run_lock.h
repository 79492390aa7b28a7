/*
 * shiftnas/run_lock.h — one writer per directory.
 *
 * A run directory (what `train` writes, `search` appends search.csv to) and a
 * report's output directory are written by one process at a time. The
 * writer holds an advisory lock on the file DIR/.shiftnas.lock for as long
 * as it writes, and records itself there:
 *
 *     pid 12345
 *     host node17
 *     command shiftnas train --resume
 *     since 2026-12-06T17:47:29Z
 *
 * A second writer is refused with one line naming that holder
 * ("RUN: in use by `shiftnas train --resume` on host node17, pid 12345,
 * since ...; wait for it or stop it"). The kernel releases the lock when the
 * holder's process ends, however it ends (kill -9 included): nothing stale
 * is left to clean up, and the file itself stays (removing it would let two
 * writers lock two different files). Readers (inspect, eval without --csv,
 * report's inputs) take no lock.
 *
 * The lock is an open-file-description lock (fcntl F_OFD_SETLK), or
 * flock() where the kernel has none; both are per open file, so a second
 * acquire in the same process is refused too. What it guarantees on NFS and
 * Lustre is in doc/checkpoint.md. Where the file system refuses locks
 * (ENOLCK, ENOSYS, EOPNOTSUPP: Lustre mounted without `flock`, NFS with
 * `nolock`), acquire succeeds without one and says why
 * (sn_run_lock_unsupported): the caller decides whether to go on.
 */
#ifndef SHIFTNAS_RUN_LOCK_H
#define SHIFTNAS_RUN_LOCK_H

#include "shiftnas/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The lock file's name inside the directory. */
#define SN_RUN_LOCK_NAME ".shiftnas.lock"

enum {
    /* Create the directory (and its parents) when it does not exist; the
     * release removes what was created if nothing but the lock file was
     * written there (a refused run leaves no directory behind). */
    SN_RUN_LOCK_CREATE = 1
};

typedef struct sn_run_lock sn_run_lock;

/* Locks `directory` for the calling process, which `command` describes to
 * whoever is refused ("shiftnas train --resume"; one line, printable).
 * Returns SN_OK and *lock, or SN_ERR_IO with "DIR: in use by ..." when
 * another process holds it, or with the file and errno when the directory
 * or the lock file cannot be created, opened or written. Never waits for
 * a holder. */
SN_API int sn_run_lock_acquire(sn_run_lock **lock, const char *directory, const char *command,
                               unsigned flags);

/* NULL when the lock is held; else the one-line reason the file system gave
 * for holding none ("RUN/.shiftnas.lock: the file system does not support
 * locks (Function not implemented)"). */
SN_API const char *sn_run_lock_unsupported(const sn_run_lock *lock);

/* Clears the holder's record and releases the lock (the process's end
 * releases it too). Safe with NULL. */
SN_API void sn_run_lock_release(sn_run_lock *lock);

#ifdef __cplusplus
}
#endif
#endif
