/*
 * A small streaming JSON writer for the commands' --json output: one
 * document on a FILE, written as the values come (no tree is built), two
 * spaces of indentation per level so that a person can read it too.
 *
 *     sn_json_writer j;
 *     sn_json_begin(&j, stdout);
 *     sn_json_object_begin(&j);
 *     sn_json_key_int(&j, "steps", 12);
 *     sn_json_key(&j, "accuracies");
 *     sn_json_array_begin_inline(&j);      // [0.5, 0.75] on one line
 *     sn_json_number(&j, 0.5);
 *     sn_json_number(&j, 0.75);
 *     sn_json_array_end(&j);
 *     sn_json_object_end(&j);
 *     status = sn_json_end(&j);            // newline, flush, SN_ERR_IO on a write error
 *
 * Numbers keep full precision: a double is written in the shortest form
 * that reads back as the same double, integers as integers. NaN and the
 * infinities have no JSON form and are written as null. Strings are
 * escaped; bytes that are not UTF-8 become U+FFFD, so the document always
 * parses. Nesting deeper than SN_JSON_DEPTH_MAX is a programming error and
 * is reported by sn_json_end.
 *
 * CLI-only: the library has no JSON output.
 */
#ifndef SHIFTNAS_CLI_JSON_WRITER_H
#define SHIFTNAS_CLI_JSON_WRITER_H

#include <stdint.h>
#include <stdio.h>

enum { SN_JSON_DEPTH_MAX = 16 };

typedef struct {
    FILE *out;                    /* the document goes here (a memory buffer if buffered) */
    FILE *final_out;              /* buffered: where sn_json_end copies the document */
    char *buffer;
    size_t buffer_size;
    int depth;                    /* open containers */
    int count[SN_JSON_DEPTH_MAX]; /* values written in each open container */
    int is_inline[SN_JSON_DEPTH_MAX];
    int after_key;                /* a key was written; its value comes next */
    int misuse;                   /* too deep, or a container closed that was not open */
} sn_json_writer;

void sn_json_begin(sn_json_writer *j, FILE *out);
/* The same, but the document is held in memory until sn_json_end copies it
 * to `out` at once: a command that fails half-way prints nothing rather than
 * half a document (sn_json_discard). SN_ERR_NOMEM. */
int sn_json_begin_buffered(sn_json_writer *j, FILE *out);
/* Ends the document with a newline and flushes (a buffered one: writes it
 * out, then frees the buffer); SN_ERR_IO if a write failed, SN_ERR_ARGUMENT
 * if containers were left open or nested too deep (nothing is written then). */
int sn_json_end(sn_json_writer *j);
/* Drops a buffered document unwritten (after a failure); nothing for an
 * unbuffered one. */
void sn_json_discard(sn_json_writer *j);

void sn_json_object_begin(sn_json_writer *j);
void sn_json_object_end(sn_json_writer *j);
void sn_json_array_begin(sn_json_writer *j);
/* An array written on one line: for short lists of numbers. */
void sn_json_array_begin_inline(sn_json_writer *j);
void sn_json_array_end(sn_json_writer *j);

/* The key of the next value, inside an object. */
void sn_json_key(sn_json_writer *j, const char *key);

void sn_json_string(sn_json_writer *j, const char *text); /* NULL: null */
void sn_json_int(sn_json_writer *j, int64_t value);
void sn_json_number(sn_json_writer *j, double value);
void sn_json_bool(sn_json_writer *j, int value);
void sn_json_null(sn_json_writer *j);

/* key + value in one call */
void sn_json_key_string(sn_json_writer *j, const char *key, const char *text);
void sn_json_key_int(sn_json_writer *j, const char *key, int64_t value);
void sn_json_key_number(sn_json_writer *j, const char *key, double value);
void sn_json_key_bool(sn_json_writer *j, const char *key, int value);

/* The shortest text that reads back (strtod) as exactly x; "null" for NaN
 * and the infinities. */
void sn_json_format_number(char *text, size_t size, double x);

#endif
