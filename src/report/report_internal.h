/* Shared by the report's table and plot writers: one (arm, method, target)
 * cell's values over the seeds (numbers as text: shiftnas/format.h). */
#ifndef SHIFTNAS_REPORT_INTERNAL_H
#define SHIFTNAS_REPORT_INTERNAL_H

#include "shiftnas/report.h"

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

#endif
