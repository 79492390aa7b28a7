/* The dense product through BLIS, BLIS set-up, aligned memory, parameter tables. */
#include "shiftnas/tensor.h"
#include "shiftnas/error.h"

#include <assert.h>
#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sn_gemm(float alpha, sn_matrix a, sn_matrix b, float beta, sn_matrix c)
{
    assert(a.rows == c.rows && a.cols == b.rows && b.cols == c.cols);
    if (c.rows == 0 || c.cols == 0)
        return;
    if (a.cols == 0) {
        /* BLIS scales c by beta in this case too, but be explicit for beta = 0. */
        for (int64_t i = 0; i < c.rows; i++)
            for (int64_t j = 0; j < c.cols; j++) {
                float *x = &c.data[i * c.row_stride + j * c.col_stride];
                *x = beta == 0.0f ? 0.0f : beta * *x;
            }
        return;
    }
    bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)c.rows, (dim_t)c.cols, (dim_t)a.cols,
              &alpha, a.data, (inc_t)a.row_stride, (inc_t)a.col_stride,
              b.data, (inc_t)b.row_stride, (inc_t)b.col_stride,
              &beta, c.data, (inc_t)c.row_stride, (inc_t)c.col_stride);
}

static int cpu_has_avx512_for_skx(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

int sn_blas_setup(int threads)
{
    return sn_blas_setup_for(threads, SN_BLAS_LARGE_PRODUCTS);
}

int sn_blas_setup_for(int threads, sn_blas_products products)
{
    static int configured = 0;
    if (threads < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "BLIS threads must be >= 1, got %d", threads);
    if (!configured) {
        /* BLIS reads BLIS_ARCH_TYPE once, at its first call; a user's own
         * choice in the environment always wins. */
        if (getenv("BLIS_ARCH_TYPE") == NULL && cpu_has_avx512_for_skx()) {
            char value[16];
            /* haswell's kernels need only AVX2 and FMA, which every
             * AVX-512 CPU has. */
            arch_t arch = products == SN_BLAS_SMALL_PRODUCTS ? BLIS_ARCH_HASWELL : BLIS_ARCH_SKX;
            snprintf(value, sizeof value, "%d", (int)arch);
            setenv("BLIS_ARCH_TYPE", value, 0);
        }
        configured = 1;
    }
    bli_thread_set_num_threads((dim_t)threads);
    /* BLIS checks every call's arguments again (bli_check_error_code_helper
     * was ~3% of a small ViT subnet's step, thousands of tiny attention
     * products); sn_gemm's callers size their views from checked shapes and
     * sn_gemm asserts the dimensions agree. */
    bli_error_checking_level_set(BLIS_NO_ERROR_CHECKING);
    return SN_OK;
}

const char *sn_blas_kernel_name(void)
{
    return bli_arch_string(bli_arch_query_id());
}

void *sn_alloc_bytes(size_t bytes)
{
    void *p = NULL;
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0)
        rounded = 64;
    if (posix_memalign(&p, 64, rounded) != 0) {
        sn_error_set(SN_ERR_NOMEM, "cannot allocate %zu bytes", bytes);
        return NULL;
    }
    return p;
}

float *sn_alloc_floats(size_t count)
{
    float *p = sn_alloc_bytes(count * sizeof(float));
    if (p)
        memset(p, 0, count * sizeof(float));
    return p;
}

void sn_free(void *pointer)
{
    free(pointer);
}

void sn_parameter_table_init(sn_parameter_table *table)
{
    memset(table, 0, sizeof *table);
}

void sn_parameter_table_free(sn_parameter_table *table)
{
    free(table->entries);
    memset(table, 0, sizeof *table);
}

int sn_parameter_table_add(sn_parameter_table *table, const char *name, int ndim,
                           const int64_t *shape, int weight_decay)
{
    if (ndim < 1 || ndim > SN_MAX_DIMS)
        return sn_error_set(SN_ERR_ARGUMENT, "parameter %s: %d dimensions (1..%d allowed)",
                            name, ndim, SN_MAX_DIMS);
    if (strlen(name) >= SN_MAX_NAME)
        return sn_error_set(SN_ERR_ARGUMENT, "parameter name too long: %s", name);
    if (sn_parameter_table_find(table, name) >= 0)
        return sn_error_set(SN_ERR_INTERNAL, "parameter %s defined twice", name);
    if (table->count == table->capacity) {
        int capacity = table->capacity ? 2 * table->capacity : 32;
        sn_parameter_entry *grown = realloc(table->entries, (size_t)capacity * sizeof *grown);
        if (!grown)
            return sn_error_set(SN_ERR_NOMEM, "cannot grow the parameter table");
        table->entries = grown;
        table->capacity = capacity;
    }
    sn_parameter_entry *e = &table->entries[table->count];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    e->ndim = ndim;
    e->count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return sn_error_set(SN_ERR_ARGUMENT, "parameter %s: dimension %d is %lld",
                                name, i, (long long)shape[i]);
        e->shape[i] = shape[i];
        e->count *= (size_t)shape[i];
    }
    e->offset = (table->total + 15) / 16 * 16;
    e->weight_decay = weight_decay;
    table->total = e->offset + e->count;
    return table->count++;
}

int sn_parameter_table_find(const sn_parameter_table *table, const char *name)
{
    for (int i = 0; i < table->count; i++)
        if (strcmp(table->entries[i].name, name) == 0)
            return i;
    return -1;
}
