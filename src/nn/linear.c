/* Fully connected layer: one sn_gemm per product, on strided weight views so a
 * subnet multiplies by the first-k block of the supernet weight in place. */
#include "shiftnas/nn.h"

/* out [rows, O] = in [rows, I] * weight^T + bias; weight view O x I. */
void sn_linear_forward(float *out, const float *in, sn_matrix weight, const float *bias,
                       int64_t rows)
{
    int64_t out_features = weight.rows, in_features = weight.cols;
    float beta = 0.0f;
    if (bias != NULL) {
        /* Start from the bias and let the product add onto it: no second pass. */
        for (int64_t r = 0; r < rows; r++)
            for (int64_t o = 0; o < out_features; o++)
                out[r * out_features + o] = bias[o];
        beta = 1.0f;
    }
    sn_matrix x = sn_matrix_make((float *)in, rows, in_features, in_features);
    sn_matrix y = sn_matrix_make(out, rows, out_features, out_features);
    sn_gemm(1.0f, x, sn_matrix_transpose(weight), beta, y);
}

/* din [rows, I] = dout * weight (overwritten, skipped if NULL);
 * dweight (O x I view) += dout^T * in; dbias [O] += column sums of dout. */
void sn_linear_backward(float *din, sn_matrix dweight, float *dbias, const float *dout,
                        const float *in, sn_matrix weight, int64_t rows)
{
    int64_t out_features = weight.rows, in_features = weight.cols;
    sn_matrix dy = sn_matrix_make((float *)dout, rows, out_features, out_features);
    if (din != NULL)
        sn_gemm(1.0f, dy, weight, 0.0f, sn_matrix_make(din, rows, in_features, in_features));
    sn_matrix x = sn_matrix_make((float *)in, rows, in_features, in_features);
    sn_gemm(1.0f, sn_matrix_transpose(dy), x, 1.0f, dweight);
    if (dbias != NULL)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t o = 0; o < out_features; o++)
                dbias[o] += dout[r * out_features + o];
}
