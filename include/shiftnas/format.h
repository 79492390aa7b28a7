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

#ifdef __cplusplus
}
#endif
#endif
