/* The library's side of fault injection (fault_injection.h): the hook the
 * program installed, asked at each fault point. Built only with
 * --enable-fault-injection. */
#include "fault_injection.h"

#include <stddef.h>

static sn_fault_hook installed_hook = NULL;

void sn_fault_injection_set_hook(sn_fault_hook hook)
{
    installed_hook = hook;
}

sn_fault sn_fault_injection_at(sn_fault_point point, int rank, int64_t step)
{
    return installed_hook ? installed_hook(point, rank, step) : SN_FAULT_NONE;
}
