/* The MACs histogram of `shiftnas space --plot` as a PNG bar chart: the
 * share of the samples per bucket over a MACs axis, with ticks, tick
 * labels, axis labels, a title and each bar's count, drawn with the
 * built-in bitmap font (no plotting program or font library needed). */
#ifndef SHIFTNAS_CLI_HISTOGRAM_PLOT_H
#define SHIFTNAS_CLI_HISTOGRAM_PLOT_H

#include <stdint.h>

enum { SN_HISTOGRAM_PLOT_WIDTH = 640, SN_HISTOGRAM_PLOT_HEIGHT = 360 };

typedef struct {
    const char *title;     /* shortened with "..." when it does not fit */
    int buckets;
    const double *edges;   /* buckets + 1 ascending MACs values */
    const int64_t *counts; /* samples per bucket */
    int64_t samples;       /* the shares' denominator */
} sn_histogram_plot;

/* SN_ERR_IO naming the path, SN_ERR_NOMEM. */
int sn_histogram_plot_write(const char *path, const sn_histogram_plot *plot);

#endif
