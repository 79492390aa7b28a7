/*
 * shiftnas/optim.h — optimisers, learning-rate schedule, gradient clipping and
 * the NaN/Inf guard. All of them walk a parameter table (shiftnas/tensor.h),
 * whose entries say where each parameter lives in the slabs and whether weight
 * decay applies to it (not to norms and biases).
 */
#ifndef SHIFTNAS_OPTIM_H
#define SHIFTNAS_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "shiftnas/api.h"
#include "shiftnas/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SN_OPTIMIZER_SGD = 0, SN_OPTIMIZER_ADAMW = 1 } sn_optimizer_kind;

typedef struct {
    sn_optimizer_kind kind;
    float momentum;      /* SGD */
    int nesterov;        /* SGD */
    float beta1, beta2;  /* AdamW */
    float epsilon;       /* AdamW */
    float weight_decay;  /* SGD: L2 added to the gradient; AdamW: decoupled */
} sn_optimizer_settings;

typedef struct {
    sn_optimizer_settings settings;
    int64_t updates;     /* updates applied so far (AdamW's bias correction) */
    size_t size;         /* floats in each moment slab (= table->total) */
    float *moment1;      /* SGD momentum buffer / AdamW first moment */
    float *moment2;      /* AdamW second moment; NULL for SGD */
} sn_optimizer;

/* Allocates the moment slabs (zeroed) for a table. */
SN_API int sn_optimizer_init(sn_optimizer *optimizer, const sn_optimizer_settings *settings,
                             const sn_parameter_table *table);
SN_API void sn_optimizer_free(sn_optimizer *optimizer);

/* One update of every parameter in the table at learning rate lr.
 * SGD (PyTorch semantics): g += wd*p; buf = momentum*buf + g;
 *   g = nesterov ? g + momentum*buf : buf; p -= lr*g.
 * AdamW: p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
 * Entries with weight_decay == 0 get no decay. */
SN_API void sn_optimizer_step(sn_optimizer *optimizer, const sn_parameter_table *table,
                              float *params, const float *grads, float lr);

/* Linear warm-up from 0 to base_lr over warmup_steps, then cosine decay to
 * min_lr at total_steps (and min_lr after). Exactly, with W = warmup_steps,
 * T = total_steps and step < 0 treated as 0:
 *   step < W:       base_lr * (step + 1) / W   (step 0 is nonzero; step W-1 is base_lr)
 *   step >= T:      min_lr
 *   otherwise:      min_lr + (base_lr - min_lr) * (1 + cos(pi * (step - W) / (T - W))) / 2
 * computed in double. With W = 0 the schedule starts at base_lr. */
SN_API float sn_learning_rate(int64_t step, int64_t total_steps, int64_t warmup_steps,
                              float base_lr, float min_lr);

/* L2 norm of the gradients of every table entry, summed in double in table
 * order (deterministic). */
SN_API double sn_gradient_norm(const sn_parameter_table *table, const float *grads);
/* Scales gradients so that their norm is at most max_norm (given the norm
 * computed above): by max_norm / norm when norm > max_norm. Returns the scale
 * applied (1 if none). max_norm <= 0 means off; a non-finite norm is left
 * alone for sn_first_non_finite to report. */
SN_API float sn_clip_by_norm(const sn_parameter_table *table, float *grads, double norm,
                             float max_norm);
/* Clamps every gradient element to [-max_value, max_value]; max_value <= 0
 * means off. NaN stays NaN. */
SN_API void sn_clip_by_value(const sn_parameter_table *table, float *grads, float max_value);
/* Index of the first NaN or Inf among n floats, or -1 if all are finite. */
SN_API int64_t sn_first_non_finite(const float *values, size_t n);

#ifdef __cplusplus
}
#endif
#endif
