/* The values of command-line options (option_values.h). */
#include "option_values.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/format.h"

const char *sn_cli_shown(char *out, size_t size, const char *text)
{
    return sn_format_user_text(out, size, text, 60);
}

int sn_cli_bad_value(const sn_cli_valued_option *options, int argc, char **argv, int i,
                     char *message, size_t size)
{
    const sn_cli_valued_option *option = NULL;
    for (const sn_cli_valued_option *o = options; o->name && !option; o++)
        if (strcmp(argv[i], o->name) == 0)
            option = o;
    if (!option)
        return 0;
    if (i + 1 >= argc) {
        snprintf(message, size, "%s needs %s (nothing follows it)", option->name, option->value);
        return 1;
    }
    /* an option where the value should be: the value was left out, and
     * taking the option as the value would blame the wrong argument next */
    if (strncmp(argv[i + 1], "--", 2) == 0) {
        char shown[SN_CLI_SHOWN_SIZE];
        snprintf(message, size, "%s needs %s and got '%s', another option", option->name,
                 option->value, sn_cli_shown(shown, sizeof shown, argv[i + 1]));
        return 1;
    }
    return 0;
}

int sn_cli_parse_count(const char *command, const char *option, const char *text, long long low,
                       long long high, long long *out)
{
    const char *digits = text[0] == '-' ? text + 1 : text;
    char *end = NULL;
    errno = 0;
    long long value = isdigit((unsigned char)digits[0]) ? strtoll(text, &end, 10) : 0;
    if (!end || *end != '\0' || errno == ERANGE || value < low || value > high) {
        char shown[SN_CLI_SHOWN_SIZE];
        fprintf(stderr, "shiftnas %s: %s '%s' is not a whole number in %lld..%lld\n", command,
                option, sn_cli_shown(shown, sizeof shown, text), low, high);
        return -1;
    }
    *out = value;
    return 0;
}
