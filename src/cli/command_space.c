/* shiftnas space --config FILE [--set ...] [--samples N] [--buckets K |
 * --bucket-step MACS] [--plot FILE.png] [--seed S] [--arch TEXT] [--json]
 *
 * Describes the configured search space without loading any data: its
 * dimensions, size, extremes, FLOPs buckets, and the MACs distribution of
 * uniformly sampled subnets (near-normal: uniform sampling rarely visits the
 * extreme buckets, which is ShiftNAS's motivation). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "histogram_plot.h"
#include "json_writer.h"
#include "option_values.h"
#include "space_probes.h"
#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/format.h"
#include "shiftnas/probes.h"
#include "shiftnas/rng.h"
#include "shiftnas/settings.h"
#include "shiftnas/space.h"

static const char space_usage[] =
    "usage: shiftnas space --config FILE [--set SECTION.KEY=VALUE ...] [--samples N]\n"
    "                      [--buckets K | --bucket-step MACS] [--plot FILE.png] [--seed S]\n"
    "                      [--arch TEXT] [--json]\n"
    "       shiftnas space --config FILE [--set SECTION.KEY=VALUE ...] probes\n"
    "                      [--per-bucket N] [--seed S] [--max-draws D]\n"
    "\n"
    "Describes the [space] search space of a configuration: its dimensions and choices, the\n"
    "number of architectures, the smallest and largest subnet (MACs, parameters, canonical\n"
    "text), the FLOPs bucket edges and a histogram of the MACs of uniformly sampled subnets.\n"
    "No data is loaded: a [space] image size, channel or class count of 0 takes the data set's\n"
    "documented shape (fashion-mnist: 1x28x28, 10 classes).\n"
    "\n"
    "  --config FILE      INI configuration (see doc/configuration.md, doc/search-spaces.md)\n"
    "  --set S.K=V        override one key after the file (repeatable)\n"
    "  --samples N        subnets sampled uniformly for the histogram (default 10000)\n"
    "  --buckets K        K equal-width FLOPs buckets over [smallest, largest] (default 8)\n"
    "  --bucket-step M    buckets M MACs wide instead (the last one may be narrower)\n"
    "  --plot FILE.png    also draw the histogram as a PNG bar chart (640x360: share of the\n"
    "                     samples per MACs bucket, with axes, ticks and a title)\n"
    "  --seed S           seed of the sampler (default [run] seed)\n"
    "  --arch TEXT        also count one architecture, given as its canonical text\n"
    "                     (e.g. 'cnn:d=1,2,3;w=12,30,64;k=3,5,3,5,5,3;e=2,3,4,4,2,3')\n"
    "  --json             print one JSON object instead of the text: config, space,\n"
    "                     image_channels, image_size, classes, choice_total, dimensions\n"
    "                     [{kind, stage, block|layer, choices}], architectures, smallest,\n"
    "                     largest, arch {macs, parameters, arch}, flops_span, bucket_edges,\n"
    "                     histogram {samples, seed, buckets [{from, to, count, share}]},\n"
    "                     sample_macs {mean, stddev, skewness}, plot\n"
    "  -h, --help         this text\n"
    "\n"
    "probes prints a probe panel instead (doc/probes.md): N distinct subnets per MACs bucket\n"
    "of [search] buckets (or bucket_step), drawn uniformly with seed S (stream (S,\n"
    "SN_RNG_PROBE_PANEL, 0, i) for draw i) until every bucket is full or D draws are made,\n"
    "under a comment header saying how it was made and which buckets came short.\n"
    "  --per-bucket N     subnets per bucket (default 10, at most 156)\n"
    "  --max-draws D      uniform draws at most (default 10000000, at most 4294967296)\n"
    "\n"
    "Exit status: 0 on success, 1 for a bad configuration or file, 2 for a bad command line.\n";

enum { MAX_BUCKETS = 1000 };

typedef struct {
    const char *config_path, *plot_path, *arch_text;
    long long samples, buckets, seed;
    double bucket_step;
    int have_seed;
    int json;
    int probes, have_samples; /* `probes`, and whether --samples was given */
    int have_probe_options;   /* --per-bucket or --max-draws given */
    long long per_bucket, max_draws;
} space_options;

/* By sn_dimension_kind. */
static const char *const dimension_names[] = {"depth", "width", "kernel",   "expand ratio",
                                              "embed", "heads", "mlp ratio"};

static void print_dimension(const sn_space *space, int d)
{
    const sn_dimension *dim = &space->dimensions[d];
    char where[64] = "";
    if (space->type == SN_SPACE_CNN && dim->block >= 0)
        snprintf(where, sizeof where, "stage %d block %d ", dim->stage + 1, dim->block + 1);
    else if (space->type == SN_SPACE_CNN)
        snprintf(where, sizeof where, "stage %d ", dim->stage + 1);
    else if (dim->block >= 0)
        snprintf(where, sizeof where, "layer %d ", dim->block + 1);
    printf("  %s%s:", where, dimension_names[dim->kind]);
    for (int j = 0; j < dim->choice_count; j++)
        printf("%s %g", j ? "," : "", dim->choices[j]);
    printf("\n");
}

static int print_extreme(const sn_space *space, const char *name, const sn_arch *arch,
                         sn_cost *cost)
{
    char text[SN_ARCH_TEXT_MAX], macs[32], params[32];
    if (sn_arch_format(space, arch, text, sizeof text) != SN_OK)
        return SN_ERR_ARGUMENT;
    *cost = sn_space_cost(space, arch);
    sn_format_macs(macs, sizeof macs, (double)cost->macs);
    sn_format_macs(params, sizeof params, (double)cost->parameters);
    printf("%s: %" PRId64 " MACs (%s), %" PRId64 " parameters (%s)\n  %s\n", name, cost->macs,
           macs, cost->parameters, params, text);
    return SN_OK;
}

/* Everything the command prints, computed before any of it is printed
 * (the text, --json and --plot show the same figures). */
typedef struct {
    sn_space space;
    sn_arch smallest, largest, chosen;
    sn_cost low, high, chosen_cost;
    int have_chosen;
    int buckets;
    double step;     /* bucket width; the last bucket may be narrower */
    double *edges;   /* buckets + 1 MACs values: bucket b is [edges[b], edges[b + 1]) */
    int64_t *counts; /* per bucket */
    double mean, stddev, skewness;
} space_summary;

static void free_summary(space_summary *s)
{
    free(s->edges);
    free(s->counts);
}

/* Equal-width buckets over [smallest, largest]: options->buckets of them,
 * or as many as --bucket-step needs. */
static int make_buckets(space_summary *s, const space_options *options)
{
    double lo = (double)s->low.macs, range = (double)(s->high.macs - s->low.macs);
    int buckets = (int)options->buckets;
    double step = range / buckets;
    if (options->bucket_step > 0) {
        step = options->bucket_step;
        double needed = ceil(range / step);
        if (needed > MAX_BUCKETS) {
            fprintf(stderr, "shiftnas space: --bucket-step %g gives %.0f buckets (at most %d)\n",
                    step, needed, MAX_BUCKETS);
            return SN_EXIT_USAGE;
        }
        buckets = needed < 1 ? 1 : (int)needed;
    }
    if (!(step > 0))
        step = 1; /* a space of one FLOPs value: one bucket holds it */
    s->buckets = buckets;
    s->step = step;
    s->edges = malloc((size_t)(buckets + 1) * sizeof *s->edges);
    s->counts = calloc((size_t)buckets, sizeof *s->counts);
    if (!s->edges || !s->counts) {
        fprintf(stderr, "shiftnas space: out of memory\n");
        return SN_EXIT_FAILURE;
    }
    for (int b = 0; b <= buckets; b++)
        s->edges[b] = b == buckets ? (double)s->high.macs : lo + b * step;
    return SN_EXIT_OK;
}

/* The histogram of uniformly sampled subnets and the moments of their MACs. */
static int sample_space(space_summary *s, const space_options *options)
{
    double lo = s->edges[0], step = s->step;
    double *macs = malloc((size_t)options->samples * sizeof *macs);
    if (!macs) {
        fprintf(stderr, "shiftnas space: out of memory for %lld samples\n", options->samples);
        return SN_EXIT_FAILURE;
    }
    double sum = 0, sum2 = 0, sum3 = 0;
    for (long long i = 0; i < options->samples; i++) {
        sn_rng_stream stream;
        sn_rng_stream_init(&stream, (uint64_t)options->seed, SN_RNG_SAMPLER, 0, (uint32_t)i);
        sn_arch arch;
        sn_arch_sample_uniform(&s->space, &stream, &arch);
        macs[i] = (double)sn_space_cost(&s->space, &arch).macs;
        int b = (int)floor((macs[i] - lo) / step);
        s->counts[b < 0 ? 0 : b >= s->buckets ? s->buckets - 1 : b]++;
        sum += macs[i];
    }
    double n = (double)options->samples, mean = sum / n;
    for (long long i = 0; i < options->samples; i++) {
        double d = macs[i] - mean;
        sum2 += d * d;
        sum3 += d * d * d;
    }
    free(macs);
    double variance = sum2 / n;
    s->mean = mean;
    s->stddev = sqrt(variance);
    s->skewness = variance > 0 ? (sum3 / n) / (variance * s->stddev) : 0.0;
    return SN_EXIT_OK;
}

/* The configured space without its data. */
static int space_of_config(const sn_config *config, sn_space *space)
{
    /* The data set's documented shape; an HDF5 set's is only known by
     * reading it, so [space] must give it. */
    int channels = 0, size = 0, classes = 0;
    if (strcmp(config->dataset, "fashion-mnist") == 0)
        channels = 1, size = 28, classes = 10;
    if (sn_space_from_config(space, config, channels, size, classes) != SN_OK) {
        sn_cli_report_error(NULL); /* the message starts with "space:" */
        return SN_EXIT_FAILURE;
    }
    return SN_EXIT_OK;
}

static int summarize_space(const sn_config *config, const space_options *options,
                           space_summary *s)
{
    if (space_of_config(config, &s->space) != SN_EXIT_OK)
        return SN_EXIT_FAILURE;
    s->have_chosen = options->arch_text != NULL;
    if (s->have_chosen && sn_arch_parse(&s->space, options->arch_text, &s->chosen) != SN_OK) {
        sn_cli_report_error("space --arch");
        return SN_EXIT_FAILURE;
    }
    sn_arch_smallest(&s->space, &s->smallest);
    sn_arch_largest(&s->space, &s->largest);
    s->low = sn_space_cost(&s->space, &s->smallest);
    s->high = sn_space_cost(&s->space, &s->largest);
    if (s->have_chosen)
        s->chosen_cost = sn_space_cost(&s->space, &s->chosen);
    int exit_code = make_buckets(s, options);
    if (exit_code == SN_EXIT_OK)
        exit_code = sample_space(s, options);
    return exit_code;
}

static double flops_span(const space_summary *s)
{
    return (double)s->high.macs / (double)(s->low.macs > 0 ? s->low.macs : 1);
}

/* ---- text ------------------------------------------------------------------ */

static int print_text(const space_summary *s, const space_options *options)
{
    const sn_space *space = &s->space;
    printf("space: %s, input %dx%dx%d, %d classes\n",
           space->type == SN_SPACE_CNN ? "cnn" : "vit", space->image_channels, space->image_size,
           space->image_size, space->classes);
    printf("dimensions: %d (%d choices in all)\n", space->dimension_count, space->choice_total);
    for (int d = 0; d < space->dimension_count; d++)
        print_dimension(space, d);
    printf("architectures: %.6g\n", sn_space_architecture_count(space));
    sn_cost cost;
    SN_TRY(print_extreme(space, "smallest", &s->smallest, &cost));
    SN_TRY(print_extreme(space, "largest", &s->largest, &cost));
    if (s->have_chosen)
        SN_TRY(print_extreme(space, "arch", &s->chosen, &cost));
    printf("FLOPs span: %.2fx (largest / smallest MACs)\n", flops_span(s));
    printf("buckets: %d, edges (MACs):", s->buckets);
    for (int b = 0; b <= s->buckets; b++)
        printf("%s %.0f", b ? "," : "", s->edges[b]);
    printf("\n");

    printf("histogram of %lld uniformly sampled subnets (seed %lld):\n", options->samples,
           options->seed);
    int64_t fullest = 1;
    for (int b = 0; b < s->buckets; b++)
        if (s->counts[b] > fullest)
            fullest = s->counts[b];
    for (int b = 0; b < s->buckets; b++) {
        char from[32], to[32];
        sn_format_macs(from, sizeof from, s->edges[b]);
        sn_format_macs(to, sizeof to, s->edges[b + 1]);
        int bar = (int)llround(50.0 * (double)s->counts[b] / (double)fullest);
        printf("  [%9s, %9s%s %7" PRId64 " %5.1f%% ", from, to, b + 1 == s->buckets ? "]" : ")",
               s->counts[b], 100.0 * (double)s->counts[b] / (double)options->samples);
        for (int i = 0; i < bar; i++)
            putchar('#');
        putchar('\n');
    }
    char mean_text[32], stddev_text[32];
    sn_format_macs(mean_text, sizeof mean_text, s->mean);
    sn_format_macs(stddev_text, sizeof stddev_text, s->stddev);
    printf("MACs of the samples: mean %.0f (%s), stddev %.0f (%s), skewness %.3f\n", s->mean,
           mean_text, s->stddev, stddev_text, s->skewness);
    return SN_OK;
}

/* ---- --json ---------------------------------------------------------------- */

static void json_dimension(sn_json_writer *j, const sn_space *space, int d)
{
    const sn_dimension *dim = &space->dimensions[d];
    sn_json_object_begin(j);
    sn_json_key_string(j, "kind", dimension_names[dim->kind]);
    if (space->type == SN_SPACE_CNN)
        sn_json_key_int(j, "stage", dim->stage + 1);
    if (dim->block >= 0)
        sn_json_key_int(j, space->type == SN_SPACE_CNN ? "block" : "layer", dim->block + 1);
    sn_json_key(j, "choices");
    sn_json_array_begin_inline(j);
    for (int c = 0; c < dim->choice_count; c++)
        sn_json_number(j, dim->choices[c]);
    sn_json_array_end(j);
    sn_json_object_end(j);
}

static int json_extreme(sn_json_writer *j, const sn_space *space, const char *name,
                        const sn_arch *arch, sn_cost cost)
{
    char text[SN_ARCH_TEXT_MAX];
    SN_TRY(sn_arch_format(space, arch, text, sizeof text));
    sn_json_key(j, name);
    sn_json_object_begin(j);
    sn_json_key_int(j, "macs", cost.macs);
    sn_json_key_int(j, "parameters", cost.parameters);
    sn_json_key_string(j, "arch", text);
    sn_json_object_end(j);
    return SN_OK;
}

static void json_histogram(sn_json_writer *j, const space_summary *s, const space_options *options)
{
    sn_json_key(j, "bucket_edges");
    sn_json_array_begin_inline(j);
    for (int b = 0; b <= s->buckets; b++)
        sn_json_number(j, s->edges[b]);
    sn_json_array_end(j);
    sn_json_key(j, "histogram");
    sn_json_object_begin(j);
    sn_json_key_int(j, "samples", options->samples);
    sn_json_key_int(j, "seed", options->seed);
    sn_json_key(j, "buckets");
    sn_json_array_begin(j);
    for (int b = 0; b < s->buckets; b++) {
        sn_json_object_begin(j);
        sn_json_key_number(j, "from", s->edges[b]);
        sn_json_key_number(j, "to", s->edges[b + 1]);
        sn_json_key_int(j, "count", s->counts[b]);
        sn_json_key_number(j, "share", (double)s->counts[b] / (double)options->samples);
        sn_json_object_end(j);
    }
    sn_json_array_end(j);
    sn_json_object_end(j);
    sn_json_key(j, "sample_macs");
    sn_json_object_begin(j);
    sn_json_key_number(j, "mean", s->mean);
    sn_json_key_number(j, "stddev", s->stddev);
    sn_json_key_number(j, "skewness", s->skewness);
    sn_json_object_end(j);
}

static int print_json(const space_summary *s, const space_options *options)
{
    const sn_space *space = &s->space;
    sn_json_writer writer, *j = &writer;
    SN_TRY(sn_json_begin_buffered(j, stdout));
    sn_json_object_begin(j);
    sn_json_key_string(j, "config", options->config_path);
    sn_json_key_string(j, "space", space->type == SN_SPACE_CNN ? "cnn" : "vit");
    sn_json_key_int(j, "image_channels", space->image_channels);
    sn_json_key_int(j, "image_size", space->image_size);
    sn_json_key_int(j, "classes", space->classes);
    sn_json_key_int(j, "choice_total", space->choice_total);
    sn_json_key(j, "dimensions");
    sn_json_array_begin(j);
    for (int d = 0; d < space->dimension_count; d++)
        json_dimension(j, space, d);
    sn_json_array_end(j);
    sn_json_key_number(j, "architectures", sn_space_architecture_count(space));
    int status = json_extreme(j, space, "smallest", &s->smallest, s->low);
    if (status == SN_OK)
        status = json_extreme(j, space, "largest", &s->largest, s->high);
    if (status == SN_OK && s->have_chosen)
        status = json_extreme(j, space, "arch", &s->chosen, s->chosen_cost);
    if (status != SN_OK) {
        sn_json_discard(j);
        return status;
    }
    sn_json_key_number(j, "flops_span", flops_span(s));
    json_histogram(j, s, options);
    sn_json_key_string(j, "plot", options->plot_path);
    sn_json_object_end(j);
    return sn_json_end(j);
}

/* ---- --plot ------------------------------------------------------------------ */

static int plot_summary(const space_summary *s, const space_options *options)
{
    const char *name = strrchr(options->config_path, '/');
    name = name ? name + 1 : options->config_path;
    char title[256];
    snprintf(title, sizeof title, "%s (%s), %lld uniform samples", name,
             s->space.type == SN_SPACE_CNN ? "cnn" : "vit", options->samples);
    sn_histogram_plot plot = {title, s->buckets, s->edges, s->counts, options->samples};
    return sn_histogram_plot_write(options->plot_path, &plot);
}

/* Everything after the command line: returns an exit code. */
static int describe_space(const sn_config *config, const space_options *options)
{
    space_summary *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "shiftnas space: out of memory\n");
        return SN_EXIT_FAILURE;
    }
    int exit_code = summarize_space(config, options, s);
    if (exit_code == SN_EXIT_OK && !options->json && print_text(s, options) != SN_OK) {
        sn_cli_report_error("space");
        exit_code = SN_EXIT_FAILURE;
    }
    /* the plot before the JSON document, which names it */
    if (exit_code == SN_EXIT_OK && options->plot_path && plot_summary(s, options) != SN_OK) {
        sn_cli_report_error("space");
        exit_code = SN_EXIT_FAILURE;
    }
    if (exit_code == SN_EXIT_OK && options->json && print_json(s, options) != SN_OK) {
        sn_cli_report_error("space");
        exit_code = SN_EXIT_FAILURE;
    }
    if (exit_code == SN_EXIT_OK && options->plot_path && !options->json)
        printf("plot: %s\n", options->plot_path);
    free_summary(s);
    free(s);
    return exit_code;
}

/* `probes` takes only its own options: its buckets are [search]'s. */
static int check_mode(const space_options *o, int have_buckets)
{
    const char *other = o->probes
                            ? (have_buckets          ? "--buckets"
                               : o->bucket_step > 0  ? "--bucket-step"
                               : o->have_samples     ? "--samples"
                               : o->plot_path        ? "--plot"
                               : o->arch_text        ? "--arch"
                               : o->json             ? "--json"
                                                     : NULL)
                            : NULL;
    if (other) {
        fprintf(stderr,
                "shiftnas space: probes does not take %s (its buckets are [search]'s: --set "
                "search.buckets=K)\n",
                other);
        return SN_EXIT_USAGE;
    }
    if (!o->probes && o->have_probe_options) {
        fprintf(stderr, "shiftnas space: --per-bucket and --max-draws go with probes\n");
        return SN_EXIT_USAGE;
    }
    return SN_EXIT_OK;
}

static int make_probes(const sn_config *config, const space_options *o,
                       const char *const *overrides, int override_count)
{
    sn_space space;
    if (space_of_config(config, &space) != SN_EXIT_OK)
        return SN_EXIT_FAILURE;
    space_probes_request request = {config,        o->config_path, overrides, override_count,
                                    o->per_bucket, o->seed,        o->max_draws};
    return sn_cli_space_probes(&request, &space);
}

int sn_command_space(int argc, char **argv)
{
    space_options options = {NULL, NULL, NULL, 10000, 8, 0, 0.0, 0, 0, 0, 0, 0, 10, 10000000};
    sn_config config;
    sn_config_defaults(&config);
    const char **overrides = calloc((size_t)argc, sizeof *overrides);
    if (!overrides) {
        fprintf(stderr, "shiftnas space: out of memory\n");
        return SN_EXIT_FAILURE;
    }
    int override_count = 0, have_buckets = 0, exit_code = SN_EXIT_OK;
    static const sn_cli_valued_option valued[] = {
        {"--config", "a FILE"},         {"--set", "SECTION.KEY=VALUE"},
        {"--samples", "a count N"},     {"--buckets", "a count K"},
        {"--bucket-step", "MACS"},      {"--plot", "a FILE.png"},
        {"--seed", "a seed S"},         {"--arch", "an architecture text like cnn:d=1,2,3;..."},
        {"--per-bucket", "a count N"},  {"--max-draws", "a count D"},
        {NULL, NULL}};
    for (int i = 1; exit_code == SN_EXIT_OK && i < argc; i++) {
        const char *arg = argv[i];
        char problem[512], shown[SN_CLI_SHOWN_SIZE];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(space_usage, stdout);
            free(overrides);
            return SN_EXIT_OK;
        } else if (sn_cli_bad_value(valued, argc, argv, i, problem, sizeof problem)) {
            fprintf(stderr, "shiftnas space: %s\n", problem);
            exit_code = SN_EXIT_USAGE;
        } else if (strcmp(arg, "--config") == 0) {
            options.config_path = argv[++i];
        } else if (strcmp(arg, "--set") == 0) {
            overrides[override_count++] = argv[++i];
        } else if (strcmp(arg, "--arch") == 0) {
            options.arch_text = argv[++i];
        } else if (strcmp(arg, "--plot") == 0) {
            options.plot_path = argv[++i];
        } else if (strcmp(arg, "--json") == 0) {
            options.json = 1;
        } else if (strcmp(arg, "probes") == 0) {
            options.probes = 1;
        } else if (strcmp(arg, "--per-bucket") == 0) {
            options.have_probe_options = 1;
            exit_code = sn_cli_parse_count("space", arg, argv[++i], 1,
                                           SN_PROBE_PANEL_MAX / SN_BUCKETS_MAX,
                                           &options.per_bucket) == 0
                            ? SN_EXIT_OK
                            : SN_EXIT_USAGE;
        } else if (strcmp(arg, "--max-draws") == 0) {
            options.have_probe_options = 1;
            exit_code = sn_cli_parse_count("space", arg, argv[++i], 1, 4294967296LL,
                                           &options.max_draws) == 0
                            ? SN_EXIT_OK
                            : SN_EXIT_USAGE;
        } else if (strcmp(arg, "--samples") == 0) {
            options.have_samples = 1;
            exit_code = sn_cli_parse_count("space", arg, argv[++i], 1, 100000000, &options.samples) == 0
                            ? SN_EXIT_OK
                            : SN_EXIT_USAGE;
        } else if (strcmp(arg, "--buckets") == 0) {
            exit_code = sn_cli_parse_count("space", arg, argv[++i], 1, MAX_BUCKETS, &options.buckets) == 0
                            ? SN_EXIT_OK
                            : SN_EXIT_USAGE;
            have_buckets = 1;
        } else if (strcmp(arg, "--seed") == 0) {
            exit_code = sn_cli_parse_count("space", arg, argv[++i], 0, 281474976710655LL, &options.seed) == 0
                            ? SN_EXIT_OK
                            : SN_EXIT_USAGE;
            options.have_seed = 1;
        } else if (strcmp(arg, "--bucket-step") == 0) {
            char *end;
            const char *text = argv[++i];
            options.bucket_step = strtod(text, &end);
            if (end == text || *end != '\0' || !(options.bucket_step >= 1) ||
                !isfinite(options.bucket_step)) {
                fprintf(stderr, "shiftnas space: --bucket-step '%s' is not a number >= 1\n",
                        sn_cli_shown(shown, sizeof shown, text));
                exit_code = SN_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "shiftnas space: unknown argument '%s' (try 'shiftnas space --help')\n",
                    sn_cli_shown(shown, sizeof shown, arg));
            exit_code = SN_EXIT_USAGE;
        }
    }
    if (exit_code == SN_EXIT_OK && have_buckets && options.bucket_step > 0) {
        fprintf(stderr, "shiftnas space: give --buckets or --bucket-step, not both\n");
        exit_code = SN_EXIT_USAGE;
    }
    if (exit_code == SN_EXIT_OK)
        exit_code = check_mode(&options, have_buckets);
    if (exit_code == SN_EXIT_OK && !options.config_path) {
        fprintf(stderr, "shiftnas space: --config FILE is required (try 'shiftnas space --help')\n");
        exit_code = SN_EXIT_USAGE;
    }
    if (exit_code == SN_EXIT_OK && sn_config_load_file(&config, options.config_path) != SN_OK) {
        sn_cli_report_error("space");
        exit_code = SN_EXIT_FAILURE;
    }
    for (int i = 0; exit_code == SN_EXIT_OK && i < override_count; i++)
        if (sn_config_set(&config, overrides[i]) != SN_OK) {
            sn_cli_report_error("space");
            exit_code = SN_EXIT_FAILURE;
        }
    if (exit_code == SN_EXIT_OK && sn_config_validate(&config) != SN_OK) {
        sn_cli_report_error("space");
        exit_code = SN_EXIT_FAILURE;
    }
    if (exit_code == SN_EXIT_OK && !options.have_seed)
        options.seed = (long long)config.seed;
    if (exit_code == SN_EXIT_OK && options.probes)
        exit_code = make_probes(&config, &options, overrides, override_count);
    else if (exit_code == SN_EXIT_OK)
        exit_code = describe_space(&config, &options);
    free(overrides);
    return exit_code;
}
