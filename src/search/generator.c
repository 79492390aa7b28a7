/* The architecture generator: an LSTM over the searchable decisions, one head
 * per kind of dimension, straight-through Gumbel-softmax, and the resource
 * loss on the exact MAC counter (shiftnas/generator.h, doc/algorithm.md). */
#include "shiftnas/generator.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/nn.h"
#include "shiftnas/rng.h"

static const char *const kind_names[SN_GENERATOR_KINDS] = {
    "depth", "width", "kernel", "expand", "embed", "heads", "mlp_ratio"};

void sn_generator_default_settings(sn_generator_settings *settings)
{
    memset(settings, 0, sizeof *settings);
    settings->hidden = 64;
    settings->embedding = 16;
    settings->temperature_start = 5.0f;
    settings->temperature_end = 0.5f;
    settings->hard = 1;
    settings->embedding_init = 1.0f;
}

float sn_generator_temperature(const sn_generator_settings *settings, int64_t step,
                               int64_t total_steps)
{
    if (step <= 0 || total_steps <= 0)
        return step >= total_steps && total_steps <= 0 ? settings->temperature_end
                                                       : settings->temperature_start;
    if (step >= total_steps)
        return settings->temperature_end;
    double f = (double)step / (double)total_steps;
    return (float)(settings->temperature_start *
                   pow((double)settings->temperature_end / settings->temperature_start, f));
}

static float *param(const sn_generator *g, int entry)
{
    return g->params + g->table.entries[entry].offset;
}

static float *grad(const sn_generator *g, int entry)
{
    return g->grads + g->table.entries[entry].offset;
}

/* Row of the embedding table for choice j of a dimension of kind k. */
static int embedding_row(int kind, int j)
{
    return 1 + kind * SN_SPACE_MAX_CHOICES + j;
}

static int add_entry(sn_generator *g, const char *name, int ndim, int64_t a, int64_t b,
                     int decay)
{
    int64_t shape[2] = {a, b};
    int e = sn_parameter_table_add(&g->table, name, ndim, shape, decay);
    if (e < 0)
        return sn_error_set(SN_ERR_NOMEM, "generator: cannot add parameter %s", name);
    return e;
}

int sn_generator_create(sn_generator *generator, const sn_space *space,
                        const sn_generator_settings *settings, uint64_t seed)
{
    sn_generator *g = generator;
    memset(g, 0, sizeof *g);
    if (settings->hidden < 1 || settings->embedding < 1 || !(settings->temperature_start > 0.0f) ||
        !(settings->temperature_end > 0.0f) || !(settings->embedding_init >= 0.0f))
        return sn_error_set(SN_ERR_ARGUMENT,
                            "generator: hidden %d, embedding %d, temperatures %g -> %g, "
                            "embedding_init %g: sizes must be >= 1, temperatures > 0",
                            settings->hidden, settings->embedding,
                            (double)settings->temperature_start,
                            (double)settings->temperature_end, (double)settings->embedding_init);
    if (space->dimension_count < 1)
        return sn_error_set(SN_ERR_ARGUMENT, "generator: the space has no searchable dimension");
    g->settings = *settings;
    g->dimension_count = space->dimension_count;
    g->choice_total = space->choice_total;
    g->input_size = 1 + settings->embedding;
    for (int d = 0; d < space->dimension_count; d++) {
        g->kind[d] = (int)space->dimensions[d].kind;
        g->choice_count[d] = space->dimensions[d].choice_count;
        g->choice_offset[d] = space->choice_offset[d];
    }
    sn_arch a;
    sn_arch_smallest(space, &a);
    g->macs_min = (double)sn_space_cost(space, &a).macs;
    sn_arch_largest(space, &a);
    g->macs_max = (double)sn_space_cost(space, &a).macs;
    if (!(g->macs_max > g->macs_min))
        return sn_error_set(SN_ERR_ARGUMENT,
                            "generator: the smallest and largest subnets both have %.0f MACs: "
                            "nothing to generate",
                            g->macs_min);

    int64_t H = settings->hidden, E = settings->embedding, I = g->input_size;
    sn_parameter_table_init(&g->table);
    for (int k = 0; k < SN_GENERATOR_KINDS; k++)
        g->entry_head_weight[k] = g->entry_head_bias[k] = -1;
    int rc;
    if ((rc = g->entry_w_ih = add_entry(g, "lstm.w_ih", 2, 4 * H, I, 1)) < 0 ||
        (rc = g->entry_w_hh = add_entry(g, "lstm.w_hh", 2, 4 * H, H, 1)) < 0 ||
        (rc = g->entry_bias = add_entry(g, "lstm.bias", 1, 4 * H, 0, 0)) < 0 ||
        (rc = g->entry_embedding = add_entry(
             g, "embedding", 2, 1 + SN_GENERATOR_KINDS * SN_SPACE_MAX_CHOICES, E, 0)) < 0)
        goto fail;
    int present[SN_GENERATOR_KINDS] = {0};
    for (int d = 0; d < g->dimension_count; d++)
        present[g->kind[d]] = 1;
    for (int k = 0; k < SN_GENERATOR_KINDS; k++) {
        if (!present[k])
            continue;
        char name[SN_MAX_NAME];
        snprintf(name, sizeof name, "head.%s.weight", kind_names[k]);
        if ((rc = g->entry_head_weight[k] = add_entry(g, name, 2, SN_SPACE_MAX_CHOICES, H, 1)) < 0)
            goto fail;
        snprintf(name, sizeof name, "head.%s.bias", kind_names[k]);
        if ((rc = g->entry_head_bias[k] = add_entry(g, name, 1, SN_SPACE_MAX_CHOICES, 0, 0)) < 0)
            goto fail;
    }

    int64_t D = g->dimension_count, P = g->choice_total;
    rc = SN_ERR_NOMEM;
    if (!(g->params = sn_alloc_floats(g->table.total)) ||
        !(g->grads = sn_alloc_floats(g->table.total)) || !(g->x = sn_alloc_floats((size_t)(D * I))) ||
        !(g->h = sn_alloc_floats((size_t)((D + 1) * H))) ||
        !(g->c = sn_alloc_floats((size_t)((D + 1) * H))) ||
        !(g->gates = sn_alloc_floats((size_t)(D * 4 * H))) ||
        !(g->soft = sn_alloc_floats((size_t)(D * SN_SPACE_MAX_CHOICES))) ||
        !(g->p = sn_alloc_floats((size_t)P)) ||
        !(g->p_double = sn_alloc_bytes((size_t)P * sizeof(double))) ||
        !(g->rc_gradient = sn_alloc_bytes((size_t)P * sizeof(double))) ||
        !(g->dp = sn_alloc_floats((size_t)P)) || !(g->dh = sn_alloc_floats((size_t)H)) ||
        !(g->dc = sn_alloc_floats((size_t)H)) || !(g->dx = sn_alloc_floats((size_t)I)) ||
        !(g->workspace = sn_alloc_floats((size_t)(4 * H))) ||
        !(g->a_h = sn_alloc_floats((size_t)(2 * H))) || !(g->a_c = sn_alloc_floats((size_t)(2 * H))) ||
        !(g->a_x = sn_alloc_floats((size_t)I)) || !(g->a_gates = sn_alloc_floats((size_t)(4 * H))) ||
        !(g->a_logits = sn_alloc_floats(SN_SPACE_MAX_CHOICES)))
        goto fail;

    /* Initialisation: one stream per entry, so adding a kind's head does not
     * change the others' values. */
    float bound = 1.0f / sqrtf((float)H);
    for (int e = 0; e < g->table.count; e++) {
        const sn_parameter_entry *entry = &g->table.entries[e];
        sn_rng_stream s;
        sn_rng_stream_init(&s, seed, SN_RNG_PARAMETER_INIT, 0, 0x47454e00u + (uint32_t)e);
        float *w = g->params + entry->offset;
        int is_head_bias = strncmp(entry->name, "head.", 5) == 0 && entry->ndim == 1;
        for (size_t i = 0; i < entry->count; i++) {
            if (e == g->entry_embedding)
                w[i] = settings->embedding_init * sn_rng_normal(&s);
            else if (is_head_bias)
                w[i] = 0.0f;
            else
                w[i] = bound * (2.0f * sn_rng_uniform(&s) - 1.0f);
        }
    }
    return SN_OK;
fail:
    sn_generator_free(g);
    return rc;
}

void sn_generator_free(sn_generator *g)
{
    float *floats[] = {g->params, g->grads, g->x, g->h, g->c, g->gates, g->soft, g->p, g->dp,
                       g->dh, g->dc, g->dx, g->workspace, g->a_h, g->a_c, g->a_x, g->a_gates,
                       g->a_logits};
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
        sn_free(floats[i]);
    sn_free(g->p_double);
    sn_free(g->rc_gradient);
    sn_parameter_table_free(&g->table);
    memset(g, 0, sizeof *g);
}

void sn_generator_zero_gradients(sn_generator *g)
{
    memset(g->grads, 0, g->table.total * sizeof(float));
}

double sn_generator_normalized_target(const sn_generator *g, double target_macs)
{
    return (target_macs - g->macs_min) / (g->macs_max - g->macs_min);
}

static int check_space(const sn_generator *g, const sn_space *space)
{
    if (space->dimension_count != g->dimension_count || space->choice_total != g->choice_total)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "generator: built for %d dimensions (%d choices), given a space of "
                            "%d (%d)",
                            g->dimension_count, g->choice_total, space->dimension_count,
                            space->choice_total);
    for (int d = 0; d < g->dimension_count; d++)
        if ((int)space->dimensions[d].kind != g->kind[d] ||
            space->dimensions[d].choice_count != g->choice_count[d])
            return sn_error_set(SN_ERR_ARGUMENT,
                                "generator: dimension %d of the space differs from the one it "
                                "was built for",
                                d);
    return SN_OK;
}

/* x = [t, e]: e is the start row at d = 0, else p_{d-1} times the previous
 * kind's embedding rows. */
static void build_input(const sn_generator *g, float *x, float t, int d, const float *p_prev)
{
    int64_t E = g->settings.embedding;
    const float *table = param(g, g->entry_embedding);
    x[0] = t;
    if (d == 0) {
        memcpy(x + 1, table, (size_t)E * sizeof(float));
        return;
    }
    memset(x + 1, 0, (size_t)E * sizeof(float));
    for (int j = 0; j < g->choice_count[d - 1]; j++) {
        float w = p_prev[j];
        if (w == 0.0f)
            continue;
        const float *row = table + (int64_t)embedding_row(g->kind[d - 1], j) * E;
        for (int64_t e = 0; e < E; e++)
            x[1 + e] += w * row[e];
    }
}

/* logits[0..n) = W_k h + b_k (only the dimension's n choices). */
static void head_forward(const sn_generator *g, float *logits, const float *h, int kind, int n)
{
    int64_t H = g->settings.hidden;
    const float *w = param(g, g->entry_head_weight[kind]);
    const float *b = param(g, g->entry_head_bias[kind]);
    for (int j = 0; j < n; j++) {
        float s = b[j];
        for (int64_t i = 0; i < H; i++)
            s += w[j * H + i] * h[i];
        logits[j] = s;
    }
}

static int argmax_of(const float *v, int n)
{
    int best = 0;
    for (int j = 1; j < n; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

static void lstm_step(const sn_generator *g, float *h, float *c, float *gates, const float *x,
                      const float *h_prev, const float *c_prev)
{
    int64_t H = g->settings.hidden, I = g->input_size;
    sn_lstm_cell_forward(h, c, gates, x, h_prev, c_prev,
                         sn_matrix_make(param(g, g->entry_w_ih), 4 * H, I, I),
                         sn_matrix_make(param(g, g->entry_w_hh), 4 * H, H, H),
                         param(g, g->entry_bias), 1, I, H);
}

int sn_generator_forward(sn_generator *g, const sn_space *space, double target_macs,
                         float temperature, const sn_generator_key *key, int hard,
                         float *probabilities, sn_arch *arch)
{
    int rc = check_space(g, space);
    if (rc != SN_OK)
        return rc;
    if (!(temperature > 0.0f))
        return sn_error_set(SN_ERR_ARGUMENT, "generator: temperature %g must be > 0",
                            (double)temperature);
    int64_t H = g->settings.hidden, I = g->input_size;
    float t = (float)sn_generator_normalized_target(g, target_macs);
    sn_rng_stream noise;
    sn_rng_stream_init(&noise, key->seed, SN_RNG_GUMBEL, key->step, key->item);
    memset(g->h, 0, (size_t)H * sizeof(float));
    memset(g->c, 0, (size_t)H * sizeof(float));
    for (int d = 0; d < g->dimension_count; d++) {
        int n = g->choice_count[d], off = g->choice_offset[d];
        float *x = g->x + d * I;
        build_input(g, x, t, d, d > 0 ? g->p + g->choice_offset[d - 1] : NULL);
        lstm_step(g, g->h + (d + 1) * H, g->c + (d + 1) * H, g->gates + d * 4 * H, x, g->h + d * H,
                  g->c + d * H);
        float *y = g->soft + d * SN_SPACE_MAX_CHOICES;
        head_forward(g, y, g->h + (d + 1) * H, g->kind[d], n);
        /* softmax((logits + g) / tau), max-shifted */
        float top = -INFINITY;
        for (int j = 0; j < n; j++) {
            y[j] = (y[j] + sn_rng_gumbel(&noise)) / temperature;
            top = y[j] > top ? y[j] : top;
        }
        float sum = 0.0f;
        for (int j = 0; j < n; j++)
            sum += (y[j] = expf(y[j] - top));
        for (int j = 0; j < n; j++)
            y[j] /= sum;
        int choice = argmax_of(y, n);
        for (int j = 0; j < n; j++)
            g->p[off + j] = hard ? (j == choice ? 1.0f : 0.0f) : y[j];
        if (arch != NULL)
            arch->choice[d] = choice;
    }
    for (int i = 0; i < g->choice_total; i++)
        g->p_double[i] = g->p[i];
    if (probabilities != NULL)
        memcpy(probabilities, g->p, (size_t)g->choice_total * sizeof(float));
    double range = g->macs_max - g->macs_min;
    g->macs = sn_space_soft_macs(space, g->p_double, g->rc_gradient);
    double r = (g->macs - target_macs) / range;
    g->rc_loss = r * r;
    for (int i = 0; i < g->choice_total; i++)
        g->rc_gradient[i] *= 2.0 * r / range;
    g->target_macs = target_macs;
    g->temperature = temperature;
    g->forward_done = 1;
    return SN_OK;
}

int sn_generator_backward(sn_generator *g, const float *dloss_dp, double lambda)
{
    if (!g->forward_done)
        return sn_error_set(SN_ERR_ARGUMENT, "generator: backward without a forward");
    int64_t H = g->settings.hidden, I = g->input_size, E = g->settings.embedding;
    for (int i = 0; i < g->choice_total; i++)
        g->dp[i] = (float)((dloss_dp != NULL ? dloss_dp[i] : 0.0) + lambda * g->rc_gradient[i]);
    memset(g->dh, 0, (size_t)H * sizeof(float));
    memset(g->dc, 0, (size_t)H * sizeof(float));
    sn_matrix w_ih = sn_matrix_make(param(g, g->entry_w_ih), 4 * H, I, I);
    sn_matrix w_hh = sn_matrix_make(param(g, g->entry_w_hh), 4 * H, H, H);
    sn_matrix dw_ih = sn_matrix_make(grad(g, g->entry_w_ih), 4 * H, I, I);
    sn_matrix dw_hh = sn_matrix_make(grad(g, g->entry_w_hh), 4 * H, H, H);
    float *embedding = param(g, g->entry_embedding), *dembedding = grad(g, g->entry_embedding);
    double dt = 0.0;
    /* Reverse over the decisions. On entry to step d, dh and dc hold the
     * gradient reaching h_d and c_d from step d+1, and dp[d's choices] is
     * complete (step d+1's input has already added its embedding term). */
    for (int d = g->dimension_count - 1; d >= 0; d--) {
        int n = g->choice_count[d], off = g->choice_offset[d], k = g->kind[d];
        const float *y = g->soft + d * SN_SPACE_MAX_CHOICES;
        const float *h = g->h + (d + 1) * H;
        /* Straight-through: d p / d logits is taken as the softmax Jacobian
         * (1/tau) (diag(y) - y y^T). */
        float dot = 0.0f, dlogits[SN_SPACE_MAX_CHOICES];
        for (int j = 0; j < n; j++)
            dot += g->dp[off + j] * y[j];
        for (int j = 0; j < n; j++)
            dlogits[j] = y[j] * (g->dp[off + j] - dot) / g->temperature;
        const float *w = param(g, g->entry_head_weight[k]);
        float *dw = grad(g, g->entry_head_weight[k]), *db = grad(g, g->entry_head_bias[k]);
        for (int j = 0; j < n; j++) {
            db[j] += dlogits[j];
            for (int64_t i = 0; i < H; i++) {
                dw[j * H + i] += dlogits[j] * h[i];
                g->dh[i] += dlogits[j] * w[j * H + i];
            }
        }
        /* dh_prev and dc_prev overwrite dh and dc in place (the cell reads
         * dh and dc before writing them). */
        sn_lstm_cell_backward(g->dx, g->dh, g->dc, dw_ih, dw_hh, grad(g, g->entry_bias), g->dh,
                              g->dc, g->gates + d * 4 * H, g->c + (d + 1) * H,
                              g->c + d * H, g->x + d * I, g->h + d * H, w_ih, w_hh, 1, I, H,
                              g->workspace);
        dt += g->dx[0];
        /* The input's embedding part: into the embedding rows and into the
         * previous decision's p. */
        if (d == 0) {
            for (int64_t e = 0; e < E; e++)
                dembedding[e] += g->dx[1 + e];
        } else {
            int pn = g->choice_count[d - 1], poff = g->choice_offset[d - 1], pk = g->kind[d - 1];
            for (int j = 0; j < pn; j++) {
                int64_t row = (int64_t)embedding_row(pk, j) * E;
                float pj = g->p[poff + j], s = 0.0f;
                for (int64_t e = 0; e < E; e++) {
                    dembedding[row + e] += pj * g->dx[1 + e];
                    s += embedding[row + e] * g->dx[1 + e];
                }
                g->dp[poff + j] += s;
            }
        }
    }
    g->target_input_gradient = dt;
    return SN_OK;
}

int sn_generator_argmax(sn_generator *g, const sn_space *space, double target_macs, sn_arch *arch)
{
    int rc = check_space(g, space);
    if (rc != SN_OK)
        return rc;
    int64_t H = g->settings.hidden;
    float t = (float)sn_generator_normalized_target(g, target_macs);
    float one_hot[SN_SPACE_MAX_CHOICES];
    memset(g->a_h, 0, (size_t)H * sizeof(float));
    memset(g->a_c, 0, (size_t)H * sizeof(float));
    int cur = 0;
    for (int d = 0; d < g->dimension_count; d++) {
        int n = g->choice_count[d];
        build_input(g, g->a_x, t, d, one_hot);
        lstm_step(g, g->a_h + (1 - cur) * H, g->a_c + (1 - cur) * H, g->a_gates, g->a_x,
                  g->a_h + cur * H, g->a_c + cur * H);
        cur = 1 - cur;
        head_forward(g, g->a_logits, g->a_h + cur * H, g->kind[d], n);
        int choice = argmax_of(g->a_logits, n);
        arch->choice[d] = choice;
        for (int j = 0; j < n; j++)
            one_hot[j] = j == choice ? 1.0f : 0.0f;
    }
    return SN_OK;
}
