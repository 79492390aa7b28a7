/* shiftnas space --config FILE [--set ...] [--samples N] [--buckets K |
 * --bucket-step MACS] [--plot FILE.png] [--seed S] [--arch TEXT]
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
#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/png.h"
#include "shiftnas/rng.h"
#include "shiftnas/settings.h"
#include "shiftnas/space.h"

static const char space_usage[] =
    "usage: shiftnas space --config FILE [--set SECTION.KEY=VALUE ...] [--samples N]\n"
    "                      [--buckets K | --bucket-step MACS] [--plot FILE.png] [--seed S]\n"
    "                      [--arch TEXT]\n"
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
    "  --plot FILE.png    also draw the histogram as a PNG bar chart\n"
    "  --seed S           seed of the sampler (default [run] seed)\n"
    "  --arch TEXT        also count one architecture, given as its canonical text\n"
    "                     (e.g. 'cnn:d=1,2,3;w=12,30,64;k=3,5,3,5,5,3;e=2,3,4,4,2,3')\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 on success, 1 for a bad configuration or file, 2 for a bad command line.\n";

enum { MAX_BUCKETS = 1000, PLOT_WIDTH = 640, PLOT_HEIGHT = 360 };

typedef struct {
    const char *config_path, *plot_path, *arch_text;
    long long samples, buckets, seed;
    double bucket_step;
    int have_seed;
} space_options;

/* Parses a whole-number option value in [lo, hi]. */
static int parse_count(const char *option, const char *text, long long lo, long long hi,
                       long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        fprintf(stderr, "shiftnas space: %s '%s' is not an integer in %lld..%lld\n", option, text,
                lo, hi);
        return SN_EXIT_USAGE;
    }
    *out = v;
    return SN_EXIT_OK;
}

/* "24.87M" for a report line. */
static void human(char *out, size_t size, double x)
{
    if (fabs(x) >= 1e9)
        snprintf(out, size, "%.2fG", x / 1e9);
    else if (fabs(x) >= 1e6)
        snprintf(out, size, "%.2fM", x / 1e6);
    else if (fabs(x) >= 1e3)
        snprintf(out, size, "%.2fK", x / 1e3);
    else
        snprintf(out, size, "%.0f", x);
}

static void print_dimension(const sn_space *space, int d)
{
    const sn_dimension *dim = &space->dimensions[d];
    static const char *const names[] = {"depth",  "width", "kernel",   "expand ratio",
                                        "embed",  "heads", "mlp ratio"};
    char where[64] = "";
    if (space->type == SN_SPACE_CNN && dim->block >= 0)
        snprintf(where, sizeof where, "stage %d block %d ", dim->stage + 1, dim->block + 1);
    else if (space->type == SN_SPACE_CNN)
        snprintf(where, sizeof where, "stage %d ", dim->stage + 1);
    else if (dim->block >= 0)
        snprintf(where, sizeof where, "layer %d ", dim->block + 1);
    printf("  %s%s:", where, names[dim->kind]);
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
    human(macs, sizeof macs, (double)cost->macs);
    human(params, sizeof params, (double)cost->parameters);
    printf("%s: %" PRId64 " MACs (%s), %" PRId64 " parameters (%s)\n  %s\n", name, cost->macs,
           macs, cost->parameters, params, text);
    return SN_OK;
}

/* The histogram as a bar chart: bars from the x axis up, scaled to the
 * fullest bucket, with the axes drawn in black on white. */
static int plot_histogram(const char *path, const int64_t *counts, int buckets)
{
    enum { LEFT = 40, RIGHT = 20, TOP = 20, BOTTOM = 30 };
    uint8_t *pixels = malloc((size_t)PLOT_WIDTH * PLOT_HEIGHT * 3);
    if (!pixels)
        return sn_error_set(SN_ERR_NOMEM, "%s: out of memory for the plot", path);
    memset(pixels, 255, (size_t)PLOT_WIDTH * PLOT_HEIGHT * 3);
    int64_t fullest = 1;
    for (int b = 0; b < buckets; b++)
        if (counts[b] > fullest)
            fullest = counts[b];
    int plot_w = PLOT_WIDTH - LEFT - RIGHT, plot_h = PLOT_HEIGHT - TOP - BOTTOM;
    int base = PLOT_HEIGHT - BOTTOM; /* the x axis row */
    for (int b = 0; b < buckets; b++) {
        int x0 = LEFT + (int)((int64_t)b * plot_w / buckets) + 1;
        int x1 = LEFT + (int)((int64_t)(b + 1) * plot_w / buckets) - 1;
        int top = base - (int)llround((double)counts[b] / (double)fullest * plot_h);
        for (int y = top; y < base; y++)
            for (int x = x0; x <= x1 && x < PLOT_WIDTH; x++) {
                uint8_t *p = pixels + ((size_t)y * PLOT_WIDTH + (size_t)x) * 3;
                p[0] = 52, p[1] = 101, p[2] = 164;
            }
    }
    for (int x = LEFT - 1; x < PLOT_WIDTH - RIGHT; x++) /* x axis */
        memset(pixels + ((size_t)base * PLOT_WIDTH + (size_t)x) * 3, 0, 3);
    for (int y = TOP; y <= base; y++) /* y axis */
        memset(pixels + ((size_t)y * PLOT_WIDTH + (size_t)(LEFT - 1)) * 3, 0, 3);
    for (int b = 0; b <= buckets; b++) { /* ticks at the bucket edges */
        int x = LEFT - 1 + (int)((int64_t)b * plot_w / buckets);
        for (int y = base; y < base + 5; y++)
            memset(pixels + ((size_t)y * PLOT_WIDTH + (size_t)x) * 3, 0, 3);
    }
    int status = sn_png_write(path, pixels, PLOT_WIDTH, PLOT_HEIGHT, 3);
    free(pixels);
    return status;
}

/* Everything after the command line: returns an exit code. */
static int describe_space(const sn_config *config, const space_options *options)
{
    /* The data set's documented shape; an HDF5 set's is only known by
     * reading it, so [space] must give it. */
    int channels = 0, size = 0, classes = 0;
    if (strcmp(config->dataset, "fashion-mnist") == 0)
        channels = 1, size = 28, classes = 10;
    sn_space space;
    if (sn_space_from_config(&space, config, channels, size, classes) != SN_OK) {
        sn_cli_report_error(NULL); /* the message starts with "space:" */
        return SN_EXIT_FAILURE;
    }
    sn_arch chosen;
    if (options->arch_text && sn_arch_parse(&space, options->arch_text, &chosen) != SN_OK) {
        sn_cli_report_error("space --arch");
        return SN_EXIT_FAILURE;
    }
    printf("space: %s, input %dx%dx%d, %d classes\n",
           space.type == SN_SPACE_CNN ? "cnn" : "vit", space.image_channels, space.image_size,
           space.image_size, space.classes);
    printf("dimensions: %d (%d choices in all)\n", space.dimension_count, space.choice_total);
    for (int d = 0; d < space.dimension_count; d++)
        print_dimension(&space, d);
    printf("architectures: %.6g\n", sn_space_architecture_count(&space));

    sn_arch smallest, largest;
    sn_cost low, high;
    sn_arch_smallest(&space, &smallest);
    sn_arch_largest(&space, &largest);
    if (print_extreme(&space, "smallest", &smallest, &low) != SN_OK ||
        print_extreme(&space, "largest", &largest, &high) != SN_OK) {
        sn_cli_report_error("space");
        return SN_EXIT_FAILURE;
    }
    sn_cost cost;
    if (options->arch_text && print_extreme(&space, "arch", &chosen, &cost) != SN_OK) {
        sn_cli_report_error("space");
        return SN_EXIT_FAILURE;
    }
    printf("FLOPs span: %.2fx (largest / smallest MACs)\n",
           (double)high.macs / (double)(low.macs > 0 ? low.macs : 1));

    /* buckets: equal widths over [smallest, largest] */
    double lo = (double)low.macs, range = (double)(high.macs - low.macs);
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
    printf("buckets: %d, edges (MACs):", buckets);
    for (int b = 0; b <= buckets; b++) {
        double edge = b == buckets ? (double)high.macs : lo + b * step;
        printf("%s %.0f", b ? "," : "", edge);
    }
    printf("\n");

    int64_t *counts = calloc((size_t)buckets, sizeof *counts);
    if (!counts) {
        fprintf(stderr, "shiftnas space: out of memory\n");
        return SN_EXIT_FAILURE;
    }
    double sum = 0, sum2 = 0, sum3 = 0;
    double *macs = malloc((size_t)options->samples * sizeof *macs);
    if (!macs) {
        free(counts);
        fprintf(stderr, "shiftnas space: out of memory for %lld samples\n", options->samples);
        return SN_EXIT_FAILURE;
    }
    for (long long i = 0; i < options->samples; i++) {
        sn_rng_stream stream;
        sn_rng_stream_init(&stream, (uint64_t)options->seed, SN_RNG_SAMPLER, 0, (uint32_t)i);
        sn_arch arch;
        sn_arch_sample_uniform(&space, &stream, &arch);
        macs[i] = (double)sn_space_cost(&space, &arch).macs;
        int b = (int)floor((macs[i] - lo) / step);
        counts[b < 0 ? 0 : b >= buckets ? buckets - 1 : b]++;
        sum += macs[i];
    }
    double n = (double)options->samples, mean = sum / n;
    for (long long i = 0; i < options->samples; i++) {
        double d = macs[i] - mean;
        sum2 += d * d;
        sum3 += d * d * d;
    }
    free(macs);
    double variance = sum2 / n, stddev = sqrt(variance);
    double skewness = variance > 0 ? (sum3 / n) / (variance * stddev) : 0.0;

    printf("histogram of %lld uniformly sampled subnets (seed %lld):\n", options->samples,
           options->seed);
    int64_t fullest = 1;
    for (int b = 0; b < buckets; b++)
        if (counts[b] > fullest)
            fullest = counts[b];
    for (int b = 0; b < buckets; b++) {
        char from[32], to[32];
        human(from, sizeof from, lo + b * step);
        human(to, sizeof to, b + 1 == buckets ? (double)high.macs : lo + (b + 1) * step);
        int bar = (int)llround(50.0 * (double)counts[b] / (double)fullest);
        printf("  [%9s, %9s%s %7" PRId64 " %5.1f%% ", from, to, b + 1 == buckets ? "]" : ")",
               counts[b], 100.0 * (double)counts[b] / n);
        for (int i = 0; i < bar; i++)
            putchar('#');
        putchar('\n');
    }
    char mean_text[32], stddev_text[32];
    human(mean_text, sizeof mean_text, mean);
    human(stddev_text, sizeof stddev_text, stddev);
    printf("MACs of the samples: mean %.0f (%s), stddev %.0f (%s), skewness %.3f\n", mean,
           mean_text, stddev, stddev_text, skewness);

    int exit_code = SN_EXIT_OK;
    if (options->plot_path) {
        if (plot_histogram(options->plot_path, counts, buckets) != SN_OK) {
            sn_cli_report_error("space");
            exit_code = SN_EXIT_FAILURE;
        } else {
            printf("plot: %s\n", options->plot_path);
        }
    }
    free(counts);
    return exit_code;
}

int sn_command_space(int argc, char **argv)
{
    space_options options = {NULL, NULL, NULL, 10000, 8, 0, 0.0, 0};
    sn_config config;
    sn_config_defaults(&config);
    const char **overrides = calloc((size_t)argc, sizeof *overrides);
    if (!overrides) {
        fprintf(stderr, "shiftnas space: out of memory\n");
        return SN_EXIT_FAILURE;
    }
    int override_count = 0, have_buckets = 0, exit_code = SN_EXIT_OK;
    static const char *const valued[] = {"--config", "--set",  "--samples", "--buckets",
                                         "--bucket-step", "--plot", "--seed", "--arch"};
    for (int i = 1; exit_code == SN_EXIT_OK && i < argc; i++) {
        const char *arg = argv[i];
        int needs_value = 0;
        for (size_t v = 0; v < sizeof valued / sizeof valued[0]; v++)
            needs_value |= strcmp(arg, valued[v]) == 0;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(space_usage, stdout);
            free(overrides);
            return SN_EXIT_OK;
        } else if (needs_value && i + 1 >= argc) {
            fprintf(stderr, "shiftnas space: %s needs a value\n", arg);
            exit_code = SN_EXIT_USAGE;
        } else if (strcmp(arg, "--config") == 0) {
            options.config_path = argv[++i];
        } else if (strcmp(arg, "--set") == 0) {
            overrides[override_count++] = argv[++i];
        } else if (strcmp(arg, "--arch") == 0) {
            options.arch_text = argv[++i];
        } else if (strcmp(arg, "--plot") == 0) {
            options.plot_path = argv[++i];
        } else if (strcmp(arg, "--samples") == 0) {
            exit_code = parse_count(arg, argv[++i], 1, 100000000, &options.samples);
        } else if (strcmp(arg, "--buckets") == 0) {
            exit_code = parse_count(arg, argv[++i], 1, MAX_BUCKETS, &options.buckets);
            have_buckets = 1;
        } else if (strcmp(arg, "--seed") == 0) {
            exit_code = parse_count(arg, argv[++i], 0, 281474976710655LL, &options.seed);
            options.have_seed = 1;
        } else if (strcmp(arg, "--bucket-step") == 0) {
            char *end;
            const char *text = argv[++i];
            options.bucket_step = strtod(text, &end);
            if (end == text || *end != '\0' || !(options.bucket_step >= 1) ||
                !isfinite(options.bucket_step)) {
                fprintf(stderr, "shiftnas space: --bucket-step '%s' is not a number >= 1\n", text);
                exit_code = SN_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "shiftnas space: unknown argument '%s' (try 'shiftnas space --help')\n",
                    arg);
            exit_code = SN_EXIT_USAGE;
        }
    }
    if (exit_code == SN_EXIT_OK && have_buckets && options.bucket_step > 0) {
        fprintf(stderr, "shiftnas space: give --buckets or --bucket-step, not both\n");
        exit_code = SN_EXIT_USAGE;
    }
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
    free(overrides);
    if (exit_code == SN_EXIT_OK && sn_config_validate(&config) != SN_OK) {
        sn_cli_report_error("space");
        exit_code = SN_EXIT_FAILURE;
    }
    if (exit_code != SN_EXIT_OK)
        return exit_code;
    if (!options.have_seed)
        options.seed = (long long)config.seed;
    return describe_space(&config, &options);
}
