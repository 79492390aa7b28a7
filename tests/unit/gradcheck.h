/*
 * Finite-difference gradient checks shared by the unit tests.
 *
 * A layer is checked through a scalar probe L = sum_i r_i * out_i with fixed
 * random r (so every output element matters and no symmetry hides a wrong
 * term). For each checked input element x_j the central difference
 * (L(x_j + h) - L(x_j - h)) / 2h is compared with the analytic dL/dx_j.
 * float32 forward passes limit the attainable agreement: with h = 1e-2..1e-3
 * the truncation and rounding errors are both near 1e-4 relative, so tests
 * state tolerances around 1e-2 relative (plus a small absolute floor).
 */
#ifndef SHIFTNAS_TEST_GRADCHECK_H
#define SHIFTNAS_TEST_GRADCHECK_H

#include <stdint.h>

/* Computes the scalar probe L at the current values of the inputs. */
typedef double (*gradcheck_loss_fn)(void *context);

/* Fills x[0..n) with values drawn from N(0, scale^2), keyed by `item`. */
void gradcheck_fill_normal(float *x, int64_t n, float scale, uint32_t item);

/* sum_i r[i] * out[i] in double. */
double gradcheck_probe(const float *out, const float *r, int64_t n);

/* Compares analytic[j] with the central difference of loss() in x[j], for
 * every j if n <= max_checked, else for max_checked evenly spread j.
 * x is restored. Returns the number of elements outside
 * |a - num| <= abs_tol + rel_tol * max(|a|, |num|), printing the first few. */
int gradcheck_compare(const char *what, float *x, const float *analytic, int64_t n,
                      int64_t max_checked, double h, double rel_tol, double abs_tol,
                      gradcheck_loss_fn loss, void *context);

#endif
