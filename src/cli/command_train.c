/* shiftnas train --config FILE [--set section.key=value ...] [--out RUN_DIR]
 * shiftnas train --resume RUN_DIR [--resume-strict] [--set section.key=value ...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "config_resolve.h"
#include "directory_lock.h"
#include "option_values.h"
#include "shiftnas/config.h"
#include "shiftnas/dist.h"
#include "shiftnas/error.h"
#include "shiftnas/format.h"
#include "shiftnas/train.h"

static const char train_usage[] =
    "usage: shiftnas train --config FILE [--set SECTION.KEY=VALUE ...] [--out RUN_DIR]\n"
    "       shiftnas train --resume RUN_DIR [--resume-strict] [--set SECTION.KEY=VALUE ...]\n"
    "\n"
    "Trains the network the configuration describes and evaluates it after every epoch.\n"
    "\n"
    "  --config FILE    INI configuration (see doc/configuration.md); keys not given keep\n"
    "                   their defaults\n"
    "  --set S.K=V      override one key after the file (repeatable), e.g. --set train.epochs=1\n"
    "  --out RUN_DIR    run directory (default runs/train-YYYYMMDD-HHMMSS); receives\n"
    "                   config.ini (the resolved configuration), metrics.csv, model.h5,\n"
    "                   log.h5 and checkpoints/\n"
    "  --resume RUN_DIR continue the run in RUN_DIR from its latest checkpoint (from step 0\n"
    "                   if it has none yet), with the same bits as a run that never stopped;\n"
    "                   --set may change only result-neutral keys ([checkpoint] *, data.path,\n"
    "                   run.progress_seconds/metrics_interval_steps,\n"
    "                   distributed.reduce/bucket_entries/check_interval). When `latest`\n"
    "                   is damaged or its checkpoint fails its CRC, it says so and resumes\n"
    "                   from the newest intact checkpoint\n"
    "  --resume-strict  with --resume: refuse a damaged `latest` or checkpoint instead\n"
    "  -h, --help       this text\n"
    "\n"
    "Progress goes to stdout: a live line on a terminal, one line every\n"
    "[run] progress_seconds in a log file. Errors go to stderr.\n"
    "One writer per run directory: a second train or search on RUN_DIR while one\n"
    "runs is refused with a line naming it (host, pid); the lock is RUN_DIR/.shiftnas.lock.\n"
    "SIGUSR1 or SIGTERM: finish the step, write a checkpoint, exit 75 (resume later).\n"
    "Exit status: 0 done, 1 failed, 2 usage, 75 stopped with a checkpoint (requeue and\n"
    "--resume), also after a write failed for a cause that may pass (EIO, ESTALE,\n"
    "ETIMEDOUT) with the previous checkpoint intact.\n";

/* The library's message names files and values as users gave them: shown
 * escaped, so that a path with a newline or a terminal escape (or bytes
 * that are not UTF-8) still makes one printable line. */
void sn_cli_report_error(const char *context)
{
    enum { shown_bytes = 2048 };
    static char shown[4 * shown_bytes + 8];
    const char *message = sn_error_message();
    sn_format_user_text(shown, sizeof shown, *message ? message : "unknown error", shown_bytes);
    if (context && *context)
        fprintf(stderr, "shiftnas %s: %s\n", context, shown);
    else
        fprintf(stderr, "shiftnas: %s\n", shown);
}

void sn_cli_rank_failure(const sn_dist *dist, int status, const char *command,
                         void (*report)(const char *context))
{
    fflush(stdout);
    if (status != SN_ERR_PEER) {
        char context[64];
        if (sn_dist_size(dist) > 1)
            snprintf(context, sizeof context, "%s: rank %d", command, sn_dist_rank(dist));
        else
            snprintf(context, sizeof context, "%s", command);
        report(context);
    }
    if (!sn_dist_failure_agreed())
        sn_dist_abort(dist, SN_EXIT_FAILURE);
}

int sn_cli_on_ranks(int argc, char **argv, const char *command,
                    int (*body)(int argc, char **argv, const sn_dist *dist))
{
    sn_dist *dist = NULL;
    int status = sn_dist_init(&dist, &argc, &argv);
    if (status != SN_OK) {
        if (status != SN_ERR_PEER)
            sn_cli_report_error(command);
        return SN_EXIT_FAILURE;
    }
    int exit_code = body(argc, argv, dist);
    sn_dist_free(dist);
    return exit_code;
}

static int train_failure(const sn_dist *dist, int status);

static const sn_cli_valued_option train_valued[] = {{"--config", "a FILE"},
                                                    {"--set", "SECTION.KEY=VALUE"},
                                                    {"--out", "a RUN_DIR"},
                                                    {"--resume", "a RUN_DIR"},
                                                    {NULL, NULL}};

/* The command on every rank: the same arguments and configuration on each
 * (a usage error is printed once, by rank 0), the run directory chosen by
 * rank 0. */
static int train_command_on_ranks(int argc, char **argv, const sn_dist *dist)
{
    const char *config_path = NULL, *run_dir = NULL, *resume_dir = NULL;
    int strict = 0;
    int speaker = sn_dist_rank(dist) == 0;
    sn_config config;
    /* Overrides are applied after the file, whatever their position. */
    const char **overrides = calloc((size_t)argc, sizeof *overrides);
    int override_count = 0;
    if (!overrides) {
        fprintf(stderr, "shiftnas train: out of memory\n");
        sn_dist_abort(dist, SN_EXIT_FAILURE);
        return SN_EXIT_FAILURE;
    }
    int exit_code = SN_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        char problem[512];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            if (speaker)
                fputs(train_usage, stdout);
            free(overrides);
            return SN_EXIT_OK;
        } else if (sn_cli_bad_value(train_valued, argc, argv, i, problem, sizeof problem)) {
            if (speaker)
                fprintf(stderr, "shiftnas train: %s\n", problem);
            exit_code = SN_EXIT_USAGE;
            break;
        } else if (strcmp(arg, "--config") == 0) {
            config_path = argv[++i];
        } else if (strcmp(arg, "--set") == 0) {
            overrides[override_count++] = argv[++i];
        } else if (strcmp(arg, "--out") == 0) {
            run_dir = argv[++i];
        } else if (strcmp(arg, "--resume") == 0) {
            resume_dir = argv[++i];
        } else if (strcmp(arg, "--resume-strict") == 0) {
            strict = 1;
        } else {
            char shown[SN_CLI_SHOWN_SIZE];
            if (speaker)
                fprintf(stderr, "shiftnas train: unknown argument '%s' (try 'shiftnas train --help')\n",
                        sn_cli_shown(shown, sizeof shown, arg));
            exit_code = SN_EXIT_USAGE;
            break;
        }
    }
    if (exit_code == SN_EXIT_OK && resume_dir && (config_path || run_dir)) {
        if (speaker)
            fprintf(stderr, "shiftnas train: --resume RUN_DIR takes the run's own configuration "
                            "and directory; drop --config and --out\n");
        exit_code = SN_EXIT_USAGE;
    }
    if (exit_code == SN_EXIT_OK && strict && !resume_dir) {
        if (speaker)
            fprintf(stderr, "shiftnas train: --resume-strict goes with --resume RUN_DIR\n");
        exit_code = SN_EXIT_USAGE;
    }
    if (exit_code == SN_EXIT_OK && !config_path && !resume_dir) {
        if (speaker)
            fprintf(stderr, "shiftnas train: --config FILE (or --resume RUN_DIR) is required "
                            "(try 'shiftnas train --help')\n");
        exit_code = SN_EXIT_USAGE;
    }
    if (exit_code != SN_EXIT_OK) {
        free(overrides);
        return exit_code;
    }
    /* Every rank reads the file: a rank that cannot (another node's file
     * system) must not leave the others waiting. A resumed run keeps its
     * directory and its resolved configuration, written when it started. */
    if (resume_dir)
        run_dir = resume_dir;
    int status = sn_cli_config_resolve(&config, config_path, resume_dir, overrides, override_count);
    free(overrides);
    status = sn_dist_agree(dist, status);
    if (status != SN_OK)
        return train_failure(dist, status);

    char chosen_dir[1024];
    if (!run_dir) {
        time_t now = time(NULL);
        struct tm local;
        localtime_r(&now, &local);
        strftime(chosen_dir, sizeof chosen_dir, "runs/train-%Y%m%d-%H%M%S", &local);
    } else {
        snprintf(chosen_dir, sizeof chosen_dir, "%s", run_dir);
    }
    /* The clock may differ between ranks: rank 0's name is the run's. */
    if (sn_dist_broadcast(dist, chosen_dir, sizeof chosen_dir, 0) != SN_OK)
        return train_failure(dist, SN_ERR_MPI);
    /* One writer per run directory, from before the data loads to the end:
     * rank 0 holds the lock (and has said why it could not); every rank
     * learns the outcome. A new run's directory is created here, and
     * removed again if the run fails before writing anything into it. */
    sn_run_lock *lock = NULL;
    status = SN_OK;
    if (speaker)
        status = sn_cli_lock_directory(&lock, "train", chosen_dir,
                                       resume_dir ? "shiftnas train --resume" : "shiftnas train",
                                       resume_dir ? 0 : SN_RUN_LOCK_CREATE);
    if (sn_dist_agree(dist, status) != SN_OK)
        return SN_EXIT_FAILURE;
    sn_train_result result;
    int mode = !resume_dir ? SN_TRAIN_NEW : strict ? SN_TRAIN_RESUME_STRICT : SN_TRAIN_RESUME;
    status = sn_train_on_ranks(&config, chosen_dir, dist, mode, speaker ? stdout : NULL, &result);
    if (status != SN_OK) {
        int code = train_failure(dist, status);
        sn_run_lock_release(lock);
        return code;
    }
    sn_run_lock_release(lock);
    /* 75 (EX_TEMPFAIL): a checkpoint holds the run; requeue and resume */
    return result.stopped ? SN_EXIT_REQUEUE : SN_EXIT_OK;
}

/* Prints the failure of this rank (if it is the one that reports) and,
 * when the other ranks may not know of it, ends them (MPI_Abort). */
static int train_failure(const sn_dist *dist, int status)
{
    sn_cli_rank_failure(dist, status, "train", sn_cli_report_error);
    /* A write that failed for a cause that often passes (EIO, ESTALE, ...)
     * left the previous checkpoint as it was: 75, requeue and resume. A
     * full disk, a quota or a read-only file system needs a person: 1. */
    int cause = status == SN_ERR_PEER ? sn_dist_failure_code() : status;
    return cause == SN_ERR_IO_TRANSIENT ? SN_EXIT_REQUEUE : SN_EXIT_FAILURE;
}

int sn_command_train(int argc, char **argv)
{
    /* Before MPI starts: a SIGUSR1/SIGTERM during start-up (mpirun forwards
     * SIGUSR1 at once) asks for a stop after the first step instead of
     * killing the process. */
    if (sn_stop_request_install() != SN_OK) {
        sn_cli_report_error("train");
        return SN_EXIT_FAILURE;
    }
    sn_dist *dist = NULL;
    int status = sn_dist_init(&dist, &argc, &argv);
    if (status != SN_OK) {
        if (status != SN_ERR_PEER)
            sn_cli_report_error("train");
        return SN_EXIT_FAILURE;
    }
    int exit_code = train_command_on_ranks(argc, argv, dist);
    sn_dist_free(dist);
    return exit_code;
}
