/*
 * shiftnas/runfiles.h — the HDF5 files of a run directory: model.h5 and log.h5.
 *
 * Both are written serially by one process (rank 0) and are meant to be read
 * by people too (h5py); doc/run-files.md gives both layouts.
 *
 * model.h5 holds trained weights. Each part (the supernet, the generator) is
 * a group with one float32 dataset per parameter-table entry, named exactly as
 * the entry ("stage1.block0.expand.weight") and shaped as the entry. The root
 * carries format = "shiftnas-model", version = 1, step (int64) and config (the
 * run's INI text). A model file is only ever replaced whole: written to
 * "<path>.tmp", synced, then renamed over path.
 *
 *     sn_model_part parts[] = {{"supernet", &supernet_table, supernet_slab},
 *                              {"generator", &generator_table, generator_slab}};
 *     SN_TRY(sn_model_file_write("run/model.h5", ini_text, step, parts, 2));
 *     ...
 *     SN_TRY(sn_model_file_read("run/model.h5", parts, 2, &step)); // fills the slabs
 *
 * log.h5 records the search as it runs: one row per trained subnet (buffered,
 * written 4096 rows at a time) and one row per probability update. After
 * sn_run_log_flush (and after close) the file on disk is complete and
 * consistent, and h5py can open it while the run still holds it.
 */
#ifndef SHIFTNAS_RUNFILES_H
#define SHIFTNAS_RUNFILES_H

#include <stdint.h>

#include "shiftnas/api.h"
#include "shiftnas/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- model file -------------------------------------------------------- */

typedef struct {
    const char *group;                 /* "supernet", "generator" */
    const sn_parameter_table *table;   /* names and shapes */
    float *values;                     /* slab laid out by table (read: filled) */
} sn_model_part;

/* Writes parts (count >= 1) with the config text and the step; atomic (see
 * above), so a crash never leaves a half-written file under path; path's
 * directory must exist. Names must not contain '/'. */
SN_API int sn_model_file_write(const char *path, const char *config_text, int64_t step,
                               const sn_model_part *parts, int count);

/* Fills every part's values from the file and sets *step (step may be NULL).
 * The file must say format "shiftnas-model", version 1; each part's group
 * must hold exactly the table's entries (none missing, none extra), each a
 * float32 dataset of exactly the entry's shape with only finite values.
 * Groups the parts do not name are ignored (eval may load the supernet only).
 * SN_ERR_IO if the file cannot be opened, SN_ERR_FORMAT for anything wrong in
 * it, with one message naming the file and the entry. On failure the values
 * may be partly overwritten. */
SN_API int sn_model_file_read(const char *path, const sn_model_part *parts, int count,
                              int64_t *step);

/* The stored config text, malloc'd and NUL-terminated (the caller frees). */
SN_API int sn_model_file_read_config(const char *path, char **config_text);

/* ---- run log ----------------------------------------------------------- */

typedef struct sn_run_log sn_run_log;

/* Rows per write of subnet rows, and the chunk length of those datasets. */
enum { SN_RUN_LOG_BUFFER_ROWS = 4096 };

/* Creates the log file; SN_ERR_ARGUMENT if path already exists. buckets (K)
 * may be 0 for strategies without buckets, and bucket_edges (K + 1 values)
 * is then ignored and may be NULL. Every buffer is allocated here. */
SN_API int sn_run_log_create(sn_run_log **log, const char *path, const char *strategy, int buckets,
                             const int64_t *bucket_edges);

/* Opens an existing log (a resumed run's, restored from its checkpoint) to
 * append after its rows; strategy and buckets must be the log's.
 * SN_ERR_IO if it cannot be opened, SN_ERR_FORMAT if it is not such a log. */
SN_API int sn_run_log_open_append(sn_run_log **log, const char *path, const char *strategy,
                                  int buckets);

/* Appends one trained subnet: bucket -1 means none (otherwise 0..K-1),
 * target_macs NaN means none. Buffered; no allocation. */
SN_API int sn_run_log_subnet(sn_run_log *log, int64_t step, int slot, int bucket,
                             double target_macs, int64_t macs, double loss);

/* Appends one probability update: beta, probability and statistic (the
 * bucket's delta or variance) hold K doubles each; validation_loss too, or is
 * NULL (stored as NaN). Written at once (not flushed). */
SN_API int sn_run_log_update(sn_run_log *log, int64_t step, const double *beta,
                             const double *probability, const double *statistic,
                             const double *validation_loss);

/* Writes the buffered subnet rows and flushes the file to disk. */
SN_API int sn_run_log_flush(sn_run_log *log);

/* The path the log was created or opened with. */
SN_API const char *sn_run_log_path(const sn_run_log *log);

/* Flushes, closes and frees; safe with NULL. Returns the first failure. */
SN_API int sn_run_log_close(sn_run_log *log);

#ifdef __cplusplus
}
#endif
#endif
