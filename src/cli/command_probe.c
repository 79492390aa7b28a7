/*
 * shiftnas probe RUN_DIR --probes FILE [--set S.K=V ...] [--csv FILE] [--json]
 *
 * Every subnet of a probe panel (shiftnas/probes.h) evaluated with inherited
 * weights on the trained supernet in RUN_DIR: batch norm recalibrated
 * ([search] recalibration_batches), then the whole test set, the same
 * measurement as `shiftnas eval` and the test figures of `shiftnas search`.
 * Strategies are then compared on the same subnets at the same MACs
 * (doc/probes.md). A `strategy = fixed` run has one subnet: its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "directory_lock.h"
#include "json_writer.h"
#include "option_values.h"
#include "search_ranks.h"
#include "shiftnas/dist.h"
#include "shiftnas/error.h"
#include "shiftnas/format.h"
#include "shiftnas/probes.h"
#include "shiftnas/settings.h"
#include "shiftnas/train.h"

static const char probe_usage[] =
    "usage: shiftnas probe RUN_DIR --probes FILE [--set SECTION.KEY=VALUE ...] [--csv FILE]\n"
    "                      [--json]\n"
    "\n"
    "Evaluates every subnet of a probe panel on the trained supernet in RUN_DIR, with\n"
    "inherited weights: batch norm recalibrated on [search] recalibration_batches training\n"
    "batches (CNN spaces), then the whole test set. A strategy = fixed run gives one row,\n"
    "its own subnet. Writes RUN_DIR/probes.csv whole (doc/probes.md):\n"
    "  probe,bucket,macs,params,subnet,test_loss,test_accuracy\n"
    "\n"
    "  --probes FILE   the panel: one subnet per line as `shiftnas search` prints it, '#'\n"
    "                  comment lines (e.g. jobs/probes/cnn-space.txt; made with\n"
    "                  `shiftnas space --config FILE probes --per-bucket N`)\n"
    "  --set S.K=V     override a key of RUN_DIR/config.ini, as for search\n"
    "  --csv FILE      write the table here instead of RUN_DIR/probes.csv\n"
    "  --json          print one JSON document instead of the summary (progress lines go to\n"
    "                  stderr): run, strategy, steps, probes, test_images, rows [{probe,\n"
    "                  bucket, macs, parameters, subnet, test_loss, test_accuracy}], csv\n"
    "  -h, --help      this text\n"
    "\n"
    "On MPI ranks (mpirun -np N shiftnas probe ...) the probes are shared out over the\n"
    "ranks; the table is the same at every rank count. Exit status: 0 on success, 1 for a\n"
    "missing or damaged run, a bad panel or a failed write, 2 for a bad command line.\n";

typedef struct {
    const char *run_dir, *probes, *csv;
    const char **overrides;
    int override_count;
    int json;
} probe_options;

/* Messages only from `speaker` (rank 0; every rank parses the same line).
 * -1 after --help. */
static int parse_options(int argc, char **argv, probe_options *o, int speaker)
{
    memset(o, 0, sizeof *o);
    o->overrides = calloc((size_t)argc + 1, sizeof *o->overrides);
    if (!o->overrides) {
        if (speaker)
            fprintf(stderr, "shiftnas probe: out of memory\n");
        return SN_EXIT_FAILURE;
    }
    static const sn_cli_valued_option valued[] = {{"--probes", "a panel FILE"},
                                                  {"--set", "SECTION.KEY=VALUE"},
                                                  {"--csv", "a FILE"},
                                                  {NULL, NULL}};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        char problem[512], shown[SN_CLI_SHOWN_SIZE];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            if (speaker)
                fputs(probe_usage, stdout);
            return -1;
        } else if (sn_cli_bad_value(valued, argc, argv, i, problem, sizeof problem)) {
            if (speaker)
                fprintf(stderr, "shiftnas probe: %s\n", problem);
            return SN_EXIT_USAGE;
        } else if (strcmp(arg, "--probes") == 0) {
            o->probes = argv[++i];
        } else if (strcmp(arg, "--csv") == 0) {
            o->csv = argv[++i];
        } else if (strcmp(arg, "--set") == 0) {
            o->overrides[o->override_count++] = argv[++i];
        } else if (strcmp(arg, "--json") == 0) {
            o->json = 1;
        } else if (arg[0] != '-' && !o->run_dir) {
            o->run_dir = arg;
        } else {
            if (speaker)
                fprintf(stderr, "shiftnas probe: %s '%s' (try 'shiftnas probe --help')\n",
                        arg[0] != '-' ? "one RUN_DIR only, a second one:" : "unknown argument",
                        sn_cli_shown(shown, sizeof shown, arg));
            return SN_EXIT_USAGE;
        }
    }
    const char *missing = !o->run_dir ? "RUN_DIR is required"
                          : !o->probes ? "--probes FILE is required (e.g. jobs/probes/cnn-space.txt)"
                                       : NULL;
    if (missing) {
        if (speaker)
            fprintf(stderr, "shiftnas probe: %s (try 'shiftnas probe --help')\n", missing);
        return SN_EXIT_USAGE;
    }
    return SN_EXIT_OK;
}

/* ---- what is probed ---------------------------------------------------------- */

/* The subnets to evaluate: the panel's, or a fixed run's own one (its probe
 * number on the panel, or -1). rows[i] gets everything but the test figures. */
typedef struct {
    int count;
    sn_arch *archs;
    sn_probe_row *rows;
} probe_work;

static void free_work(probe_work *w)
{
    free(w->archs);
    free(w->rows);
    memset(w, 0, sizeof *w);
}

static int describe_row(const sn_trained_run *run, const sn_buckets *buckets, int probe,
                        const sn_arch *arch, sn_probe_row *row)
{
    sn_cost cost = sn_space_cost(run->space, arch);
    row->probe = probe;
    row->bucket = sn_buckets_index(buckets, cost.macs);
    row->macs = cost.macs;
    row->params = cost.parameters;
    return sn_arch_format(run->space, arch, row->subnet, sizeof row->subnet);
}

static int plan_work(const sn_trained_run *run, const sn_probe_panel *panel, probe_work *w)
{
    sn_buckets buckets;
    SN_TRY(sn_buckets_from_config(&buckets, run->space, &run->config));
    int fixed = run->strategy == SN_STRATEGY_FIXED;
    sn_arch own;
    if (fixed && sn_arch_parse(run->space, run->config.search_subnet, &own) != SN_OK)
        return sn_error_set(SN_ERR_CONFIG, "[search] subnet of the fixed run: %s",
                            sn_error_message());
    w->count = fixed ? 1 : panel->count;
    size_t n = (size_t)w->count;
    w->archs = malloc(n * sizeof *w->archs);
    w->rows = calloc(n, sizeof *w->rows);
    if (!w->archs || !w->rows)
        return sn_error_set(SN_ERR_NOMEM, "probe: out of memory for %d probes", w->count);
    for (int i = 0; i < w->count; i++) {
        w->archs[i] = fixed ? own : panel->archs[i];
        sn_arch_canonicalize(run->space, &w->archs[i]);
        int probe = fixed ? sn_probe_panel_find(panel, run->space, &own) : i;
        SN_TRY(describe_row(run, &buckets, probe, &w->archs[i], &w->rows[i]));
    }
    return SN_OK;
}

/* ---- evaluation on the ranks ------------------------------------------------- */

/* Probes per rank per batch: a batch ends with every rank waiting for the
 * slowest, and at its end rank 0 knows how far the whole panel is. */
enum { PROBES_PER_RANK_PER_BATCH = 8 };

/* A pass costs a fixed part plus a part per multiply-add (search_ranks.c). */
static double probe_cost(const sn_probe_row *row)
{
    return (double)row->macs + 500000.0;
}

typedef struct {
    double cost;
    int probe;
} probe_order;

/* Costliest first, so that each batch holds probes of like cost and shares
 * out evenly; equal costs in probe order. */
static int by_cost(const void *a, const void *b)
{
    const probe_order *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    return (x->probe > y->probe) - (x->probe < y->probe);
}

typedef struct {
    FILE *out; /* NULL off rank 0 */
    double start, last_print, interval, total_cost, done_cost;
} probe_progress;

static void report_progress(probe_progress *p, int done, int count)
{
    double now = sn_now();
    if (!p->out || done == count || now - p->last_print < p->interval || p->done_cost <= 0)
        return;
    char elapsed[32], eta[32];
    double spent = now - p->start;
    sn_format_duration(elapsed, sizeof elapsed, spent);
    sn_format_duration(eta, sizeof eta, spent / p->done_cost * (p->total_cost - p->done_cost));
    fprintf(p->out, "  probe %d/%d, elapsed %s, eta %s\n", done, count, elapsed, eta);
    fflush(p->out);
    p->last_print = now;
}

/* The batches, costliest first; each probe's figures come from one rank's
 * whole evaluation of it, the same bits on whichever rank. */
static int evaluate_batches(sn_search_fitness *f, probe_work *w, const probe_order *order,
                            int batch, probe_progress *progress)
{
    sn_arch *archs = malloc((size_t)batch * sizeof *archs);
    double *losses = malloc((size_t)batch * sizeof *losses);
    double *accuracies = malloc((size_t)batch * sizeof *accuracies);
    int status = archs && losses && accuracies
                     ? SN_OK
                     : sn_error_set(SN_ERR_NOMEM, "probe: out of memory for a batch");
    for (int first = 0; status == SN_OK && first < w->count; first += batch) {
        int n = w->count - first < batch ? w->count - first : batch;
        for (int j = 0; j < n; j++)
            archs[j] = w->archs[order[first + j].probe];
        status = sn_search_fitness_evaluate_losses(f, archs, n, accuracies, losses);
        for (int j = 0; status == SN_OK && j < n; j++) {
            int i = order[first + j].probe;
            w->rows[i].test_accuracy = accuracies[j];
            w->rows[i].test_loss = losses[j];
            progress->done_cost += probe_cost(&w->rows[i]);
        }
        if (status == SN_OK)
            report_progress(progress, first + n, w->count);
    }
    free(archs);
    free(losses);
    free(accuracies);
    return status;
}

static int evaluate_probes(sn_trained_run *run, const sn_dist *dist, probe_work *w,
                           probe_progress *progress)
{
    probe_order *order = malloc((size_t)w->count * sizeof *order);
    if (!order)
        return sn_error_set(SN_ERR_NOMEM, "probe: out of memory for %d probes", w->count);
    for (int i = 0; i < w->count; i++) {
        order[i] = (probe_order){probe_cost(&w->rows[i]), i};
        progress->total_cost += order[i].cost;
    }
    qsort(order, (size_t)w->count, sizeof *order, by_cost);
    int batch = PROBES_PER_RANK_PER_BATCH * sn_dist_size(dist);
    if (batch > w->count)
        batch = w->count;
    sn_search_fitness ranks;
    int status = sn_search_fitness_init(&ranks, dist, run->space, &run->evaluator, run->data.test,
                                        run->test_indices, run->data.test_count, batch);
    if (status == SN_OK) {
        status = evaluate_batches(&ranks, w, order, batch, progress);
        sn_search_fitness_free(&ranks);
    }
    free(order);
    return status;
}

/* ---- output (rank 0) --------------------------------------------------------- */

static void print_header(const sn_trained_run *run, const probe_options *o, const probe_work *w)
{
    const sn_config *c = &run->config;
    if (run->strategy != SN_STRATEGY_FIXED)
        printf("probe: %d probes of %s", w->count, o->probes);
    else if (w->rows[0].probe >= 0)
        printf("probe: the fixed run's own subnet (probe %d of %s)", w->rows[0].probe, o->probes);
    else
        printf("probe: the fixed run's own subnet (not on %s)", o->probes);
    printf(" on a %s run (%lld steps); test set of %lld images", c->search_strategy,
           (long long)run->steps, (long long)run->data.test_count);
    if (run->space->type == SN_SPACE_CNN)
        printf(", batch norm recalibrated on %lld batches", (long long)c->recalibration_batches);
    printf("\n");
    fflush(stdout);
}

/* Per bucket: how many probes and their mean test accuracy. */
static int print_summary(const sn_trained_run *run, const probe_work *w, const char *csv_path)
{
    sn_buckets buckets;
    SN_TRY(sn_buckets_from_config(&buckets, run->space, &run->config));
    printf("%-7s %-22s %6s %14s\n", "bucket", "MACs", "probes", "mean test acc");
    for (int k = 0; k < buckets.count; k++) {
        int n = 0;
        double sum = 0;
        for (int i = 0; i < w->count; i++)
            if (w->rows[i].bucket == k) {
                n++;
                sum += w->rows[i].test_accuracy;
            }
        if (n == 0)
            continue;
        char from[32], to[32], range[80];
        sn_format_macs(from, sizeof from, (double)buckets.edge[k]);
        sn_format_macs(to, sizeof to, (double)buckets.edge[k + 1]);
        snprintf(range, sizeof range, "[%s, %s%s", from, to, k + 1 == buckets.count ? "]" : ")");
        printf("%-7d %-22s %6d %14.4f\n", k, range, n, sum / n);
    }
    printf("probes written to %s\n", csv_path);
    return SN_OK;
}

static void print_json(sn_json_writer *j, const sn_trained_run *run, const probe_options *o,
                       const probe_work *w, const char *csv_path)
{
    sn_json_object_begin(j);
    sn_json_key_string(j, "run", o->run_dir);
    sn_json_key_string(j, "strategy", run->config.search_strategy);
    sn_json_key_int(j, "steps", run->steps);
    sn_json_key_string(j, "probes", o->probes);
    sn_json_key_int(j, "test_images", run->data.test_count);
    sn_json_key(j, "rows");
    sn_json_array_begin(j);
    for (int i = 0; i < w->count; i++) {
        const sn_probe_row *r = &w->rows[i];
        sn_json_object_begin(j);
        sn_json_key_int(j, "probe", r->probe);
        sn_json_key_int(j, "bucket", r->bucket);
        sn_json_key_int(j, "macs", r->macs);
        sn_json_key_int(j, "parameters", r->params);
        sn_json_key_string(j, "subnet", r->subnet);
        sn_json_key_number(j, "test_loss", r->test_loss);
        sn_json_key_number(j, "test_accuracy", r->test_accuracy);
        sn_json_object_end(j);
    }
    sn_json_array_end(j);
    sn_json_key_string(j, "csv", csv_path);
    sn_json_object_end(j);
}

/* ---- the command ------------------------------------------------------------- */

/* The probes of an open run, the table written by rank 0 (`table` open
 * there). */
static int probe_run(sn_trained_run *run, const sn_dist *dist, const probe_options *o,
                     sn_probe_table *table, const char *csv_path)
{
    int speaker = sn_dist_rank(dist) == 0;
    sn_probe_panel panel;
    SN_TRY(sn_dist_agree(dist, sn_probe_panel_read(&panel, o->probes, run->space)));
    probe_work w = {0};
    int status = sn_dist_agree(dist, plan_work(run, &panel, &w));
    sn_probe_panel_free(&panel);
    if (status == SN_OK && speaker && !o->json)
        print_header(run, o, &w);
    probe_progress progress = {speaker ? (o->json ? stderr : stdout) : NULL, sn_now(), 0,
                               (double)run->config.progress_seconds, 0, 0};
    progress.last_print = progress.start;
    if (status == SN_OK)
        status = evaluate_probes(run, dist, &w, &progress);
    if (status == SN_OK)
        status = sn_dist_agree(dist, speaker ? sn_probe_table_commit(table, w.rows, w.count)
                                             : SN_OK);
    if (status == SN_OK && speaker && o->json) {
        sn_json_writer json;
        status = sn_json_begin_buffered(&json, stdout);
        if (status == SN_OK) {
            print_json(&json, run, o, &w, csv_path);
            status = sn_json_end(&json);
        }
    } else if (status == SN_OK && speaker) {
        status = print_summary(run, &w, csv_path);
    }
    free_work(&w);
    return status;
}

/* As search's failures: the rank whose own failure it is prints it, naming
 * itself when there are several ranks; every rank exits 1. */
static int probe_failure(const sn_dist *dist, int status)
{
    sn_cli_rank_failure(dist, status, "probe", sn_cli_report_error);
    return SN_EXIT_FAILURE;
}

static int probe_on_ranks(int argc, char **argv, const sn_dist *dist)
{
    probe_options o;
    int speaker = sn_dist_rank(dist) == 0;
    int code = parse_options(argc, argv, &o, speaker);
    if (code != SN_EXIT_OK) {
        free(o.overrides);
        return code < 0 ? SN_EXIT_OK : code;
    }
    char csv_path[1100];
    int length = o.csv ? snprintf(csv_path, sizeof csv_path, "%s", o.csv)
                       : snprintf(csv_path, sizeof csv_path, "%s/probes.csv", o.run_dir);
    if (length >= (int)sizeof csv_path) {
        if (speaker)
            fprintf(stderr, "shiftnas probe: %s is longer than %zu characters\n",
                    o.csv ? "--csv FILE" : "RUN_DIR/probes.csv", sizeof csv_path - 1);
        free(o.overrides);
        return SN_EXIT_USAGE;
    }
    /* one writer per run directory, as for search */
    sn_run_lock *lock = NULL;
    int status = SN_OK;
    if (speaker && sn_cli_lock_csv_directory(&lock, "probe", csv_path, "shiftnas probe") != SN_OK)
        status = SN_ERR_IO; /* said */
    if (sn_dist_agree(dist, status) != SN_OK) {
        free(o.overrides);
        return SN_EXIT_FAILURE;
    }
    sn_trained_run run;
    status = sn_dist_agree(dist, sn_trained_run_open(&run, o.run_dir, o.overrides,
                                                     o.override_count));
    free(o.overrides);
    if (status == SN_OK) {
        /* the table's directory is tried before the evaluations, not after */
        sn_probe_table table = {0};
        status = sn_dist_agree(dist, speaker ? sn_probe_table_open(&table, csv_path) : SN_OK);
        if (status == SN_OK)
            status = probe_run(&run, dist, &o, &table, csv_path);
        sn_probe_table_discard(&table); /* after a failure; a no-op after the commit */
        sn_trained_run_close(&run);
    }
    status = sn_dist_agree(dist, status);
    int exit_code = status == SN_OK ? SN_EXIT_OK : probe_failure(dist, status);
    sn_run_lock_release(lock);
    return exit_code;
}

int sn_command_probe(int argc, char **argv)
{
    return sn_cli_on_ranks(argc, argv, "probe", probe_on_ranks);
}
