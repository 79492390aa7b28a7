/* The checkpoints directory of a run (contract in shiftnas/checkpoint.h):
 * names, atomic publication, the `latest` pointer, pruning, leftovers.
 *
 * Publication is a sequence of renames, each made durable (directory fsync)
 * before the next, so that a kill between any two steps leaves `latest`
 * naming a complete file: the temporary becomes its step file, then
 * `latest` is replaced whole (written to latest.tmp, synced, renamed). Old
 * checkpoints are removed only after `latest` names the new one. Names are
 * parsed strictly (one canonical spelling per step) so that `latest` can
 * never name a file outside the directory. */
#include "shiftnas/checkpoint.h"
#include "shiftnas/error.h"
#include "write_failure.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIRECTORY_NAME "checkpoints"
#define LATEST_NAME "latest"
#define LATEST_TEMPORARY_NAME "latest.tmp"
/* Paths built here; a run directory nests far less deep. */
#define PATH_BYTES 4096
/* "step-" + at most 18 digits + ".h5\n" fits with room to spare. */
#define LATEST_MAX_BYTES 64

/* ---- names ------------------------------------------------------------------ */

static int format_name(char *buffer, size_t size, const char *run_dir, const char *name, const char *what)
{
    if (!run_dir || !*run_dir)
        return sn_error_set(SN_ERR_ARGUMENT, "checkpoint: no run directory given");
    if (!buffer)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: no buffer for the %s path", run_dir, what);
    int length = snprintf(buffer, size, "%s/" DIRECTORY_NAME "%s%s", run_dir, *name ? "/" : "", name);
    if (length < 0 || (size_t)length >= size)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: the %s path needs %d bytes, the buffer holds %zu", run_dir, what,
                            length + 1, size);
    return SN_OK;
}

static int format_step_name(char *buffer, size_t size, const char *run_dir, int64_t step, int temporary)
{
    if (step < 0)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: checkpoint step %lld is negative", run_dir ? run_dir : "checkpoint",
                            (long long)step);
    char name[64];
    snprintf(name, sizeof name, temporary ? ".step-%09lld.h5.tmp" : "step-%09lld.h5", (long long)step);
    return format_name(buffer, size, run_dir, name, temporary ? "temporary checkpoint" : "checkpoint");
}

int sn_checkpoint_path(char *buffer, size_t size, const char *run_dir, int64_t step)
{
    return format_step_name(buffer, size, run_dir, step, 0);
}

int sn_checkpoint_temporary_path(char *buffer, size_t size, const char *run_dir, int64_t step)
{
    return format_step_name(buffer, size, run_dir, step, 1);
}

/* "step-%09lld.h5" exactly as the writer spells it (at most 18 digits, no
 * leading zero beyond the padding): 1 and *step, else 0. With `prefix` "."
 * and `suffix` ".h5.tmp", the temporary's name. */
static int parse_step_name(const char *name, size_t length, const char *prefix, const char *suffix, int64_t *step)
{
    size_t prefix_length = strlen(prefix), suffix_length = strlen(suffix);
    if (length < prefix_length + 5 + 9 + suffix_length || memcmp(name, prefix, prefix_length) != 0 ||
        memcmp(name + prefix_length, "step-", 5) != 0 ||
        memcmp(name + length - suffix_length, suffix, suffix_length) != 0)
        return 0;
    const char *digits = name + prefix_length + 5;
    size_t count = length - prefix_length - 5 - suffix_length;
    if (count > 18 || (count > 9 && digits[0] == '0'))
        return 0;
    int64_t value = 0;
    for (size_t i = 0; i < count; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return 0;
        value = 10 * value + (digits[i] - '0');
    }
    *step = value;
    return 1;
}

/* ---- durability ------------------------------------------------------------- */

/* A rename or an unlink is durable once its directory is synced. */
static int sync_directory(const char *directory)
{
    int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int result = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}

/* Writes `text` to a new file at path and syncs it. */
static int write_synced_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return sn_write_failed(path, "cannot create", errno);
    size_t length = strlen(text), done = 0;
    int status = SN_OK;
    while (done < length && status == SN_OK) {
        ssize_t put = write(fd, text + done, length - done);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            status = sn_write_failed(path, "cannot write", put < 0 ? errno : 0);
        else
            done += (size_t)put;
    }
    if (status == SN_OK && fsync(fd) != 0)
        status = sn_write_failed(path, "cannot sync", errno);
    if (close(fd) != 0 && status == SN_OK)
        status = sn_write_failed(path, "cannot close", errno);
    if (status != SN_OK)
        unlink(path);
    return status;
}

int sn_checkpoint_directory_create(const char *run_dir)
{
    char directory[PATH_BYTES];
    SN_TRY(format_name(directory, sizeof directory, run_dir, "", "checkpoints directory"));
    if (mkdir(directory, 0777) == 0) {
        sync_directory(run_dir); /* durability only: the directory exists either way */
        return SN_OK;
    }
    if (errno != EEXIST)
        return sn_error_set(SN_ERR_IO, "%s: cannot create: %s", directory, strerror(errno));
    struct stat info;
    if (stat(directory, &info) != 0 || !S_ISDIR(info.st_mode))
        return sn_error_set(SN_ERR_IO, "%s: exists and is not a directory", directory);
    return SN_OK;
}

/* ---- publication ------------------------------------------------------------ */

static int compare_descending(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* Removes the complete checkpoints beyond the newest `keep`, sparing
 * `latest_step`. */
static int prune(const char *run_dir, const char *directory, int keep, int64_t latest_step)
{
    DIR *listing = opendir(directory);
    if (!listing)
        return sn_error_set(SN_ERR_IO, "%s: cannot list: %s", directory, strerror(errno));
    int64_t *steps = NULL;
    size_t count = 0, capacity = 0;
    int status = SN_OK;
    for (struct dirent *entry; status == SN_OK && (entry = readdir(listing)) != NULL;) {
        int64_t step;
        if (!parse_step_name(entry->d_name, strlen(entry->d_name), "", ".h5", &step))
            continue;
        if (count == capacity) {
            size_t grown = capacity ? 2 * capacity : 16;
            int64_t *more = realloc(steps, grown * sizeof *steps);
            if (!more) {
                status = sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate the list of checkpoints", directory);
                break;
            }
            steps = more;
            capacity = grown;
        }
        steps[count++] = step;
    }
    closedir(listing);
    if (status == SN_OK && count > 1)
        qsort(steps, count, sizeof *steps, compare_descending);
    int removed = 0;
    for (size_t i = (size_t)keep; status == SN_OK && i < count; i++) {
        if (steps[i] == latest_step)
            continue;
        char path[PATH_BYTES];
        status = sn_checkpoint_path(path, sizeof path, run_dir, steps[i]);
        if (status != SN_OK)
            break;
        if (unlink(path) != 0 && errno != ENOENT)
            status = sn_error_set(SN_ERR_IO, "%s: cannot remove an old checkpoint: %s", path, strerror(errno));
        else
            removed = 1;
    }
    free(steps);
    if (removed)
        sync_directory(directory); /* a removal that is lost is redone next time */
    return status;
}

int sn_checkpoint_publish(const char *run_dir, int64_t step, int keep)
{
    char temporary[PATH_BYTES], final[PATH_BYTES], directory[PATH_BYTES], latest[PATH_BYTES],
        latest_temporary[PATH_BYTES];
    SN_TRY(sn_checkpoint_temporary_path(temporary, sizeof temporary, run_dir, step));
    SN_TRY(sn_checkpoint_path(final, sizeof final, run_dir, step));
    SN_TRY(format_name(directory, sizeof directory, run_dir, "", "checkpoints directory"));
    SN_TRY(format_name(latest, sizeof latest, run_dir, LATEST_NAME, "latest"));
    SN_TRY(format_name(latest_temporary, sizeof latest_temporary, run_dir, LATEST_TEMPORARY_NAME, "latest"));
    if (keep < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: keep %d checkpoints (at least 1)", directory, keep);
    if (rename(temporary, final) != 0) {
        int error = errno;
        unlink(temporary); /* latest still names the previous checkpoint */
        return sn_write_failed(temporary, "cannot rename it to its step name", error);
    }
    if (sync_directory(directory) != 0)
        return sn_write_failed(directory, "cannot sync the directory", errno);
    char line[LATEST_MAX_BYTES];
    snprintf(line, sizeof line, "step-%09lld.h5\n", (long long)step);
    SN_TRY(write_synced_file(latest_temporary, line));
    if (rename(latest_temporary, latest) != 0) {
        int error = errno;
        unlink(latest_temporary);
        return sn_write_failed(latest_temporary, "cannot rename it to latest", error);
    }
    if (sync_directory(directory) != 0)
        return sn_write_failed(directory, "cannot sync the directory", errno);
    return prune(run_dir, directory, keep, step);
}

/* ---- resuming --------------------------------------------------------------- */

int sn_checkpoint_latest(const char *run_dir, char *path, size_t size, int *found)
{
    if (!found)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: nowhere to say whether a checkpoint was found",
                            run_dir ? run_dir : "checkpoint");
    *found = 0;
    if (path && size)
        path[0] = '\0';
    char latest[PATH_BYTES];
    SN_TRY(format_name(latest, sizeof latest, run_dir, LATEST_NAME, "latest"));
    int fd = open(latest, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
    if (fd < 0 && errno == ENOENT)
        return SN_OK; /* no checkpoints directory, or no checkpoint yet */
    if (fd < 0)
        return sn_error_set(SN_ERR_IO, "%s: cannot open: %s", latest, strerror(errno));
    char text[LATEST_MAX_BYTES + 1];
    size_t length = 0;
    int status = SN_OK;
    struct stat info;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode))
        status = sn_error_set(SN_ERR_FORMAT, "%s: not a regular file", latest);
    while (status == SN_OK && length < sizeof text) {
        ssize_t got = read(fd, text + length, sizeof text - length);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            status = sn_error_set(SN_ERR_IO, "%s: cannot read: %s", latest, strerror(errno));
        if (got <= 0)
            break;
        length += (size_t)got;
    }
    close(fd);
    SN_TRY(status);
    int64_t step = 0;
    /* One line, the name only: no directory part can sneak in. */
    if (length < 2 || length > LATEST_MAX_BYTES || text[length - 1] != '\n' ||
        !parse_step_name(text, length - 1, "", ".h5", &step))
        return sn_error_set(SN_ERR_FORMAT, "%s: malformed (expected one line \"step-NNNNNNNNN.h5\")", latest);
    char checkpoint[PATH_BYTES];
    SN_TRY(sn_checkpoint_path(checkpoint, sizeof checkpoint, run_dir, step));
    if (stat(checkpoint, &info) != 0)
        return sn_error_set(SN_ERR_FORMAT, "%s names %.*s, which %s", latest, (int)(length - 1), text,
                            errno == ENOENT ? "does not exist" : strerror(errno));
    if (!S_ISREG(info.st_mode))
        return sn_error_set(SN_ERR_FORMAT, "%s names %.*s, which is not a regular file", latest, (int)(length - 1),
                            text);
    SN_TRY(sn_checkpoint_path(path, size, run_dir, step));
    *found = 1;
    return SN_OK;
}

/* The steps of the complete checkpoints in `directory`, newest first
 * (*steps NULL and *count 0 when the directory does not exist). */
static int collect_steps(const char *directory, int64_t **steps, size_t *count)
{
    *steps = NULL;
    *count = 0;
    DIR *listing = opendir(directory);
    if (!listing && errno == ENOENT)
        return SN_OK;
    if (!listing)
        return sn_error_set(SN_ERR_IO, "%s: cannot list: %s", directory, strerror(errno));
    size_t capacity = 0;
    int status = SN_OK;
    for (struct dirent *entry; status == SN_OK && (entry = readdir(listing)) != NULL;) {
        int64_t step;
        if (!parse_step_name(entry->d_name, strlen(entry->d_name), "", ".h5", &step))
            continue;
        if (*count == capacity) {
            size_t grown = capacity ? 2 * capacity : 16;
            int64_t *more = realloc(*steps, grown * sizeof **steps);
            if (!more) {
                status = sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate the list of checkpoints", directory);
                break;
            }
            *steps = more;
            capacity = grown;
        }
        (*steps)[(*count)++] = step;
    }
    closedir(listing);
    if (status == SN_OK && *count > 1)
        qsort(*steps, *count, sizeof **steps, compare_descending);
    if (status != SN_OK) {
        free(*steps);
        *steps = NULL;
        *count = 0;
    }
    return status;
}

int sn_checkpoint_newest_intact(const char *run_dir, char *path, size_t size, int *found)
{
    if (!found)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: nowhere to say whether a checkpoint was found",
                            run_dir ? run_dir : "checkpoint");
    *found = 0;
    char directory[PATH_BYTES];
    SN_TRY(format_name(directory, sizeof directory, run_dir, "", "checkpoints directory"));
    int64_t *steps;
    size_t count;
    SN_TRY(collect_steps(directory, &steps, &count));
    int status = SN_OK;
    for (size_t i = 0; i < count && status == SN_OK && !*found; i++) {
        char candidate[PATH_BYTES];
        status = sn_checkpoint_path(candidate, sizeof candidate, run_dir, steps[i]);
        /* a damaged one is passed over: the caller has said what it skips */
        if (status == SN_OK && sn_checkpoint_verify(candidate, NULL) == SN_OK) {
            status = sn_checkpoint_path(path, size, run_dir, steps[i]);
            *found = status == SN_OK;
        }
    }
    free(steps);
    return status;
}

int sn_checkpoint_remove_temporaries(const char *run_dir)
{
    char directory[PATH_BYTES];
    SN_TRY(format_name(directory, sizeof directory, run_dir, "", "checkpoints directory"));
    DIR *listing = opendir(directory);
    if (!listing && errno == ENOENT)
        return SN_OK;
    if (!listing)
        return sn_error_set(SN_ERR_IO, "%s: cannot list: %s", directory, strerror(errno));
    int status = SN_OK, removed = 0;
    for (struct dirent *entry; (entry = readdir(listing)) != NULL;) {
        int64_t step;
        const char *name = entry->d_name;
        if (strcmp(name, LATEST_TEMPORARY_NAME) != 0 &&
            !parse_step_name(name, strlen(name), ".", ".h5.tmp", &step))
            continue;
        char path[PATH_BYTES + sizeof entry->d_name + 1]; /* d_name: at most NAME_MAX + 1 */
        snprintf(path, sizeof path, "%s/%s", directory, name);
        if (unlink(path) == 0 || errno == ENOENT)
            removed = 1;
        else if (status == SN_OK)
            status = sn_error_set(SN_ERR_IO, "%s: cannot remove a leftover temporary: %s", path, strerror(errno));
    }
    closedir(listing);
    if (removed)
        sync_directory(directory);
    return status;
}
