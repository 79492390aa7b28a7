/* Scaled dot-product attention, per sample and head, with every product an
 * sn_gemm on strided views: head h of q is the T x head_dim block starting at
 * column h*head_dim whose rows are heads*head_dim apart, so heads are never
 * gathered into contiguous copies. */
#include "shiftnas/nn.h"

#include <math.h>

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
    for (int64_t n = 0; n < batch; n++)
        for (int64_t h = 0; h < heads; h++) {
            /* probs [T, T] of this (sample, head): scores first, then softmax. */
            sn_matrix p = sn_matrix_make(probs + (n * heads + h) * tokens * tokens, tokens,
                                         tokens, tokens);
            sn_matrix qh = head_view(q, n, h, tokens, heads, head_dim);
            sn_matrix kh = head_view(k, n, h, tokens, heads, head_dim);
            sn_gemm(scale, qh, sn_matrix_transpose(kh), 0.0f, p);
            softmax_rows(p.data, tokens, tokens);
            sn_gemm(1.0f, p, head_view(v, n, h, tokens, heads, head_dim), 0.0f,
                    head_view(out, n, h, tokens, heads, head_dim));
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
    for (int64_t n = 0; n < batch; n++)
        for (int64_t h = 0; h < heads; h++) {
            sn_matrix p = sn_matrix_make((float *)probs + (n * heads + h) * tokens * tokens,
                                         tokens, tokens, tokens);
            sn_matrix dyh = head_view(dout, n, h, tokens, heads, head_dim);
            if (dv != NULL)
                sn_gemm(1.0f, sn_matrix_transpose(p), dyh, 0.0f,
                        head_view(dv, n, h, tokens, heads, head_dim));
            if (dq == NULL && dk == NULL)
                continue;
            sn_matrix ds = sn_matrix_make(workspace, tokens, tokens, tokens);
            sn_gemm(1.0f, dyh, sn_matrix_transpose(head_view(v, n, h, tokens, heads, head_dim)),
                    0.0f, ds);
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
                sn_gemm(scale, ds, head_view(k, n, h, tokens, heads, head_dim), 0.0f,
                        head_view(dq, n, h, tokens, heads, head_dim));
            if (dk != NULL)
                sn_gemm(scale, sn_matrix_transpose(ds),
                        head_view(q, n, h, tokens, heads, head_dim), 0.0f,
                        head_view(dk, n, h, tokens, heads, head_dim));
        }
}
