/*
 * shiftnas/report.h — turning finished training runs into tables and plots
 * (`shiftnas report`, doc/report.md).
 *
 * A report reads, per run directory: config.ini (the arm and the seed),
 * checkpoints/latest (finished? steps, images), metrics.csv (wall time,
 * convergence), log.h5 (the subnets trained, the probability updates),
 * search.csv (what `shiftnas search` found per MACs target), probes.csv
 * (the probe panel with inherited weights, `shiftnas probe`) and timing.txt
 * (the study script's). A summary run (`shiftnas report --summarize`) holds
 * the small files and the text the report needs of the checkpoint and
 * log.h5 instead, and reads the same. Runs are grouped into arms by their
 * configuration, never by their directory names; an arm's seeds are
 * averaged, and two arms are compared seed by seed (runs of one seed share
 * split, initialisation and data order: a paired design).
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
#include "shiftnas/probes.h"
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

/* ---- inference (src/report/inference.c) ---------------------------------- */

/* The regularized incomplete beta function I_x(a, b) (a, b > 0; 0 at x <= 0,
 * 1 at x >= 1; NaN for a bad argument), by its continued fraction. */
SN_API double sn_incomplete_beta(double x, double a, double b);

/* Student's t with df > 0 degrees of freedom: the CDF P(T <= t), the
 * two-sided p of |T| >= |t|, and the quantile (0 < q < 1). NaN for bad
 * arguments. */
SN_API double sn_t_cdf(double t, double df);
SN_API double sn_t_two_sided_p(double t, double df);
SN_API double sn_t_quantile(double q, double df);

/* The paired comparison of n pairs (a[i], b[i]): the differences
 * d = a - b, their mean and sample deviation, the 95% confidence interval
 * of the mean (t with n - 1 degrees of freedom), and the paired t test
 * (t = mean / (sd / sqrt n), two-sided p). Pairs with a NaN are left out
 * (n counts the rest). CI, t and p are NaN when n < 2; all equal
 * differences give a zero-width interval and p = 1 (all zero) or 0. */
typedef struct {
    int n;
    double mean, sd;
    double ci_low, ci_high;
    double t, p;
} sn_paired_summary;

SN_API sn_paired_summary sn_paired_summary_of(const double *a, const double *b, int n);

/* Kendall's tau-b of (x[i], y[i]), ties handled: (concordant - discordant)
 * / sqrt((n0 - ties in x) (n0 - ties in y)), n0 = n (n - 1) / 2. Pairs with
 * a NaN are left out; NaN when fewer than 2 remain or either side is
 * constant. */
SN_API double sn_kendall_tau_b(const double *x, const double *y, int n);

/* ---- targets (src/report/targets.c) -------------------------------------- */

/* search.csv's rows and reader (sn_search_row, sn_search_table_read) are in
 * shiftnas/runfiles.h, beside its writer. */

/* "2M"-style MACs list ("2.5M,4M,800k") into targets (at most max);
 * SN_ERR_ARGUMENT naming the item. */
SN_API int sn_report_parse_targets(const char *list, double *targets, int max, int *count);

/* ---- probes.csv (src/report/probes.c) ------------------------------------ */

/* A run's probes.csv read back (`shiftnas probe` writes it; its row is
 * shiftnas/probes.h's sn_probe_row):
 *     probe,bucket,macs,params,subnet,test_loss,test_accuracy
 * the subnet double-quoted. A retrained (strategy fixed) run's file has one
 * row, its own subnet (probe -1 when the panel does not list it). */
typedef struct {
    int count;
    sn_probe_row *rows;
} sn_probe_rows;

/* Reads probes.csv. SN_ERR_IO if it cannot be read; SN_ERR_FORMAT naming
 * file:line for another header or a malformed row. */
SN_API int sn_probe_rows_read(const char *path, sn_probe_rows *table);
SN_API void sn_probe_rows_free(sn_probe_rows *table);

/* ---- runs (src/report/runs.c, run_summary.c, run_metrics.c) --------------- */

/* The arm a configuration trains: the strategy, with "shift-frozen" for
 * shift with shift_frozen (beta left uniform), "shift-variance" for shift
 * with shift_statistic = variance, and "retrained" for strategy fixed. */
SN_API void sn_report_arm_label(const sn_config *config, char *label, size_t size);

/* metrics.csv's splits the report reads (doc/run-files.md). */
typedef enum {
    SN_METRIC_OTHER = 0,
    SN_METRIC_TRAIN,
    SN_METRIC_VAL_LARGEST,
    SN_METRIC_VAL_SMALLEST,
    SN_METRIC_TEST_LARGEST,
    SN_METRIC_TEST_SMALLEST,
    SN_METRIC_VAL_SUBNET,
    SN_METRIC_TEST_SUBNET
} sn_metric_split;

typedef struct {
    int64_t step, epoch, images;
    sn_metric_split split;
    double loss, accuracy;   /* accuracy NaN where empty (train rows) */
    double seconds;
} sn_metric_row;

/* What the report keeps of log.h5: aggregates small enough to be written
 * as text by `shiftnas report --summarize` and read back bit for bit, so a
 * directory of summaries gives the report of the full runs. */
typedef struct {
    int buckets;                             /* K of the log; 0 if none */
    double bucket_edges[SN_REPORT_BUCKETS_MAX + 1];
    int64_t subnet_count;                    /* rows of /subnets */
    int64_t trained_steps;                   /* the last row's step + 1 */
    double macs_low, macs_high;              /* the log's range of trained MACs */
    /* macs_histogram.png: rows per equal bin over [space_low, space_high] */
    int64_t histogram[SN_REPORT_HISTOGRAM_BINS];
    /* bucket_loss.png: the log's buckets, else SN_REPORT_LOSS_BUCKETS
     * equal ones over the space; per window of steps and bucket the mean
     * loss of the rows and their count */
    int loss_buckets;
    double loss_edges[SN_REPORT_BUCKETS_MAX + 1];
    double loss_mean[SN_REPORT_LOSS_WINDOWS][SN_REPORT_BUCKETS_MAX];
    int64_t loss_count[SN_REPORT_LOSS_WINDOWS][SN_REPORT_BUCKETS_MAX];
    /* /updates, whole: [update_count][buckets] each */
    int64_t update_count;
    int64_t *update_step;
    double *update_beta, *update_probability, *update_statistic, *update_validation_loss;
} sn_report_log;

typedef struct {
    char dir[SN_REPORT_PATH_MAX];
    char label[SN_REPORT_LABEL_MAX];     /* the arm */
    sn_config config;
    int64_t seed;
    int summary;                         /* 1: a summary run (no checkpoints, log.h5) */
    int64_t steps, total_steps, images;  /* from the latest checkpoint (or summary.txt) */
    int64_t ranks;                       /* the ranks of the last session; 0 unknown */
    double train_seconds;                /* metrics.csv's last row */
    int metric_count;
    sn_metric_row *metrics;              /* metrics.csv, every row */
    /* timing.txt of the study script (NaN / "" / 0 when absent) */
    double timing_wall_seconds;
    int64_t timing_ranks;
    char timing_cpu[128];
    int has_search, has_probes;
    sn_search_table search;              /* empty without search.csv */
    sn_probe_rows probes;               /* empty without probes.csv */
    /* the space's MACs range ([space] with the data set's shape; else the log's) */
    double space_low, space_high;
    /* the run's buckets as probes.csv numbers them: [search] buckets (or
     * bucket_step) over the space, else the log's; 0 if unknown */
    int space_buckets;
    double space_bucket_edges[SN_REPORT_BUCKETS_MAX + 1];
    sn_report_log log;
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
 * supernet, finished (checkpoints/latest complete, or a summary.txt that
 * says complete), log.h5 (or the summary's log files), metrics.csv, and
 * search.csv or probes.csv readable. On failure *run is freed and the
 * message (sn_error_message) starts with dir and gives the reason
 * ("unfinished (step 5 of 12)"). */
SN_API int sn_report_run_load(sn_report_run *run, const char *dir);
SN_API void sn_report_run_free(sn_report_run *run);

/* `shiftnas report --summarize RUN_DIR DEST_DIR`: a finished run's small
 * files (config.ini, metrics.csv, search.csv, probes.csv, timing.txt when
 * present) copied into dest_dir (created), and what the report reads of its
 * checkpoint and log.h5 written as text (summary.txt, log-updates.csv,
 * log-bucket-loss.csv; doc/report.md). Each file is replaced atomically. An
 * unfinished run is refused (SN_ERR_ARGUMENT "...: unfinished ..."). */
SN_API int sn_report_summarize(const char *run_dir, const char *dest_dir);

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

/* A paired comparison: arm a minus arm b, seed by seed. */
typedef struct {
    char a[SN_REPORT_LABEL_MAX], b[SN_REPORT_LABEL_MAX];
} sn_report_comparison;

typedef struct {
    const char *command_line;   /* shown in report.md */
    int target_count;           /* 0: the union of the runs' targets */
    const double *targets;
    int plots;                  /* 1 if the PNGs are (to be) drawn */
    int comparison_count;       /* 0: sn_report_default_comparisons */
    const sn_report_comparison *comparisons;
} sn_report_options;

/* "A,B" (--compare) into a comparison: two different arm names.
 * SN_ERR_ARGUMENT naming the text otherwise. */
SN_API int sn_report_parse_comparison(const char *text, sn_report_comparison *comparison);

/* The default comparisons: shift vs shift-frozen when both exist, then
 * every other sampling arm vs shift-frozen (vs uniform when there is no
 * shift-frozen arm). *list is malloc'd (the caller frees it; NULL when
 * *count is 0). */
SN_API int sn_report_default_comparisons(const sn_report_runs *runs,
                                         sn_report_comparison **list, int *count);

/* The paired difference a - b of arms' runs of the same seed, per pair the
 * mean probe test accuracy (%) over buckets [bucket_low, bucket_high] of the
 * probes both runs evaluated (the same subnet); a pair without such probes
 * is left out. seeds (may be NULL) receives the seeds of the pairs (at most
 * runs->count). */
SN_API sn_paired_summary sn_report_paired_probes(const sn_report_runs *runs, const char *a,
                                                 const char *b, int bucket_low, int bucket_high,
                                                 int64_t *seeds);

/* The primary endpoint, fixed before the study's runs: the paired
 * shift - shift-frozen difference of the mean probe test accuracy over the
 * top two buckets. computable = 0 with `why` (which arm or seeds are
 * missing) when it cannot be computed. */
typedef struct {
    int computable;
    sn_paired_summary difference;   /* percentage points */
    int bucket_low, bucket_high;    /* the top two buckets */
    int buckets;
    char why[512];
} sn_report_endpoint;

SN_API void sn_report_primary_endpoint(const sn_report_runs *runs, sn_report_endpoint *endpoint);

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
enum { SN_REPORT_PLOT_COUNT = 6 };
SN_API extern const char *const sn_report_plot_files[SN_REPORT_PLOT_COUNT];

/* out_dir/data/NAME.dat and out_dir/plots.gp (relative paths; run it from
 * out_dir: `cd out_dir && gnuplot plots.gp`, as shiftnas report does). */
SN_API int sn_report_write_plot_data(const sn_report_runs *runs, const sn_report_options *options,
                                     const char *out_dir);

#ifdef __cplusplus
}
#endif
#endif
