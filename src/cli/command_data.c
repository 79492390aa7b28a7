/* shiftnas data convert IDX_DIR|FOLDER OUT.h5 [options] | shiftnas data info PATH */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "shiftnas/data.h"
#include "shiftnas/input.h"
#include "shiftnas/dist.h"
#include "shiftnas/error.h"
#include "shiftnas/format.h"
#include "shiftnas/image_folder.h"
#include "shiftnas/train.h"

static const char data_usage[] =
    "usage: shiftnas data convert IDX_DIR OUT.h5\n"
    "       [mpirun -np P] shiftnas data convert FOLDER OUT.h5 --size S [--channels 3|1]\n"
    "                [--on-error stop|skip] [--test-split NAME] [--deflate N] [--batch B]\n"
    "       shiftnas data info PATH\n"
    "\n"
    "convert  reads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from IDX_DIR\n"
    "         (e.g. /usr/share/datasets/fashion-mnist), or the JPEG/PNG images of an\n"
    "         image FOLDER (train/<class>/*, and val/<class>/* or test/<class>/*),\n"
    "         and writes the HDF5 image-set layout of doc/data.md (/train/images,\n"
    "         /train/labels, /test/...). OUT.h5 must not exist; it appears only when\n"
    "         complete. For a folder:\n"
    "           --size S          images become S x S: shorter side resized to S,\n"
    "                             centre crop (required)\n"
    "           --channels C      3 (default; grey is replicated) or 1 (BT.601 luma)\n"
    "           --on-error MODE   stop (default): the first unreadable image ends the\n"
    "                             conversion (exit 1); skip: leave it out, go on\n"
    "           --test-split NAME the test split's folder (default: val, else test)\n"
    "           --deflate N       deflate level 1-9 (default 0: uncompressed)\n"
    "           --batch B         images each rank decodes per round (default 64)\n"
    "         Under mpirun the ranks share the decoding and write one file; it is\n"
    "         the same at every rank count.\n"
    "info     prints the shape, classes and label counts of an IDX directory or an\n"
    "         HDF5 image set, after checking every field and reading every image\n"
    "         (an HDF5 set a few images at a time: any size).\n";

static void print_set(const char *split, const sn_image_set *set)
{
    int64_t counts[256] = {0};
    for (int64_t i = 0; i < set->count; i++)
        if (set->labels[i] >= 0 && set->labels[i] < 256)
            counts[set->labels[i]]++;
    printf("%s: %lld images of %dx%dx%d (channels x height x width), %d classes; per class:",
           split, (long long)set->count, set->channels, set->height, set->width, set->classes);
    for (int c = 0; c < set->classes && c < 256; c++)
        printf(" %lld", (long long)counts[c]);
    printf("\n");
}


/* ---- convert FOLDER ----------------------------------------------------- */

typedef struct {
    int terminal;
    double start, last;
    double interval;
} convert_progress_state;

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A line every few seconds (and at the end of each split); on a terminal
 * one live line rewritten in place, in a log plain lines. */
static void convert_progress(void *context, const sn_convert_progress *p)
{
    convert_progress_state *state = context;
    double t = now_seconds();
    if (!p->finished && t - state->last < state->interval)
        return;
    state->last = t;
    double elapsed = t - state->start;
    if (elapsed <= 0)
        elapsed = 1e-9;
    double rate = (double)p->done / elapsed;
    char eta[32], spent[32];
    sn_format_duration(eta, sizeof eta, rate > 0 ? (double)(p->total - p->done) / rate : 0);
    sn_format_duration(spent, sizeof spent, elapsed);
    printf("%s%s %lld/%lld images (%.1f%%) %.0f img/s skipped %lld elapsed %s eta %s%s",
           state->terminal ? "\r" : "", p->split, (long long)p->done, (long long)p->total,
           p->total ? 100.0 * (double)p->done / (double)p->total : 100.0, rate, (long long)p->skipped, spent,
           eta, state->terminal && !p->finished ? "\033[K" : "\n");
    fflush(stdout);
    if (p->finished)
        state->start = state->last = now_seconds();
}

static void report_skipped(void *context, const char *message)
{
    const convert_progress_state *state = context;
    if (state && state->terminal) { /* clear the live progress line first */
        fputs("\r\033[K", stdout);
        fflush(stdout);
    }
    fprintf(stderr, "%s\n", message);
}

static int parse_int_option(const char *name, const char *value, int low, int high, int *out)
{
    char *end = NULL;
    long v = strtol(value, &end, 10);
    if (!*value || *end || v < low || v > high) {
        fprintf(stderr, "shiftnas data: %s '%s': expected an integer in [%d, %d]\n", name, value, low, high);
        return 0;
    }
    *out = (int)v;
    return 1;
}

static int is_image_folder(const char *path)
{
    char train[4096];
    struct stat st;
    snprintf(train, sizeof train, "%s/train", path);
    return stat(train, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A command-line argument in a message: escaped, one printable line (a
 * compound literal: each use has its own buffer). */
#define SHOWN(text) sn_format_user_text((char[4 * 300 + 8]){0}, 4 * 300 + 8, (text), 300)

/* The failure's message, which names paths from the command line or a
 * folder (anyone's bytes), reported escaped: one printable line. */
static void report_data_error(const char *context)
{
    char escaped[4 * 1024 + 8];
    sn_format_user_text(escaped, sizeof escaped, sn_error_message(), 1023);
    sn_error_set(SN_ERR_FORMAT, "%s", escaped);
    sn_cli_report_error(context);
}

static int is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int convert_failure(const sn_dist *dist, int status)
{
    sn_cli_rank_failure(dist, status, "data", report_data_error);
    return SN_EXIT_FAILURE;
}

/* argv: convert FOLDER OUT.h5 [options] */
static int convert_folder(int argc, char **argv)
{
    sn_convert_options options = {0};
    options.channels = 3;
    options.batch = 64;
    options.size = 0;
    int ok = 1;
    for (int i = 3; i < argc && ok; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--size") != 0 && strcmp(arg, "--channels") != 0 && strcmp(arg, "--on-error") != 0 &&
            strcmp(arg, "--test-split") != 0 && strcmp(arg, "--deflate") != 0 && strcmp(arg, "--batch") != 0) {
            fprintf(stderr, "shiftnas data: unknown argument '%s' (try 'shiftnas data --help')\n", arg);
            ok = 0;
        } else if (!value) {
            fprintf(stderr, "shiftnas data: %s needs a value\n", arg);
            ok = 0;
        } else if (strcmp(arg, "--size") == 0) {
            ok = parse_int_option(arg, value, 1, 2048, &options.size);
        } else if (strcmp(arg, "--channels") == 0) {
            ok = strcmp(value, "1") == 0 || strcmp(value, "3") == 0;
            if (ok)
                options.channels = value[0] - '0';
            else
                fprintf(stderr, "shiftnas data: --channels '%s': expected 1 or 3\n", value);
        } else if (strcmp(arg, "--deflate") == 0) {
            ok = parse_int_option(arg, value, 0, 9, &options.deflate);
        } else if (strcmp(arg, "--batch") == 0) {
            ok = parse_int_option(arg, value, 1, 65536, &options.batch);
        } else if (strcmp(arg, "--test-split") == 0) {
            options.test_split = value;
        } else if (strcmp(value, "stop") == 0 || strcmp(value, "skip") == 0) {
            options.on_error = strcmp(value, "skip") == 0 ? SN_ON_ERROR_SKIP : SN_ON_ERROR_STOP;
        } else {
            fprintf(stderr, "shiftnas data: --on-error '%s': expected stop or skip\n", value);
            ok = 0;
        }
        i++;
    }
    if (ok && options.size == 0) {
        fprintf(stderr, "shiftnas data: converting an image folder needs --size S (e.g. --size 256)\n");
        ok = 0;
    }
    if (!ok)
        return SN_EXIT_USAGE;
    sn_dist *dist = NULL;
    int status = sn_dist_init(&dist, &argc, &argv);
    if (status != SN_OK) {
        if (status != SN_ERR_PEER)
            report_data_error("data");
        return SN_EXIT_FAILURE;
    }
    /* mpirun hands its ranks a pseudo-terminal even when its own output
     * goes to a Slurm log, so under MPI the lines are always plain. */
    convert_progress_state state = {!sn_dist_uses_mpi(dist) && isatty(fileno(stdout)), now_seconds(),
                                    now_seconds(), 5.0};
    const char *interval = getenv("SHIFTNAS_PROGRESS_SECONDS");
    if (interval && atof(interval) >= 0)
        state.interval = atof(interval);
    int writer = sn_dist_rank(dist) == 0;
    if (writer) {
        options.progress = convert_progress;
        options.context = &state;
    }
    options.skipped = report_skipped;
    sn_convert_result result;
    status = sn_image_folder_convert(dist, argv[1], argv[2], &options, &result);
    int exit_code = SN_EXIT_OK;
    if (status != SN_OK) {
        exit_code = convert_failure(dist, status);
    } else if (writer) {
        printf("wrote %s: %d classes; train %lld images, test %lld images of %dx%dx%d (height x width x channels)\n",
               argv[2], result.classes, (long long)result.train_count, (long long)result.test_count,
               options.size, options.size, options.channels);
        if (result.train_skipped + result.test_skipped > 0)
            printf("skipped %lld unreadable files (train %lld, test %lld), each named above on stderr\n",
                   (long long)(result.train_skipped + result.test_skipped), (long long)result.train_skipped,
                   (long long)result.test_skipped);
    }
    sn_dist_free(dist);
    return exit_code;
}

/* The /class_names of a converted folder, if the file has them. */
static void print_class_names(const char *path)
{
    char **names = NULL;
    int count = 0;
    if (sn_image_folder_read_class_names(path, &names, &count) != SN_OK)
        return; /* the split checks passed: a listing of names is extra */
    if (count > 0) {
        /* folder names, as the converter found them: shown escaped */
        printf("class names:");
        for (int c = 0; c < count; c++) {
            char shown[4 * 256 + 8];
            printf(" %s", sn_format_user_text(shown, sizeof shown, names[c], 256));
        }
        printf("\n");
    }
    sn_image_folder_free_class_names(names, count);
}

/* Every image of a streamed split read once, a few at a time: a damaged
 * chunk is named, and memory stays bounded whatever the file's size. */
static int read_every_image(sn_image_source *source)
{
    enum { PIECE = 16 };
    sn_image_source_shape s = sn_image_source_shape_of(source);
    float *images = malloc(sizeof(float) * PIECE * (size_t)s.channels * (size_t)s.height *
                           (size_t)s.width);
    if (!images)
        return sn_error_set(SN_ERR_NOMEM, "%s: out of memory", sn_image_source_name(source));
    uint32_t indices[PIECE];
    int status = SN_OK;
    for (int64_t first = 0; first < s.count && status == SN_OK; first += PIECE) {
        int64_t n = s.count - first < PIECE ? s.count - first : PIECE;
        for (int64_t i = 0; i < n; i++)
            indices[i] = (uint32_t)(first + i);
        status = sn_image_source_fill_plain(source, images, NULL, indices, n,
                                            SN_LAYOUT_SAMPLE_MAJOR);
    }
    free(images);
    return status;
}

/* An HDF5 set of any size, streamed: metadata and labels checked, every
 * image read; *train and *test describe the splits (labels borrowed from
 * the sources, no pixels). */
static int check_hdf5(const char *path, sn_image_source *sources[2], sn_image_set *train,
                      sn_image_set *test)
{
    static sn_input_pipeline pipeline;
    sn_normalization plain = {SN_MAX_CHANNELS, {0, 0, 0, 0}, {1, 1, 1, 1}};
    pipeline.eval_crop_fraction = 1;
    sn_input_pipeline_set_normalization(&pipeline, &plain);
    const char *splits[2] = {"train", "test"};
    sn_image_set *sets[2] = {train, test};
    for (int i = 0; i < 2; i++) {
        SN_TRY(sn_image_source_open_stream(&sources[i], path, splits[i], 0, 16, &pipeline));
        SN_TRY(read_every_image(sources[i]));
        sn_image_source_shape s = sn_image_source_shape_of(sources[i]);
        *sets[i] = (sn_image_set){s.count, s.channels, s.height, s.width, s.classes, NULL,
                                  (int32_t *)sn_image_source_labels(sources[i])};
    }
    if (train->channels != test->channels || train->height != test->height ||
        train->width != test->width)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: /train/images are %dx%dx%d but /test/images are %dx%dx%d "
                            "(channels x height x width): both splits need one shape",
                            path, train->channels, train->height, train->width, test->channels,
                            test->height, test->width);
    train->classes = test->classes = train->classes > test->classes ? train->classes : test->classes;
    return SN_OK;
}

static int info(const char *path)
{
    sn_image_set train = {0}, test = {0};
    sn_image_source *sources[2] = {NULL, NULL};
    struct stat st;
    int directory = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if (directory && is_image_folder(path))
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: an image folder: convert it first (shiftnas data convert %s "
                            "OUT.h5 --size S), then ask about OUT.h5",
                            SHOWN(path), SHOWN(path));
    int status = directory ? sn_idx_load_directory(path, &train, &test)
                           : check_hdf5(path, sources, &train, &test);
    if (status == SN_OK) {
        print_set("train", &train);
        print_set("test", &test);
    }
    if (directory) {
        sn_image_set_free(&train);
        sn_image_set_free(&test);
    }
    /* closed first: HDF5 refuses a second open with other close settings */
    sn_image_source_free(sources[0]);
    sn_image_source_free(sources[1]);
    if (status == SN_OK && !directory)
        print_class_names(path);
    return status;
}

int sn_command_data(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(data_usage, stdout);
        return SN_EXIT_OK;
    }
    sn_image_set train = {0}, test = {0};
    int status;
    if (argc >= 4 && strcmp(argv[1], "convert") == 0 && is_image_folder(argv[2])) {
        return convert_folder(argc - 1, argv + 1);
    } else if (argc >= 4 && strcmp(argv[1], "convert") == 0 && !is_directory(argv[2])) {
        fprintf(stderr, "shiftnas data: %s: not a directory (convert reads an IDX directory or an "
                        "image folder)\n", SHOWN(argv[2]));
        return SN_EXIT_FAILURE;
    } else if (argc > 4 && strcmp(argv[1], "convert") == 0) {
        fprintf(stderr, "shiftnas data: %s: no train/ folder, so not an image folder; %s and the "
                        "other options are for image folders (an IDX directory takes none)\n",
                        SHOWN(argv[2]), SHOWN(argv[4]));
        return SN_EXIT_USAGE;
    } else if (argc == 4 && strcmp(argv[1], "convert") == 0) {
        struct stat st;
        if (stat(argv[3], &st) == 0) {
            fprintf(stderr, "shiftnas data: %s: already exists; not overwriting it\n",
                    SHOWN(argv[3]));
            return SN_EXIT_FAILURE;
        }
        status = sn_idx_load_directory(argv[2], &train, &test);
        if (status == SN_OK)
            status = sn_hdf5_image_set_write(argv[3], &train, &test);
        if (status == SN_OK) {
            printf("wrote %s\n", argv[3]);
            print_set("train", &train);
            print_set("test", &test);
        }
    } else if (argc == 3 && strcmp(argv[1], "info") == 0) {
        status = info(argv[2]);
    } else {
        fputs(data_usage, stderr);
        return SN_EXIT_USAGE;
    }
    sn_image_set_free(&train);
    sn_image_set_free(&test);
    if (status != SN_OK) {
        report_data_error("data");
        return SN_EXIT_FAILURE;
    }
    return SN_EXIT_OK;
}
