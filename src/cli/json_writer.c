/* The --json writer (json_writer.h). */
#include "json_writer.h"

#include "shiftnas/format.h"

#include <math.h>
#include <stdlib.h>

#include "shiftnas/error.h"

void sn_json_begin(sn_json_writer *j, FILE *out)
{
    j->out = out;
    j->final_out = NULL;
    j->buffer = NULL;
    j->buffer_size = 0;
    j->depth = 0;
    j->after_key = 0;
    j->misuse = 0;
}

int sn_json_begin_buffered(sn_json_writer *j, FILE *out)
{
    sn_json_begin(j, out);
    j->out = open_memstream(&j->buffer, &j->buffer_size);
    if (!j->out) {
        j->out = out;
        return sn_error_set(SN_ERR_NOMEM, "cannot hold the JSON output");
    }
    j->final_out = out;
    return SN_OK;
}

void sn_json_discard(sn_json_writer *j)
{
    if (!j->final_out)
        return;
    fclose(j->out);
    free(j->buffer);
    j->out = j->final_out;
    j->final_out = NULL;
    j->buffer = NULL;
}

int sn_json_end(sn_json_writer *j)
{
    fputc('\n', j->out);
    int failed = fflush(j->out) != 0 || ferror(j->out);
    if (j->final_out) {
        failed |= fclose(j->out) != 0;
        j->out = j->final_out;
        j->final_out = NULL;
        if (!failed && !j->misuse && j->depth == 0)
            failed = fwrite(j->buffer, 1, j->buffer_size, j->out) != j->buffer_size;
        free(j->buffer);
        j->buffer = NULL;
        failed |= fflush(j->out) != 0;
    }
    if (failed)
        return sn_error_set(SN_ERR_IO, "cannot write the JSON output");
    if (j->misuse || j->depth != 0)
        return sn_error_set(SN_ERR_ARGUMENT, "JSON output: containers not closed in order");
    return SN_OK;
}

static void indent(sn_json_writer *j)
{
    fputc('\n', j->out);
    for (int level = 0; level < j->depth; level++)
        fputs("  ", j->out);
}

/* What goes before a value or a key: nothing after a key; else a comma
 * after the container's previous item, then a new line (or a space in an
 * inline array). */
static void separate(sn_json_writer *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->depth == 0)
        return;
    int level = j->depth - 1;
    if (j->count[level] > 0)
        fputc(',', j->out);
    if (!j->is_inline[level])
        indent(j);
    else if (j->count[level] > 0)
        fputc(' ', j->out);
    j->count[level]++;
}

static void open_container(sn_json_writer *j, char bracket, int is_inline)
{
    separate(j);
    fputc(bracket, j->out);
    if (j->depth == SN_JSON_DEPTH_MAX) {
        j->misuse = 1; /* the document stays well-formed only in its brackets */
        return;
    }
    j->count[j->depth] = 0;
    j->is_inline[j->depth] = is_inline;
    j->depth++;
}

static void close_container(sn_json_writer *j, char bracket)
{
    if (j->depth == 0) {
        j->misuse = 1;
        return;
    }
    j->depth--;
    if (j->count[j->depth] > 0 && !j->is_inline[j->depth])
        indent(j);
    fputc(bracket, j->out);
}

void sn_json_object_begin(sn_json_writer *j) { open_container(j, '{', 0); }
void sn_json_object_end(sn_json_writer *j) { close_container(j, '}'); }
void sn_json_array_begin(sn_json_writer *j) { open_container(j, '[', 0); }
void sn_json_array_begin_inline(sn_json_writer *j) { open_container(j, '[', 1); }
void sn_json_array_end(sn_json_writer *j) { close_container(j, ']'); }

/* The length of the well-formed UTF-8 sequence at s (1..4), 0 if there is
 * none (a stray continuation byte, an overlong form, a surrogate). */
static int utf8_sequence(const unsigned char *s)
{
    static const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned char lead = s[0];
    int length;
    uint32_t code;
    if (lead < 0x80)
        return 1;
    if ((lead & 0xE0) == 0xC0)
        length = 2, code = lead & 0x1Fu;
    else if ((lead & 0xF0) == 0xE0)
        length = 3, code = lead & 0x0Fu;
    else if ((lead & 0xF8) == 0xF0)
        length = 4, code = lead & 0x07u;
    else
        return 0;
    for (int i = 1; i < length; i++) {
        if ((s[i] & 0xC0) != 0x80) /* also stops at the terminating zero */
            return 0;
        code = code << 6 | (s[i] & 0x3Fu);
    }
    if (code < smallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return length;
}

static void write_escaped(FILE *out, const char *text)
{
    fputc('"', out);
    for (const unsigned char *s = (const unsigned char *)text; *s;) {
        int length = utf8_sequence(s);
        if (length == 0) {
            fputs("\\ufffd", out);
            s++;
        } else if (*s == '"' || *s == '\\') {
            fputc('\\', out);
            fputc(*s++, out);
        } else if (*s < 0x20) {
            static const char short_forms[] = "btnvfr"; /* \b \t \n, no \v in JSON, \f \r */
            if (*s >= 8 && *s <= 13 && *s != 11)
                fprintf(out, "\\%c", short_forms[*s - 8]);
            else
                fprintf(out, "\\u%04x", *s);
            s++;
        } else {
            fwrite(s, 1, (size_t)length, out);
            s += length;
        }
    }
    fputc('"', out);
}

void sn_json_key(sn_json_writer *j, const char *key)
{
    separate(j);
    write_escaped(j->out, key);
    fputs(": ", j->out);
    j->after_key = 1;
}

void sn_json_string(sn_json_writer *j, const char *text)
{
    if (!text) {
        sn_json_null(j);
        return;
    }
    separate(j);
    write_escaped(j->out, text);
}

void sn_json_int(sn_json_writer *j, int64_t value)
{
    separate(j);
    fprintf(j->out, "%lld", (long long)value);
}

void sn_json_format_number(char *text, size_t size, double x)
{
    /* JSON has no NaN or infinity; everything else in the one shortest
     * round-trip form (shiftnas/format.h) */
    if (!isfinite(x))
        snprintf(text, size, "null");
    else
        sn_format_number(text, size, x);
}

void sn_json_number(sn_json_writer *j, double value)
{
    char text[40];
    sn_json_format_number(text, sizeof text, value);
    separate(j);
    fputs(text, j->out);
}

void sn_json_bool(sn_json_writer *j, int value)
{
    separate(j);
    fputs(value ? "true" : "false", j->out);
}

void sn_json_null(sn_json_writer *j)
{
    separate(j);
    fputs("null", j->out);
}

void sn_json_key_string(sn_json_writer *j, const char *key, const char *text)
{
    sn_json_key(j, key);
    sn_json_string(j, text);
}

void sn_json_key_int(sn_json_writer *j, const char *key, int64_t value)
{
    sn_json_key(j, key);
    sn_json_int(j, value);
}

void sn_json_key_number(sn_json_writer *j, const char *key, double value)
{
    sn_json_key(j, key);
    sn_json_number(j, value);
}

void sn_json_key_bool(sn_json_writer *j, const char *key, int value)
{
    sn_json_key(j, key);
    sn_json_bool(j, value);
}
