/* shiftnas inspect CHECKPOINT|RUN_DIR [--datasets] [--no-config] [--json]
 *
 * What a checkpoint holds and whether it can be resumed from: the header
 * check (size, CRC-32), the run's position, strategy and probabilities, the
 * sizes of its parts, and the stored configuration. Given a run directory,
 * it lists the run's checkpoints and inspects the one `latest` names. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "json_writer.h"
#include "option_values.h"
#include "shiftnas/checkpoint.h"
#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/runfiles.h"
#include "shiftnas/sampler.h"

static const char inspect_usage[] =
    "usage: shiftnas inspect CHECKPOINT.h5|RUN_DIR [--datasets] [--no-config] [--json]\n"
    "\n"
    "Says whether a checkpoint is complete and readable, and what it holds: step,\n"
    "strategy, sampling probabilities, sizes and the stored configuration. Given a run\n"
    "directory: its checkpoints (each verified) and the one checkpoints/latest names.\n"
    "Given a run's model.h5 (a trained model, not a checkpoint): its step, model,\n"
    "strategy, sizes and configuration.\n"
    "\n"
    "  --datasets   list every dataset with its type and shape\n"
    "  --no-config  leave out the configuration text\n"
    "  --json       one JSON object instead of the text: {run, checkpoints [{name, bytes,\n"
    "               ok, error}], latest} for a run directory, and checkpoint {file, usable,\n"
    "               error, bytes, dataset_count, format, ..., step, ..., probabilities, beta,\n"
    "               shift_frozen, sizes [{group, arrays, values, bytes}], datasets, config}\n"
    "\n"
    "Probability updates are counted as training counts them (a row of log.h5 each).\n"
    "Exit status: 0 readable, 1 missing or damaged (the reason on stderr), 2 usage.\n";

/* Per top-level group: arrays, values, bytes. */
enum { GROUPS_MAX = 32 };
typedef struct {
    int count;
    char name[GROUPS_MAX][64];
    int64_t arrays[GROUPS_MAX], values[GROUPS_MAX], bytes[GROUPS_MAX];
    int list_datasets;
    int64_t datasets;
    sn_json_writer *json; /* --json: the datasets go into its open array */
} inventory;

static int visit(void *context, const char *name, sn_checkpoint_type type, int rank,
                 const int64_t *dims)
{
    inventory *inv = context;
    int64_t values = 1;
    for (int d = 0; d < rank; d++)
        values *= dims[d];
    inv->datasets++;
    if (inv->list_datasets && inv->json) {
        sn_json_object_begin(inv->json);
        sn_json_key_string(inv->json, "name", name);
        sn_json_key_string(inv->json, "type", sn_checkpoint_type_name(type));
        sn_json_key(inv->json, "shape");
        sn_json_array_begin_inline(inv->json);
        for (int d = 0; d < rank; d++)
            sn_json_int(inv->json, dims[d]);
        sn_json_array_end(inv->json);
        sn_json_object_end(inv->json);
    } else if (inv->list_datasets) {
        printf("  %-48s %-7s [", name, sn_checkpoint_type_name(type));
        for (int d = 0; d < rank; d++)
            printf("%s%lld", d ? ", " : "", (long long)dims[d]);
        printf("]\n");
    }
    const char *slash = strchr(name, '/');
    size_t length = slash ? (size_t)(slash - name) : strlen(name);
    if (length >= sizeof inv->name[0])
        length = sizeof inv->name[0] - 1;
    int g = 0;
    while (g < inv->count && (strlen(inv->name[g]) != length || strncmp(inv->name[g], name, length) != 0))
        g++;
    if (g == inv->count) {
        if (inv->count == GROUPS_MAX)
            return 0;
        memcpy(inv->name[g], name, length);
        inv->name[g][length] = '\0';
        inv->count++;
    }
    inv->arrays[g]++;
    inv->values[g] += values;
    inv->bytes[g] += values * (int64_t)sn_checkpoint_type_size(type);
    return 0;
}

static void print_text_attribute(sn_checkpoint_reader *r, const char *label, const char *name)
{
    char *text = NULL;
    if (sn_checkpoint_read_text(r, name, &text) == SN_OK) {
        printf("%s%s", label, text);
        free(text);
    } else {
        printf("%s?", label);
    }
}

static int64_t int_attribute(sn_checkpoint_reader *r, const char *name)
{
    int64_t value = -1;
    if (sn_checkpoint_read_int64(r, name, &value) != SN_OK)
        value = -1;
    return value;
}

/* The sampling probabilities a run stored (a shift run: any run, what it
 * stored); buckets 0 when there are none. updates: -1 if not stored. */
typedef struct {
    int64_t buckets, updates, moved; /* moved: updates that changed the probabilities */
    double p[SN_BUCKETS_MAX], beta[SN_BUCKETS_MAX];
    int frozen; /* [search] shift_frozen: the control arm, whose updates never move p */
} probabilities;

/* Whether the stored configuration says shift_frozen (0 when unreadable). */
static int stored_frozen(sn_checkpoint_reader *r)
{
    char *text = NULL;
    if (sn_checkpoint_read_text(r, "config", &text) != SN_OK)
        return 0;
    sn_config config;
    sn_config_defaults(&config);
    int frozen = sn_config_load_text(&config, text, "checkpoint") == SN_OK && config.shift_frozen;
    free(text);
    sn_error_clear();
    return frozen;
}

static void read_probabilities(sn_checkpoint_reader *r, probabilities *out)
{
    sn_checkpoint_type type;
    int rank;
    int64_t dims[SN_CHECKPOINT_RANK_MAX];
    out->buckets = 0;
    out->updates = -1;
    if (sn_checkpoint_array_shape(r, "shift/probability", &type, &rank, dims) != SN_OK ||
        type != SN_CHECKPOINT_FLOAT64 || rank != 1 || dims[0] > SN_BUCKETS_MAX)
        return;
    if (sn_checkpoint_read_array(r, "shift/probability", type, 1, dims, out->p) != SN_OK ||
        sn_checkpoint_read_array(r, "shift/beta", type, 1, dims, out->beta) != SN_OK)
        return;
    out->buckets = dims[0];
    out->frozen = stored_frozen(r);
    /* training/updates counts every update, as log.h5 has a row for each and
     * the training summary says; shift/updates counts those that moved the
     * probabilities: with the loss-change statistic the first update only
     * measures the baseline losses. */
    if (sn_checkpoint_read_array(r, "training/updates", SN_CHECKPOINT_INT64, 0, NULL,
                                 &out->updates) != SN_OK &&
        sn_checkpoint_read_array(r, "shift/updates", SN_CHECKPOINT_INT64, 0, NULL,
                                 &out->updates) != SN_OK)
        out->updates = -1;
    if (sn_checkpoint_read_array(r, "shift/updates", SN_CHECKPOINT_INT64, 0, NULL,
                                 &out->moved) != SN_OK)
        out->moved = out->updates;
}

static void print_probabilities(sn_checkpoint_reader *r)
{
    probabilities shift;
    read_probabilities(r, &shift);
    if (shift.buckets == 0)
        return;
    printf("probabilities:");
    for (int64_t k = 0; k < shift.buckets; k++)
        printf(" %.4f", shift.p[k]);
    printf("\nbeta:         ");
    for (int64_t k = 0; k < shift.buckets; k++)
        printf(" %+.4f", shift.beta[k]);
    if (shift.updates >= 0)
        printf("\nprobability updates so far: %lld", (long long)shift.updates);
    if (shift.updates >= 0 && shift.frozen)
        printf(" (beta frozen at uniform: [search] shift_frozen = true)");
    else if (shift.updates >= 0 && shift.moved != shift.updates)
        printf(" (%lld moved the probabilities; the first measured the baseline losses)",
               (long long)shift.moved);
    printf("\n");
}

/* ---- files that are not checkpoints --------------------------------------- */

/* A file without a checkpoint header: model.h5 (described, not refused), or
 * something inspect does not read at all. */
typedef struct {
    sn_model_file_info info;
    char *config_text;
    sn_config config; /* model type and strategy, from config_text */
} model_description;

/* SN_OK when path is a shiftnas model file (model.h5), described in *m (the
 * caller frees m->config_text); otherwise the message names what inspect
 * reads, instead of the checkpoint reader's "no header". */
static int describe_model(const char *path, model_description *m)
{
    memset(m, 0, sizeof *m);
    sn_config_defaults(&m->config);
    if (sn_model_file_describe(path, &m->info) == SN_OK &&
        sn_model_file_read_config(path, &m->config_text) == SN_OK) {
        /* an unreadable configuration leaves the defaults' names: say "?" */
        if (sn_config_load_text(&m->config, m->config_text, path) != SN_OK)
            m->config.model_type[0] = m->config.search_strategy[0] = '\0';
        return SN_OK;
    }
    free(m->config_text);
    m->config_text = NULL;
    return sn_error_set(SN_ERR_FORMAT,
                        "%s: neither a checkpoint nor a model file (no \"shiftnas-checkpoint\" "
                        "header, no format \"shiftnas-model\"); inspect reads a run directory, "
                        "its checkpoints/step-*.h5 and its model.h5",
                        path);
}

/* A checkpoint's verification failed: a model file is described, anything
 * else refused with the reason. */
static int is_not_a_checkpoint(void)
{
    return strstr(sn_error_message(), "not a shiftnas checkpoint") != NULL;
}

static const char model_kind[] =
    "a trained model, not a checkpoint: the weights `shiftnas train` writes when it ends, "
    "which search, eval and export read from its run directory";

static int model_file_text(const char *path, int show_config)
{
    model_description m;
    if (describe_model(path, &m) != SN_OK) {
        printf("status: not a checkpoint or model file\n");
        sn_cli_report_error("inspect");
        return SN_EXIT_FAILURE;
    }
    printf("status: %s\n", model_kind);
    printf("format: shiftnas-model version 1; trained %lld steps\n", (long long)m.info.step);
    printf("model: %s; strategy: %s; seed %lld\n", *m.config.model_type ? m.config.model_type : "?",
           *m.config.search_strategy ? m.config.search_strategy : "?", (long long)m.config.seed);
    printf("sizes:\n");
    for (int p = 0; p < m.info.part_count; p++)
        printf("  %-20s %5lld arrays %12lld values %10.2f MB\n", m.info.parts[p].group,
               (long long)m.info.parts[p].arrays, (long long)m.info.parts[p].values,
               (double)m.info.parts[p].values * 4 / 1e6);
    if (show_config)
        printf("configuration:\n%s", m.config_text);
    free(m.config_text);
    return SN_EXIT_OK;
}

static int inspect_file_text(const char *path, int list_datasets, int show_config)
{
    int64_t size = 0;
    printf("file: %s\n", path);
    int status = sn_checkpoint_verify(path, &size);
    if (status != SN_OK && is_not_a_checkpoint())
        return model_file_text(path, show_config);
    if (status != SN_OK) {
        printf("status: NOT USABLE: %s\n", sn_error_message());
        sn_cli_report_error("inspect");
        return SN_EXIT_FAILURE;
    }
    sn_checkpoint_reader *r = NULL;
    if (sn_checkpoint_open(&r, path) != SN_OK) {
        printf("status: NOT USABLE: %s\n", sn_error_message());
        sn_cli_report_error("inspect");
        return SN_EXIT_FAILURE;
    }
    inventory inv;
    memset(&inv, 0, sizeof inv);
    inv.list_datasets = list_datasets;
    if (list_datasets)
        printf("datasets:\n");
    status = sn_checkpoint_list(r, visit, &inv);
    if (status != SN_OK) {
        printf("status: NOT USABLE: %s\n", sn_error_message());
        sn_cli_report_error("inspect");
        sn_checkpoint_close(r);
        return SN_EXIT_FAILURE;
    }
    printf("status: complete and readable (%.1f MB; header, size and CRC-32 verified; %lld "
           "datasets)\n",
           (double)size / 1e6, (long long)inv.datasets);
    print_text_attribute(r, "format: ", "format");
    printf(" version %lld, written by shiftnas ", (long long)int_attribute(r, "format_version"));
    print_text_attribute(r, "", "shiftnas_version");
    print_text_attribute(r, " (revision ", "source_revision");
    printf(")\n");
    int64_t step = int_attribute(r, "step"), total = int_attribute(r, "total_steps");
    int64_t per_epoch = int_attribute(r, "steps_per_epoch");
    printf("step: %lld of %lld (epoch %lld, position %lld of %lld)%s; written by %lld rank(s)\n",
           (long long)step, (long long)total, (long long)int_attribute(r, "epoch"),
           (long long)int_attribute(r, "data_position"), (long long)per_epoch,
           int_attribute(r, "complete") == 1 ? "; training complete" : "",
           (long long)int_attribute(r, "ranks"));
    print_text_attribute(r, "strategy: ", "strategy");
    print_text_attribute(r, "; model: ", "model_type");
    printf("; seed %lld; %lld training images processed\n", (long long)int_attribute(r, "seed"),
           (long long)int_attribute(r, "images"));
    print_probabilities(r);
    printf("sizes:\n");
    for (int g = 0; g < inv.count; g++)
        printf("  %-20s %5lld arrays %12lld values %10.2f MB\n", inv.name[g],
               (long long)inv.arrays[g], (long long)inv.values[g], (double)inv.bytes[g] / 1e6);
    if (show_config) {
        char *text = NULL;
        if (sn_checkpoint_read_text(r, "config", &text) == SN_OK) {
            printf("configuration:\n%s", text);
            free(text);
        }
    }
    sn_checkpoint_close(r);
    return SN_EXIT_OK;
}

/* ---- --json ---------------------------------------------------------------- */

static void json_text_attribute(sn_json_writer *j, sn_checkpoint_reader *r, const char *name)
{
    char *text = NULL;
    sn_json_key(j, name);
    if (sn_checkpoint_read_text(r, name, &text) == SN_OK) {
        sn_json_string(j, text);
        free(text);
    } else {
        sn_json_null(j);
    }
}

static void json_int_attribute(sn_json_writer *j, sn_checkpoint_reader *r, const char *key,
                               const char *name)
{
    int64_t value;
    sn_json_key(j, key);
    if (sn_checkpoint_read_int64(r, name, &value) == SN_OK)
        sn_json_int(j, value);
    else
        sn_json_null(j);
}

static void json_numbers(sn_json_writer *j, const char *key, const double *values, int64_t count)
{
    sn_json_key(j, key);
    sn_json_array_begin_inline(j);
    for (int64_t k = 0; k < count; k++)
        sn_json_number(j, values[k]);
    sn_json_array_end(j);
}

/* What the text shows after the status line, as keys of the checkpoint object. */
static void json_checkpoint_contents(sn_json_writer *j, sn_checkpoint_reader *r,
                                     const inventory *inv, int show_config)
{
    json_text_attribute(j, r, "format");
    json_int_attribute(j, r, "format_version", "format_version");
    json_text_attribute(j, r, "shiftnas_version");
    json_text_attribute(j, r, "source_revision");
    json_int_attribute(j, r, "step", "step");
    json_int_attribute(j, r, "total_steps", "total_steps");
    json_int_attribute(j, r, "epoch", "epoch");
    json_int_attribute(j, r, "data_position", "data_position");
    json_int_attribute(j, r, "steps_per_epoch", "steps_per_epoch");
    sn_json_key_bool(j, "training_complete", int_attribute(r, "complete") == 1);
    json_int_attribute(j, r, "ranks", "ranks");
    json_text_attribute(j, r, "strategy");
    json_text_attribute(j, r, "model_type");
    json_int_attribute(j, r, "seed", "seed");
    json_int_attribute(j, r, "images", "images");
    probabilities shift;
    read_probabilities(r, &shift);
    if (shift.buckets > 0) {
        json_numbers(j, "probabilities", shift.p, shift.buckets);
        json_numbers(j, "beta", shift.beta, shift.buckets);
        sn_json_key_bool(j, "shift_frozen", shift.frozen);
        sn_json_key(j, "probability_updates");
        if (shift.updates >= 0)
            sn_json_int(j, shift.updates);
        else
            sn_json_null(j);
    }
    sn_json_key(j, "sizes");
    sn_json_array_begin(j);
    for (int g = 0; g < inv->count; g++) {
        sn_json_object_begin(j);
        sn_json_key_string(j, "group", inv->name[g]);
        sn_json_key_int(j, "arrays", inv->arrays[g]);
        sn_json_key_int(j, "values", inv->values[g]);
        sn_json_key_int(j, "bytes", inv->bytes[g]);
        sn_json_object_end(j);
    }
    sn_json_array_end(j);
    if (show_config)
        json_text_attribute(j, r, "config");
}

/* model.h5 as the JSON object of a file: kind "model", its step, model type,
 * strategy, sizes and configuration. */
static int model_file_json(sn_json_writer *j, const char *path, int show_config)
{
    model_description m;
    if (describe_model(path, &m) != SN_OK) {
        sn_json_key_bool(j, "usable", 0);
        sn_json_key_string(j, "error", sn_error_message());
        sn_cli_report_error("inspect");
        return SN_EXIT_FAILURE;
    }
    sn_json_key_string(j, "kind", "model");
    sn_json_key_bool(j, "usable", 1);
    sn_json_key_string(j, "format", "shiftnas-model");
    sn_json_key_int(j, "step", m.info.step);
    sn_json_key_string(j, "model_type", *m.config.model_type ? m.config.model_type : NULL);
    sn_json_key_string(j, "strategy", *m.config.search_strategy ? m.config.search_strategy : NULL);
    sn_json_key(j, "sizes");
    sn_json_array_begin(j);
    for (int p = 0; p < m.info.part_count; p++) {
        sn_json_object_begin(j);
        sn_json_key_string(j, "group", m.info.parts[p].group);
        sn_json_key_int(j, "arrays", m.info.parts[p].arrays);
        sn_json_key_int(j, "values", m.info.parts[p].values);
        sn_json_key_int(j, "bytes", m.info.parts[p].values * 4);
        sn_json_object_end(j);
    }
    sn_json_array_end(j);
    if (show_config)
        sn_json_key_string(j, "config", m.config_text);
    free(m.config_text);
    return SN_EXIT_OK;
}

/* A checkpoint that cannot be used: said in the document and on stderr. */
static int json_unusable(sn_json_writer *j)
{
    sn_json_key_bool(j, "usable", 0);
    sn_json_key_string(j, "error", sn_error_message());
    sn_cli_report_error("inspect");
    return SN_EXIT_FAILURE;
}

/* The checkpoint object: the text's information, one key per figure. */
static int inspect_file_json(sn_json_writer *j, const char *path, int list_datasets,
                             int show_config)
{
    int64_t size = 0;
    sn_checkpoint_reader *r = NULL;
    sn_json_object_begin(j);
    sn_json_key_string(j, "file", path);
    int exit_code = SN_EXIT_OK;
    int verified = sn_checkpoint_verify(path, &size);
    if (verified != SN_OK && is_not_a_checkpoint()) {
        exit_code = model_file_json(j, path, show_config);
    } else if (verified != SN_OK || sn_checkpoint_open(&r, path) != SN_OK) {
        exit_code = json_unusable(j);
    } else {
        inventory inv;
        memset(&inv, 0, sizeof inv);
        inv.list_datasets = list_datasets;
        inv.json = j;
        if (list_datasets) {
            sn_json_key(j, "datasets");
            sn_json_array_begin(j);
        }
        int status = sn_checkpoint_list(r, visit, &inv);
        if (list_datasets)
            sn_json_array_end(j);
        if (status != SN_OK) {
            exit_code = json_unusable(j);
        } else {
            sn_json_key_string(j, "kind", "checkpoint");
            sn_json_key_bool(j, "usable", 1);
            sn_json_key_int(j, "bytes", size);
            sn_json_key_int(j, "dataset_count", inv.datasets);
            json_checkpoint_contents(j, r, &inv, show_config);
        }
        sn_checkpoint_close(r);
    }
    sn_json_object_end(j);
    return exit_code;
}

static int inspect_file(const char *path, int list_datasets, int show_config,
                        sn_json_writer *json)
{
    if (json)
        return inspect_file_json(json, path, list_datasets, show_config);
    return inspect_file_text(path, list_datasets, show_config);
}

/* Ends the document; a write error turns any exit code into a failure. */
static int finish_json(sn_json_writer *json, int exit_code)
{
    if (sn_json_end(json) != SN_OK) {
        sn_cli_report_error("inspect");
        return SN_EXIT_FAILURE;
    }
    return exit_code;
}

/* ---- a run directory ---------------------------------------------------------- */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A run directory: every checkpoint verified, then the latest in full. */
static int inspect_run(const char *run_dir, int list_datasets, int show_config,
                       sn_json_writer *json)
{
    char directory[1100];
    snprintf(directory, sizeof directory, "%s/checkpoints", run_dir);
    char latest[1100];
    int found = 0;
    if (sn_checkpoint_latest(run_dir, latest, sizeof latest, &found) != SN_OK) {
        sn_cli_report_error("inspect");
        return SN_EXIT_FAILURE;
    }
    if (!found) {
        fprintf(stderr, "shiftnas inspect: %s: no checkpoint yet (no %s/latest)\n", run_dir,
                directory);
        return SN_EXIT_FAILURE;
    }
    DIR *dir = opendir(directory);
    char *names[4096];
    int count = 0;
    struct dirent *entry;
    while (dir && (entry = readdir(dir)) != NULL && count < 4096)
        if (strncmp(entry->d_name, "step-", 5) == 0)
            names[count++] = strdup(entry->d_name);
    if (dir)
        closedir(dir);
    qsort(names, (size_t)count, sizeof names[0], compare_names);
    if (json) {
        sn_json_object_begin(json);
        sn_json_key_string(json, "run", run_dir);
        sn_json_key(json, "checkpoints");
        sn_json_array_begin(json);
    } else {
        printf("run: %s; checkpoints:\n", run_dir);
    }
    for (int i = 0; i < count; i++) {
        char path[1300];
        snprintf(path, sizeof path, "%s/%s", directory, names[i]);
        int64_t size = 0;
        int ok = names[i] && sn_checkpoint_verify(path, &size) == SN_OK;
        if (json) {
            sn_json_object_begin(json);
            sn_json_key_string(json, "name", names[i] ? names[i] : "?");
            sn_json_key_int(json, "bytes", size);
            sn_json_key_bool(json, "ok", ok);
            sn_json_key_string(json, "error", ok ? NULL : sn_error_message());
            sn_json_object_end(json);
        } else {
            printf("  %-24s %8.1f MB  %s%s\n", names[i] ? names[i] : "?", (double)size / 1e6,
                   ok ? "ok" : "DAMAGED: ", ok ? "" : sn_error_message());
        }
        free(names[i]);
    }
    if (!json) {
        printf("latest: %s\n\n", latest);
        return inspect_file(latest, list_datasets, show_config, NULL);
    }
    sn_json_array_end(json);
    sn_json_key_string(json, "latest", latest);
    sn_json_key(json, "checkpoint");
    int exit_code = inspect_file(latest, list_datasets, show_config, json);
    sn_json_object_end(json);
    return finish_json(json, exit_code);
}

int sn_command_inspect(int argc, char **argv)
{
    const char *target = NULL;
    int list_datasets = 0, show_config = 1, as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(inspect_usage, stdout);
            return SN_EXIT_OK;
        } else if (strcmp(argv[i], "--datasets") == 0) {
            list_datasets = 1;
        } else if (strcmp(argv[i], "--no-config") == 0) {
            show_config = 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (argv[i][0] == '-' || target) {
            char shown[SN_CLI_SHOWN_SIZE];
            fprintf(stderr, "shiftnas inspect: unexpected argument '%s' (%s; try 'shiftnas "
                            "inspect --help')\n",
                    sn_cli_shown(shown, sizeof shown, argv[i]),
                    argv[i][0] == '-' ? "not an option of inspect" : "one file or run directory only");
            return SN_EXIT_USAGE;
        } else {
            target = argv[i];
        }
    }
    if (!target) {
        fputs(inspect_usage, stderr);
        return SN_EXIT_USAGE;
    }
    struct stat st;
    if (stat(target, &st) != 0) {
        char shown[SN_CLI_SHOWN_SIZE];
        fprintf(stderr, "shiftnas inspect: %s: %s\n", sn_cli_shown(shown, sizeof shown, target),
                strerror(errno));
        return SN_EXIT_FAILURE;
    }
    sn_json_writer writer, *json = NULL;
    if (as_json) {
        sn_json_begin(&writer, stdout); /* writes nothing until the first value */
        json = &writer;
    }
    if (S_ISDIR(st.st_mode))
        return inspect_run(target, list_datasets, show_config, json);
    if (!json)
        return inspect_file(target, list_datasets, show_config, NULL);
    sn_json_object_begin(json);
    sn_json_key(json, "checkpoint");
    int exit_code = inspect_file(target, list_datasets, show_config, json);
    sn_json_object_end(json);
    return finish_json(json, exit_code);
}
