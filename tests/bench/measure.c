/* Helpers shared by the modes of bench_shiftnas (measure.h). */
#include "measure.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "shiftnas/error.h"
#include "shiftnas/rng.h"

void bench_fill_normal(float *x, int64_t n, uint32_t item)
{
    sn_rng_stream s;
    sn_rng_stream_init(&s, 3, SN_RNG_TEST, 0, item);
    for (int64_t i = 0; i < n; i++)
        x[i] = sn_rng_normal(&s);
}

int bench_fail(const char *what)
{
    fprintf(stderr, "bench_shiftnas: %s: %s\n", what, sn_error_message());
    return 1;
}

int bench_load_config(sn_config *config, const char *path)
{
    sn_config_defaults(config);
    if (sn_config_load_file(config, path) != SN_OK || sn_config_validate(config) != SN_OK)
        return bench_fail(path);
    return 0;
}

double bench_cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double bench_best_seconds(bench_fn fn, void *context, int rounds, double min_seconds)
{
    fn(context); /* warm: first-touch page faults, caches, BLIS's packing buffers */
    double t0 = bench_cpu_seconds();
    fn(context);
    double once = bench_cpu_seconds() - t0;
    long calls = once > 0 ? (long)(min_seconds / once) + 1 : 1000;
    if (calls < 1)
        calls = 1;
    double best = 1e30;
    for (int r = 0; r < rounds; r++) {
        t0 = bench_cpu_seconds();
        for (long i = 0; i < calls; i++)
            fn(context);
        double t = (bench_cpu_seconds() - t0) / (double)calls;
        best = t < best ? t : best;
    }
    return best;
}

typedef struct {
    sn_matrix a, b, c;
} gemm_operands;

static void run_gemm(void *context)
{
    gemm_operands *g = context;
    sn_gemm(1.0f, g->a, g->b, 0.0f, g->c);
}

enum { SHAPES_REMEMBERED = 256 };

typedef struct {
    int64_t m, n, k;
    int ta, tb;
    double gflops;
} gemm_shape;

double bench_sgemm_gflops(int64_t m, int64_t n, int64_t k, int ta, int tb)
{
    static gemm_shape seen[SHAPES_REMEMBERED];
    static int seen_count = 0;
    for (int i = 0; i < seen_count; i++)
        if (seen[i].m == m && seen[i].n == n && seen[i].k == k && seen[i].ta == ta &&
            seen[i].tb == tb)
            return seen[i].gflops;
    float *a = sn_alloc_floats((size_t)(m * k)), *b = sn_alloc_floats((size_t)(k * n));
    float *c = sn_alloc_floats((size_t)(m * n));
    if (!a || !b || !c) {
        sn_free(a);
        sn_free(b);
        sn_free(c);
        return 0.0;
    }
    bench_fill_normal(a, m * k, 11);
    bench_fill_normal(b, k * n, 12);
    gemm_operands g;
    g.a = ta ? sn_matrix_transpose(sn_matrix_make(a, k, m, m)) : sn_matrix_make(a, m, k, k);
    g.b = tb ? sn_matrix_transpose(sn_matrix_make(b, n, k, k)) : sn_matrix_make(b, k, n, n);
    g.c = sn_matrix_make(c, m, n, n);
    double seconds = bench_best_seconds(run_gemm, &g, 5, 0.01);
    double gflops = 2.0 * (double)m * (double)n * (double)k / seconds / 1e9;
    sn_free(a);
    sn_free(b);
    sn_free(c);
    if (seen_count < SHAPES_REMEMBERED)
        seen[seen_count++] = (gemm_shape){m, n, k, ta, tb, gflops};
    return gflops;
}

typedef struct {
    float *a, *b, *c;
    int64_t n;
} triad_arrays;

static void run_triad(void *context)
{
    triad_arrays *t = context;
    float *restrict a = t->a;
    const float *restrict b = t->b, *restrict c = t->c;
    for (int64_t i = 0; i < t->n; i++)
        a[i] = b[i] + 3.0f * c[i];
}

double bench_triad_gbps(double bytes)
{
    triad_arrays t;
    t.n = (int64_t)(bytes / 12.0);
    if (t.n < 16)
        t.n = 16;
    t.a = sn_alloc_floats((size_t)t.n);
    t.b = sn_alloc_floats((size_t)t.n);
    t.c = sn_alloc_floats((size_t)t.n);
    if (!t.a || !t.b || !t.c) {
        sn_free(t.a);
        sn_free(t.b);
        sn_free(t.c);
        return 0.0;
    }
    bench_fill_normal(t.b, t.n, 13);
    bench_fill_normal(t.c, t.n, 14);
    double seconds = bench_best_seconds(run_triad, &t, 5, 0.02);
    sn_free(t.a);
    sn_free(t.b);
    sn_free(t.c);
    return 12.0 * (double)t.n / seconds / 1e9;
}
