/* Classification losses on logits [rows, classes]. Softmax is formed with the
 * row maximum subtracted and the loss from log-sum-exp, so neither overflows
 * nor takes log(0); losses are summed in double. */
#include "shiftnas/nn.h"

#include <math.h>

/* p = softmax(z) for one row. Also returns the row maximum and
 * log sum_j exp(z_j - max), from which callers form log p_j = z_j - max - log_sum
 * without taking the log of a rounded (possibly zero) probability. */
static void softmax_row(float *p, const float *z, int64_t classes, float *max_out,
                        double *log_sum_out)
{
    float max = z[0];
    for (int64_t j = 1; j < classes; j++)
        max = z[j] > max ? z[j] : max;
    double sum = 0.0;
    for (int64_t j = 0; j < classes; j++) {
        double e = exp((double)z[j] - max);
        p[j] = (float)e;
        sum += e;
    }
    double inv = 1.0 / sum;
    for (int64_t j = 0; j < classes; j++)
        p[j] = (float)(p[j] * inv);
    *max_out = max;
    *log_sum_out = log(sum);
}

/* Target = (1-s) one-hot(label) + s/classes, so
 *   loss_row = -(1-s) log p_label - (s/classes) sum_j log p_j. */
double sn_softmax_cross_entropy_forward(float *probs, const float *logits, const int32_t *labels,
                                        int64_t rows, int64_t classes, float smoothing,
                                        int64_t *correct)
{
    double total = 0.0;
    int64_t hits = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *z = logits + r * classes;
        float max;
        double log_sum;
        softmax_row(probs + r * classes, z, classes, &max, &log_sum);
        double log_p_label = (double)z[labels[r]] - max - log_sum;
        double loss = -(1.0 - smoothing) * log_p_label;
        if (smoothing != 0.0f) {
            double sum_log_p = 0.0;
            for (int64_t j = 0; j < classes; j++)
                sum_log_p += (double)z[j] - max - log_sum;
            loss -= (double)smoothing / (double)classes * sum_log_p;
        }
        total += loss;
        /* The first maximal logit is the prediction, as argmax conventionally breaks ties. */
        int64_t best = 0;
        for (int64_t j = 1; j < classes; j++)
            if (z[j] > z[best])
                best = j;
        hits += best == labels[r];
    }
    if (correct != NULL)
        *correct = hits;
    return rows > 0 ? total / (double)rows : 0.0;
}

void sn_softmax_cross_entropy_backward(float *dlogits, const float *probs, const int32_t *labels,
                                       int64_t rows, int64_t classes, float smoothing,
                                       float scale)
{
    float factor = scale / (float)rows;
    float uniform = smoothing / (float)classes;
    for (int64_t r = 0; r < rows; r++) {
        const float *p = probs + r * classes;
        float *d = dlogits + r * classes;
        for (int64_t j = 0; j < classes; j++)
            d[j] = factor * (p[j] - uniform);
        d[labels[r]] -= factor * (1.0f - smoothing);
    }
}

double sn_soft_cross_entropy_forward(float *probs, const float *logits, const float *target,
                                     int64_t rows, int64_t classes)
{
    double total = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        const float *z = logits + r * classes;
        const float *t = target + r * classes;
        float max;
        double log_sum;
        softmax_row(probs + r * classes, z, classes, &max, &log_sum);
        double loss = 0.0;
        for (int64_t j = 0; j < classes; j++)
            loss -= (double)t[j] * ((double)z[j] - max - log_sum);
        total += loss;
    }
    return rows > 0 ? total / (double)rows : 0.0;
}

/* d/dz_j of -sum_i t_i log p_i is p_j * sum_i t_i - t_j: p - t for a
 * normalised target, and still exact when a teacher row's float sum is off by
 * rounding. */
void sn_soft_cross_entropy_backward(float *dlogits, const float *probs, const float *target,
                                    int64_t rows, int64_t classes, float scale)
{
    float factor = scale / (float)rows;
    for (int64_t r = 0; r < rows; r++) {
        const float *p = probs + r * classes;
        const float *t = target + r * classes;
        float *d = dlogits + r * classes;
        double mass = 0.0;
        for (int64_t j = 0; j < classes; j++)
            mass += t[j];
        for (int64_t j = 0; j < classes; j++)
            d[j] = factor * (p[j] * (float)mass - t[j]);
    }
}
