/*
 * Test helpers: walking the parameters of a subnet built on its own (a
 * supernet of sn_space_restrict(space, arch)) against the same-named entries
 * of the full supernet. A slice is a prefix (1-d), a top-left block (2-d), or
 * first channels times a centre crop (3-d, depthwise kernels).
 */
#ifndef SHIFTNAS_TEST_SUPERNET_SLICES_H
#define SHIFTNAS_TEST_SUPERNET_SLICES_H

#include <stddef.h>
#include <stdint.h>

#include "shiftnas/network.h"
#include "shiftnas/rng.h"
#include "shiftnas/space.h"

typedef void (*pair_fn)(size_t big, size_t small, void *context);

/* Calls fn(index in big's slab, index in small's slab) for every element of
 * small's entry se and its slice of big's entry be. */
void for_each_slice_element(const sn_parameter_entry *se, const sn_parameter_entry *be,
                            pair_fn fn, void *context);
/* big's entry of the same name (a test failure if there is none). */
const sn_parameter_entry *counterpart(sn_network *big, const sn_parameter_entry *se);
/* small's parameters = the slices of big's. */
void copy_slices(sn_network *big, sn_network *small);
/* max |a - b| / max(max |b|, 1e-3): a whole-tensor relative difference. */
double relative_difference(const float *a, const float *b, int64_t n);
/* The worst relative_difference between small's gradient entries and big's
 * gradient slices; *where names that entry. */
double worst_gradient_difference(sn_network *big, sn_network *small, const char **where);
/* 1 for every entry of big's slab inside a slice of small, else 0 (calloc'ed,
 * the caller frees). */
unsigned char *slice_mask(sn_network *big, sn_network *small);
/* Entries of big's gradient slab outside every slice of small that are not
 * exactly zero. */
int64_t nonzero_outside(sn_network *big, sn_network *small);

/* The architectures a test walks: trial 0 the smallest, 1 the largest, the
 * others drawn uniformly from stream. */
void trial_architecture(const sn_space *space, int trial, sn_rng_stream *stream, sn_arch *arch);

#endif
