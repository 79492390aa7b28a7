/* BLIS configurations: shiftnas's choice and a measured comparison
 * (kernel_choice.c). */
#ifndef SHIFTNAS_BENCH_KERNEL_CHOICE_H
#define SHIFTNAS_BENCH_KERNEL_CHOICE_H

#include "shiftnas/tensor.h"

/* After sn_blas_setup_for: the CPU's flags, BLIS_ARCH_TYPE, the kernels and
 * why ("key value" lines). arch_before: BLIS_ARCH_TYPE before the setup. */
void bench_print_blis_choice(const char *arch_before, sn_blas_products products);
/* `kernels`: sgemm at supernet shapes under every configuration BLIS was
 * built with, one child process each; chosen = shiftnas's kernels' name. */
int bench_kernels(const char *chosen);
/* `kernels-one`: the child's part, under the BLIS_ARCH_TYPE it was given. */
int bench_kernels_one(void);

#endif
