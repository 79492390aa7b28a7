/* Runs of one strategy that differ in β's settings are different arms.
 *
 * The arm comes from config.ini (runs.c): `shift`, `shift-frozen`, ... A
 * sensitivity study trains `shift` with another learning rate of β, update
 * interval, K or estimator, all with the same seed; named only `shift`,
 * they would be duplicates of one another. So a shift-type run whose value
 * of one of those keys differs from the value most of the report's
 * shift-type runs have gets a suffix per key: shift-lr0.001,
 * shift-interval50, shift-k4, shift-target-input (the study script's
 * directory names). A report of one setting has no suffixes.
 *
 * A K other than the first run's numbers the probes differently: such a
 * run's probes are placed in the first run's buckets by their MACs, so
 * that per-bucket comparisons compare the same MACs ranges. */
#include "report_internal.h"

#include <string.h>

enum { KEY_ESTIMATOR, KEY_LEARNING_RATE, KEY_INTERVAL, KEY_BUCKETS, KEY_COUNT };

static int shift_type(const sn_config *config)
{
    return strcmp(config->search_strategy, "shift") == 0;
}

/* The key's value as text (the suffix's), "" where it does not apply: β's
 * learning rate does nothing when β is frozen. */
static void key_value(const sn_config *config, int key, char *text, size_t size)
{
    text[0] = '\0';
    if (key == KEY_ESTIMATOR)
        snprintf(text, size, "%.40s", config->shift_estimator); /* a choice: short */
    else if (key == KEY_LEARNING_RATE && !config->shift_frozen)
        snprintf(text, size, "lr%g", config->shift_learning_rate);
    else if (key == KEY_INTERVAL)
        snprintf(text, size, "interval%lld", (long long)config->shift_interval);
    else if (key == KEY_BUCKETS)
        snprintf(text, size, config->search_bucket_step > 0 ? "step%lld" : "k%lld",
                 (long long)(config->search_bucket_step > 0 ? config->search_bucket_step
                                                            : config->search_buckets));
}

int sn_report_same_variant(const sn_config *a, const sn_config *b)
{
    if (!shift_type(a) || !shift_type(b))
        return 1;
    for (int key = 0; key < KEY_COUNT; key++) {
        char x[64], y[64];
        key_value(a, key, x, sizeof x);
        key_value(b, key, y, sizeof y);
        if (strcmp(x, y) != 0)
            return 0;
    }
    return 1;
}

/* The value most shift-type runs that use the key have (the earliest of a
 * tie), into mode. */
static void common_value(const sn_report_runs *runs, int key, char *mode, size_t size)
{
    int best = 0;
    mode[0] = '\0';
    for (int r = 0; r < runs->count; r++) {
        char value[64], other[64];
        if (!shift_type(&runs->runs[r]->config))
            continue;
        key_value(&runs->runs[r]->config, key, value, sizeof value);
        if (!value[0])
            continue; /* the key does not apply to this run (β's rate when frozen) */
        int n = 0;
        for (int s = 0; s < runs->count; s++) {
            if (!shift_type(&runs->runs[s]->config))
                continue;
            key_value(&runs->runs[s]->config, key, other, sizeof other);
            n += strcmp(value, other) == 0;
        }
        if (n > best) {
            best = n;
            snprintf(mode, size, "%s", value);
        }
    }
}

void sn_report_label_variants(sn_report_runs *runs)
{
    char modes[KEY_COUNT][64];
    for (int key = 0; key < KEY_COUNT; key++)
        common_value(runs, key, modes[key], sizeof modes[key]);
    for (int r = 0; r < runs->count; r++) {
        sn_report_run *run = runs->runs[r];
        sn_report_arm_label(&run->config, run->label, sizeof run->label);
        if (!shift_type(&run->config))
            continue;
        for (int key = 0; key < KEY_COUNT; key++) {
            char value[64];
            key_value(&run->config, key, value, sizeof value);
            size_t used = strlen(run->label);
            if (value[0] && strcmp(value, modes[key]) != 0 && used + 1 < sizeof run->label)
                snprintf(run->label + used, sizeof run->label - used, "-%.40s", value);
        }
    }
}

/* k with edges[k] <= macs < edges[k + 1] (the last bucket closed), -1 outside. */
static int bucket_of(double macs, const double *edges, int K)
{
    if (!(macs >= edges[0]) || macs > edges[K])
        return -1;
    for (int k = K - 1; k >= 0; k--)
        if (macs >= edges[k])
            return k;
    return -1;
}

void sn_report_rebucket_probes(sn_report_run *run, const sn_report_run *first)
{
    int K = first->space_buckets;
    if (K <= 0 || (run->space_buckets == K &&
                   memcmp(run->space_bucket_edges, first->space_bucket_edges,
                          sizeof(double) * (size_t)(K + 1)) == 0))
        return;
    for (int i = 0; i < run->probes.count; i++)
        run->probes.rows[i].bucket =
            bucket_of((double)run->probes.rows[i].macs, first->space_bucket_edges, K);
}
