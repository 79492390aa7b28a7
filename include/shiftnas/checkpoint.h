/*
 * shiftnas/checkpoint.h — checkpoint files: one HDF5 file holds everything a
 * run needs to continue bit for bit (doc/checkpoint.md gives the layout the
 * trainer writes; this header is the file mechanics only).
 *
 * A checkpoint file is an ordinary HDF5 file (h5py opens it) that starts
 * with a 512-byte user block (HDF5 skips it) holding a text header:
 *
 *     shiftnas-checkpoint 1\n          magic and format version
 *     size 12345678\n                  the file's length in bytes
 *     crc32 0x1a2b3c4d\n               zlib CRC-32 of bytes [512, size)
 *
 * padded with NUL bytes. The reader checks the header before HDF5 parses a
 * byte, so a truncated or damaged file is refused with a clear message and
 * never reaches HDF5's parser; a foreign file (a model.h5, any other HDF5
 * file) has no header and is refused as "not a shiftnas checkpoint".
 *
 * Atomic publication (RUN_DIR/checkpoints/):
 *     .step-000000500.h5.tmp   written here first (sn_checkpoint_temporary_path)
 *     step-000000500.h5        renamed into place when complete
 *     latest                   one line, the file name of the newest complete
 *                              checkpoint; replaced by rename
 *   A kill at any moment leaves `latest` naming a complete file: the
 *   temporary is finished (closed, header written, fsync'd) before any rename,
 *   and `latest` is replaced only after the rename of its file. The caller
 *   (the trainer) agrees across ranks between sn_checkpoint_writer_finish and
 *   sn_checkpoint_publish.
 *
 *     sn_checkpoint_writer *w;
 *     char tmp[1024];
 *     sn_checkpoint_temporary_path(tmp, sizeof tmp, run_dir, step);
 *     SN_TRY(sn_checkpoint_writer_create(&w, tmp));
 *     int64_t dims[2] = {rows, cols};
 *     status = sn_checkpoint_write_array(w, "supernet/stem.weight", SN_CHECKPOINT_FLOAT32, 2, dims, data);
 *     ... (on any failure: sn_checkpoint_writer_abandon(w), which removes tmp)
 *     SN_TRY(sn_checkpoint_writer_finish(w));         // closes, header, fsync; frees w
 *     SN_TRY(sn_checkpoint_publish(run_dir, step, keep));
 *
 * Every function returns SN_OK or an error code with a one-line message
 * (sn_error_message) naming the file and the problem.
 */
#ifndef SHIFTNAS_CHECKPOINT_H
#define SHIFTNAS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "shiftnas/api.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SN_CHECKPOINT_FORMAT_VERSION = 1,
    SN_CHECKPOINT_HEADER_BYTES = 512, /* the HDF5 user block */
    SN_CHECKPOINT_RANK_MAX = 4        /* dimensions of an array */
};

typedef enum {
    SN_CHECKPOINT_FLOAT32 = 0,
    SN_CHECKPOINT_FLOAT64,
    SN_CHECKPOINT_INT64,
    SN_CHECKPOINT_INT32,
    SN_CHECKPOINT_UINT8
} sn_checkpoint_type;

/* "float32", "float64", "int64", "int32", "uint8". */
SN_API const char *sn_checkpoint_type_name(sn_checkpoint_type type);
SN_API size_t sn_checkpoint_type_size(sn_checkpoint_type type);

/* ---- writing ------------------------------------------------------------- */

typedef struct sn_checkpoint_writer sn_checkpoint_writer;

/* Creates (truncating) the HDF5 file at path with the 512-byte user block. */
SN_API int sn_checkpoint_writer_create(sn_checkpoint_writer **writer, const char *path);

/* One dataset: name is a path ("supernet/stem.weight"); the groups before
 * the last '/' are created as needed. rank 0 is a scalar dataset (dims
 * unused), else 1..SN_CHECKPOINT_RANK_MAX dims (a dim may be 0). Stored
 * contiguous, little-endian, exactly of `type`. */
SN_API int sn_checkpoint_write_array(sn_checkpoint_writer *writer, const char *name,
                                     sn_checkpoint_type type, int rank, const int64_t *dims,
                                     const void *data);

/* Attributes on the file's root group: a UTF-8 string (any length), an
 * int64, a float64. */
SN_API int sn_checkpoint_write_text(sn_checkpoint_writer *writer, const char *name,
                                    const char *text);
SN_API int sn_checkpoint_write_int64(sn_checkpoint_writer *writer, const char *name, int64_t value);
SN_API int sn_checkpoint_write_double(sn_checkpoint_writer *writer, const char *name, double value);

/* Closes the HDF5 file, computes the CRC-32 of everything after the user
 * block, writes the header, fsyncs. Frees the writer whatever the outcome;
 * on failure the file is removed. */
SN_API int sn_checkpoint_writer_finish(sn_checkpoint_writer *writer);

/* Closes and removes the file without finishing it (after a failure).
 * Safe with NULL. */
SN_API void sn_checkpoint_writer_abandon(sn_checkpoint_writer *writer);

/* ---- reading ------------------------------------------------------------- */

typedef struct sn_checkpoint_reader sn_checkpoint_reader;

/* Checks the header (magic, version not newer than this build's, size equal
 * to the file's length, CRC-32) and only then opens the file with HDF5.
 * Errors: SN_ERR_IO (cannot open/read), SN_ERR_FORMAT with one of
 * "not a shiftnas checkpoint", "format version N is newer than this
 * shiftnas reads (1)", "truncated: A of B bytes", "B bytes expected, A
 * found", "damaged: checksum ...", "HDF5 cannot open it". */
SN_API int sn_checkpoint_open(sn_checkpoint_reader **reader, const char *path);
SN_API void sn_checkpoint_close(sn_checkpoint_reader *reader); /* safe with NULL */
SN_API const char *sn_checkpoint_reader_path(const sn_checkpoint_reader *reader);

/* 1 if a dataset of that name exists, else 0. */
SN_API int sn_checkpoint_has(sn_checkpoint_reader *reader, const char *name);

/* The stored type, rank and dims of a dataset (SN_ERR_FORMAT "dataset 'x'
 * is missing" / "has an unsupported type"). dims holds
 * SN_CHECKPOINT_RANK_MAX entries. */
SN_API int sn_checkpoint_array_shape(sn_checkpoint_reader *reader, const char *name,
                                     sn_checkpoint_type *type, int *rank, int64_t *dims);

/* Reads a dataset that must be exactly of `type`, `rank` and `dims` into
 * data (the caller's buffer of that size). SN_ERR_FORMAT naming the file
 * and the dataset when it is missing, of another type ("has type int32,
 * expected float32") or another shape ("has shape [3, 4], expected
 * [3, 5]"). */
SN_API int sn_checkpoint_read_array(sn_checkpoint_reader *reader, const char *name,
                                    sn_checkpoint_type type, int rank, const int64_t *dims,
                                    void *data);

/* Root attributes. read_text mallocs a NUL-terminated copy (caller frees).
 * SN_ERR_FORMAT if missing or of the wrong kind. */
SN_API int sn_checkpoint_read_text(sn_checkpoint_reader *reader, const char *name, char **text);
SN_API int sn_checkpoint_read_int64(sn_checkpoint_reader *reader, const char *name, int64_t *value);
SN_API int sn_checkpoint_read_double(sn_checkpoint_reader *reader, const char *name, double *value);

/* Calls visit once per dataset in the file, in name order (depth first),
 * with its full path, type, rank and dims; stops at the first nonzero
 * return and returns it. For `shiftnas inspect`. */
typedef int (*sn_checkpoint_visit)(void *context, const char *name, sn_checkpoint_type type,
                                   int rank, const int64_t *dims);
SN_API int sn_checkpoint_list(sn_checkpoint_reader *reader, sn_checkpoint_visit visit,
                              void *context);

/* Only the header check of sn_checkpoint_open, without HDF5: SN_OK if the
 * file is complete and undamaged. *size receives the file's length (may be
 * NULL). For `shiftnas inspect` and the resume's choice of checkpoint. */
SN_API int sn_checkpoint_verify(const char *path, int64_t *size);

/* ---- the checkpoints directory of a run ---------------------------------- */

/* RUN_DIR/checkpoints/step-%09lld.h5 and RUN_DIR/checkpoints/.step-%09lld.h5.tmp
 * (step = training steps done). SN_ERR_ARGUMENT if the buffer is too small. */
SN_API int sn_checkpoint_path(char *buffer, size_t size, const char *run_dir, int64_t step);
SN_API int sn_checkpoint_temporary_path(char *buffer, size_t size, const char *run_dir,
                                        int64_t step);

/* Creates RUN_DIR/checkpoints if needed. */
SN_API int sn_checkpoint_directory_create(const char *run_dir);

/* Renames the finished temporary of `step` into place, fsyncs the
 * directory, then replaces `latest` (written to latest.tmp, fsync'd,
 * renamed, directory fsync'd), then removes the oldest complete checkpoints
 * beyond `keep` (>= 1; never the one `latest` names). */
SN_API int sn_checkpoint_publish(const char *run_dir, int64_t step, int keep);

/* The checkpoint `latest` names: *found = 1 and path filled, or *found = 0
 * when the run has no checkpoints directory or no `latest` (a run stopped
 * before its first checkpoint). SN_ERR_FORMAT if `latest` is malformed or
 * names a file that does not exist. Does not open the checkpoint. */
SN_API int sn_checkpoint_latest(const char *run_dir, char *path, size_t size, int *found);

/* The newest complete checkpoint in RUN_DIR/checkpoints whose header check
 * passes (sn_checkpoint_verify), whatever `latest` says: *found = 1 and
 * path filled, or *found = 0 when none is intact. For a resume whose
 * `latest` is damaged. */
SN_API int sn_checkpoint_newest_intact(const char *run_dir, char *path, size_t size, int *found);

/* Removes leftover temporaries (.step-*.h5.tmp, latest.tmp) of a killed
 * writer; called when a run resumes. */
SN_API int sn_checkpoint_remove_temporaries(const char *run_dir);

#ifdef __cplusplus
}
#endif
#endif
