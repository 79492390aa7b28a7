/* shiftnas report RUN_DIR... --out DIR [--targets LIST] [--compare A,B]...
 *                                      [--strict] [--no-plots]
 * shiftnas report --summarize RUN_DIR DEST_DIR
 *
 * Finished, searched (or probed) runs into DIR/report.md and six PNG plots
 * drawn by gnuplot (doc/report.md): arms compared seed by seed. Runs that
 * cannot be used are skipped with one line each (or refused with --strict).
 * --summarize writes the small text summary of one finished run that a
 * report reads like the run itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "directory_lock.h"
#include "gnuplot.h"
#include "option_values.h"
#include "shiftnas/error.h"
#include "shiftnas/report.h"

static const char report_usage[] =
    "usage: shiftnas report RUN_DIR... --out DIR [--targets LIST] [--compare A,B]...\n"
    "                       [--strict] [--no-plots]\n"
    "       shiftnas report --summarize RUN_DIR DEST_DIR\n"
    "\n"
    "Turns finished training runs that `shiftnas search` has searched (or `shiftnas probe`\n"
    "has probed) into DIR/report.md and six plots (accuracy_vs_macs.png, probabilities.png,\n"
    "macs_histogram.png, bucket_loss.png, convergence.png, final_probabilities.png). Runs\n"
    "are grouped into arms (sampling strategy, from config.ini); runs of two arms with the\n"
    "same seed are a pair, and arms are compared by paired differences with 95% confidence\n"
    "intervals and paired t tests; the primary endpoint (shift - shift-frozen over the\n"
    "probes of the top two buckets) comes first. A RUN_DIR is a run directory, a summary\n"
    "(--summarize) or a directory of either.\n"
    "\n"
    "  --out DIR        where report.md, the PNGs, plots.gp and data/ go (created)\n"
    "  --targets LIST   only these MACs targets, e.g. 2M,4M (default: every searched one)\n"
    "  --compare A,B    compare arm A with arm B (A - B); repeatable. Default: shift vs\n"
    "                   shift-frozen, then every other arm vs shift-frozen (vs uniform\n"
    "                   without a shift-frozen arm)\n"
    "  --strict         a run that cannot be used is an error, not a skip\n"
    "  --no-plots       write data/, plots.gp and report.md but do not run gnuplot\n"
    "  --summarize RUN_DIR DEST_DIR\n"
    "                   copy a finished run's small files into DEST_DIR (created) and write\n"
    "                   what the report needs of its checkpoint and log.h5 as text\n"
    "                   (summary.txt, log-updates.csv, log-bucket-loss.csv); an unfinished\n"
    "                   run is refused\n"
    "  -h, --help       this text\n"
    "\n"
    "Unusable runs (unfinished, no search.csv nor probes.csv, another search space, a\n"
    "duplicate seed) are skipped with one line each on stderr and listed in report.md.\n"
    "Plots need gnuplot (gnuplot-nox) on PATH or $SHIFTNAS_GNUPLOT.\n"
    "One report at a time into DIR: a second one is refused with a line naming the\n"
    "first (its lock is DIR/.shiftnas.lock).\n"
    "Exit status: 0 written, 1 failed (or a skip under --strict), 2 usage.\n";

enum { TARGETS_MAX = 64, COMPARISONS_MAX = 64 };

static void report_error(void)
{
    const char *message = sn_error_message();
    if (strncmp(message, "report: ", 8) == 0)
        fprintf(stderr, "shiftnas %s\n", message);
    else
        fprintf(stderr, "shiftnas report: %s\n", *message ? message : "unknown error");
}

/* mkdir -p */
static int make_directory(const char *path)
{
    char buffer[SN_REPORT_PATH_MAX];
    if (snprintf(buffer, sizeof buffer, "%s", path) >= (int)sizeof buffer)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: path too long", path);
    for (char *p = buffer + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buffer, 0777) != 0 && errno != EEXIST)
                return sn_error_set(SN_ERR_IO, "%s: cannot create: %s", buffer, strerror(errno));
            *p = saved;
            if (!saved)
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return sn_error_set(SN_ERR_IO, "%s: not a directory", path);
    return SN_OK;
}

/* The command line as report.md shows it. */
static char *join_arguments(int argc, char **argv)
{
    size_t length = strlen("shiftnas") + 1;
    for (int i = 0; i < argc; i++)
        length += strlen(argv[i]) + 3;
    char *text = malloc(length);
    if (!text)
        return NULL;
    strcpy(text, "shiftnas");
    for (int i = 0; i < argc; i++) {
        int plain = argv[i][0] != '\0' && strpbrk(argv[i], " \t'\"$`\\") == NULL;
        strcat(text, plain ? " " : " '");
        strcat(text, argv[i]);
        if (!plain)
            strcat(text, "'");
    }
    return text;
}

/* shiftnas report --summarize RUN_DIR DEST_DIR */
static int summarize(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "shiftnas report: --summarize takes exactly RUN_DIR DEST_DIR and nothing "
                        "else (try 'shiftnas report --help')\n");
        return SN_EXIT_USAGE;
    }
    const char *run_dir = argv[2], *dest = argv[3];
    int status = make_directory(dest);
    if (status == SN_OK)
        status = sn_report_summarize(run_dir, dest);
    if (status != SN_OK) {
        report_error();
        return SN_EXIT_FAILURE;
    }
    printf("report: summary of %s in %s\n", run_dir, dest);
    return SN_EXIT_OK;
}

int sn_command_report(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--summarize") == 0)
        return summarize(argc, argv);
    const char *out = NULL, *target_list = NULL;
    int strict = 0, plots = 1, dir_count = 0, comparison_count = 0;
    sn_report_comparison comparisons[COMPARISONS_MAX];
    const char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
    if (!dirs) {
        fprintf(stderr, "shiftnas report: out of memory\n");
        return SN_EXIT_FAILURE;
    }
    static const sn_cli_valued_option report_valued[] = {
        {"--out", "a DIR"},
        {"--targets", "a list of MACs targets like 2.5M,5M,8M"},
        {"--compare", "two arms A,B like shift,shift-frozen"},
        {NULL, NULL}};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        char problem[512], shown[SN_CLI_SHOWN_SIZE];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(report_usage, stdout);
            free(dirs);
            return SN_EXIT_OK;
        } else if (sn_cli_bad_value(report_valued, argc, argv, i, problem, sizeof problem)) {
            fprintf(stderr, "shiftnas report: %s\n", problem);
            free(dirs);
            return SN_EXIT_USAGE;
        } else if (strcmp(arg, "--out") == 0) {
            out = argv[++i];
        } else if (strcmp(arg, "--targets") == 0) {
            target_list = argv[++i];
        } else if (strcmp(arg, "--compare") == 0) {
            if (comparison_count == COMPARISONS_MAX) {
                fprintf(stderr, "shiftnas report: more than %d --compare\n", COMPARISONS_MAX);
                free(dirs);
                return SN_EXIT_USAGE;
            }
            if (sn_report_parse_comparison(argv[++i], &comparisons[comparison_count++]) != SN_OK) {
                report_error();
                free(dirs);
                return SN_EXIT_USAGE;
            }
        } else if (strcmp(arg, "--summarize") == 0) {
            fprintf(stderr, "shiftnas report: --summarize comes first: shiftnas report "
                            "--summarize RUN_DIR DEST_DIR\n");
            free(dirs);
            return SN_EXIT_USAGE;
        } else if (strcmp(arg, "--strict") == 0) {
            strict = 1;
        } else if (strcmp(arg, "--no-plots") == 0) {
            plots = 0;
        } else if (arg[0] != '-') {
            dirs[dir_count++] = arg;
        } else {
            fprintf(stderr, "shiftnas report: unknown argument '%s' (try 'shiftnas report --help')\n",
                    sn_cli_shown(shown, sizeof shown, arg));
            free(dirs);
            return SN_EXIT_USAGE;
        }
    }
    if (dir_count == 0 || !out) {
        fprintf(stderr, "shiftnas report: %s is required (try 'shiftnas report --help')\n",
                dir_count == 0 ? "at least one RUN_DIR" : "--out DIR");
        free(dirs);
        return SN_EXIT_USAGE;
    }
    double targets[TARGETS_MAX];
    int target_count = 0;
    if (target_list &&
        sn_report_parse_targets(target_list, targets, TARGETS_MAX, &target_count) != SN_OK) {
        report_error();
        free(dirs);
        return SN_EXIT_USAGE;
    }
    /* before any work: without gnuplot the plots cannot be drawn */
    char gnuplot[SN_REPORT_PATH_MAX];
    if (plots && sn_cli_find_gnuplot(gnuplot, sizeof gnuplot) != SN_OK) {
        report_error();
        free(dirs);
        return SN_EXIT_FAILURE;
    }
    sn_report_runs runs;
    sn_report_runs_init(&runs);
    int status = SN_OK;
    for (int d = 0; d < dir_count && status == SN_OK; d++) {
        char **found = NULL;
        int count = 0;
        status = sn_report_expand_argument(dirs[d], &found, &count);
        for (int i = 0; i < count; i++) {
            int skipped = 0;
            if (status == SN_OK && (status = sn_report_runs_add(&runs, found[i], &skipped)) == SN_OK &&
                skipped)
                fprintf(stderr, "shiftnas report: skipped %s\n",
                        runs.skips[runs.skip_count - 1].reason);
            free(found[i]);
        }
        free(found);
    }
    free(dirs);
    if (status == SN_OK && strict && runs.skip_count > 0)
        status = sn_error_set(SN_ERR_ARGUMENT, "report: %d run(s) skipped and --strict given; "
                                               "nothing written",
                              runs.skip_count);
    if (status == SN_OK && runs.count == 0)
        status = sn_error_set(SN_ERR_ARGUMENT, "report: no usable run");
    char *command_line = status == SN_OK ? join_arguments(argc, argv) : NULL;
    sn_report_options options = {command_line, target_count,    targets,
                                 plots,        comparison_count, comparisons};
    char path[SN_REPORT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/report.md", out);
    if (status == SN_OK)
        status = make_directory(out);
    /* one report at a time into DIR (the lock line is printed where taken) */
    sn_run_lock *lock = NULL;
    int lock_refused = 0;
    if (status == SN_OK)
        lock_refused = (status = sn_cli_lock_directory(&lock, "report", out, "shiftnas report", 0)) != SN_OK;
    if (status == SN_OK)
        status = sn_report_write_plot_data(&runs, &options, out);
    if (status == SN_OK)
        status = sn_report_write_tables(&runs, &options, path);
    if (status == SN_OK && plots)
        status = sn_cli_run_gnuplot(out, gnuplot);
    if (status == SN_OK && plots)
        printf("report: %s (%d run(s), %d skipped); plots drawn in %s\n", path, runs.count,
               runs.skip_count, out);
    else if (status == SN_OK)
        printf("report: %s (%d run(s), %d skipped); plots not drawn (--no-plots): "
               "cd %s && gnuplot plots.gp\n",
               path, runs.count, runs.skip_count, out);
    free(command_line);
    sn_report_runs_free(&runs);
    sn_run_lock_release(lock);
    if (status != SN_OK && !lock_refused) {
        fflush(stdout);
        report_error();
    }
    return status == SN_OK ? SN_EXIT_OK : SN_EXIT_FAILURE;
}
