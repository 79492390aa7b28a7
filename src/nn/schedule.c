/* The learning-rate schedule: linear warm-up, then cosine decay. */
#include "shiftnas/optim.h"

#include <math.h>

float sn_learning_rate(int64_t step, int64_t total_steps, int64_t warmup_steps, float base_lr,
                       float min_lr)
{
    if (step < 0)
        step = 0;
    if (warmup_steps > 0 && step < warmup_steps)
        /* (step + 1): the first update already moves the weights, and the
         * last warm-up step reaches base_lr exactly. */
        return (float)((double)base_lr * (double)(step + 1) / (double)warmup_steps);
    if (step >= total_steps)
        return min_lr;
    const double pi = 3.14159265358979323846;
    double progress = (double)(step - warmup_steps) / (double)(total_steps - warmup_steps);
    return (float)((double)min_lr +
                   ((double)base_lr - (double)min_lr) * 0.5 * (1.0 + cos(pi * progress)));
}
