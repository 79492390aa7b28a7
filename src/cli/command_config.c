/* shiftnas config defaults | reference | show */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config_resolve.h"
#include "json_writer.h"
#include "option_values.h"
#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/format.h"

static const char config_usage[] =
    "usage: shiftnas config defaults     print every key with its default (a loadable INI file)\n"
    "       shiftnas config reference    print the key reference (Markdown)\n"
    "       shiftnas config show --config FILE [--set SECTION.KEY=VALUE ...] [--json]\n"
    "       shiftnas config show --resume RUN_DIR [--set SECTION.KEY=VALUE ...] [--json]\n"
    "\n"
    "show prints the resolved configuration that `shiftnas train` with the same --config\n"
    "(or --resume) and --set would run with, as the run's config.ini holds it, without\n"
    "running anything; a configuration train refuses is refused with train's message.\n"
    "  --json   one JSON object instead: {section: {key: value}}, numbers as numbers,\n"
    "           lists as arrays, booleans as true/false\n";

/* One value of the configuration as JSON, from its INI text (the text
 * config.ini holds, so both outputs say the same). */
static void json_value(sn_json_writer *j, const sn_config_key *key, const char *text)
{
    switch (key->type) {
    case SN_CONFIG_INT: sn_json_int(j, strtoll(text, NULL, 10)); break;
    case SN_CONFIG_FLOAT: sn_json_number(j, strtod(text, NULL)); break;
    case SN_CONFIG_BOOL: sn_json_bool(j, strcmp(text, "true") == 0); break;
    case SN_CONFIG_TEXT:
    case SN_CONFIG_CHOICE: sn_json_string(j, text); break;
    case SN_CONFIG_INT_LIST:
    case SN_CONFIG_FLOAT_LIST:
        sn_json_array_begin_inline(j);
        for (const char *item = text; *item;) {
            char *end;
            if (key->type == SN_CONFIG_INT_LIST)
                sn_json_int(j, strtoll(item, &end, 10));
            else
                sn_json_number(j, strtod(item, &end));
            if (end == item)
                break;
            item = *end == ',' ? end + 1 : end;
        }
        sn_json_array_end(j);
        break;
    }
}

static int write_config_json(const sn_config *config, FILE *out)
{
    sn_json_writer j;
    sn_json_begin(&j, out);
    sn_json_object_begin(&j);
    int count;
    const sn_config_key *keys = sn_config_keys(&count);
    const char *section = NULL;
    for (int k = 0; k < count; k++) {
        char text[SN_CONFIG_TEXT_MAX + 32];
        SN_TRY(sn_config_format_value(config, &keys[k], text, sizeof text));
        if (!section || strcmp(keys[k].section, section) != 0) {
            if (section)
                sn_json_object_end(&j);
            section = keys[k].section;
            sn_json_key(&j, section);
            sn_json_object_begin(&j);
        }
        sn_json_key(&j, keys[k].name);
        json_value(&j, &keys[k], text);
    }
    if (section)
        sn_json_object_end(&j);
    sn_json_object_end(&j);
    return sn_json_end(&j);
}

/* config show: the options as train takes them; errors as train gives them. */
static int show_config(int argc, char **argv)
{
    const char *config_path = NULL, *resume_dir = NULL;
    int json = 0, exit_code = SN_EXIT_OK, override_count = 0;
    const char **overrides = calloc((size_t)argc, sizeof *overrides);
    if (!overrides) {
        fprintf(stderr, "shiftnas config: out of memory\n");
        return SN_EXIT_FAILURE;
    }
    static const sn_cli_valued_option valued[] = {{"--config", "a FILE"},
                                                  {"--resume", "a RUN_DIR"},
                                                  {"--set", "SECTION.KEY=VALUE"},
                                                  {NULL, NULL}};
    for (int i = 2; exit_code == SN_EXIT_OK && i < argc; i++) {
        const char *arg = argv[i];
        char problem[512], shown[SN_CLI_SHOWN_SIZE];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(config_usage, stdout);
            free(overrides);
            return SN_EXIT_OK;
        } else if (sn_cli_bad_value(valued, argc, argv, i, problem, sizeof problem)) {
            fprintf(stderr, "shiftnas config: %s\n", problem);
            exit_code = SN_EXIT_USAGE;
        } else if (strcmp(arg, "--config") == 0) {
            config_path = argv[++i];
        } else if (strcmp(arg, "--resume") == 0) {
            resume_dir = argv[++i];
        } else if (strcmp(arg, "--set") == 0) {
            overrides[override_count++] = argv[++i];
        } else if (strcmp(arg, "--json") == 0) {
            json = 1;
        } else {
            fprintf(stderr, "shiftnas config: unknown argument '%s' (try 'shiftnas config "
                            "--help')\n", sn_cli_shown(shown, sizeof shown, arg));
            exit_code = SN_EXIT_USAGE;
        }
    }
    if (exit_code == SN_EXIT_OK && (config_path ? resume_dir != NULL : resume_dir == NULL)) {
        fprintf(stderr, "shiftnas config: show needs --config FILE or --resume RUN_DIR (one of "
                        "them)\n");
        exit_code = SN_EXIT_USAGE;
    }
    sn_config config;
    if (exit_code == SN_EXIT_OK &&
        (sn_cli_config_resolve(&config, config_path, resume_dir, overrides, override_count) !=
             SN_OK ||
         sn_config_validate(&config) != SN_OK ||
         (json ? write_config_json(&config, stdout) : sn_config_write(&config, stdout)) != SN_OK)) {
        sn_cli_report_error("config");
        exit_code = SN_EXIT_FAILURE;
    }
    free(overrides);
    return exit_code;
}

int sn_command_config(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(config_usage, stdout);
        return SN_EXIT_OK;
    }
    if (argc >= 2 && strcmp(argv[1], "show") == 0)
        return show_config(argc, argv);
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
