/*
 * The canonical text of an architecture, and parsing it back.
 *
 *   cnn:d=<depth per stage>;w=<width per stage>;k=<kernel per active block>;e=<expand ratio per active block>
 *   vit:e=<embed>;d=<depth>;h=<heads per active layer>;m=<mlp ratio per active layer>
 *
 * Blocks and layers are listed stage by stage, only those within the chosen
 * depth: the text names a subnet, not a point of the full choice vector, so
 * two architectures that build the same network have the same text. Numbers
 * are written in the shortest form that reads back as the same double.
 *
 * Parsing is strict, because the text is what a user pastes from a report
 * into a command line: blanks are ignored, sections may come in any order but
 * each exactly once, list lengths must match the depths, every value must be
 * one of its dimension's choices. Messages number stages, blocks and layers
 * from 1.
 */
#include "shiftnas/space.h"
#include "shiftnas/error.h"
#include "shiftnas/format.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A parsed value matches a choice within this distance (choices are small
 * integers and ratios such as 3.5; 1e-9 absorbs only decimal round-off). */
static const double MATCH_TOLERANCE = 1e-9;

/* Longest architecture text parse accepts, blanks included: checked before
 * anything is read, so a runaway argument or file field costs nothing. */
enum { PARSE_TEXT_MAX = SN_ARCH_TEXT_INPUT_MAX };

/* User text quoted in a message: at most 40 bytes of it, escaped, so that
 * the message stays one printable line. */
enum { SHOWN_BYTES = 40, SHOWN_SIZE = 4 * SHOWN_BYTES + 4 };
static const char *shown(char *out, const char *text)
{
    return sn_format_user_text(out, SHOWN_SIZE, text, SHOWN_BYTES);
}

/* The most values one section can hold: a block list of the largest space. */
enum { LIST_MAX = SN_SPACE_MAX_STAGES * SN_SPACE_MAX_BLOCKS };

/* ---- formatting ------------------------------------------------------------ */

/* Appends to a fixed buffer; remembers whether anything was cut. */
typedef struct {
    char *text;
    size_t size, length;
    int overflow;
} text_buffer;

static void append(text_buffer *b, const char *format, ...)
{
    if (b->overflow)
        return;
    va_list args;
    va_start(args, format);
    int n = vsnprintf(b->text + b->length, b->size - b->length, format, args);
    va_end(args);
    if (n < 0 || (size_t)n >= b->size - b->length)
        b->overflow = 1;
    else
        b->length += (size_t)n;
}

/* Appends "name=v1,v2,..." with the values of dimensions dims[0..count). */
static void append_list(text_buffer *b, const char *name, const sn_space *space,
                        const sn_arch *arch, const int *dims, int count)
{
    append(b, "%s=", name);
    for (int i = 0; i < count; i++) {
        char number[32];
        sn_format_number(number, sizeof number, sn_arch_value(space, arch, dims[i]));
        append(b, "%s%s", i ? "," : "", number);
    }
}

int sn_arch_format(const sn_space *space, const sn_arch *arch, char *text, size_t size)
{
    if (size == 0)
        return sn_error_set(SN_ERR_ARGUMENT, "architecture text: no room in a buffer of 0 bytes");
    text_buffer b = {text, size, 0, 0};
    int dims[LIST_MAX];
    text[0] = '\0';
    if (space->type == SN_SPACE_CNN) {
        append(&b, "cnn:");
        append_list(&b, "d", space, arch, space->depth_dimension, space->stage_count);
        append(&b, ";");
        append_list(&b, "w", space, arch, space->width_dimension, space->stage_count);
        for (int pass = 0; pass < 2; pass++) {
            int count = 0;
            for (int s = 0; s < space->stage_count; s++) {
                int depth = (int)sn_arch_value(space, arch, space->depth_dimension[s]);
                for (int blk = 0; blk < depth; blk++)
                    dims[count++] = pass == 0 ? space->kernel_dimension[s][blk]
                                              : space->expand_dimension[s][blk];
            }
            append(&b, ";");
            append_list(&b, pass == 0 ? "k" : "e", space, arch, dims, count);
        }
    } else {
        int depth = (int)sn_arch_value(space, arch, space->depth_dimension[0]);
        append(&b, "vit:");
        append_list(&b, "e", space, arch, &space->embed_dimension, 1);
        append(&b, ";");
        append_list(&b, "d", space, arch, space->depth_dimension, 1);
        append(&b, ";");
        append_list(&b, "h", space, arch, space->heads_dimension, depth);
        append(&b, ";");
        append_list(&b, "m", space, arch, space->mlp_dimension, depth);
    }
    if (b.overflow) {
        text[0] = '\0';
        return sn_error_set(SN_ERR_ARGUMENT,
                            "architecture text does not fit in a buffer of %zu bytes", size);
    }
    return SN_OK;
}

/* ---- parsing ----------------------------------------------------------------- */

/* One "name=values" section of the text. */
typedef struct {
    const char *name;   /* "d", "w", ... */
    const char *what;   /* what its values are, for messages: "depths" */
    int given;
    int count;          /* values listed (may exceed LIST_MAX: only counted) */
    double values[LIST_MAX];
} section;

/* "(16, 24, 32)" */
static void format_choices(char *out, size_t size, const sn_dimension *dim)
{
    text_buffer b = {out, size, 0, 0};
    append(&b, "(");
    for (int j = 0; j < dim->choice_count; j++) {
        char number[32];
        sn_format_number(number, sizeof number, dim->choices[j]);
        append(&b, "%s%s", j ? ", " : "", number);
    }
    append(&b, ")");
}

/* Sets arch->choice[d] to the choice equal to x, or fails naming `label`
 * ("stage 2 width") and the value. */
static int match_choice(const sn_space *space, int d, double x, const char *label,
                        sn_arch *arch)
{
    const sn_dimension *dim = &space->dimensions[d];
    for (int j = 0; j < dim->choice_count; j++)
        if (fabs(x - dim->choices[j]) <= MATCH_TOLERANCE) {
            arch->choice[d] = j;
            return SN_OK;
        }
    char value[32], choices[256];
    sn_format_number(value, sizeof value, x);
    format_choices(choices, sizeof choices, dim);
    return sn_error_set(SN_ERR_ARGUMENT, "%s %s is not a choice %s", label, value, choices);
}

/* Reads "v1,v2,..." into s. */
static int parse_list(section *s, char *list)
{
    s->count = 0;
    char *p = list;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p == '\0')
            return sn_error_set(SN_ERR_ARGUMENT, "architecture section '%s' has an empty value",
                                s->name);
        char *end, text[SHOWN_SIZE];
        double x = strtod(p, &end);
        if (*end != '\0' || !isfinite(x))
            return sn_error_set(SN_ERR_ARGUMENT,
                                "architecture section '%s': '%s' is not a number", s->name,
                                shown(text, p));
        if (s->count < LIST_MAX)
            s->values[s->count] = x;
        s->count++;
        if (!comma)
            return SN_OK;
        p = comma + 1;
    }
}

/* Checks that section s lists `expected` values ("k lists 5 kernels but the
 * depths give 6 active blocks"). */
static int expect_count(const section *s, int expected, const char *because, const char *unit)
{
    if (s->count == expected)
        return SN_OK;
    return sn_error_set(SN_ERR_ARGUMENT, "%s lists %d %s but %s %d %s", s->name, s->count,
                        s->what, because, expected, unit);
}

/* Splits "name=list;name=list" (blanks already removed) into the known
 * sections; every section exactly once. */
static int split_sections(char *body, section *sections, int section_count, const char *type)
{
    char known[64] = "";
    for (int i = 0; i < section_count; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                 sections[i].name);
    char *p = body;
    for (;;) {
        char *semicolon = strchr(p, ';');
        if (semicolon)
            *semicolon = '\0';
        char *equals = strchr(p, '='), text[SHOWN_SIZE];
        if (*p == '\0')
            return sn_error_set(SN_ERR_ARGUMENT, "architecture text has an empty section");
        if (!equals)
            return sn_error_set(SN_ERR_ARGUMENT, "architecture section '%s' lacks '='",
                                shown(text, p));
        *equals = '\0';
        section *s = NULL;
        for (int i = 0; i < section_count; i++)
            if (strcmp(sections[i].name, p) == 0)
                s = &sections[i];
        if (!s)
            return sn_error_set(SN_ERR_ARGUMENT, "unknown section '%s' (%s sections: %s)",
                                shown(text, p), type, known);
        if (s->given)
            return sn_error_set(SN_ERR_ARGUMENT, "section '%s' is given twice", s->name);
        s->given = 1;
        int status = parse_list(s, equals + 1);
        if (status != SN_OK)
            return status;
        if (!semicolon)
            break;
        p = semicolon + 1;
    }
    for (int i = 0; i < section_count; i++)
        if (!sections[i].given)
            return sn_error_set(SN_ERR_ARGUMENT, "section '%s' (%s) is missing", sections[i].name,
                                sections[i].what);
    return SN_OK;
}

static int parse_cnn(const sn_space *space, char *body, sn_arch *arch)
{
    section sections[4] = {{"d", "depths", 0, 0, {0}}, {"w", "widths", 0, 0, {0}},
                           {"k", "kernels", 0, 0, {0}}, {"e", "expand ratios", 0, 0, {0}}};
    int status = split_sections(body, sections, 4, "cnn");
    if (status != SN_OK)
        return status;
    section *d = &sections[0], *w = &sections[1], *k = &sections[2], *e = &sections[3];
    if ((status = expect_count(d, space->stage_count, "the space has", "stages")) != SN_OK ||
        (status = expect_count(w, space->stage_count, "the space has", "stages")) != SN_OK)
        return status;
    char label[64];
    int active = 0;
    for (int s = 0; s < space->stage_count; s++) {
        snprintf(label, sizeof label, "stage %d depth", s + 1);
        if ((status = match_choice(space, space->depth_dimension[s], d->values[s], label, arch)))
            return status;
        snprintf(label, sizeof label, "stage %d width", s + 1);
        if ((status = match_choice(space, space->width_dimension[s], w->values[s], label, arch)))
            return status;
        active += (int)sn_arch_value(space, arch, space->depth_dimension[s]);
    }
    if ((status = expect_count(k, active, "the depths give", "active blocks")) != SN_OK ||
        (status = expect_count(e, active, "the depths give", "active blocks")) != SN_OK)
        return status;
    int i = 0;
    for (int s = 0; s < space->stage_count; s++) {
        int depth = (int)sn_arch_value(space, arch, space->depth_dimension[s]);
        for (int b = 0; b < depth; b++, i++) {
            snprintf(label, sizeof label, "stage %d block %d kernel", s + 1, b + 1);
            if ((status = match_choice(space, space->kernel_dimension[s][b], k->values[i], label,
                                       arch)))
                return status;
            snprintf(label, sizeof label, "stage %d block %d expand ratio", s + 1, b + 1);
            if ((status = match_choice(space, space->expand_dimension[s][b], e->values[i], label,
                                       arch)))
                return status;
        }
    }
    return SN_OK;
}

static int parse_vit(const sn_space *space, char *body, sn_arch *arch)
{
    section sections[4] = {{"e", "embed widths", 0, 0, {0}}, {"d", "depths", 0, 0, {0}},
                           {"h", "head counts", 0, 0, {0}}, {"m", "mlp ratios", 0, 0, {0}}};
    int status = split_sections(body, sections, 4, "vit");
    if (status != SN_OK)
        return status;
    section *e = &sections[0], *d = &sections[1], *h = &sections[2], *m = &sections[3];
    if ((status = expect_count(e, 1, "a vit space takes", "value")) != SN_OK ||
        (status = expect_count(d, 1, "a vit space takes", "value")) != SN_OK)
        return status;
    if ((status = match_choice(space, space->embed_dimension, e->values[0], "embed", arch)) ||
        (status = match_choice(space, space->depth_dimension[0], d->values[0], "depth", arch)))
        return status;
    int depth = (int)sn_arch_value(space, arch, space->depth_dimension[0]);
    if ((status = expect_count(h, depth, "the depth gives", "layers")) != SN_OK ||
        (status = expect_count(m, depth, "the depth gives", "layers")) != SN_OK)
        return status;
    char label[64];
    for (int l = 0; l < depth; l++) {
        snprintf(label, sizeof label, "layer %d heads", l + 1);
        if ((status = match_choice(space, space->heads_dimension[l], h->values[l], label, arch)))
            return status;
        snprintf(label, sizeof label, "layer %d mlp ratio", l + 1);
        if ((status = match_choice(space, space->mlp_dimension[l], m->values[l], label, arch)))
            return status;
    }
    return SN_OK;
}

int sn_arch_parse(const sn_space *space, const char *text, sn_arch *arch)
{
    if (strnlen(text, PARSE_TEXT_MAX + 1) > PARSE_TEXT_MAX)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "architecture text longer than %d characters (every space's "
                            "canonical texts fit in %d)",
                            PARSE_TEXT_MAX, SN_ARCH_TEXT_MAX);
    /* the text without blanks */
    char *body = malloc(PARSE_TEXT_MAX + 1);
    if (!body)
        return sn_error_set(SN_ERR_NOMEM, "architecture text: out of memory");
    size_t n = 0;
    for (const char *p = text; *p; p++)
        if (!isspace((unsigned char)*p))
            body[n++] = *p;
    body[n] = '\0';

    const char *type = space->type == SN_SPACE_CNN ? "cnn" : "vit";
    int status;
    sn_arch parsed;
    memset(&parsed, 0, sizeof parsed); /* inactive dimensions: choice 0 */
    char start[4 * 20 + 4];
    if (strncmp(body, type, 3) != 0 || body[3] != ':')
        status = sn_error_set(SN_ERR_ARGUMENT,
                              "architecture text '%s' does not start with '%s:' (the space is "
                              "a %s space)",
                              sn_format_user_text(start, sizeof start, body, 20), type, type);
    else if (space->type == SN_SPACE_CNN)
        status = parse_cnn(space, body + 4, &parsed);
    else
        status = parse_vit(space, body + 4, &parsed);
    free(body);
    if (status == SN_OK)
        memcpy(arch, &parsed, sizeof parsed);
    return status;
}
