/* Finding the runs of a report and deciding which can be used: each run
 * directory is loaded whole (configuration, latest checkpoint or summary,
 * metrics.csv, log.h5, search.csv, probes.csv) or skipped with one line
 * saying why. */
#include "report_internal.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shiftnas/checkpoint.h"
#include "shiftnas/error.h"
#include "shiftnas/runfiles.h"
#include "shiftnas/sampler.h"
#include "shiftnas/settings.h"
#include "shiftnas/space.h"

void sn_report_arm_label(const sn_config *config, char *label, size_t size)
{
    const char *strategy = config->search_strategy;
    if (strcmp(strategy, "shift") == 0 && config->shift_frozen)
        /* beta never moves: the statistic it would follow does not matter */
        snprintf(label, size, "shift-frozen");
    else if (strcmp(strategy, "shift") == 0 && strcmp(config->shift_statistic, "variance") == 0)
        snprintf(label, size, "shift-variance");
    else if (strcmp(strategy, "fixed") == 0)
        snprintf(label, size, "retrained"); /* one subnet trained from scratch */
    else
        snprintf(label, size, "%s", strategy);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- checkpoint and metrics.csv ------------------------------------------ */

static int read_checkpoint(sn_report_run *run)
{
    char path[SN_REPORT_PATH_MAX + 64];
    int found = 0;
    if (sn_checkpoint_latest(run->dir, path, sizeof path, &found) != SN_OK)
        return sn_error_set(SN_ERR_FORMAT, "%s: unfinished (%s)", run->dir, sn_error_message());
    if (!found)
        return sn_error_set(SN_ERR_FORMAT, "%s: unfinished (no checkpoint)", run->dir);
    sn_checkpoint_reader *reader = NULL;
    if (sn_checkpoint_open(&reader, path) != SN_OK)
        return sn_error_set(SN_ERR_FORMAT, "%s: unfinished (%s)", run->dir, sn_error_message());
    int64_t complete = 0;
    int status = sn_checkpoint_read_int64(reader, "complete", &complete);
    if (status == SN_OK)
        status = sn_checkpoint_read_int64(reader, "step", &run->steps);
    if (status == SN_OK)
        status = sn_checkpoint_read_int64(reader, "total_steps", &run->total_steps);
    if (status == SN_OK)
        status = sn_checkpoint_read_int64(reader, "images", &run->images);
    /* the ranks of the session that wrote it (core-hours); optional */
    if (status == SN_OK && sn_checkpoint_read_int64(reader, "ranks", &run->ranks) != SN_OK) {
        run->ranks = 0;
        sn_error_clear();
    }
    sn_checkpoint_close(reader);
    if (status != SN_OK)
        return sn_error_set(SN_ERR_FORMAT, "%s: %s", run->dir, sn_error_message());
    if (complete != 1)
        return sn_error_set(SN_ERR_FORMAT, "%s: unfinished (step %lld of %lld)", run->dir,
                            (long long)run->steps, (long long)run->total_steps);
    return SN_OK;
}

/* ---- log.h5 ---------------------------------------------------------------- */

/* log.h5 read whole: its range first (the space's range may need it), the
 * aggregates once the range is known (load). */
static int read_log(sn_report_run *run, sn_run_log_data *log)
{
    char path[SN_REPORT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/log.h5", run->dir);
    if (!file_exists(path))
        return sn_error_set(SN_ERR_IO, "%s: missing", path);
    SN_TRY(sn_run_log_read(path, log));
    int status = SN_OK;
    if (log->buckets > SN_REPORT_BUCKETS_MAX)
        status = sn_error_set(SN_ERR_FORMAT, "%s: %d buckets, more than a report draws (%d)", path,
                              log->buckets, SN_REPORT_BUCKETS_MAX);
    else if (log->buckets == 0 && log->update_count > 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: probability updates without buckets", path);
    if (status == SN_OK) {
        run->log.buckets = log->buckets;
        for (int k = 0; k < log->buckets + (log->buckets > 0); k++)
            run->log.bucket_edges[k] = (double)log->bucket_edges[k];
        sn_report_log_range(&run->log, log);
    }
    return status;
}

/* ---- the space's MACs range --------------------------------------------- */

/* The run's buckets as `shiftnas probe` numbers them: the sampler's, from
 * [search] buckets or bucket_step over the space. */
static void space_buckets(sn_report_run *run, const sn_space *space)
{
    sn_buckets buckets;
    int status = run->config.search_bucket_step > 0
                     ? sn_buckets_from_step(&buckets, space, run->config.search_bucket_step)
                     : sn_buckets_equal_width(&buckets, space, (int)run->config.search_buckets);
    if (status != SN_OK || buckets.count > SN_REPORT_BUCKETS_MAX) {
        sn_error_clear();
        return;
    }
    run->space_buckets = buckets.count;
    for (int k = 0; k <= buckets.count; k++)
        run->space_bucket_edges[k] = (double)buckets.edge[k];
}

static void space_range(sn_report_run *run)
{
    /* Fashion-MNIST's shape is documented; an HDF5 set's is only known by
     * reading it, so then [space] must give it, or the log's range is used. */
    int channels = 0, size = 0, classes = 0;
    if (strcmp(run->config.dataset, "fashion-mnist") == 0)
        channels = 1, size = 28, classes = 10;
    sn_space space;
    if (sn_space_from_config(&space, &run->config, channels, size, classes) == SN_OK) {
        sn_arch arch;
        sn_arch_smallest(&space, &arch);
        run->space_low = (double)sn_space_cost(&space, &arch).macs;
        sn_arch_largest(&space, &arch);
        run->space_high = (double)sn_space_cost(&space, &arch).macs;
        space_buckets(run, &space);
        return;
    }
    sn_error_clear();
    run->space_low = run->log.macs_low;
    run->space_high = run->log.macs_high;
    if (run->log.buckets > 0) {
        run->space_low = fmin(run->space_low, run->log.bucket_edges[0]);
        run->space_high = fmax(run->space_high, run->log.bucket_edges[run->log.buckets]);
        run->space_buckets = run->log.buckets;
        memcpy(run->space_bucket_edges, run->log.bucket_edges,
               sizeof(double) * (size_t)(run->log.buckets + 1));
    }
    if (!(run->space_high > run->space_low)) {
        run->space_low = 0;
        run->space_high = 1;
    }
}

/* ---- one run ----------------------------------------------------------------- */

void sn_report_run_free(sn_report_run *run)
{
    sn_search_table_free(&run->search);
    sn_probe_rows_free(&run->probes);
    sn_report_log_free(&run->log);
    free(run->metrics);
    run->metrics = NULL;
    run->metric_count = 0;
}

/* "DIR: reason": the message of a failed step, with the directory first. */
static int skip_reason(const sn_report_run *run, int status)
{
    const char *message = sn_error_message();
    if (strncmp(message, run->dir, strlen(run->dir)) == 0)
        return status;
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", message);
    return sn_error_set(status, "%s: %s", run->dir, copy);
}

/* The run's finished state and log: from its checkpoint and log.h5, or
 * from a summary's text; the same fields either way. */
static int load_progress(sn_report_run *run)
{
    char path[SN_REPORT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/checkpoints", run->dir);
    struct stat st;
    int has_checkpoints = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if (!has_checkpoints && sn_report_is_summary(run->dir)) {
        run->summary = 1;
        int status = sn_report_read_summary(run);
        if (status == SN_OK)
            space_range(run);
        return status == SN_OK ? SN_OK : skip_reason(run, status);
    }
    SN_TRY(read_checkpoint(run));
    snprintf(path, sizeof path, "%s/model.h5", run->dir);
    if (!file_exists(path))
        return sn_error_set(SN_ERR_IO, "%s: no model.h5", run->dir);
    sn_run_log_data log;
    memset(&log, 0, sizeof log);
    int status = read_log(run, &log);
    if (status == SN_OK) {
        space_range(run);
        status = sn_report_log_from_data(run, &log);
    }
    sn_run_log_data_free(&log);
    return status == SN_OK ? SN_OK : skip_reason(run, status);
}

static int load(sn_report_run *run, int require_results)
{
    char path[SN_REPORT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.ini", run->dir);
    sn_config_defaults(&run->config);
    if (!file_exists(path))
        return sn_error_set(SN_ERR_IO, "%s: not a run directory (no config.ini)", run->dir);
    int status = sn_config_load_file(&run->config, path);
    if (status != SN_OK)
        return skip_reason(run, status);
    if (strcmp(run->config.model_type, "supernet") != 0)
        return sn_error_set(SN_ERR_CONFIG, "%s: [model] type = %s, not a supernet run", run->dir,
                            run->config.model_type);
    sn_report_arm_label(&run->config, run->label, sizeof run->label);
    run->seed = run->config.seed;
    run->timing_wall_seconds = NAN;
    SN_TRY(load_progress(run));
    if ((status = sn_report_read_metrics(run)) != SN_OK)
        return skip_reason(run, status);
    if ((status = sn_report_read_timing(run)) != SN_OK)
        return skip_reason(run, status);
    snprintf(path, sizeof path, "%s/search.csv", run->dir);
    run->has_search = file_exists(path);
    if (run->has_search && (status = sn_search_table_read(path, &run->search)) != SN_OK)
        return skip_reason(run, status);
    snprintf(path, sizeof path, "%s/probes.csv", run->dir);
    run->has_probes = file_exists(path);
    if (run->has_probes && (status = sn_probe_rows_read(path, &run->probes)) != SN_OK)
        return skip_reason(run, status);
    if (require_results && !run->has_search && !run->has_probes)
        return sn_error_set(SN_ERR_IO,
                            "%s: no search.csv (nor probes.csv): run `shiftnas search %s --targets "
                            "...` (or `shiftnas probe %s --probes FILE`) first",
                            run->dir, run->dir, run->dir);
    return SN_OK;
}

int sn_report_run_load_for(sn_report_run *run, const char *dir, int require_results)
{
    memset(run, 0, sizeof *run);
    size_t length = strlen(dir);
    while (length > 1 && dir[length - 1] == '/')
        length--; /* "runs/a/" and "runs/a" are one run */
    if (length >= sizeof run->dir)
        return sn_error_set(SN_ERR_ARGUMENT, "%.60s...: path too long", dir);
    memcpy(run->dir, dir, length);
    run->dir[length] = '\0';
    int status = load(run, require_results);
    if (status != SN_OK)
        sn_report_run_free(run);
    return status;
}

int sn_report_run_load(sn_report_run *run, const char *dir)
{
    return sn_report_run_load_for(run, dir, 1);
}

/* ---- the set of runs ----------------------------------------------------- */

void sn_report_runs_init(sn_report_runs *runs)
{
    memset(runs, 0, sizeof *runs);
}

void sn_report_runs_free(sn_report_runs *runs)
{
    for (int i = 0; i < runs->count; i++) {
        sn_report_run_free(runs->runs[i]);
        free(runs->runs[i]);
    }
    free(runs->runs);
    free(runs->skips);
    sn_report_runs_init(runs);
}

static int add_skip(sn_report_runs *runs, const char *dir, const char *reason)
{
    if (runs->skip_count == runs->skip_capacity) {
        int grown = runs->skip_capacity ? 2 * runs->skip_capacity : 8;
        sn_report_skip *skips = realloc(runs->skips, sizeof *skips * (size_t)grown);
        if (!skips)
            return sn_error_set(SN_ERR_NOMEM, "report: out of memory");
        runs->skips = skips;
        runs->skip_capacity = grown;
    }
    sn_report_skip *s = &runs->skips[runs->skip_count++];
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->reason, sizeof s->reason, "%s", reason);
    return SN_OK;
}

/* The first [space] key (or [data] dataset) in which b differs from a:
 * runs compared in one report must search one space on one data set. */
static int same_space(const sn_config *a, const sn_config *b, char *why, size_t size)
{
    int count = 0;
    const sn_config_key *keys = sn_config_keys(&count);
    for (int i = 0; i < count; i++) {
        const sn_config_key *key = &keys[i];
        if (strcmp(key->section, "space") != 0 &&
            !(strcmp(key->section, "data") == 0 && strcmp(key->name, "dataset") == 0))
            continue;
        char va[SN_CONFIG_TEXT_MAX + 64], vb[SN_CONFIG_TEXT_MAX + 64];
        if (sn_config_format_value(a, key, va, sizeof va) != SN_OK ||
            sn_config_format_value(b, key, vb, sizeof vb) != SN_OK)
            continue;
        if (strcmp(va, vb) != 0) {
            snprintf(why, size, "different %s: [%s] %s = %.200s, first run has %.200s",
                     strcmp(key->section, "space") == 0 ? "search space" : "data set",
                     key->section, key->name, vb, va);
            return 0;
        }
    }
    return 1;
}

/* The same arm: the same strategy label and the same β settings (the
 * labels of runs already added may carry a variant's suffix). */
static int same_arm(const sn_report_run *a, const sn_report_run *b)
{
    char label_a[SN_REPORT_LABEL_MAX], label_b[SN_REPORT_LABEL_MAX];
    sn_report_arm_label(&a->config, label_a, sizeof label_a);
    sn_report_arm_label(&b->config, label_b, sizeof label_b);
    return strcmp(label_a, label_b) == 0 && sn_report_same_variant(&a->config, &b->config);
}

int sn_report_runs_add(sn_report_runs *runs, const char *dir, int *skipped)
{
    *skipped = 0;
    sn_report_run *run = malloc(sizeof *run);
    if (!run)
        return sn_error_set(SN_ERR_NOMEM, "report: out of memory");
    char reason[1200] = "";
    if (sn_report_run_load(run, dir) != SN_OK) {
        snprintf(reason, sizeof reason, "%s", sn_error_message());
    } else if (runs->count > 0) {
        char why[900];
        if (!same_space(&runs->runs[0]->config, &run->config, why, sizeof why))
            snprintf(reason, sizeof reason, "%.500s: %.650s", run->dir, why);
        for (int i = 0; !reason[0] && i < runs->count; i++)
            /* A retrained arm holds one run per (seed, subnet): several
             * searched subnets of one seed are retrained. */
            if (same_arm(runs->runs[i], run) && runs->runs[i]->seed == run->seed &&
                strcmp(runs->runs[i]->config.search_subnet, run->config.search_subnet) == 0)
                snprintf(reason, sizeof reason, "%.500s: duplicate: %s already has seed %lld%s (%.500s)",
                         run->dir, runs->runs[i]->label, (long long)run->seed,
                         run->config.search_subnet[0] ? " and this subnet" : "", runs->runs[i]->dir);
        if (reason[0])
            sn_report_run_free(run);
    }
    if (reason[0]) {
        free(run);
        *skipped = 1;
        return add_skip(runs, dir, reason);
    }
    if (runs->count == runs->capacity) {
        int grown = runs->capacity ? 2 * runs->capacity : 8;
        sn_report_run **list = realloc(runs->runs, sizeof *list * (size_t)grown);
        if (!list) {
            sn_report_run_free(run);
            free(run);
            return sn_error_set(SN_ERR_NOMEM, "report: out of memory");
        }
        runs->runs = list;
        runs->capacity = grown;
    }
    runs->runs[runs->count++] = run;
    sn_report_label_variants(runs);
    sn_report_rebucket_probes(run, runs->runs[0]);
    return SN_OK;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int holds_config(const char *dir)
{
    char path[SN_REPORT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.ini", dir);
    return file_exists(path);
}

int sn_report_expand_argument(const char *dir, char ***dirs, int *count)
{
    *dirs = NULL;
    *count = 0;
    struct stat st;
    if (stat(dir, &st) != 0)
        return sn_error_set(SN_ERR_IO, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return sn_error_set(SN_ERR_IO, "%s: not a directory", dir);
    if (holds_config(dir)) {
        *dirs = malloc(sizeof **dirs);
        if (!*dirs || !((*dirs)[0] = strdup(dir))) {
            free(*dirs);
            *dirs = NULL;
            return sn_error_set(SN_ERR_NOMEM, "report: out of memory");
        }
        *count = 1;
        return SN_OK;
    }
    DIR *d = opendir(dir);
    if (!d)
        return sn_error_set(SN_ERR_IO, "%s: %s", dir, strerror(errno));
    int capacity = 0, status = SN_OK;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char path[SN_REPORT_PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, entry->d_name) >= (int)sizeof path)
            continue;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode) || !holds_config(path))
            continue;
        if (*count == capacity) {
            capacity = capacity ? 2 * capacity : 16;
            char **grown = realloc(*dirs, sizeof *grown * (size_t)capacity);
            if (!grown) {
                status = sn_error_set(SN_ERR_NOMEM, "report: out of memory");
                break;
            }
            *dirs = grown;
        }
        if (!((*dirs)[*count] = strdup(path))) {
            status = sn_error_set(SN_ERR_NOMEM, "report: out of memory");
            break;
        }
        (*count)++;
    }
    closedir(d);
    if (status == SN_OK && *count == 0)
        status = sn_error_set(SN_ERR_IO, "%s: holds no run (no config.ini in it or its "
                                         "subdirectories)", dir);
    if (status != SN_OK) {
        for (int i = 0; i < *count; i++)
            free((*dirs)[i]);
        free(*dirs);
        *dirs = NULL;
        *count = 0;
        return status;
    }
    qsort(*dirs, (size_t)*count, sizeof **dirs, compare_names);
    return SN_OK;
}
