/* shiftnas config defaults | reference */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "shiftnas/config.h"

static const char config_usage[] =
    "usage: shiftnas config defaults     print every key with its default (a loadable INI file)\n"
    "       shiftnas config reference    print the key reference (Markdown)\n";

int sn_command_config(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(config_usage, stdout);
        return SN_EXIT_OK;
    }
    if (argc == 2 && strcmp(argv[1], "defaults") == 0) {
        sn_config config;
        sn_config_defaults(&config);
        if (sn_config_write(&config, stdout) != 0) {
            sn_cli_report_error("config");
            return SN_EXIT_FAILURE;
        }
        return SN_EXIT_OK;
    }
    if (argc == 2 && strcmp(argv[1], "reference") == 0) {
        if (sn_config_write_reference(stdout) != 0) {
            sn_cli_report_error("config");
            return SN_EXIT_FAILURE;
        }
        return SN_EXIT_OK;
    }
    fputs(config_usage, stderr);
    return SN_EXIT_USAGE;
}
