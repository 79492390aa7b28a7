/* shiftnas command-line front end: dispatches to subcommands. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "option_values.h"
#include "shiftnas/version.h"

static const char usage_text[] =
    "usage: shiftnas COMMAND [ARGS...]\n"
    "\n"
    "One-shot neural architecture search with probability shift (ShiftNAS), on CPUs and MPI.\n"
    "\n"
    "commands:\n"
    "  train    train the configured network and evaluate it\n"
    "  data     convert and inspect data sets (IDX, image folders, HDF5)\n"
    "  config   the default or resolved configuration (show), the key reference\n"
    "  space    describe the configured search space (dimensions, FLOPs, histogram)\n"
    "  search   best subnets of a trained supernet for MACs targets (generator, evolution)\n"
    "  eval     accuracy, MACs and parameters of one subnet of a trained supernet\n"
    "  export   one subnet of a trained supernet alone, as HDF5 (weights named per layer)\n"
    "  inspect  what a checkpoint holds and whether it is complete and readable\n"
    "  report   tables (report.md) and plots of finished, searched runs, averaged over seeds\n"
    "\n"
    "options:\n"
    "  -h, --help     this text; 'shiftnas COMMAND --help' for a command\n"
    "  -V, --version  version and source revision\n"
    "\n"
    "See shiftnas(1) and doc/ for the configuration keys and file formats.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return SN_EXIT_USAGE;
    }
    const char *command = argv[1];
#ifdef SHIFTNAS_FAULT_INJECTION
    sn_cli_install_fault_injection();
#endif
    if (strcmp(command, "-h") == 0 || strcmp(command, "--help") == 0 || strcmp(command, "help") == 0) {
        fputs(usage_text, stdout);
        return SN_EXIT_OK;
    }
    if (strcmp(command, "-V") == 0 || strcmp(command, "--version") == 0) {
        printf("shiftnas %s (revision %s)\n", PACKAGE_VERSION, sn_source_revision());
#ifdef SHIFTNAS_FAULT_INJECTION
        /* the failure tests look for this line (tests/cli/common.sh) */
        printf("fault injection: on (SHIFTNAS_INJECT_FAULT is honoured; a test build)\n");
#endif
        return SN_EXIT_OK;
    }
    if (strcmp(command, "train") == 0)
        return sn_command_train(argc - 1, argv + 1);
    if (strcmp(command, "data") == 0)
        return sn_command_data(argc - 1, argv + 1);
    if (strcmp(command, "config") == 0)
        return sn_command_config(argc - 1, argv + 1);
    if (strcmp(command, "space") == 0)
        return sn_command_space(argc - 1, argv + 1);
    if (strcmp(command, "search") == 0)
        return sn_command_search(argc - 1, argv + 1);
    if (strcmp(command, "eval") == 0)
        return sn_command_eval(argc - 1, argv + 1);
    if (strcmp(command, "probe") == 0)
        return sn_command_probe(argc - 1, argv + 1);
    if (strcmp(command, "export") == 0)
        return sn_command_export(argc - 1, argv + 1);
    if (strcmp(command, "inspect") == 0)
        return sn_command_inspect(argc - 1, argv + 1);
    if (strcmp(command, "report") == 0)
        return sn_command_report(argc - 1, argv + 1);
    char shown[SN_CLI_SHOWN_SIZE];
    fprintf(stderr, "shiftnas: unknown command '%s' (try 'shiftnas --help')\n",
            sn_cli_shown(shown, sizeof shown, command));
    return SN_EXIT_USAGE;
}
