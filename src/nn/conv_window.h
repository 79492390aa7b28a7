/*
 * Private to src/nn: which output positions of a strided, padded window see
 * real input for a given kernel tap. Hoisting this range out of the inner
 * loops is what lets im2col, col2im and the depthwise kernels run over
 * contiguous output rows without a bounds test per element.
 */
#ifndef SHIFTNAS_NN_CONV_WINDOW_H
#define SHIFTNAS_NN_CONV_WINDOW_H

#include <stdint.h>

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

#endif
