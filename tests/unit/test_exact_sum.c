/* The order-independent float sum: bitwise the same result for every order
 * and grouping of shards (including simulated ranks that combine exactly as
 * the MPI layer does), the documented accuracy, exact cases, NaN/Inf
 * reporting and int64 headroom at SN_EXACT_SUM_MAX_TERMS terms. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/exact_sum.h"
#include "shiftnas/rng.h"

enum { SHARDS = 8, ENTRIES = 4096, PROFILES = 8 };

static float float_from_bits(uint32_t bits)
{
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

static uint32_t bits_of(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

/* Random sign, biased exponent uniform in [low, high], random mantissa. */
static float random_float(sn_rng_stream *s, uint32_t low, uint32_t high)
{
    uint32_t sign = sn_rng_next_u32(s) & 0x80000000u;
    uint32_t biased = low + sn_rng_below(s, high - low + 1);
    uint32_t mantissa = sn_rng_next_u32(s) & 0x7FFFFFu;
    return float_from_bits(sign | biased << 23 | mantissa);
}

/* shards[k][i], k < SHARDS: entry i follows profile i % PROFILES, so that every
 * block of entries mixes all the hard cases. */
static void fill_shards(float *shards[SHARDS], int64_t n, uint64_t seed)
{
    sn_rng_stream s;
    sn_rng_stream_init(&s, seed, SN_RNG_TEST, 0, 0);
    for (int64_t i = 0; i < n; i++) {
        float v[SHARDS];
        uint32_t center = 25 + sn_rng_below(&s, 200); /* center +- 20 stays in 5..244 */
        switch (i % PROFILES) {
        case 0: /* the whole range: subnormals to FLT_MAX (may overflow to Inf) */
            for (int k = 0; k < SHARDS; k++)
                v[k] = random_float(&s, 0, 254);
            break;
        case 1: /* a narrow range: every bit matters */
            for (int k = 0; k < SHARDS; k++)
                v[k] = random_float(&s, center - 5, center + 5);
            break;
        case 2: /* subnormals and the smallest normals */
            for (int k = 0; k < SHARDS; k++)
                v[k] = random_float(&s, 0, 3);
            break;
        case 3: /* huge next to tiny */
            for (int k = 0; k < SHARDS; k++) {
                float scale = (sn_rng_next_u32(&s) & 1) ? 1e30f : 1e-30f;
                float sign = (sn_rng_next_u32(&s) & 1) ? -1.0f : 1.0f;
                v[k] = sign * scale * (1.0f + sn_rng_uniform(&s));
            }
            break;
        case 4: /* zeros of both signs; every other such entry is all zeros */
            for (int k = 0; k < SHARDS; k++) {
                int zero = (i / PROFILES) % 2 == 0 || (sn_rng_next_u32(&s) & 1);
                v[k] = zero ? ((sn_rng_next_u32(&s) & 1) ? -0.0f : 0.0f)
                            : random_float(&s, center - 20, center + 20);
            }
            break;
        case 5: { /* exact cancellation: shards 4..7 negate a permutation of 0..3 */
            uint32_t order[SHARDS / 2];
            sn_rng_permutation(&s, order, SHARDS / 2);
            for (int k = 0; k < SHARDS / 2; k++)
                v[k] = random_float(&s, 0, 254);
            for (int k = 0; k < SHARDS / 2; k++)
                v[SHARDS / 2 + k] = -v[order[k]];
            break;
        }
        case 6: /* near overflow */
            for (int k = 0; k < SHARDS; k++)
                v[k] = random_float(&s, 250, 254);
            break;
        default: /* a per-shard mix of everything above */
            for (int k = 0; k < SHARDS; k++) {
                uint32_t what = sn_rng_below(&s, 4);
                v[k] = what == 0 ? 0.0f
                     : what == 1 ? random_float(&s, 0, 254)
                     : what == 2 ? random_float(&s, center - 5, center + 5)
                                 : random_float(&s, 0, 2);
            }
            break;
        }
        for (int k = 0; k < SHARDS; k++)
            shards[k][i] = v[k];
    }
}

/* Adds shard[0..n) to acc in a few pieces at random cut points, so that the
 * begin argument is exercised as well. */
static void add_in_pieces(sn_exact_sum *acc, const float *shard, int64_t n, sn_rng_stream *s)
{
    int64_t begin = 0;
    while (begin < n) {
        int64_t length = 1 + sn_rng_below(s, (uint32_t)(n - begin));
        ck_assert_int_eq(sn_exact_sum_add(acc, begin, shard + begin, length), -1);
        begin += length;
    }
}

/* The MPI layer simulated: rank_of[k] owns shard k; each rank adds its shards
 * in a random order into its own accumulator; then MAX of tops, pack at the
 * global tops, integer SUM of packed, unpack. */
static void reduce_by_ranks(float *shards[SHARDS], int64_t n, const int *rank_of, int ranks,
                            sn_rng_stream *s, float *out)
{
    sn_exact_sum *acc = calloc((size_t)ranks, sizeof *acc);
    int8_t *tops = malloc((size_t)n), *global = malloc((size_t)n);
    int64_t *packed = malloc((size_t)n * sizeof *packed), *total = calloc((size_t)n, sizeof *total);
    ck_assert(acc && tops && global && packed && total);
    memset(global, -1, (size_t)n);
    for (int r = 0; r < ranks; r++) {
        ck_assert_int_eq(sn_exact_sum_init(&acc[r], n), SN_OK);
        uint32_t order[SHARDS];
        sn_rng_permutation(s, order, SHARDS);
        for (int k = 0; k < SHARDS; k++)
            if (rank_of[order[k]] == r)
                add_in_pieces(&acc[r], shards[order[k]], n, s);
        sn_exact_sum_tops(&acc[r], 0, n, tops);
        for (int64_t i = 0; i < n; i++)
            global[i] = tops[i] > global[i] ? tops[i] : global[i];
    }
    for (int r = 0; r < ranks; r++) {
        sn_exact_sum_pack(&acc[r], 0, n, global, packed);
        for (int64_t i = 0; i < n; i++)
            total[i] += packed[i];
        sn_exact_sum_free(&acc[r]);
    }
    sn_exact_sum_unpack(global, total, n, out);
    free(acc);
    free(tops);
    free(global);
    free(packed);
    free(total);
}

/* One accumulator, shards added in the given order. */
static void sum_in_order(float *shards[SHARDS], int64_t n, const uint32_t *order, float *out)
{
    sn_exact_sum acc;
    ck_assert_int_eq(sn_exact_sum_init(&acc, n), SN_OK);
    for (int k = 0; k < SHARDS; k++)
        ck_assert_int_eq(sn_exact_sum_add(&acc, 0, shards[order[k]], n), -1);
    sn_exact_sum_result(&acc, 0, n, out);
    sn_exact_sum_free(&acc);
}

START_TEST(same_bits_for_every_order_and_rank_count)
{
    float *shards[SHARDS];
    for (int k = 0; k < SHARDS; k++)
        ck_assert_ptr_nonnull(shards[k] = malloc(ENTRIES * sizeof(float)));
    fill_shards(shards, ENTRIES, 11);
    float *expected = malloc(ENTRIES * sizeof(float)), *got = malloc(ENTRIES * sizeof(float));
    ck_assert(expected && got);

    uint32_t forward[SHARDS], reverse[SHARDS];
    for (int k = 0; k < SHARDS; k++) {
        forward[k] = (uint32_t)k;
        reverse[k] = (uint32_t)(SHARDS - 1 - k);
    }
    sum_in_order(shards, ENTRIES, forward, expected);

    sum_in_order(shards, ENTRIES, reverse, got);
    ck_assert_mem_eq(got, expected, ENTRIES * sizeof(float));
    sn_rng_stream s;
    sn_rng_stream_init(&s, 12, SN_RNG_TEST, 0, 0);
    for (int trial = 0; trial < 4; trial++) {
        uint32_t order[SHARDS];
        sn_rng_permutation(&s, order, SHARDS);
        sum_in_order(shards, ENTRIES, order, got);
        ck_assert_mem_eq(got, expected, ENTRIES * sizeof(float));
    }

    /* 1 rank through pack/unpack; 2, 3, 4 ranks with blocks, round robin and
     * random owners; 9 ranks: at least one owns nothing. */
    const int rank_counts[] = {1, 2, 3, 4, 9};
    for (size_t c = 0; c < sizeof rank_counts / sizeof rank_counts[0]; c++) {
        int ranks = rank_counts[c];
        for (int layout = 0; layout < 3; layout++) {
            int rank_of[SHARDS];
            for (int k = 0; k < SHARDS; k++)
                rank_of[k] = layout == 0 ? k * ranks / SHARDS
                           : layout == 1 ? k % ranks
                                         : (int)sn_rng_below(&s, (uint32_t)ranks);
            reduce_by_ranks(shards, ENTRIES, rank_of, ranks, &s, got);
            ck_assert_mem_eq(got, expected, ENTRIES * sizeof(float));
        }
    }

    /* The cases with a known answer: cancellations and all-zero entries give +0. */
    for (int64_t i = 0; i < ENTRIES; i++) {
        if (i % PROFILES == 5 || (i % PROFILES == 4 && (i / PROFILES) % 2 == 0))
            ck_assert_uint_eq(bits_of(expected[i]), 0);
    }
    for (int k = 0; k < SHARDS; k++)
        free(shards[k]);
    free(expected);
    free(got);
}
END_TEST

/* |result - exact| <= n*2^-32*max|x|   (bits dropped below the window)
 *                   + 2^-24*(|exact| + that)   (the one rounding: half an ulp)
 *                   + 2^-150          (half the subnormal quantum)
 *                   + n*2^-63*sum|x|  (the long double reference's own error:
 *                                      n roundings of at most 2^-64 relative). */
static void assert_within_bound(float result, const float *terms, int n)
{
    long double exact = 0, max_abs = 0, sum_abs = 0;
    for (int k = 0; k < n; k++) {
        exact += terms[k];
        max_abs = fmaxl(max_abs, fabsl(terms[k]));
        sum_abs += fabsl(terms[k]);
    }
    long double dropped = n * ldexpl(max_abs, -32);
    long double bound = dropped + ldexpl(fabsl(exact) + dropped, -24) + ldexpl(1.0L, -150)
                      + n * ldexpl(sum_abs, -63);
    ck_assert_msg(fabsl((long double)result - exact) <= bound,
                  "result %.9g, exact %.21Lg, bound %.3Lg", result, exact, bound);
}

START_TEST(error_below_n_times_2_pow_minus_32_of_the_largest_term)
{
    float *shards[SHARDS];
    for (int k = 0; k < SHARDS; k++)
        ck_assert_ptr_nonnull(shards[k] = malloc(ENTRIES * sizeof(float)));
    fill_shards(shards, ENTRIES, 21);
    float *result = malloc(ENTRIES * sizeof(float));
    ck_assert_ptr_nonnull(result);
    uint32_t forward[SHARDS];
    for (int k = 0; k < SHARDS; k++)
        forward[k] = (uint32_t)k;
    sum_in_order(shards, ENTRIES, forward, result);
    for (int64_t i = 0; i < ENTRIES; i++) {
        if (i % PROFILES == 0 || i % PROFILES == 6 || i % PROFILES == 7)
            continue; /* these may overflow float: no finite exact value to compare */
        float terms[SHARDS];
        for (int k = 0; k < SHARDS; k++)
            terms[k] = shards[k][i];
        assert_within_bound(result[i], terms, SHARDS);
    }

    /* Many terms over 40 binades: truncation is what the bound covers. */
    enum { MANY = 1000 };
    static float terms[MANY];
    sn_rng_stream s;
    sn_rng_stream_init(&s, 22, SN_RNG_TEST, 0, 0);
    sn_exact_sum acc;
    ck_assert_int_eq(sn_exact_sum_init(&acc, 1), SN_OK);
    for (int trial = 0; trial < 20; trial++) {
        sn_exact_sum_clear(&acc, 0, 1);
        uint32_t center = 30 + sn_rng_below(&s, 180);
        for (int k = 0; k < MANY; k++) {
            terms[k] = random_float(&s, center - 20, center + 20);
            ck_assert_int_eq(sn_exact_sum_add(&acc, 0, &terms[k], 1), -1);
        }
        float r;
        sn_exact_sum_result(&acc, 0, 1, &r);
        assert_within_bound(r, terms, MANY);
    }
    sn_exact_sum_free(&acc);
    for (int k = 0; k < SHARDS; k++)
        free(shards[k]);
    free(result);
}
END_TEST

static float sum_of(const float *terms, int n)
{
    sn_exact_sum acc;
    ck_assert_int_eq(sn_exact_sum_init(&acc, 1), SN_OK);
    for (int k = 0; k < n; k++)
        ck_assert_int_eq(sn_exact_sum_add(&acc, 0, &terms[k], 1), -1);
    float r;
    sn_exact_sum_result(&acc, 0, 1, &r);
    sn_exact_sum_free(&acc);
    return r;
}

START_TEST(representable_sums_are_exact)
{
    const float a[] = {1.0f, 0x1p-20f, 0x1p-23f};
    ck_assert_uint_eq(bits_of(sum_of(a, 3)), bits_of(1.0f + 0x1p-20f + 0x1p-23f));
    const float b[] = {0x1p-23f, 0x1p-20f, 1.0f, -0.5f};
    ck_assert_uint_eq(bits_of(sum_of(b, 4)), bits_of(0.5f + 0x1p-20f + 0x1p-23f));
    const float c[] = {FLT_TRUE_MIN, FLT_TRUE_MIN, FLT_TRUE_MIN};
    ck_assert_uint_eq(bits_of(sum_of(c, 3)), bits_of(3 * FLT_TRUE_MIN));
    const float d[] = {FLT_MIN, -FLT_TRUE_MIN};
    ck_assert_uint_eq(bits_of(sum_of(d, 2)), 0x007FFFFFu); /* largest subnormal */
    const float e[] = {FLT_MAX, -FLT_MAX, FLT_MAX};
    ck_assert_uint_eq(bits_of(sum_of(e, 3)), bits_of(FLT_MAX));
    const float f[] = {FLT_MAX, FLT_MAX};
    ck_assert(isinf(sum_of(f, 2)) && sum_of(f, 2) > 0); /* overflow rounds to Inf */

    sn_rng_stream s;
    sn_rng_stream_init(&s, 31, SN_RNG_TEST, 0, 0);
    for (int trial = 0; trial < 20000; trial++) {
        /* A single term comes back bitwise (+0 for -0). */
        float x = random_float(&s, 0, 254);
        ck_assert_uint_eq(bits_of(sum_of(&x, 1)), bits_of(x));
        /* x + (-x) is +0, with other terms between in any order. */
        float y = random_float(&s, 0, 254);
        const float pair[] = {x, y, -x, -y};
        ck_assert_uint_eq(bits_of(sum_of(pair, 4)), 0);
    }
    const float specials[] = {FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, FLT_TRUE_MIN,
                              -FLT_TRUE_MIN, 1.0f, -1.0f, 0x1.fffffcp-127f};
    for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++)
        ck_assert_uint_eq(bits_of(sum_of(&specials[k], 1)), bits_of(specials[k]));
    const float zero[] = {-0.0f};
    ck_assert_uint_eq(bits_of(sum_of(zero, 1)), 0);
}
END_TEST

/* When every bit of every term is within 32 positions of the top bit of the
 * largest, nothing is dropped: the result is the correctly rounded sum. The
 * long double reference is exact here (all terms are multiples of one power
 * of two and the sum needs fewer than 64 bits). */
START_TEST(correctly_rounded_when_nothing_is_dropped)
{
    enum { N = 64 };
    float terms[N];
    sn_rng_stream s;
    sn_rng_stream_init(&s, 41, SN_RNG_TEST, 0, 0);
    for (int trial = 0; trial < 2000; trial++) {
        /* terms in [2^(c-8), 2^c): every bit within 31 positions of the top;
         * or subnormals and tiny normals, whose window reaches position 0. */
        uint32_t low, high;
        if (trial % 2) {
            high = 9 + sn_rng_below(&s, 240);
            low = high - 8;
        } else {
            low = 0;
            high = 20;
        }
        long double exact = 0;
        for (int k = 0; k < N; k++) {
            terms[k] = random_float(&s, low, high);
            exact += terms[k];
        }
        float r = sum_of(terms, N);
        ck_assert_msg(bits_of(r) == bits_of((float)exact) || (r == 0 && exact == 0),
                      "%a != %a", r, (float)exact);
    }
    /* One rounding, not two: 64 * 2^10 + 2^-8 + 2^-37 (all in the window of
     * bin 9) is just above the tie between 2^16 and 2^16 + 2^-7, so it rounds
     * up. Through double it would round twice (2^-37 is half a double ulp at
     * 2^16, a tie to even, leaving an exact float tie) and come out 2^16. */
    float sum_above_tie[66];
    for (int k = 0; k < 64; k++)
        sum_above_tie[k] = 0x1p10f;
    sum_above_tie[64] = 0x1p-8f;
    sum_above_tie[65] = 0x1p-37f;
    ck_assert_uint_eq(bits_of(sum_of(sum_above_tie, 66)), bits_of(0x1p16f + 0x1p-7f));
    /* A term far below the largest is dropped whatever the order: 1e30 + 1 -
     * 1e30 is 0 in every order (within the bound, and consistently). */
    const float orders[3][3] = {{1e30f, 1.0f, -1e30f}, {1.0f, 1e30f, -1e30f}, {1e30f, -1e30f, 1.0f}};
    for (int k = 0; k < 3; k++)
        ck_assert_uint_eq(bits_of(sum_of(orders[k], 3)), 0);
}
END_TEST

START_TEST(add_returns_the_index_of_the_first_nan_or_inf)
{
    sn_exact_sum acc;
    ck_assert_int_eq(sn_exact_sum_init(&acc, 5), SN_OK);
    const float values[5] = {1.0f, 2.0f, NAN, 3.0f, INFINITY};
    ck_assert_int_eq(sn_exact_sum_add(&acc, 0, values, 5), 2);
    float out[5];
    sn_exact_sum_result(&acc, 0, 5, out);
    ck_assert_float_eq(out[0], 1.0f);
    ck_assert_float_eq(out[1], 2.0f);
    for (int k = 2; k < 5; k++) /* not added: still empty */
        ck_assert_int_eq(acc.top[k], -1);
    ck_assert_int_eq(sn_exact_sum_add(&acc, 3, values + 3, 2), 1);  /* +Inf */
    const float negative_inf = -INFINITY;
    ck_assert_int_eq(sn_exact_sum_add(&acc, 0, &negative_inf, 1), 0);
    const float negative_nan = float_from_bits(0xFFC00001u);
    ck_assert_int_eq(sn_exact_sum_add(&acc, 1, &negative_nan, 1), 0);
    sn_exact_sum_result(&acc, 0, 5, out);
    ck_assert_float_eq(out[0], 1.0f);
    ck_assert_float_eq(out[1], 2.0f);
    ck_assert_float_eq(out[3], 3.0f);
    ck_assert_int_eq(acc.top[4], -1);
    sn_exact_sum_free(&acc);
}
END_TEST

/* SN_EXACT_SUM_MAX_TERMS terms at the worst case for the packed int64: each
 * term's top chunk is a full 0xFFFF (mantissa all ones, p mod 16 = 8), so the
 * packed total is 4096 * (2^48 - 2^24), just under the bound n * 2^48 = 2^60. */
START_TEST(max_terms_do_not_overflow_the_packed_word)
{
    enum { N = SN_EXACT_SUM_MAX_TERMS, RANKS = 4 };
    const float x = 0x1.fffffep+106f; /* (2^24 - 1) * 2^83: p = 232 */
    for (int sign = -1; sign <= 1; sign += 2) {
        sn_exact_sum acc[RANKS];
        int8_t global = -1;
        for (int r = 0; r < RANKS; r++) {
            ck_assert_int_eq(sn_exact_sum_init(&acc[r], 1), SN_OK);
            for (int k = 0; k < N / RANKS; k++) {
                float term = (float)sign * x;
                ck_assert_int_eq(sn_exact_sum_add(&acc[r], 0, &term, 1), -1);
            }
            global = acc[r].top[0] > global ? acc[r].top[0] : global;
        }
        int64_t total = 0;
        for (int r = 0; r < RANKS; r++) {
            int64_t packed;
            sn_exact_sum_pack(&acc[r], 0, 1, &global, &packed);
            total += packed;
            sn_exact_sum_free(&acc[r]);
        }
        ck_assert_int_eq(global, 15);
        ck_assert(total == sign * (int64_t)N * (((int64_t)1 << 48) - ((int64_t)1 << 24)));
        ck_assert(llabs(total) > (int64_t)1 << 59 && llabs(total) < (int64_t)1 << 60);
        float r;
        sn_exact_sum_unpack(&global, &total, 1, &r);
        ck_assert_uint_eq(bits_of(r), bits_of((float)sign * x * N));
    }

    /* 4096 * (FLT_MAX / 4096) is FLT_MAX exactly. */
    const float big = FLT_MAX / N;
    sn_exact_sum acc;
    ck_assert_int_eq(sn_exact_sum_init(&acc, 1), SN_OK);
    for (int k = 0; k < N; k++)
        ck_assert_int_eq(sn_exact_sum_add(&acc, 0, &big, 1), -1);
    float r;
    sn_exact_sum_result(&acc, 0, 1, &r);
    ck_assert_uint_eq(bits_of(r), bits_of(FLT_MAX));
    sn_exact_sum_free(&acc);
}
END_TEST

START_TEST(clear_empties_only_its_range)
{
    sn_exact_sum acc;
    ck_assert_int_eq(sn_exact_sum_init(&acc, 6), SN_OK);
    const float values[6] = {1, 2, 3, 4, 5, 6};
    ck_assert_int_eq(sn_exact_sum_add(&acc, 0, values, 6), -1);
    sn_exact_sum_clear(&acc, 2, 3);
    ck_assert_int_eq(sn_exact_sum_add(&acc, 1, values + 1, 4), -1); /* offset start */
    float out[6];
    sn_exact_sum_result(&acc, 0, 6, out);
    const float expected[6] = {1, 4, 3, 4, 5, 6};
    ck_assert_mem_eq(out, expected, sizeof out);
    sn_exact_sum_clear(&acc, 0, 6);
    sn_exact_sum_result(&acc, 0, 6, out);
    for (int k = 0; k < 6; k++)
        ck_assert_uint_eq(bits_of(out[k]), 0);
    sn_exact_sum_free(&acc);
    sn_exact_sum_free(&acc); /* a second free is harmless */
}
END_TEST

START_TEST(init_rejects_bad_counts)
{
    sn_exact_sum acc;
    sn_error_clear();
    ck_assert_int_eq(sn_exact_sum_init(&acc, -1), SN_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "negative"));
    sn_error_clear();
    ck_assert_int_eq(sn_exact_sum_init(&acc, INT64_MAX), SN_ERR_NOMEM);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "entries"));
    ck_assert_ptr_null(acc.top);
    ck_assert_int_eq(sn_exact_sum_init(&acc, 0), SN_OK);
    sn_exact_sum_free(&acc);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("exact_sum");
    TCase *order = tcase_create("order");
    tcase_add_test(order, same_bits_for_every_order_and_rank_count);
    suite_add_tcase(suite, order);
    TCase *accuracy = tcase_create("accuracy");
    tcase_add_test(accuracy, error_below_n_times_2_pow_minus_32_of_the_largest_term);
    tcase_add_test(accuracy, representable_sums_are_exact);
    tcase_add_test(accuracy, correctly_rounded_when_nothing_is_dropped);
    suite_add_tcase(suite, accuracy);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, add_returns_the_index_of_the_first_nan_or_inf);
    tcase_add_test(limits, max_terms_do_not_overflow_the_packed_word);
    tcase_add_test(limits, clear_empties_only_its_range);
    tcase_add_test(limits, init_rejects_bad_counts);
    suite_add_tcase(suite, limits);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
