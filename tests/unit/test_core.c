/* Core: Philox known answers, stream keying, draws' ranges, strided GEMM,
 * numbers as text. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/format.h"
#include "shiftnas/rng.h"
#include "shiftnas/tensor.h"

/* Known-answer vectors of Philox4x32-10 from Random123's kat_vectors. */
/* A message that wraps the previous one (the common "context: %s" with
 * sn_error_message()) keeps it whole. */
START_TEST(error_message_can_wrap_the_previous_one)
{
    ck_assert_int_eq(sn_error_set(SN_ERR_FORMAT, "architecture text '%s' is bad", "x"),
                     SN_ERR_FORMAT);
    ck_assert_int_eq(sn_error_set(SN_ERR_ARGUMENT, "--arch: %s", sn_error_message()),
                     SN_ERR_ARGUMENT);
    ck_assert_str_eq(sn_error_message(), "--arch: architecture text 'x' is bad");
}
END_TEST

START_TEST(philox_known_answers)
{
    const uint32_t zero_counter[4] = {0, 0, 0, 0}, zero_key[2] = {0, 0};
    const uint32_t ones_counter[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    const uint32_t ones_key[2] = {0xffffffffu, 0xffffffffu};
    const uint32_t pi_counter[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    const uint32_t pi_key[2] = {0xa4093822u, 0x299f31d0u};
    const uint32_t expect_zero[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
    const uint32_t expect_ones[4] = {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu};
    const uint32_t expect_pi[4] = {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u};
    uint32_t out[4];
    sn_philox4x32_10(zero_counter, zero_key, out);
    ck_assert_mem_eq(out, expect_zero, sizeof out);
    sn_philox4x32_10(ones_counter, ones_key, out);
    ck_assert_mem_eq(out, expect_ones, sizeof out);
    sn_philox4x32_10(pi_counter, pi_key, out);
    ck_assert_mem_eq(out, expect_pi, sizeof out);
}
END_TEST

/* A draw depends on its key only: re-creating a stream repeats it, and each
 * key component changes it. */
START_TEST(stream_is_a_function_of_its_key)
{
    sn_rng_stream a, b;
    uint32_t first[8];
    sn_rng_stream_init(&a, 42, SN_RNG_TEST, 7, 3);
    for (int i = 0; i < 8; i++)
        first[i] = sn_rng_next_u32(&a);
    sn_rng_stream_init(&b, 42, SN_RNG_TEST, 7, 3);
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(sn_rng_next_u32(&b), first[i]);
    const uint64_t seeds[] = {43, 42, 42, 42};
    const uint32_t purposes[] = {SN_RNG_TEST, SN_RNG_SHUFFLE, SN_RNG_TEST, SN_RNG_TEST};
    const uint64_t steps[] = {7, 7, 8, 7};
    const uint32_t items[] = {3, 3, 3, 4};
    for (int v = 0; v < 4; v++) {
        sn_rng_stream_init(&b, seeds[v], purposes[v], steps[v], items[v]);
        ck_assert_uint_ne(sn_rng_next_u32(&b), first[0]);
    }
    /* step bits above 32 reach the counter too */
    sn_rng_stream_init(&b, 42, SN_RNG_TEST, 7 + (1ull << 40), 3);
    ck_assert_uint_ne(sn_rng_next_u32(&b), first[0]);
}
END_TEST

START_TEST(draws_have_their_ranges_and_moments)
{
    sn_rng_stream s;
    sn_rng_stream_init(&s, 1, SN_RNG_TEST, 0, 0);
    const int n = 200000;
    double sum = 0, sum_sq = 0, gumbel_sum = 0;
    int below_counts[5] = {0};
    for (int i = 0; i < n; i++) {
        float u = sn_rng_uniform(&s);
        ck_assert(u >= 0.0f && u < 1.0f);
        float o = sn_rng_uniform_open(&s);
        ck_assert(o > 0.0f && o < 1.0f);
        float z = sn_rng_normal(&s);
        sum += z;
        sum_sq += (double)z * z;
        gumbel_sum += sn_rng_gumbel(&s);
        below_counts[sn_rng_below(&s, 5)]++;
    }
    /* N(0,1): mean within 5 standard errors, variance within 2%. */
    ck_assert_double_lt(fabs(sum / n), 5.0 / sqrt(n));
    ck_assert_double_lt(fabs(sum_sq / n - 1.0), 0.02);
    /* Gumbel mean is the Euler-Mascheroni constant 0.5772 (sd 1.28). */
    ck_assert_double_lt(fabs(gumbel_sum / n - 0.5772156649), 5.0 * 1.2825 / sqrt(n));
    for (int b = 0; b < 5; b++)
        ck_assert_double_lt(fabs(below_counts[b] / (double)n - 0.2), 0.005);
}
END_TEST

START_TEST(permutation_is_a_permutation)
{
    enum { N = 1000 };
    uint32_t order[N];
    int seen[N] = {0};
    sn_rng_stream s;
    sn_rng_stream_init(&s, 9, SN_RNG_TEST, 0, 0);
    sn_rng_permutation(&s, order, N);
    int fixed_points = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_uint_lt(order[i], N);
        seen[order[i]]++;
        fixed_points += order[i] == (uint32_t)i;
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_int_lt(fixed_points, 10); /* expected 1 */
}
END_TEST

/* C = A * B for sub-blocks of larger row-major matrices and transposed views,
 * against a naive triple loop. */
START_TEST(gemm_on_strided_views)
{
    enum { BIG = 9 };
    float a[BIG * BIG], b[BIG * BIG], c[BIG * BIG], expect[BIG * BIG];
    sn_rng_stream s;
    sn_rng_stream_init(&s, 5, SN_RNG_TEST, 0, 0);
    for (int i = 0; i < BIG * BIG; i++) {
        a[i] = sn_rng_normal(&s);
        b[i] = sn_rng_normal(&s);
        c[i] = sn_rng_normal(&s);
    }
    memcpy(expect, c, sizeof c);
    const int m = 4, k = 5, n = 3;
    /* a block: rows 4 x cols 5 of a (row stride 9); b used transposed: the
     * (n x k) block of b seen as (k x n). */
    sn_matrix av = sn_matrix_make(a, m, k, BIG);
    sn_matrix bv = sn_matrix_transpose(sn_matrix_make(b, n, k, BIG));
    sn_matrix cv = sn_matrix_make(c, m, n, BIG);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double acc = 0;
            for (int p = 0; p < k; p++)
                acc += (double)a[i * BIG + p] * b[j * BIG + p];
            expect[i * BIG + j] = (float)(2.0 * acc + 0.5 * expect[i * BIG + j]);
        }
    sn_gemm(2.0f, av, bv, 0.5f, cv);
    for (int i = 0; i < BIG * BIG; i++)
        ck_assert_float_eq_tol(c[i], expect[i], 1e-4f);
}
END_TEST

START_TEST(gemm_beta_zero_ignores_nan)
{
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1}, c[4] = {NAN, NAN, NAN, NAN};
    sn_gemm(1.0f, sn_matrix_make(a, 2, 2, 2), sn_matrix_make(b, 2, 2, 2), 0.0f,
            sn_matrix_make(c, 2, 2, 2));
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(c[i], a[i]);
}
END_TEST

START_TEST(parameter_table_aligns_and_rejects_duplicates)
{
    sn_parameter_table t;
    sn_parameter_table_init(&t);
    int64_t s1[2] = {3, 5}, s2[1] = {7};
    ck_assert_int_eq(sn_parameter_table_add(&t, "a.weight", 2, s1, 1), 0);
    ck_assert_int_eq(sn_parameter_table_add(&t, "a.bias", 1, s2, 0), 1);
    ck_assert_uint_eq(t.entries[0].count, 15);
    ck_assert_uint_eq(t.entries[1].offset % 16, 0);
    ck_assert_uint_ge(t.entries[1].offset, 15);
    ck_assert_uint_eq(t.total, t.entries[1].offset + 7);
    ck_assert_int_eq(sn_parameter_table_find(&t, "a.bias"), 1);
    ck_assert_int_eq(sn_parameter_table_find(&t, "b"), -1);
    ck_assert_int_lt(sn_parameter_table_add(&t, "a.bias", 1, s2, 0), 0);
    int64_t bad[1] = {0};
    ck_assert_int_lt(sn_parameter_table_add(&t, "zero", 1, bad, 0), 0);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "zero"));
    sn_parameter_table_free(&t);
}
END_TEST

/* The shortest text that reads back exactly; MACs as --targets takes them
 * (the digits report.md and the search's table have). */
START_TEST(numbers_as_text)
{
    char text[32];
    const struct {
        double x;
        const char *want;
    } numbers[] = {{0.002, "0.002"}, {3600, "3600"}, {-4, "-4"}, {0.1, "0.1"}, {3.5, "3.5"},
                   {1e-8, "1e-08"}, {1.0 / 3, "0.3333333333333333"}, {2e15, "2e+15"}};
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        sn_format_number(text, sizeof text, numbers[i].x);
        ck_assert_str_eq(text, numbers[i].want);
        ck_assert(strtod(text, NULL) == numbers[i].x);
    }
    const struct {
        double macs;
        const char *want;
    } macs[] = {{999, "999"},         {802368, "802.4k"}, {2000000, "2M"},
                {2384512, "2.385M"}, {2.5e6, "2.5M"},    {1.2e9, "1.2G"}};
    for (size_t i = 0; i < sizeof macs / sizeof *macs; i++) {
        sn_format_macs(text, sizeof text, macs[i].macs);
        ck_assert_str_eq(text, macs[i].want);
    }
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("core");
    TCase *rng = tcase_create("rng");
    tcase_add_test(rng, philox_known_answers);
    tcase_add_test(rng, error_message_can_wrap_the_previous_one);
    tcase_add_test(rng, stream_is_a_function_of_its_key);
    tcase_add_test(rng, draws_have_their_ranges_and_moments);
    tcase_add_test(rng, permutation_is_a_permutation);
    suite_add_tcase(suite, rng);
    TCase *tensor = tcase_create("tensor");
    tcase_add_test(tensor, gemm_on_strided_views);
    tcase_add_test(tensor, gemm_beta_zero_ignores_nan);
    tcase_add_test(tensor, parameter_table_aligns_and_rejects_duplicates);
    suite_add_tcase(suite, tensor);
    TCase *format = tcase_create("format");
    tcase_add_test(format, numbers_as_text);
    suite_add_tcase(suite, format);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
