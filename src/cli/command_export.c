/*
 * shiftnas export RUN_DIR --arch STRING --out FILE [--set S.K=V ...]
 *
 * One subnet of a trained supernet, alone, as HDF5 (shiftnas/export.h,
 * doc/export.md): what a reader needs to run it without shiftnas.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "option_values.h"
#include "shiftnas/dist.h"
#include "shiftnas/error.h"
#include "shiftnas/export.h"
#include "shiftnas/train.h"

static const char export_usage[] =
    "usage: shiftnas export RUN_DIR --arch STRING --out FILE [--set SECTION.KEY=VALUE ...]\n"
    "\n"
    "Writes one subnet of the trained supernet in RUN_DIR alone as HDF5: its weight slices,\n"
    "its batch-norm statistics recalibrated as `shiftnas eval` does (the same logits), its\n"
    "layer norms, one dataset per layer (stem/conv/weight, stage1/block0/expand/weight,\n"
    "blocks/3/attention/qkv/weight, head/weight, ...), with the architecture, the input\n"
    "shape and the evaluation pipeline (mean, std, crop) as attributes. doc/export.md has\n"
    "the layout; doc/export_torch.py rebuilds the subnet in PyTorch and writes ONNX.\n"
    "\n"
    "  --arch STRING   the subnet, e.g. 'cnn:d=2,3,3;w=...' as search and eval print it\n"
    "                  (at most 8192 characters)\n"
    "  --out FILE      the file to write (written aside, then renamed into place)\n"
    "  --set S.K=V     override a key of RUN_DIR/config.ini, e.g. --set data.path=DIR (not\n"
    "                  [model], [space], search.strategy or the generator's size)\n"
    "  -h, --help      this text\n";

typedef struct {
    const char *run_dir, *arch, *out;
    const char **overrides;
    int override_count;
} options;

/* SN_EXIT_OK to go on, -1 after --help, else the usage exit code. */
static int parse_options(int argc, char **argv, options *o)
{
    static const sn_cli_valued_option valued[] = {
        {"--arch", "an architecture text like cnn:d=1,2,3;w=...;k=...;e=..."},
        {"--out", "a FILE"},
        {"--set", "SECTION.KEY=VALUE"},
        {NULL, NULL}};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        char problem[512], shown[SN_CLI_SHOWN_SIZE];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(export_usage, stdout);
            return -1;
        } else if (sn_cli_bad_value(valued, argc, argv, i, problem, sizeof problem)) {
            fprintf(stderr, "shiftnas export: %s\n", problem);
            return SN_EXIT_USAGE;
        } else if (strcmp(arg, "--arch") == 0) {
            o->arch = argv[++i];
        } else if (strcmp(arg, "--out") == 0) {
            o->out = argv[++i];
        } else if (strcmp(arg, "--set") == 0) {
            o->overrides[o->override_count++] = argv[++i];
        } else if (arg[0] != '-' && !o->run_dir) {
            o->run_dir = arg;
        } else if (arg[0] != '-') {
            fprintf(stderr, "shiftnas export: '%s': one RUN_DIR only, and it was given before "
                            "(try 'shiftnas export --help')\n",
                    sn_cli_shown(shown, sizeof shown, arg));
            return SN_EXIT_USAGE;
        } else {
            fprintf(stderr, "shiftnas export: unknown argument '%s' (try 'shiftnas export --help')\n",
                    sn_cli_shown(shown, sizeof shown, arg));
            return SN_EXIT_USAGE;
        }
    }
    const char *missing = !o->run_dir ? "RUN_DIR is required"
                          : !o->arch  ? "--arch STRING is required"
                          : !o->out   ? "--out FILE is required"
                                      : NULL;
    if (missing) {
        fprintf(stderr, "shiftnas export: %s (try 'shiftnas export --help')\n", missing);
        return SN_EXIT_USAGE;
    }
    return SN_EXIT_OK;
}

static int export_subnet(const options *o)
{
    SN_TRY(sn_export_path_check(o->out)); /* before the run's data are loaded */
    sn_trained_run run;
    SN_TRY(sn_trained_run_open(&run, o->run_dir, o->overrides, o->override_count));
    sn_arch arch;
    int status = sn_arch_parse(run.space, o->arch, &arch);
    if (status != SN_OK)
        status = sn_error_set(status, "--arch: %s", sn_error_message());
    if (status == SN_OK)
        status = sn_trained_run_export_subnet(&run, &arch, o->out);
    if (status == SN_OK) {
        char text[SN_ARCH_TEXT_MAX];
        sn_arch_canonicalize(run.space, &arch);
        sn_cost cost = sn_space_cost(run.space, &arch);
        if (sn_arch_format(run.space, &arch, text, sizeof text) != SN_OK)
            snprintf(text, sizeof text, "(unprintable)");
        printf("subnet %s\nMACs %lld, parameters %lld\nwritten to %s\n", text,
               (long long)cost.macs, (long long)cost.parameters, o->out);
    }
    sn_trained_run_close(&run);
    return status;
}

int sn_command_export(int argc, char **argv)
{
    /* one process: several copies would all write the same file */
    int rank = 0, processes = sn_dist_launched_processes(&rank);
    if (processes != 1) {
        if (rank == 0)
            fprintf(stderr, "shiftnas export: started as %d processes (mpirun/srun); export runs "
                            "on one process\n", processes);
        return SN_EXIT_USAGE;
    }
    options o = {0};
    o.overrides = calloc((size_t)argc + 1, sizeof *o.overrides);
    if (!o.overrides) {
        fprintf(stderr, "shiftnas export: out of memory\n");
        return SN_EXIT_FAILURE;
    }
    int code = parse_options(argc, argv, &o);
    if (code != SN_EXIT_OK) {
        free(o.overrides);
        return code < 0 ? SN_EXIT_OK : code;
    }
    int status = export_subnet(&o);
    free(o.overrides);
    if (status != SN_OK) {
        fflush(stdout);
        sn_cli_report_error("export");
        return SN_EXIT_FAILURE;
    }
    return SN_EXIT_OK;
}
