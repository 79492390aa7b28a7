/* The report's plots: data files (DIR/data/NAME.dat, whitespace columns with a
 * comment header) and one gnuplot script (DIR/plots.gp, relative paths, so
 * `cd DIR && gnuplot plots.gp` redraws them after a restyle). The program
 * runs gnuplot (src/cli/gnuplot.c): the library starts no processes.
 * doc/report.md says why gnuplot. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "io/write_failure.h"
#include "report_internal.h"
#include "shiftnas/error.h"

const char *const sn_report_plot_files[SN_REPORT_PLOT_COUNT] = {
    "accuracy_vs_macs.png", "probabilities.png", "macs_histogram.png",
    "bucket_loss.png",      "convergence.png",   "final_probabilities.png"};

static const char *const colors[] = {"1f77b4", "ff7f0e", "2ca02c", "d62728", "9467bd",
                                     "8c564b", "e377c2", "7f7f7f", "bcbd22", "17becf"};
enum { COLOR_COUNT = sizeof colors / sizeof colors[0] };

typedef struct {
    const char *dir;   /* the output directory */
    FILE *script;
    int status;
} writer;

/* Opens DIR/data/NAME for writing; NULL with w->status set on failure. */
static FILE *open_data(writer *w, const char *name)
{
    char path[SN_REPORT_PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/data/%s", w->dir, name);
    FILE *f = fopen(path, "w");
    if (!f && w->status == SN_OK)
        w->status = sn_write_failed(path, "cannot create", errno);
    return f;
}

static void close_data(writer *w, FILE *f, const char *name)
{
    char path[SN_REPORT_PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/data/%s", w->dir, name);
    int status = sn_stdio_finish(f, path, 0);
    if (w->status == SN_OK)
        w->status = status;
}

/* A label inside a single-quoted gnuplot string ('' is a quote). */
static void quoted(FILE *out, const char *text)
{
    fputc('\'', out);
    for (const char *c = text; *c; c++) {
        if (*c == '\'')
            fputc('\'', out);
        fputc(*c, out);
    }
    fputc('\'', out);
}

static void write_value(FILE *f, double value)
{
    if (isfinite(value))
        fprintf(f, " %.6g", value);
    else
        fprintf(f, " ?"); /* `set datafile missing '?'` */
}

/* ---- 1. accuracy against MACs ----------------------------------------- */

static void plot_accuracy(writer *w, const sn_report_runs *runs, const double *targets,
                          int target_count, const sn_report_group *groups, int group_count)
{
    int n_max = runs->count;
    double *macs = malloc(sizeof *macs * 2 * (size_t)n_max);
    const sn_report_run **which = malloc(sizeof *which * (size_t)n_max);
    if (!macs || !which) {
        w->status = sn_error_set(SN_ERR_NOMEM, "report: out of memory");
        free(macs);
        free(which);
        return;
    }
    double *test = macs + n_max;
    FILE *s = w->script;
    if (group_count == 0) {
        /* --targets named none of the searched targets */
        fprintf(s, "\n# 1. no searched subnet at the report's targets\n"
                   "set output 'accuracy_vs_macs.png'\nset title 'Searched subnets'\nunset key\n"
                   "set xrange [0:1]\nset yrange [0:1]\nunset xtics\nunset ytics\n"
                   "set label 1 'No run searched the report''s targets' at graph 0.5,0.5 center\n"
                   "plot -1 notitle\nunset label 1\nset xtics\nset ytics\nset autoscale\n");
        free(macs);
        free(which);
        return;
    }
    fprintf(s, "\n# 1. test accuracy against MACs: mean over seeds with the standard deviation,\n"
               "# each seed faint, and the Pareto front of every searched subnet\n"
               "set output 'accuracy_vs_macs.png'\n"
               "set title 'Searched subnets: test accuracy against MACs (inherited weights)'\n"
               "set xlabel 'MACs (millions)'\nset ylabel 'test accuracy (%%)'\n"
               "set key default\nset key bottom right\nset autoscale\nplot \\\n");
    for (int g = 0; g < group_count && w->status == SN_OK; g++) {
        char slug[2 * SN_REPORT_LABEL_MAX], name[3 * SN_REPORT_LABEL_MAX], seeds[3 * SN_REPORT_LABEL_MAX];
        char label[2 * SN_REPORT_LABEL_MAX + 8];
        sn_report_slug(groups[g].arm, slug, sizeof slug);
        snprintf(name, sizeof name, "accuracy_%s_%s.dat", slug, groups[g].method);
        snprintf(seeds, sizeof seeds, "seeds_%s_%s.dat", slug, groups[g].method);
        snprintf(label, sizeof label, "%s (%s)", groups[g].arm, groups[g].method);
        FILE *f = open_data(w, name), *fs = f ? open_data(w, seeds) : NULL;
        if (!f || !fs) {
            if (f)
                fclose(f);
            break;
        }
        fprintf(f, "# %s: per MACs target, over seeds\n"
                   "# target_macs  macs_mean_M  test_accuracy_mean_%%  test_accuracy_std_%%  n\n",
                label);
        fprintf(fs, "# %s: each seed's subnet\n# seed  target_macs  macs_M  test_accuracy_%%\n",
                label);
        for (int t = 0; t < target_count; t++) {
            int n = sn_report_collect(runs, &groups[g], targets[t], macs, NULL, NULL, test, which);
            if (n == 0)
                continue;
            sn_summary m = sn_summary_of(macs, n), a = sn_summary_of(test, n);
            fprintf(f, "%.0f %.6g %.6g %.6g %d\n", targets[t], m.mean / 1e6, a.mean,
                    n > 1 ? a.std : 0.0, n);
            for (int i = 0; i < n; i++)
                fprintf(fs, "%lld %.0f %.6g %.6g\n", (long long)which[i]->seed, targets[t],
                        macs[i] / 1e6, test[i]);
        }
        close_data(w, f, name);
        close_data(w, fs, seeds);
        const char *color = colors[g % COLOR_COUNT];
        fprintf(s, "  'data/%s' using 3:4 with points pt 7 ps 0.6 lc rgb '#A0%s' notitle, \\\n",
                seeds, color);
        fprintf(s, "  'data/%s' using 2:3:4 with yerrorlines pt 7 ps 1.1 lw 2 lc rgb '#%s' title ",
                name, color);
        quoted(s, label);
        fprintf(s, ", \\\n");
    }
    /* the front over all searched subnets of all runs */
    int rows = 0;
    for (int r = 0; r < runs->count; r++)
        rows += runs->runs[r]->search.count;
    double *x = malloc(sizeof *x * 2 * (size_t)(rows + 1));
    int *front = malloc(sizeof *front * (size_t)(rows + 1));
    FILE *f = w->status == SN_OK && x && front ? open_data(w, "pareto.dat") : NULL;
    if (f) {
        double *y = x + rows + 1;
        int n = 0;
        for (int r = 0; r < runs->count; r++)
            for (int i = 0; i < runs->runs[r]->search.count; i++) {
                const sn_search_row *row = &runs->runs[r]->search.rows[i];
                int wanted = 0;
                for (int t = 0; t < target_count; t++)
                    wanted |= strcmp(row->method, "eval") != 0 && fabs(row->target - targets[t]) < 0.5;
                if (wanted) {
                    x[n] = (double)row->macs / 1e6;
                    y[n++] = 100.0 * row->test_accuracy;
                }
            }
        int count = sn_pareto_front(x, y, n, front);
        fprintf(f, "# Pareto front of every searched subnet of every run: the best test accuracy\n"
                   "# at or below each MACs count\n# macs_M  test_accuracy_%%\n");
        for (int i = 0; i < count; i++)
            fprintf(f, "%.6g %.6g\n", x[front[i]], y[front[i]]);
        close_data(w, f, "pareto.dat");
    } else if (w->status == SN_OK) {
        w->status = sn_error_set(SN_ERR_NOMEM, "report: out of memory");
    }
    free(x);
    free(front);
    fprintf(s, "  'data/pareto.dat' using 1:2 with steps lw 2 lc rgb 'black' title "
               "'Pareto front (all searched subnets)'\n");
    free(macs);
    free(which);
}

/* ---- 2. sampling probabilities ------------------------------------------- */

static void bucket_title(char *text, size_t size, int k, const double *edges)
{
    snprintf(text, size, "bucket %d: %.3g–%.3g M MACs", k, edges[k] / 1e6, edges[k + 1] / 1e6);
}

/* A plot with nothing to draw: one centred note, so the PNG still exists. */
static void empty_plot(FILE *s, const char *file, const char *title, const char *note)
{
    fprintf(s, "set terminal pngcairo size 900,600 enhanced font 'sans,11'\n"
               "set output '%s'\nset title '%s'\nunset key\nset xrange [0:1]\nset yrange [0:1]\n"
               "unset xtics\nunset ytics\nunset xlabel\nunset ylabel\n"
               "set label 1 '%s' at graph 0.5,0.5 center\nplot -1 notitle\nunset label 1\n"
               "set xtics\nset ytics\nset autoscale\n",
            file, title, note);
}

static void multiplot_start(FILE *s, const char *file, int panels, const char *title)
{
    int columns = panels > 1 ? 2 : 1, rows = (panels + columns - 1) / columns;
    fprintf(s, "set terminal pngcairo size 900,%d enhanced font 'sans,10'\n",
            rows <= 1 ? 600 : 400 * rows);
    fprintf(s, "set output '%s'\nset multiplot layout %d,%d title ", file, rows, columns);
    quoted(s, title);
    fprintf(s, "\n");
}

/* One panel has room for the bucket legend at its right; in a grid of
 * panels it goes below each. */
static const char *key_placement(int panels)
{
    return panels == 1 ? "set key outside right top vertical font ',9'" : "set key below font ',8'";
}

static void plot_probabilities(writer *w, const sn_report_runs *runs)
{
    FILE *s = w->script;
    const char **arms = malloc(sizeof *arms * (size_t)runs->count);
    if (!arms) {
        w->status = sn_error_set(SN_ERR_NOMEM, "report: out of memory");
        return;
    }
    int arm_count = sn_report_sampling_arms(runs, arms), panels = 0;
    for (int a = 0; a < arm_count; a++)
        for (int r = 0; r < runs->count; r++)
            if (strcmp(runs->runs[r]->label, arms[a]) == 0 && sn_report_has_updates(runs->runs[r])) {
                panels++;
                break;
            }
    fprintf(s, "\n# 2. sampling probability of each MACs bucket over training (shift arms)\n");
    if (panels == 0) {
        fprintf(s, "set output 'probabilities.png'\nset title 'Sampling probabilities'\n"
                   "unset key\nset xrange [0:1]\nset yrange [0:1]\nunset xtics\nunset ytics\n"
                   "unset xlabel\nunset ylabel\nset label 1 'No arm updated sampling probabilities "
                   "(no shift runs)' at graph 0.5,0.5 center\nplot -1 notitle\nunset label 1\n"
                   "set xtics\nset ytics\nset autoscale\n");
        free(arms);
        return;
    }
    multiplot_start(s, "probabilities.png", panels, "Sampling probability per MACs bucket (mean over seeds)");
    for (int a = 0; a < arm_count && w->status == SN_OK; a++) {
        const sn_report_run *first = NULL;
        int64_t rows = 0;
        int seeds = 0;
        for (int r = 0; r < runs->count; r++) {
            const sn_report_run *run = runs->runs[r];
            if (strcmp(run->label, arms[a]) != 0 || !sn_report_has_updates(run))
                continue;
            if (!first)
                first = run, rows = run->log.update_count;
            if (run->log.buckets == first->log.buckets && run->log.update_count < rows)
                rows = run->log.update_count;
        }
        if (!first)
            continue;
        int K = first->log.buckets;
        char slug[2 * SN_REPORT_LABEL_MAX], name[3 * SN_REPORT_LABEL_MAX];
        sn_report_slug(arms[a], slug, sizeof slug);
        snprintf(name, sizeof name, "probabilities_%s.dat", slug);
        FILE *f = open_data(w, name);
        if (!f)
            break;
        fprintf(f, "# %s: probability of each bucket after each update, mean over seeds\n# step",
                arms[a]);
        for (int k = 0; k < K; k++)
            fprintf(f, "  p%d", k);
        fprintf(f, "\n");
        for (int64_t i = 0; i < rows; i++) {
            double sum[SN_REPORT_BUCKETS_MAX] = {0};
            seeds = 0;
            for (int r = 0; r < runs->count; r++) {
                const sn_report_run *run = runs->runs[r];
                if (strcmp(run->label, arms[a]) != 0 || !sn_report_has_updates(run) ||
                    run->log.buckets != K)
                    continue;
                for (int k = 0; k < K; k++)
                    sum[k] += run->log.update_probability[i * K + k];
                seeds++;
            }
            fprintf(f, "%lld", (long long)first->log.update_step[i]);
            for (int k = 0; k < K; k++)
                fprintf(f, " %.6g", sum[k] / seeds);
            fprintf(f, "\n");
        }
        close_data(w, f, name);
        fprintf(s, "set title ");
        quoted(s, arms[a]);
        fprintf(s, "\nset xlabel 'training step'\nset ylabel 'probability'\nset key default\n"
                   "%s\nset autoscale\nset yrange [0:*]\nplot \\\n",
                key_placement(panels));
        for (int k = 0; k < K; k++) {
            char title[96];
            bucket_title(title, sizeof title, k, first->log.bucket_edges);
            fprintf(s, "  'data/%s' using 1:%d with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#%s' "
                       "title ",
                    name, k + 2, colors[k % COLOR_COUNT]);
            quoted(s, title);
            fprintf(s, "%s\n", k + 1 < K ? ", \\" : "");
        }
    }
    fprintf(s, "unset multiplot\nset autoscale\n");
    free(arms);
}

/* ---- 3. MACs of the trained subnets ---------------------------------------- */

static void plot_histogram(writer *w, const sn_report_runs *runs)
{
    FILE *s = w->script;
    const char **arms = malloc(sizeof *arms * (size_t)runs->count);
    if (!arms) {
        w->status = sn_error_set(SN_ERR_NOMEM, "report: out of memory");
        return;
    }
    int arm_count = sn_report_sampling_arms(runs, arms);
    if (arm_count == 0) {
        fprintf(s, "\n# 3. MACs of the subnets trained: no sampling arm\n");
        empty_plot(s, "macs_histogram.png", "MACs of the subnets trained",
                   "No sampling arm (only retrained runs)");
        free(arms);
        return;
    }
    enum { BINS = SN_REPORT_HISTOGRAM_BINS };
    double low = runs->runs[0]->space_low, high = runs->runs[0]->space_high;
    double *share = calloc((size_t)arm_count * BINS, sizeof *share);
    FILE *f = share ? open_data(w, "macs_histogram.dat") : NULL;
    if (!f) {
        if (!share)
            w->status = sn_error_set(SN_ERR_NOMEM, "report: out of memory");
        free(share);
        free(arms);
        return;
    }
    for (int a = 0; a < arm_count; a++) {
        /* the pooled rows of the arm's runs (each binned over its space) */
        int64_t total = 0, counts[BINS] = {0};
        for (int r = 0; r < runs->count; r++) {
            const sn_report_run *run = runs->runs[r];
            if (strcmp(run->label, arms[a]) != 0)
                continue;
            for (int b = 0; b < BINS; b++)
                counts[b] += run->log.histogram[b];
            total += run->log.subnet_count;
        }
        for (int b = 0; b < BINS; b++)
            share[a * BINS + b] = total > 0 ? 100.0 * (double)counts[b] / (double)total : 0;
    }
    fprintf(f, "# share (%%) of the subnets trained (log.h5 /subnets/macs, every row, sandwich's "
               "four per step included) per MACs bin;\n# %d equal bins from the space's smallest "
               "(%.0f) to largest (%.0f) MACs\n# bin_low_M  bin_high_M  bin_centre_M",
            BINS, low, high);
    for (int a = 0; a < arm_count; a++) {
        char slug[2 * SN_REPORT_LABEL_MAX];
        sn_report_slug(arms[a], slug, sizeof slug);
        fprintf(f, "  %s", slug);
    }
    fprintf(f, "\n");
    double width = (high - low) / BINS;
    for (int b = 0; b < BINS; b++) {
        fprintf(f, "%.6g %.6g %.6g", (low + b * width) / 1e6, (low + (b + 1) * width) / 1e6,
                (low + (b + 0.5) * width) / 1e6);
        for (int a = 0; a < arm_count; a++)
            fprintf(f, " %.6g", share[a * BINS + b]);
        fprintf(f, "\n");
    }
    close_data(w, f, "macs_histogram.dat");
    fprintf(s, "\n# 3. MACs of the subnets trained, per arm\n"
               "set terminal pngcairo size 900,600 enhanced font 'sans,11'\n"
               "set output 'macs_histogram.png'\n"
               "set title 'MACs of the subnets trained (share per bin, all seeds)'\n"
               "set xlabel 'MACs (millions)'\nset ylabel 'share of trained subnets (%%)'\n"
               "set key default\nset key top right\nset autoscale\nset xrange [%.6g:%.6g]\nset yrange [0:*]\nplot \\\n",
            low / 1e6, high / 1e6);
    for (int a = 0; a < arm_count; a++) {
        fprintf(s, "  'data/macs_histogram.dat' using 3:%d with histeps lw 2 lc rgb '#%s' title ",
                a + 4, colors[a % COLOR_COUNT]);
        quoted(s, arms[a]);
        fprintf(s, "%s\n", a + 1 < arm_count ? ", \\" : "");
    }
    fprintf(s, "set autoscale\n");
    free(share);
    free(arms);
}

/* ---- 4. training loss per bucket over time ----------------------------------- */

static void plot_bucket_loss(writer *w, const sn_report_runs *runs)
{
    FILE *s = w->script;
    const char **arms = malloc(sizeof *arms * (size_t)runs->count);
    if (!arms) {
        w->status = sn_error_set(SN_ERR_NOMEM, "report: out of memory");
        return;
    }
    int arm_count = sn_report_sampling_arms(runs, arms);
    fprintf(s, "\n# 4. training loss per MACs bucket over windows of steps, mean over seeds\n");
    if (arm_count == 0) {
        empty_plot(s, "bucket_loss.png", "Training loss per MACs bucket",
                   "No sampling arm (only retrained runs)");
        free(arms);
        return;
    }
    multiplot_start(s, "bucket_loss.png", arm_count,
                    "Training loss per MACs bucket (mean over seeds)");
    enum { W = SN_REPORT_LOSS_WINDOWS };
    for (int a = 0; a < arm_count && w->status == SN_OK; a++) {
        const sn_report_run *first = NULL;
        for (int r = 0; r < runs->count && !first; r++)
            if (strcmp(runs->runs[r]->label, arms[a]) == 0)
                first = runs->runs[r];
        /* the log's buckets, else equal-width ones over the space (the
         * arm's first run's: its runs share a configuration) */
        const double *edges = first->log.loss_edges;
        int K = first->log.loss_buckets;
        double mean[W][SN_REPORT_BUCKETS_MAX];
        int seeds[W][SN_REPORT_BUCKETS_MAX];
        memset(mean, 0, sizeof mean);
        memset(seeds, 0, sizeof seeds);
        int64_t last_step = 0;
        for (int r = 0; r < runs->count; r++) {
            const sn_report_run *run = runs->runs[r];
            if (strcmp(run->label, arms[a]) != 0 || run->log.subnet_count == 0 ||
                run->log.loss_buckets != K)
                continue;
            if (run->log.trained_steps > last_step)
                last_step = run->log.trained_steps;
            for (int v = 0; v < W; v++)
                for (int k = 0; k < K; k++)
                    if (run->log.loss_count[v][k] > 0) {
                        mean[v][k] += run->log.loss_mean[v][k];
                        seeds[v][k]++;
                    }
        }
        char slug[2 * SN_REPORT_LABEL_MAX], name[3 * SN_REPORT_LABEL_MAX];
        sn_report_slug(arms[a], slug, sizeof slug);
        snprintf(name, sizeof name, "bucket_loss_%s.dat", slug);
        FILE *f = open_data(w, name);
        if (!f)
            break;
        fprintf(f, "# %s: mean training loss of the subnets of each MACs bucket over %d windows "
                   "of steps (mean over seeds; ? = no subnet)\n# step_centre",
                arms[a], W);
        for (int k = 0; k < K; k++)
            fprintf(f, "  loss_b%d", k);
        fprintf(f, "\n");
        for (int v = 0; v < W; v++) {
            fprintf(f, "%.6g", ((double)v + 0.5) * (double)last_step / W);
            for (int k = 0; k < K; k++)
                write_value(f, seeds[v][k] > 0 ? mean[v][k] / seeds[v][k] : NAN);
            fprintf(f, "\n");
        }
        close_data(w, f, name);
        fprintf(s, "set title ");
        quoted(s, arms[a]);
        fprintf(s, "\nset xlabel 'training step'\nset ylabel 'training loss'\nset key default\n"
                   "%s\nset autoscale\nplot \\\n",
                key_placement(arm_count));
        /* buckets no subnet of the arm fell in stay in the data file only */
        int drawn = 0;
        for (int k = 0; k < K; k++) {
            int rows = 0;
            for (int v = 0; v < W; v++)
                rows += seeds[v][k] > 0;
            if (rows == 0)
                continue;
            char title[96];
            bucket_title(title, sizeof title, k, edges);
            fprintf(s, "%s  'data/%s' using 1:%d with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#%s' "
                       "title ",
                    drawn++ ? ", \\\n" : "", name, k + 2, colors[k % COLOR_COUNT]);
            quoted(s, title);
        }
        fprintf(s, "%s\n", drawn ? "" : "  NaN notitle");
    }
    fprintf(s, "unset multiplot\n");
    free(arms);
}

/* ---- 5. convergence ------------------------------------------------------- */

/* One run's last value of split in each epoch 1..epochs (NaN where none). */
static void epoch_values(const sn_report_run *run, sn_metric_split split, int64_t epochs,
                         double *values, int accuracy)
{
    for (int64_t e = 0; e < epochs; e++)
        values[e] = NAN;
    for (int i = 0; i < run->metric_count; i++) {
        const sn_metric_row *row = &run->metrics[i];
        if (row->split == split && row->epoch >= 1 && row->epoch <= epochs)
            values[row->epoch - 1] = accuracy ? 100.0 * row->accuracy : row->loss;
    }
}

static void plot_convergence(writer *w, const sn_report_runs *runs)
{
    FILE *s = w->script;
    fprintf(s, "\n# 5. convergence: validation accuracy of the largest and the smallest subnet per "
               "epoch, mean over seeds\n");
    const char **arms = malloc(sizeof *arms * (size_t)runs->count);
    int64_t epochs = 0;
    for (int r = 0; r < runs->count; r++)
        for (int i = 0; i < runs->runs[r]->metric_count; i++)
            if (runs->runs[r]->metrics[i].epoch > epochs)
                epochs = runs->runs[r]->metrics[i].epoch;
    double *values = malloc(sizeof *values * (size_t)(3 * epochs + 1));
    double *sum = malloc(sizeof *sum * (size_t)(6 * epochs + 1));
    if (!arms || !values || !sum) {
        w->status = sn_error_set(SN_ERR_NOMEM, "report: out of memory");
        free(arms);
        free(values);
        free(sum);
        return;
    }
    int arm_count = sn_report_sampling_arms(runs, arms);
    if (arm_count == 0 || epochs == 0) {
        empty_plot(s, "convergence.png", "Convergence", "No sampling arm with epochs in metrics.csv");
        free(arms);
        free(values);
        free(sum);
        return;
    }
    static const sn_metric_split splits[3] = {SN_METRIC_VAL_LARGEST, SN_METRIC_VAL_SMALLEST,
                                              SN_METRIC_TRAIN};
    for (int a = 0; a < arm_count && w->status == SN_OK; a++) {
        /* sum[c * epochs + e] and count (sum + 3 epochs) of column c */
        double *count = sum + 3 * epochs;
        for (int64_t i = 0; i < 6 * epochs; i++)
            sum[i] = 0;
        for (int r = 0; r < runs->count; r++) {
            const sn_report_run *run = runs->runs[r];
            if (strcmp(run->label, arms[a]) != 0)
                continue;
            for (int c = 0; c < 3; c++) {
                if (c < 2) {
                    epoch_values(run, splits[c], epochs, values, 1);
                } else {
                    /* train rows: the mean of the epoch's rows (metrics_interval_steps) */
                    double *rows = values + epochs;
                    for (int64_t e = 0; e < epochs; e++)
                        values[e] = 0, rows[e] = 0;
                    for (int i = 0; i < run->metric_count; i++) {
                        const sn_metric_row *row = &run->metrics[i];
                        if (row->split == SN_METRIC_TRAIN && row->epoch >= 1 && row->epoch <= epochs)
                            values[row->epoch - 1] += row->loss, rows[row->epoch - 1]++;
                    }
                    for (int64_t e = 0; e < epochs; e++)
                        values[e] = rows[e] > 0 ? values[e] / rows[e] : NAN;
                }
                for (int64_t e = 0; e < epochs; e++)
                    if (isfinite(values[e]))
                        sum[c * epochs + e] += values[e], count[c * epochs + e]++;
            }
        }
        char slug[2 * SN_REPORT_LABEL_MAX], name[3 * SN_REPORT_LABEL_MAX];
        sn_report_slug(arms[a], slug, sizeof slug);
        snprintf(name, sizeof name, "convergence_%s.dat", slug);
        FILE *f = open_data(w, name);
        if (!f)
            break;
        fprintf(f, "# %s: per epoch (metrics.csv), mean over seeds (? = none); n = seeds\n"
                   "# epoch  val_largest_acc_%%  n  val_smallest_acc_%%  n  train_loss  n\n",
                arms[a]);
        for (int64_t e = 0; e < epochs; e++) {
            fprintf(f, "%lld", (long long)(e + 1));
            for (int c = 0; c < 3; c++) {
                double n = count[c * epochs + e];
                write_value(f, n > 0 ? sum[c * epochs + e] / n : NAN);
                fprintf(f, " %.0f", n);
            }
            fprintf(f, "\n");
        }
        close_data(w, f, name);
    }
    if (w->status == SN_OK) {
        multiplot_start(s, "convergence.png", 2, "Validation accuracy per epoch (mean over seeds)");
        static const char *const titles[2] = {"largest subnet", "smallest subnet"};
        for (int c = 0; c < 2; c++) {
            fprintf(s, "set title '%s'\nset xlabel 'epoch'\nset ylabel 'validation accuracy (%%)'\n"
                       "set key default\n%s\nset autoscale\nplot \\\n",
                    titles[c], key_placement(2));
            for (int a = 0; a < arm_count; a++) {
                char slug[2 * SN_REPORT_LABEL_MAX];
                sn_report_slug(arms[a], slug, sizeof slug);
                fprintf(s, "  'data/convergence_%s.dat' using 1:%d with linespoints pt 7 ps 0.5 "
                           "lw 1.5 lc rgb '#%s' title ",
                        slug, 2 + 2 * c, colors[a % COLOR_COUNT]);
                quoted(s, arms[a]);
                fprintf(s, "%s\n", a + 1 < arm_count ? ", \\" : "");
            }
        }
        fprintf(s, "unset multiplot\nset autoscale\n");
    }
    free(arms);
    free(values);
    free(sum);
}

/* ---- 6. final probabilities against the bucket index ----------------------- */

static void plot_final_probabilities(writer *w, const sn_report_runs *runs)
{
    FILE *s = w->script;
    fprintf(s, "\n# 6. each shift-type run's probabilities after its last update, per bucket\n");
    const sn_report_run *first = NULL;
    for (int r = 0; r < runs->count && !first; r++)
        if (sn_report_has_updates(runs->runs[r]))
            first = runs->runs[r];
    if (!first) {
        empty_plot(s, "final_probabilities.png", "Final sampling probabilities",
                   "No arm updated sampling probabilities (no shift runs)");
        return;
    }
    int K = first->log.buckets, columns = 0;
    FILE *f = open_data(w, "final_probabilities.dat");
    if (!f)
        return;
    fprintf(f, "# p_k after each shift-type run's last update (log.h5); runs of another K left "
               "out\n# bucket  uniform");
    for (int r = 0; r < runs->count; r++) {
        const sn_report_run *run = runs->runs[r];
        if (sn_report_has_updates(run) && run->log.buckets == K) {
            char slug[2 * SN_REPORT_LABEL_MAX];
            sn_report_slug(run->label, slug, sizeof slug);
            fprintf(f, "  %s_seed%lld", slug, (long long)run->seed);
        }
    }
    fprintf(f, "\n");
    for (int k = 0; k < K; k++) {
        fprintf(f, "%d %.6g", k, 1.0 / K);
        for (int r = 0; r < runs->count; r++) {
            const sn_report_run *run = runs->runs[r];
            if (sn_report_has_updates(run) && run->log.buckets == K)
                fprintf(f, " %.6g",
                        run->log.update_probability[(run->log.update_count - 1) * K + k]);
        }
        fprintf(f, "\n");
    }
    close_data(w, f, "final_probabilities.dat");
    fprintf(s, "set terminal pngcairo size 900,600 enhanced font 'sans,11'\n"
               "set output 'final_probabilities.png'\n"
               "set title 'Sampling probability per bucket after the last update (each run)'\n"
               "set xlabel 'bucket index (0 = smallest MACs)'\nset ylabel 'probability'\n"
               "set key default\nset key outside right top vertical font ',9'\nset autoscale\n"
               "set xrange [-0.5:%d.5]\nset xtics 1\nset yrange [0:*]\nplot \\\n"
               "  'data/final_probabilities.dat' using 1:2 with lines dt 2 lw 1.5 lc rgb 'black' "
               "title 'uniform'",
            K - 1);
    const char **arms = malloc(sizeof *arms * (size_t)runs->count);
    if (!arms) {
        w->status = sn_error_set(SN_ERR_NOMEM, "report: out of memory");
        return;
    }
    int arm_count = sn_report_sampling_arms(runs, arms);
    for (int r = 0; r < runs->count; r++) {
        const sn_report_run *run = runs->runs[r];
        if (!sn_report_has_updates(run) || run->log.buckets != K)
            continue;
        /* one colour per arm, one line (and point type) per seed */
        int arm_index = 0;
        while (arm_index < arm_count && strcmp(arms[arm_index], run->label) != 0)
            arm_index++;
        char title[SN_REPORT_LABEL_MAX + 32];
        snprintf(title, sizeof title, "%s seed %lld", run->label, (long long)run->seed);
        int column = 3 + columns, point = 5 + columns % 4;
        columns++;
        fprintf(s, ", \\\n  'data/final_probabilities.dat' using 1:%d with linespoints pt %d "
                   "ps 0.8 lw 1.5 lc rgb '#%s' title ",
                column, point, colors[arm_index % COLOR_COUNT]);
        quoted(s, title);
    }
    free(arms);
    fprintf(s, "\nset xtics autofreq\nset autoscale\n");
}

int sn_report_write_plot_data(const sn_report_runs *runs, const sn_report_options *options,
                              const char *out_dir)
{
    if (runs->count == 0)
        return sn_error_set(SN_ERR_ARGUMENT, "report: no usable run");
    char path[SN_REPORT_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/data", out_dir);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return sn_write_failed(path, "cannot create", errno);
    double *targets = NULL;
    sn_report_group *groups = NULL;
    int target_count = 0, group_count = 0;
    SN_TRY(sn_report_targets(runs, options, &targets, &target_count));
    int status = sn_report_groups(runs, targets, target_count, &groups, &group_count);
    snprintf(path, sizeof path, "%s/plots.gp", out_dir);
    writer w = {out_dir, NULL, status};
    if (status == SN_OK && !(w.script = fopen(path, "w")))
        w.status = sn_write_failed(path, "cannot create", errno);
    if (w.status == SN_OK) {
        fprintf(w.script, "# The plots of report.md, written by `shiftnas report`. Paths are "
                          "relative:\n# restyle, then redraw with `gnuplot plots.gp` in this "
                          "directory. Data: data/*.dat.\nset encoding utf8\n"
                          "set terminal pngcairo size 900,600 enhanced font 'sans,11'\n"
                          "set datafile missing '?'\nset grid\n");
        plot_accuracy(&w, runs, targets, target_count, groups, group_count);
        if (w.status == SN_OK)
            plot_probabilities(&w, runs);
        if (w.status == SN_OK)
            plot_histogram(&w, runs);
        if (w.status == SN_OK)
            plot_bucket_loss(&w, runs);
        if (w.status == SN_OK)
            plot_convergence(&w, runs);
        if (w.status == SN_OK)
            plot_final_probabilities(&w, runs);
    }
    if (w.script) {
        int finished = sn_stdio_finish(w.script, path, 0);
        if (w.status == SN_OK)
            w.status = finished;
    }
    free(targets);
    free(groups);
    return w.status;
}
