/* Grouping the runs' search results: which targets, which (arm, method)
 * groups, which values per cell, which retrained run matches which
 * inherited subnet; which sampling arms. */
#include "report_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"

static int is_searched(const sn_search_row *row)
{
    return row->target > 0 && strcmp(row->method, "eval") != 0;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int sn_report_targets(const sn_report_runs *runs, const sn_report_options *options,
                      double **targets, int *count)
{
    *count = 0;
    int capacity = options->target_count;
    for (int r = 0; r < runs->count; r++)
        capacity += runs->runs[r]->search.count;
    *targets = malloc(sizeof **targets * (size_t)(capacity > 0 ? capacity : 1));
    if (!*targets)
        return sn_error_set(SN_ERR_NOMEM, "report: out of memory");
    if (options->target_count > 0) {
        for (int t = 0; t < options->target_count; t++)
            (*targets)[(*count)++] = options->targets[t];
    } else {
        for (int r = 0; r < runs->count; r++)
            for (int i = 0; i < runs->runs[r]->search.count; i++) {
                const sn_search_row *row = &runs->runs[r]->search.rows[i];
                if (is_searched(row))
                    (*targets)[(*count)++] = row->target;
            }
    }
    qsort(*targets, (size_t)*count, sizeof **targets, compare_doubles);
    int unique = 0;
    for (int t = 0; t < *count; t++)
        if (unique == 0 || fabs((*targets)[t] - (*targets)[unique - 1]) >= 0.5)
            (*targets)[unique++] = (*targets)[t];
    *count = unique;
    return SN_OK;
}

int sn_report_groups(const sn_report_runs *runs, const double *targets, int target_count,
                     sn_report_group **groups, int *count)
{
    *count = 0;
    int capacity = 0;
    for (int r = 0; r < runs->count; r++)
        capacity += runs->runs[r]->search.count;
    *groups = malloc(sizeof **groups * (size_t)(capacity > 0 ? capacity : 1));
    if (!*groups)
        return sn_error_set(SN_ERR_NOMEM, "report: out of memory");
    for (int r = 0; r < runs->count; r++) {
        const sn_report_run *run = runs->runs[r];
        for (int i = 0; i < run->search.count; i++) {
            const sn_search_row *row = &run->search.rows[i];
            int wanted = 0;
            for (int t = 0; t < target_count && is_searched(row); t++)
                wanted |= fabs(row->target - targets[t]) < 0.5;
            if (!wanted)
                continue;
            int g = 0;
            while (g < *count && !(strcmp((*groups)[g].arm, run->label) == 0 &&
                                   strcmp((*groups)[g].method, row->method) == 0))
                g++;
            if (g == *count) {
                snprintf((*groups)[g].arm, sizeof (*groups)[g].arm, "%s", run->label);
                snprintf((*groups)[g].method, sizeof (*groups)[g].method, "%s", row->method);
                (*count)++;
            }
        }
    }
    return SN_OK;
}

int sn_report_collect(const sn_report_runs *runs, const sn_report_group *group, double target,
                      double *macs, double *params, double *val, double *test,
                      const sn_report_run **which)
{
    int n = 0;
    for (int r = 0; r < runs->count; r++) {
        const sn_report_run *run = runs->runs[r];
        if (strcmp(run->label, group->arm) != 0)
            continue;
        const sn_search_row *row = sn_search_table_find(&run->search, group->method, target);
        if (!row)
            continue;
        if (macs)
            macs[n] = (double)row->macs;
        if (params)
            params[n] = (double)row->params;
        if (val)
            val[n] = 100.0 * row->val_accuracy;
        if (test)
            test[n] = 100.0 * row->test_accuracy;
        if (which)
            which[n] = run;
        n++;
    }
    return n;
}

void sn_report_match_retrained(const sn_report_runs *runs, const sn_report_run *retrained,
                               const sn_report_run **match, const sn_search_row **row)
{
    *match = NULL;
    *row = NULL;
    const sn_search_row *eval = NULL;
    for (int i = 0; i < retrained->search.count; i++)
        if (strcmp(retrained->search.rows[i].method, "eval") == 0)
            eval = &retrained->search.rows[i];
    if (!eval)
        return;
    /* the generator's answer first: retraining checks what the generator
     * deploys; an evolution row of the same subnet otherwise */
    static const char *const methods[2] = {"generator", "evolution"};
    for (int m = 0; m < 2; m++)
        for (int r = 0; r < runs->count; r++) {
            const sn_report_run *run = runs->runs[r];
            if (run == retrained || run->seed != retrained->seed ||
                strcmp(run->label, "retrained") == 0)
                continue;
            for (int i = 0; i < run->search.count; i++) {
                const sn_search_row *candidate = &run->search.rows[i];
                if (strcmp(candidate->method, methods[m]) == 0 &&
                    strcmp(candidate->arch, eval->arch) == 0) {
                    *match = run;
                    *row = candidate;
                    return;
                }
            }
        }
}

void sn_report_slug(const char *label, char *slug, size_t size)
{
    size_t n = 0;
    int gap = 0;
    for (const char *c = label; *c && n + 1 < size; c++) {
        int keep = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                   *c == '-';
        if (keep) {
            if (gap && n > 0 && n + 2 < size)
                slug[n++] = '_';
            slug[n++] = *c;
            gap = 0;
        } else {
            gap = 1;
        }
    }
    slug[n] = '\0';
}

int sn_report_has_updates(const sn_report_run *run)
{
    return run->log.buckets > 0 && run->log.update_count > 0 && run->log.update_probability;
}

int sn_report_sampling_arms(const sn_report_runs *runs, const char **arms)
{
    /* The retrained arm is left out: its runs train one given subnet each,
     * so their probabilities, MACs histogram, per-bucket losses and
     * convergence describe no sampling strategy. */
    int count = 0;
    for (int r = 0; r < runs->count; r++) {
        if (strcmp(runs->runs[r]->label, "retrained") == 0)
            continue;
        int seen = 0;
        for (int a = 0; a < count; a++)
            seen |= strcmp(arms[a], runs->runs[r]->label) == 0;
        if (!seen)
            arms[count++] = runs->runs[r]->label;
    }
    return count;
}

void sn_report_format_summary(char *text, size_t size, sn_summary s)
{
    if (s.n == 0)
        snprintf(text, size, "—");
    else if (s.n < 2 || !isfinite(s.std))
        snprintf(text, size, "%.2f ± —", s.mean);
    else
        snprintf(text, size, "%.2f ± %.2f", s.mean, s.std);
}
