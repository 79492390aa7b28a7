/* shiftnas train --config FILE [--set section.key=value ...] [--out RUN_DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/train.h"

static const char train_usage[] =
    "usage: shiftnas train --config FILE [--set SECTION.KEY=VALUE ...] [--out RUN_DIR]\n"
    "\n"
    "Trains the network the configuration describes and evaluates it after every epoch.\n"
    "\n"
    "  --config FILE   INI configuration (see doc/configuration.md); keys not given keep\n"
    "                  their defaults\n"
    "  --set S.K=V     override one key after the file (repeatable), e.g. --set train.epochs=1\n"
    "  --out RUN_DIR   run directory (default runs/train-YYYYMMDD-HHMMSS); receives\n"
    "                  config.ini (the resolved configuration) and metrics.csv\n"
    "  -h, --help      this text\n"
    "\n"
    "Progress goes to stdout: a live line on a terminal, one line every\n"
    "[run] progress_seconds in a log file. Errors go to stderr; exit status 1.\n";

void sn_cli_report_error(const char *context)
{
    const char *message = sn_error_message();
    if (context && *context)
        fprintf(stderr, "shiftnas %s: %s\n", context, *message ? message : "unknown error");
    else
        fprintf(stderr, "shiftnas: %s\n", *message ? message : "unknown error");
}

int sn_command_train(int argc, char **argv)
{
    const char *config_path = NULL, *run_dir = NULL;
    sn_config config;
    sn_config_defaults(&config);
    /* Overrides are applied after the file, whatever their position. */
    const char **overrides = calloc((size_t)argc, sizeof *overrides);
    int override_count = 0;
    if (!overrides) {
        fprintf(stderr, "shiftnas train: out of memory\n");
        return SN_EXIT_FAILURE;
    }
    int exit_code = SN_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(train_usage, stdout);
            free(overrides);
            return SN_EXIT_OK;
        } else if ((strcmp(arg, "--config") == 0 || strcmp(arg, "--set") == 0 ||
                    strcmp(arg, "--out") == 0) && i + 1 >= argc) {
            fprintf(stderr, "shiftnas train: %s needs a value\n", arg);
            exit_code = SN_EXIT_USAGE;
            break;
        } else if (strcmp(arg, "--config") == 0) {
            config_path = argv[++i];
        } else if (strcmp(arg, "--set") == 0) {
            overrides[override_count++] = argv[++i];
        } else if (strcmp(arg, "--out") == 0) {
            run_dir = argv[++i];
        } else {
            fprintf(stderr, "shiftnas train: unknown argument '%s' (try 'shiftnas train --help')\n", arg);
            exit_code = SN_EXIT_USAGE;
            break;
        }
    }
    if (exit_code == SN_EXIT_OK && !config_path) {
        fprintf(stderr, "shiftnas train: --config FILE is required (try 'shiftnas train --help')\n");
        exit_code = SN_EXIT_USAGE;
    }
    if (exit_code == SN_EXIT_OK && sn_config_load_file(&config, config_path) != SN_OK) {
        sn_cli_report_error("train");
        exit_code = SN_EXIT_FAILURE;
    }
    for (int i = 0; exit_code == SN_EXIT_OK && i < override_count; i++)
        if (sn_config_set(&config, overrides[i]) != SN_OK) {
            sn_cli_report_error("train");
            exit_code = SN_EXIT_FAILURE;
        }
    free(overrides);
    if (exit_code != SN_EXIT_OK)
        return exit_code;

    char default_dir[64];
    if (!run_dir) {
        time_t now = time(NULL);
        struct tm local;
        localtime_r(&now, &local);
        strftime(default_dir, sizeof default_dir, "runs/train-%Y%m%d-%H%M%S", &local);
        run_dir = default_dir;
    }
    sn_train_result result;
    if (sn_train(&config, run_dir, stdout, &result) != SN_OK) {
        fflush(stdout);
        sn_cli_report_error("train");
        return SN_EXIT_FAILURE;
    }
    return SN_EXIT_OK;
}
