/* Stand-alone ground truth: probes retrained from scratch (arm retrained,
 * strategy fixed; the one row of their probes.csv is the stand-alone
 * accuracy) against the same probes with each supernet's inherited weights:
 * Kendall's tau-b per run (does the supernet rank subnets as training them
 * alone would?) and the inherited - stand-alone gap per bucket. */
#include "report_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"

/* A retrained probe: its subnet and its stand-alone accuracy (%), the mean
 * over the retrained runs of that subnet. */
typedef struct {
    const char *subnet;
    double accuracy;
    int runs;
} standalone_probe;

static int collect_standalone(const sn_report_runs *runs, standalone_probe *probes)
{
    int count = 0;
    for (int r = 0; r < runs->count; r++) {
        const sn_report_run *run = runs->runs[r];
        if (strcmp(run->label, "retrained") != 0 || run->probes.count < 1)
            continue;
        const sn_probe_row *row = &run->probes.rows[0];
        int i = 0;
        while (i < count && strcmp(probes[i].subnet, row->subnet) != 0)
            i++;
        if (i == count)
            probes[count++] = (standalone_probe){row->subnet, 0, 0};
        probes[i].accuracy += 100.0 * row->test_accuracy;
        probes[i].runs++;
    }
    for (int i = 0; i < count; i++)
        probes[i].accuracy /= probes[i].runs;
    return count;
}

static const sn_probe_row *inherited(const sn_report_run *run, const char *arch)
{
    for (int i = 0; i < run->probes.count; i++)
        if (strcmp(run->probes.rows[i].subnet, arch) == 0)
            return &run->probes.rows[i];
    return NULL;
}

/* Whether τ can say anything: it ranks the probes by their stand-alone
 * accuracy, so that ranking must stand above the noise of one accuracy,
 * which the report cannot know (the test set's size and a training seed's
 * spread are not in the summaries); it gives the spread and the yardstick. */
static void write_standalone_spread(FILE *out, const standalone_probe *probes, int probe_count,
                                    double *accuracies)
{
    if (probe_count < 2)
        return;
    double low = INFINITY, high = -INFINITY;
    for (int j = 0; j < probe_count; j++) {
        accuracies[j] = probes[j].accuracy;
        low = fmin(low, probes[j].accuracy);
        high = fmax(high, probes[j].accuracy);
    }
    sn_summary s = sn_summary_of(accuracies, probe_count);
    fprintf(out, "Stand-alone accuracies: %.2f–%.2f %% (sample standard deviation %.2f points "
                 "over the %d probes). τ can rank the supernets only if this spread is clearly "
                 "larger than the noise of one accuracy: the test set's sampling error "
                 "√(a(1 − a)/n) for n test images (0.26 points at 92.5 %% on 10,000 images) and "
                 "the spread between training seeds of one subnet. Below that, τ near 0 says the "
                 "probes are not distinguishable stand-alone, not that the supernet ranks them "
                 "badly.\n\n",
            low, high, s.std, probe_count);
}

static void write_tau(FILE *out, const sn_report_runs *runs, const char *const *arms, int arm_count,
                      const standalone_probe *probes, int probe_count, double *x, double *y,
                      double *taus)
{
    fprintf(out, "Kendall's τ-b (ties handled) between each supernet run's inherited probe "
                 "accuracy and the stand-alone accuracy, over the retrained probes that run "
                 "evaluated; per arm the mean over seeds ± the sample standard deviation.\n\n"
                 "| arm | seed | probes n | τ-b |\n|---|---:|---:|---:|\n");
    for (int a = 0; a < arm_count; a++) {
        int seeds = 0;
        for (int r = 0; r < runs->count; r++) {
            const sn_report_run *run = runs->runs[r];
            if (strcmp(run->label, arms[a]) != 0 || !run->has_probes)
                continue;
            int n = 0;
            for (int j = 0; j < probe_count; j++) {
                const sn_probe_row *row = inherited(run, probes[j].subnet);
                if (row) {
                    x[n] = 100.0 * row->test_accuracy;
                    y[n++] = probes[j].accuracy;
                }
            }
            double tau = sn_kendall_tau_b(x, y, n);
            if (isfinite(tau))
                fprintf(out, "| %s | %lld | %d | %+.3f |\n", arms[a], (long long)run->seed, n, tau);
            else
                fprintf(out, "| %s | %lld | %d | — |\n", arms[a], (long long)run->seed, n);
            if (isfinite(tau))
                taus[seeds++] = tau;
        }
        if (seeds > 0) {
            sn_summary s = sn_summary_of(taus, seeds);
            if (seeds > 1)
                fprintf(out, "| **%s: mean over seeds** | n = %d | | %+.3f ± %.3f |\n", arms[a],
                        seeds, s.mean, s.std);
            else
                fprintf(out, "| **%s: mean over seeds** | n = 1 | | %+.3f ± — |\n", arms[a], s.mean);
        }
    }
    fprintf(out, "\n");
}

static void write_gap(FILE *out, const sn_report_runs *runs, const char *const *arms, int arm_count,
                      const standalone_probe *probes, int probe_count, double *gaps)
{
    const double *edges = NULL;
    int K = sn_report_probe_buckets(runs, &edges);
    fprintf(out, "Inherited − stand-alone test accuracy (points) per bucket: the mean over every "
                 "(seed, retrained probe) of the arm in the bucket ± the sample standard "
                 "deviation, with n such pairs and the seeds they come from.\n\n"
                 "| arm | bucket | MACs (M) | n (seed, probe) | seeds | gap |\n"
                 "|---|---:|---|---:|---:|---:|\n");
    for (int a = 0; a < arm_count; a++)
        for (int k = 0; k < K; k++) {
            int n = 0, seeds = 0;
            for (int r = 0; r < runs->count; r++) {
                const sn_report_run *run = runs->runs[r];
                if (strcmp(run->label, arms[a]) != 0 || !run->has_probes)
                    continue;
                int used = 0;
                for (int j = 0; j < probe_count; j++) {
                    const sn_probe_row *row = inherited(run, probes[j].subnet);
                    if (row && row->bucket == k) {
                        gaps[n++] = 100.0 * row->test_accuracy - probes[j].accuracy;
                        used = 1;
                    }
                }
                seeds += used;
            }
            if (n == 0)
                continue;
            char range[64], text[64];
            if (edges)
                snprintf(range, sizeof range, "%.3f–%.3f", edges[k] / 1e6, edges[k + 1] / 1e6);
            else
                snprintf(range, sizeof range, "—");
            sn_summary s = sn_summary_of(gaps, n);
            if (n > 1)
                snprintf(text, sizeof text, "%+.2f ± %.2f", s.mean, s.std);
            else
                snprintf(text, sizeof text, "%+.2f ± —", s.mean);
            fprintf(out, "| %s | %d | %s | %d | %d | %s |\n", arms[a], k, range, n, seeds, text);
        }
    fprintf(out, "\n");
}

int sn_report_write_standalone(FILE *out, const sn_report_runs *runs)
{
    int retrained = 0, total_probes = 0;
    for (int r = 0; r < runs->count; r++) {
        retrained += strcmp(runs->runs[r]->label, "retrained") == 0 && runs->runs[r]->has_probes;
        total_probes += runs->runs[r]->probes.count;
    }
    if (retrained == 0)
        return SN_OK;
    standalone_probe *probes = malloc(sizeof *probes * (size_t)runs->count);
    const char **arms = malloc(sizeof *arms * (size_t)runs->count);
    size_t cells = (size_t)total_probes + (size_t)runs->count + 1;
    double *values = malloc(sizeof *values * 3 * cells);
    if (!probes || !arms || !values) {
        free(probes);
        free(arms);
        free(values);
        return sn_error_set(SN_ERR_NOMEM, "report: out of memory");
    }
    int probe_count = collect_standalone(runs, probes);
    int arm_count = sn_report_sampling_arms(runs, arms);
    fprintf(out, "## Stand-alone ground truth (retrained probes)\n\n%d probe subnet(s) trained "
                 "from scratch (%d retrained run(s) with probes.csv; a subnet retrained with "
                 "several seeds counts with the mean of its runs).\n\n",
            probe_count, retrained);
    write_standalone_spread(out, probes, probe_count, values);
    if (arm_count > 0) {
        write_tau(out, runs, arms, arm_count, probes, probe_count, values, values + cells,
                  values + 2 * cells);
        write_gap(out, runs, arms, arm_count, probes, probe_count, values);
    }
    free(probes);
    free(arms);
    free(values);
    return SN_OK;
}
