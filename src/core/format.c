/* Numbers as text (shiftnas/format.h). */
#include "shiftnas/format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void sn_format_number(char *out, size_t size, double x)
{
    if (x == floor(x) && fabs(x) < 1e15) {
        snprintf(out, size, "%.0f", x);
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(out, size, "%.*g", precision, x);
        if (strtod(out, NULL) == x)
            return;
    }
}

void sn_format_macs(char *out, size_t size, double macs)
{
    if (macs >= 1e9)
        snprintf(out, size, "%.4gG", macs / 1e9);
    else if (macs >= 1e6)
        snprintf(out, size, "%.4gM", macs / 1e6);
    else if (macs >= 1e3)
        snprintf(out, size, "%.4gk", macs / 1e3);
    else
        snprintf(out, size, "%.0f", macs);
}
