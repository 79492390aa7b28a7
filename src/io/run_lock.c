/* One writer per directory (contract in shiftnas/run_lock.h).
 *
 * The lock is an open-file-description lock (fcntl F_OFD_SETLK, Linux 3.15):
 * a classic POSIX record lock (F_SETLK) would vanish as soon as anything in
 * the process closed any descriptor of the same file, and would not conflict
 * with a second open in the same process. Where the kernel has no OFD locks
 * (EINVAL), flock(), which is per open file as well. The descriptor is
 * close-on-exec: a child (gnuplot) must not keep a directory locked after
 * the writer ends. The holder's record is written after the lock is taken
 * and cleared before it is released, so a record read while the lock is
 * held names the holder (or, for a moment after its lock, nobody yet). */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include "shiftnas/run_lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shiftnas/error.h"

/* A directory's path and the lock file's. */
#define PATH_BYTES 4096
/* The holder's record: four short lines. */
#define RECORD_BYTES 1024
/* A value shown in the refusal: longer ones are cut. */
#define FIELD_BYTES 160
/* A refused writer that finds no record yet waits this long for one. */
#define RECORD_WAIT_TRIES 50
#define RECORD_WAIT_NANOSECONDS 20000000L

struct sn_run_lock {
    int fd;                      /* -1 when the file system holds no locks */
    char directory[PATH_BYTES];
    char path[PATH_BYTES];
    size_t created_from;         /* length of the first directory we created; 0 if none */
    char unsupported[PATH_BYTES + 128];
};

/* ---- the directory -------------------------------------------------------- */

/* mkdir -p, remembering the first component this call created. */
static int make_directories(sn_run_lock *lock)
{
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s", lock->directory);
    size_t length = strlen(path);
    for (size_t i = 1; i <= length; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0777) == 0) {
            if (!lock->created_from)
                lock->created_from = i;
        } else if (errno != EEXIST) {
            return sn_error_set(SN_ERR_IO, "%s: cannot create directory: %s", path, strerror(errno));
        }
        path[i] = saved;
    }
    return SN_OK;
}

/* 1 if the directory holds nothing but the lock file. */
static int holds_only_the_lock(const char *directory)
{
    DIR *listing = opendir(directory);
    if (!listing)
        return 0;
    int only = 1;
    for (struct dirent *entry; only && (entry = readdir(listing)) != NULL;) {
        const char *name = entry->d_name;
        only = strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, SN_RUN_LOCK_NAME) == 0;
    }
    closedir(listing);
    return only;
}

/* The directories this lock created, when nothing else was written there:
 * the leaf, then its parents up to the first one created. */
static void remove_created(sn_run_lock *lock)
{
    if (!lock->created_from || !holds_only_the_lock(lock->directory) || unlink(lock->path) != 0)
        return;
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s", lock->directory);
    for (size_t length = strlen(path); length >= lock->created_from;) {
        if (rmdir(path) != 0)
            return;
        char *slash = strrchr(path, '/');
        if (!slash || (size_t)(slash - path) < lock->created_from)
            return;
        *slash = '\0';
        length = (size_t)(slash - path);
    }
}

/* ---- the holder's record --------------------------------------------------- */

/* A value as the refusal shows it: printable ASCII, at most FIELD_BYTES. */
static void copy_printable(char *out, const char *value, size_t length)
{
    size_t n = 0;
    for (size_t i = 0; i < length && n + 1 < FIELD_BYTES; i++) {
        unsigned char c = (unsigned char)value[i];
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
}

static int write_record(const sn_run_lock *lock, const char *command)
{
    char host[256] = "unknown", since[32] = "unknown";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    time_t now = time(NULL);
    struct tm utc;
    if (gmtime_r(&now, &utc))
        strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &utc);
    char record[RECORD_BYTES], shown[FIELD_BYTES];
    copy_printable(shown, command, strlen(command));
    int length = snprintf(record, sizeof record, "pid %ld\nhost %s\ncommand %s\nsince %s\n",
                          (long)getpid(), host, shown, since);
    if (length < 0 || (size_t)length >= sizeof record)
        length = (int)strlen(record);
    errno = 0;
    if (ftruncate(lock->fd, 0) != 0 || pwrite(lock->fd, record, (size_t)length, 0) != length)
        return sn_error_set(SN_ERR_IO, "%s: cannot record the writer: %s", lock->path,
                            errno ? strerror(errno) : "short write");
    return SN_OK;
}

/* The value of `key` in a record ("unknown" when it has none). */
static void record_field(const char *record, const char *key, char *out)
{
    size_t key_length = strlen(key);
    for (const char *line = record; *line;) {
        const char *end = strchr(line, '\n');
        size_t length = end ? (size_t)(end - line) : strlen(line);
        if (length > key_length && memcmp(line, key, key_length) == 0 && line[key_length] == ' ') {
            copy_printable(out, line + key_length + 1, length - key_length - 1);
            return;
        }
        line += length + (end != NULL);
    }
    snprintf(out, FIELD_BYTES, "unknown");
}

/* Reads the record through a descriptor of our own; 0 if it is empty. */
static size_t read_record(int fd, char *record)
{
    ssize_t got = pread(fd, record, RECORD_BYTES - 1, 0);
    record[got > 0 ? got : 0] = '\0';
    return got > 0 ? (size_t)got : 0;
}

static int refuse(const sn_run_lock *lock, const char *record)
{
    if (!*record)
        return sn_error_set(SN_ERR_IO, "%s: in use by another process (it has not recorded "
                                       "itself in %s); wait for it or stop it",
                            lock->directory, SN_RUN_LOCK_NAME);
    char command[FIELD_BYTES], host[FIELD_BYTES], pid[FIELD_BYTES], since[FIELD_BYTES];
    record_field(record, "command", command);
    record_field(record, "host", host);
    record_field(record, "pid", pid);
    record_field(record, "since", since);
    return sn_error_set(SN_ERR_IO, "%s: in use by `%s` on host %s, pid %s, since %s; wait for it "
                                   "or stop it",
                        lock->directory, command, host, pid, since);
}

/* ---- the lock ------------------------------------------------------------- */

/* 0 when locked; else -1 with errno (EAGAIN/EACCES/EWOULDBLOCK: held). */
static int try_lock(int fd)
{
#ifdef F_OFD_SETLK
    struct flock whole = {0};
    whole.l_type = F_WRLCK;
    whole.l_whence = SEEK_SET;
    if (fcntl(fd, F_OFD_SETLK, &whole) == 0)
        return 0;
    if (errno != EINVAL) /* EINVAL: a kernel older than 3.15 */
        return -1;
#endif
    return flock(fd, LOCK_EX | LOCK_NB);
}

static int lock_is_held_elsewhere(int error)
{
    return error == EAGAIN || error == EACCES || error == EWOULDBLOCK;
}

static int lock_is_unsupported(int error)
{
    return error == ENOLCK || error == ENOSYS || error == EOPNOTSUPP || error == ENOTSUP;
}

static int open_lock_file(sn_run_lock *lock)
{
    /* O_NOFOLLOW: a symbolic link planted as the lock file is refused, not
     * followed; O_NONBLOCK: a FIFO must not block the open. */
    lock->fd = open(lock->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0666);
    if (lock->fd < 0)
        return sn_error_set(SN_ERR_IO, "%s: cannot open the lock file: %s", lock->path,
                            errno == ENOENT ? "the directory does not exist" : strerror(errno));
    struct stat info;
    if (fstat(lock->fd, &info) != 0 || !S_ISREG(info.st_mode))
        return sn_error_set(SN_ERR_IO, "%s: not a regular file", lock->path);
    return SN_OK;
}

/* Takes the lock, or refuses with the holder's record. A holder that has
 * just locked may not have written its record yet: a refused writer that
 * finds it empty tries again for a moment (the holder may also be ending). */
static int take(sn_run_lock *lock)
{
    char record[RECORD_BYTES];
    for (int attempt = 0;; attempt++) {
        if (try_lock(lock->fd) == 0)
            return SN_OK;
        int error = errno;
        if (lock_is_unsupported(error)) {
            snprintf(lock->unsupported, sizeof lock->unsupported,
                     "%s: the file system does not support locks (%s)", lock->path, strerror(error));
            close(lock->fd);
            lock->fd = -1;
            return SN_OK;
        }
        if (!lock_is_held_elsewhere(error))
            return sn_error_set(SN_ERR_IO, "%s: cannot lock: %s", lock->path, strerror(error));
        if (read_record(lock->fd, record) > 0 || attempt == RECORD_WAIT_TRIES)
            return refuse(lock, record);
        struct timespec pause = {0, RECORD_WAIT_NANOSECONDS};
        nanosleep(&pause, NULL);
    }
}

int sn_run_lock_acquire(sn_run_lock **lock, const char *directory, const char *command,
                        unsigned flags)
{
    if (!lock || !directory || !*directory || !command)
        return sn_error_set(SN_ERR_ARGUMENT, "run lock: no directory or command given");
    *lock = NULL;
    sn_run_lock *l = calloc(1, sizeof *l);
    if (!l)
        return sn_error_set(SN_ERR_NOMEM, "%s: out of memory for its lock", directory);
    l->fd = -1;
    int length = snprintf(l->directory, sizeof l->directory, "%s", directory);
    int status = SN_OK;
    if (length < 0 || (size_t)length + sizeof "/" SN_RUN_LOCK_NAME > sizeof l->directory)
        status = sn_error_set(SN_ERR_ARGUMENT, "%s: path too long", directory);
    if (status == SN_OK) {
        snprintf(l->path, sizeof l->path, "%s/" SN_RUN_LOCK_NAME, directory);
        if (flags & SN_RUN_LOCK_CREATE)
            status = make_directories(l);
    }
    if (status == SN_OK)
        status = open_lock_file(l);
    if (status == SN_OK)
        status = take(l);
    if (status == SN_OK && l->fd >= 0)
        status = write_record(l, command);
    if (status != SN_OK) {
        /* what we created goes only if it is ours: not while another holds it */
        if (l->fd >= 0 && try_lock(l->fd) == 0)
            remove_created(l);
        if (l->fd >= 0)
            close(l->fd);
        free(l);
        return status;
    }
    *lock = l;
    return SN_OK;
}

const char *sn_run_lock_unsupported(const sn_run_lock *lock)
{
    return lock && lock->fd < 0 ? lock->unsupported : NULL;
}

void sn_run_lock_release(sn_run_lock *lock)
{
    if (!lock)
        return;
    if (lock->fd >= 0) {
        /* while still held: a record never outlives its holder's lock */
        if (ftruncate(lock->fd, 0) != 0) {
            /* informative only: the lock goes with the descriptor anyway */
        }
        remove_created(lock);
        close(lock->fd); /* releases the lock */
    } else {
        remove_created(lock);
    }
    free(lock);
}
