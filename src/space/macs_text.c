/* MACs counts as users write them: "2.5M", and lists of them for --targets
 * (shiftnas/space.h). Every limit is checked before the value is used, so a
 * target that would overflow the int64 budget (1e308G) or name nothing
 * (an empty item) never reaches the search or its table. */
#include "shiftnas/space.h"
#include "shiftnas/error.h"
#include "shiftnas/format.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { MACS_OK, MACS_NOT_A_COUNT, MACS_OUT_OF_RANGE } macs_verdict;

static macs_verdict macs_value(const char *text, double *macs)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (end == text)
        return MACS_NOT_A_COUNT;
    double scale = 1;
    if (*end == 'k' || *end == 'K')
        scale = 1e3, end++;
    else if (*end == 'M' || *end == 'm')
        scale = 1e6, end++;
    else if (*end == 'G' || *end == 'g')
        scale = 1e9, end++;
    if (*end != '\0' || isnan(value))
        return MACS_NOT_A_COUNT;
    value *= scale;
    if (errno == ERANGE || !isfinite(value) || !(value > 0) || value > SN_MACS_MAX)
        return MACS_OUT_OF_RANGE;
    *macs = value;
    return MACS_OK;
}

int sn_macs_parse(const char *text, double *macs)
{
    return macs_value(text, macs) == MACS_OK ? SN_OK : SN_ERR_ARGUMENT;
}

/* The one line for item `position` (from 1) that macs_value refused. */
static int item_error(int position, const char *item, macs_verdict verdict)
{
    char shown[4 * 40 + 4];
    sn_format_user_text(shown, sizeof shown, item, 40);
    if (verdict == MACS_NOT_A_COUNT)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "item %d, '%s', is not a MACs count like 2.5M (a number with an "
                            "optional k, M or G suffix)",
                            position, shown);
    return sn_error_set(SN_ERR_ARGUMENT,
                        "item %d, '%s', is out of range: a target is more than 0 and at most "
                        "1000000G MACs",
                        position, shown);
}

int sn_macs_parse_list(const char *list, double *macs, int max, int *count)
{
    *count = 0;
    if (max > SN_MACS_LIST_MAX)
        max = SN_MACS_LIST_MAX;
    size_t length = strnlen(list, SN_MACS_LIST_TEXT_MAX + 1);
    if (length > SN_MACS_LIST_TEXT_MAX)
        return sn_error_set(SN_ERR_ARGUMENT, "the list is longer than %d characters",
                            SN_MACS_LIST_TEXT_MAX);
    if (length == 0)
        return sn_error_set(SN_ERR_ARGUMENT, "the list is empty; give at least one target "
                                             "(e.g. 2.5M,5M,8M)");
    int items = 1;
    for (const char *p = list; *p; p++)
        items += *p == ',';
    if (items > max)
        return sn_error_set(SN_ERR_ARGUMENT, "at most %d targets, got %d", max, items);
    char buffer[SN_MACS_LIST_TEXT_MAX + 1];
    memcpy(buffer, list, length + 1);
    char *item = buffer;
    for (int position = 1; position <= items; position++) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        if (*item == '\0')
            return sn_error_set(SN_ERR_ARGUMENT, "item %d of %d is empty (two commas in a row, "
                                                 "or one at an end)",
                                position, items);
        macs_verdict verdict = macs_value(item, &macs[position - 1]);
        if (verdict != MACS_OK)
            return item_error(position, item, verdict);
        item = comma ? comma + 1 : item;
    }
    *count = items;
    return SN_OK;
}
