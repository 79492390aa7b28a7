/* One LSTM cell step for the architecture generator. Gate order in the
 * 4*hidden columns: input, forget, cell (g), output. The activated gates are
 * saved because every local derivative is a function of them alone. */
#include "shiftnas/nn.h"

#include <math.h>

static float sigmoidf(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

void sn_lstm_cell_forward(float *h, float *c, float *gates, const float *x, const float *h_prev,
                          const float *c_prev, sn_matrix w_ih, sn_matrix w_hh, const float *bias,
                          int64_t batch, int64_t input_size, int64_t hidden)
{
    int64_t width = 4 * hidden;
    sn_matrix g = sn_matrix_make(gates, batch, width, width);
    /* The input part is a linear layer (with the bias); the recurrent part adds onto it. */
    sn_linear_forward(gates, x, w_ih, bias, batch);
    sn_gemm(1.0f, sn_matrix_make((float *)h_prev, batch, hidden, hidden),
            sn_matrix_transpose(w_hh), 1.0f, g);
    for (int64_t b = 0; b < batch; b++) {
        float *gi = gates + b * width, *gf = gi + hidden, *gg = gf + hidden, *go = gg + hidden;
        for (int64_t j = 0; j < hidden; j++) {
            gi[j] = sigmoidf(gi[j]);
            gf[j] = sigmoidf(gf[j]);
            gg[j] = tanhf(gg[j]);
            go[j] = sigmoidf(go[j]);
            int64_t at = b * hidden + j;
            c[at] = gf[j] * c_prev[at] + gi[j] * gg[j];
            h[at] = go[j] * tanhf(c[at]);
        }
    }
}

/* With dc_total = dc + dh * o * (1 - tanh(c)^2):
 *   di = dc_total * g,  df = dc_total * c_prev,  dg = dc_total * i,  do = dh * tanh(c),
 *   dc_prev = dc_total * f,
 * each taken through its activation's derivative into workspace [batch, 4*hidden]
 * (the pre-activation gate gradients), from which dx, dh_prev and the weight
 * gradients are products. */
void sn_lstm_cell_backward(float *dx, float *dh_prev, float *dc_prev, sn_matrix dw_ih,
                           sn_matrix dw_hh, float *dbias, const float *dh, const float *dc,
                           const float *gates, const float *c, const float *c_prev,
                           const float *x, const float *h_prev, sn_matrix w_ih, sn_matrix w_hh,
                           int64_t batch, int64_t input_size, int64_t hidden, float *workspace)
{
    int64_t width = 4 * hidden;
    for (int64_t b = 0; b < batch; b++) {
        const float *gi = gates + b * width, *gf = gi + hidden, *gg = gf + hidden,
                    *go = gg + hidden;
        float *di = workspace + b * width, *df = di + hidden, *dg = df + hidden, *dgo = dg + hidden;
        for (int64_t j = 0; j < hidden; j++) {
            int64_t at = b * hidden + j;
            float tc = tanhf(c[at]);
            float dct = dh[at] * go[j] * (1.0f - tc * tc) + (dc != NULL ? dc[at] : 0.0f);
            di[j] = dct * gg[j] * gi[j] * (1.0f - gi[j]);
            df[j] = dct * c_prev[at] * gf[j] * (1.0f - gf[j]);
            dg[j] = dct * gi[j] * (1.0f - gg[j] * gg[j]);
            dgo[j] = dh[at] * tc * go[j] * (1.0f - go[j]);
            /* Written last: dc_prev may share storage with dc in a caller's loop. */
            if (dc_prev != NULL)
                dc_prev[at] = dct * gf[j];
        }
    }
    sn_matrix dgates = sn_matrix_make(workspace, batch, width, width);
    if (dx != NULL)
        sn_gemm(1.0f, dgates, w_ih, 0.0f, sn_matrix_make(dx, batch, input_size, input_size));
    if (dh_prev != NULL)
        sn_gemm(1.0f, dgates, w_hh, 0.0f, sn_matrix_make(dh_prev, batch, hidden, hidden));
    sn_gemm(1.0f, sn_matrix_transpose(dgates),
            sn_matrix_make((float *)x, batch, input_size, input_size), 1.0f, dw_ih);
    sn_gemm(1.0f, sn_matrix_transpose(dgates),
            sn_matrix_make((float *)h_prev, batch, hidden, hidden), 1.0f, dw_hh);
    if (dbias != NULL)
        for (int64_t b = 0; b < batch; b++)
            for (int64_t j = 0; j < width; j++)
                dbias[j] += workspace[b * width + j];
}
