/*
 * shiftnas/report.h — turning finished training runs into tables and plots
 * (`shiftnas report`, doc/report.md).
 *
 * A report reads, per run directory: config.ini (the arm and the seed),
 * checkpoints/latest (finished? steps, images), metrics.csv (wall time),
 * log.h5 (the subnets trained, the probability updates) and search.csv
 * (what `shiftnas search` found per MACs target). Runs are grouped into arms
 * by their configuration, never by their directory names; an arm's seeds
 * are averaged per (method, target).
 *
 *     sn_report_runs runs;
 *     sn_report_runs_init(&runs);
 *     sn_report_runs_add(&runs, "runs/shift-1");   // a skip is recorded, not an error
 *     ...
 *     sn_report_write_tables(&runs, &options, "out/report.md");
 *     sn_report_write_plot_data(&runs, &options, "out");   // out/data/NAME.dat, out/plots.gp
 *     sn_report_runs_free(&runs);
 *
 * The statistics below are pure functions (tests/unit/test_report.c).
 * Every function that can fail returns an sn error code with a one-line
 * message naming the file.
 */
#ifndef SHIFTNAS_REPORT_H
#define SHIFTNAS_REPORT_H

#include "shiftnas/api.h"

#include <stddef.h>
#include <stdint.h>

#include "shiftnas/config.h"
#include "shiftnas/runfiles.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SN_REPORT_PATH_MAX = 1024,
    SN_REPORT_LABEL_MAX = 64,
    SN_REPORT_BUCKETS_MAX = 64,
    SN_REPORT_HISTOGRAM_BINS = 16,  /* macs_histogram.png */
    SN_REPORT_LOSS_BUCKETS = 8,     /* bucket_loss.png when the log has none */
    SN_REPORT_LOSS_WINDOWS = 20     /* bucket_loss.png: windows of steps */
};

/* ---- statistics (src/report/statistics.c) ----------------------------- */

/* n values: mean, and the sample standard deviation (n - 1); std is NaN
 * when n < 2 and both are NaN when n = 0. */
typedef struct {
    int n;
    double mean, std;
} sn_summary;

SN_API sn_summary sn_summary_of(const double *values, int n);

/* The Pareto front of points (x[i], y[i]): the points with a higher y than
 * every point of smaller or equal x (ties in x: the higher y). Writes their
 * indices in ascending x into front (n entries) and returns their count. */
SN_API int sn_pareto_front(const double *x, const double *y, int n, int *front);

/* Equal-width bin of value among `bins` bins over [low, high]: bin i holds
 * [low + i w, low + (i + 1) w), the last bin also holds high. -1 outside
 * [low, high] (or when high <= low). */
SN_API int sn_bin_index(double value, double low, double high, int bins);

/* The bin of value among edges[0] < edges[1] < ... < edges[bins] with the
 * same convention ([e_i, e_i+1), the last closed). -1 outside. */
SN_API int sn_bin_index_edges(double value, const double *edges, int bins);

/* share[i] = the fraction (0..1) of the n values in bin i of
 * sn_bin_index; values outside are not counted but stay in n. All zero when
 * n = 0. */
SN_API void sn_histogram_shares(const double *values, int64_t n, double low, double high, int bins,
                                double *share);

/* ---- targets (src/report/targets.c) -------------------------------------- */

/* search.csv's rows and reader (sn_search_row, sn_search_table_read) are in
 * shiftnas/runfiles.h, beside its writer. */

/* "2M"-style MACs list ("2.5M,4M,800k") into targets (at most max);
 * SN_ERR_ARGUMENT naming the item. */
SN_API int sn_report_parse_targets(const char *list, double *targets, int max, int *count);

/* ---- runs (src/report/runs.c) ------------------------------------------ */

/* The arm a configuration trains: the strategy, with "shift (variance)" for
 * shift with shift_statistic = variance and "retrained" for strategy fixed. */
SN_API void sn_report_arm_label(const char *strategy, const char *shift_statistic, char *label,
                                size_t size);

typedef struct {
    char dir[SN_REPORT_PATH_MAX];
    char label[SN_REPORT_LABEL_MAX];     /* the arm */
    sn_config config;
    int64_t seed;
    int64_t steps, total_steps, images;  /* from the latest checkpoint */
    double train_seconds;                /* metrics.csv's last row */
    sn_search_table search;
    /* the space's MACs range ([space] with the data set's shape; else the log's) */
    double space_low, space_high;
    /* log.h5 */
    int buckets;                         /* K; 0 if none */
    double bucket_edges[SN_REPORT_BUCKETS_MAX + 1];
    int64_t subnet_count;
    int64_t *subnet_step, *subnet_macs;
    int32_t *subnet_slot;
    double *subnet_loss;
    int64_t update_count;
    int64_t *update_step;
    double *update_probability;          /* [update_count][buckets] */
} sn_report_run;

typedef struct {
    char dir[SN_REPORT_PATH_MAX];
    char reason[1200];                   /* one line, starts with the directory */
} sn_report_skip;

typedef struct {
    int count, capacity;
    sn_report_run **runs;                /* usable runs, in argument order */
    int skip_count, skip_capacity;
    sn_report_skip *skips;
} sn_report_runs;

/* Loads and checks one run directory: config.ini parses, [model] type =
 * supernet, checkpoints/latest complete, log.h5, metrics.csv, search.csv
 * readable. On failure *run is freed and the message (sn_error_message)
 * starts with dir and gives the reason ("unfinished (step 5 of 12)"). */
SN_API int sn_report_run_load(sn_report_run *run, const char *dir);
SN_API void sn_report_run_free(sn_report_run *run);

SN_API void sn_report_runs_init(sn_report_runs *runs);
/* Loads dir as a run and adds it, or records it as skipped (a failed load,
 * another search space or data set than the first usable run, a second run
 * of an arm with the same seed). Returns SN_OK either way (*skipped = 1 for a
 * skip), an error only when out of memory. */
SN_API int sn_report_runs_add(sn_report_runs *runs, const char *dir, int *skipped);
/* Expands an argument: dir itself if it holds config.ini, else its
 * subdirectories holding config.ini, in name order. SN_ERR_IO if dir does
 * not exist or holds no run. The caller frees each entry and the array. */
SN_API int sn_report_expand_argument(const char *dir, char ***dirs, int *count);
SN_API void sn_report_runs_free(sn_report_runs *runs);

/* ---- the report (src/report/tables.c, src/report/plots.c) -------------- */

typedef struct {
    const char *command_line;   /* shown in report.md */
    int target_count;           /* 0: the union of the runs' targets */
    const double *targets;
    int plots;                  /* 1 if the PNGs are (to be) drawn */
} sn_report_options;

/* The targets the report covers: options' targets or the union of every
 * run's searched targets (eval rows excluded), ascending. */
SN_API int sn_report_targets(const sn_report_runs *runs, const sn_report_options *options,
                             double **targets, int *count);

/* An (arm, method) group of the accuracy table. */
typedef struct {
    char arm[SN_REPORT_LABEL_MAX];
    char method[32];
} sn_report_group;

/* The (arm, method) pairs that have rows at the given targets, in order of
 * first appearance. */
SN_API int sn_report_groups(const sn_report_runs *runs, const double *targets, int target_count,
                            sn_report_group **groups, int *count);

/* Inherited vs retrained: for a retrained run (arm "retrained"), the run of
 * another arm with the same seed whose generator or evolution row has the
 * same arch as the retrained run's eval row. *match and *row are NULL if
 * none. */
SN_API void sn_report_match_retrained(const sn_report_runs *runs, const sn_report_run *retrained,
                                      const sn_report_run **match, const sn_search_row **row);

SN_API int sn_report_write_tables(const sn_report_runs *runs, const sn_report_options *options,
                                  const char *path);

/* The PNG file names, in plot order. */
SN_API extern const char *const sn_report_plot_files[4];

/* out_dir/data/NAME.dat and out_dir/plots.gp (relative paths; run it from
 * out_dir: `cd out_dir && gnuplot plots.gp`, as shiftnas report does). */
SN_API int sn_report_write_plot_data(const sn_report_runs *runs, const sn_report_options *options,
                                     const char *out_dir);

#ifdef __cplusplus
}
#endif
#endif
