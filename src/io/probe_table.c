/* probes.csv: the table `shiftnas probe` writes whole, atomically
 * (shiftnas/probes.h). */
#include "shiftnas/probes.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shiftnas/error.h"
#include "write_failure.h"

static const char probe_header[] = "probe,bucket,macs,params,subnet,test_loss,test_accuracy";

const char *sn_probe_table_header(void)
{
    return probe_header;
}

int sn_probe_table_open(sn_probe_table *table, const char *path)
{
    memset(table, 0, sizeof *table);
    if (snprintf(table->path, sizeof table->path, "%s", path) >= (int)sizeof table->path ||
        snprintf(table->temporary, sizeof table->temporary, "%s.tmp", path) >=
            (int)sizeof table->temporary)
        return sn_error_set(SN_ERR_ARGUMENT, "probe table: a path longer than %zu characters",
                            sizeof table->path - 1);
    table->file = fopen(table->temporary, "w");
    if (!table->file)
        return sn_write_failed(table->temporary, "cannot create", errno);
    return SN_OK;
}

void sn_probe_table_discard(sn_probe_table *table)
{
    if (!table->file)
        return;
    fclose(table->file);
    table->file = NULL;
    remove(table->temporary);
}

/* Commas and quotes would break the row (a canonical text has commas but
 * never a quote: it is quoted). */
static int check_rows(const sn_probe_table *table, const sn_probe_row *rows, int count)
{
    for (int i = 0; i < count; i++)
        if (strchr(rows[i].subnet, '"') || strchr(rows[i].subnet, '\n'))
            return sn_error_set(SN_ERR_ARGUMENT, "%s: row %d: a subnet text the table cannot hold",
                                table->path, i);
    return SN_OK;
}

int sn_probe_table_commit(sn_probe_table *table, const sn_probe_row *rows, int count)
{
    if (!table->file)
        return sn_error_set(SN_ERR_ARGUMENT, "probe table: not open");
    int status = check_rows(table, rows, count);
    if (status != SN_OK) {
        sn_probe_table_discard(table);
        return status;
    }
    FILE *f = table->file;
    table->file = NULL;
    fprintf(f, "%s\n", probe_header);
    for (int i = 0; i < count; i++) {
        const sn_probe_row *r = &rows[i];
        fprintf(f, "%d,%d,%lld,%lld,\"%s\",%.8f,%.6f\n", r->probe, r->bucket, (long long)r->macs,
                (long long)r->params, r->subnet, r->test_loss, r->test_accuracy);
    }
    status = sn_stdio_finish(f, table->temporary, 1);
    if (status == SN_OK && rename(table->temporary, table->path) != 0)
        status = sn_write_failed(table->path, "cannot rename the new file into place", errno);
    if (status != SN_OK)
        remove(table->temporary);
    return status;
}
