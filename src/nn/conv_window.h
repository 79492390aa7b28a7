/*
 * Private to src/nn: which output positions of a strided, padded window see
 * real input for a given kernel tap. Hoisting this range out of the inner
 * loops is what lets im2col, col2im and the depthwise kernels run over
 * contiguous output rows without a bounds test per element.
 */
#ifndef SHIFTNAS_NN_CONV_WINDOW_H
#define SHIFTNAS_NN_CONV_WINDOW_H

#include <stdint.h>

#include "shiftnas/nn.h"

/* Output index o reads input o*stride - padding + tap. Sets [*lo, *hi) to the
 * outputs o in [0, out) for which that input lies in [0, in); lo <= hi. */
static inline void sn_conv_window_range(int64_t in, int64_t out, int stride, int padding,
                                        int tap, int64_t *lo, int64_t *hi)
{
    int64_t before = (int64_t)padding - tap; /* o*stride must reach this */
    int64_t first = before <= 0 ? 0 : (before + stride - 1) / stride;
    int64_t last_input = in - 1 + padding - tap; /* o*stride must not exceed this */
    int64_t end = last_input < 0 ? 0 : last_input / stride + 1;
    if (end > out)
        end = out;
    if (first > end)
        first = end;
    *lo = first;
    *hi = end;
}

/*
 * A stride-1 convolution with "same" padding (2p = k - 1, so the output plane
 * is the input plane) has a shortcut: tap (i, j) of output pixel q reads input
 * pixel q + (i - p)*w + (j - p), one constant shift over the whole plane. A
 * tap's work over a plane is then one contiguous loop, except for the few
 * pixels whose window falls off the left or right edge (the shift wraps them
 * round to the neighbouring row), which the caller fixes. Rows of a 7x7 map
 * are only 7 floats, so this replaces up to 28 short loops per plane with one.
 * Used by im2col/col2im and by the depthwise convolution.
 */
static inline int sn_conv_is_same_stride1(const sn_conv2d_dims *d, int64_t oh, int64_t ow)
{
    return d->stride == 1 && oh == d->in_height && ow == d->in_width;
}

/* The pixels [begin, end) of a plane whose tap (i, j) reads real input: rows
 * [y_lo, y_hi), columns [x_lo, x_hi) of each row, and the wrapped pixels in
 * between (the right end of each row and the start of the next: `span`
 * pixels after column x_hi of rows y_lo .. y_hi - 2). */
typedef struct {
    int64_t y_lo, y_hi, x_lo, x_hi, begin, end, shift, span;
} sn_same_tap;

static inline sn_same_tap sn_same_tap_range(const sn_conv2d_dims *d, int i, int j)
{
    const int64_t h = d->in_height, w = d->in_width;
    sn_same_tap t;
    sn_conv_window_range(h, h, 1, d->padding, i, &t.y_lo, &t.y_hi);
    sn_conv_window_range(w, w, 1, d->padding, j, &t.x_lo, &t.x_hi);
    t.shift = ((int64_t)i - d->padding) * w + ((int64_t)j - d->padding);
    t.span = (w - t.x_hi) + t.x_lo;
    if (t.y_lo >= t.y_hi || t.x_lo >= t.x_hi) {
        t.begin = t.end = 0; /* the tap never sees the input */
    } else {
        t.begin = t.y_lo * w + t.x_lo;
        t.end = (t.y_hi - 1) * w + t.x_hi;
    }
    return t;
}

/* Wrapped pixel number r*span + u of a tap lies at this index of the plane. */
static inline int64_t sn_same_tap_wrapped(const sn_same_tap *t, int64_t w, int64_t r, int64_t u)
{
    return (t->y_lo + r) * w + t->x_hi + u;
}

/* Number of wrapped pixels of a tap. */
static inline int64_t sn_same_tap_wrapped_count(const sn_same_tap *t)
{
    return t->begin < t->end ? (t->y_hi - 1 - t->y_lo) * t->span : 0;
}

#endif
