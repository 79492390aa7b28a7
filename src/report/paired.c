/* The paired design: runs of two arms with the same seed share the split,
 * the initialisation and the data order, so arms are compared seed by seed
 * (the mean paired difference, its 95% t interval, the paired t test), per
 * MACs target (search.csv) and per bucket of the probe panel (probes.csv);
 * and the primary endpoint, fixed before the study's runs. */
#include "report_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/format.h"

/* ---- comparisons ------------------------------------------------------------ */

/* An arm name as labels are made: letters, digits, '-', '_' and '.'
 * (report.md prints it as it is). */
static int is_arm_name(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

int sn_report_parse_comparison(const char *text, sn_report_comparison *comparison)
{
    char shown[256];
    const char *comma = strchr(text, ',');
    size_t first = comma ? (size_t)(comma - text) : 0;
    if (!comma || strchr(comma + 1, ',') || first == 0 || !comma[1] ||
        first >= sizeof comparison->a || strlen(comma + 1) >= sizeof comparison->b ||
        !is_arm_name(text, first) || !is_arm_name(comma + 1, strlen(comma + 1)))
        return sn_error_set(SN_ERR_ARGUMENT, "--compare '%s': expected two arms A,B (e.g. "
                                             "shift,shift-frozen)",
                            sn_format_user_text(shown, sizeof shown, text, 60));
    memcpy(comparison->a, text, first);
    comparison->a[first] = '\0';
    snprintf(comparison->b, sizeof comparison->b, "%s", comma + 1);
    if (strcmp(comparison->a, comparison->b) == 0)
        return sn_error_set(SN_ERR_ARGUMENT, "--compare '%s': an arm against itself",
                            sn_format_user_text(shown, sizeof shown, text, 60));
    return SN_OK;
}

static int has_arm(const sn_report_runs *runs, const char *arm)
{
    for (int r = 0; r < runs->count; r++)
        if (strcmp(runs->runs[r]->label, arm) == 0)
            return 1;
    return 0;
}

int sn_report_default_comparisons(const sn_report_runs *runs, sn_report_comparison **list,
                                  int *count)
{
    *list = NULL;
    *count = 0;
    /* shift alone with its variants (a sensitivity study): each against it */
    const char *reference = has_arm(runs, "shift-frozen") ? "shift-frozen"
                            : has_arm(runs, "uniform")    ? "uniform"
                            : has_arm(runs, "shift")      ? "shift"
                                                          : NULL;
    if (!reference)
        return SN_OK;
    const char **arms = malloc(sizeof *arms * (size_t)(runs->count + 1));
    *list = malloc(sizeof **list * (size_t)(runs->count + 1));
    if (!arms || !*list) {
        free(arms);
        free(*list);
        *list = NULL;
        return sn_error_set(SN_ERR_NOMEM, "report: out of memory");
    }
    int arm_count = sn_report_sampling_arms(runs, arms);
    /* shift first: its comparison with the control is the study's question */
    if (has_arm(runs, "shift") && strcmp(reference, "shift") != 0) {
        snprintf((*list)[*count].a, sizeof (*list)[*count].a, "shift");
        snprintf((*list)[*count].b, sizeof (*list)[*count].b, "%s", reference);
        (*count)++;
    }
    for (int a = 0; a < arm_count; a++) {
        if (strcmp(arms[a], reference) == 0 || strcmp(arms[a], "shift") == 0)
            continue;
        snprintf((*list)[*count].a, sizeof (*list)[*count].a, "%s", arms[a]);
        snprintf((*list)[*count].b, sizeof (*list)[*count].b, "%s", reference);
        (*count)++;
    }
    free(arms);
    if (*count == 0) {
        free(*list);
        *list = NULL;
    }
    return SN_OK;
}

/* ---- pairs ----------------------------------------------------------------- */

const sn_report_run *sn_report_find_run(const sn_report_runs *runs, const char *arm, int64_t seed)
{
    for (int r = 0; r < runs->count; r++)
        if (strcmp(runs->runs[r]->label, arm) == 0 && runs->runs[r]->seed == seed)
            return runs->runs[r];
    return NULL;
}

static const sn_probe_row *find_probe(const sn_report_run *run, const char *arch)
{
    for (int i = 0; i < run->probes.count; i++)
        if (strcmp(run->probes.rows[i].subnet, arch) == 0)
            return &run->probes.rows[i];
    return NULL;
}

double sn_report_probe_mean(const sn_report_run *run, const sn_report_run *other, int low, int high,
                            int *count)
{
    double sum = 0;
    *count = 0;
    for (int i = 0; i < run->probes.count; i++) {
        const sn_probe_row *row = &run->probes.rows[i];
        if (row->bucket < low || row->bucket > high || (other && !find_probe(other, row->subnet)))
            continue;
        sum += 100.0 * row->test_accuracy;
        (*count)++;
    }
    return *count > 0 ? sum / *count : NAN;
}

int sn_report_probe_buckets(const sn_report_runs *runs, const double **edges)
{
    for (int r = 0; r < runs->count; r++)
        if (runs->runs[r]->space_buckets > 0) {
            if (edges)
                *edges = runs->runs[r]->space_bucket_edges;
            return runs->runs[r]->space_buckets;
        }
    if (edges)
        *edges = NULL;
    return 0;
}

sn_paired_summary sn_report_paired_probes(const sn_report_runs *runs, const char *a, const char *b,
                                          int bucket_low, int bucket_high, int64_t *seeds)
{
    double *values = malloc(sizeof *values * 2 * (size_t)(runs->count + 1));
    if (!values)
        return sn_paired_summary_of(NULL, NULL, 0);
    double *other = values + runs->count + 1;
    int n = 0;
    for (int r = 0; r < runs->count; r++) {
        const sn_report_run *ra = runs->runs[r];
        if (strcmp(ra->label, a) != 0)
            continue;
        const sn_report_run *rb = sn_report_find_run(runs, b, ra->seed);
        if (!rb)
            continue;
        int count_a = 0, count_b = 0;
        double mean_a = sn_report_probe_mean(ra, rb, bucket_low, bucket_high, &count_a);
        double mean_b = sn_report_probe_mean(rb, ra, bucket_low, bucket_high, &count_b);
        if (count_a == 0 || count_b == 0)
            continue;
        if (seeds)
            seeds[n] = ra->seed;
        values[n] = mean_a;
        other[n++] = mean_b;
    }
    sn_paired_summary s = sn_paired_summary_of(values, other, n);
    free(values);
    return s;
}

/* ---- text ---------------------------------------------------------------- */

static void format_p(char *text, size_t size, double p)
{
    if (!isfinite(p))
        snprintf(text, size, "—");
    else if (p < 0.001)
        snprintf(text, size, "< 0.001");
    else
        snprintf(text, size, "%.3f", p);
}

static void format_interval(char *text, size_t size, sn_paired_summary s)
{
    if (s.n < 2 || !isfinite(s.ci_low))
        snprintf(text, size, "— (n = %d)", s.n);
    else
        snprintf(text, size, "[%+.2f, %+.2f]", s.ci_low, s.ci_high);
}

/* "seeds 1, 2, 3" into text (at most size). */
static void format_seeds(char *text, size_t size, const int64_t *seeds, int n)
{
    size_t used = 0;
    text[0] = '\0';
    for (int i = 0; i < n && used + 24 < size; i++)
        used += (size_t)snprintf(text + used, size - used, "%s%lld", i ? ", " : "",
                                 (long long)seeds[i]);
    if (n == 0)
        snprintf(text, size, "none");
}

/* The seeds of arm that have probes.csv (or any run when probes = 0). */
static int arm_seeds(const sn_report_runs *runs, const char *arm, int probes, int64_t *seeds)
{
    int n = 0;
    for (int r = 0; r < runs->count; r++)
        if (strcmp(runs->runs[r]->label, arm) == 0 && (!probes || runs->runs[r]->has_probes))
            seeds[n++] = runs->runs[r]->seed;
    return n;
}

/* Seeds of a without a run of b ("shift seed 6 has no shift-frozen run");
 * returns how many lines. */
static int write_unpaired(FILE *out, const sn_report_runs *runs, const char *a, const char *b)
{
    int lines = 0;
    for (int side = 0; side < 2; side++) {
        const char *self = side ? b : a, *partner = side ? a : b;
        for (int r = 0; r < runs->count; r++) {
            const sn_report_run *run = runs->runs[r];
            if (strcmp(run->label, self) == 0 && !sn_report_find_run(runs, partner, run->seed))
                lines += fprintf(out, "- unpaired: %s seed %lld has no %s run (left out)\n", self,
                                 (long long)run->seed, partner) > 0;
        }
    }
    return lines;
}

static void bucket_range(char *text, size_t size, const double *edges, int low, int high)
{
    if (edges)
        snprintf(text, size, "%.3f–%.3f", edges[low] / 1e6, edges[high + 1] / 1e6);
    else
        snprintf(text, size, "—");
}

void sn_report_primary_endpoint(const sn_report_runs *runs, sn_report_endpoint *endpoint)
{
    memset(endpoint, 0, sizeof *endpoint);
    endpoint->difference = sn_paired_summary_of(NULL, NULL, 0);
    int has_shift = has_arm(runs, "shift"), has_frozen = has_arm(runs, "shift-frozen");
    if (!has_shift || !has_frozen) {
        snprintf(endpoint->why, sizeof endpoint->why, "%s",
                 !has_shift && !has_frozen
                     ? "no shift runs and no shift-frozen runs"
                 : !has_shift ? "no shift runs"
                              : "no shift-frozen runs (the control arm: [search] strategy = shift, "
                                "shift_frozen = true)");
        return;
    }
    endpoint->buckets = sn_report_probe_buckets(runs, NULL);
    if (endpoint->buckets < 2) {
        snprintf(endpoint->why, sizeof endpoint->why, "the runs' buckets are unknown or fewer "
                                                      "than two");
        return;
    }
    endpoint->bucket_low = endpoint->buckets - 2;
    endpoint->bucket_high = endpoint->buckets - 1;
    int64_t *seeds = malloc(sizeof *seeds * 3 * (size_t)(runs->count + 1));
    if (!seeds) {
        snprintf(endpoint->why, sizeof endpoint->why, "out of memory");
        return;
    }
    endpoint->difference = sn_report_paired_probes(runs, "shift", "shift-frozen",
                                                   endpoint->bucket_low, endpoint->bucket_high,
                                                   seeds);
    int n = endpoint->difference.n;
    if (n >= 2) {
        endpoint->computable = 1;
    } else {
        char a[200], b[200], pairs[200];
        int64_t *shift_seeds = seeds + runs->count + 1, *frozen_seeds = shift_seeds + runs->count + 1;
        format_seeds(a, sizeof a, shift_seeds, arm_seeds(runs, "shift", 1, shift_seeds));
        format_seeds(b, sizeof b, frozen_seeds, arm_seeds(runs, "shift-frozen", 1, frozen_seeds));
        format_seeds(pairs, sizeof pairs, seeds, n);
        if (n == 0)
            snprintf(endpoint->why, sizeof endpoint->why,
                     "no seed has both a shift and a shift-frozen run with probes in the top two "
                     "buckets (shift runs with probes.csv: seeds %s; shift-frozen runs with "
                     "probes.csv: seeds %s)",
                     a, b);
        else
            snprintf(endpoint->why, sizeof endpoint->why,
                     "only one seed pair (seed %s) has probes in the top two buckets, and a "
                     "confidence interval and a test need two (shift runs with probes.csv: seeds "
                     "%s; shift-frozen runs with probes.csv: seeds %s)",
                     pairs, a, b);
    }
    free(seeds);
}

void sn_report_write_endpoint(FILE *out, const sn_report_runs *runs)
{
    sn_report_endpoint e;
    sn_report_primary_endpoint(runs, &e);
    fprintf(out, "## Primary endpoint\n\nFixed before the runs: the paired shift − shift-frozen "
                 "difference of the mean probe test accuracy over the top two buckets (probes.csv, "
                 "inherited weights; each pair is one seed, over the probes both runs "
                 "evaluated), with its 95%% confidence interval (t, n − 1 degrees of freedom) "
                 "and the paired t test's two-sided p.\n\n");
    if (!e.computable) {
        fprintf(out, "**Cannot be computed:** %s.\n\n", e.why);
        if (e.difference.n == 1)
            fprintf(out, "The one pair's difference: %+.2f points (n = 1).\n\n", e.difference.mean);
        if (has_arm(runs, "shift") && has_arm(runs, "shift-frozen") &&
            write_unpaired(out, runs, "shift", "shift-frozen"))
            fprintf(out, "\n");
        return;
    }
    const double *edges = NULL;
    sn_report_probe_buckets(runs, &edges);
    char range[64], ci[64], p[32];
    bucket_range(range, sizeof range, edges, e.bucket_low, e.bucket_high);
    format_interval(ci, sizeof ci, e.difference);
    format_p(p, sizeof p, e.difference.p);
    fprintf(out, "**shift − shift-frozen, buckets %d–%d of %d (%s M MACs): %+.2f points, 95%% CI "
                 "%s, paired t = %.2f, df = %d, p = %s; n = %d seed pairs.**\n\n",
            e.bucket_low, e.bucket_high, e.buckets, range, e.difference.mean, ci, e.difference.t,
            e.difference.n - 1, p, e.difference.n);
    if (write_unpaired(out, runs, "shift", "shift-frozen"))
        fprintf(out, "\n");
}

/* ---- the comparisons' tables ------------------------------------------------ */

/* The paired differences of comparison c at (method, target): n pairs. */
static sn_paired_summary paired_target(const sn_report_runs *runs, const sn_report_comparison *c,
                                       const char *method, double target, double *a, double *b)
{
    int n = 0;
    for (int r = 0; r < runs->count; r++) {
        const sn_report_run *ra = runs->runs[r];
        if (strcmp(ra->label, c->a) != 0)
            continue;
        const sn_report_run *rb = sn_report_find_run(runs, c->b, ra->seed);
        const sn_search_row *x = sn_search_table_find(&ra->search, method, target);
        const sn_search_row *y = rb ? sn_search_table_find(&rb->search, method, target) : NULL;
        if (!x || !y)
            continue;
        a[n] = 100.0 * x->test_accuracy;
        b[n++] = 100.0 * y->test_accuracy;
    }
    return sn_paired_summary_of(a, b, n);
}

static void write_difference_cells(FILE *out, sn_paired_summary s)
{
    char ci[64], p[32];
    format_interval(ci, sizeof ci, s);
    format_p(p, sizeof p, s.p);
    fprintf(out, "%d | %+.2f | %s | %s |\n", s.n, s.mean, ci, p);
}

static void write_target_differences(FILE *out, const sn_report_runs *runs,
                                     const sn_report_comparison *c, const double *targets,
                                     int target_count, double *a, double *b)
{
    static const char *const methods[2] = {"evolution", "generator"};
    int rows = 0;
    for (int t = 0; t < target_count; t++)
        for (int m = 0; m < 2; m++) {
            sn_paired_summary s = paired_target(runs, c, methods[m], targets[t], a, b);
            if (s.n == 0)
                continue;
            if (!rows++)
                fprintf(out, "Per MACs target (search.csv: the searched subnet's test accuracy, "
                             "inherited weights; difference in points):\n\n"
                             "| target | method | n pairs | mean difference | 95%% CI | p |\n"
                             "|---:|---|---:|---:|---|---:|\n");
            char text[32];
            sn_format_macs(text, sizeof text, targets[t]);
            fprintf(out, "| %s | %s | ", text, methods[m]);
            write_difference_cells(out, s);
        }
    if (rows)
        fprintf(out, "\n");
    else
        fprintf(out, "Per MACs target: no seed has search.csv rows of both arms at a common "
                     "target and method.\n\n");
}

static void write_bucket_differences(FILE *out, const sn_report_runs *runs,
                                     const sn_report_comparison *c)
{
    const double *edges = NULL;
    int K = sn_report_probe_buckets(runs, &edges), rows = 0;
    for (int k = 0; k < K; k++) {
        sn_paired_summary s = sn_report_paired_probes(runs, c->a, c->b, k, k, NULL);
        if (s.n == 0)
            continue;
        if (!rows++)
            fprintf(out, "Per bucket (probes.csv: each run's mean test accuracy over the "
                         "bucket's probes, inherited weights; difference in points):\n\n"
                         "| bucket | MACs (M) | n pairs | mean difference | 95%% CI | p |\n"
                         "|---:|---|---:|---:|---|---:|\n");
        char range[64];
        bucket_range(range, sizeof range, edges, k, k);
        fprintf(out, "| %d | %s | ", k, range);
        write_difference_cells(out, s);
    }
    if (rows)
        fprintf(out, "\n");
    else
        fprintf(out, "Per bucket: no seed has probes.csv in both arms.\n\n");
}

int sn_report_write_comparisons(FILE *out, const sn_report_runs *runs,
                                const sn_report_options *options, const double *targets,
                                int target_count)
{
    sn_report_comparison *defaults = NULL;
    const sn_report_comparison *list = options->comparisons;
    int count = options->comparison_count;
    if (count == 0) {
        SN_TRY(sn_report_default_comparisons(runs, &defaults, &count));
        list = defaults;
    }
    double *values = malloc(sizeof *values * 2 * (size_t)(runs->count + 1));
    if (!values) {
        free(defaults);
        return sn_error_set(SN_ERR_NOMEM, "report: out of memory");
    }
    fprintf(out, "## Paired comparisons\n\nRuns of two arms with the same seed are a pair (they "
                 "share the split, the initialisation and the data order). Each table gives the "
                 "mean of the per-seed differences (first arm − second), its 95%% confidence "
                 "interval (t with n − 1 degrees of freedom; none for n = 1) and the two-sided p "
                 "of the paired t test, for n seed pairs. The p values are not adjusted for the "
                 "number of comparisons: only the primary endpoint was fixed before the runs.\n\n");
    if (count == 0)
        fprintf(out, "No comparison: no shift-frozen, uniform or shift arm to compare against (name "
                     "pairs with `--compare A,B`).\n\n");
    for (int i = 0; i < count; i++) {
        const sn_report_comparison *c = &list[i];
        fprintf(out, "### %s − %s\n\n", c->a, c->b);
        if (!has_arm(runs, c->a) || !has_arm(runs, c->b)) {
            fprintf(out, "Cannot be computed: no %s runs among the runs used.\n\n",
                    has_arm(runs, c->a) ? c->b : c->a);
            continue;
        }
        int64_t *seeds = (int64_t *)malloc(sizeof *seeds * (size_t)(runs->count + 1));
        int n = 0;
        for (int r = 0; seeds && r < runs->count; r++)
            if (strcmp(runs->runs[r]->label, c->a) == 0 &&
                sn_report_find_run(runs, c->b, runs->runs[r]->seed))
                seeds[n++] = runs->runs[r]->seed;
        char text[256] = "none";
        if (seeds)
            format_seeds(text, sizeof text, seeds, n);
        free(seeds);
        fprintf(out, "Seeds with a run of both arms: %s (%d).\n", text, n);
        write_unpaired(out, runs, c->a, c->b);
        fprintf(out, "\n");
        write_target_differences(out, runs, c, targets, target_count, values,
                                 values + runs->count + 1);
        write_bucket_differences(out, runs, c);
    }
    free(values);
    free(defaults);
    return SN_OK;
}

/* ---- arm means of the probe panel ------------------------------------------ */

int sn_report_write_probe_means(FILE *out, const sn_report_runs *runs)
{
    int any = 0;
    for (int r = 0; r < runs->count; r++)
        any |= runs->runs[r]->has_probes && strcmp(runs->runs[r]->label, "retrained") != 0;
    if (!any)
        return SN_OK;
    const char **arms = malloc(sizeof *arms * (size_t)runs->count);
    double *values = malloc(sizeof *values * (size_t)runs->count);
    if (!arms || !values) {
        free(arms);
        free(values);
        return sn_error_set(SN_ERR_NOMEM, "report: out of memory");
    }
    int arm_count = sn_report_sampling_arms(runs, arms);
    const double *edges = NULL;
    int K = sn_report_probe_buckets(runs, &edges);
    fprintf(out, "## Probe panel (inherited weights)\n\nPer arm and bucket: the mean over seeds "
                 "of each run's mean probe test accuracy in the bucket (%%), ± the sample "
                 "standard deviation over seeds, and n seeds (buckets without probes left "
                 "out). The last row is the primary endpoint's quantity (the top two "
                 "buckets).\n\n| bucket | MACs (M) |");
    for (int a = 0; a < arm_count; a++)
        fprintf(out, " %s |", arms[a]);
    fprintf(out, "\n|---:|---|");
    for (int a = 0; a < arm_count; a++)
        fprintf(out, "---:|");
    fprintf(out, "\n");
    for (int k = 0; k <= K; k++) {
        /* k = K: the top two buckets together */
        int low = k < K ? k : K - 2, high = k < K ? k : K - 1;
        if (low < 0)
            continue;
        /* a bucket without probes in any run: no row */
        int probed = 0, count = 0;
        for (int r = 0; r < runs->count && !probed; r++)
            if (strcmp(runs->runs[r]->label, "retrained") != 0) {
                sn_report_probe_mean(runs->runs[r], NULL, low, high, &count);
                probed = count > 0;
            }
        if (!probed)
            continue;
        char range[64];
        bucket_range(range, sizeof range, edges, low, high);
        if (k < K)
            fprintf(out, "| %d | %s |", k, range);
        else
            fprintf(out, "| top two (%d–%d) | %s |", low, high, range);
        for (int a = 0; a < arm_count; a++) {
            int n = 0;
            for (int r = 0; r < runs->count; r++) {
                const sn_report_run *run = runs->runs[r];
                if (strcmp(run->label, arms[a]) != 0 || !run->has_probes)
                    continue;
                double mean = sn_report_probe_mean(run, NULL, low, high, &count);
                if (count > 0)
                    values[n++] = mean;
            }
            char text[64];
            sn_report_format_summary(text, sizeof text, sn_summary_of(values, n));
            fprintf(out, " %s (n = %d) |", text, n);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "\n");
    free(arms);
    free(values);
    return SN_OK;
}
