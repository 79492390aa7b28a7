/*
 * shiftnas/nn.h — layers as explicit forward and backward functions.
 *
 * Conventions (every layer follows them):
 * - Buffers are plain float arrays owned by the caller, allocated before
 *   training; no layer allocates. Where a layer needs scratch memory, a
 *   *_workspace_floats() function says how much.
 * - Layouts. Convolutional activations are channel-major, [C, N, H, W]
 *   ("CNHW"): channel c of every image is one contiguous block of N*H*W floats,
 *   so a 1x1 convolution is one matrix product over the whole batch and batch
 *   norm reads each channel contiguously. Token activations are [N, T, D]. Rows
 *   of a matrix of features are [N, D].
 * - Weights arrive as strided views (sn_matrix, sn_kernel_view) so that a
 *   subnet computes with the first-k slice of a supernet's weight, no copy.
 *   Bias, norm scale and norm shift vectors are first-k prefixes: plain pointers.
 * - Backward OVERWRITES the input gradient (din = ...) and ACCUMULATES into
 *   parameter gradients (dweight += ...): parameter gradients are zeroed once
 *   per step, explicitly, and a residual branch adds its two input gradients
 *   explicitly. An input gradient pointer may be NULL: it is then not computed.
 * - Kernels cannot fail: shapes are validated once, when a network is built.
 */
#ifndef SHIFTNAS_NN_H
#define SHIFTNAS_NN_H

#include <stdint.h>

#include "shiftnas/api.h"
#include "shiftnas/rng.h"
#include "shiftnas/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- convolution ------------------------------------------------------- */

typedef struct {
    int64_t batch, in_channels, out_channels, in_height, in_width;
    int kernel, stride, padding, groups;
} sn_conv2d_dims;

/* Output size along one axis: (in + 2*padding - kernel) / stride + 1. */
SN_API int64_t sn_conv2d_out_size(int64_t in, int kernel, int stride, int padding);
/* 0 if the dimensions are consistent (channels divisible by groups, positive
 * output size, ...); else SN_ERR_ARGUMENT with a message. */
SN_API int sn_conv2d_dims_check(const sn_conv2d_dims *d);
/* Scratch floats for sn_conv2d_forward/backward (im2col buffer); 0 for a 1x1,
 * stride 1, unpadded convolution, which multiplies the input directly. */
SN_API int64_t sn_conv2d_workspace_floats(const sn_conv2d_dims *d);

/* Dense or grouped convolution, im2col + sn_gemm per group.
 *   in     [Cin, N, H, W]          out [Cout, N, OH, OW]
 *   weight rows = Cout, cols = (Cin/groups)*k*k (row of output channel o holds
 *          weight[o][c][i][j] at column (c*k + i)*k + j); a first-k slice of a
 *          larger supernet weight is the block view with the larger row_stride.
 *   bias   [Cout] or NULL. */
SN_API void sn_conv2d_forward(float *out, const float *in, sn_matrix weight, const float *bias,
                              const sn_conv2d_dims *d, float *workspace);
/* din [Cin,N,H,W] (may be NULL), dweight (view shaped like weight) +=, dbias += (may be NULL). */
SN_API void sn_conv2d_backward(float *din, sn_matrix dweight, float *dbias, const float *dout,
                               const float *in, sn_matrix weight, const sn_conv2d_dims *d,
                               float *workspace);

/* A depthwise kernel view: tap (c, i, j) of a kernel x kernel filter is at
 * data[c*channel_stride + i*row_stride + j]. A centre crop of a larger kernel
 * (elastic kernel size) is a view with an offset data pointer and the larger
 * strides. */
typedef struct {
    float *data;
    int64_t channel_stride, row_stride;
} sn_kernel_view;

/* Depthwise convolution (groups == in_channels == out_channels), a direct loop.
 * in [C,N,H,W], out [C,N,OH,OW], bias [C] or NULL. */
SN_API void sn_depthwise_conv2d_forward(float *out, const float *in, sn_kernel_view weight,
                                        const float *bias, const sn_conv2d_dims *d);
SN_API void sn_depthwise_conv2d_backward(float *din, sn_kernel_view dweight, float *dbias,
                                         const float *dout, const float *in, sn_kernel_view weight,
                                         const sn_conv2d_dims *d);

/* ---- normalisation ----------------------------------------------------- */

/* Batch norm over [C, N*HW] (channel-major, so per channel contiguous; the
 * caller passes count = N*H*W). Training mode normalises by the batch's
 * statistics (biased variance), saves mean and 1/sqrt(var+eps) per channel for
 * backward, and updates running statistics:
 *   running = (1 - momentum) * running + momentum * batch_statistic
 * with the unbiased variance (count/(count-1)) for running_var, as PyTorch does.
 * running_mean/running_var may be NULL (no update). */
SN_API void sn_batchnorm_forward_train(float *out, float *saved_mean, float *saved_inv_std,
                                       const float *in, const float *gamma, const float *beta,
                                       float *running_mean, float *running_var,
                                       int64_t channels, int64_t count, float momentum, float eps);
/* Evaluation mode: the running statistics. */
SN_API void sn_batchnorm_forward_eval(float *out, const float *in, const float *gamma,
                                      const float *beta, const float *running_mean,
                                      const float *running_var, int64_t channels, int64_t count,
                                      float eps);
/* Backward of the training-mode forward. din may alias dout. */
SN_API void sn_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                                  const float *in, const float *gamma, const float *saved_mean,
                                  const float *saved_inv_std, int64_t channels, int64_t count);

/* Batch norm followed by ReLU, fused: out = max(batchnorm(in), 0), one pass
 * over the output instead of two and no buffer for the normalised values.
 * The backward takes that output (its sign is the ReLU's mask); din may
 * alias dout. Same statistics, running statistics and arguments as above. */
SN_API void sn_batchnorm_relu_forward_train(float *out, float *saved_mean, float *saved_inv_std,
                                            const float *in, const float *gamma, const float *beta,
                                            float *running_mean, float *running_var,
                                            int64_t channels, int64_t count, float momentum,
                                            float eps);
SN_API void sn_batchnorm_relu_forward_eval(float *out, const float *in, const float *gamma,
                                           const float *beta, const float *running_mean,
                                           const float *running_var, int64_t channels,
                                           int64_t count, float eps);
SN_API void sn_batchnorm_relu_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                                       const float *in, const float *out, const float *gamma,
                                       const float *saved_mean, const float *saved_inv_std,
                                       int64_t channels, int64_t count);

/* Layer norm over the last dimension of contiguous [rows, dim] (a subnet with
 * a first-k embedding keeps its activations compact at width k). Saves mean
 * and 1/std per row. din may alias dout. */
SN_API void sn_layernorm_forward(float *out, float *saved_mean, float *saved_inv_std,
                                 const float *in, const float *gamma, const float *beta,
                                 int64_t rows, int64_t dim, float eps);
SN_API void sn_layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                                  const float *in, const float *gamma, const float *saved_mean,
                                  const float *saved_inv_std, int64_t rows, int64_t dim);

/* Layer norm under a soft feature mask m [dim] (the supernet's masked mode):
 * mean = sum m x / sum m, var = sum m (x - mean)^2 / sum m, and
 * out = m * (gamma * (x - mean) / sqrt(var + eps) + beta). At a 0/1 mask of
 * the first e features this is the layer norm over those e features, zeros
 * after. Backward also accumulates dmask [dim] += d loss / d m (summed over
 * rows; may be NULL), through both the output scale and the statistics.
 * din may alias dout. */
SN_API void sn_masked_layernorm_forward(float *out, float *saved_mean, float *saved_inv_std,
                                        const float *in, const float *gamma, const float *beta,
                                        const float *mask, int64_t rows, int64_t dim, float eps);
SN_API void sn_masked_layernorm_backward(float *din, float *dgamma, float *dbeta, float *dmask,
                                         const float *dout, const float *in, const float *gamma,
                                         const float *beta, const float *mask,
                                         const float *saved_mean, const float *saved_inv_std,
                                         int64_t rows, int64_t dim, float eps);

/* ---- linear ------------------------------------------------------------ */

/* out [rows, out_features] = in [rows, in_features] * weight^T + bias, with
 * weight a view of out_features x in_features (first-k slices allowed) and
 * bias [out_features] or NULL. in and out are contiguous. */
SN_API void sn_linear_forward(float *out, const float *in, sn_matrix weight, const float *bias,
                              int64_t rows);
SN_API void sn_linear_backward(float *din, sn_matrix dweight, float *dbias, const float *dout,
                               const float *in, sn_matrix weight, int64_t rows);

/* ---- activations (elementwise over n floats; backward needs the input) -- */

SN_API void sn_relu_forward(float *out, const float *in, int64_t n);
SN_API void sn_relu_backward(float *din, const float *dout, const float *in, int64_t n);
/* hard-swish(x) = x * relu6(x + 3) / 6 */
SN_API void sn_hardswish_forward(float *out, const float *in, int64_t n);
SN_API void sn_hardswish_backward(float *din, const float *dout, const float *in, int64_t n);
/* GELU, exact (erf) form: x * 0.5 * (1 + erf(x / sqrt 2)). */
SN_API void sn_gelu_forward(float *out, const float *in, int64_t n);
SN_API void sn_gelu_backward(float *din, const float *dout, const float *in, int64_t n);

/* ---- elementwise helpers ----------------------------------------------- */

/* out = a + b (residual add; out may alias a or b). Backward is the identity
 * to both inputs: callers copy or add dout themselves. */
SN_API void sn_add_forward(float *out, const float *a, const float *b, int64_t n);
/* y += x */
SN_API void sn_accumulate(float *y, const float *x, int64_t n);

/* Global average pooling of [C, N, HW] to rows [N, C] (the classifier's input). */
SN_API void sn_global_avgpool_forward(float *out, const float *in, int64_t channels, int64_t batch,
                                      int64_t spatial);
SN_API void sn_global_avgpool_backward(float *din, const float *dout, int64_t channels,
                                       int64_t batch, int64_t spatial);

/* ---- regularisers ------------------------------------------------------ */

/* Inverted dropout: out = in * mask, mask = keep ? 1/(1-p) : 0, element i's
 * decision drawn from `stream` at position i (pass a fresh stream keyed by
 * (seed, SN_RNG_DROPOUT, step, layer/shard)). p in [0, 1). mask [n] is saved
 * for backward. */
SN_API void sn_dropout_forward(float *out, float *mask, const float *in, int64_t n, float p,
                               sn_rng_stream *stream);
SN_API void sn_dropout_backward(float *din, const float *dout, const float *mask, int64_t n);

/* Drop-path (stochastic depth) on a residual branch: each sample n of a batch
 * is kept with probability 1-p (scaled by 1/(1-p)) or zeroed. Element
 * (o, n, i) is at in[(o*batch + n)*inner + i]: outer = 1 for [N, T, D]
 * (inner = T*D), outer = C for [C, N, HW] (inner = HW). keep_scale [batch] is
 * saved for backward; sample n's decision is draw n of `stream`. */
SN_API void sn_drop_path_forward(float *out, float *keep_scale, const float *in, int64_t outer,
                                 int64_t batch, int64_t inner, float p, sn_rng_stream *stream);
SN_API void sn_drop_path_backward(float *din, const float *dout, const float *keep_scale,
                                  int64_t outer, int64_t batch, int64_t inner);

/* ---- transformer parts --------------------------------------------------- */

/* Patch embedding: a convolution with kernel = stride = patch, as patchify +
 * one product. image [N, C, H, W] (sample-major, as the data loader gives it
 * to the ViT), out tokens [N, T, D] with T = (H/patch)*(W/patch), weight view
 * D x (C*patch*patch) (column (c*patch + i)*patch + j), bias [D].
 * workspace: sn_patch_embed_workspace_floats(). H and W divisible by patch. */
SN_API int64_t sn_patch_embed_workspace_floats(int64_t batch, int64_t channels, int64_t height,
                                               int64_t width, int patch);
SN_API void sn_patch_embed_forward(float *out, const float *image, sn_matrix weight,
                                   const float *bias, int64_t batch, int64_t channels,
                                   int64_t height, int64_t width, int patch, float *workspace);
/* Parameter gradients only: the image needs no gradient. The workspace must
 * still hold the patches written by the forward. */
SN_API void sn_patch_embed_backward(sn_matrix dweight, float *dbias, const float *dout,
                                    int64_t batch, int64_t tokens, int patch_features,
                                    const float *workspace);

/* Scaled dot-product attention for `heads` heads of size head_dim:
 * q, k, v, out are [N, T, heads*head_dim] contiguous; head h uses columns
 * [h*head_dim, (h+1)*head_dim). probs [N, heads, T, T] saves the softmax for
 * backward. out = softmax(q k^T / sqrt(head_dim)) v, per sample and head,
 * computed with sn_gemm on strided views. */
SN_API void sn_attention_forward(float *out, float *probs, const float *q, const float *k,
                                 const float *v, int64_t batch, int64_t tokens, int64_t heads,
                                 int64_t head_dim);
/* dq, dk, dv [N, T, heads*head_dim] overwritten. workspace:
 * sn_attention_workspace_floats(tokens) floats (one head's dscores). */
SN_API int64_t sn_attention_workspace_floats(int64_t tokens);
SN_API void sn_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                                  const float *probs, const float *q, const float *k,
                                  const float *v, int64_t batch, int64_t tokens, int64_t heads,
                                  int64_t head_dim, float *workspace);

/* ---- losses -------------------------------------------------------------- */

/* Softmax cross-entropy with label smoothing s: the target distribution is
 * (1-s) on the label plus s/classes everywhere. logits [rows, classes]
 * contiguous; probs [rows, classes] saved for backward; returns the mean loss
 * over rows (computed in double). correct, if not NULL, receives the number of
 * rows whose argmax equals the label. */
SN_API double sn_softmax_cross_entropy_forward(float *probs, const float *logits,
                                               const int32_t *labels, int64_t rows, int64_t classes,
                                               float smoothing, int64_t *correct);
/* dlogits = scale * (probs - target) / rows  (scale weighs this loss in a sum). */
SN_API void sn_softmax_cross_entropy_backward(float *dlogits, const float *probs,
                                              const int32_t *labels, int64_t rows, int64_t classes,
                                              float smoothing, float scale);
/* Soft-target cross-entropy for in-place distillation: loss = mean over rows of
 * -sum_j target[j] * log softmax(logits)[j], with target a probability row
 * (the teacher's softmax, treated as a constant). */
SN_API double sn_soft_cross_entropy_forward(float *probs, const float *logits, const float *target,
                                            int64_t rows, int64_t classes);
SN_API void sn_soft_cross_entropy_backward(float *dlogits, const float *probs, const float *target,
                                           int64_t rows, int64_t classes, float scale);

/* ---- LSTM cell (the architecture generator) ------------------------------ */

/* gates = x W_ih^T + h_prev W_hh^T + bias, gate order (input, forget, cell,
 * output) in blocks of `hidden` columns; i,f,o = sigmoid, g = tanh;
 * c = f*c_prev + i*g, h = o*tanh(c).
 *   x [batch, input_size], h_prev/c_prev/h/c [batch, hidden]
 *   w_ih view (4*hidden) x input_size, w_hh view (4*hidden) x hidden, bias [4*hidden]
 *   gates [batch, 4*hidden] saves the activated gates for backward. */
SN_API void sn_lstm_cell_forward(float *h, float *c, float *gates, const float *x,
                                 const float *h_prev, const float *c_prev, sn_matrix w_ih,
                                 sn_matrix w_hh, const float *bias, int64_t batch,
                                 int64_t input_size, int64_t hidden);
/* Given dh, dc (gradients flowing into h and c; dc may be NULL = 0), writes
 * dx, dh_prev, dc_prev (each may be NULL) and accumulates dw_ih, dw_hh, dbias.
 * workspace: 4*hidden*batch floats (the pre-activation gate gradients). */
SN_API void sn_lstm_cell_backward(float *dx, float *dh_prev, float *dc_prev, sn_matrix dw_ih,
                                  sn_matrix dw_hh, float *dbias, const float *dh, const float *dc,
                                  const float *gates, const float *c, const float *c_prev,
                                  const float *x, const float *h_prev, sn_matrix w_ih,
                                  sn_matrix w_hh, int64_t batch, int64_t input_size, int64_t hidden,
                                  float *workspace);

#ifdef __cplusplus
}
#endif
#endif
