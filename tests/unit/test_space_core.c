/* Search-space core: the dimension table, checks, activity and canonical
 * form, counting, uniform sampling, restriction to one architecture. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"
#include "shiftnas/rng.h"
#include "shiftnas/space.h"

/* 16x16x1 images, stem 8 stride 2, stages (stride 1, 2) of widths 8, 16
 * times {0.5, 1}, depths {1, 2}, kernels {3, 5}, expand {2, 3}. */
static sn_space_description tiny_cnn(void)
{
    sn_space_description d;
    memset(&d, 0, sizeof d);
    d.type = SN_SPACE_CNN;
    d.image_channels = 1;
    d.image_size = 16;
    d.classes = 10;
    d.stem_channels = 8;
    d.stem_stride = 2;
    d.stem_kernel = 3;
    d.stage_count = 2;
    d.stage_channels[0] = 8;
    d.stage_channels[1] = 16;
    d.stage_strides[0] = 1;
    d.stage_strides[1] = 2;
    d.width_ratio_count = 2;
    d.width_ratios[0] = 0.5;
    d.width_ratios[1] = 1.0;
    d.depth_count = 2;
    d.depths[0] = 1;
    d.depths[1] = 2;
    d.kernel_count = 2;
    d.kernels[0] = 3;
    d.kernels[1] = 5;
    d.expand_count = 2;
    d.expand_ratios[0] = 2.0;
    d.expand_ratios[1] = 3.0;
    return d;
}

/* 8x8x1 images, patch 4, head_dim 4, embeds {8, 12}, depths {1, 2, 3},
 * heads {1, 2}, mlp ratios {1, 2.5}. */
static sn_space_description tiny_vit(void)
{
    sn_space_description d;
    memset(&d, 0, sizeof d);
    d.type = SN_SPACE_VIT;
    d.image_channels = 1;
    d.image_size = 8;
    d.classes = 3;
    d.patch = 4;
    d.head_dim = 4;
    d.embed_count = 2;
    d.embeds[0] = 8;
    d.embeds[1] = 12;
    d.depth_count = 3;
    d.depths[0] = 1;
    d.depths[1] = 2;
    d.depths[2] = 3;
    d.heads_count = 2;
    d.heads[0] = 1;
    d.heads[1] = 2;
    d.mlp_ratio_count = 2;
    d.mlp_ratios[0] = 1.0;
    d.mlp_ratios[1] = 2.5;
    return d;
}

START_TEST(cnn_dimension_table_in_documented_order)
{
    sn_space_description desc = tiny_cnn();
    sn_space s;
    ck_assert_int_eq(sn_space_build(&s, &desc), SN_OK);
    /* per stage: depth, width, then (kernel, expand) for each of 2 blocks */
    ck_assert_int_eq(s.dimension_count, 2 * (2 + 2 * 2));
    const sn_dimension_kind order[6] = {SN_DIMENSION_DEPTH,  SN_DIMENSION_WIDTH,
                                        SN_DIMENSION_KERNEL, SN_DIMENSION_EXPAND,
                                        SN_DIMENSION_KERNEL, SN_DIMENSION_EXPAND};
    for (int i = 0; i < s.dimension_count; i++) {
        ck_assert_int_eq(s.dimensions[i].kind, order[i % 6]);
        ck_assert_int_eq(s.dimensions[i].stage, i / 6);
        ck_assert_int_eq(s.choice_offset[i], 2 * i); /* every dimension has 2 choices */
    }
    ck_assert_int_eq(s.choice_total, 24);
    /* widths are ratio times the stage's channels */
    ck_assert_double_eq(s.dimensions[s.width_dimension[1]].choices[0], 8.0);
    ck_assert_double_eq(s.dimensions[s.width_dimension[1]].choices[1], 16.0);
    ck_assert_int_eq(s.kernel_dimension[1][1], 10);
    ck_assert_int_eq(s.expand_dimension[0][0], 3);
}
END_TEST

START_TEST(vit_dimension_table_in_documented_order)
{
    sn_space_description desc = tiny_vit();
    sn_space s;
    ck_assert_int_eq(sn_space_build(&s, &desc), SN_OK);
    ck_assert_int_eq(s.dimension_count, 2 + 2 * 3);
    ck_assert_int_eq(s.embed_dimension, 0);
    ck_assert_int_eq(s.depth_dimension[0], 1);
    for (int l = 0; l < 3; l++) {
        ck_assert_int_eq(s.heads_dimension[l], 2 + 2 * l);
        ck_assert_int_eq(s.mlp_dimension[l], 3 + 2 * l);
        ck_assert_int_eq(s.dimensions[s.heads_dimension[l]].block, l);
    }
    ck_assert_int_eq(s.choice_offset[2], 2 + 3);
    ck_assert_int_eq(s.choice_total, 2 + 3 + 3 * 4);
}
END_TEST

/* Each impossible description fails with SN_ERR_CONFIG and a message that
 * names what is wrong. */
START_TEST(impossible_spaces_are_refused_by_name)
{
    sn_space s;
    struct {
        sn_space_description desc;
        const char *needle;
    } cases[7];
    for (int i = 0; i < 7; i++)
        cases[i].desc = tiny_cnn();
    cases[0].desc.kernels[1] = 4, cases[0].needle = "odd";
    cases[1].desc.depths[1] = 1, cases[1].needle = "ascending";
    cases[2].desc.width_ratios[0] = -0.5, cases[2].needle = "positive";
    cases[3].desc.stage_count = 0, cases[3].needle = "stages";
    cases[4].desc.stage_strides[1] = 0, cases[4].needle = "stride";
    cases[5].desc.image_size = 0, cases[5].needle = "images";
    cases[6].desc = tiny_vit(), cases[6].desc.patch = 3, cases[6].needle = "patch 3";
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(sn_space_build(&s, &cases[i].desc), SN_ERR_CONFIG);
        ck_assert_msg(strstr(sn_error_message(), cases[i].needle) != NULL,
                      "case %d: '%s' does not mention '%s'", i, sn_error_message(),
                      cases[i].needle);
    }
}
END_TEST

START_TEST(blocks_beyond_the_depth_are_inactive_and_canonical)
{
    sn_space_description desc = tiny_cnn();
    sn_space s;
    ck_assert_int_eq(sn_space_build(&s, &desc), SN_OK);
    sn_arch a;
    sn_arch_largest(&s, &a);
    for (int d = 0; d < s.dimension_count; d++)
        ck_assert_int_eq(sn_arch_dimension_active(&s, &a, d), 1);
    a.choice[s.depth_dimension[0]] = 0; /* stage 1 depth 1: its block 2 is off */
    ck_assert_int_eq(sn_arch_dimension_active(&s, &a, s.kernel_dimension[0][1]), 0);
    ck_assert_int_eq(sn_arch_dimension_active(&s, &a, s.expand_dimension[0][1]), 0);
    ck_assert_int_eq(sn_arch_dimension_active(&s, &a, s.kernel_dimension[0][0]), 1);
    ck_assert_int_eq(sn_arch_dimension_active(&s, &a, s.kernel_dimension[1][1]), 1);
    sn_arch b = a;
    b.choice[s.kernel_dimension[0][1]] = 0; /* differs only in an inactive dimension */
    ck_assert_int_eq(sn_arch_equal(&s, &a, &b), 1);
    sn_arch_canonicalize(&s, &a);
    ck_assert_int_eq(a.choice[s.kernel_dimension[0][1]], 0);
    ck_assert_int_eq(a.choice[s.kernel_dimension[1][1]], 1);
    b.choice[s.width_dimension[1]] = 0; /* an active difference */
    ck_assert_int_eq(sn_arch_equal(&s, &a, &b), 0);
}
END_TEST

/* Counts distinct architectures by enumerating every choice vector of the
 * tiny space (2^12 CNN, 2*3*2^6 ViT): each distinct architecture is exactly
 * one vector that its canonical form leaves unchanged. */
static double enumerate_distinct(const sn_space *s)
{
    int64_t total = 1;
    for (int d = 0; d < s->dimension_count; d++)
        total *= s->dimensions[d].choice_count;
    int64_t distinct = 0;
    for (int64_t code = 0; code < total; code++) {
        sn_arch a;
        memset(&a, 0, sizeof a);
        int64_t rest = code;
        for (int d = 0; d < s->dimension_count; d++) {
            a.choice[d] = (int)(rest % s->dimensions[d].choice_count);
            rest /= s->dimensions[d].choice_count;
        }
        sn_arch c = a;
        sn_arch_canonicalize(s, &c);
        distinct += memcmp(&a, &c, sizeof a) == 0;
    }
    return (double)distinct;
}

START_TEST(architecture_count_equals_enumeration)
{
    sn_space_description descs[2] = {tiny_cnn(), tiny_vit()};
    for (int i = 0; i < 2; i++) {
        sn_space s;
        ck_assert_int_eq(sn_space_build(&s, &descs[i]), SN_OK);
        ck_assert_double_eq(sn_space_architecture_count(&s), enumerate_distinct(&s));
    }
    /* by hand for the CNN: per stage 2 widths * (4 + 16) block choices */
    sn_space s;
    sn_space_build(&s, &descs[0]);
    ck_assert_double_eq(sn_space_architecture_count(&s), 40.0 * 40.0);
}
END_TEST

/* Uniform sampling: canonical, a function of the stream's key, and each
 * active dimension's choices about equally frequent. */
START_TEST(uniform_sampling_is_keyed_canonical_and_uniform)
{
    sn_space_description desc = tiny_vit();
    sn_space s;
    ck_assert_int_eq(sn_space_build(&s, &desc), SN_OK);
    enum { N = 6000 };
    int counts[SN_SPACE_MAX_DIMENSIONS][SN_SPACE_MAX_CHOICES] = {{0}};
    int active[SN_SPACE_MAX_DIMENSIONS] = {0};
    for (int i = 0; i < N; i++) {
        sn_rng_stream stream, again;
        sn_rng_stream_init(&stream, 5, SN_RNG_SAMPLER, 0, (uint32_t)i);
        sn_rng_stream_init(&again, 5, SN_RNG_SAMPLER, 0, (uint32_t)i);
        sn_arch a, b;
        sn_arch_sample_uniform(&s, &stream, &a);
        sn_arch_sample_uniform(&s, &again, &b);
        ck_assert_mem_eq(&a, &b, sizeof a);
        sn_arch c = a;
        sn_arch_canonicalize(&s, &c);
        ck_assert_mem_eq(&a, &c, sizeof a);
        for (int d = 0; d < s.dimension_count; d++)
            if (sn_arch_dimension_active(&s, &a, d)) {
                counts[d][a.choice[d]]++;
                active[d]++;
            }
    }
    for (int d = 0; d < s.dimension_count; d++) {
        int n = s.dimensions[d].choice_count;
        for (int j = 0; j < n; j++) {
            double expected = (double)active[d] / n;
            /* 5 standard deviations of a binomial count */
            ck_assert_double_lt(fabs(counts[d][j] - expected),
                                5.0 * sqrt(expected * (1.0 - 1.0 / n)) + 1.0);
        }
    }
    /* layer 3 is active only with depth 3: a third of the samples */
    ck_assert_int_gt(active[s.heads_dimension[2]], N / 3 - 200);
    ck_assert_int_lt(active[s.heads_dimension[2]], N / 3 + 200);
}
END_TEST

START_TEST(restricted_space_holds_exactly_the_architecture)
{
    sn_space_description descs[2] = {tiny_cnn(), tiny_vit()};
    for (int i = 0; i < 2; i++) {
        sn_space s, single;
        ck_assert_int_eq(sn_space_build(&s, &descs[i]), SN_OK);
        for (int k = 0; k < 50; k++) {
            sn_rng_stream stream;
            sn_rng_stream_init(&stream, 9, SN_RNG_TEST, (uint64_t)i, (uint32_t)k);
            sn_arch a;
            sn_arch_sample_uniform(&s, &stream, &a);
            ck_assert_int_eq(sn_space_restrict(&s, &a, &single), SN_OK);
            ck_assert_double_eq(sn_space_architecture_count(&single), 1.0);
            int active = 0;
            for (int d = 0; d < s.dimension_count; d++)
                active += sn_arch_dimension_active(&s, &a, d);
            ck_assert_int_eq(single.dimension_count, active);
            ck_assert_int_eq(single.choice_total, active);
            /* the restricted space's one architecture has the same values,
             * dimension by dimension, in the same order */
            sn_arch only;
            sn_arch_largest(&single, &only);
            int j = 0;
            for (int d = 0; d < s.dimension_count; d++) {
                if (!sn_arch_dimension_active(&s, &a, d))
                    continue;
                ck_assert_int_eq(single.dimensions[j].kind, s.dimensions[d].kind);
                ck_assert_double_eq(sn_arch_value(&single, &only, j), sn_arch_value(&s, &a, d));
                j++;
            }
        }
    }
}
END_TEST

START_TEST(one_hot_marks_each_choice)
{
    sn_space_description desc = tiny_cnn();
    sn_space s;
    ck_assert_int_eq(sn_space_build(&s, &desc), SN_OK);
    sn_arch a;
    sn_arch_largest(&s, &a);
    a.choice[s.width_dimension[0]] = 0;
    double p[64];
    sn_arch_one_hot(&s, &a, p);
    for (int d = 0; d < s.dimension_count; d++) {
        double sum = 0.0;
        for (int j = 0; j < s.dimensions[d].choice_count; j++)
            sum += p[s.choice_offset[d] + j];
        ck_assert_double_eq(sum, 1.0);
        ck_assert_double_eq(p[s.choice_offset[d] + a.choice[d]], 1.0);
    }
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("space_core");
    TCase *tc = tcase_create("space_core");
    tcase_add_test(tc, cnn_dimension_table_in_documented_order);
    tcase_add_test(tc, vit_dimension_table_in_documented_order);
    tcase_add_test(tc, impossible_spaces_are_refused_by_name);
    tcase_add_test(tc, blocks_beyond_the_depth_are_inactive_and_canonical);
    tcase_add_test(tc, architecture_count_equals_enumeration);
    tcase_add_test(tc, uniform_sampling_is_keyed_canonical_and_uniform);
    tcase_add_test(tc, restricted_space_holds_exactly_the_architecture);
    tcase_add_test(tc, one_hot_marks_each_choice);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
