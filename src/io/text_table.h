/* One reader for the comma-separated tables shiftnas writes and reads back
 * (search.csv, probes.csv, metrics.csv, a summary's log-*.csv): the header
 * check, line numbers in every message, blank lines skipped, the error of
 * a short read, and a growing row array.  What a row means stays with each
 * table's own parser. */
#ifndef SN_IO_TEXT_TABLE_H
#define SN_IO_TEXT_TABLE_H

#include <stddef.h>

/* Called with each non-blank line after the header, its line end removed
 * (the parser may cut it in place), and its 1-based line number.  Returns
 * SN_OK with *problem NULL when the row is taken; SN_OK with *problem set
 * to a static description when the row is malformed (the reader then
 * fails with "PATH:LINE: malformed row: PROBLEM"); or an error code, with
 * the error already set, that stops reading (out of memory, say). */
typedef int (*sn_text_table_row)(void *context, char *line, int line_number,
                                 const char **problem);

/* Reads path: its first line must be header exactly, else SN_ERR_FORMAT
 * "PATH:1: not WHAT (header '...')" (what: "a shiftnas search table", say).
 * An empty file is SN_ERR_FORMAT "PATH: empty (no header)"; a missing one
 * SN_ERR_IO "PATH: cannot open: ...". */
int sn_text_table_read(const char *path, const char *header, const char *what,
                       sn_text_table_row row, void *context);

/* Makes room for one more item in *items (count used of *capacity), doubling
 * from first_capacity; SN_ERR_NOMEM naming path when it cannot. */
int sn_text_table_reserve(void **items, int *capacity, int count, size_t item_size,
                          int first_capacity, const char *path);

#endif
