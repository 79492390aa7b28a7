/* gnuplot for `shiftnas report` (src/cli/gnuplot.c). */
#ifndef SHIFTNAS_CLI_GNUPLOT_H
#define SHIFTNAS_CLI_GNUPLOT_H

#include <stddef.h>

/* The gnuplot to run: $SHIFTNAS_GNUPLOT if set, else `gnuplot` on PATH.
 * SN_ERR_IO "report: gnuplot not found (install gnuplot-nox, or use
 * --no-plots)" when there is none. */
int sn_cli_find_gnuplot(char *path, size_t size);

/* Runs gnuplot plots.gp in out_dir (no shell), its stderr kept in
 * out_dir/data/gnuplot.log; fails (SN_ERR_IO, with gnuplot's first error
 * line) on a nonzero exit or a missing or empty PNG
 * (sn_report_plot_files). */
int sn_cli_run_gnuplot(const char *out_dir, const char *gnuplot);

#endif
