/*
 * Fault injection for the failure tests, compiled only in a build configured
 * with --enable-fault-injection (SHIFTNAS_FAULT_INJECTION in config.h);
 * otherwise this header declares nothing and the trainer has no fault
 * points. Internal to shiftnas: the library and the program.
 *
 * The library never raises signals or exits. At its fault points it asks
 * the hook the program installed (src/cli/fault_injection.c, which reads
 * SHIFTNAS_INJECT_FAULT) what to do: the hook may kill the process or send
 * it a stop request itself (the failures of a whole process), or name a
 * failure the library then produces on that rank alone (an I/O error, a
 * NaN), through the code paths a real one would take.
 *
 * The program reaches the library through its public API only, except here:
 * in a fault-injection build the shared library exports
 * sn_fault_injection_set_hook as well (tests/unit/test_exports.sh expects
 * it exactly then).
 */
#ifndef SHIFTNAS_TRAIN_FAULT_INJECTION_H
#define SHIFTNAS_TRAIN_FAULT_INJECTION_H

#include "config.h"

#include "shiftnas/api.h"

#ifdef SHIFTNAS_FAULT_INJECTION
#include <stdint.h>

typedef enum {
    SN_FAULT_POINT_STEP,       /* a training step starts on this rank */
    SN_FAULT_POINT_CHECKPOINT  /* rank 0 is half way through writing a checkpoint */
} sn_fault_point;

typedef enum {
    SN_FAULT_NONE = 0,
    SN_FAULT_IO,   /* the step fails on this rank with an I/O error after its update */
    SN_FAULT_NAN   /* the step's first image is NaN: the loss of its shard is NaN */
} sn_fault;

/* step counts from 1, as the messages do: the step starting, or the steps
 * done that the checkpoint being written holds. */
typedef sn_fault (*sn_fault_hook)(sn_fault_point point, int rank, int64_t step);

/* Installs the hook (NULL: none, the default), before training starts. */
SN_API void sn_fault_injection_set_hook(sn_fault_hook hook);

/* The library's fault points: the hook's answer, SN_FAULT_NONE without one. */
sn_fault sn_fault_injection_at(sn_fault_point point, int rank, int64_t step);
#endif

#endif
