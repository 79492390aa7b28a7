/*
 * Private to src/nn: the depthwise convolution as tap sums over padded,
 * flattened planes (depthwise_planes.c).
 *
 * A k x k window over a zero-padded plane of `cols` floats per row reads, for
 * output position q = y*cols + x, the floats q + i*cols + j: one fixed
 * offset per tap. Laid out that way a whole band of output rows is one
 * contiguous loop per tap with no bounds test, the accumulator of every
 * output block stays in registers across all k*k taps, and the positions
 * x >= out_cols of each row are computed and thrown away (k - 1 of them per
 * row). Stride s is the same sum over the s*s phase planes
 * (plane_ab[y][x] = padded[s*y + a][s*x + b]); the backward's input gradient
 * is the same sum over the output gradient, dilated by the stride and padded
 * by k - 1 - p, with the filter turned by 180 degrees.
 */
#ifndef SHIFTNAS_NN_DEPTHWISE_PLANES_H
#define SHIFTNAS_NN_DEPTHWISE_PLANES_H

#include <stdint.h>

#include "shiftnas/nn.h"

/* Where the padded planes come from: one image-channel plane of src_rows x
 * src_cols floats, placed at padded coordinate (pad + dilation*u,
 * pad + dilation*v), everything else zero, read with stride `stride`. */
typedef struct {
    int64_t src_rows, src_cols;
    int kernel, stride, dilation;
    int64_t pad;
    int64_t out_rows, out_cols; /* of the correlation */
} sn_plane_geometry;

/* Scratch for one band: phase planes, the flat output or gradient, the taps.
 * Lives on the caller's stack (64 KiB of floats): no allocation in a step. */
enum { SN_PLANE_FLOATS = 12288, SN_FLAT_FLOATS = 4096, SN_TAPS_MAX = 64 };

typedef struct {
    float planes[SN_PLANE_FLOATS];
    float flat[SN_FLAT_FLOATS];
    int64_t offset[SN_TAPS_MAX];
    float weight[SN_TAPS_MAX];
    int taps;
    int64_t band_rows; /* the phase planes are laid out for bands this tall */
    float lanes[SN_TAPS_MAX][32]; /* per-tap partial weight gradients */
} sn_plane_scratch;

/* Output rows per band that fit the scratch, or 0 if not even one row does
 * (the caller then takes the row-by-row loop). */
int64_t sn_plane_band_rows(const sn_plane_geometry *g);

/* The taps of one channel's k x k filter (rotated by 180 degrees if
 * `rotate`, for the input gradient) as offsets into a band of band_rows
 * output rows. */
void sn_plane_taps(sn_plane_scratch *s, const sn_plane_geometry *g, int64_t band_rows,
                   const float *filter, int64_t row_stride, int rotate);

/* Fills s->planes with the phase planes of output rows [row0, row0 + rows),
 * rows <= the band_rows of the taps. */
void sn_plane_fill(sn_plane_scratch *s, const sn_plane_geometry *g, const float *src,
                   int64_t row0, int64_t rows);

/* out[(row0 + y)*out_cols + x] = bias + sum over taps, for the band. */
void sn_plane_correlate(float *out, sn_plane_scratch *s, const sn_plane_geometry *g,
                        int64_t row0, int64_t rows, float bias);

/* The weight gradient of every tap, dfilter[tap] += sum over the outputs of
 * grad * window (grad being [out_rows, out_cols]): _begin clears 32 partial
 * sums per tap, _tap_gradients adds a band of one image to them, and _end
 * adds them up (in a fixed order) into dfilter. */
void sn_plane_tap_gradients_begin(sn_plane_scratch *s);
void sn_plane_tap_gradients(sn_plane_scratch *s, const sn_plane_geometry *g, const float *grad,
                            int64_t row0, int64_t rows);
void sn_plane_tap_gradients_end(float *dfilter, int64_t drow_stride, sn_plane_scratch *s,
                                const sn_plane_geometry *g);

#endif
