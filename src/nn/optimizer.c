/* SGD (momentum, Nesterov) and AdamW over a parameter table, PyTorch semantics. */
#include "shiftnas/optim.h"
#include "shiftnas/error.h"

#include <math.h>
#include <string.h>

int sn_optimizer_init(sn_optimizer *optimizer, const sn_optimizer_settings *settings,
                      const sn_parameter_table *table)
{
    memset(optimizer, 0, sizeof *optimizer);
    const sn_optimizer_settings *s = settings;
    if (s->kind != SN_OPTIMIZER_SGD && s->kind != SN_OPTIMIZER_ADAMW)
        return sn_error_set(SN_ERR_ARGUMENT, "optimizer: unknown kind %d", (int)s->kind);
    if (!(s->weight_decay >= 0.0f))
        return sn_error_set(SN_ERR_ARGUMENT, "optimizer: weight decay %g is negative",
                            (double)s->weight_decay);
    if (s->kind == SN_OPTIMIZER_SGD && !(s->momentum >= 0.0f && s->momentum < 1.0f))
        return sn_error_set(SN_ERR_ARGUMENT, "optimizer: SGD momentum %g outside [0, 1)",
                            (double)s->momentum);
    if (s->kind == SN_OPTIMIZER_ADAMW &&
        !(s->beta1 >= 0.0f && s->beta1 < 1.0f && s->beta2 >= 0.0f && s->beta2 < 1.0f &&
          s->epsilon > 0.0f))
        return sn_error_set(SN_ERR_ARGUMENT,
                            "optimizer: AdamW needs betas in [0, 1) and epsilon > 0, got "
                            "beta1 %g, beta2 %g, epsilon %g",
                            (double)s->beta1, (double)s->beta2, (double)s->epsilon);
    optimizer->settings = *s;
    optimizer->size = table->total;
    /* SGD with momentum 0 does not need the buffer, but buf = 0*buf + g = g
     * gives the same update, so one code path serves both. */
    optimizer->moment1 = sn_alloc_floats(table->total);
    if (!optimizer->moment1)
        return SN_ERR_NOMEM;
    if (s->kind == SN_OPTIMIZER_ADAMW) {
        optimizer->moment2 = sn_alloc_floats(table->total);
        if (!optimizer->moment2) {
            sn_optimizer_free(optimizer);
            return SN_ERR_NOMEM;
        }
    }
    return SN_OK;
}

void sn_optimizer_free(sn_optimizer *optimizer)
{
    sn_free(optimizer->moment1);
    sn_free(optimizer->moment2);
    memset(optimizer, 0, sizeof *optimizer);
}

/* p, g, buf are one entry's `n` floats. */
static void sgd_update(float *p, const float *g, float *buf, size_t n, float lr, float wd,
                       float momentum, int nesterov)
{
    for (size_t i = 0; i < n; i++) {
        float grad = g[i] + wd * p[i];
        buf[i] = momentum * buf[i] + grad;
        float step = nesterov ? grad + momentum * buf[i] : buf[i];
        p[i] -= lr * step;
    }
}

/* decay = 1 - lr*wd; step_size = lr / (1 - b1^t); inv_bc2 = 1 / (1 - b2^t). */
static void adamw_update(float *p, const float *g, float *m, float *v, size_t n, float decay,
                         float b1, float b2, float eps, float step_size, float inv_bc2)
{
    for (size_t i = 0; i < n; i++) {
        p[i] *= decay;
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= step_size * m[i] / (sqrtf(v[i] * inv_bc2) + eps);
    }
}

void sn_optimizer_step(sn_optimizer *optimizer, const sn_parameter_table *table, float *params,
                       const float *grads, float lr)
{
    const sn_optimizer_settings *s = &optimizer->settings;
    optimizer->updates++;
    if (s->kind == SN_OPTIMIZER_SGD) {
        for (int e = 0; e < table->count; e++) {
            const sn_parameter_entry *entry = &table->entries[e];
            float wd = entry->weight_decay ? s->weight_decay : 0.0f;
            sgd_update(params + entry->offset, grads + entry->offset,
                       optimizer->moment1 + entry->offset, entry->count, lr, wd, s->momentum,
                       s->nesterov);
        }
        return;
    }
    /* Bias corrections in double: b^t underflows gracefully and 1 - b2^t is
     * tiny in the first steps, where float would lose digits. */
    double t = (double)optimizer->updates;
    float step_size = (float)((double)lr / (1.0 - pow((double)s->beta1, t)));
    float inv_bc2 = (float)(1.0 / (1.0 - pow((double)s->beta2, t)));
    for (int e = 0; e < table->count; e++) {
        const sn_parameter_entry *entry = &table->entries[e];
        float decay = entry->weight_decay ? 1.0f - lr * s->weight_decay : 1.0f;
        adamw_update(params + entry->offset, grads + entry->offset,
                     optimizer->moment1 + entry->offset, optimizer->moment2 + entry->offset,
                     entry->count, decay, s->beta1, s->beta2, s->epsilon, step_size, inv_bc2);
    }
}
