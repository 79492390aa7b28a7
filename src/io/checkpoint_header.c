/* The text header of a checkpoint file (format in shiftnas/checkpoint.h, the
 * reasons in src/io/checkpoint.c): written into the HDF5 user block once HDF5
 * has closed the file, checked before HDF5 reads a byte of it.
 *
 * The parser is strict — exact lines, canonical numbers, lowercase hex, NUL
 * padding — so that any change to the header's 512 bytes is refused, like
 * any change to the bytes the CRC covers. */
#include "checkpoint_header.h"
#include "write_failure.h"

#include "shiftnas/checkpoint.h"
#include "shiftnas/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define HEADER_MAGIC "shiftnas-checkpoint "
#define CRC_CHUNK_BYTES ((size_t)1 << 20)

/* ---- file access ---------------------------------------------------------- */

/* pread until `size` bytes or end of file; the count read, or -1 (errno). */
static ssize_t read_at(int fd, void *buffer, size_t size, off_t offset)
{
    size_t done = 0;
    while (done < size) {
        ssize_t got = pread(fd, (char *)buffer + done, size - done, offset + (off_t)done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

static int write_at(int fd, const void *buffer, size_t size, off_t offset)
{
    size_t done = 0;
    while (done < size) {
        ssize_t put = pwrite(fd, (const char *)buffer + done, size - done, offset + (off_t)done);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        done += (size_t)put;
    }
    return 0;
}

/* CRC-32 of bytes [SN_CHECKPOINT_HEADER_BYTES, size) of fd. */
static int crc_after_header(const char *path, int fd, int64_t size, uint32_t *crc)
{
    unsigned char *buffer = malloc(CRC_CHUNK_BYTES);
    if (!buffer)
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot allocate %zu bytes to check it", path,
                            CRC_CHUNK_BYTES);
    uLong sum = crc32(0L, Z_NULL, 0);
    int status = SN_OK;
    for (int64_t offset = SN_CHECKPOINT_HEADER_BYTES; offset < size && status == SN_OK;) {
        size_t want = (size_t)(size - offset) < CRC_CHUNK_BYTES ? (size_t)(size - offset) : CRC_CHUNK_BYTES;
        ssize_t got = read_at(fd, buffer, want, (off_t)offset);
        if (got < 0)
            status = sn_error_set(SN_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        else if ((size_t)got < want)
            status = sn_error_set(SN_ERR_FORMAT, "%s: truncated: %lld of %lld bytes (shrank while being read)",
                                  path, (long long)(offset + got), (long long)size);
        else
            sum = crc32(sum, buffer, (uInt)got);
        offset += got > 0 ? got : 0;
    }
    free(buffer);
    *crc = (uint32_t)sum;
    return status;
}

/* ---- parsing -------------------------------------------------------------- */

typedef enum {
    HEADER_OK,      /* all three lines and the padding are well formed */
    HEADER_SHORT,   /* the bytes end before the three lines do */
    HEADER_FOREIGN, /* no magic: not ours */
    HEADER_NEWER,   /* a later format version: its header may differ */
    HEADER_DAMAGED  /* ours, but a line or the padding is malformed */
} header_state;

typedef struct {
    long long version;
    int64_t size;
    uint32_t crc;
    const char *problem; /* for HEADER_DAMAGED */
} header_fields;

/* 1 if `text` follows at *pos (which then moves past it), 0 if other bytes
 * do, -1 if the bytes end first. */
static int expect_text(const unsigned char *bytes, size_t count, size_t *pos, const char *text)
{
    for (size_t i = 0; text[i]; i++) {
        if (*pos + i >= count)
            return -1;
        if (bytes[*pos + i] != (unsigned char)text[i])
            return 0;
    }
    *pos += strlen(text);
    return 1;
}

/* A canonical decimal (no sign, no leading zero) of at most max_digits
 * digits followed by '\n'. 1, 0 or -1 as expect_text. */
static int expect_number(const unsigned char *bytes, size_t count, size_t *pos, int max_digits,
                         unsigned long long *value)
{
    unsigned long long v = 0;
    int digits = 0;
    size_t p = *pos;
    for (;; p++, digits++) {
        if (p >= count)
            return -1;
        if (bytes[p] < '0' || bytes[p] > '9')
            break;
        if (digits == max_digits || (digits == 1 && v == 0))
            return 0;
        v = 10 * v + (unsigned long long)(bytes[p] - '0');
    }
    if (digits == 0 || bytes[p] != '\n')
        return 0;
    *pos = p + 1;
    *value = v;
    return 1;
}

static header_state damaged(header_fields *fields, const char *problem)
{
    fields->problem = problem;
    return HEADER_DAMAGED;
}

static header_state parse_header(const unsigned char *bytes, size_t count, header_fields *fields)
{
    memset(fields, 0, sizeof *fields);
    size_t pos = 0;
    int r = expect_text(bytes, count, &pos, HEADER_MAGIC);
    if (r == 0 || count == 0)
        return HEADER_FOREIGN;
    if (r < 0)
        return HEADER_SHORT;
    unsigned long long value = 0;
    r = expect_number(bytes, count, &pos, 9, &value);
    if (r <= 0)
        return r < 0 ? HEADER_SHORT : damaged(fields, "malformed version line");
    fields->version = (long long)value;
    if (value > SN_CHECKPOINT_FORMAT_VERSION)
        return HEADER_NEWER; /* whose other lines this build cannot know */
    if (value < 1)
        return damaged(fields, "format version 0");
    r = expect_text(bytes, count, &pos, "size ");
    if (r <= 0)
        return r < 0 ? HEADER_SHORT : damaged(fields, "second line is not \"size N\"");
    r = expect_number(bytes, count, &pos, 18, &value);
    if (r <= 0)
        return r < 0 ? HEADER_SHORT : damaged(fields, "malformed size line");
    if (value <= SN_CHECKPOINT_HEADER_BYTES)
        return damaged(fields, "size no larger than the header");
    fields->size = (int64_t)value;
    r = expect_text(bytes, count, &pos, "crc32 0x");
    if (r <= 0)
        return r < 0 ? HEADER_SHORT : damaged(fields, "third line is not \"crc32 0xXXXXXXXX\"");
    uint32_t crc = 0;
    for (int i = 0; i < 9; i++, pos++) {
        if (pos >= count)
            return HEADER_SHORT;
        unsigned char c = bytes[pos];
        if (i == 8 && c == '\n')
            break;
        if (i < 8 && c >= '0' && c <= '9')
            crc = 16 * crc + (uint32_t)(c - '0');
        else if (i < 8 && c >= 'a' && c <= 'f')
            crc = 16 * crc + (uint32_t)(c - 'a' + 10);
        else
            return damaged(fields, "malformed crc32 line");
    }
    pos++;
    fields->crc = crc;
    for (; pos < count; pos++)
        if (bytes[pos] != 0)
            return damaged(fields, "bytes after the third line are not NUL");
    return HEADER_OK;
}

/* ---- verifying ------------------------------------------------------------ */

static int check_open_file(const char *path, int fd, int64_t length)
{
    unsigned char bytes[SN_CHECKPOINT_HEADER_BYTES];
    size_t want = length < SN_CHECKPOINT_HEADER_BYTES ? (size_t)length : SN_CHECKPOINT_HEADER_BYTES;
    ssize_t got = read_at(fd, bytes, want, 0);
    if (got < 0)
        return sn_error_set(SN_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (length == 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: not a shiftnas checkpoint (an empty file)", path);
    header_fields fields;
    switch (parse_header(bytes, (size_t)got, &fields)) {
    case HEADER_FOREIGN:
        return sn_error_set(SN_ERR_FORMAT, "%s: not a shiftnas checkpoint (no \"shiftnas-checkpoint\" header)",
                            path);
    case HEADER_NEWER:
        return sn_error_set(SN_ERR_FORMAT, "%s: format version %lld is newer than this shiftnas reads (%d)",
                            path, fields.version, SN_CHECKPOINT_FORMAT_VERSION);
    case HEADER_DAMAGED:
        return sn_error_set(SN_ERR_FORMAT, "%s: damaged: header: %s", path, fields.problem);
    case HEADER_SHORT:
        return sn_error_set(SN_ERR_FORMAT, "%s: truncated: %lld bytes, shorter than its %d-byte header", path,
                            (long long)got, SN_CHECKPOINT_HEADER_BYTES);
    case HEADER_OK:
        break;
    }
    if ((size_t)got < want || length < fields.size)
        return sn_error_set(SN_ERR_FORMAT, "%s: truncated: %lld of %lld bytes", path,
                            (long long)((size_t)got < want ? got : length), (long long)fields.size);
    if (length > fields.size)
        return sn_error_set(SN_ERR_FORMAT, "%s: %lld bytes expected, %lld found", path,
                            (long long)fields.size, (long long)length);
    uint32_t crc = 0;
    SN_TRY(crc_after_header(path, fd, fields.size, &crc));
    if (crc != fields.crc)
        return sn_error_set(SN_ERR_FORMAT, "%s: damaged: checksum of bytes %d..%lld is 0x%08x, the header says 0x%08x",
                            path, SN_CHECKPOINT_HEADER_BYTES, (long long)fields.size, (unsigned)crc,
                            (unsigned)fields.crc);
    return SN_OK;
}

int sn_checkpoint_verify(const char *path, int64_t *size)
{
    if (size)
        *size = 0;
    if (!path || !*path)
        return sn_error_set(SN_ERR_ARGUMENT, "checkpoint: no path given");
    /* O_NONBLOCK: a FIFO by that name must not keep us waiting for a writer
     * (it is refused below; for a regular file the flag changes nothing). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return sn_error_set(SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat info;
    int status = SN_OK;
    if (fstat(fd, &info) != 0)
        status = sn_error_set(SN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(info.st_mode))
        status = sn_error_set(SN_ERR_IO, "%s: cannot open: not a regular file", path);
    else
        status = check_open_file(path, fd, (int64_t)info.st_size);
    close(fd);
    if (status == SN_OK && size)
        *size = (int64_t)info.st_size;
    return status;
}

/* ---- writing -------------------------------------------------------------- */

int sn_checkpoint_header_write(const char *path)
{
    static const unsigned char hdf5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return sn_write_failed(path, "cannot reopen to write its header", errno);
    struct stat info;
    unsigned char bytes[SN_CHECKPOINT_HEADER_BYTES];
    int status = SN_OK;
    if (fstat(fd, &info) != 0) {
        status = sn_error_set(SN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (info.st_size <= SN_CHECKPOINT_HEADER_BYTES + (off_t)sizeof hdf5_signature ||
               read_at(fd, bytes, sizeof hdf5_signature, SN_CHECKPOINT_HEADER_BYTES) !=
                   (ssize_t)sizeof hdf5_signature ||
               memcmp(bytes, hdf5_signature, sizeof hdf5_signature) != 0) {
        /* The header would describe a file HDF5 cannot open. */
        status = sn_error_set(SN_ERR_INTERNAL, "%s: no HDF5 superblock after the %d-byte user block", path,
                              SN_CHECKPOINT_HEADER_BYTES);
    }
    uint32_t crc = 0;
    if (status == SN_OK)
        status = crc_after_header(path, fd, (int64_t)info.st_size, &crc);
    if (status == SN_OK) {
        memset(bytes, 0, sizeof bytes);
        snprintf((char *)bytes, sizeof bytes, "%s%d\nsize %lld\ncrc32 0x%08x\n", HEADER_MAGIC,
                 SN_CHECKPOINT_FORMAT_VERSION, (long long)info.st_size, (unsigned)crc);
        if (write_at(fd, bytes, sizeof bytes, 0) != 0)
            status = sn_write_failed(path, "cannot write its header", errno);
    }
    if (status == SN_OK && fsync(fd) != 0)
        status = sn_write_failed(path, "cannot sync", errno);
    if (close(fd) != 0 && status == SN_OK)
        status = sn_write_failed(path, "cannot close", errno);
    return status;
}
