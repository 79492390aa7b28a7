/*
 * shiftnas/format.h — numbers as text, the one way shiftnas writes them
 * where a person or a file reads them back.
 *
 *     char text[32];
 *     sn_format_number(text, sizeof text, 0.002);   // "0.002", not "0.0020000000000000000416"
 *     sn_format_number(text, sizeof text, 3600);    // "3600", not "3.6e+03"
 *     sn_format_macs(text, sizeof text, 2384512);   // "2.385M", as --targets takes it
 *
 * Both truncate safely to size (NUL-terminated); 32 bytes hold any value.
 *
 * Text that came from a user or a file goes into a message through
 * sn_format_user_text, so that the message stays one printable line.
 */
#ifndef SHIFTNAS_FORMAT_H
#define SHIFTNAS_FORMAT_H

#include "shiftnas/api.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The shortest text that strtod reads back as exactly x: whole numbers
 * below 1e15 in plain digits, others with the fewest %g digits (at most 17)
 * that round-trip. Configuration files and architecture strings use it. */
SN_API void sn_format_number(char *out, size_t size, double x);

/* A MACs count with a k/M/G suffix and 4 significant digits ("802.4k",
 * "2.385M", "1.2G"; below 1000 plain digits), the form sn_macs_parse
 * (shiftnas/space.h) reads. report.md and the search's table use it. */
SN_API void sn_format_macs(char *out, size_t size, double macs);

/* Text from a user or a file (a value, a line, an option) as one printable
 * line: control characters (newlines too), DEL, C1 controls and bytes that
 * are not UTF-8 become \xNN; valid UTF-8 stays as it is. Only the first
 * max_bytes bytes of text are shown, then "..." (a long value stays one
 * short line). Truncates safely to size; 4 * max_bytes + 4 bytes hold any
 * result. Returns out, for use as a printf argument:
 *     sn_format_user_text(shown, sizeof shown, "a\nb\x1b", 60)   // "a\x0ab\x1b" */
SN_API const char *sn_format_user_text(char *out, size_t size, const char *text,
                                       size_t max_bytes);

#ifdef __cplusplus
}
#endif
#endif
