/* search.csv: the table `shiftnas search` and `shiftnas eval --csv` append
 * to, and `shiftnas report` reads (layout in shiftnas/runfiles.h). Writer and
 * reader share the header line here. */
#include "shiftnas/runfiles.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/space.h"
#include "text_table.h"
#include "write_failure.h"

static const char search_header[] =
    "method,strategy,target_flops,arch,flops,params,val_accuracy,test_accuracy,evaluations,"
    "seconds";

/* ---- writing ---------------------------------------------------------------- */

/* Opens path for appending; writes the header into a new or empty file,
 * refuses a file whose first line is not the header. */
static int open_for_append(const char *path, FILE **out)
{
    FILE *f = fopen(path, "a+");
    if (!f)
        return sn_write_failed(path, "cannot open for appending", errno);
    char first[256] = "", header[sizeof search_header + 1];
    snprintf(header, sizeof header, "%s\n", search_header);
    rewind(f);
    if (fgets(first, sizeof first, f) == NULL) {
        fputs(header, f);
    } else if (strcmp(first, header) != 0) {
        fclose(f);
        return sn_error_set(SN_ERR_FORMAT, "%s: exists and is not a shiftnas search table; "
                                           "choose --csv", path);
    }
    *out = f;
    return SN_OK;
}

/* One row; an eval row (target 0) leaves target_flops empty. */
static void write_row(FILE *f, const sn_search_row *r)
{
    if (r->target > 0)
        fprintf(f, "%s,%s,%.0f,", r->method, r->strategy, r->target);
    else
        fprintf(f, "%s,%s,,", r->method, r->strategy);
    fprintf(f, "\"%s\",%lld,%lld,%.6f,%.6f,%lld,%.2f\n", r->arch, (long long)r->macs,
            (long long)r->params, r->val_accuracy, r->test_accuracy, (long long)r->evaluations,
            r->seconds);
}

int sn_search_table_append(const char *path, const sn_search_row *rows, int count)
{
    if (!path || !*path || count < 0 || (count > 0 && !rows))
        return sn_error_set(SN_ERR_ARGUMENT, "search table: no path or rows given");
    for (int i = 0; i < count; i++)
        if (!rows[i].method[0] || strchr(rows[i].method, ',') || strchr(rows[i].strategy, ',') ||
            strchr(rows[i].arch, '"'))
            return sn_error_set(SN_ERR_ARGUMENT, "%s: row %d: a method, strategy or arch that "
                                                 "the table cannot hold",
                                path, i);
    for (int i = 0; i < count; i++)
        if (!(rows[i].target >= 0 && rows[i].target <= SN_MACS_MAX))
            return sn_error_set(SN_ERR_ARGUMENT, "%s: row %d: target %g MACs is out of range "
                                                 "(at most 1000000G)",
                                path, i, rows[i].target);
    FILE *f = NULL;
    SN_TRY(open_for_append(path, &f));
    for (int i = 0; i < count; i++)
        write_row(f, &rows[i]);
    return sn_stdio_finish(f, path, 0);
}

/* ---- reading ---------------------------------------------------------------- */

/* The next comma-separated field of *cursor (not quoted), NUL-terminated in
 * place; NULL at the end of the line. */
static char *next_field(char **cursor)
{
    char *start = *cursor;
    if (!start)
        return NULL;
    char *comma = strchr(start, ',');
    if (comma) {
        *comma = '\0';
        *cursor = comma + 1;
    } else {
        *cursor = NULL;
    }
    return start;
}

static int parse_double(const char *text, double *value)
{
    char *end = NULL;
    errno = 0;
    *value = strtod(text, &end);
    return end != text && *end == '\0' && errno == 0 ? 0 : -1;
}

static int parse_int(const char *text, int64_t *value)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    *value = v;
    return end != text && *end == '\0' && errno == 0 ? 0 : -1;
}

/* One data line into row; returns a static description of what is wrong,
 * or NULL. */
static const char *parse_row(char *line, sn_search_row *row)
{
    char *cursor = line;
    char *method = next_field(&cursor), *strategy = next_field(&cursor);
    char *target = next_field(&cursor);
    if (!method || !strategy || !target || !cursor)
        return "fewer than 10 fields";
    if (!*method || strlen(method) >= sizeof row->method)
        return "bad method";
    if (strlen(strategy) >= sizeof row->strategy)
        return "strategy too long";
    snprintf(row->method, sizeof row->method, "%s", method);
    snprintf(row->strategy, sizeof row->strategy, "%s", strategy);
    row->target = 0;
    if (*target && (parse_double(target, &row->target) != 0 || !(row->target >= 0)))
        return "target_flops is not a number";
    /* an older search took 1e308G and wrote inf: no target to report */
    if (!isfinite(row->target) || row->target > SN_MACS_MAX)
        return "target_flops is out of range (a target is at most 1000000G MACs)";
    /* the arch is quoted (it holds commas) */
    if (*cursor != '"')
        return "arch is not double-quoted";
    char *close = strchr(cursor + 1, '"');
    if (!close || close[1] != ',')
        return "arch is not double-quoted";
    *close = '\0';
    if (strlen(cursor + 1) >= sizeof row->arch)
        return "arch too long";
    snprintf(row->arch, sizeof row->arch, "%s", cursor + 1);
    cursor = close + 2;
    char *fields[6]; /* flops, params, val_accuracy, test_accuracy, evaluations, seconds */
    for (int i = 0; i < 6; i++)
        if (!(fields[i] = next_field(&cursor)))
            return "fewer than 10 fields";
    if (cursor)
        return "more than 10 fields";
    if (parse_int(fields[0], &row->macs) != 0 || row->macs < 0)
        return "flops is not a count";
    if (parse_int(fields[1], &row->params) != 0 || row->params < 0)
        return "params is not a count";
    if (parse_double(fields[2], &row->val_accuracy) != 0)
        return "val_accuracy is not a number";
    if (parse_double(fields[3], &row->test_accuracy) != 0 || !isfinite(row->test_accuracy))
        return "test_accuracy is not a number";
    if (parse_int(fields[4], &row->evaluations) != 0)
        return "evaluations is not a count";
    if (parse_double(fields[5], &row->seconds) != 0)
        return "seconds is not a number";
    return NULL;
}

const sn_search_row *sn_search_table_find(const sn_search_table *table, const char *method,
                                          double target)
{
    for (int i = 0; i < table->count; i++)
        if (strcmp(table->rows[i].method, method) == 0 &&
            fabs(table->rows[i].target - target) < 0.5)
            return &table->rows[i];
    return NULL;
}

void sn_search_table_free(sn_search_table *table)
{
    free(table->rows);
    table->rows = NULL;
    table->count = 0;
    table->replaced = 0;
}

/* A repeated search replaces the earlier row of its (method, target). */
struct search_reading {
    const char *path;
    sn_search_table *table;
    int capacity;
};

static int read_search_row(void *context, char *line, int line_number, const char **problem)
{
    struct search_reading *reading = context;
    sn_search_table *table = reading->table;
    sn_search_row row;
    memset(&row, 0, sizeof row);
    row.line = line_number;
    if ((*problem = parse_row(line, &row)) != NULL)
        return SN_OK;
    sn_search_row *earlier = (sn_search_row *)sn_search_table_find(table, row.method, row.target);
    if (earlier) {
        *earlier = row;
        table->replaced++;
        return SN_OK;
    }
    SN_TRY(sn_text_table_reserve((void **)&table->rows, &reading->capacity, table->count,
                                 sizeof *table->rows, 16, reading->path));
    table->rows[table->count++] = row;
    return SN_OK;
}

int sn_search_table_read(const char *path, sn_search_table *table)
{
    memset(table, 0, sizeof *table);
    struct search_reading reading = {path, table, 0};
    int status = sn_text_table_read(path, search_header, "a shiftnas search table",
                                    read_search_row, &reading);
    if (status != SN_OK)
        sn_search_table_free(table);
    return status;
}
