/* fail_writes: an LD_PRELOAD shim for tests/cli/test_storage.sh that makes
 * writes to chosen files fail the way a full, read-only or broken file
 * system does. Built for `make check` only; never linked into shiftnas.
 *
 * A "write-like call" is one that can fail when storage does: opening for
 * writing (open, openat, creat, fopen), write, pwrite, writev, pwritev,
 * fsync, fdatasync, ftruncate, rename, and fflush and fclose of a stdio
 * stream (glibc's stdio writes through internal calls that a preloaded
 * library cannot see, so its flushes stand for them). Only calls on files
 * whose path matches FAIL_WRITES_PATTERN count.
 *
 * Environment:
 *   FAIL_WRITES_PATTERN  fnmatch(3) patterns separated by ':' ('*' matches
 *                        '/' too), matched against the path as opened
 *   FAIL_WRITES_AT       N: the N-th matching call (1-based) fails, and
 *                        every later one too (a full disk stays full);
 *                        unset or 0: nothing fails
 *   FAIL_WRITES_ONCE     1: only the N-th call fails (a transient fault)
 *   FAIL_WRITES_ERRNO    ENOSPC (default), EDQUOT, EROFS, EIO, EACCES,
 *                        ESTALE, ETIMEDOUT or a number
 *   FAIL_WRITES_LOG      a file that receives one line per matching call:
 *                        "N CALL PATH" and " FAILED" when it was failed
 *                        (counting mode: the log without FAIL_WRITES_AT)
 *   FAIL_WRITES_CALLS    only these calls count (comma-separated names,
 *                        e.g. "pwrite,write"); default: all
 * Nothing is printed on stdout or stderr: the program's own lines are
 * what the test checks. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FDS 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *fd_paths[MAX_FDS];
static long calls; /* matching calls so far */
static long fail_at;
static int fail_once, fail_errno = ENOSPC, configured;
static const char *patterns, *log_path, *call_filter;

/* ---- the real functions ---------------------------------------------------- */

#define REAL(name) real_##name
#define DECLARE_REAL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
DECLARE_REAL(int, open, const char *, int, ...);
DECLARE_REAL(int, open64, const char *, int, ...);
DECLARE_REAL(int, openat, int, const char *, int, ...);
DECLARE_REAL(int, openat64, int, const char *, int, ...);
DECLARE_REAL(int, creat, const char *, mode_t);
DECLARE_REAL(FILE *, fopen, const char *, const char *);
DECLARE_REAL(FILE *, fopen64, const char *, const char *);
DECLARE_REAL(int, close, int);
DECLARE_REAL(int, dup2, int, int);
DECLARE_REAL(int, dup3, int, int, int);
DECLARE_REAL(int, fclose, FILE *);
DECLARE_REAL(int, fflush, FILE *);
DECLARE_REAL(ssize_t, write, int, const void *, size_t);
DECLARE_REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
DECLARE_REAL(ssize_t, pwrite64, int, const void *, size_t, off_t);
DECLARE_REAL(ssize_t, writev, int, const struct iovec *, int);
DECLARE_REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t);
DECLARE_REAL(ssize_t, pwritev64, int, const struct iovec *, int, off_t);
DECLARE_REAL(int, fsync, int);
DECLARE_REAL(int, fdatasync, int);
DECLARE_REAL(int, ftruncate, int, off_t);
DECLARE_REAL(int, ftruncate64, int, off_t);
DECLARE_REAL(int, rename, const char *, const char *);

#define RESOLVE(name) (real_##name ? (void)0 : (void)(*(void **)&real_##name = dlsym(RTLD_NEXT, #name)))

static int errno_named(const char *text)
{
    static const struct {
        const char *name;
        int value;
    } names[] = {{"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT},       {"EROFS", EROFS}, {"EIO", EIO},
                 {"EACCES", EACCES}, {"ESTALE", ESTALE},       {"ETIMEDOUT", ETIMEDOUT},
                 {"EINTR", EINTR},   {"EAGAIN", EAGAIN},       {"EFBIG", EFBIG}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(text, names[i].name) == 0)
            return names[i].value;
    int value = atoi(text);
    return value > 0 ? value : ENOSPC;
}

static void configure(void)
{
    if (configured)
        return;
    configured = 1;
    patterns = getenv("FAIL_WRITES_PATTERN");
    log_path = getenv("FAIL_WRITES_LOG");
    call_filter = getenv("FAIL_WRITES_CALLS");
    const char *at = getenv("FAIL_WRITES_AT");
    fail_at = at ? atol(at) : 0;
    const char *once = getenv("FAIL_WRITES_ONCE");
    fail_once = once && strcmp(once, "1") == 0;
    const char *error = getenv("FAIL_WRITES_ERRNO");
    if (error && *error)
        fail_errno = errno_named(error);
}

static int matches(const char *path)
{
    configure();
    if (!path || !patterns || !*patterns)
        return 0;
    char buffer[4096];
    snprintf(buffer, sizeof buffer, "%s", patterns);
    char *save = NULL;
    for (char *p = strtok_r(buffer, ":", &save); p; p = strtok_r(NULL, ":", &save))
        if (fnmatch(p, path, 0) == 0)
            return 1;
    return 0;
}

static int call_counted(const char *call)
{
    if (!call_filter || !*call_filter)
        return 1;
    size_t length = strlen(call);
    for (const char *c = call_filter; (c = strstr(c, call)) != NULL; c += length)
        if ((c == call_filter || c[-1] == ',') && (c[length] == ',' || c[length] == '\0'))
            return 1;
    return 0;
}

static void log_call(long n, const char *call, const char *path, int failed)
{
    if (!log_path)
        return;
    RESOLVE(open);
    RESOLVE(write);
    RESOLVE(close);
    int fd = REAL(open)(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char line[4200];
    int length = snprintf(line, sizeof line, "%ld %s %s%s\n", n, call, path, failed ? " FAILED" : "");
    if (length > 0)
        (void)!REAL(write)(fd, line, (size_t)length < sizeof line ? (size_t)length : sizeof line - 1);
    REAL(close)(fd);
}

/* Decides a matching call: 1 (errno set) when it must fail. */
static int should_fail(const char *call, const char *path)
{
    if (!matches(path) || !call_counted(call))
        return 0;
    pthread_mutex_lock(&lock);
    long n = ++calls;
    int fail = fail_at > 0 && (fail_once ? n == fail_at : n >= fail_at);
    log_call(n, call, path, fail);
    pthread_mutex_unlock(&lock);
    if (fail)
        errno = fail_errno;
    return fail;
}

static const char *path_of(int fd)
{
    return fd >= 0 && fd < MAX_FDS ? fd_paths[fd] : NULL;
}

static void remember(int fd, const char *path)
{
    if (fd < 0 || fd >= MAX_FDS || !path)
        return;
    pthread_mutex_lock(&lock);
    free(fd_paths[fd]);
    fd_paths[fd] = matches(path) ? strdup(path) : NULL;
    pthread_mutex_unlock(&lock);
}

static void forget(int fd)
{
    if (fd < 0 || fd >= MAX_FDS)
        return;
    pthread_mutex_lock(&lock);
    free(fd_paths[fd]);
    fd_paths[fd] = NULL;
    pthread_mutex_unlock(&lock);
}

static int for_writing(int flags)
{
    return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) != 0;
}

/* ---- opening ------------------------------------------------------------- */

#define OPEN_BODY(real, ...)                                                  \
    mode_t mode = 0;                                                          \
    if (flags & (O_CREAT | O_TMPFILE)) {                                      \
        va_list args;                                                         \
        va_start(args, flags);                                                \
        mode = (mode_t)va_arg(args, int);                                     \
        va_end(args);                                                         \
    }                                                                         \
    RESOLVE(real);                                                            \
    if (for_writing(flags) && should_fail("open", path))                      \
        return -1;                                                            \
    int fd = REAL(real)(__VA_ARGS__, flags, mode);                            \
    remember(fd, path);                                                       \
    return fd;

int open(const char *path, int flags, ...) { OPEN_BODY(open, path) }
int open64(const char *path, int flags, ...) { OPEN_BODY(open64, path) }
int openat(int dir, const char *path, int flags, ...) { OPEN_BODY(openat, dir, path) }
int openat64(int dir, const char *path, int flags, ...) { OPEN_BODY(openat64, dir, path) }

/* _FORTIFY_SOURCE's checked variants: no mode argument. */
int __open_2(const char *path, int flags) { return open(path, flags); }
int __open64_2(const char *path, int flags) { return open64(path, flags); }

int creat(const char *path, mode_t mode)
{
    RESOLVE(creat);
    if (should_fail("open", path))
        return -1;
    int fd = REAL(creat)(path, mode);
    remember(fd, path);
    return fd;
}

static FILE *open_stream(FILE *(*real)(const char *, const char *), const char *path, const char *mode)
{
    int writing = strpbrk(mode, "wa+") != NULL;
    if (writing && should_fail("fopen", path))
        return NULL;
    FILE *f = real(path, mode);
    if (f && writing) /* a stream read only never counts */
        remember(fileno(f), path);
    return f;
}

FILE *fopen(const char *path, const char *mode)
{
    RESOLVE(fopen);
    return open_stream(REAL(fopen), path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
    RESOLVE(fopen64);
    return open_stream(REAL(fopen64), path, mode);
}

int close(int fd)
{
    RESOLVE(close);
    forget(fd);
    return REAL(close)(fd);
}

/* The new descriptor is the old one's file: a file replaced by dup2 is no
 * longer the one that matched. */
static void copy_path(int from, int to)
{
    if (to < 0 || to >= MAX_FDS)
        return;
    pthread_mutex_lock(&lock);
    free(fd_paths[to]);
    const char *path = path_of(from);
    fd_paths[to] = path ? strdup(path) : NULL;
    pthread_mutex_unlock(&lock);
}

int dup2(int from, int to)
{
    RESOLVE(dup2);
    int result = REAL(dup2)(from, to);
    if (result >= 0 && from != to)
        copy_path(from, to);
    return result;
}

int dup3(int from, int to, int flags)
{
    RESOLVE(dup3);
    int result = REAL(dup3)(from, to, flags);
    if (result >= 0)
        copy_path(from, to);
    return result;
}

/* ---- writing ------------------------------------------------------------- */

ssize_t write(int fd, const void *buffer, size_t size)
{
    RESOLVE(write);
    if (should_fail("write", path_of(fd)))
        return -1;
    return REAL(write)(fd, buffer, size);
}

ssize_t pwrite(int fd, const void *buffer, size_t size, off_t offset)
{
    RESOLVE(pwrite);
    if (should_fail("pwrite", path_of(fd)))
        return -1;
    return REAL(pwrite)(fd, buffer, size, offset);
}

ssize_t pwrite64(int fd, const void *buffer, size_t size, off_t offset)
{
    RESOLVE(pwrite64);
    if (should_fail("pwrite", path_of(fd)))
        return -1;
    return REAL(pwrite64)(fd, buffer, size, offset);
}

ssize_t writev(int fd, const struct iovec *vector, int count)
{
    RESOLVE(writev);
    if (should_fail("writev", path_of(fd)))
        return -1;
    return REAL(writev)(fd, vector, count);
}

ssize_t pwritev(int fd, const struct iovec *vector, int count, off_t offset)
{
    RESOLVE(pwritev);
    if (should_fail("pwritev", path_of(fd)))
        return -1;
    return REAL(pwritev)(fd, vector, count, offset);
}

ssize_t pwritev64(int fd, const struct iovec *vector, int count, off_t offset)
{
    RESOLVE(pwritev64);
    if (should_fail("pwritev", path_of(fd)))
        return -1;
    return REAL(pwritev64)(fd, vector, count, offset);
}

int fsync(int fd)
{
    RESOLVE(fsync);
    if (should_fail("fsync", path_of(fd)))
        return -1;
    return REAL(fsync)(fd);
}

int fdatasync(int fd)
{
    RESOLVE(fdatasync);
    if (should_fail("fdatasync", path_of(fd)))
        return -1;
    return REAL(fdatasync)(fd);
}

int ftruncate(int fd, off_t length)
{
    RESOLVE(ftruncate);
    if (should_fail("ftruncate", path_of(fd)))
        return -1;
    return REAL(ftruncate)(fd, length);
}

int ftruncate64(int fd, off_t length)
{
    RESOLVE(ftruncate64);
    if (should_fail("ftruncate", path_of(fd)))
        return -1;
    return REAL(ftruncate64)(fd, length);
}

int rename(const char *from, const char *to)
{
    RESOLVE(rename);
    if (should_fail("rename", matches(to) ? to : from))
        return -1;
    return REAL(rename)(from, to);
}

/* ---- stdio: its flushes stand for its hidden writes ------------------------ */

/* The stream's error flag, as a failed write would leave it (glibc). */
static void mark_error(FILE *f)
{
#ifdef _IO_ERR_SEEN
    f->_flags |= _IO_ERR_SEEN;
#else
    f->_flags |= 0x20;
#endif
}

int fflush(FILE *f)
{
    RESOLVE(fflush);
    if (f && should_fail("fflush", path_of(fileno(f)))) {
        mark_error(f);
        return EOF;
    }
    return REAL(fflush)(f);
}

int fclose(FILE *f)
{
    RESOLVE(fclose);
    int fd = f ? fileno(f) : -1;
    const char *path = path_of(fd);
    int fail = f && should_fail("fclose", path);
    int error = errno;
    forget(fd);
    int result = REAL(fclose)(f); /* the descriptor is released either way */
    if (fail) {
        errno = error;
        return EOF;
    }
    return result;
}
