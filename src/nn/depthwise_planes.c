/*
 * The depthwise convolution's tap sums over padded, flattened planes (see
 * depthwise_planes.h for the layout). Everything here works on one
 * image-channel plane and one band of output rows at a time, inside a scratch
 * of fixed size on the caller's stack.
 *
 * Order of the sums: an output adds its taps in row-major tap order, in two
 * interleaved partial sums (even and odd taps) so that four independent
 * chains of multiply-adds hide the latency; a tap's weight gradient is a dot
 * product in 32 fixed lanes. Both orders are the same on every CPU and every
 * rank count.
 */
#include "nn/depthwise_planes.h"

#include <string.h>

#include "nn/simd.h"

typedef float f32x16 __attribute__((vector_size(64)));
/* The same vector read from or written to any float address (unaligned,
 * aliasing floats), without a function returning a vector. */
typedef float f32x16_unaligned __attribute__((vector_size(64), aligned(4), may_alias));
#define LOAD16(p) (*(const f32x16_unaligned *)(p))

enum { BLOCK = 32 }; /* outputs per register block: two 16-float vectors */

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Rows of one phase plane for a band of `rows` output rows, and the floats
 * of one phase plane. */
static int64_t phase_rows(const sn_plane_geometry *g, int64_t rows)
{
    return rows + ceil_div(g->kernel, g->stride) - 1;
}

static int64_t phase_cols(const sn_plane_geometry *g)
{
    return g->out_cols + ceil_div(g->kernel, g->stride) - 1;
}

static int64_t phase_floats(const sn_plane_geometry *g, int64_t rows)
{
    return phase_rows(g, rows) * phase_cols(g);
}

static void clear_planes(sn_plane_scratch *s, const sn_plane_geometry *g);

int64_t sn_plane_band_rows(const sn_plane_geometry *g)
{
    const int64_t phases = (int64_t)g->stride * g->stride, cols = phase_cols(g);
    if ((int64_t)g->kernel * g->kernel > SN_TAPS_MAX)
        return 0;
    /* the planes plus the block overrun of the last output block (BLOCK +
     * kernel floats read past the band, all zero), and the flat output */
    int64_t by_planes = (SN_PLANE_FLOATS - BLOCK - g->kernel) / (phases * cols) -
                        (ceil_div(g->kernel, g->stride) - 1);
    int64_t by_flat = (SN_FLAT_FLOATS - BLOCK) / cols;
    int64_t rows = by_planes < by_flat ? by_planes : by_flat;
    if (rows > g->out_rows)
        rows = g->out_rows;
    return rows > 0 ? rows : 0;
}

void sn_plane_taps(sn_plane_scratch *s, const sn_plane_geometry *g, int64_t band_rows,
                   const float *filter, int64_t row_stride, int rotate)
{
    const int k = g->kernel, st = g->stride;
    const int64_t cols = phase_cols(g), plane = phase_floats(g, band_rows);
    s->taps = k * k;
    s->band_rows = band_rows;
    clear_planes(s, g);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            const int t = i * k + j;
            const int phase = (i % st) * st + j % st;
            s->offset[t] = phase * plane + (int64_t)(i / st) * cols + j / st;
            s->weight[t] = rotate ? filter[(k - 1 - i) * row_stride + (k - 1 - j)]
                                  : filter[i * row_stride + j];
        }
}

/* Source row or column of padded coordinate `padded`, or -1 where the padded
 * plane is 0. */
static int64_t source_index(int64_t padded, const sn_plane_geometry *g, int64_t count)
{
    int64_t shifted = padded - g->pad;
    if (shifted < 0)
        return -1;
    if (g->dilation != 1) {
        if (shifted % g->dilation != 0)
            return -1;
        shifted /= g->dilation;
    }
    return shifted < count ? shifted : -1;
}

/* The source columns of one phase: `count` of them, the first at column
 * `first` of the plane row (source column `source`), the next ones every
 * `dilation` plane columns and `stride` source columns (one of the two is 1:
 * the forward is strided, the input gradient dilated). */
typedef struct {
    int64_t first, count, source;
} phase_columns;

static phase_columns columns_of_phase(const sn_plane_geometry *g, int b, int64_t cols)
{
    phase_columns pc = {0, 0, 0};
    while (pc.first < cols && source_index(g->stride * pc.first + b, g, g->src_cols) < 0)
        pc.first++;
    if (pc.first == cols)
        return pc;
    pc.source = source_index(g->stride * pc.first + b, g, g->src_cols);
    int64_t by_plane = (cols - 1 - pc.first) / g->dilation + 1;
    int64_t by_source = (g->src_cols - 1 - pc.source) / g->stride + 1;
    pc.count = by_plane < by_source ? by_plane : by_source;
    return pc;
}

/* The padded planes' zeros (and the zero floats the last block reads past
 * them). One band covering the whole plane keeps its zeros from one image to
 * the next: only the source values are written again. */
static void clear_planes(sn_plane_scratch *s, const sn_plane_geometry *g)
{
    const int64_t planes = (int64_t)g->stride * g->stride * phase_floats(g, s->band_rows);
    memset(s->planes, 0, (size_t)(planes + BLOCK + g->kernel) * sizeof(float));
}

/* Row copies in 8-float vectors. A span of n >= 8 floats is whole vectors
 * plus one last vector that overlaps the one before (ending exactly at n), so
 * nothing outside the span is read or written; shorter spans go float by
 * float. The three shapes: contiguous (stride 1), every second float (the
 * stride-2 phases), and spread out with zeros between (the input gradient's
 * dilation; the zero after the last value may land one float past the span,
 * on a position that is zero padding or is written again later). */
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef float f32x8_unaligned __attribute__((vector_size(32), aligned(4), may_alias));
#define LOAD8(p) (*(const f32x8_unaligned *)(p))
#define STORE8(p, v) (*(f32x8_unaligned *)(p) = (v))
/* p[0], p[2], ..., p[14]: the second load starts at p + 7, not p + 8, so that
 * nothing past p[14] (the last value a span needs) is read. */
#define EVEN8(p) __builtin_shuffle(LOAD8(p), LOAD8((p) + 7), (i32x8){0, 2, 4, 6, 9, 11, 13, 15})

static inline void copy_span(float *to, const float *from, int64_t n)
{
    if (n < 8) {
        for (int64_t m = 0; m < n; m++)
            to[m] = from[m];
        return;
    }
    for (int64_t m = 0; m + 8 < n; m += 8)
        STORE8(to + m, LOAD8(from + m));
    STORE8(to + n - 8, LOAD8(from + n - 8));
}

static inline void copy_even(float *to, const float *from, int64_t n)
{
    if (n < 8) {
        for (int64_t m = 0; m < n; m++)
            to[m] = from[2 * m];
        return;
    }
    for (int64_t m = 0; m + 8 < n; m += 8)
        STORE8(to + m, EVEN8(from + 2 * m));
    STORE8(to + n - 8, EVEN8(from + 2 * (n - 8)));
}

static inline void copy_spread(float *to, const float *from, int64_t n)
{
    const sn_f32x8 zero = {0};
    int64_t m = 0;
    for (; m + 8 <= n; m += 8) {
        const sn_f32x8 v = LOAD8(from + m);
        STORE8(to + 2 * m, __builtin_shuffle(v, zero, (i32x8){0, 8, 1, 9, 2, 10, 3, 11}));
        STORE8(to + 2 * m + 8, __builtin_shuffle(v, zero, (i32x8){4, 12, 5, 13, 6, 14, 7, 15}));
    }
    for (; m < n; m++)
        to[2 * m] = from[m];
}

/* One source row into one phase row; the row's other positions were zeroed
 * by clear_planes. */
static inline void copy_row(float *to, const float *from, const phase_columns *pc,
                            const sn_plane_geometry *g)
{
    const int64_t n = pc->count;
    to += pc->first;
    from += pc->source;
    if (g->stride == 1 && g->dilation == 1) {
        copy_span(to, from, n);
    } else if (g->stride == 2 && g->dilation == 1) {
        copy_even(to, from, n);
    } else if (g->stride == 1 && g->dilation == 2) {
        copy_spread(to, from, n);
    } else {
        for (int64_t m = 0; m < n; m++)
            to[m * g->dilation] = from[m * g->stride];
    }
}

/* Cloned for AVX2/AVX-512 as a static function: a cloned function gets an
 * ifunc symbol that GCC exports even from a hidden-visibility library, and
 * only the SN_API functions may be exported (tests/unit/test_exports.sh). */
SN_WIDEST_VECTORS
static void fill_planes(sn_plane_scratch *s, const sn_plane_geometry *g, const float *src,
                        int64_t row0, int64_t rows)
{
    const int st = g->stride;
    const int64_t cols = phase_cols(g), prows = phase_rows(g, rows);
    const int64_t plane = phase_floats(g, s->band_rows);
    if (s->band_rows < g->out_rows)
        clear_planes(s, g); /* several bands: each has its own zeros */
    for (int b = 0; b < st; b++) {
        const phase_columns pc = columns_of_phase(g, b, cols);
        if (pc.count == 0)
            continue;
        for (int a = 0; a < st; a++) {
            float *phase = s->planes + (a * st + b) * plane;
            for (int64_t y = 0; y < prows; y++) {
                const int64_t u = source_index(st * (row0 + y) + a, g, g->src_rows);
                if (u >= 0)
                    copy_row(phase + y * cols, src + u * g->src_cols, &pc, g);
            }
        }
    }
}

void sn_plane_fill(sn_plane_scratch *s, const sn_plane_geometry *g, const float *src,
                   int64_t row0, int64_t rows)
{
    fill_planes(s, g, src, row0, rows);
}

/* flat[q] = sum_t weight[t] * planes[q + offset[t]] for q in [0, count),
 * rounded up to whole blocks (flat has room). */
SN_WIDEST_VECTORS
static void correlate_blocks(float *flat, const sn_plane_scratch *s, int64_t count)
{
    for (int64_t q = 0; q < count; q += BLOCK) {
        const float *base = s->planes + q;
        f32x16 even0 = {0}, even1 = {0}, odd0 = {0}, odd1 = {0};
        int t = 0;
        for (; t + 2 <= s->taps; t += 2) {
            /* a scalar times a vector multiplies every lane (GCC's vector
             * extension broadcasts it) */
            const float w0 = s->weight[t], w1 = s->weight[t + 1];
            const float *p0 = base + s->offset[t], *p1 = base + s->offset[t + 1];
            even0 += LOAD16(p0) * w0;
            even1 += LOAD16(p0 + 16) * w0;
            odd0 += LOAD16(p1) * w1;
            odd1 += LOAD16(p1 + 16) * w1;
        }
        if (t < s->taps) {
            const float w0 = s->weight[t];
            const float *p0 = base + s->offset[t];
            even0 += LOAD16(p0) * w0;
            even1 += LOAD16(p0 + 16) * w0;
        }
        even0 += odd0;
        even1 += odd1;
        *(f32x16_unaligned *)(flat + q) = even0;
        *(f32x16_unaligned *)(flat + q + 16) = even1;
    }
}

void sn_plane_correlate(float *out, sn_plane_scratch *s, const sn_plane_geometry *g,
                        int64_t row0, int64_t rows, float bias)
{
    const int64_t cols = phase_cols(g);
    correlate_blocks(s->flat, s, rows * cols);
    for (int64_t y = 0; y < rows; y++) {
        const float *from = s->flat + y * cols;
        float *to = out + (row0 + y) * g->out_cols;
        for (int64_t x = 0; x < g->out_cols; x++)
            to[x] = from[x] + bias;
    }
}

/* lanes[t] += grad[q..q+32) * planes[q + offset[t]..) over the blocks of
 * [0, count), for taps [t0, t0 + 4): the gradient block is read once for
 * four taps. */
SN_WIDEST_VECTORS
static void tap_lanes_4(sn_plane_scratch *s, int t0, int64_t count)
{
    const float *grad = s->flat;
    const float *p0 = s->planes + s->offset[t0], *p1 = s->planes + s->offset[t0 + 1];
    const float *p2 = s->planes + s->offset[t0 + 2], *p3 = s->planes + s->offset[t0 + 3];
    f32x16 a0 = LOAD16(s->lanes[t0]), b0 = LOAD16(s->lanes[t0] + 16);
    f32x16 a1 = LOAD16(s->lanes[t0 + 1]), b1 = LOAD16(s->lanes[t0 + 1] + 16);
    f32x16 a2 = LOAD16(s->lanes[t0 + 2]), b2 = LOAD16(s->lanes[t0 + 2] + 16);
    f32x16 a3 = LOAD16(s->lanes[t0 + 3]), b3 = LOAD16(s->lanes[t0 + 3] + 16);
    for (int64_t q = 0; q < count; q += BLOCK) {
        const f32x16 g0 = LOAD16(grad + q), g1 = LOAD16(grad + q + 16);
        a0 += g0 * LOAD16(p0 + q);
        b0 += g1 * LOAD16(p0 + q + 16);
        a1 += g0 * LOAD16(p1 + q);
        b1 += g1 * LOAD16(p1 + q + 16);
        a2 += g0 * LOAD16(p2 + q);
        b2 += g1 * LOAD16(p2 + q + 16);
        a3 += g0 * LOAD16(p3 + q);
        b3 += g1 * LOAD16(p3 + q + 16);
    }
    *(f32x16_unaligned *)s->lanes[t0] = a0;
    *(f32x16_unaligned *)(s->lanes[t0] + 16) = b0;
    *(f32x16_unaligned *)s->lanes[t0 + 1] = a1;
    *(f32x16_unaligned *)(s->lanes[t0 + 1] + 16) = b1;
    *(f32x16_unaligned *)s->lanes[t0 + 2] = a2;
    *(f32x16_unaligned *)(s->lanes[t0 + 2] + 16) = b2;
    *(f32x16_unaligned *)s->lanes[t0 + 3] = a3;
    *(f32x16_unaligned *)(s->lanes[t0 + 3] + 16) = b3;
}

/* The same for one tap. */
SN_WIDEST_VECTORS
static void tap_lanes_1(sn_plane_scratch *s, int t, int64_t count)
{
    const float *grad = s->flat, *p = s->planes + s->offset[t];
    f32x16 a = LOAD16(s->lanes[t]), b = LOAD16(s->lanes[t] + 16);
    for (int64_t q = 0; q < count; q += BLOCK) {
        a += LOAD16(grad + q) * LOAD16(p + q);
        b += LOAD16(grad + q + 16) * LOAD16(p + q + 16);
    }
    *(f32x16_unaligned *)s->lanes[t] = a;
    *(f32x16_unaligned *)(s->lanes[t] + 16) = b;
}

void sn_plane_tap_gradients_begin(sn_plane_scratch *s)
{
    memset(s->lanes, 0, sizeof s->lanes);
}

void sn_plane_tap_gradients(sn_plane_scratch *s, const sn_plane_geometry *g, const float *grad,
                            int64_t row0, int64_t rows)
{
    const int64_t cols = phase_cols(g), count = rows * cols;
    const int64_t blocks = (count + BLOCK - 1) / BLOCK * BLOCK;
    /* the gradient laid out like the flat output, zero where x >= out_cols
     * and in the last block's tail, so that those positions add nothing */
    for (int64_t y = 0; y < rows; y++) {
        float *to = s->flat + y * cols;
        memcpy(to, grad + (row0 + y) * g->out_cols, (size_t)g->out_cols * sizeof(float));
        memset(to + g->out_cols, 0, (size_t)(cols - g->out_cols) * sizeof(float));
    }
    memset(s->flat + count, 0, (size_t)(blocks - count) * sizeof(float));
    int t = 0;
    for (; t + 4 <= s->taps; t += 4)
        tap_lanes_4(s, t, blocks);
    for (; t < s->taps; t++)
        tap_lanes_1(s, t, blocks);
}

void sn_plane_tap_gradients_end(float *dfilter, int64_t drow_stride, sn_plane_scratch *s,
                                const sn_plane_geometry *g)
{
    const int k = g->kernel;
    for (int t = 0; t < s->taps; t++) {
        float *lanes = s->lanes[t];
        for (int width = BLOCK / 2; width >= 1; width /= 2)
            for (int l = 0; l < width; l++)
                lanes[l] += lanes[l + width];
        dfilter[(t / k) * drow_stride + t % k] += lanes[0];
    }
}
