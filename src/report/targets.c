/* The --targets list of `shiftnas report`: MACs counts as search.csv holds
 * them. */
#include "shiftnas/report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/space.h"

int sn_report_parse_targets(const char *list, double *targets, int max, int *count)
{
    char buffer[1024];
    if (snprintf(buffer, sizeof buffer, "%s", list) >= (int)sizeof buffer)
        return sn_error_set(SN_ERR_ARGUMENT, "--targets: list too long");
    *count = 0;
    for (char *save = NULL, *item = strtok_r(buffer, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        if (*count == max || sn_macs_parse(item, &targets[*count]) != SN_OK)
            return sn_error_set(SN_ERR_ARGUMENT,
                                "--targets: '%s' is not a MACs count like 2.5M (at most %d)", item,
                                max);
        /* targets are whole MACs in search.csv */
        targets[*count] = floor(targets[*count] + 0.5);
        (*count)++;
    }
    if (*count == 0)
        return sn_error_set(SN_ERR_ARGUMENT, "--targets needs at least one value");
    return SN_OK;
}
