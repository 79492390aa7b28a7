/* The line walk shared by every table reader (see text_table.h). */
#include "io/text_table.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"

static int check_header(const char *path, const char *line, const char *header, const char *what)
{
    if (strcmp(line, header) == 0)
        return SN_OK;
    return sn_error_set(SN_ERR_FORMAT, "%s:1: not %s (header '%.60s')", path, what, line);
}

static int read_lines(FILE *f, const char *path, const char *header, const char *what,
                      sn_text_table_row row, void *context)
{
    char *line = NULL;
    size_t size = 0;
    int number = 0, status = SN_OK;
    while (status == SN_OK && getline(&line, &size, f) >= 0) {
        number++;
        line[strcspn(line, "\r\n")] = '\0';
        if (number == 1) {
            status = check_header(path, line, header, what);
            continue;
        }
        if (!line[0])
            continue;
        const char *problem = NULL;
        status = row(context, line, number, &problem);
        if (status == SN_OK && problem)
            status = sn_error_set(SN_ERR_FORMAT, "%s:%d: malformed row: %s", path, number, problem);
    }
    if (status == SN_OK && ferror(f))
        status = sn_error_set(SN_ERR_IO, "%s: read failed: %s", path, strerror(errno));
    if (status == SN_OK && number == 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: empty (no header)", path);
    free(line);
    return status;
}

int sn_text_table_read(const char *path, const char *header, const char *what,
                       sn_text_table_row row, void *context)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sn_error_set(SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int status = read_lines(f, path, header, what, row, context);
    fclose(f);
    return status;
}

int sn_text_table_reserve(void **items, int *capacity, int count, size_t item_size,
                          int first_capacity, const char *path)
{
    if (count < *capacity)
        return SN_OK;
    if (*capacity > INT_MAX / 2)
        return sn_error_set(SN_ERR_NOMEM, "%s: too many rows", path);
    int grown = *capacity ? 2 * *capacity : first_capacity;
    if ((size_t)grown > SIZE_MAX / item_size)
        return sn_error_set(SN_ERR_NOMEM, "%s: too many rows", path);
    void *larger = realloc(*items, item_size * (size_t)grown);
    if (!larger)
        return sn_error_set(SN_ERR_NOMEM, "%s: out of memory", path);
    *items = larger;
    *capacity = grown;
    return SN_OK;
}
