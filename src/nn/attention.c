/* Scaled dot-product attention, per sample and head, every product on
 * strided views: head h of q is the T x head_dim block starting at column
 * h*head_dim whose rows are heads*head_dim apart, so heads are never gathered
 * into contiguous copies.
 *
 * Small heads (the 28x28 spaces: 17 tokens of 16 features) are multiplied
 * here, not by BLIS: a 17 x 16 x 17 product is a few thousand multiply-adds,
 * less than a BLIS call's own overhead, and the per-head products were ~15% of
 * a ViT supernet step at 60-70% of what BLIS reaches at their shape. It also
 * lets the supernets use BLIS's large-product kernels for everything else
 * (doc/performance.md, "Kernel choice"). Larger heads (AutoFormer at 224x224:
 * 197 tokens of 64) go to BLIS. */
#include "shiftnas/nn.h"

#include <math.h>

#include "nn/simd.h"

/* Heads this small (tokens x max(tokens, head_dim) floats) take small_product. */
enum { SMALL_HEAD_FLOATS = 4096 };

static int small_heads(int64_t tokens, int64_t head_dim)
{
    return tokens * (tokens > head_dim ? tokens : head_dim) <= SMALL_HEAD_FLOATS;
}

/* c = alpha * a b (c overwritten), any strides, for products whose matrices
 * have at most SMALL_HEAD_FLOATS entries. Row by row: c's row accumulates
 * a[i][k] times b's row k, in k order (a fixed order, the same on every CPU);
 * a b whose rows are not contiguous (a transposed view) is packed first. */
SN_WIDEST_VECTORS
static void small_product(float alpha, sn_matrix a, sn_matrix b, sn_matrix c)
{
    float packed[SMALL_HEAD_FLOATS], row[SMALL_HEAD_FLOATS];
    const float *b_rows = b.data;
    int64_t b_row_stride = b.row_stride;
    if (b.col_stride != 1) {
        for (int64_t k = 0; k < b.rows; k++)
            for (int64_t j = 0; j < b.cols; j++)
                packed[k * b.cols + j] = b.data[k * b.row_stride + j * b.col_stride];
        b_rows = packed;
        b_row_stride = b.cols;
    }
    const int64_t n = c.cols;
    for (int64_t i = 0; i < c.rows; i++) {
        for (int64_t j = 0; j < n; j++)
            row[j] = 0.0f;
        for (int64_t k = 0; k < a.cols; k++) {
            const float aik = a.data[i * a.row_stride + k * a.col_stride];
            const float *bk = b_rows + k * b_row_stride;
            for (int64_t j = 0; j < n; j++)
                row[j] += aik * bk[j];
        }
        float *ci = c.data + i * c.row_stride;
        for (int64_t j = 0; j < n; j++)
            ci[j * c.col_stride] = alpha * row[j];
    }
}

/* c = alpha * a b: small_product for small heads, else BLIS. */
static void head_product(float alpha, sn_matrix a, sn_matrix b, sn_matrix c, int small)
{
    if (small)
        small_product(alpha, a, b, c);
    else
        sn_gemm(alpha, a, b, 0.0f, c);
}

/* The T x head_dim view of head h of sample n in a [N, T, heads*head_dim] tensor. */
static sn_matrix head_view(const float *x, int64_t n, int64_t h, int64_t tokens, int64_t heads,
                           int64_t head_dim)
{
    int64_t width = heads * head_dim;
    return sn_matrix_make((float *)x + n * tokens * width + h * head_dim, tokens, head_dim,
                          width);
}

/* Row softmax in place; subtracting the row maximum keeps exp() finite. */
static void softmax_rows(float *p, int64_t rows, int64_t cols)
{
    for (int64_t i = 0; i < rows; i++) {
        float *row = p + i * cols;
        float max = row[0];
        for (int64_t j = 1; j < cols; j++)
            max = row[j] > max ? row[j] : max;
        double sum = 0.0;
        for (int64_t j = 0; j < cols; j++) {
            row[j] = expf(row[j] - max);
            sum += row[j];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < cols; j++)
            row[j] *= inv;
    }
}

void sn_attention_forward(float *out, float *probs, const float *q, const float *k,
                          const float *v, int64_t batch, int64_t tokens, int64_t heads,
                          int64_t head_dim)
{
    float scale = 1.0f / sqrtf((float)head_dim);
    const int small = small_heads(tokens, head_dim);
    for (int64_t n = 0; n < batch; n++)
        for (int64_t h = 0; h < heads; h++) {
            /* probs [T, T] of this (sample, head): scores first, then softmax. */
            sn_matrix p = sn_matrix_make(probs + (n * heads + h) * tokens * tokens, tokens,
                                         tokens, tokens);
            sn_matrix qh = head_view(q, n, h, tokens, heads, head_dim);
            sn_matrix kh = head_view(k, n, h, tokens, heads, head_dim);
            head_product(scale, qh, sn_matrix_transpose(kh), p, small);
            softmax_rows(p.data, tokens, tokens);
            head_product(1.0f, p, head_view(v, n, h, tokens, heads, head_dim),
                         head_view(out, n, h, tokens, heads, head_dim), small);
        }
}

int64_t sn_attention_workspace_floats(int64_t tokens)
{
    return tokens * tokens;
}

/* Per head, with S = q k^T * scale and P = softmax(S):
 *   dv = P^T dout;  dP = dout v^T;  dS = P .* (dP - rowsum(dP .* P));
 *   dq = scale * dS k;  dk = scale * dS^T q.
 * dq, dk, dv are overwritten (beta = 0); a NULL one is skipped. */
void sn_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                           const float *probs, const float *q, const float *k, const float *v,
                           int64_t batch, int64_t tokens, int64_t heads, int64_t head_dim,
                           float *workspace)
{
    float scale = 1.0f / sqrtf((float)head_dim);
    const int small = small_heads(tokens, head_dim);
    for (int64_t n = 0; n < batch; n++)
        for (int64_t h = 0; h < heads; h++) {
            sn_matrix p = sn_matrix_make((float *)probs + (n * heads + h) * tokens * tokens,
                                         tokens, tokens, tokens);
            sn_matrix dyh = head_view(dout, n, h, tokens, heads, head_dim);
            if (dv != NULL)
                head_product(1.0f, sn_matrix_transpose(p), dyh,
                             head_view(dv, n, h, tokens, heads, head_dim), small);
            if (dq == NULL && dk == NULL)
                continue;
            sn_matrix ds = sn_matrix_make(workspace, tokens, tokens, tokens);
            head_product(1.0f, dyh,
                         sn_matrix_transpose(head_view(v, n, h, tokens, heads, head_dim)), ds,
                         small);
            /* Softmax backward row by row, in place over dP. */
            for (int64_t i = 0; i < tokens; i++) {
                const float *prow = p.data + i * tokens;
                float *drow = workspace + i * tokens;
                double dot = 0.0;
                for (int64_t j = 0; j < tokens; j++)
                    dot += (double)drow[j] * prow[j];
                float d = (float)dot;
                for (int64_t j = 0; j < tokens; j++)
                    drow[j] = prow[j] * (drow[j] - d);
            }
            if (dq != NULL)
                head_product(scale, ds, head_view(k, n, h, tokens, heads, head_dim),
                             head_view(dq, n, h, tokens, heads, head_dim), small);
            if (dk != NULL)
                head_product(scale, sn_matrix_transpose(ds),
                             head_view(q, n, h, tokens, heads, head_dim),
                             head_view(dk, n, h, tokens, heads, head_dim), small);
        }
}
