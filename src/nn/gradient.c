/* Gradient norm, clipping and the NaN/Inf guard, over a parameter table. */
#include "shiftnas/optim.h"

#include <math.h>

double sn_gradient_norm(const sn_parameter_table *table, const float *grads)
{
    /* One double accumulator in table order: the same gradients give the
     * same norm bit for bit, whatever the thread count elsewhere. */
    double sum = 0.0;
    for (int e = 0; e < table->count; e++) {
        const float *g = grads + table->entries[e].offset;
        for (size_t i = 0; i < table->entries[e].count; i++)
            sum += (double)g[i] * (double)g[i];
    }
    return sqrt(sum);
}

float sn_clip_by_norm(const sn_parameter_table *table, float *grads, double norm, float max_norm)
{
    /* A non-finite norm is left for the NaN/Inf guard: scaling by 0 would
     * turn Inf into NaN and hide where it came from. */
    if (!(max_norm > 0.0f) || !isfinite(norm) || norm <= (double)max_norm)
        return 1.0f;
    float scale = (float)((double)max_norm / norm);
    for (int e = 0; e < table->count; e++) {
        float *g = grads + table->entries[e].offset;
        for (size_t i = 0; i < table->entries[e].count; i++)
            g[i] *= scale;
    }
    return scale;
}

void sn_clip_by_value(const sn_parameter_table *table, float *grads, float max_value)
{
    if (!(max_value > 0.0f))
        return;
    for (int e = 0; e < table->count; e++) {
        float *g = grads + table->entries[e].offset;
        for (size_t i = 0; i < table->entries[e].count; i++) {
            if (g[i] > max_value)
                g[i] = max_value;
            else if (g[i] < -max_value)
                g[i] = -max_value;
        }
    }
}

int64_t sn_first_non_finite(const float *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(values[i]))
            return (int64_t)i;
    return -1;
}
