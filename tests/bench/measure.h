/* Helpers shared by the modes of bench_shiftnas (tests/bench/). */
#ifndef SHIFTNAS_BENCH_MEASURE_H
#define SHIFTNAS_BENCH_MEASURE_H

#include <stdint.h>

#include "shiftnas/config.h"
#include "shiftnas/tensor.h"

/* x[i] = standard normal draws, keyed by `item` (the same in every run). */
void bench_fill_normal(float *x, int64_t n, uint32_t item);
/* Prints "bench_shiftnas: WHAT: <the library's last error>" and returns 1. */
int bench_fail(const char *what);
/* The configuration at path with shiftnas's defaults, validated; 0 or 1. */
int bench_load_config(sn_config *config, const char *path);

/* The process's CPU time (user + system), in seconds. */
double bench_cpu_seconds(void);
/* CPU seconds per call of fn(context): the best of `rounds` rounds, each
 * calling fn often enough to last at least min_seconds. CPU time, not wall
 * clock: on a shared machine a wall clock counts the time other processes
 * held the core; the best round is the one least disturbed otherwise
 * (caches). Single-threaded callers only (BLIS on one thread). */
typedef void (*bench_fn)(void *context);
double bench_best_seconds(bench_fn fn, void *context, int rounds, double min_seconds);

/* Single-thread sgemm GFLOP/s of C[m,n] = A[m,k] B[k,n] with A transposed
 * (stored k x m) when ta, B transposed (stored n x k) when tb, best of a few
 * rounds on private operands. Remembers the shapes it has measured. */
double bench_sgemm_gflops(int64_t m, int64_t n, int64_t k, int ta, int tb);

/* STREAM-like triad a[i] = b[i] + s*c[i] over three arrays of `bytes` in
 * all (12 bytes per element moved: two reads, one write), best of a few
 * rounds: GB/s at that working set. */
double bench_triad_gbps(double bytes);

#endif
