/* The values of command-line options, checked the same way by every
 * command: a value that is missing or is another option, a count with
 * trailing garbage or out of range, each one line naming the option. */
#ifndef SHIFTNAS_CLI_OPTION_VALUES_H
#define SHIFTNAS_CLI_OPTION_VALUES_H

#include <stddef.h>

/* An option that takes a value, and what the value is, for messages:
 * {"--set", "SECTION.KEY=VALUE"}. Tables of them end with {NULL, NULL}. */
typedef struct {
    const char *name;
    const char *value;
} sn_cli_valued_option;

/* 1 when argv[i] is one of `options` and the value it needs is missing (the
 * command line ends) or is another option (starts with "--": `--set --set
 * x=y`, `--targets --csv`), with the problem in `message` as one line
 * without the command's prefix ("--set needs SECTION.KEY=VALUE and got
 * '--set', another option"); 0 otherwise. A value that must begin with
 * "--" can be written as ./--NAME (files) only. */
int sn_cli_bad_value(const sn_cli_valued_option *options, int argc, char **argv, int i,
                     char *message, size_t size);

/* A whole number in [low, high] written as digits (an optional leading '-'),
 * nothing else: "12x", " 12", "1e3", "" and values beyond long long are
 * refused with one line "shiftnas COMMAND: OPTION 'TEXT' is not a whole
 * number in LOW..HIGH" on stderr. 0 when *out is set, -1 after the line. */
int sn_cli_parse_count(const char *command, const char *option, const char *text, long long low,
                       long long high, long long *out);

/* text as it may appear in a message: escaped (no control or binary bytes)
 * and cut after 60 bytes with "..." (sn_format_user_text). Returns out. */
const char *sn_cli_shown(char *out, size_t size, const char *text);
enum { SN_CLI_SHOWN_SIZE = 4 * 60 + 4 };

#endif
