/* Optimisers against their formulas, the schedule, clipping, the NaN/Inf guard. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/optim.h"
#include "shiftnas/tensor.h"

/* A tiny table: a 3-float weight with decay and a 2-float bias without. The
 * bias starts at offset 16, so floats 3..15 are slab padding. */
enum { WEIGHT = 3, BIAS = 2, STEPS = 3 };
static const float PADDING = 777.0f;

typedef struct {
    sn_parameter_table table;
    float *params, *grads;
    /* the same parameters in double, with per-element decay flags */
    int n;
    size_t slot[WEIGHT + BIAS];
    int decays[WEIGHT + BIAS];
    double p[WEIGHT + BIAS], m[WEIGHT + BIAS], v[WEIGHT + BIAS];
} fixture;

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    sn_parameter_table_init(&f->table);
    int64_t ws[1] = {WEIGHT}, bs[1] = {BIAS};
    ck_assert_int_eq(sn_parameter_table_add(&f->table, "w", 1, ws, 1), 0);
    ck_assert_int_eq(sn_parameter_table_add(&f->table, "b", 1, bs, 0), 1);
    ck_assert_uint_eq(f->table.entries[1].offset, 16);
    f->params = sn_alloc_floats(f->table.total);
    f->grads = sn_alloc_floats(f->table.total);
    for (size_t i = 0; i < f->table.total; i++)
        f->params[i] = f->grads[i] = PADDING;
    const double initial[WEIGHT + BIAS] = {1.5, -2.0, 0.75, 1.25, -0.5};
    f->n = WEIGHT + BIAS;
    for (int i = 0; i < f->n; i++) {
        f->slot[i] = i < WEIGHT ? (size_t)i : 16 + (size_t)(i - WEIGHT);
        f->decays[i] = i < WEIGHT;
        f->p[i] = (double)(float)initial[i];
        f->params[f->slot[i]] = (float)initial[i];
    }
}

static void fixture_free(fixture *f)
{
    sn_free(f->params);
    sn_free(f->grads);
    sn_parameter_table_free(&f->table);
}

/* Gradients that change sign and size from step to step, exact in float. */
static double gradient_at(int i, int t)
{
    static const double base[WEIGHT + BIAS] = {0.5, -0.25, 0.125, -0.375, 0.625};
    return base[i] * (t % 2 ? -1.0 : 1.0) * (1.0 + 0.5 * t);
}

/* One reference update in double, straight from the formulas in optim.h. */
static void reference_step(fixture *f, const sn_optimizer_settings *s, double lr, int t)
{
    double momentum = s->momentum, wd = s->weight_decay;
    double b1 = s->beta1, b2 = s->beta2, eps = s->epsilon;
    for (int i = 0; i < f->n; i++) {
        double g = gradient_at(i, t), decay = f->decays[i] ? wd : 0.0;
        if (s->kind == SN_OPTIMIZER_SGD) {
            g += decay * f->p[i];
            f->m[i] = momentum * f->m[i] + g;
            g = s->nesterov ? g + momentum * f->m[i] : f->m[i];
            f->p[i] -= lr * g;
        } else {
            f->p[i] *= 1.0 - lr * decay;
            f->m[i] = b1 * f->m[i] + (1.0 - b1) * g;
            f->v[i] = b2 * f->v[i] + (1.0 - b2) * g * g;
            double m_hat = f->m[i] / (1.0 - pow(b1, t + 1));
            double v_hat = f->v[i] / (1.0 - pow(b2, t + 1));
            f->p[i] -= lr * m_hat / (sqrt(v_hat) + eps);
        }
    }
}

/* Runs STEPS updates of the library and of the reference and compares after
 * each. Tolerance: 1e-6 relative; float rounding over three updates of O(1)
 * values stays below ~5e-7. Padding must never change. */
static void compare_with_reference(const sn_optimizer_settings *s, float lr)
{
    fixture f;
    fixture_init(&f);
    sn_optimizer opt;
    ck_assert_int_eq(sn_optimizer_init(&opt, s, &f.table), SN_OK);
    ck_assert_uint_eq(opt.size, f.table.total);
    ck_assert(s->kind == SN_OPTIMIZER_ADAMW ? opt.moment2 != NULL : opt.moment2 == NULL);
    for (int t = 0; t < STEPS; t++) {
        for (int i = 0; i < f.n; i++)
            f.grads[f.slot[i]] = (float)gradient_at(i, t);
        sn_optimizer_step(&opt, &f.table, f.params, f.grads, lr);
        reference_step(&f, s, (double)lr, t);
        ck_assert_int_eq(opt.updates, t + 1);
        for (int i = 0; i < f.n; i++) {
            double got = f.params[f.slot[i]], want = f.p[i];
            ck_assert_msg(fabs(got - want) <= 1e-6 * fabs(want),
                          "step %d element %d: got %.9g, want %.9g", t, i, got, want);
        }
        for (size_t i = WEIGHT; i < 16; i++) {
            ck_assert_float_eq(f.params[i], PADDING);
            ck_assert_float_eq(f.grads[i], PADDING);
        }
    }
    sn_optimizer_free(&opt);
    ck_assert_ptr_null(opt.moment1);
    fixture_free(&f);
}

START_TEST(sgd_plain_matches_formula)
{
    sn_optimizer_settings s = {.kind = SN_OPTIMIZER_SGD, .momentum = 0.0f, .nesterov = 0,
                               .weight_decay = 0.01f};
    compare_with_reference(&s, 0.1f);
}
END_TEST

START_TEST(sgd_momentum_matches_formula)
{
    sn_optimizer_settings s = {.kind = SN_OPTIMIZER_SGD, .momentum = 0.9f, .nesterov = 0,
                               .weight_decay = 0.01f};
    compare_with_reference(&s, 0.1f);
}
END_TEST

START_TEST(sgd_nesterov_matches_formula)
{
    sn_optimizer_settings s = {.kind = SN_OPTIMIZER_SGD, .momentum = 0.9f, .nesterov = 1,
                               .weight_decay = 0.01f};
    compare_with_reference(&s, 0.1f);
}
END_TEST

START_TEST(adamw_matches_formula)
{
    sn_optimizer_settings s = {.kind = SN_OPTIMIZER_ADAMW, .beta1 = 0.9f, .beta2 = 0.999f,
                               .epsilon = 1e-8f, .weight_decay = 0.1f};
    compare_with_reference(&s, 0.01f);
}
END_TEST

/* f(p) = sum a_i (p_i - c_i)^2 / 2 from p = 0, with the cosine schedule
 * decaying to 0 so that AdamW settles: the loss must fall by 1e6. */
START_TEST(adamw_minimises_a_quadratic)
{
    sn_parameter_table table;
    sn_parameter_table_init(&table);
    int64_t shape[1] = {6};
    ck_assert_int_ge(sn_parameter_table_add(&table, "x", 1, shape, 0), 0);
    const float a[6] = {1.0f, 4.0f, 0.5f, 10.0f, 2.0f, 0.25f};
    const float c[6] = {1.0f, -2.0f, 0.5f, 3.0f, -0.75f, 1.5f};
    float *p = sn_alloc_floats(table.total), *g = sn_alloc_floats(table.total);
    sn_optimizer_settings s = {.kind = SN_OPTIMIZER_ADAMW, .beta1 = 0.9f, .beta2 = 0.999f,
                               .epsilon = 1e-8f, .weight_decay = 0.05f};
    sn_optimizer opt;
    ck_assert_int_eq(sn_optimizer_init(&opt, &s, &table), SN_OK);
    double initial = 0.0, loss = 0.0;
    for (int i = 0; i < 6; i++)
        initial += 0.5 * a[i] * c[i] * c[i];
    const int total = 2000;
    for (int step = 0; step < total; step++) {
        for (int i = 0; i < 6; i++)
            g[i] = a[i] * (p[i] - c[i]);
        sn_optimizer_step(&opt, &table, p, g, sn_learning_rate(step, total, 50, 0.05f, 0.0f));
    }
    for (int i = 0; i < 6; i++)
        loss += 0.5 * a[i] * (p[i] - c[i]) * (p[i] - c[i]);
    ck_assert_msg(loss < 1e-6 * initial, "loss %g from %g", loss, initial);
    sn_optimizer_free(&opt);
    sn_free(p);
    sn_free(g);
    sn_parameter_table_free(&table);
}
END_TEST

/* With zero gradients only weight decay moves parameters: decay entries
 * shrink by the documented factor, no-decay entries stay bit for bit. */
START_TEST(no_decay_entries_are_not_decayed)
{
    for (int kind = SN_OPTIMIZER_SGD; kind <= SN_OPTIMIZER_ADAMW; kind++) {
        fixture f;
        fixture_init(&f);
        for (int i = 0; i < f.n; i++)
            f.grads[f.slot[i]] = 0.0f;
        sn_optimizer_settings s = {.kind = (sn_optimizer_kind)kind, .momentum = 0.0f,
                                   .beta1 = 0.9f, .beta2 = 0.999f, .epsilon = 1e-8f,
                                   .weight_decay = 0.5f};
        sn_optimizer opt;
        ck_assert_int_eq(sn_optimizer_init(&opt, &s, &f.table), SN_OK);
        sn_optimizer_step(&opt, &f.table, f.params, f.grads, 0.1f);
        for (int i = 0; i < f.n; i++) {
            float got = f.params[f.slot[i]], before = (float)f.p[i];
            if (f.decays[i])
                /* both optimisers: p - lr*wd*p = 0.95 p (float rounding only) */
                ck_assert_float_eq_tol(got, 0.95f * before, 1e-6f * fabsf(before));
            else
                ck_assert_float_eq(got, before);
        }
        sn_optimizer_free(&opt);
        fixture_free(&f);
    }
}
END_TEST

START_TEST(optimizer_rejects_bad_settings)
{
    fixture f;
    fixture_init(&f);
    sn_optimizer opt;
    sn_optimizer_settings sgd = {.kind = SN_OPTIMIZER_SGD, .momentum = 1.0f};
    ck_assert_int_eq(sn_optimizer_init(&opt, &sgd, &f.table), SN_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "momentum"));
    sn_optimizer_settings adam = {.kind = SN_OPTIMIZER_ADAMW, .beta1 = 0.9f, .beta2 = 0.999f,
                                  .epsilon = 0.0f};
    ck_assert_int_eq(sn_optimizer_init(&opt, &adam, &f.table), SN_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "epsilon"));
    sn_optimizer_settings decay = {.kind = SN_OPTIMIZER_SGD, .weight_decay = -1.0f};
    ck_assert_int_eq(sn_optimizer_init(&opt, &decay, &f.table), SN_ERR_ARGUMENT);
    fixture_free(&f);
}
END_TEST

/* W = 10 warm-up steps, T = 110 total, base 1, min 0.1. Tolerance 1e-6
 * absolute: the schedule is computed in double and rounded to float. */
START_TEST(schedule_warms_up_then_decays_to_the_minimum)
{
    const float base = 1.0f, min = 0.1f;
    ck_assert_float_eq_tol(sn_learning_rate(0, 110, 10, base, min), 0.1f, 1e-6f);
    ck_assert_float_gt(sn_learning_rate(0, 110, 10, base, min), 0.0f);
    ck_assert_float_eq_tol(sn_learning_rate(4, 110, 10, base, min), 0.5f, 1e-6f);
    ck_assert_float_eq(sn_learning_rate(9, 110, 10, base, min), base);   /* end of warm-up */
    ck_assert_float_eq(sn_learning_rate(10, 110, 10, base, min), base);  /* cosine starts */
    ck_assert_float_eq_tol(sn_learning_rate(60, 110, 10, base, min), 0.55f, 1e-6f); /* middle */
    /* a quarter of the way: cos(pi/4) = sqrt(1/2) */
    ck_assert_float_eq_tol(sn_learning_rate(35, 110, 10, base, min),
                           (float)(0.1 + 0.9 * 0.5 * (1.0 + sqrt(0.5))), 1e-6f);
    ck_assert_float_gt(sn_learning_rate(109, 110, 10, base, min), min);
    ck_assert_float_eq(sn_learning_rate(110, 110, 10, base, min), min);  /* end */
    ck_assert_float_eq(sn_learning_rate(5000, 110, 10, base, min), min); /* beyond */
    ck_assert_float_eq(sn_learning_rate(0, 100, 0, base, min), base);    /* no warm-up */
    ck_assert_float_eq_tol(sn_learning_rate(-3, 110, 10, base, min), 0.1f, 1e-6f);
    /* monotone: up during warm-up, down after */
    for (int step = 1; step < 120; step++) {
        float prev = sn_learning_rate(step - 1, 110, 10, base, min);
        float cur = sn_learning_rate(step, 110, 10, base, min);
        if (step < 10)
            ck_assert_float_gt(cur, prev);
        else
            ck_assert_float_le(cur, prev);
    }
}
END_TEST

static void tiny_table(sn_parameter_table *table)
{
    sn_parameter_table_init(table);
    int64_t ws[1] = {3}, bs[1] = {2};
    ck_assert_int_ge(sn_parameter_table_add(table, "w", 1, ws, 1), 0);
    ck_assert_int_ge(sn_parameter_table_add(table, "b", 1, bs, 0), 0);
}

/* Gradients 3,4,0 | 12,0 have norm 13; clipping to 6.5 halves them and the
 * new norm is 6.5 within float rounding (1e-6 relative). Padding (NaN here)
 * is neither read nor written. */
START_TEST(clip_by_norm_gives_the_max_norm)
{
    sn_parameter_table table;
    tiny_table(&table);
    float *g = sn_alloc_floats(table.total);
    for (size_t i = 0; i < table.total; i++)
        g[i] = NAN;
    const float values[5] = {3, 4, 0, 12, 0};
    const size_t slots[5] = {0, 1, 2, 16, 17};
    for (int i = 0; i < 5; i++)
        g[slots[i]] = values[i];
    double norm = sn_gradient_norm(&table, g);
    ck_assert_double_eq(norm, 13.0);
    ck_assert_float_eq(sn_clip_by_norm(&table, g, norm, 20.0f), 1.0f);
    ck_assert_float_eq(g[16], 12.0f);
    ck_assert_float_eq(sn_clip_by_norm(&table, g, norm, 0.0f), 1.0f); /* 0 = off */
    ck_assert_float_eq(sn_clip_by_norm(&table, g, INFINITY, 1.0f), 1.0f);
    ck_assert_float_eq(g[16], 12.0f);
    ck_assert_float_eq(sn_clip_by_norm(&table, g, norm, 6.5f), 0.5f);
    ck_assert_double_eq_tol(sn_gradient_norm(&table, g), 6.5, 6.5e-6);
    ck_assert_float_eq(g[0], 1.5f);
    ck_assert_float_eq(g[16], 6.0f);
    const float awkward = 0.3f;
    double norm2 = sn_gradient_norm(&table, g);
    sn_clip_by_norm(&table, g, norm2, awkward);
    ck_assert_double_eq_tol(sn_gradient_norm(&table, g), awkward, 1e-6 * awkward);
    for (size_t i = 3; i < 16; i++)
        ck_assert(isnan(g[i]));
    sn_free(g);
    sn_parameter_table_free(&table);
}
END_TEST

START_TEST(clip_by_value_clamps_each_element)
{
    sn_parameter_table table;
    tiny_table(&table);
    float *g = sn_alloc_floats(table.total);
    for (size_t i = 0; i < table.total; i++)
        g[i] = 100.0f;
    const float values[5] = {-3.0f, 0.25f, 2.0f, 0.5f, -0.5f};
    const float clamped[5] = {-1.0f, 0.25f, 1.0f, 0.5f, -0.5f};
    const size_t slots[5] = {0, 1, 2, 16, 17};
    for (int i = 0; i < 5; i++)
        g[slots[i]] = values[i];
    sn_clip_by_value(&table, g, 0.0f); /* 0 = off */
    for (int i = 0; i < 5; i++)
        ck_assert_float_eq(g[slots[i]], values[i]);
    sn_clip_by_value(&table, g, 1.0f);
    for (int i = 0; i < 5; i++)
        ck_assert_float_eq(g[slots[i]], clamped[i]);
    for (size_t i = 3; i < 16; i++)
        ck_assert_float_eq(g[i], 100.0f); /* padding untouched */
    sn_free(g);
    sn_parameter_table_free(&table);
}
END_TEST

START_TEST(first_non_finite_finds_nan_and_inf)
{
    float v[8] = {0.0f, 1.0f, -2.0f, 3.0e38f, -3.0e38f, 1e-45f, 5.0f, 6.0f};
    ck_assert_int_eq(sn_first_non_finite(v, 8), -1);
    ck_assert_int_eq(sn_first_non_finite(v, 0), -1);
    v[6] = NAN;
    ck_assert_int_eq(sn_first_non_finite(v, 8), 6);
    ck_assert_int_eq(sn_first_non_finite(v, 6), -1);
    v[3] = INFINITY;
    ck_assert_int_eq(sn_first_non_finite(v, 8), 3);
    v[1] = -INFINITY;
    ck_assert_int_eq(sn_first_non_finite(v, 8), 1);
    v[0] = -NAN;
    ck_assert_int_eq(sn_first_non_finite(v, 8), 0);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("optim");
    TCase *optimizers = tcase_create("optimizers");
    tcase_add_test(optimizers, sgd_plain_matches_formula);
    tcase_add_test(optimizers, sgd_momentum_matches_formula);
    tcase_add_test(optimizers, sgd_nesterov_matches_formula);
    tcase_add_test(optimizers, adamw_matches_formula);
    tcase_add_test(optimizers, adamw_minimises_a_quadratic);
    tcase_add_test(optimizers, no_decay_entries_are_not_decayed);
    tcase_add_test(optimizers, optimizer_rejects_bad_settings);
    suite_add_tcase(suite, optimizers);
    TCase *schedule = tcase_create("schedule");
    tcase_add_test(schedule, schedule_warms_up_then_decays_to_the_minimum);
    suite_add_tcase(suite, schedule);
    TCase *gradients = tcase_create("gradients");
    tcase_add_test(gradients, clip_by_norm_gives_the_max_norm);
    tcase_add_test(gradients, clip_by_value_clamps_each_element);
    tcase_add_test(gradients, first_non_finite_finds_nan_and_inf);
    suite_add_tcase(suite, gradients);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
