/* Comma-separated fields and numbers of the text files the report reads
 * (probes.csv, metrics.csv, the summary's files). */
#include "report_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *sn_report_next_field(char **cursor, char separator)
{
    char *start = *cursor;
    if (!start)
        return NULL;
    char *end = strchr(start, separator);
    if (end) {
        *end = '\0';
        *cursor = end + 1;
    } else {
        *cursor = NULL;
    }
    return start;
}

int sn_report_parse_double(const char *text, double *value)
{
    char *end = NULL;
    errno = 0;
    *value = strtod(text, &end);
    /* "nan" is a value here (a missing figure), overflow is not */
    return end != text && *end == '\0' && errno != ERANGE ? 0 : -1;
}

int sn_report_parse_int(const char *text, int64_t *value)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    *value = v;
    return end != text && *end == '\0' && errno == 0 ? 0 : -1;
}

void sn_report_trim_line(char *line)
{
    line[strcspn(line, "\r\n")] = '\0';
}
