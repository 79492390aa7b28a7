/* Shared by the report's readers, table and plot writers: one (arm,
 * method, target) cell's values over the seeds (numbers as text:
 * shiftnas/format.h), text fields, the run's files, the paired sections. */
#ifndef SHIFTNAS_REPORT_INTERNAL_H
#define SHIFTNAS_REPORT_INTERNAL_H

#include <stdio.h>

#include "shiftnas/report.h"
#include "shiftnas/runfiles.h"

/* The rows of `group` at `target`, one per run of the arm that has it, in
 * run order: each array holds runs->count entries; which[i] is the run of
 * entry i (may be NULL). Returns the count. Accuracies in percent, MACs and
 * parameters as counts. */
int sn_report_collect(const sn_report_runs *runs, const sn_report_group *group, double target,
                      double *macs, double *params, double *val, double *test,
                      const sn_report_run **which);

/* A file name part from a label: "shift (variance)" -> "shift_variance". */
void sn_report_slug(const char *label, char *slug, size_t size);

/* 1 if the run has probability updates (shift). */
int sn_report_has_updates(const sn_report_run *run);

/* The distinct sampling arms (not retrained) in run order; arms holds
 * runs->count entries. Returns their count. */
int sn_report_sampling_arms(const sn_report_runs *runs, const char **arms);

/* "12.34 ± 0.56", "12.34 ± —" (n = 1) or "—" (n = 0). */
void sn_report_format_summary(char *text, size_t size, sn_summary s);

/* ---- fields.c: text fields ---------------------------------------------- */

/* The next field up to `separator` (cut in place); NULL after the last. */
char *sn_report_next_field(char **cursor, char separator);
/* 0 if the whole text is a number ("nan" included) or a count. */
int sn_report_parse_double(const char *text, double *value);
int sn_report_parse_int(const char *text, int64_t *value);
/* Cuts the line end (\n, \r\n). */
void sn_report_trim_line(char *line);

/* ---- run_metrics.c: metrics.csv and timing.txt ---------------------------- */

int sn_report_read_metrics(sn_report_run *run);
/* timing.txt when present (nothing to read is not an error). */
int sn_report_read_timing(sn_report_run *run);

/* ---- run_summary.c: log.h5 into sn_report_log, and the summary files ------ */

/* The aggregates of a log read whole; needs run->space_low/high. */
int sn_report_log_from_data(sn_report_run *run, const sn_run_log_data *data);
/* The log's trained-MACs range (macs_low/high) from a log read whole. */
void sn_report_log_range(sn_report_log *log, const sn_run_log_data *data);
void sn_report_log_free(sn_report_log *log);
/* 1 if dir holds summary.txt. */
int sn_report_is_summary(const char *dir);
/* summary.txt, log-updates.csv and log-bucket-loss.csv into the run
 * (steps, images, ranks, space range, log). A summary not marked complete
 * is "unfinished". */
int sn_report_read_summary(sn_report_run *run);

/* ---- runs.c ---------------------------------------------------------------- */

/* Loads a run; require_results: search.csv or probes.csv must exist (the
 * report), else neither is needed (--summarize). */
int sn_report_run_load_for(sn_report_run *run, const char *dir, int require_results);

/* ---- paired.c: the sections of a paired design --------------------------- */

/* The mean probe test accuracy (%) of the probes of run in buckets
 * [low, high] that other (may be NULL) evaluated too (the same subnet);
 * *count the probes used. NaN when none. */
double sn_report_probe_mean(const sn_report_run *run, const sn_report_run *other, int low, int high,
                            int *count);
/* The run of arm with seed, or NULL. */
const sn_report_run *sn_report_find_run(const sn_report_runs *runs, const char *arm, int64_t seed);
/* The buckets probes.csv numbers (the first run with space buckets). */
int sn_report_probe_buckets(const sn_report_runs *runs, const double **edges);

void sn_report_write_endpoint(FILE *out, const sn_report_runs *runs);
int sn_report_write_comparisons(FILE *out, const sn_report_runs *runs,
                                const sn_report_options *options, const double *targets,
                                int target_count);
int sn_report_write_probe_means(FILE *out, const sn_report_runs *runs);

/* ---- standalone.c: retrained probes as ground truth ------------------------ */

int sn_report_write_standalone(FILE *out, const sn_report_runs *runs);

/* ---- training.c: convergence, final probabilities, cost --------------------- */

void sn_report_write_final_probabilities(FILE *out, const sn_report_runs *runs);
void sn_report_write_cost(FILE *out, const sn_report_runs *runs);

/* ---- arm_variants.c: shift runs of other β settings as arms of their own --- */

/* 1 if two runs' β settings (estimator, learning rate unless frozen,
 * interval, K) are the same, or either run is not shift-type. */
int sn_report_same_variant(const sn_config *a, const sn_config *b);
/* Every run's label again: its arm (sn_report_arm_label), and for a
 * shift-type run "-VALUE" per β setting that differs from the value most
 * shift-type runs of the report have (shift-lr0.001, shift-k4, ...). */
void sn_report_label_variants(sn_report_runs *runs);
/* run's probes placed in first's buckets by their MACs, when the two runs'
 * buckets differ. */
void sn_report_rebucket_probes(sn_report_run *run, const sn_report_run *first);

/* ---- shift_signal.c: β's statistic, its per-bucket means against its noise -- */

void sn_report_write_shift_signal(FILE *out, const sn_report_runs *runs);

#endif
