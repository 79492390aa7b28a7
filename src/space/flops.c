/*
 * The one FLOPs counter: multiply-accumulates and parameters of a subnet.
 *
 * The MAC count is written once, over soft values: every quantity it
 * multiplies (a width, a kernel area, a mid-channel count, a depth gate, a
 * head count) is that quantity's expectation under its dimensions' weights.
 * sn_space_cost() evaluates it at one-hot weights, where every expectation is
 * the chosen value and every product of small integers is exact in double,
 * so the architecture's MACs and the generator's soft MACs cannot drift
 * apart. The gradient is forward-mode: the count runs on dual numbers once
 * per probability entry, seeding that entry's derivative with 1. The count
 * is a polynomial in the weights, so the gradient is exact (not a
 * difference quotient); a pass costs O(dimensions x choices^2), and there
 * are choice_total passes, which is microseconds for the shipped spaces.
 *
 * Parameters need no gradient: they are an exact integer walk over the same
 * structure, in the same order, right below the MAC walk.
 *
 * Convention (doc/search-spaces.md): a MAC per multiply-add of a
 * convolution, a linear layer and an attention product; norms, activations,
 * softmax, pooling, residual adds and biases count none.
 */
#include "shiftnas/space.h"
#include "shiftnas/error.h"

#include <math.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

/* ---- dual numbers --------------------------------------------------------- */

/* A value and its derivative with respect to the one seeded weight. */
typedef struct {
    double v, d;
} dual;

static dual dual_const(double v)
{
    return (dual){v, 0.0};
}

static dual dual_add(dual a, dual b)
{
    return (dual){a.v + b.v, a.d + b.d};
}

static dual dual_mul(dual a, dual b)
{
    return (dual){a.v * b.v, a.d * b.v + a.v * b.d};
}

static dual dual_scale(dual a, double s)
{
    return (dual){a.v * s, a.d * s};
}

/* The soft count's inputs: the weights and which entry is seeded (-1: none). */
typedef struct {
    const sn_space *space;
    const double *p;
    int seed;
} soft_input;

/* Weight of choice j of dimension d, as a dual number. */
static dual weight(const soft_input *in, int d, int j)
{
    int index = in->space->choice_offset[d] + j;
    return (dual){in->p[index], index == in->seed ? 1.0 : 0.0};
}

/* E[f(value)] over dimension d, for f given as a table per choice. */
static dual expect(const soft_input *in, int d, const double *f)
{
    dual sum = dual_const(0.0);
    for (int j = 0; j < in->space->dimensions[d].choice_count; j++)
        sum = dual_add(sum, dual_scale(weight(in, d, j), f[j]));
    return sum;
}

/* E[value] of dimension d. */
static dual expect_value(const soft_input *in, int d)
{
    return expect(in, d, in->space->dimensions[d].choices);
}

/* E[value^2] of dimension d (a kernel's area). */
static dual expect_square(const soft_input *in, int d)
{
    const sn_dimension *dim = &in->space->dimensions[d];
    double f[SN_SPACE_MAX_CHOICES];
    for (int j = 0; j < dim->choice_count; j++)
        f[j] = dim->choices[j] * dim->choices[j];
    return expect(in, d, f);
}

/* P(value > threshold) of a depth dimension: the gate of block or layer
 * `threshold` (0-based), which exists when the depth exceeds its index. */
static dual expect_gate(const soft_input *in, int d, int threshold)
{
    const sn_dimension *dim = &in->space->dimensions[d];
    double f[SN_SPACE_MAX_CHOICES];
    for (int j = 0; j < dim->choice_count; j++)
        f[j] = dim->choices[j] > threshold ? 1.0 : 0.0;
    return expect(in, d, f);
}

/* E[lround(ratio * base)] with ratio from dimension `ratio_dimension` and base
 * from dimension `base_dimension` (or the fixed `base` when it is -1), the
 * two independent: the sum over both choices of p_j p_k lround(r_j * b_k).
 * This is a CNN block's mid channels and a ViT layer's MLP hidden units. */
static dual expect_rounded_product(const soft_input *in, int ratio_dimension, int base_dimension,
                                   double base)
{
    const sn_dimension *ratios = &in->space->dimensions[ratio_dimension];
    if (base_dimension < 0) {
        double f[SN_SPACE_MAX_CHOICES];
        for (int j = 0; j < ratios->choice_count; j++)
            f[j] = (double)lround(ratios->choices[j] * base);
        return expect(in, ratio_dimension, f);
    }
    const sn_dimension *bases = &in->space->dimensions[base_dimension];
    dual sum = dual_const(0.0);
    for (int j = 0; j < ratios->choice_count; j++) {
        dual pj = weight(in, ratio_dimension, j);
        for (int k = 0; k < bases->choice_count; k++) {
            double value = (double)lround(ratios->choices[j] * bases->choices[k]);
            sum = dual_add(sum, dual_scale(dual_mul(pj, weight(in, base_dimension, k)), value));
        }
    }
    return sum;
}

/* ---- shapes ------------------------------------------------------------- */

/* Output side of a convolution with padding k/2 (odd k). */
static int64_t conv_out(int64_t size, int kernel, int stride)
{
    return (size + 2 * (kernel / 2) - kernel) / stride + 1;
}

static int64_t vit_tokens(const sn_space *space)
{
    int64_t side = space->image_size / space->patch;
    return side * side + 1; /* the patches and the class token */
}

/* ---- the MAC count -------------------------------------------------------- */

/*
 * CNN. Per block of stage s (input side hin, output side hout, gate g):
 *   g * (hin^2 cin mid + hout^2 mid k^2 + hout^2 mid cout)
 * with cin the previous stage's width (the stem's channels for stage 0) for
 * the first block and the stage's width after it, mid = lround(ratio * cin).
 * The first block of a stage always exists (depths are >= 1), but it is gated
 * like the rest: the gate is then 1 at any weights.
 */
static dual cnn_soft_macs(const soft_input *in)
{
    const sn_space *space = in->space;
    int64_t side = conv_out(space->image_size, space->stem_kernel, space->stem_stride);
    double stem_area = (double)(space->stem_kernel * space->stem_kernel);
    dual macs = dual_const((double)(side * side) * space->image_channels *
                           (double)space->stem_channels * stem_area);

    int previous_width = -1; /* dimension of the input width; -1: the stem's */
    for (int s = 0; s < space->stage_count; s++) {
        int depth = space->depth_dimension[s], width = space->width_dimension[s];
        const sn_dimension *depths = &space->dimensions[depth];
        int blocks = (int)depths->choices[depths->choice_count - 1];
        /* every odd kernel with padding k/2 gives the same side */
        int64_t out_side = conv_out(side, 1, space->stage_strides[s]);
        dual cout = expect_value(in, width);
        for (int b = 0; b < blocks; b++) {
            int64_t in_side = b == 0 ? side : out_side;
            int cin_dimension = b == 0 ? previous_width : width;
            dual cin = cin_dimension >= 0 ? expect_value(in, cin_dimension)
                                          : dual_const((double)space->stem_channels);
            dual mid = expect_rounded_product(in, space->expand_dimension[s][b], cin_dimension,
                                              (double)space->stem_channels);
            dual area = expect_square(in, space->kernel_dimension[s][b]);
            dual expand = dual_scale(dual_mul(cin, mid), (double)(in_side * in_side));
            dual depthwise = dual_scale(dual_mul(mid, area), (double)(out_side * out_side));
            dual project = dual_scale(dual_mul(mid, cout), (double)(out_side * out_side));
            dual block = dual_add(dual_add(expand, depthwise), project);
            macs = dual_add(macs, dual_mul(expect_gate(in, depth, b), block));
        }
        side = out_side;
        previous_width = width;
    }
    dual last = previous_width >= 0 ? expect_value(in, previous_width)
                                    : dual_const((double)space->stem_channels);
    return dual_add(macs, dual_scale(last, (double)space->classes));
}

/*
 * ViT with T tokens, embed E, per layer l (gate g, heads h, head_dim q, MLP
 * hidden H = lround(ratio * E)):
 *   g * (T E 3hq + 2 T^2 h q + T h q E + 2 T E H)
 * plus the patch embedding (T-1) C p^2 E and the head E classes.
 */
static dual vit_soft_macs(const soft_input *in)
{
    const sn_space *space = in->space;
    double tokens = (double)vit_tokens(space), q = (double)space->head_dim;
    double pixels = (double)space->image_channels * space->patch * space->patch;
    int embed_dimension = space->embed_dimension, depth = space->depth_dimension[0];
    dual embed = expect_value(in, embed_dimension);
    dual macs = dual_scale(embed, (tokens - 1.0) * pixels);

    const sn_dimension *depths = &space->dimensions[depth];
    int layers = (int)depths->choices[depths->choice_count - 1];
    for (int l = 0; l < layers; l++) {
        dual heads = expect_value(in, space->heads_dimension[l]);
        dual hidden =
            expect_rounded_product(in, space->mlp_dimension[l], embed_dimension, 0.0);
        dual eh = dual_mul(embed, heads);
        dual qkv = dual_scale(eh, tokens * 3.0 * q);
        dual attention = dual_scale(heads, 2.0 * tokens * tokens * q);
        dual projection = dual_scale(eh, tokens * q);
        dual mlp = dual_scale(dual_mul(embed, hidden), 2.0 * tokens);
        dual layer = dual_add(dual_add(qkv, attention), dual_add(projection, mlp));
        macs = dual_add(macs, dual_mul(expect_gate(in, depth, l), layer));
    }
    return dual_add(macs, dual_scale(embed, (double)space->classes));
}

static dual soft_macs(const soft_input *in)
{
    return in->space->type == SN_SPACE_CNN ? cnn_soft_macs(in) : vit_soft_macs(in);
}

double sn_space_soft_macs(const sn_space *space, const double *probabilities, double *gradient)
{
    soft_input in = {space, probabilities, -1};
    double value = soft_macs(&in).v;
    if (gradient)
        for (int i = 0; i < space->choice_total; i++) {
            in.seed = i;
            gradient[i] = soft_macs(&in).d;
        }
    return value;
}

/* ---- the parameter count ------------------------------------------------ */

/* Every weight, bias and norm scale/shift the subnet uses. Convolutions have
 * no bias; each batch norm has a scale and a shift per channel. */
static int64_t cnn_parameters(const sn_space *space, const sn_arch *arch)
{
    int64_t k = space->stem_kernel;
    int64_t cin = space->stem_channels;
    int64_t count = (int64_t)space->image_channels * cin * k * k + 2 * cin;
    for (int s = 0; s < space->stage_count; s++) {
        int64_t blocks = (int64_t)sn_arch_value(space, arch, space->depth_dimension[s]);
        int64_t cout = (int64_t)sn_arch_value(space, arch, space->width_dimension[s]);
        for (int b = 0; b < blocks; b++) {
            int64_t mid = lround(sn_arch_value(space, arch, space->expand_dimension[s][b]) *
                                 (double)cin);
            int64_t kernel = (int64_t)sn_arch_value(space, arch, space->kernel_dimension[s][b]);
            count += cin * mid + 2 * mid;           /* expand 1x1, its batch norm */
            count += mid * kernel * kernel + 2 * mid; /* depthwise, its batch norm */
            count += mid * cout + 2 * cout;         /* project 1x1, its batch norm */
            cin = cout;
        }
    }
    return count + cin * space->classes + space->classes;
}

static int64_t vit_parameters(const sn_space *space, const sn_arch *arch)
{
    int64_t tokens = vit_tokens(space), q = space->head_dim;
    int64_t e = (int64_t)sn_arch_value(space, arch, space->embed_dimension);
    int64_t pixels = (int64_t)space->image_channels * space->patch * space->patch;
    int64_t count = pixels * e + e;      /* patch embedding */
    count += e + tokens * e;             /* class token, position embedding */
    int64_t layers = (int64_t)sn_arch_value(space, arch, space->depth_dimension[0]);
    for (int l = 0; l < layers; l++) {
        int64_t hq = (int64_t)sn_arch_value(space, arch, space->heads_dimension[l]) * q;
        int64_t hidden = lround(sn_arch_value(space, arch, space->mlp_dimension[l]) * (double)e);
        count += 2 * (2 * e);            /* two layer norms */
        count += e * 3 * hq + 3 * hq;    /* q, k, v */
        count += hq * e + e;             /* projection */
        count += 2 * e * hidden + hidden + e; /* MLP */
    }
    count += 2 * e;                      /* final layer norm */
    return count + e * space->classes + space->classes;
}

sn_cost sn_space_cost(const sn_space *space, const sn_arch *arch)
{
    double probabilities[SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES];
    sn_arch_one_hot(space, arch, probabilities);
    sn_cost cost;
    cost.macs = llround(sn_space_soft_macs(space, probabilities, NULL));
    cost.parameters = space->type == SN_SPACE_CNN ? cnn_parameters(space, arch)
                                                  : vit_parameters(space, arch);
    return cost;
}
