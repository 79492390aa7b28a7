/* probes.csv, the probe panel evaluated with a run's weights (`shiftnas
 * probe`): read for the report's per-bucket comparisons and the
 * stand-alone ground truth. */
#include "report_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/text_table.h"
#include "shiftnas/error.h"

static const char probes_header[] = "probe,bucket,macs,params,subnet,test_loss,test_accuracy";

/* One data line into row; a static description of what is wrong, or NULL. */
static const char *parse_row(char *line, sn_probe_row *row)
{
    char *cursor = line;
    char *probe = sn_report_next_field(&cursor, ','), *bucket = sn_report_next_field(&cursor, ',');
    char *macs = sn_report_next_field(&cursor, ','), *params = sn_report_next_field(&cursor, ',');
    if (!probe || !bucket || !macs || !params || !cursor)
        return "fewer than 7 fields";
    int64_t value = 0;
    if (sn_report_parse_int(probe, &value) != 0 || value < -1 || value > INT32_MAX)
        return "probe is not an index";
    row->probe = (int)value;
    if (sn_report_parse_int(bucket, &value) != 0 || value < -1 || value >= SN_REPORT_BUCKETS_MAX)
        return "bucket is not a bucket index";
    row->bucket = (int)value;
    if (sn_report_parse_int(macs, &row->macs) != 0 || row->macs < 0)
        return "macs is not a count";
    if (sn_report_parse_int(params, &row->params) != 0 || row->params < 0)
        return "params is not a count";
    /* the subnet is quoted: it holds commas */
    if (*cursor != '"')
        return "subnet is not double-quoted";
    char *close = strchr(cursor + 1, '"');
    if (!close || close[1] != ',')
        return "subnet is not double-quoted";
    *close = '\0';
    if (strlen(cursor + 1) >= sizeof row->subnet)
        return "subnet too long";
    snprintf(row->subnet, sizeof row->subnet, "%s", cursor + 1);
    cursor = close + 2;
    char *loss = sn_report_next_field(&cursor, ','), *accuracy = sn_report_next_field(&cursor, ',');
    if (!loss || !accuracy)
        return "fewer than 7 fields";
    if (cursor)
        return "more than 7 fields";
    if (sn_report_parse_double(loss, &row->test_loss) != 0)
        return "test_loss is not a number";
    if (sn_report_parse_double(accuracy, &row->test_accuracy) != 0 ||
        !(row->test_accuracy >= 0 && row->test_accuracy <= 1))
        return "test_accuracy is not a fraction";
    return NULL;
}

void sn_probe_rows_free(sn_probe_rows *table)
{
    free(table->rows);
    table->rows = NULL;
    table->count = 0;
}

/* Each row into the next slot of the table (read_probe below). */
struct probe_reading {
    const char *path;
    sn_probe_rows *table;
    int capacity;
};

static int read_probe(void *context, char *line, int line_number, const char **problem)
{
    (void)line_number;
    struct probe_reading *reading = context;
    sn_probe_rows *table = reading->table;
    SN_TRY(sn_text_table_reserve((void **)&table->rows, &reading->capacity, table->count,
                                 sizeof *table->rows, 16, reading->path));
    sn_probe_row *row = &table->rows[table->count];
    memset(row, 0, sizeof *row);
    *problem = parse_row(line, row);
    if (!*problem)
        table->count++;
    return SN_OK;
}

int sn_probe_rows_read(const char *path, sn_probe_rows *table)
{
    memset(table, 0, sizeof *table);
    struct probe_reading reading = {path, table, 0};
    int status = sn_text_table_read(path, probes_header, "a shiftnas probes table", read_probe,
                                    &reading);
    if (status != SN_OK)
        sn_probe_rows_free(table);
    return status;
}
