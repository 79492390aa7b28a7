/* The target-input estimator of the probability shift: dL_val/dC through
 * the generator and the masked supernet, under this update's weights and
 * the previous update's (shift_target_input.h). */
#include "shift_target_input.h"

#include <math.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/nn.h"
#include "dist/dist_internal.h"

static int64_t chunk_count(const sn_supernet_validation *v)
{
    return v->count > 0 ? (v->count + v->chunk - 1) / v->chunk : 0;
}

static size_t parameter_bytes(const sn_supernet_training *t)
{
    return sizeof(float) * sn_network_parameter_table(t->network)->total;
}

int sn_target_input_init(sn_supernet_training *t)
{
    int64_t per = 1 + t->space->choice_total;
    int64_t chunks = chunk_count(&t->validation);
    t->snapshot = sn_alloc_floats(sn_network_parameter_table(t->network)->total);
    t->generator_grads_saved = sn_alloc_floats(t->generator.table.total);
    t->input_dloss_dp = sn_alloc_floats((size_t)t->space->choice_total);
    t->input_mine = sn_alloc_bytes(sizeof(double) * (size_t)((chunks + 1) * per));
    t->input_all = sn_alloc_bytes(sizeof(double) * (size_t)((chunks + 1) * per));
    if (!t->snapshot || !t->generator_grads_saved || !t->input_dloss_dp || !t->input_mine ||
        !t->input_all)
        return sn_error_set(SN_ERR_NOMEM, "supernet training: out of memory for the "
                                          "target-input estimator's weight snapshot");
    return SN_OK;
}

void sn_target_input_free(sn_supernet_training *t)
{
    sn_free(t->snapshot);
    sn_free(t->generator_grads_saved);
    sn_free(t->input_dloss_dp);
    sn_free(t->input_mine);
    sn_free(t->input_all);
    t->snapshot = t->generator_grads_saved = t->input_dloss_dp = NULL;
    t->input_mine = t->input_all = NULL;
}

/* Forward and backward of the masked supernet over chunks [first, last):
 * row (c - first) of input_mine = [summed loss, d mean loss / d p]. The
 * loss is the mean over all held-out images, so each chunk's backward is
 * weighed by its share of them. CNN: batch statistics (training mode, no
 * dropout in a CNN space); ViT: evaluation mode. */
static int chunk_gradients(sn_supernet_training *t, const sn_supernet_validation *v,
                           int64_t first, int64_t last)
{
    int64_t P = t->space->choice_total;
    sn_forward_mode mode = {t->space->type == SN_SPACE_CNN, 0, 0, 0};
    for (int64_t c = first; c < last; c++) {
        int64_t begin = c * v->chunk;
        int64_t n = v->count - begin < v->chunk ? v->count - begin : v->chunk;
        SN_TRY(sn_image_source_fill_plain(v->source, v->images, v->labels, v->indices + begin, n,
                                          sn_network_input_layout(t->network)));
        const float *logits = sn_network_forward(t->network, v->images, n, &mode);
        double loss = sn_softmax_cross_entropy_forward(t->probs, logits, v->labels, n, t->classes,
                                                       0.0f, NULL);
        if (!isfinite(loss))
            return sn_error_set(SN_ERR_NUMERIC, "probability update: held-out loss of chunk "
                                                "%lld is not finite", (long long)c);
        sn_softmax_cross_entropy_backward(t->dlogits, t->probs, v->labels, n, t->classes, 0.0f,
                                          (float)((double)n / (double)v->count));
        sn_network_backward(t->network, t->dlogits, n);
        const float *dp = sn_network_architecture_gradient(t->network);
        double *row = t->input_mine + (c - first) * (1 + P);
        row[0] = (double)n * loss;
        for (int64_t i = 0; i < P; i++)
            row[1 + i] = dp[i];
    }
    return SN_OK;
}

/* Rank 0: the chunks' rows added in chunk order, then the generator's
 * backward of that task gradient alone (lambda = 0). Its parameter
 * gradients are the training step's business: kept aside and put back. */
static int input_gradient_of_chunks(sn_supernet_training *t, const sn_supernet_validation *v,
                                    int64_t chunks, double *loss, double *input_gradient)
{
    int64_t P = t->space->choice_total;
    double sum = 0;
    for (int64_t c = 0; c < chunks; c++)
        sum += t->input_all[c * (1 + P)];
    for (int64_t i = 0; i < P; i++) {
        double g = 0;
        for (int64_t c = 0; c < chunks; c++)
            g += t->input_all[c * (1 + P) + 1 + i];
        t->input_dloss_dp[i] = (float)g;
    }
    sn_generator *generator = &t->generator;
    size_t bytes = sizeof(float) * generator->table.total;
    memcpy(t->generator_grads_saved, generator->grads, bytes);
    int status = sn_generator_backward(generator, t->input_dloss_dp, 0.0);
    *input_gradient = generator->target_input_gradient;
    memcpy(generator->grads, t->generator_grads_saved, bytes);
    *loss = sum / (double)v->count;
    return status;
}

int sn_target_input_evaluate(sn_supernet_training *t, const sn_supernet_validation *v,
                             double target_macs, float temperature, const sn_generator_key *key,
                             int hard, double *loss, double *input_gradient)
{
    const sn_dist *dist = t->dp->dist;
    int64_t per = 1 + t->space->choice_total;
    int64_t chunks = chunk_count(v);
    int64_t first = (int64_t)dist->rank * chunks / dist->size;
    int64_t last = (int64_t)(dist->rank + 1) * chunks / dist->size;
    /* Every rank makes the same architecture: the generator's parameters
     * and its keyed noise are the same everywhere. */
    int status = sn_generator_forward(&t->generator, t->space, target_macs, temperature, key, hard,
                                      t->probabilities, NULL);
    if (status == SN_OK)
        status = sn_network_set_soft_architecture(t->network, t->probabilities);
    /* An evaluation: the running statistics must not move (and each rank
     * sees different chunks). */
    int64_t statistics;
    float *running = sn_network_running_statistics(t->network, &statistics);
    if (statistics > 0)
        memcpy(t->statistics_saved, running, sizeof(float) * (size_t)statistics);
    if (status == SN_OK)
        status = chunk_gradients(t, v, first, last);
    if (statistics > 0)
        memcpy(running, t->statistics_saved, sizeof(float) * (size_t)statistics);
    SN_TRY(sn_dist_agree(dist, status));
    for (int r = 0; r < dist->size; r++)
        t->validation_counts[r] =
            (int)(((int64_t)(r + 1) * chunks / dist->size - (int64_t)r * chunks / dist->size) *
                  per);
    SN_TRY(sn_dist_gather_doubles(dist, t->input_mine, t->validation_counts, t->input_all));
    if (dist->rank == 0)
        status = input_gradient_of_chunks(t, v, chunks, loss, input_gradient);
    return sn_dist_agree(dist, status);
}

/* Exchanges the weights with the snapshot, element by element (no third
 * copy of the weights). */
static void swap_weights(float *weights, float *snapshot, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        float w = weights[i];
        weights[i] = snapshot[i];
        snapshot[i] = w;
    }
}

int sn_target_input_update(sn_supernet_training *t, int64_t step, const sn_supernet_validation *v)
{
    const sn_dist *dist = t->dp->dist;
    const sn_buckets *buckets = &t->sampler.buckets;
    float *weights = sn_network_parameters(t->network);
    size_t count = sn_network_parameter_table(t->network)->total;
    double middle_macs[SN_BUCKETS_MAX], middle[SN_BUCKETS_MAX];
    for (int k = 0; k < buckets->count; k++) {
        middle_macs[k] = 0.5 * ((double)buckets->edge[k] + (double)buckets->edge[k + 1]);
        middle[k] = sn_generator_normalized_target(&t->generator, middle_macs[k]);
    }
    for (int k = 0; k < SN_BUCKETS_MAX; k++)
        t->validation_loss[k] = NAN;
    sn_shift_target_draw draw;
    sn_shift_target_input_draw(&t->shift, middle, (uint64_t)step, &draw);
    double now = NAN, before = NAN;
    if (t->shift.have_previous) {
        sn_generator_key key = {(uint64_t)t->config->seed, (uint64_t)step,
                                SN_TARGET_INPUT_GENERATOR_ITEM};
        float temperature =
            sn_generator_temperature(&t->generator.settings, step, t->total_steps);
        double target = middle_macs[draw.bucket], loss_before = NAN;
        /* w_{t-1} first: afterwards the snapshot holds w_t, which goes back
         * into the weights whatever happened, and is then already the next
         * update's snapshot. */
        swap_weights(weights, t->snapshot, count);
        int status = sn_target_input_evaluate(t, v, target, temperature, &key, 1, &loss_before,
                                              &before);
        memcpy(weights, t->snapshot, parameter_bytes(t));
        SN_TRY(status);
        SN_TRY(sn_target_input_evaluate(t, v, target, temperature, &key, 1,
                                        &t->validation_loss[draw.bucket], &now));
    } else {
        memcpy(t->snapshot, weights, parameter_bytes(t));
    }
    int status = SN_OK;
    if (dist->rank == 0) {
        status = sn_shift_update_target_input(&t->shift, &draw, now, before);
        if (status != SN_OK)
            status = sn_error_set(status, "step %lld: probability update: %s",
                                  (long long)step + 1, sn_error_message());
    }
    return sn_dist_agree(dist, status);
}
