/*
 * shiftnas/sampler.h — FLOPs buckets, subnet samplers and the probability shift.
 *
 * Buckets. The MACs range of a space, [smallest subnet, largest subnet], cut
 * into K buckets, either K equal widths or a given MACs step (the paper's
 * "0.1 GFLOPs step"). Bucket k holds [edge[k], edge[k+1]); the last bucket
 * also holds its top edge, so the largest subnet is in bucket K-1.
 *
 * Samplers. Every draw is keyed: the subnet of (seed, step, slot) is a pure
 * function of those three numbers and the space, whatever the call order and
 * whichever rank asks. `slot` numbers the subnets of one step (sandwich: 0 is
 * the largest, 1 the smallest, 2.. the random ones; attentive: the
 * candidates). Internally slot s uses the streams (seed, SN_RNG_SAMPLER, step,
 * s * SN_SAMPLER_ROLES + role), one role per kind of draw.
 *
 *   uniform        every dimension uniform (sn_arch_sample_uniform);
 *   flops-uniform  a bucket uniformly, then a uniform subnet inside it by
 *                  rejection (at most max_tries draws), then, if rejection
 *                  failed, a guided local search from the closest draw (see
 *                  sn_sample_in_bucket);
 *   sandwich       the largest, the smallest and N uniform subnets per step;
 *   attentive      a bucket uniformly, a target inside it, C candidates in
 *                  that bucket; the trainer scores them by mini-batch loss and
 *                  trains the best or the worst (sn_attentive_select): one
 *                  subnet per step, AttentiveNAS's candidate rule without its
 *                  sandwich rule or distillation.
 *
 * Probability shift (ShiftNAS Sec. 3.2). Logits beta[K], p = softmax(beta),
 * the step's bucket k ~ p (keyed). Every `interval` steps after `warmup`
 * steps the trainer evaluates the validation loss of each bucket and calls
 * sn_shift_update(): delta_k = L_val(now) - L_val(previous update), and Adam
 * descends d/dbeta E_{k~p}[delta_k], so buckets whose loss still falls fastest
 * gain probability. Or (estimator target-input, the paper's gradient path)
 * one sampled bucket's target C enters the generator, and beta descends
 * (dL_val/dC now - dL_val/dC at the previous update's weights) * dC/dbeta
 * (sn_shift_update_target_input). Alternatively (statistic = variance)
 * p = softmax(var/tau) of each bucket's training-loss variance over the last
 * `interval` steps (recorded under the bucket the trained subnet's MACs fall
 * in). The control arm (options.frozen) runs every update but leaves p
 * uniform.
 * doc/algorithm.md gives the choices and the reasons.
 */
#ifndef SHIFTNAS_SAMPLER_H
#define SHIFTNAS_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "shiftnas/api.h"
#include "shiftnas/rng.h"
#include "shiftnas/space.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SN_BUCKETS_MAX = 64,
    SN_SAMPLER_ROLES = 4,        /* streams per slot: bucket, target, arch, search */
    SN_SAMPLER_CANDIDATES_MAX = 16,
    SN_SAMPLER_SANDWICH_MAX = 18 /* largest + smallest + up to 16 random */
};

/* ---- buckets ------------------------------------------------------------- */

typedef struct {
    int count;                        /* K */
    int64_t edge[SN_BUCKETS_MAX + 1]; /* ascending; edge[0] = smallest, edge[K] = largest MACs */
} sn_buckets;

/* K equal-width buckets over the space's MACs range (edge k = min + floor(k *
 * (max - min) / K)). 1 <= count <= SN_BUCKETS_MAX, else SN_ERR_ARGUMENT. */
SN_API int sn_buckets_equal_width(sn_buckets *buckets, const sn_space *space, int count);
/* Buckets of `step` MACs from the smallest subnet: edge k = min + k * step,
 * the last edge clipped to the largest (so the last bucket may be narrower).
 * SN_ERR_ARGUMENT if step < 1 or more than SN_BUCKETS_MAX buckets result. */
SN_API int sn_buckets_from_step(sn_buckets *buckets, const sn_space *space, int64_t step);
/* The bucket holding `macs`, or -1 outside [edge[0], edge[K]]. */
SN_API int sn_buckets_index(const sn_buckets *buckets, int64_t macs);
/* A MACs target uniform in [edge[k], edge[k+1]) drawn from `stream`. */
SN_API double sn_buckets_target(const sn_buckets *buckets, int k, sn_rng_stream *stream);

/* ---- samplers ------------------------------------------------------------ */

typedef struct {
    const sn_space *space; /* not owned; must outlive the sampler */
    sn_buckets buckets;
    uint64_t seed;
    int max_tries;         /* rejection draws before the guided search; default 200 */
    int search_moves;      /* guided-search moves before giving up; default 256 */
    int sandwich_random;   /* random subnets besides largest and smallest; default 2 */
    int candidates;        /* attentive candidates per target; default 3 */
    sn_arch smallest, largest;
} sn_sampler;

/* What one in-bucket draw did (for logs and the rejection figures). */
typedef struct {
    int bucket;
    int tries;     /* uniform draws made (<= max_tries) */
    int moves;     /* guided-search moves made (0 if rejection succeeded) */
    int in_bucket; /* 1 if the subnet's MACs are in the bucket */
    int64_t macs;
} sn_sample_info;

/* Copies the buckets, keeps a pointer to the space, sets the defaults above. */
SN_API int sn_sampler_init(sn_sampler *sampler, const sn_space *space, const sn_buckets *buckets,
                           uint64_t seed);

/* The stream of (seed, SN_RNG_SAMPLER, step, slot * SN_SAMPLER_ROLES + role). */
SN_API void sn_sampler_stream(const sn_sampler *sampler, uint64_t step, uint32_t slot,
                              uint32_t role, sn_rng_stream *stream);

SN_API void sn_sample_uniform(const sn_sampler *sampler, uint64_t step, uint32_t slot,
                              sn_arch *arch);

/* A subnet in bucket k: uniform draws until one falls in the bucket (at most
 * max_tries); if none does, a guided local search from the draw closest to
 * the bucket: each move changes one active dimension by one choice (or, when
 * no such move gets closer, one up and one down), picked at random among the
 * moves that land in the bucket, else among those that get closer. Returns
 * SN_OK; info->in_bucket says whether the bucket was reached (0 only if the
 * search found no way in: e.g. a bucket no subnet falls into). info may be
 * NULL. SN_ERR_ARGUMENT for a bad k. */
SN_API int sn_sample_in_bucket(const sn_sampler *sampler, int k, uint64_t step, uint32_t slot,
                               sn_arch *arch, sn_sample_info *info);

/* A bucket uniformly, then sn_sample_in_bucket. */
SN_API int sn_sample_flops_uniform(const sn_sampler *sampler, uint64_t step, uint32_t slot,
                                   sn_arch *arch, sn_sample_info *info);

/* archs[0] = largest, archs[1] = smallest, archs[2 .. 2+sandwich_random) uniform
 * (slots 2..). *count = 2 + sandwich_random; SN_ERR_ARGUMENT if capacity is
 * smaller. */
SN_API int sn_sample_sandwich(const sn_sampler *sampler, uint64_t step, sn_arch *archs,
                              int capacity, int *count);

/* AttentiveNAS candidate generation for subnet `slot` of the step: a bucket
 * uniformly, a MACs target uniform inside it (*target; the bucket is
 * *bucket), then `candidates` subnets in that bucket (candidate j uses slot
 * slot * SN_SAMPLER_CANDIDATES_MAX + j). *count = candidates. */
SN_API int sn_sample_attentive(const sn_sampler *sampler, uint64_t step, uint32_t slot,
                               sn_arch *archs, int capacity, int *count, int *bucket,
                               double *target);

typedef enum { SN_ATTENTIVE_BEST = 0, SN_ATTENTIVE_WORST = 1 } sn_attentive_mode;

/* The candidate to train from its mini-batch losses: best = lowest loss,
 * worst = highest; ties go to the lower index; NaN losses are never chosen.
 * Returns the index, or SN_ERR_NUMERIC if every loss is NaN (SN_ERR_ARGUMENT
 * if count < 1). */
SN_API int sn_attentive_select(const double *losses, int count, sn_attentive_mode mode);

/* ---- probability shift --------------------------------------------------- */

typedef enum {
    SN_SHIFT_LOSS_CHANGE = 0, /* paper Eq. 8: delta of validation loss between updates */
    SN_SHIFT_VARIANCE = 1     /* softmax(variance of the training loss / tau) */
} sn_shift_statistic;

/* What each estimator computes (doc/algorithm.md). The first two weigh the
 * measured delta_k of all K buckets; the third is the paper's route, where
 * one Gumbel-softmax sample of the bucket reaches L_val through the
 * generator's target input. */
typedef enum {
    /* the exact gradient of the expected change E_{k~p}[delta_k] =
     * sum_k p_k delta_k over all K buckets */
    SN_SHIFT_EXPECTATION = 0,
    /* one Gumbel-softmax relaxation y = softmax((beta + g) / T), straight
     * through: the gradient of sum_k y_k delta_k, still over all K buckets'
     * losses (not the paper's single sample) */
    SN_SHIFT_GUMBEL = 1,
    /* the paper's route: G(B) enters L_val through the generator's target
     * input C (sn_shift_update_target_input) */
    SN_SHIFT_TARGET_INPUT = 2
} sn_shift_estimator;

typedef struct {
    sn_shift_statistic statistic;
    sn_shift_estimator estimator;
    int interval;              /* U: steps between updates and ring length; default 100 */
    int64_t warmup;            /* steps before the first update; default 0 */
    double learning_rate;      /* Adam; default 0.1 (doc/algorithm.md says why) */
    double beta1, beta2, epsilon; /* default 0.9, 0.999, 1e-8 */
    double gumbel_temperature; /* T of the gumbel and target-input estimators; default 1 */
    double variance_temperature; /* tau of softmax(variance / tau); default 0.01 */
    /* The control arm: each update measures and computes as usual (delta,
     * gradient, or the ring's variances) but beta, Adam and probability
     * stay as sn_shift_init left them (uniform); default 0. */
    int frozen;
} sn_shift_options;

typedef struct {
    int count; /* K */
    sn_shift_options options;
    uint64_t seed;

    double beta[SN_BUCKETS_MAX];        /* logits (loss-change statistic) */
    double probability[SN_BUCKETS_MAX]; /* the sampling distribution */

    /* Adam on beta */
    double adam_m[SN_BUCKETS_MAX], adam_v[SN_BUCKETS_MAX];
    int64_t adam_t;

    /* loss-change statistic: the last update's validation losses (target-input:
     * have_previous says the trainer holds the previous update's weights) */
    int have_previous;
    double previous_loss[SN_BUCKETS_MAX];
    double delta[SN_BUCKETS_MAX];    /* last update's delta_k (target-input: the
                                        sampled bucket's dL/dC difference, NaN elsewhere) */
    double gradient[SN_BUCKETS_MAX]; /* last update's d/dbeta */
    int gumbel_bucket;               /* last Gumbel estimator's sampled bucket (-1: none) */
    int64_t updates;                 /* updates that changed the distribution (frozen:
                                        that would have) */

    /* variance statistic: a ring of the last `interval` (bucket, loss) records */
    int ring_capacity, ring_head, ring_size;
    int *ring_bucket;
    double *ring_loss;
    double mean[SN_BUCKETS_MAX], variance[SN_BUCKETS_MAX];
    int record_count[SN_BUCKETS_MAX]; /* records of each bucket in the ring at the last update */
} sn_shift;

SN_API void sn_shift_options_defaults(sn_shift_options *options);
/* Uniform start (beta = 0). Allocates the ring once (interval entries).
 * SN_ERR_ARGUMENT for a bad count or option; SN_ERR_NOMEM. */
SN_API int sn_shift_init(sn_shift *shift, int count, const sn_shift_options *options,
                         uint64_t seed);
SN_API void sn_shift_free(sn_shift *shift);

/* The bucket of subnet `slot` at `step`, drawn from probability[] with the
 * sampler's bucket stream (seed, SN_RNG_SAMPLER, step, slot * SN_SAMPLER_ROLES). */
SN_API int sn_shift_draw_bucket(const sn_shift *shift, uint64_t step, uint32_t slot);

/* 1 if an update is due after `step` (steps counted from 0): step + 1 >=
 * warmup + interval and (step + 1 - warmup) is a multiple of interval. */
SN_API int sn_shift_due(const sn_shift *shift, int64_t step);

/* Records a training step's (bucket, loss); no allocation. SN_ERR_ARGUMENT
 * for a bad bucket, SN_ERR_NUMERIC for a non-finite loss (not recorded). */
SN_API int sn_shift_record(sn_shift *shift, int bucket, double loss);

/* One update. Loss change: validation_loss[K] (required) is L_val of each
 * bucket now; the first call only stores it; later calls set delta, the
 * gradient (by the estimator; Gumbel noise keyed by (seed, SN_RNG_SAMPLER,
 * step, 0xFFFFFFFF)) and take one Adam step on beta. Variance: computes each
 * bucket's mean and variance from the ring (validation_loss may be NULL).
 * Then recomputes probability[]. With options.frozen, everything but the
 * Adam step and the new probability[]: beta and p stay uniform.
 * SN_ERR_NUMERIC if a loss is not finite (nothing changes). SN_ERR_ARGUMENT
 * for the target-input estimator, which updates through
 * sn_shift_update_target_input. */
SN_API int sn_shift_update(sn_shift *shift, const double *validation_loss, uint64_t step);

/* ---- the target-input estimator (paper Eqs. 6-8 through the generator) ----
 *
 * G(B) reaches L_val through the generator's target input C. One Gumbel
 * sample per update: y = softmax((beta + g) / T), b = argmax y; the forward
 * runs the generator at C = middle[b] (straight-through), the backward uses
 * the relaxation C~ = sum_k y_k middle_k. The trainer computes dL_val/dC at
 * that C under the current weights (w_t) and under the previous update's
 * (w_{t-1}); Eq. 8's gradient is
 *     d/dbeta_j = (dL/dC|w_t - dL/dC|w_{t-1}) * dC~/dbeta_j,
 *     dC~/dbeta_j = y_j (middle_j - C~) / T.
 * middle[] is in the generator's input units (sn_generator_normalized_target
 * of each bucket's middle MACs). doc/algorithm.md says what the paper leaves
 * open and what we chose. */
typedef struct {
    int bucket;                              /* b = argmax y */
    double input;                            /* the forward's C = middle[b] */
    double relaxed;                          /* C~ = sum_k y_k middle_k */
    double y[SN_BUCKETS_MAX];                /* the relaxed sample */
    double input_gradient[SN_BUCKETS_MAX];   /* dC~/dbeta */
} sn_shift_target_draw;

/* The sample of the given Gumbel noise (count entries each). */
SN_API void sn_shift_target_input_sample(const double *beta, const double *middle,
                                         const double *gumbel, int count, double temperature,
                                         sn_shift_target_draw *draw);
/* The update's sample at `step`: noise keyed by (seed, SN_RNG_SHIFT, step, 0),
 * beta and T the shift's. */
SN_API void sn_shift_target_input_draw(const sn_shift *shift, const double *middle,
                                       uint64_t step, sn_shift_target_draw *draw);
/* One target-input update. The first call (have_previous == 0) only records
 * that the trainer has taken its weight snapshot (now and before are
 * ignored). Later calls: delta[b] = now - before (NaN for the other
 * buckets), gradient = delta[b] * draw->input_gradient, gumbel_bucket = b,
 * one Adam step, probability[] recomputed. now and before are dL_val/dC at
 * draw->input under w_t and w_{t-1}. SN_ERR_NUMERIC if either is not finite
 * (nothing changes); SN_ERR_ARGUMENT for another estimator. */
SN_API int sn_shift_update_target_input(sn_shift *shift, const sn_shift_target_draw *draw,
                                        double now, double before);

/* The shift's evolving state as a list of fields, the one place that names
 * them: a checkpoint saves and restores exactly these, the coordinator
 * broadcasts them, the ranks compare their hash. count, options, seed and
 * ring_capacity are the shift's setup (sn_shift_init), not state.
 *
 *     static int save(const sn_shift_field *f, void *file) { ... f->name, f->data ... }
 *     SN_TRY(sn_shift_visit_state(&shift, save, file));
 */
typedef enum {
    SN_SHIFT_FIELD_DOUBLE = 0, /* double */
    SN_SHIFT_FIELD_INT64 = 1,  /* int64_t */
    SN_SHIFT_FIELD_INT = 2     /* int */
} sn_shift_field_type;

typedef struct {
    const char *name;         /* the member's name, e.g. "beta" */
    sn_shift_field_type type; /* of each element */
    int scalar;               /* 1: one value (count = 1); 0: a vector of count elements */
    void *data;               /* the shift's own memory */
    int64_t count;            /* K for the per-bucket vectors, ring_capacity for the ring */
    size_t bytes;             /* count times the element's size */
} sn_shift_field;

typedef int (*sn_shift_field_visitor)(const sn_shift_field *field, void *context);

/* Calls visit once per field, in a fixed order (the checkpoint's); stops at
 * and returns the first result other than SN_OK. A visitor that only reads
 * may be given a const shift cast to non-const. */
SN_API int sn_shift_visit_state(sn_shift *shift, sn_shift_field_visitor visit, void *context);

/* The bytes of every state field folded into `hash` (as sn_hash_bytes of
 * shiftnas/dist.h does): equal states give equal hashes, and a changed
 * field changes it. For comparing the ranks' copies. */
SN_API uint64_t sn_shift_state_hash(const sn_shift *shift, uint64_t hash);

/* Whether restored state is one sn_shift_update could have left: ring
 * position and entries inside the ring, counters not negative, beta finite,
 * probability a distribution. SN_ERR_FORMAT naming the field otherwise. */
SN_API int sn_shift_check_state(const sn_shift *shift);

/* softmax of `logits` (count entries) into `probability`, max-subtracted. */
SN_API void sn_softmax(const double *logits, int count, double *probability);
/* E_{k~softmax(beta)}[delta_k] and its gradient
 * d/dbeta_j = p_j (delta_j - sum_k p_k delta_k) (gradient may be NULL). */
SN_API double sn_shift_expectation(const double *beta, const double *delta, int count,
                                   double *gradient);
/* Straight-through Gumbel-softmax: y = softmax((beta + gumbel) / temperature),
 * forward value delta_{argmax y}, gradient through the relaxation
 * sum_k y_k delta_k: d/dbeta_j = y_j (delta_j - sum_k y_k delta_k) / temperature.
 * Returns the sampled bucket (argmax). The gradient weighs every bucket's
 * delta_k (one relaxation, not the paper's single sample). */
SN_API int sn_shift_gumbel_gradient(const double *beta, const double *delta, const double *gumbel,
                                    int count, double temperature, double *gradient);

#ifdef __cplusplus
}
#endif
#endif
