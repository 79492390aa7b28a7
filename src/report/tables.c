/* report.md: the primary endpoint and the paired comparisons first
 * (paired.c), the arm means per target and per probe bucket, the
 * stand-alone ground truth (standalone.c), the learned probabilities and the
 * cost (training.c), the plots, the runs, how they were configured, the
 * skipped runs. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/write_failure.h"
#include "report_internal.h"
#include "shiftnas/error.h"
#include "shiftnas/format.h"
#include "shiftnas/version.h"

static void write_target_tables(FILE *out, const sn_report_runs *runs, const double *targets,
                                int target_count, const sn_report_group *groups, int group_count,
                                double *values)
{
    int n_max = runs->count;
    double *macs = values, *params = values + n_max, *val = values + 2 * n_max,
           *test = values + 3 * n_max;
    fprintf(out, "## Accuracy per MACs target\n\n"
                 "Subnets found by `shiftnas search` with inherited weights; the mean over "
                 "seeds ± the sample standard deviation (n − 1; — for one seed), accuracies in "
                 "%%. No arm is marked best: differences between arms are tested seed by seed "
                 "under Paired comparisons.\n\n");
    if (target_count == 0)
        fprintf(out, "No searched targets (no run has search.csv rows at the report's "
                     "targets).\n\n");
    for (int t = 0; t < target_count; t++) {
        char target_text[32];
        sn_format_macs(target_text, sizeof target_text, targets[t]);
        fprintf(out, "### Target %s MACs\n\n", target_text);
        fprintf(out, "| arm (method) | seeds n | MACs mean (M) | params mean (k) | "
                     "validation acc (%%) | test acc (%%) |\n|---|---:|---:|---:|---:|---:|\n");
        for (int g = 0; g < group_count; g++) {
            int n = sn_report_collect(runs, &groups[g], targets[t], macs, params, val, test, NULL);
            if (n == 0)
                continue;
            char v[64], te[64];
            sn_report_format_summary(v, sizeof v, sn_summary_of(val, n));
            sn_report_format_summary(te, sizeof te, sn_summary_of(test, n));
            fprintf(out, "| %s (%s) | %d | %.3f | %.1f | %s | %s |\n", groups[g].arm,
                    groups[g].method, n, sn_summary_of(macs, n).mean / 1e6,
                    sn_summary_of(params, n).mean / 1e3, v, te);
        }
        fprintf(out, "\n");
    }
}

/* Runs that lack a target their methods have elsewhere, and repeated searches. */
static void write_search_notes(FILE *out, const sn_report_runs *runs, const double *targets,
                               int target_count)
{
    int notes = 0;
    for (int r = 0; r < runs->count; r++) {
        const sn_report_run *run = runs->runs[r];
        static const char *const methods[2] = {"evolution", "generator"};
        for (int m = 0; m < 2; m++) {
            int has_method = 0;
            for (int i = 0; i < run->search.count; i++)
                has_method |= strcmp(run->search.rows[i].method, methods[m]) == 0;
            for (int t = 0; t < target_count && has_method; t++)
                if (!sn_search_table_find(&run->search, methods[m], targets[t])) {
                    char text[32];
                    sn_format_macs(text, sizeof text, targets[t]);
                    fprintf(out, "%s- missing: `%s` has no %s row for target %s (not averaged)\n",
                            notes++ ? "" : "Notes on the searches:\n\n", run->dir, methods[m],
                            text);
                }
        }
        if (run->search.replaced > 0)
            fprintf(out, "%s- `%s/search.csv` repeats %d (method, target) row(s) of an earlier "
                         "search; the last of each is used\n",
                    notes++ ? "" : "Notes on the searches:\n\n", run->dir, run->search.replaced);
    }
    if (notes)
        fprintf(out, "\n");
}

static void write_retrained(FILE *out, const sn_report_runs *runs, const double *targets,
                            int target_count)
{
    /* retrained runs evaluated into search.csv (`shiftnas eval --csv`); those
     * with probes.csv only are the stand-alone ground truth's */
    int any = 0;
    for (int r = 0; r < runs->count; r++)
        any |= strcmp(runs->runs[r]->label, "retrained") == 0 && runs->runs[r]->has_search;
    if (!any)
        return;
    fprintf(out, "## Inherited vs retrained\n\n"
                 "Each retrained run trained one subnet from scratch; it is matched to the run "
                 "of the same seed whose generator (or evolution) answer is that subnet. Gap = "
                 "retrained − inherited test accuracy (percentage points).\n\n"
                 "| target | seed | subnet MACs (M) | inherited test acc (%%) | retrained test acc "
                 "(%%) | gap | inherited from |\n|---:|---:|---:|---:|---:|---:|---|\n");
    int n = runs->count;
    double *gaps = malloc(sizeof *gaps * (size_t)n * (size_t)(target_count + 1));
    int *gap_count = calloc((size_t)target_count + 1, sizeof *gap_count);
    for (int r = 0; r < runs->count; r++) {
        const sn_report_run *run = runs->runs[r];
        if (strcmp(run->label, "retrained") != 0 || !run->has_search)
            continue;
        const sn_report_run *match;
        const sn_search_row *inherited;
        sn_report_match_retrained(runs, run, &match, &inherited);
        const sn_search_row *eval = sn_search_table_find(&run->search, "eval", 0);
        if (!eval)
            for (int i = 0; i < run->search.count; i++)
                if (strcmp(run->search.rows[i].method, "eval") == 0)
                    eval = &run->search.rows[i];
        if (!match || !eval) {
            fprintf(out, "| — | %lld | — | — | %s | — | no run of seed %lld searched this subnet "
                         "(`%s`) |\n",
                    (long long)run->seed, eval ? "" : "no eval row", (long long)run->seed,
                    run->dir);
            continue;
        }
        char target[32];
        sn_format_macs(target, sizeof target, inherited->target);
        double gap = 100.0 * (eval->test_accuracy - inherited->test_accuracy);
        fprintf(out, "| %s | %lld | %.3f | %.2f | %.2f | %+.2f | %s (%s), `%s` |\n", target,
                (long long)run->seed, (double)eval->macs / 1e6, 100.0 * inherited->test_accuracy,
                100.0 * eval->test_accuracy, gap, match->label, inherited->method, match->dir);
        int t = 0;
        while (t < target_count && fabs(targets[t] - inherited->target) >= 0.5)
            t++;
        if (gaps && gap_count)
            gaps[(size_t)t * (size_t)n + (size_t)gap_count[t]++] = gap;
    }
    fprintf(out, "\n");
    for (int t = 0; gaps && gap_count && t < target_count; t++) {
        if (gap_count[t] == 0)
            continue;
        char target[32], text[64];
        sn_format_macs(target, sizeof target, targets[t]);
        sn_report_format_summary(text, sizeof text, sn_summary_of(gaps + (size_t)t * (size_t)n, gap_count[t]));
        fprintf(out, "- target %s: gap %s points over %d seed(s)\n", target, text, gap_count[t]);
    }
    fprintf(out, "\n");
    free(gaps);
    free(gap_count);
}

static void write_runs_table(FILE *out, const sn_report_runs *runs)
{
    fprintf(out, "## Runs\n\n| run | arm | seed | steps | images | training time | final "
                 "probabilities |\n|---|---|---:|---:|---:|---:|---|\n");
    for (int r = 0; r < runs->count; r++) {
        const sn_report_run *run = runs->runs[r];
        char time[32];
        if (isfinite(run->train_seconds))
            snprintf(time, sizeof time, "%.1f s", run->train_seconds);
        else
            snprintf(time, sizeof time, "—");
        fprintf(out, "| `%s` | %s | %lld | %lld | %lld | %s | ", run->dir, run->label,
                (long long)run->seed, (long long)run->steps, (long long)run->images, time);
        if (sn_report_has_updates(run)) {
            const double *p =
                run->log.update_probability + (run->log.update_count - 1) * run->log.buckets;
            for (int k = 0; k < run->log.buckets; k++)
                fprintf(out, "%s%.3f", k ? " " : "", p[k]);
        } else {
            fprintf(out, "—");
        }
        fprintf(out, " |\n");
    }
    fprintf(out, "\nSteps and images from the latest checkpoint (a summary run's from its "
                 "summary.txt); the training time is timing.txt's "
                 "train_seconds where the study script wrote it (summed over the run's sessions), "
                 "else the seconds column of metrics.csv's last row. Training losses in log.h5 (and "
                 "bucket_loss.png): every strategy logs each trained subnet's cross-entropy "
                 "on its batch, except sandwich, whose slots ≥ 1 (the smallest and the random "
                 "subnets) log the distillation loss against slot 0, the largest "
                 "(doc/run-files.md); all rows are plotted.\n\n");
}

static int is_ignored_difference(const sn_config_key *key)
{
    return (strcmp(key->section, "run") == 0 && strcmp(key->name, "seed") == 0) ||
           sn_config_key_result_neutral(key);
}

static int write_configuration(FILE *out, const sn_report_runs *runs)
{
    fprintf(out, "## How the runs were configured\n\n");
    int count = 0;
    const sn_config_key *keys = sn_config_keys(&count);
    const sn_config *first = &runs->runs[0]->config;
    int any = 0;
    for (int r = 1; r < runs->count; r++) {
        const sn_config *c = &runs->runs[r]->config;
        int shown = 0;
        for (int i = 0; i < count; i++) {
            if (is_ignored_difference(&keys[i]))
                continue;
            char a[SN_CONFIG_TEXT_MAX + 64], b[SN_CONFIG_TEXT_MAX + 64];
            if (sn_config_format_value(first, &keys[i], a, sizeof a) != SN_OK ||
                sn_config_format_value(c, &keys[i], b, sizeof b) != SN_OK || strcmp(a, b) == 0)
                continue;
            if (!shown++)
                fprintf(out, "- `%s` (%s, seed %lld):", runs->runs[r]->dir, runs->runs[r]->label,
                        (long long)runs->runs[r]->seed);
            fprintf(out, "%s [%s] %s = %s", shown > 1 ? ";" : "", keys[i].section, keys[i].name, b);
            any = 1;
        }
        if (shown)
            fprintf(out, "\n");
    }
    fprintf(out, "%sKeys that differ from the first run `%s` (not counting `[run] seed` and "
                 "the result-neutral keys of doc/checkpoint.md)%s\n\n",
            any ? "\n" : "", runs->runs[0]->dir, any ? " are listed above." : ": none.");
    char *text = NULL;
    int status = sn_config_text(first, &text);
    if (status == SN_OK)
        fprintf(out, "<details><summary>Configuration of the first run (%s, resolved)</summary>"
                     "\n\n```ini\n%s```\n\n</details>\n\n",
                runs->runs[0]->dir, text ? text : "");
    free(text);
    return status;
}

static void write_plots_section(FILE *out, const sn_report_runs *runs,
                                const sn_report_options *options)
{
    fprintf(out, "## Plots\n\n");
    if (!options->plots)
        fprintf(out, "Not drawn (`--no-plots`): the data are in `data/`, the script is "
                     "`plots.gp`; draw them with `gnuplot plots.gp` in this directory.\n\n");
    fprintf(out, "![Test accuracy against MACs, mean ± std over seeds, and the Pareto front of "
                 "every searched subnet](accuracy_vs_macs.png)\n\n");
    int updates = 0;
    for (int r = 0; r < runs->count; r++)
        updates |= sn_report_has_updates(runs->runs[r]);
    if (updates)
        fprintf(out, "![Sampling probability of each MACs bucket over training, mean over "
                     "seeds](probabilities.png)\n\n");
    else
        fprintf(out, "No arm updated sampling probabilities (no shift runs), so "
                     "probabilities.png only says so.\n\n");
    fprintf(out, "![Share of the trained subnets per MACs bin](macs_histogram.png)\n\n"
                 "![Training loss per MACs bucket over training, mean over seeds]"
                 "(bucket_loss.png)\n\n"
                 "![Convergence: validation accuracy of the largest and the smallest subnet per "
                 "epoch (metrics.csv), mean over seeds, per arm](convergence.png)\n\n");
    if (updates)
        fprintf(out, "![Each shift-type run's probabilities after its last update against the "
                     "bucket index](final_probabilities.png)\n\n");
}

int sn_report_write_tables(const sn_report_runs *runs, const sn_report_options *options,
                           const char *path)
{
    double *targets = NULL;
    sn_report_group *groups = NULL;
    int target_count = 0, group_count = 0;
    SN_TRY(sn_report_targets(runs, options, &targets, &target_count));
    int status = sn_report_groups(runs, targets, target_count, &groups, &group_count);
    double *values = malloc(sizeof *values * 4 * (size_t)(runs->count > 0 ? runs->count : 1));
    if (status == SN_OK && !values)
        status = sn_error_set(SN_ERR_NOMEM, "report: out of memory");
    FILE *out = status == SN_OK ? fopen(path, "w") : NULL;
    if (status == SN_OK && !out)
        status = sn_write_failed(path, "cannot create", errno);
    if (status == SN_OK) {
        fprintf(out, "# shiftnas report\n\n```\n%s\n```\n\nshiftnas %s (revision %s); %d run(s) "
                     "used, %d skipped.\n\n",
                options->command_line ? options->command_line : "shiftnas report",
                PACKAGE_VERSION, sn_source_revision(), runs->count, runs->skip_count);
        sn_report_write_endpoint(out, runs);
        status = sn_report_write_comparisons(out, runs, options, targets, target_count);
        if (status == SN_OK)
            status = sn_report_write_probe_means(out, runs);
        write_target_tables(out, runs, targets, target_count, groups, group_count, values);
        write_search_notes(out, runs, targets, target_count);
        if (status == SN_OK)
            status = sn_report_write_standalone(out, runs);
        write_retrained(out, runs, targets, target_count);
        sn_report_write_final_probabilities(out, runs);
        sn_report_write_shift_signal(out, runs);
        sn_report_write_cost(out, runs);
        write_plots_section(out, runs, options);
        write_runs_table(out, runs);
        if (status == SN_OK)
            status = write_configuration(out, runs);
        fprintf(out, "## Skipped runs\n\n");
        if (runs->skip_count == 0)
            fprintf(out, "None.\n");
        for (int s = 0; s < runs->skip_count; s++)
            fprintf(out, "- %s\n", runs->skips[s].reason);
    }
    if (out) {
        int finished = sn_stdio_finish(out, path, 0);
        if (status == SN_OK)
            status = finished;
    }
    free(values);
    free(groups);
    free(targets);
    return status;
}
