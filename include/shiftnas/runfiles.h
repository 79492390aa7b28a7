/*
 * shiftnas/runfiles.h — the files of a run directory that shiftnas writes and
 * reads back: model.h5, log.h5 (HDF5) and search.csv. Each format's writer
 * and reader live together (src/io/model_file.c, run_log.c, search_table.c).
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
 * consistent, and h5py (or sn_run_log_read) can open it while the run still
 * holds it.
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

/* What a model file holds, for `shiftnas inspect`: its step and, per group
 * (part), its datasets and values. The format and version are checked as by
 * sn_model_file_read (an error for any other file); the entries are not
 * checked against a network. */
enum { SN_MODEL_FILE_PARTS_MAX = 8 };
typedef struct {
    int64_t step;
    int part_count;
    struct {
        char group[64];
        int64_t arrays, values;
    } parts[SN_MODEL_FILE_PARTS_MAX];
} sn_model_file_info;
SN_API int sn_model_file_describe(const char *path, sn_model_file_info *info);

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
 * SN_ERR_IO if it cannot be opened, SN_ERR_FORMAT if it is not such a log
 * (also for a log without subnets/drawn_bucket, from an older shiftnas:
 * readable, not extendable). */
SN_API int sn_run_log_open_append(sn_run_log **log, const char *path, const char *strategy,
                                  int buckets);

/* Appends one trained subnet: bucket is the bucket its MACs fall in,
 * drawn_bucket the bucket its strategy drew for it (shift, flops-uniform,
 * attentive; a generator or an in-bucket search may miss it); either is -1
 * for none (otherwise 0..K-1); target_macs NaN means none. Buffered; no
 * allocation. */
SN_API int sn_run_log_subnet(sn_run_log *log, int64_t step, int slot, int bucket, int drawn_bucket,
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

/* A run log read back whole (sn_run_log_read): its root attributes and
 * every column as written, each a malloc'd array. */
typedef struct {
    char strategy[64];
    int buckets;                   /* K; 0 for strategies without buckets */
    int64_t *bucket_edges;         /* K + 1 MACs edges; NULL when K = 0 */
    int64_t subnet_count;          /* rows of subnets/ */
    int64_t *subnet_step;
    int32_t *subnet_slot;
    int32_t *subnet_bucket;        /* the bucket of its MACs; -1: none */
    double *subnet_target_macs;    /* NaN: none */
    int64_t *subnet_macs;
    double *subnet_loss;
    int32_t *subnet_drawn_bucket;  /* the bucket drawn for it; -1: none (and in older logs,
                                      which lack the column) */
    int64_t update_count;          /* rows of updates/ */
    int64_t *update_step;
    double *update_beta;           /* [update_count][K] each */
    double *update_probability;
    double *update_statistic;
    double *update_validation_loss; /* NaN where none was given */
} sn_run_log_data;

/* Reads the log at path (also while a run still appends to it: what its
 * last flush wrote). The file must say format "shiftnas-log", version 1,
 * with bucket_edges of K + 1 values and the columns of each group equally
 * long (subnets/drawn_bucket may be missing: every entry is then -1). SN_ERR_IO if it cannot be opened, SN_ERR_FORMAT for anything wrong
 * in it, one message naming the file. On failure *data holds nothing to
 * free. */
SN_API int sn_run_log_read(const char *path, sn_run_log_data *data);
/* Frees the columns and zeroes *data; safe on a zeroed one. */
SN_API void sn_run_log_data_free(sn_run_log_data *data);

/* ---- search table ------------------------------------------------------ */

/* search.csv: one row per answer of `shiftnas search` (method "generator"
 * or "evolution", per MACs target) and of `shiftnas eval --csv` (method
 * "eval", no target). The first line is the header
 *     method,strategy,target_flops,arch,flops,params,val_accuracy,test_accuracy,evaluations,seconds
 * and each row, e.g.
 *     evolution,shift,2500000,"cnn:d=1,2,1;...",2384000,33900,0.511719,0.546875,16,12.34
 * has the target as whole MACs (empty for eval), the arch double-quoted
 * (it holds commas), accuracies as fractions with 6 decimals and seconds with
 * 2. Rows are only ever appended: a repeated search adds rows, and a reader
 * keeps the last row of each (method, target). */
enum { SN_SEARCH_METHOD_MAX = 32, SN_SEARCH_STRATEGY_MAX = 64, SN_SEARCH_ARCH_MAX = 2048 };

typedef struct {
    char method[SN_SEARCH_METHOD_MAX];     /* "evolution", "generator", "eval" */
    char strategy[SN_SEARCH_STRATEGY_MAX]; /* the run's strategy */
    double target;            /* MACs; 0 where none (eval rows) */
    char arch[SN_SEARCH_ARCH_MAX];
    int64_t macs, params;
    double val_accuracy, test_accuracy; /* fractions 0..1 (NaN without a held-out split) */
    int64_t evaluations;
    double seconds;
    int line;                 /* in the file, for messages (reading only) */
} sn_search_row;

typedef struct {
    int count;
    sn_search_row *rows;
    int replaced;             /* rows dropped because a later search repeated (method, target) */
} sn_search_table;

/* Appends count rows (count 0: only checks the file and gives a new or empty
 * one its header; `shiftnas search` does this before it spends its time).
 * SN_ERR_FORMAT if path exists with another first line; SN_ERR_ARGUMENT for
 * a field the table cannot hold (a comma in method or strategy, a '"' in
 * arch); SN_ERR_IO if it cannot be written. Messages name the file. */
SN_API int sn_search_table_append(const char *path, const sn_search_row *rows, int count);

/* Reads a search table. A (method, target) given more than once keeps its
 * last row. SN_ERR_IO if it cannot be read; SN_ERR_FORMAT naming file:line
 * for a foreign header or a malformed row. */
SN_API int sn_search_table_read(const char *path, sn_search_table *table);
SN_API void sn_search_table_free(sn_search_table *table);
/* The row of (method, target) or NULL (targets equal within 0.5 MACs). */
SN_API const sn_search_row *sn_search_table_find(const sn_search_table *table, const char *method,
                                                 double target);

#ifdef __cplusplus
}
#endif
#endif
