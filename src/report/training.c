/* What training did, per arm: the sampling probabilities it ended with
 * (against the paper's reading of its Fig. 5) and what it cost (wall time
 * and core-hours). */
#include "report_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/format.h"

void sn_report_write_final_probabilities(FILE *out, const sn_report_runs *runs)
{
    int any = 0;
    for (int r = 0; r < runs->count; r++)
        any |= sn_report_has_updates(runs->runs[r]);
    if (!any)
        return;
    fprintf(out, "## Learned probabilities at the end of training\n\n"
                 "The paper's reading of its Fig. 5: the method \"learns to sample more subnets "
                 "with large computational complexity\"; in ViT-tiny the 1.6–1.9 GFLOPs buckets "
                 "end with clearly higher probability than the 1.3 and 1.4 GFLOPs ones "
                 "(ShiftNAS, Sec. 4, Fig. 5). Here: each shift-type run's probabilities p_k after its "
                 "last update (log.h5 `/updates/probability`), bucket 0 the smallest MACs; the "
                 "upper half is the buckets k ≥ K/2 (uniform: 0.5). Plot: "
                 "final_probabilities.png.\n\n");
    int K = 0;
    for (int r = 0; r < runs->count && !K; r++)
        if (sn_report_has_updates(runs->runs[r]))
            K = runs->runs[r]->log.buckets;
    fprintf(out, "| arm | seed | updates |");
    for (int k = 0; k < K; k++)
        fprintf(out, " p%d |", k);
    fprintf(out, " upper half |\n|---|---:|---:|");
    for (int k = 0; k <= K; k++)
        fprintf(out, "---:|");
    fprintf(out, "\n");
    const char **arms = malloc(sizeof *arms * (size_t)runs->count);
    double *upper = malloc(sizeof *upper * (size_t)runs->count);
    int arm_count = arms && upper ? sn_report_sampling_arms(runs, arms) : 0;
    for (int a = 0; a < arm_count; a++) {
        int n = 0;
        for (int r = 0; r < runs->count; r++) {
            const sn_report_run *run = runs->runs[r];
            if (strcmp(run->label, arms[a]) != 0 || !sn_report_has_updates(run))
                continue;
            int buckets = run->log.buckets;
            const double *p = run->log.update_probability + (run->log.update_count - 1) * buckets;
            fprintf(out, "| %s | %lld | %lld |", run->label, (long long)run->seed,
                    (long long)run->log.update_count);
            double high = 0;
            for (int k = 0; k < buckets; k++) {
                if (buckets == K)
                    fprintf(out, " %.3f |", p[k]);
                if (2 * k >= buckets)
                    high += p[k];
            }
            for (int k = buckets == K ? K : 0; k < K; k++)
                fprintf(out, " — |"); /* another K than the first run's */
            fprintf(out, " %.3f |\n", high);
            upper[n++] = high;
        }
        if (n > 0) {
            sn_summary s = sn_summary_of(upper, n);
            char text[64];
            if (n > 1)
                snprintf(text, sizeof text, "%.3f ± %.3f", s.mean, s.std);
            else
                snprintf(text, sizeof text, "%.3f ± —", s.mean);
            fprintf(out, "| **%s: mean over seeds** | n = %d | |", arms[a], n);
            for (int k = 0; k < K; k++)
                fprintf(out, " |");
            fprintf(out, " %s |\n", text);
        }
    }
    fprintf(out, "\n");
    free(arms);
    free(upper);
}

/* A run's wall time and ranks: timing.txt's when the study script wrote it,
 * else metrics.csv's last time and the checkpoint's ranks. */
static double run_wall(const sn_report_run *run, int64_t *ranks, int *from_timing)
{
    *from_timing = isfinite(run->timing_wall_seconds);
    if (*from_timing) {
        *ranks = run->timing_ranks > 0 ? run->timing_ranks : run->ranks;
        return run->timing_wall_seconds;
    }
    *ranks = run->ranks;
    return run->train_seconds;
}

void sn_report_write_cost(FILE *out, const sn_report_runs *runs)
{
    fprintf(out, "## Training cost\n\nPer arm: the wall time of a run (mean ± sample standard "
                 "deviation over its runs, hours) and the core-hours of all its runs (wall time × "
                 "ranks, one core per rank). The wall time is timing.txt's `wall_seconds` (the "
                 "study script's: training's time summed over the run's sessions, plus the probe, "
                 "search and summary times) where present, else the seconds of metrics.csv's last "
                 "row (summed over sessions, but counted from the last start of a resumed run "
                 "in runs made before 2026-12-07); the ranks are timing.txt's, "
                 "else the last checkpoint's.\n\n"
                 "| arm | runs n | wall time per run (h) | core-hours (all runs) | from |\n"
                 "|---|---:|---:|---:|---|\n");
    const char **arms = malloc(sizeof *arms * (size_t)(runs->count + 1));
    double *walls = malloc(sizeof *walls * (size_t)(runs->count + 1));
    int arm_count = 0;
    for (int r = 0; arms && r < runs->count; r++) {
        int seen = 0;
        for (int a = 0; a < arm_count; a++)
            seen |= strcmp(arms[a], runs->runs[r]->label) == 0;
        if (!seen)
            arms[arm_count++] = runs->runs[r]->label; /* retrained included: it costs too */
    }
    for (int a = 0; walls && a < arm_count; a++) {
        int n = 0, timed = 0, unknown_ranks = 0;
        double core_hours = 0;
        for (int r = 0; r < runs->count; r++) {
            const sn_report_run *run = runs->runs[r];
            if (strcmp(run->label, arms[a]) != 0)
                continue;
            int64_t ranks = 0;
            int from_timing = 0;
            double wall = run_wall(run, &ranks, &from_timing);
            timed += from_timing;
            if (!isfinite(wall))
                continue;
            walls[n++] = wall / 3600.0;
            if (ranks > 0)
                core_hours += wall * (double)ranks / 3600.0;
            else
                unknown_ranks++;
        }
        sn_summary s = sn_summary_of(walls, n);
        char wall_text[64], cores[64];
        if (n > 1)
            snprintf(wall_text, sizeof wall_text, "%.3f ± %.3f", s.mean, s.std);
        else if (n == 1)
            snprintf(wall_text, sizeof wall_text, "%.3f ± —", s.mean);
        else
            snprintf(wall_text, sizeof wall_text, "—");
        if (unknown_ranks == n && n > 0)
            snprintf(cores, sizeof cores, "— (ranks unknown)");
        else if (unknown_ranks > 0)
            snprintf(cores, sizeof cores, "%.3f (%d run(s) without ranks left out)", core_hours,
                     unknown_ranks);
        else
            snprintf(cores, sizeof cores, "%.3f", core_hours);
        fprintf(out, "| %s | %d | %s | %s | %s |\n", arms[a], n, wall_text, cores,
                timed == n ? "timing.txt" : timed == 0 ? "metrics.csv" : "both");
    }
    fprintf(out, "\n");
    free(arms);
    free(walls);
}
