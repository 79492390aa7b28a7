/* The report's arithmetic: mean and sample deviation over seeds, the Pareto
 * front of searched subnets, equal-width bins. Pure functions. */
#include "shiftnas/report.h"

#include <math.h>
#include <stdlib.h>

sn_summary sn_summary_of(const double *values, int n)
{
    sn_summary s = {n, NAN, NAN};
    if (n <= 0)
        return s;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += values[i];
    s.mean = sum / n;
    if (n < 2)
        return s;
    /* two passes: the deviations are small against the mean (accuracies) */
    double squares = 0;
    for (int i = 0; i < n; i++)
        squares += (values[i] - s.mean) * (values[i] - s.mean);
    s.std = sqrt(squares / (n - 1));
    return s;
}

/* qsort has no context argument: the points to order travel in the keys. */
typedef struct {
    double x, y;
    int index;
} point;

static int compare_points(const void *a, const void *b)
{
    const point *p = a, *q = b;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    if (p->y != q->y)
        return p->y > q->y ? -1 : 1; /* at equal x the better first */
    return p->index - q->index;
}

int sn_pareto_front(const double *x, const double *y, int n, int *front)
{
    if (n <= 0)
        return 0;
    point *points = malloc(sizeof *points * (size_t)n);
    if (!points)
        return 0;
    int valid = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i]))
            points[valid++] = (point){x[i], y[i], i};
    qsort(points, (size_t)valid, sizeof *points, compare_points);
    int count = 0;
    double best = -INFINITY;
    for (int i = 0; i < valid; i++)
        if (points[i].y > best) {
            best = points[i].y;
            front[count++] = points[i].index;
        }
    free(points);
    return count;
}

int sn_bin_index(double value, double low, double high, int bins)
{
    if (!(high > low) || bins <= 0 || !(value >= low) || !(value <= high))
        return -1;
    int i = (int)floor((value - low) / (high - low) * bins);
    return i >= bins ? bins - 1 : i;
}

int sn_bin_index_edges(double value, const double *edges, int bins)
{
    if (bins <= 0 || !(value >= edges[0]) || !(value <= edges[bins]))
        return -1;
    for (int i = 0; i < bins - 1; i++)
        if (value < edges[i + 1])
            return i;
    return bins - 1;
}

void sn_histogram_shares(const double *values, int64_t n, double low, double high, int bins,
                         double *share)
{
    for (int i = 0; i < bins; i++)
        share[i] = 0;
    if (n <= 0)
        return;
    for (int64_t j = 0; j < n; j++) {
        int i = sn_bin_index(values[j], low, high, bins);
        if (i >= 0)
            share[i] += 1;
    }
    for (int i = 0; i < bins; i++)
        share[i] /= (double)n;
}
