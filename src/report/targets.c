/* The --targets list of `shiftnas report`: MACs counts as search.csv holds
 * them. */
#include "shiftnas/report.h"

#include <math.h>

#include "shiftnas/error.h"
#include "shiftnas/space.h"

int sn_report_parse_targets(const char *list, double *targets, int max, int *count)
{
    int status = sn_macs_parse_list(list, targets, max, count);
    if (status != SN_OK)
        return sn_error_set(status, "--targets: %s", sn_error_message());
    /* targets are whole MACs in search.csv */
    for (int t = 0; t < *count; t++)
        targets[t] = floor(targets[t] + 0.5);
    return SN_OK;
}
