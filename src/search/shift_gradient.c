/* The probability shift's numerics: softmax, the gradient of the expected
 * loss change (exact, or one straight-through Gumbel-softmax relaxation that
 * still weighs every bucket's delta), the target-input estimator's relaxed
 * target and its gradient, and a K-float Adam step. */
#include <math.h>

#include "shift_internal.h"

void sn_softmax(const double *logits, int count, double *probability)
{
    double top = logits[0];
    for (int k = 1; k < count; k++)
        top = logits[k] > top ? logits[k] : top;
    double sum = 0.0;
    for (int k = 0; k < count; k++) {
        probability[k] = exp(logits[k] - top);
        sum += probability[k];
    }
    for (int k = 0; k < count; k++)
        probability[k] /= sum;
}

/* d/dz_j sum_k softmax(z)_k delta_k = y_j (delta_j - sum_k y_k delta_k). */
static double softmax_weighted(const double *y, const double *delta, int count, double scale,
                               double *gradient)
{
    double mean = 0.0;
    for (int k = 0; k < count; k++)
        mean += y[k] * delta[k];
    if (gradient)
        for (int j = 0; j < count; j++)
            gradient[j] = scale * y[j] * (delta[j] - mean);
    return mean;
}

double sn_shift_expectation(const double *beta, const double *delta, int count, double *gradient)
{
    double p[SN_BUCKETS_MAX];
    sn_softmax(beta, count, p);
    return softmax_weighted(p, delta, count, 1.0, gradient);
}

int sn_shift_gumbel_gradient(const double *beta, const double *delta, const double *gumbel,
                             int count, double temperature, double *gradient)
{
    double z[SN_BUCKETS_MAX] = {0}, y[SN_BUCKETS_MAX];
    int sampled = 0;
    for (int k = 0; k < count; k++)
        z[k] = (beta[k] + gumbel[k]) / temperature;
    for (int k = 1; k < count; k++)
        if (z[k] > z[sampled])
            sampled = k;
    sn_softmax(z, count, y);
    /* Straight-through: the forward value is the hard sample's delta, the
     * gradient is the relaxation's (chain rule through z = (beta+g)/T). */
    softmax_weighted(y, delta, count, 1.0 / temperature, gradient);
    return sampled;
}

void sn_shift_target_input_sample(const double *beta, const double *middle, const double *gumbel,
                                  int count, double temperature, sn_shift_target_draw *draw)
{
    double z[SN_BUCKETS_MAX];
    for (int k = 0; k < count; k++)
        z[k] = (beta[k] + gumbel[k]) / temperature;
    sn_softmax(z, count, draw->y);
    /* C~ as a function of beta is softmax((beta+g)/T) weighing the middles:
     * the same chain rule as the Gumbel estimator's, with middle for delta. */
    draw->bucket = sn_shift_gumbel_gradient(beta, middle, gumbel, count, temperature,
                                            draw->input_gradient);
    draw->input = middle[draw->bucket];
    draw->relaxed = softmax_weighted(draw->y, middle, count, 1.0, NULL);
    for (int k = count; k < SN_BUCKETS_MAX; k++)
        draw->y[k] = draw->input_gradient[k] = 0.0;
}

void sn_shift_adam_step(sn_shift *shift, const double *gradient)
{
    const sn_shift_options *o = &shift->options;
    shift->adam_t++;
    double c1 = 1.0 - pow(o->beta1, (double)shift->adam_t);
    double c2 = 1.0 - pow(o->beta2, (double)shift->adam_t);
    for (int k = 0; k < shift->count; k++) {
        shift->adam_m[k] = o->beta1 * shift->adam_m[k] + (1.0 - o->beta1) * gradient[k];
        shift->adam_v[k] = o->beta2 * shift->adam_v[k] + (1.0 - o->beta2) * gradient[k] * gradient[k];
        double m = shift->adam_m[k] / c1, v = shift->adam_v[k] / c2;
        shift->beta[k] -= o->learning_rate * m / (sqrt(v) + o->epsilon);
    }
}
