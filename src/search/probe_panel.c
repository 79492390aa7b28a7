/* Probe panels: reading a panel file against a space, and drawing one
 * (shiftnas/probes.h). */
#include "shiftnas/probes.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/format.h"
#include "shiftnas/rng.h"

void sn_probe_panel_free(sn_probe_panel *panel)
{
    free(panel->archs);
    free(panel->lines);
    free(panel->buckets);
    panel->archs = NULL;
    panel->lines = NULL;
    panel->buckets = NULL;
    panel->count = 0;
}

/* Room for `needed` probes (grown by doubling). */
static int reserve(sn_probe_panel *panel, int *capacity, int needed, int with_buckets)
{
    if (needed <= *capacity)
        return SN_OK;
    int grown = *capacity ? 2 * *capacity : 64;
    sn_arch *archs = realloc(panel->archs, (size_t)grown * sizeof *archs);
    if (archs)
        panel->archs = archs;
    int *lines = realloc(panel->lines, (size_t)grown * sizeof *lines);
    if (lines)
        panel->lines = lines;
    int *buckets = with_buckets ? realloc(panel->buckets, (size_t)grown * sizeof *buckets) : NULL;
    if (buckets)
        panel->buckets = buckets;
    if (!archs || !lines || (with_buckets && !buckets))
        return sn_error_set(SN_ERR_NOMEM, "probe panel: out of memory for %d probes", grown);
    *capacity = grown;
    return SN_OK;
}

/* The probe equal to `canonical` (a canonical architecture: its inactive
 * and unused choices are 0, so equal subnets are equal bytes), or -1. */
static int find_canonical(const sn_probe_panel *panel, const sn_arch *canonical)
{
    for (int i = 0; i < panel->count; i++)
        if (memcmp(&panel->archs[i], canonical, sizeof *canonical) == 0)
            return i;
    return -1;
}

int sn_probe_panel_find(const sn_probe_panel *panel, const sn_space *space, const sn_arch *arch)
{
    sn_arch canonical = *arch;
    sn_arch_canonicalize(space, &canonical);
    return find_canonical(panel, &canonical);
}

/* ---- reading ----------------------------------------------------------------- */

enum { LINE_MAX_BYTES = SN_ARCH_TEXT_INPUT_MAX };

/* The line without its leading and trailing blanks (the newline, a CR). */
static char *trim(char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    size_t n = strlen(line);
    while (n > 0 && isspace((unsigned char)line[n - 1]))
        line[--n] = '\0';
    return line;
}

/* A subnet line checked against the space: its type first (a panel of the
 * other space says so, not which section failed), then sn_arch_parse. */
static int parse_probe(const char *path, int line_number, const char *text,
                       const sn_space *space, sn_arch *arch)
{
    const char *own = space->type == SN_SPACE_CNN ? "cnn" : "vit";
    const char *other = space->type == SN_SPACE_CNN ? "vit" : "cnn";
    char shown[4 * 40 + 4];
    if (strncmp(text, other, 3) == 0 && text[3] == ':')
        return sn_error_set(SN_ERR_FORMAT, "%s:%d: wrong space: a %s subnet, but the space is %s",
                            path, line_number, other, own);
    if (strncmp(text, own, 3) != 0 || text[3] != ':')
        return sn_error_set(SN_ERR_FORMAT,
                            "%s:%d: malformed: '%s' is not a subnet (expected %s:...; comment "
                            "lines start with #)",
                            path, line_number, sn_format_user_text(shown, sizeof shown, text, 40),
                            own);
    if (sn_arch_parse(space, text, arch) != SN_OK)
        return sn_error_set(SN_ERR_FORMAT, "%s:%d: not a subnet of the %s space: %s", path,
                            line_number, own, sn_error_message());
    sn_arch_canonicalize(space, arch);
    return SN_OK;
}

enum { LINE_FITS = 0, LINE_HAS_NUL = 1, LINE_TOO_LONG = 2 };

/* One line into buffer (size LINE_MAX_BYTES + 1), without its newline;
 * *problem says whether it fits. Returns 0 at the end of the file. */
static int read_line(FILE *f, char *buffer, int *problem)
{
    size_t n = 0;
    int c, any = 0;
    *problem = LINE_FITS;
    while ((c = fgetc(f)) != EOF && c != '\n') {
        any = 1;
        if (c == '\0')
            *problem = LINE_HAS_NUL;
        else if (n == LINE_MAX_BYTES)
            *problem = LINE_TOO_LONG;
        else
            buffer[n++] = (char)c;
    }
    buffer[n] = '\0';
    return any || c == '\n';
}

static int read_panel(FILE *f, sn_probe_panel *panel, const char *path, const sn_space *space,
                      char *buffer)
{
    int capacity = 0, line_number = 0;
    int problem;
    while (read_line(f, buffer, &problem)) {
        line_number++;
        if (problem == LINE_HAS_NUL)
            return sn_error_set(SN_ERR_FORMAT, "%s:%d: malformed: a NUL byte in the line", path,
                                line_number);
        if (problem == LINE_TOO_LONG)
            return sn_error_set(SN_ERR_FORMAT, "%s:%d: malformed: longer than %d characters",
                                path, line_number, LINE_MAX_BYTES);
        char *text = trim(buffer);
        if (*text == '\0' || *text == '#')
            continue;
        if (panel->count == SN_PROBE_PANEL_MAX)
            return sn_error_set(SN_ERR_FORMAT, "%s:%d: more than %d probes", path, line_number,
                                SN_PROBE_PANEL_MAX);
        SN_TRY(reserve(panel, &capacity, panel->count + 1, 0));
        sn_arch *arch = &panel->archs[panel->count];
        SN_TRY(parse_probe(path, line_number, text, space, arch));
        int twin = find_canonical(panel, arch);
        if (twin >= 0)
            return sn_error_set(SN_ERR_FORMAT, "%s:%d: duplicate: the same subnet as line %d "
                                               "(probe %d)",
                                path, line_number, panel->lines[twin], twin);
        panel->lines[panel->count++] = line_number;
    }
    if (ferror(f))
        return sn_error_set(SN_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (panel->count == 0)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: no subnets: a probe panel lists one subnet per line "
                            "(doc/probes.md)",
                            path);
    return SN_OK;
}

int sn_probe_panel_read(sn_probe_panel *panel, const char *path, const sn_space *space)
{
    memset(panel, 0, sizeof *panel);
    FILE *f = fopen(path, "r");
    if (!f)
        return sn_error_set(SN_ERR_IO, "%s: cannot open the probe panel: %s", path,
                            strerror(errno));
    char *buffer = malloc(LINE_MAX_BYTES + 1);
    int status = buffer ? read_panel(f, panel, path, space, buffer)
                        : sn_error_set(SN_ERR_NOMEM, "%s: out of memory", path);
    free(buffer);
    fclose(f);
    if (status != SN_OK)
        sn_probe_panel_free(panel);
    return status;
}

/* ---- drawing ------------------------------------------------------------------ */

/* 1 when bucket k already holds arch (canonical, as every draw is). */
static int already_kept(const sn_probe_panel *panel, int k, const sn_arch *arch)
{
    for (int i = 0; i < panel->count; i++)
        if (panel->buckets[i] == k && memcmp(&panel->archs[i], arch, sizeof *arch) == 0)
            return 1;
    return 0;
}

/* Stable order by bucket: the draws of one bucket stay in draw order. */
static int order_by_bucket(sn_probe_panel *panel)
{
    int n = panel->count;
    sn_arch *archs = malloc((size_t)(n > 0 ? n : 1) * sizeof *archs);
    int *buckets = malloc((size_t)(n > 0 ? n : 1) * sizeof *buckets);
    if (!archs || !buckets) {
        free(archs);
        free(buckets);
        return sn_error_set(SN_ERR_NOMEM, "probe panel: out of memory");
    }
    int at = 0, top = 0;
    for (int i = 0; i < n; i++)
        if (panel->buckets[i] > top)
            top = panel->buckets[i];
    for (int k = 0; k <= top; k++)
        for (int i = 0; i < n; i++)
            if (panel->buckets[i] == k) {
                archs[at] = panel->archs[i];
                buckets[at++] = k;
            }
    memcpy(panel->archs, archs, (size_t)n * sizeof *archs);
    memcpy(panel->buckets, buckets, (size_t)n * sizeof *buckets);
    free(archs);
    free(buckets);
    return SN_OK;
}

static int draw_panel(sn_probe_panel *panel, const sn_space *space, const sn_buckets *buckets,
                      int per_bucket, uint64_t seed, int64_t max_draws,
                      sn_probe_panel_report *report)
{
    int capacity = 0, full = 0, K = buckets->count;
    int64_t i = 0;
    for (; i < max_draws && full < K; i++) {
        sn_rng_stream stream;
        sn_rng_stream_init(&stream, seed, SN_RNG_PROBE_PANEL, 0, (uint32_t)i);
        sn_arch arch;
        sn_arch_sample_uniform(space, &stream, &arch);
        int k = sn_buckets_index(buckets, sn_space_cost(space, &arch).macs);
        if (k < 0 || report->found[k] == per_bucket || already_kept(panel, k, &arch))
            continue;
        SN_TRY(reserve(panel, &capacity, panel->count + 1, 1));
        panel->archs[panel->count] = arch;
        panel->lines[panel->count] = 0;
        panel->buckets[panel->count++] = k;
        if (++report->found[k] == per_bucket)
            full++;
    }
    report->draws = i;
    return order_by_bucket(panel);
}

int sn_probe_panel_make(sn_probe_panel *panel, const sn_space *space, const sn_buckets *buckets,
                        int per_bucket, uint64_t seed, int64_t max_draws,
                        sn_probe_panel_report *report)
{
    memset(panel, 0, sizeof *panel);
    memset(report, 0, sizeof *report);
    if (per_bucket < 1 || per_bucket > SN_PROBE_PANEL_MAX / SN_BUCKETS_MAX)
        return sn_error_set(SN_ERR_ARGUMENT, "probe panel: %d subnets per bucket is not in 1..%d",
                            per_bucket, SN_PROBE_PANEL_MAX / SN_BUCKETS_MAX);
    if (max_draws < 1 || max_draws > ((int64_t)1 << 32))
        return sn_error_set(SN_ERR_ARGUMENT, "probe panel: %lld draws is not in 1..2^32",
                            (long long)max_draws);
    int status = draw_panel(panel, space, buckets, per_bucket, seed, max_draws, report);
    if (status != SN_OK)
        sn_probe_panel_free(panel);
    return status;
}
