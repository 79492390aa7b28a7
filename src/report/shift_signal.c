/* How much of β's statistic is signal. β takes one Adam step per update,
 * driven by that update's per-bucket statistic (the validation-loss change
 * δ_k, the training-loss variance, or the target-input gradient). When the
 * statistic's spread from update to update is many times the differences
 * between the buckets' means over the run, each step's direction is mostly
 * noise, and seeds will disagree on where β ends. Per shift-type run: the
 * bucket means, the spread between them (signal), the spread from update
 * to update (noise), and noise / signal. */
#include "report_internal.h"

#include <math.h>
#include <string.h>

/* What the run's log column `statistic` holds. */
static const char *statistic_name(const sn_report_run *run)
{
    if (strcmp(run->config.shift_estimator, "target-input") == 0)
        return "dL/dβ (target input)";
    if (strcmp(run->config.shift_statistic, "variance") == 0)
        return "training-loss variance";
    return "validation-loss change δ";
}

typedef struct {
    int updates;                 /* updates used */
    double low, high;            /* the smallest and largest bucket mean */
    double between;              /* sample sd of the K bucket means */
    double within;               /* pooled sd over updates within a bucket, centered */
} shift_signal;

/* The first update of the loss-change statistic has no earlier loss: its
 * row is all zeros and says nothing. */
static int first_informative_update(const sn_report_log *log)
{
    for (int k = 0; k < log->buckets; k++)
        if (log->update_statistic[k] != 0)
            return 0;
    return 1;
}

/* Update u's statistic of bucket k less the update's mean over buckets:
 * the probabilities are a softmax of β, which ignores what every bucket
 * shares (most of an update's noise moves all buckets together). */
static double centered(const sn_report_log *log, int64_t u, int k)
{
    int K = log->buckets;
    double mean = 0;
    for (int j = 0; j < K; j++)
        mean += log->update_statistic[u * K + j];
    return log->update_statistic[u * K + k] - mean / K;
}

/* 0 when fewer than 2 updates carry a statistic. */
static int signal_of(const sn_report_log *log, shift_signal *s)
{
    int K = log->buckets, first = first_informative_update(log);
    int n = (int)log->update_count - first;
    if (n < 2 || K < 2 || K > SN_REPORT_BUCKETS_MAX)
        return 0;
    double means[SN_REPORT_BUCKETS_MAX], pooled = 0;
    s->updates = n;
    s->low = INFINITY;
    s->high = -INFINITY;
    for (int k = 0; k < K; k++) {
        double sum = 0, squares = 0, raw = 0;
        for (int u = 0; u < n; u++) {
            sum += centered(log, u + first, k);
            raw += log->update_statistic[(int64_t)(u + first) * K + k];
        }
        means[k] = sum / n;
        for (int u = 0; u < n; u++) {
            double d = centered(log, u + first, k) - means[k];
            squares += d * d;
        }
        pooled += squares / (n - 1); /* the bucket's sample variance */
        s->low = fmin(s->low, raw / n);
        s->high = fmax(s->high, raw / n);
    }
    s->between = sn_summary_of(means, K).std;
    s->within = sqrt(pooled / K);
    return 1;
}

static void write_signal_row(FILE *out, const sn_report_run *run, const shift_signal *s)
{
    fprintf(out, "| %s | %lld | %s | %d | %+.4f … %+.4f | %.4f | %.4f | %.1f |\n", run->label,
            (long long)run->seed, statistic_name(run), s->updates, s->low, s->high, s->between,
            s->within, s->between > 0 ? s->within / s->between : INFINITY);
}

void sn_report_write_shift_signal(FILE *out, const sn_report_runs *runs)
{
    int any = 0;
    shift_signal s;
    for (int r = 0; r < runs->count && !any; r++)
        any = sn_report_has_updates(runs->runs[r]) && signal_of(&runs->runs[r]->log, &s);
    if (!any)
        return;
    fprintf(out,
            "## Signal and noise in β's statistic\n\n"
            "β takes one Adam step per update, driven by that update's per-bucket statistic "
            "(log.h5 `/updates/statistic`; the frozen arm computes it too but never steps). p is "
            "a softmax of β, which ignores what all buckets share, so each update's statistics "
            "are taken less their mean over the buckets. Per run: the range of the buckets' "
            "mean statistic over its updates (the first loss-change update, all zeros, left "
            "out); **signal**, the sample standard deviation between the K centered means; "
            "**noise**, the pooled standard deviation of the centered statistic from update to "
            "update within a bucket; and noise / signal. Adam's momentum (0.9) averages about "
            "10 updates, which divides the noise by about 4 if the updates were independent: a "
            "ratio well above 4 means each step of β mostly follows noise, and seeds will "
            "disagree on where β ends. (δ_k's mean over a run is the bucket's net loss drop "
            "divided by the updates: consecutive δ's noise cancels in it, not in the steps.)\n\n"
            "| arm | seed | statistic | updates | bucket means | signal (between buckets) "
            "| noise (per update) | noise / signal |\n|---|---:|---|---:|---|---:|---:|---:|\n");
    for (int r = 0; r < runs->count; r++) {
        const sn_report_run *run = runs->runs[r];
        if (sn_report_has_updates(run) && signal_of(&run->log, &s))
            write_signal_row(out, run, &s);
    }
    fprintf(out, "\n");
}
