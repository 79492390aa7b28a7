/*
 * shiftnas/tensor.h — strided matrix views, the one dense product, and slabs.
 *
 * Element counts and strides are in floats, never bytes. A matrix view
 * (rows x cols) places element (i, j) at data[i*row_stride + j*col_stride].
 * A view never owns memory: it points into a slab.
 *
 * Worked example. A supernet linear layer has weight W of 8 x 6 floats, row
 * major (row_stride 6, col_stride 1). A subnet that uses the first 4 outputs
 * and the first 3 inputs multiplies by the view
 *     { data = W, rows = 4, cols = 3, row_stride = 6, col_stride = 1 }
 * and the transpose of that view is { W, 3, 4, 1, 6 }: no copy either way.
 * sn_gemm hands such views to BLIS (bli_sgemm takes both strides).
 *
 * Slabs. Parameters, gradients and optimiser moments are each one allocation.
 * A parameter table lists named entries (shape, offset, whether weight decay
 * applies); the same offsets index the parameter, gradient and moment slabs.
 */
#ifndef SHIFTNAS_TENSOR_H
#define SHIFTNAS_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "shiftnas/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float *data;
    int64_t rows, cols;
    int64_t row_stride, col_stride;
} sn_matrix;

/* A row-major view of `rows` x `cols` whose rows are `row_stride` apart. */
static inline sn_matrix sn_matrix_make(float *data, int64_t rows, int64_t cols, int64_t row_stride)
{
    sn_matrix m = {data, rows, cols, row_stride, 1};
    return m;
}

/* The same elements seen as the transpose: swaps dimensions and strides. */
static inline sn_matrix sn_matrix_transpose(sn_matrix m)
{
    sn_matrix t = {m.data, m.cols, m.rows, m.col_stride, m.row_stride};
    return t;
}

/* The top-left rows x cols block of m. */
static inline sn_matrix sn_matrix_block(sn_matrix m, int64_t rows, int64_t cols)
{
    sn_matrix b = {m.data, rows, cols, m.row_stride, m.col_stride};
    return b;
}

/* c = alpha * a * b + beta * c, through bli_sgemm. Dimensions must agree
 * (a.rows == c.rows, a.cols == b.rows, b.cols == c.cols); checked by assert.
 * With beta == 0, c's previous contents (even NaN) are ignored. */
SN_API void sn_gemm(float alpha, sn_matrix a, sn_matrix b, float beta, sn_matrix c);

/* Which products a process mostly runs, for the choice of BLIS kernels. */
typedef enum {
    SN_BLAS_LARGE_PRODUCTS, /* wide convolutions: the 'skx' kernels */
    SN_BLAS_SMALL_PRODUCTS  /* thousands of small products (the CNN supernet's
                               narrow layers): the 'haswell' kernels, whose
                               small-matrix path skips packing */
} sn_blas_products;

/* Chooses BLIS's kernels and thread count before the first product.
 * threads: BLIS threads for this process (>= 1). If the environment does not
 * set BLIS_ARCH_TYPE and the CPU has AVX-512 (F, DQ, CD, BW, VL), on which
 * Debian's BLIS 0.9 picks slow kernels by itself, selects 'skx' for large
 * products (about 5x BLIS's own pick in sgemm 1024^3) or 'haswell' for small
 * ones (the fixed ViT trains ~1.25x faster with it than with skx); see
 * doc/performance.md. Elsewhere BLIS chooses. Must be called before any BLIS
 * product; later calls only change the thread count. */
SN_API int sn_blas_setup_for(int threads, sn_blas_products products);
/* sn_blas_setup_for(threads, SN_BLAS_LARGE_PRODUCTS) */
SN_API int sn_blas_setup(int threads);

/* The name of the kernel configuration BLIS is using ("skx", "haswell", ...). */
SN_API const char *sn_blas_kernel_name(void);

/* Memory for numerics: 64-byte aligned (a cache line, an AVX-512 vector).
 * sn_alloc_floats zero-fills; returns NULL (and sets the error) on failure. */
SN_API float *sn_alloc_floats(size_t count);
SN_API void *sn_alloc_bytes(size_t bytes);
SN_API void sn_free(void *pointer);

/* ---- parameter tables and slabs ---------------------------------------- */

enum { SN_MAX_DIMS = 4, SN_MAX_NAME = 64 };

typedef struct {
    char name[SN_MAX_NAME];       /* "stage2.block0.expand.weight" */
    int ndim;
    int64_t shape[SN_MAX_DIMS];
    size_t offset;                /* in floats, from the start of the slab */
    size_t count;                 /* product of shape */
    int weight_decay;             /* 0 for norms and biases */
} sn_parameter_entry;

typedef struct {
    sn_parameter_entry *entries;
    int count, capacity;
    size_t total;                 /* floats in a slab, including alignment padding */
} sn_parameter_table;

SN_API void sn_parameter_table_init(sn_parameter_table *table);
SN_API void sn_parameter_table_free(sn_parameter_table *table);
/* Appends an entry; offsets are rounded up to 16 floats (64 bytes) so every
 * parameter starts on a cache line. Returns the entry's index, or < 0. */
SN_API int sn_parameter_table_add(sn_parameter_table *table, const char *name, int ndim,
                                  const int64_t *shape, int weight_decay);
/* Index of the entry with this name, or -1. */
SN_API int sn_parameter_table_find(const sn_parameter_table *table, const char *name);

#ifdef __cplusplus
}
#endif
#endif
