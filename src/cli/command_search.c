/*
 * shiftnas search RUN_DIR --targets 2.5M,5M,8M [--set S.K=V ...] [--csv FILE] [--json]
 * shiftnas eval RUN_DIR --arch STRING [--set S.K=V ...] [--csv FILE] [--json]
 *
 * Every strategy's supernet is searched the same way: for each MACs target,
 * an evolutionary search (fitness = validation accuracy with inherited
 * weights, batch norm recalibrated for CNN subnets, a fixed evaluation
 * budget; the same for every strategy); runs with an architecture
 * generator (shift) also report the generator's own answer.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "directory_lock.h"
#include "json_writer.h"
#include "option_values.h"
#include "search_ranks.h"
#include "shiftnas/dist.h"
#include "shiftnas/error.h"
#include "shiftnas/evolution.h"
#include "shiftnas/export.h"
#include "shiftnas/format.h"
#include "shiftnas/generator.h"
#include "shiftnas/runfiles.h"
#include "shiftnas/train.h"

static const char search_usage[] =
    "usage: shiftnas search RUN_DIR --targets LIST [--set SECTION.KEY=VALUE ...] [--csv FILE]\n"
    "                       [--json]\n"
    "\n"
    "Finds, for each MACs target, the subnet of the trained supernet in RUN_DIR with the\n"
    "best validation accuracy among those within the target, with inherited weights.\n"
    "\n"
    "  --targets LIST  comma-separated MACs targets with optional k/M/G suffix, e.g. 2.5M,5M,8M\n"
    "                  (at most 1023 characters and 64 targets, each above 0 and at most\n"
    "                  1000000G)\n"
    "  --set S.K=V     override a key of RUN_DIR/config.ini, e.g. --set search.evolution_evaluations=32\n"
    "                  (not the trained supernet's: [model], [space], search.strategy and\n"
    "                  the generator's size are fixed by training)\n"
    "  --csv FILE      append the results here (default RUN_DIR/search.csv)\n"
    "  --json          print one JSON document instead of the table, when the search is\n"
    "                  done (progress lines go to stderr): run, strategy, steps, evolution,\n"
    "                  results [{method, target_macs, arch, macs, parameters, val_accuracy,\n"
    "                  test_accuracy, evaluations, seconds}], csv\n"
    "  -h, --help      this text\n"
    "\n"
    "Methods: 'generator' (shift runs: of the generator's answers for targets within 20%\n"
    "of the target, the largest that fits) and\n"
    "'evolution' ([search] evolution_* keys; the same for every strategy). Each\n"
    "row: method, strategy, target, subnet, MACs, parameters, validation and test accuracy.\n"
    "\n"
    "On MPI ranks (mpirun -np N shiftnas search ...) the ranks share the evaluations and\n"
    "give the same table and rows as one process; rank 0 prints and writes.\n";

static const char eval_usage[] =
    "usage: shiftnas eval RUN_DIR --arch STRING [--set SECTION.KEY=VALUE ...] [--csv FILE]\n"
    "                     [--logits FILE.h5] [--json]\n"
    "\n"
    "Accuracy, MACs and parameters of one subnet of the trained supernet in RUN_DIR,\n"
    "with inherited weights (batch norm recalibrated for CNN subnets).\n"
    "  --arch STRING   e.g. 'cnn:d=2,3,3;w=...' as `shiftnas space --samples` prints\n"
    "                  (at most 8192 characters)\n"
    "  --set S.K=V     override a key of RUN_DIR/config.ini, as for search\n"
    "  --csv FILE      also append the result to FILE, in search's table format (method\n"
    "                  'eval', no target; e.g. RUN_DIR/search.csv, which `shiftnas report` reads)\n"
    "  --logits FILE   also write the test set's logits (float32 [images, classes], the numbers\n"
    "                  the test accuracy comes from) and labels to FILE as HDF5 (doc/export.md)\n"
    "  --json          one JSON object instead of the text: run, strategy, arch, macs,\n"
    "                  parameters, val_accuracy, test_accuracy, validation_images, test_images\n";


enum { TARGETS_MAX = SN_MACS_LIST_MAX };

static int parse_targets(const char *list, double *targets, int *count, int speaker)
{
    if (sn_macs_parse_list(list, targets, TARGETS_MAX, count) != SN_OK) {
        if (speaker)
            fprintf(stderr, "shiftnas search: --targets: %s\n", sn_error_message());
        return -1;
    }
    return 0;
}

/* Common options of search and eval. */
typedef struct {
    const char *run_dir, *targets, *arch, *csv, *logits;
    const char **overrides;
    int override_count;
    int json;
} options;

/* Messages and --help's text only when `speaker` (rank 0 of a search on
 * several ranks, where every rank parses the same arguments). */
static int parse_options(int argc, char **argv, const char *name, const char *usage,
                         options *o, int speaker)
{
    memset(o, 0, sizeof *o);
    o->overrides = calloc((size_t)argc + 1, sizeof *o->overrides);
    if (!o->overrides) {
        if (speaker)
            fprintf(stderr, "shiftnas %s: out of memory\n", name);
        return SN_EXIT_FAILURE;
    }
    static const sn_cli_valued_option search_valued[] = {
        {"--targets", "a list of MACs targets like 2.5M,5M,8M"},
        {"--set", "SECTION.KEY=VALUE"},
        {"--csv", "a FILE"},
        {NULL, NULL}};
    static const sn_cli_valued_option eval_valued[] = {
        {"--arch", "an architecture text like cnn:d=1,2,3;w=...;k=...;e=..."},
        {"--set", "SECTION.KEY=VALUE"},
        {"--csv", "a FILE"},
        {"--logits", "a FILE.h5"},
        {NULL, NULL}};
    const sn_cli_valued_option *valued = strcmp(name, "search") == 0 ? search_valued : eval_valued;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        char problem[512], shown[SN_CLI_SHOWN_SIZE];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            if (speaker)
                fputs(usage, stdout);
            return -1;
        } else if (sn_cli_bad_value(valued, argc, argv, i, problem, sizeof problem)) {
            if (speaker)
                fprintf(stderr, "shiftnas %s: %s\n", name, problem);
            return SN_EXIT_USAGE;
        } else if (strcmp(arg, "--targets") == 0 && strcmp(name, "search") == 0) {
            o->targets = argv[++i];
        } else if (strcmp(arg, "--csv") == 0) {
            o->csv = argv[++i];
        } else if (strcmp(arg, "--arch") == 0 && strcmp(name, "eval") == 0) {
            o->arch = argv[++i];
        } else if (strcmp(arg, "--logits") == 0 && strcmp(name, "eval") == 0) {
            o->logits = argv[++i];
        } else if (strcmp(arg, "--set") == 0) {
            o->overrides[o->override_count++] = argv[++i];
        } else if (strcmp(arg, "--json") == 0) {
            o->json = 1;
        } else if (arg[0] != '-' && !o->run_dir) {
            o->run_dir = arg;
        } else if (arg[0] != '-') {
            if (speaker)
                fprintf(stderr,
                        "shiftnas %s: '%s': one RUN_DIR only, and it was given before "
                        "(try 'shiftnas %s --help')\n",
                        name, sn_cli_shown(shown, sizeof shown, arg), name);
            return SN_EXIT_USAGE;
        } else {
            if (speaker)
                fprintf(stderr, "shiftnas %s: unknown argument '%s' (try 'shiftnas %s --help')\n",
                        name, sn_cli_shown(shown, sizeof shown, arg), name);
            return SN_EXIT_USAGE;
        }
    }
    if (!o->run_dir) {
        if (speaker)
            fprintf(stderr, "shiftnas %s: RUN_DIR is required (try 'shiftnas %s --help')\n",
                    name, name);
        return SN_EXIT_USAGE;
    }
    return SN_EXIT_OK;
}

/* ---- evaluation ------------------------------------------------------------ */

typedef struct {
    sn_arch arch;
    sn_cost cost;
    double val_accuracy, test_accuracy;
} subnet_result;

/* Validation accuracy on the whole held-out split, test accuracy on the test
 * set; the test logits [test images, classes] and labels too unless NULL. */
static int measure(sn_trained_run *run, const sn_arch *arch, subnet_result *r,
                   float *test_logits, int32_t *test_labels)
{
    double loss;
    r->arch = *arch;
    sn_arch_canonicalize(run->space, &r->arch);
    r->cost = sn_space_cost(run->space, &r->arch);
    r->val_accuracy = NAN;
    if (run->split.validation_count > 0)
        SN_TRY(sn_evaluate_subnet(&run->evaluator, &r->arch, run->data.train_main, run->split.validation,
                                  run->split.validation_count, &loss, &r->val_accuracy));
    return sn_evaluate_subnet_logits(&run->evaluator, &r->arch, run->data.test, run->test_indices,
                                     run->data.test_count, test_logits, test_labels, &loss,
                                     &r->test_accuracy);
}

/* The evolution's fitness: validation accuracy on the first
 * evolution_validation_images held-out images (the same for every
 * candidate, so candidates are compared on one set; never the images a
 * shift run's probability updates used: sn_held_out_plan), a generation's
 * candidates shared out over the ranks. A line of progress every [run]
 * progress_seconds, for Slurm logs, after a generation. */
typedef struct {
    sn_search_fitness *ranks;
    double target;
    int evaluated, budget;
    double best, start, last_print, progress_seconds;
    FILE *out; /* stdout; stderr under --json, whose stdout is the document; NULL off rank 0 */
} search_progress;

static int fitness(void *context, const sn_arch *archs, int count, double *values)
{
    search_progress *progress = context;
    SN_TRY(sn_search_fitness_evaluate(progress->ranks, archs, count, values));
    progress->evaluated += count;
    for (int i = 0; i < count; i++)
        if (values[i] > progress->best)
            progress->best = values[i];
    double now = sn_now();
    if (progress->out && now - progress->last_print >= progress->progress_seconds &&
        progress->evaluated < progress->budget) {
        char target[32], elapsed[32], eta[32];
        sn_format_macs(target, sizeof target, progress->target);
        double spent = now - progress->start;
        sn_format_duration(elapsed, sizeof elapsed, spent);
        sn_format_duration(eta, sizeof eta,
                           spent / progress->evaluated * (progress->budget - progress->evaluated));
        fprintf(progress->out,
                "  evolution %s: %d/%d subnets, best fitness %.4f, elapsed %s eta %s\n", target,
                progress->evaluated, progress->budget, progress->best, elapsed, eta);
        fflush(progress->out);
        progress->last_print = now;
    }
    return SN_OK;
}

/* The figures of a search's answer (measure's, with the images shared out
 * over the ranks: the same bits at every rank count). */
static int measure_on_ranks(const sn_dist *dist, sn_trained_run *run, const sn_arch *arch,
                            subnet_result *r)
{
    r->arch = *arch;
    sn_arch_canonicalize(run->space, &r->arch);
    r->cost = sn_space_cost(run->space, &r->arch);
    sn_search_image_set sets[2] = {
        {run->data.test, run->test_indices, run->data.test_count},
        {run->data.train_main, run->split.validation, run->split.validation_count}};
    int with_validation = run->split.validation_count > 0;
    double accuracies[2];
    SN_TRY(sn_search_measure(dist, &run->evaluator, &r->arch, sets, with_validation ? 2 : 1,
                             accuracies));
    r->test_accuracy = accuracies[0];
    r->val_accuracy = with_validation ? accuracies[1] : NAN;
    return SN_OK;
}

/* The generator's answer within the target. The argmax for C lands within a
 * few percent of C, on either side, and the budget is hard, so we ask the
 * generator for the targets C * (1 + i/1000), i = -200..200, and keep the
 * answer with the most MACs that fits (ties: the one asked closest to C).
 * Each argmax takes ~0.1 ms. Falls back to the smallest subnet. */
static int generator_answer(sn_trained_run *run, double target, sn_arch *arch)
{
    sn_arch candidate;
    int64_t best = -1;
    sn_arch_smallest(run->space, arch);
    for (int step = 0; step <= 400; step++) {
        /* 0, -1, +1, -2, +2, ...: closer targets first */
        int i = step % 2 == 1 ? -(step + 1) / 2 : step / 2;
        SN_TRY(sn_generator_argmax(&run->generator, run->space, target * (1.0 + 0.001 * i),
                                   &candidate));
        sn_arch_canonicalize(run->space, &candidate);
        int64_t macs = sn_space_cost(run->space, &candidate).macs;
        if ((double)macs <= target && macs > best) {
            best = macs;
            *arch = candidate;
        }
    }
    return SN_OK;
}

/* A row of the search table (shiftnas/runfiles.h); target 0 for eval. */
static int append_row(const char *path, const char *method, const char *strategy, double target,
                      const char *arch, const subnet_result *r, int evaluations, double seconds)
{
    sn_search_row row = {.target = target,
                         .macs = r->cost.macs,
                         .params = r->cost.parameters,
                         .val_accuracy = r->val_accuracy,
                         .test_accuracy = r->test_accuracy,
                         .evaluations = evaluations,
                         .seconds = seconds};
    snprintf(row.method, sizeof row.method, "%s", method);
    snprintf(row.strategy, sizeof row.strategy, "%s", strategy);
    snprintf(row.arch, sizeof row.arch, "%s", arch);
    return sn_search_table_append(path, &row, 1);
}

/* The figures of one subnet as JSON keys (search's rows and eval's object). */
static void json_subnet(sn_json_writer *json, const char *arch, const subnet_result *r)
{
    sn_json_key_string(json, "arch", arch);
    sn_json_key_int(json, "macs", r->cost.macs);
    sn_json_key_int(json, "parameters", r->cost.parameters);
    sn_json_key_number(json, "val_accuracy", r->val_accuracy); /* null without a held-out split */
    sn_json_key_number(json, "test_accuracy", r->test_accuracy);
}

/* One result: a line of the table on `out`, or an object of the --json
 * document's results; and a row of the search table at csv_path. */
static int print_row(FILE *out, sn_json_writer *json, const char *csv_path, const char *method,
                     const char *strategy, double target, const subnet_result *r,
                     const sn_space *space, int evaluations, double seconds)
{
    char text[SN_ARCH_TEXT_MAX], target_text[32], macs_text[32];
    if (sn_arch_format(space, &r->arch, text, sizeof text) != SN_OK)
        snprintf(text, sizeof text, "(unprintable)");
    sn_format_macs(target_text, sizeof target_text, target);
    sn_format_macs(macs_text, sizeof macs_text, (double)r->cost.macs);
    if (json) {
        sn_json_object_begin(json);
        sn_json_key_string(json, "method", method);
        sn_json_key_number(json, "target_macs", target);
        json_subnet(json, text, r);
        sn_json_key_int(json, "evaluations", evaluations);
        sn_json_key_number(json, "seconds", seconds);
        sn_json_object_end(json);
    } else {
        fprintf(out, "%-10s %8s %8s %9.1fk %8.4f %8.4f  %s\n", method, target_text, macs_text,
                (double)r->cost.parameters / 1e3, r->val_accuracy, r->test_accuracy, text);
        fflush(out);
    }
    return append_row(csv_path, method, strategy, target, text, r, evaluations, seconds);
}

/* What a search prints and writes: rank 0 alone (speaker) prints the table
 * or the JSON document and appends to the CSV; a failure to write there is
 * agreed with the other ranks before they go on. */
typedef struct {
    const sn_dist *dist;
    int speaker;
    const char *csv_path;
    sn_json_writer *json; /* NULL for the text table */
} search_output;

static int output_row(const search_output *o, const char *method, const char *strategy,
                      double target, const subnet_result *r, const sn_space *space,
                      int evaluations, double seconds)
{
    int status = SN_OK;
    if (o->speaker)
        status = print_row(stdout, o->json, o->csv_path, method, strategy, target, r, space,
                           evaluations, seconds);
    return sn_dist_agree(o->dist, status);
}

static int check_targets(const sn_space *space, const double *targets, int count)
{
    sn_arch smallest;
    sn_arch_smallest(space, &smallest);
    int64_t smallest_macs = sn_space_cost(space, &smallest).macs;
    for (int t = 0; t < count; t++)
        if (targets[t] < (double)smallest_macs) {
            char a[32], b[32];
            sn_format_macs(a, sizeof a, targets[t]);
            sn_format_macs(b, sizeof b, (double)smallest_macs);
            return sn_error_set(SN_ERR_ARGUMENT,
                                "target %s is below the smallest subnet of the space (%s MACs)",
                                a, b);
        }
    return SN_OK;
}

/* The first lines of the table, or the document's keys from "strategy" to
 * the opening of "results" (rank 0). */
static void output_header(const search_output *o, const sn_trained_run *run,
                          const sn_evolution_settings *settings, int64_t fitness_images)
{
    const sn_config *c = &run->config;
    sn_json_writer *json = o->json;
    if (!o->speaker)
        return;
    if (json) {
        sn_json_key_string(json, "strategy", c->search_strategy);
        sn_json_key_int(json, "steps", run->steps);
        sn_json_key(json, "evolution");
        sn_json_object_begin(json);
        sn_json_key_int(json, "subnets_per_target", settings->evaluations);
        sn_json_key_int(json, "population", settings->population);
        sn_json_key_int(json, "fitness_images", fitness_images);
        sn_json_object_end(json);
        sn_json_key(json, "results");
        sn_json_array_begin(json);
    } else {
        printf("search: %s run (%lld steps); evolution of %d subnets per target (population %d), "
               "fitness on %lld validation images\n",
               c->search_strategy, (long long)run->steps, settings->evaluations,
               settings->population, (long long)fitness_images);
        printf("%-10s %8s %8s %10s %8s %8s  %s\n", "method", "target", "MACs", "params", "val acc",
               "test acc", "subnet");
    }
}

/* One target: the generator's answer (shift runs) and the evolution's. */
static int search_target(sn_trained_run *run, const search_output *o, sn_search_fitness *ranks,
                         const sn_evolution_settings *settings, double target)
{
    const sn_config *c = &run->config;
    if (run->have_generator) {
        double start = sn_now();
        sn_arch answer;
        subnet_result r;
        SN_TRY(generator_answer(run, target, &answer));
        SN_TRY(measure_on_ranks(o->dist, run, &answer, &r));
        SN_TRY(output_row(o, "generator", c->search_strategy, target, &r, run->space, 0,
                          sn_now() - start));
    }
    /* The evolution is the same for every strategy (strategies are compared
     * by it), so it never sees the generator's answer. Its one seed is
     * strategy-independent: the largest subnet shrunk at random to fit, so
     * that the top of the budget is explored. */
    sn_arch seed_arch;
    sn_arch_largest(run->space, &seed_arch);
    int64_t fitted = sn_evolution_shrink_to_fit(run->space, (int64_t)floor(target),
                                                (uint64_t)c->seed, &seed_arch);
    if (fitted < 0)
        return (int)fitted;
    double start = sn_now();
    search_progress progress = {ranks, target, 0, settings->evaluations, -1.0, start, start,
                                (double)c->progress_seconds,
                                !o->speaker ? NULL : o->json ? stderr : stdout};
    sn_evolution_result found;
    SN_TRY(sn_evolution_search_batched(run->space, settings, (int64_t)floor(target),
                                       (uint64_t)c->seed, &seed_arch, 1, fitness, &progress,
                                       &found));
    subnet_result r;
    SN_TRY(measure_on_ranks(o->dist, run, &found.best, &r));
    return output_row(o, "evolution", c->search_strategy, target, &r, run->space,
                      found.evaluations, sn_now() - start);
}

/* Every target, on every rank; o->json, when set, is a buffered writer whose
 * document's object is open (the keys from "strategy" on are written here). */
static int search_targets(sn_trained_run *run, const sn_dist *dist, const double *targets,
                          int count, const search_output *o, const sn_held_out_plan *plan)
{
    const sn_config *c = &run->config;
    SN_TRY(check_targets(run->space, targets, count));
    /* ours, before the long search */
    SN_TRY(sn_dist_agree(dist, o->speaker ? sn_search_table_append(o->csv_path, NULL, 0) : SN_OK));
    sn_evolution_settings settings;
    sn_evolution_settings_from_config(&settings, c);
    int64_t fitness_images = plan->fitness_count;
    sn_search_fitness ranks;
    /* the fitness only ranks candidates: fewer recalibration images keep
     * the ranking (doc/algorithm.md) at a fraction of the cost */
    sn_subnet_evaluator ranking = run->evaluator;
    ranking.recalibration_batches = c->evolution_recalibration_batches;
    SN_TRY(sn_search_fitness_init(&ranks, dist, run->space, &ranking, run->data.train_main,
                                  run->split.validation, fitness_images, settings.population));
    output_header(o, run, &settings, fitness_images);
    int status = SN_OK;
    for (int t = 0; t < count && status == SN_OK; t++)
        status = search_target(run, o, &ranks, &settings, targets[t]);
    sn_search_fitness_free(&ranks);
    if (status == SN_OK && o->speaker && o->json) {
        sn_json_array_end(o->json);
        sn_json_key_string(o->json, "csv", o->csv_path);
    } else if (status == SN_OK && o->speaker) {
        printf("results appended to %s\n", o->csv_path);
    }
    return status;
}

/* The fitness images, apart from a shift run's (its config.ini with this
 * search's --set values). The same on every rank. */
static int held_out_plan(const sn_trained_run *run, const char *run_dir, sn_held_out_plan *plan)
{
    int status = sn_held_out_plan_make(&run->config, run->split.validation_count, plan);
    if (status != SN_OK) {
        char message[1024];
        snprintf(message, sizeof message, "%s", sn_error_message());
        sn_error_set(status, "%s: %s", run_dir, message);
    }
    return status;
}

/* eval runs on one process: several copies started by mpirun or srun
 * would each do the whole work and append the same row. */
static int refuse_several_processes(const char *command)
{
    int rank = 0;
    int processes = sn_dist_launched_processes(&rank);
    if (processes == 1)
        return SN_EXIT_OK;
    if (rank == 0)
        fprintf(stderr,
                "shiftnas %s: started as %d processes (mpirun/srun); %s runs on one process: "
                "start it without a launcher or with one task\n",
                command, processes, command);
    return SN_EXIT_USAGE;
}

/* The search's failure, agreed (sn_dist_agree): the rank whose own failure
 * it is prints it, naming itself when there are several ranks; every rank
 * exits 1. Failures on one rank are agreed where they happen, those that
 * happen alike on every rank (a bad target, a NaN fitness) at the end, so
 * rank 0 speaks for them. */
static int search_failure(const sn_dist *dist, int status)
{
    sn_cli_rank_failure(dist, status, "search", sn_cli_report_error);
    return SN_EXIT_FAILURE;
}

/* The command on every rank: the same arguments on each (a usage error is
 * printed once, by rank 0); rank 0 holds the lock and writes. */
static int search_on_ranks(int argc, char **argv, const sn_dist *dist)
{
    options o;
    int speaker = sn_dist_rank(dist) == 0;
    /* usage errors and --help come alike on every rank: rank 0 prints them */
    int code = parse_options(argc, argv, "search", search_usage, &o, speaker);
    if (code == SN_EXIT_OK && !o.targets) {
        if (speaker)
            fprintf(stderr,
                    "shiftnas search: --targets LIST is required (e.g. --targets 2.5M,5M,8M)\n");
        code = SN_EXIT_USAGE;
    }
    double targets[TARGETS_MAX];
    int count = 0;
    if (code == SN_EXIT_OK && parse_targets(o.targets, targets, &count, speaker) != 0)
        code = SN_EXIT_USAGE;
    if (code != SN_EXIT_OK) {
        free(o.overrides);
        return code < 0 ? SN_EXIT_OK : code;
    }
    char csv_path[1100];
    if (o.csv)
        snprintf(csv_path, sizeof csv_path, "%s", o.csv);
    else
        snprintf(csv_path, sizeof csv_path, "%s/search.csv", o.run_dir);
    /* one writer per run directory: search.csv is appended to */
    sn_run_lock *lock = NULL;
    int status = SN_OK;
    if (speaker && sn_cli_lock_csv_directory(&lock, "search", csv_path, "shiftnas search") != SN_OK)
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
        sn_json_writer json;
        search_output out = {dist, speaker, csv_path, speaker && o.json ? &json : NULL};
        if (out.json && (status = sn_json_begin_buffered(&json, stdout)) == SN_OK) {
            sn_json_object_begin(&json);
            sn_json_key_string(&json, "run", o.run_dir);
        }
        sn_held_out_plan plan;
        if (status == SN_OK)
            status = held_out_plan(&run, o.run_dir, &plan);
        if (status == SN_OK)
            status = search_targets(&run, dist, targets, count, &out, &plan);
        if (out.json && status == SN_OK) {
            sn_json_object_end(&json);
            status = sn_json_end(&json);
        } else if (out.json) {
            sn_json_discard(&json);
        }
        sn_trained_run_close(&run);
    }
    /* every rank gets here, together */
    status = sn_dist_agree(dist, status);
    int exit_code = status == SN_OK ? SN_EXIT_OK : search_failure(dist, status);
    sn_run_lock_release(lock);
    return exit_code;
}

int sn_command_search(int argc, char **argv)
{
    return sn_cli_on_ranks(argc, argv, "search", search_on_ranks);
}

static int print_eval_json(const char *run_dir, const sn_trained_run *run, const char *arch,
                           const subnet_result *r)
{
    sn_json_writer json;
    sn_json_begin(&json, stdout);
    sn_json_object_begin(&json);
    sn_json_key_string(&json, "run", run_dir);
    sn_json_key_string(&json, "strategy", sn_strategy_name(run->strategy));
    json_subnet(&json, arch, r);
    sn_json_key_int(&json, "validation_images", run->split.validation_count);
    sn_json_key_int(&json, "test_images", run->data.test_count);
    sn_json_object_end(&json);
    return sn_json_end(&json);
}

/* eval --logits: buffers for the test set's logits and labels (NULL, NULL
 * without the option). */
static int logits_buffers(const sn_trained_run *run, const options *o, float **logits,
                          int32_t **labels)
{
    *logits = NULL;
    *labels = NULL;
    if (!o->logits)
        return SN_OK;
    size_t images = (size_t)(run->data.test_count > 0 ? run->data.test_count : 1);
    *logits = malloc(images * (size_t)run->data.shape.classes * sizeof(float));
    *labels = malloc(images * sizeof(int32_t));
    if (!*logits || !*labels)
        return sn_error_set(SN_ERR_NOMEM, "--logits: out of memory for %zu images' logits",
                            images);
    return SN_OK;
}

/* The subnet of o->arch measured and printed; its row appended to --csv,
 * its test logits written to --logits; --json prints one object instead. */
static int evaluate_one(sn_trained_run *run, const options *o, double start)
{
    sn_arch arch;
    subnet_result r;
    int status = sn_arch_parse(run->space, o->arch, &arch);
    if (status != SN_OK)
        return sn_error_set(status, "--arch: %s", sn_error_message());
    float *logits = NULL;
    int32_t *labels = NULL;
    if ((status = logits_buffers(run, o, &logits, &labels)) == SN_OK &&
        (status = measure(run, &arch, &r, logits, labels)) == SN_OK) {
        char text[SN_ARCH_TEXT_MAX], macs[32];
        if (sn_arch_format(run->space, &r.arch, text, sizeof text) != SN_OK)
            snprintf(text, sizeof text, "(unprintable)");
        sn_format_macs(macs, sizeof macs, (double)r.cost.macs);
        if (!o->json)
            printf("subnet %s\nMACs %lld (%s), parameters %lld\nval accuracy %.4f (%lld images), "
                   "test accuracy %.4f (%lld images)\n",
                   text, (long long)r.cost.macs, macs, (long long)r.cost.parameters,
                   r.val_accuracy, (long long)run->split.validation_count, r.test_accuracy,
                   (long long)run->data.test_count);
        if (o->csv)
            status = append_row(o->csv, "eval", sn_strategy_name(run->strategy), 0, text, &r, 1,
                                 sn_now() - start);
        if (status == SN_OK && o->logits &&
            (status = sn_logits_file_write(o->logits, text, logits, labels, run->data.test_count,
                                           run->data.shape.classes)) == SN_OK &&
            !o->json)
            printf("test logits written to %s\n", o->logits);
        /* after the CSV and the logits: a failed command prints no document */
        if (status == SN_OK && o->json)
            status = print_eval_json(o->run_dir, run, text, &r);
    }
    free(logits);
    free(labels);
    return status;
}

int sn_command_eval(int argc, char **argv)
{
    options o;
    int code = refuse_several_processes("eval");
    if (code != SN_EXIT_OK)
        return code;
    code = parse_options(argc, argv, "eval", eval_usage, &o, 1);
    if (code == SN_EXIT_OK && !o.arch) {
        fprintf(stderr, "shiftnas eval: --arch STRING is required\n");
        code = SN_EXIT_USAGE;
    }
    if (code != SN_EXIT_OK) {
        free(o.overrides);
        return code < 0 ? SN_EXIT_OK : code;
    }
    double start = sn_now();
    sn_run_lock *lock = NULL;
    if (o.csv && sn_cli_lock_csv_directory(&lock, "eval", o.csv, "shiftnas eval --csv") != SN_OK) {
        free(o.overrides);
        return SN_EXIT_FAILURE;
    }
    sn_trained_run run;
    int status = o.logits ? sn_export_path_check(o.logits) : SN_OK;
    if (status == SN_OK)
        status = sn_trained_run_open(&run, o.run_dir, o.overrides, o.override_count);
    free(o.overrides);
    if (status == SN_OK) {
        status = evaluate_one(&run, &o, start);
        sn_trained_run_close(&run);
    }
    if (status != SN_OK) {
        fflush(stdout);
        sn_cli_report_error("eval");
    }
    sn_run_lock_release(lock);
    return status == SN_OK ? SN_EXIT_OK : SN_EXIT_FAILURE;
}
