/* The FLOPs counter (hand counts, soft = exact at one-hot, exact gradient,
 * monotonicity, AutoFormer-T), the canonical architecture text (round trip,
 * every error), the [space] configuration, and the PNG writer. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/png.h"
#include "shiftnas/rng.h"
#include "shiftnas/settings.h"
#include "shiftnas/space.h"

enum { MAX_PROBABILITIES = SN_SPACE_MAX_DIMENSIONS * SN_SPACE_MAX_CHOICES };

static void assert_message_has(const char *needle)
{
    ck_assert_msg(strstr(sn_error_message(), needle) != NULL, "message '%s' lacks '%s'",
                  sn_error_message(), needle);
}

/* ---- spaces ------------------------------------------------------------------ */

/* 1x8x8 images, 3 classes; stem 3x3 of 4 channels, stride 1; one stage of
 * widths 4 or 8 (ratios 0.5, 1 of 8), stride 2, depth 1 or 2, kernels 3 or 5,
 * expand ratios 2 or 3. */
static void tiny_cnn(sn_space *space)
{
    sn_space_description d;
    memset(&d, 0, sizeof d);
    d.type = SN_SPACE_CNN;
    d.image_channels = 1, d.image_size = 8, d.classes = 3;
    d.stem_channels = 4, d.stem_stride = 1, d.stem_kernel = 3;
    d.stage_count = 1;
    d.stage_channels[0] = 8, d.stage_strides[0] = 2;
    d.width_ratio_count = 2, d.width_ratios[0] = 0.5, d.width_ratios[1] = 1;
    d.depth_count = 2, d.depths[0] = 1, d.depths[1] = 2;
    d.kernel_count = 2, d.kernels[0] = 3, d.kernels[1] = 5;
    d.expand_count = 2, d.expand_ratios[0] = 2, d.expand_ratios[1] = 3;
    ck_assert_msg(sn_space_build(space, &d) == SN_OK, "%s", sn_error_message());
}

/* 1x8x8 images, 3 classes; patch 4 (4 patches + class token = 5 tokens),
 * head_dim 2, embed 4 or 6, depth 1 or 2, heads 1 or 2, mlp ratio 1.5 or 2. */
static void tiny_vit(sn_space *space)
{
    sn_space_description d;
    memset(&d, 0, sizeof d);
    d.type = SN_SPACE_VIT;
    d.image_channels = 1, d.image_size = 8, d.classes = 3;
    d.patch = 4, d.head_dim = 2;
    d.embed_count = 2, d.embeds[0] = 4, d.embeds[1] = 6;
    d.depth_count = 2, d.depths[0] = 1, d.depths[1] = 2;
    d.heads_count = 2, d.heads[0] = 1, d.heads[1] = 2;
    d.mlp_ratio_count = 2, d.mlp_ratios[0] = 1.5, d.mlp_ratios[1] = 2;
    ck_assert_msg(sn_space_build(space, &d) == SN_OK, "%s", sn_error_message());
}

/* A shipped space: jobs/configs/NAME.ini through the configuration. */
static void shipped_space(const char *name, sn_space *space)
{
    const char *source = getenv("SHIFTNAS_SOURCE_DIR");
    ck_assert_msg(source != NULL, "SHIFTNAS_SOURCE_DIR is not set (run through make check)");
    char path[1024];
    snprintf(path, sizeof path, "%s/jobs/configs/%s.ini", source, name);
    sn_config config;
    sn_config_defaults(&config);
    ck_assert_msg(sn_config_load_file(&config, path) == SN_OK, "%s", sn_error_message());
    ck_assert_msg(sn_config_validate(&config) == SN_OK, "%s", sn_error_message());
    ck_assert_str_eq(config.model_type, "supernet");
    /* Fashion-MNIST's shape; AutoFormer-T sets its own in [space] */
    ck_assert_msg(sn_space_from_config(space, &config, 1, 28, 10) == SN_OK, "%s",
                  sn_error_message());
}

static const char *const shipped[] = {"cnn-space", "vit-space", "vit-autoformer-t"};
enum { SHIPPED_COUNT = 3 };

/* ---- an independent count ----------------------------------------------------- */

/* A straightforward per-layer walk in integers, written apart from
 * src/space/flops.c, following the convention of doc/search-spaces.md. */
static sn_cost reference_cost(const sn_space *s, const sn_arch *a)
{
    sn_cost c = {0, 0};
    if (s->type == SN_SPACE_CNN) {
        int64_t side = (s->image_size + 2 * (s->stem_kernel / 2) - s->stem_kernel) /
                           s->stem_stride + 1;
        int64_t k2 = (int64_t)s->stem_kernel * s->stem_kernel;
        int64_t channels = s->stem_channels;
        c.macs += side * side * s->image_channels * channels * k2;
        c.parameters += s->image_channels * channels * k2 + 2 * channels;
        for (int st = 0; st < s->stage_count; st++) {
            int depth = (int)sn_arch_value(s, a, s->depth_dimension[st]);
            int64_t width = (int64_t)sn_arch_value(s, a, s->width_dimension[st]);
            for (int b = 0; b < depth; b++) {
                int stride = b == 0 ? s->stage_strides[st] : 1;
                int64_t out = (side - 1) / stride + 1;
                int64_t k = (int64_t)sn_arch_value(s, a, s->kernel_dimension[st][b]);
                double ratio = sn_arch_value(s, a, s->expand_dimension[st][b]);
                int64_t mid = (int64_t)floor(ratio * (double)channels + 0.5);
                c.macs += side * side * channels * mid;   /* expand 1x1 */
                c.macs += out * out * mid * k * k;        /* depthwise */
                c.macs += out * out * mid * width;        /* project 1x1 */
                c.parameters += channels * mid + mid * k * k + mid * width;
                c.parameters += 2 * mid + 2 * mid + 2 * width; /* three batch norms */
                channels = width;
                side = out;
            }
        }
        c.macs += channels * s->classes;
        c.parameters += channels * s->classes + s->classes;
        return c;
    }
    int64_t patches = (int64_t)(s->image_size / s->patch) * (s->image_size / s->patch);
    int64_t t = patches + 1, q = s->head_dim;
    int64_t e = (int64_t)sn_arch_value(s, a, s->embed_dimension);
    int64_t in = (int64_t)s->image_channels * s->patch * s->patch;
    c.macs += patches * in * e;
    c.parameters += in * e + e + e + t * e; /* patch embedding, class token, positions */
    int depth = (int)sn_arch_value(s, a, s->depth_dimension[0]);
    for (int l = 0; l < depth; l++) {
        int64_t h = (int64_t)sn_arch_value(s, a, s->heads_dimension[l]);
        int64_t hidden = (int64_t)floor(sn_arch_value(s, a, s->mlp_dimension[l]) * e + 0.5);
        c.macs += t * e * 3 * h * q + 2 * t * t * h * q + t * h * q * e + 2 * t * e * hidden;
        c.parameters += 4 * e + (e * 3 * h * q + 3 * h * q) + (h * q * e + e) +
                        (2 * e * hidden + hidden + e);
    }
    c.macs += e * s->classes;
    c.parameters += 2 * e + e * s->classes + s->classes;
    return c;
}

/* ---- hand counts --------------------------------------------------------------- */

START_TEST(cnn_hand_count)
{
    sn_space space;
    tiny_cnn(&space);
    sn_arch arch;
    ck_assert_msg(sn_arch_parse(&space, "cnn:d=2;w=8;k=3,5;e=2,3", &arch) == SN_OK, "%s",
                  sn_error_message());
    /* stem: 8x8 out, 1 -> 4 channels, 3x3: 64*1*4*9 = 2304 MACs;
     *       params 1*4*9 + BN 2*4 = 44
     * block 1 (stride 2: 8x8 -> 4x4), cin 4, mid 2*4 = 8, cout 8, k 3:
     *   expand 64*4*8 = 2048, depthwise 16*8*9 = 1152, project 16*8*8 = 1024 -> 4224
     *   params 4*8+16 + 8*9+16 + 8*8+16 = 48 + 88 + 80 = 216
     * block 2 (4x4), cin 8, mid 3*8 = 24, cout 8, k 5:
     *   expand 16*8*24 = 3072, depthwise 16*24*25 = 9600, project 16*24*8 = 3072 -> 15744
     *   params 8*24+48 + 24*25+48 + 24*8+16 = 240 + 648 + 208 = 1096
     * classifier 8 -> 3: 24 MACs, params 24 + 3 = 27
     * MACs 2304 + 4224 + 15744 + 24 = 22296; params 44 + 216 + 1096 + 27 = 1383 */
    sn_cost cost = sn_space_cost(&space, &arch);
    ck_assert_int_eq(cost.macs, 22296);
    ck_assert_int_eq(cost.parameters, 1383);

    /* smallest: d=1, w=4, k=3, e=2. stem 2304, params 44.
     * block 1: cin 4, mid 8, cout 4: 64*4*8 = 2048 + 16*8*9 = 1152 + 16*8*4 = 512 -> 3712;
     *   params 32+16 + 72+16 + 32+8 = 176
     * classifier 4*3 = 12, params 15. MACs 6028, params 235 */
    sn_arch_smallest(&space, &arch);
    cost = sn_space_cost(&space, &arch);
    ck_assert_int_eq(cost.macs, 6028);
    ck_assert_int_eq(cost.parameters, 235);
}
END_TEST

START_TEST(vit_hand_count)
{
    sn_space space;
    tiny_vit(&space);
    sn_arch arch;
    ck_assert_msg(sn_arch_parse(&space, "vit:e=6;d=2;h=1,2;m=1.5,2", &arch) == SN_OK, "%s",
                  sn_error_message());
    /* T = 4 + 1 = 5, E = 6, q = 2.
     * patch embedding: 4 patches * 16 pixels * 6 = 384 MACs; params 16*6 + 6 = 102
     * class token 6, positions 5*6 = 30 params
     * layer 1, h=1 (hq 2), H = lround(1.5*6) = 9:
     *   qkv 5*6*6 = 180, q.k and attn.v 2*25*2 = 100, projection 5*2*6 = 60,
     *   mlp 2*5*6*9 = 540 -> 880
     *   params norms 2*12 = 24, qkv 6*6+6 = 42, projection 2*6+6 = 18,
     *   mlp 2*6*9+9+6 = 123 -> 207
     * layer 2, h=2 (hq 4), H = 12:
     *   qkv 5*6*12 = 360, attention 2*25*4 = 200, projection 5*4*6 = 120,
     *   mlp 2*5*6*12 = 720 -> 1400
     *   params 24 + (6*12+12 = 84) + (4*6+6 = 30) + (2*6*12+12+6 = 162) = 300
     * final norm 12 params; head 6*3 = 18 MACs, params 18 + 3 = 21
     * MACs 384 + 880 + 1400 + 18 = 2682
     * params 102 + 6 + 30 + 207 + 300 + 12 + 21 = 678 */
    sn_cost cost = sn_space_cost(&space, &arch);
    ck_assert_int_eq(cost.macs, 2682);
    ck_assert_int_eq(cost.parameters, 678);
}
END_TEST

/* ---- soft count == exact count ------------------------------------------------ */

static void sample(const sn_space *space, uint32_t item, sn_arch *arch)
{
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 17, SN_RNG_TEST, 3, item);
    sn_arch_sample_uniform(space, &stream, arch);
}

/* At one-hot weights the soft count is the architecture's count: llround
 * gives the identical integer, and the double itself is within 1e-6 relative
 * (in fact exact: every term is a product of small integers). The integer
 * count also agrees with the independent walk above. */
START_TEST(soft_at_one_hot_is_exact)
{
    for (int s = 0; s < SHIPPED_COUNT; s++) {
        sn_space space;
        shipped_space(shipped[s], &space);
        double p[MAX_PROBABILITIES];
        for (uint32_t i = 0; i < 250; i++) {
            sn_arch arch;
            sample(&space, i, &arch);
            sn_cost expected = reference_cost(&space, &arch);
            sn_arch_one_hot(&space, &arch, p);
            double soft = sn_space_soft_macs(&space, p, NULL);
            sn_cost cost = sn_space_cost(&space, &arch);
            ck_assert_msg(llround(soft) == expected.macs, "%s sample %u: soft %.1f, exact %lld",
                          shipped[s], i, soft, (long long)expected.macs);
            ck_assert(fabs(soft - (double)expected.macs) <= 1e-6 * (double)expected.macs);
            ck_assert_int_eq(cost.macs, expected.macs);
            ck_assert_int_eq(cost.parameters, expected.parameters);
        }
    }
}
END_TEST

/* Random weights, each dimension's summing to 1. */
static void random_probabilities(const sn_space *space, uint32_t item, double *p)
{
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 5, SN_RNG_TEST, 11, item);
    for (int d = 0; d < space->dimension_count; d++) {
        double *w = p + space->choice_offset[d], sum = 0;
        for (int j = 0; j < space->dimensions[d].choice_count; j++)
            sum += w[j] = 0.05 + sn_rng_uniform(&stream);
        for (int j = 0; j < space->dimensions[d].choice_count; j++)
            w[j] /= sum;
    }
}

/* The gradient against central differences in every entry. The count is a
 * polynomial of low degree in each entry, so with h = 1e-4 the truncation
 * error is ~h^2 * MACs and the rounding error ~1e-16 * MACs / h: both below
 * 1e-9 of the MACs. Tolerance: 1e-7 relative to the entry, plus 1e-9 of the
 * MACs absolute (entries can be 0: a choice no term depends on). */
START_TEST(gradient_matches_finite_differences)
{
    sn_space spaces[SHIPPED_COUNT + 2];
    tiny_cnn(&spaces[0]);
    tiny_vit(&spaces[1]);
    for (int s = 0; s < SHIPPED_COUNT; s++)
        shipped_space(shipped[s], &spaces[s + 2]);
    for (int s = 0; s < SHIPPED_COUNT + 2; s++) {
        const sn_space *space = &spaces[s];
        for (uint32_t trial = 0; trial < 3; trial++) {
            double p[MAX_PROBABILITIES], gradient[MAX_PROBABILITIES];
            random_probabilities(space, trial, p);
            double value = sn_space_soft_macs(space, p, gradient);
            double same = sn_space_soft_macs(space, p, NULL);
            ck_assert(value == same); /* the gradient does not change the value */
            int nonzero = 0;
            for (int i = 0; i < space->choice_total; i++) {
                const double h = 1e-4, saved = p[i];
                p[i] = saved + h;
                double up = sn_space_soft_macs(space, p, NULL);
                p[i] = saved - h;
                double down = sn_space_soft_macs(space, p, NULL);
                p[i] = saved;
                double numeric = (up - down) / (2 * h);
                ck_assert_msg(fabs(gradient[i] - numeric) <=
                                  1e-7 * fabs(numeric) + 1e-9 * value,
                              "space %d entry %d: analytic %.9g, numeric %.9g", s, i,
                              gradient[i], numeric);
                nonzero += gradient[i] != 0.0;
            }
            /* every choice matters somewhere */
            ck_assert_int_eq(nonzero, space->choice_total);
        }
    }
}
END_TEST

/* One more choice of any active dimension means strictly more MACs: every
 * kind of dimension in the shipped spaces only adds work. */
START_TEST(raising_a_choice_raises_macs)
{
    for (int s = 0; s < SHIPPED_COUNT; s++) {
        sn_space space;
        shipped_space(shipped[s], &space);
        int raised = 0;
        for (uint32_t i = 0; i < 200; i++) {
            sn_arch arch;
            sample(&space, 1000 + i, &arch);
            int64_t base = sn_space_cost(&space, &arch).macs;
            for (int d = 0; d < space.dimension_count; d++) {
                if (!sn_arch_dimension_active(&space, &arch, d) ||
                    arch.choice[d] + 1 >= space.dimensions[d].choice_count)
                    continue;
                sn_arch up = arch;
                up.choice[d]++;
                int64_t higher = sn_space_cost(&space, &up).macs;
                ck_assert_msg(higher > base, "%s sample %u dimension %d: %lld -> %lld",
                              shipped[s], i, d, (long long)base, (long long)higher);
                raised++;
            }
        }
        ck_assert_int_gt(raised, 200);
    }
}
END_TEST

/* AutoFormer-T (jobs/configs/vit-autoformer-t.ini) at its extremes, against
 * the independent walk and against the arithmetic written out:
 * smallest E=192, 12 layers of 3 heads (hq 192) and MLP 672, T = 197:
 *   per layer 197*192*576 + 2*197^2*192 + 197*192*192 + 2*197*192*672
 *           = 21786624 + 14902656 + 7262208 + 50835456 = 94786944
 *   MACs 12*94786944 + patches 196*768*192 (28901376) + head 192000 = 1166536704
 *   params: patch 768*192+192 = 147648, class 192, positions 37824, per layer
 *   768 + 111168 + 37056 + 258912 = 407904 (x12 = 4894848), final norm 384,
 *   head 193000: 5273896
 * largest E=240, 14 layers of 4 heads (hq 256) and MLP 960:
 *   per layer 197*240*768 + 2*197^2*256 + 197*256*240 + 2*197*240*960
 *           = 36311040 + 19870208 + 12103680 + 90777600 = 159062528
 *   MACs 14*159062528 + 196*768*240 (36126720) + 240000 = 2263242112
 *   params: patch 768*240+240 = 184560, class 240, positions 47280, per layer
 *   960 + 185088 + 61680 + 462000 = 709728 (x14 = 9936192), final norm 480,
 *   head 241000: 10409752 */
START_TEST(autoformer_t_extremes)
{
    sn_space space;
    shipped_space("vit-autoformer-t", &space);
    sn_arch arch;
    sn_arch_smallest(&space, &arch);
    sn_cost cost = sn_space_cost(&space, &arch), check = reference_cost(&space, &arch);
    ck_assert_int_eq(cost.macs, check.macs);
    ck_assert_int_eq(cost.parameters, check.parameters);
    ck_assert_int_eq(cost.macs, 1166536704);
    ck_assert_int_eq(cost.parameters, 5273896);
    sn_arch_largest(&space, &arch);
    cost = sn_space_cost(&space, &arch);
    check = reference_cost(&space, &arch);
    ck_assert_int_eq(cost.macs, check.macs);
    ck_assert_int_eq(cost.parameters, check.parameters);
    ck_assert_int_eq(cost.macs, 2263242112);
    ck_assert_int_eq(cost.parameters, 10409752);
}
END_TEST

/* The Fashion-MNIST spaces are trainable on 2 cores and span >= 4x FLOPs. */
START_TEST(shipped_spaces_have_their_budgets)
{
    const double largest_budget[2] = {25e6, 15e6};
    for (int s = 0; s < 2; s++) {
        sn_space space;
        shipped_space(shipped[s], &space);
        sn_arch small, large;
        sn_arch_smallest(&space, &small);
        sn_arch_largest(&space, &large);
        double lo = (double)sn_space_cost(&space, &small).macs;
        double hi = (double)sn_space_cost(&space, &large).macs;
        ck_assert_msg(hi / lo >= 4.0, "%s spans only %.2fx", shipped[s], hi / lo);
        ck_assert_msg(hi <= largest_budget[s], "%s largest %.0f MACs", shipped[s], hi);
    }
}
END_TEST

/* ---- canonical text --------------------------------------------------------- */

START_TEST(text_round_trips)
{
    for (int s = 0; s < SHIPPED_COUNT; s++) {
        sn_space space;
        shipped_space(shipped[s], &space);
        for (uint32_t i = 0; i < 300; i++) {
            sn_arch arch, back;
            sample(&space, 5000 + i, &arch);
            char text[SN_ARCH_TEXT_MAX];
            ck_assert_int_eq(sn_arch_format(&space, &arch, text, sizeof text), SN_OK);
            memset(&back, 0x5A, sizeof back);
            ck_assert_msg(sn_arch_parse(&space, text, &back) == SN_OK, "%s: %s", text,
                          sn_error_message());
            ck_assert_msg(sn_arch_equal(&space, &arch, &back), "%s does not round trip", text);
            /* the parse is canonical: every inactive dimension at choice 0 */
            for (int d = 0; d < space.dimension_count; d++)
                if (!sn_arch_dimension_active(&space, &back, d))
                    ck_assert_int_eq(back.choice[d], 0);
            /* and a non-canonical arch formats like its canonical form */
            sn_arch noisy = arch;
            for (int d = 0; d < space.dimension_count; d++)
                if (!sn_arch_dimension_active(&space, &arch, d))
                    noisy.choice[d] = space.dimensions[d].choice_count - 1;
            char again[SN_ARCH_TEXT_MAX];
            ck_assert_int_eq(sn_arch_format(&space, &noisy, again, sizeof again), SN_OK);
            ck_assert_str_eq(again, text);
        }
    }
}
END_TEST

START_TEST(text_has_its_documented_form)
{
    sn_space space;
    shipped_space("cnn-space", &space);
    sn_arch arch;
    sn_arch_largest(&space, &arch);
    char text[SN_ARCH_TEXT_MAX];
    ck_assert_int_eq(sn_arch_format(&space, &arch, text, sizeof text), SN_OK);
    ck_assert_str_eq(text, "cnn:d=3,3,3;w=24,40,64;k=5,5,5,5,5,5,5,5,5;e=4,4,4,4,4,4,4,4,4");
    sn_arch_smallest(&space, &arch);
    ck_assert_int_eq(sn_arch_format(&space, &arch, text, sizeof text), SN_OK);
    ck_assert_str_eq(text, "cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2");

    shipped_space("vit-autoformer-t", &space);
    ck_assert_int_eq(sn_arch_parse(&space, " vit : m = 4, 3.5 ,4.0,3.5,3.5,3.5,3.5,3.5,3.5,3.5,"
                                           "3.5,3.5;\te=216 ; d = 12 ;h=3,4,3,3,3,3,3,3,3,3,3,4\n",
                                   &arch),
                     SN_OK);
    ck_assert_int_eq(sn_arch_format(&space, &arch, text, sizeof text), SN_OK);
    ck_assert_str_eq(text, "vit:e=216;d=12;h=3,4,3,3,3,3,3,3,3,3,3,4;"
                           "m=4,3.5,4,3.5,3.5,3.5,3.5,3.5,3.5,3.5,3.5,3.5");
    /* too small a buffer is an error, not a cut text */
    char small[16];
    ck_assert_int_eq(sn_arch_format(&space, &arch, small, sizeof small), SN_ERR_ARGUMENT);
    ck_assert_str_eq(small, "");
    assert_message_has("does not fit");
}
END_TEST

START_TEST(text_errors_name_dimension_and_value)
{
    static const struct {
        int vit;
        const char *text, *needle;
    } cases[] = {
        {0, "cnn:d=1,1,1;w=12,22,32;k=3,3,3;e=2,2,2", "stage 2 width 22 is not a choice (20, 30, 40)"},
        {0, "cnn:d=1,4,1;w=12,20,32;k=3,3,3;e=2,2,2", "stage 2 depth 4 is not a choice (1, 2, 3)"},
        {0, "cnn:d=1,2,1;w=12,20,32;k=3,3,3,3;e=2,2,2,2.5", "stage 3 block 1 expand ratio 2.5 is not a choice (2, 3, 4)"},
        {0, "cnn:d=1,2,1;w=12,20,32;k=3,3,7,3;e=2,2,2,2", "stage 2 block 2 kernel 7 is not a choice (3, 5)"},
        {0, "cnn:d=1,2,1;w=12,20,32;k=3,3,3;e=2,2,2,2", "k lists 3 kernels but the depths give 4 active blocks"},
        {0, "cnn:d=1,2,1;w=12,20,32;k=3,3,3,3;e=2,2,2,2,2", "e lists 5 expand ratios but the depths give 4 active blocks"},
        {0, "cnn:d=1,1;w=12,20,32;k=3,3;e=2,2", "d lists 2 depths but the space has 3 stages"},
        {0, "cnn:d=1,1,1;w=12,20,32,40;k=3,3,3;e=2,2,2", "w lists 4 widths but the space has 3 stages"},
        {0, "cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2;x=1", "unknown section 'x'"},
        {0, "cnn:d=1,1,1;w=12,20,32;k=3,3,3", "section 'e' (expand ratios) is missing"},
        {0, "cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2;d=1,1,1", "section 'd' is given twice"},
        {0, "cnn:d=1,1,1;w=12,,32;k=3,3,3;e=2,2,2", "section 'w' has an empty value"},
        {0, "cnn:d=1,1,1;w=12,2O,32;k=3,3,3;e=2,2,2", "'2O' is not a number"},
        {0, "cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2;", "empty section"},
        {0, "cnn:d=1,1,1;w;k=3,3,3;e=2,2,2", "section 'w' lacks '='"},
        {0, "vit:e=48;d=3;h=2,2,2;m=2,2,2", "does not start with 'cnn:'"},
        {0, "", "does not start with 'cnn:'"},
        {1, "vit:e=50;d=3;h=2,2,2;m=2,2,2", "embed 50 is not a choice (48, 64, 80)"},
        {1, "vit:e=48;d=6;h=2,2,2;m=2,2,2", "depth 6 is not a choice (3, 4, 5)"},
        {1, "vit:e=48;d=3;h=2,5,2;m=2,2,2", "layer 2 heads 5 is not a choice (2, 3, 4)"},
        {1, "vit:e=48;d=3;h=2,2,2;m=2,2,3.5", "layer 3 mlp ratio 3.5 is not a choice (2, 3, 4)"},
        {1, "vit:e=48;d=4;h=2,2,2;m=2,2,2,2", "h lists 3 head counts but the depth gives 4 layers"},
        {1, "vit:e=48;d=3;h=2,2,2;m=2,2", "m lists 2 mlp ratios but the depth gives 3 layers"},
        {1, "vit:e=48,64;d=3;h=2,2,2;m=2,2,2", "e lists 2 embed widths but a vit space takes 1 value"},
        {1, "vit:e=48;d=3;h=2,2,2;m=2,2,2;k=3", "unknown section 'k' (vit sections: e, d, h, m)"},
        {1, "cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2", "does not start with 'vit:'"},
        {1, "vit:e=48;d=3;h=2,2,2;m=2,2,inf", "'inf' is not a number"},
    };
    sn_space cnn, vit;
    shipped_space("cnn-space", &cnn);
    shipped_space("vit-space", &vit);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const sn_space *space = cases[i].vit ? &vit : &cnn;
        sn_arch arch, before;
        memset(&arch, 0x33, sizeof arch);
        memcpy(&before, &arch, sizeof before);
        sn_error_clear();
        ck_assert_msg(sn_arch_parse(space, cases[i].text, &arch) == SN_ERR_ARGUMENT,
                      "case %zu parsed", i);
        ck_assert_msg(strchr(sn_error_message(), '\n') == NULL, "case %zu: two lines", i);
        assert_message_has(cases[i].needle);
        ck_assert_msg(memcmp(&arch, &before, sizeof arch) == 0, "case %zu changed arch", i);
    }
    /* values within 1e-9 of a choice match it */
    sn_arch arch;
    ck_assert_int_eq(sn_arch_parse(&vit, "vit:e=48.0000000001;d=3;h=2,2,2;m=2,2,3.9999999999",
                                   &arch),
                     SN_OK);
    ck_assert_int_eq(arch.choice[vit.mlp_dimension[2]], 2);
    ck_assert_int_eq(sn_arch_parse(&vit, "vit:e=48.001;d=3;h=2,2,2;m=2,2,2", &arch),
                     SN_ERR_ARGUMENT);
}
END_TEST

/* ---- [space] configuration ---------------------------------------------------- */

START_TEST(space_from_config)
{
    sn_config config;
    sn_config_defaults(&config);
    sn_space space;
    ck_assert_int_eq(sn_space_from_config(&space, &config, 1, 28, 10), SN_OK);
    ck_assert_int_eq(space.type, SN_SPACE_CNN);
    ck_assert_int_eq(space.stage_count, 3);
    ck_assert_double_eq(space.dimensions[space.width_dimension[1]].choices[0], 20);
    ck_assert_int_eq(space.image_size, 28);
    /* [space] shape keys win over the data set's */
    ck_assert_int_eq(sn_config_set(&config, "space.image_size=32"), SN_OK);
    ck_assert_int_eq(sn_config_set(&config, "space.classes=100"), SN_OK);
    ck_assert_int_eq(sn_space_from_config(&space, &config, 1, 28, 10), SN_OK);
    ck_assert_int_eq(space.image_size, 32);
    ck_assert_int_eq(space.classes, 100);
    ck_assert_int_eq(space.image_channels, 1);
    /* no shape anywhere */
    sn_config_defaults(&config);
    ck_assert_int_eq(sn_space_from_config(&space, &config, 0, 0, 0), SN_ERR_CONFIG);
    assert_message_has("[space] image_channels");
    /* more choices than a dimension holds */
    ck_assert_int_eq(sn_config_set(&config, "space.kernels=1,3,5,7,9,11,13,15,17"),
                     SN_ERR_CONFIG); /* 13.. out of the key's range */
    ck_assert_int_eq(sn_config_set(&config, "space.depths=1,2,3,4,5,6,7,8,9"), SN_OK);
    ck_assert_int_eq(sn_space_from_config(&space, &config, 1, 28, 10), SN_ERR_CONFIG);
    assert_message_has("[space] depths has 9 entries (at most 8)");
    sn_config_defaults(&config);
    ck_assert_int_eq(sn_config_set(&config, "space.stage_strides=2,2"), SN_OK);
    ck_assert_int_eq(sn_space_from_config(&space, &config, 1, 28, 10), SN_ERR_CONFIG);
    assert_message_has("stage_strides");
    /* validation checks [space] relations for a supernet only */
    ck_assert_int_eq(sn_config_validate(&config), SN_OK);
    ck_assert_int_eq(sn_config_set(&config, "model.type=supernet"), SN_OK);
    ck_assert_int_eq(sn_config_validate(&config), SN_ERR_CONFIG);
    assert_message_has("[space] stage_strides");
    sn_config_defaults(&config);
    ck_assert_int_eq(sn_config_set(&config, "model.type=supernet"), SN_OK);
    ck_assert_int_eq(sn_config_set(&config, "space.kernels=3,4"), SN_OK);
    ck_assert_int_eq(sn_config_validate(&config), SN_ERR_CONFIG);
    assert_message_has("[space] kernels");
    /* float lists: blanks, range, form */
    sn_config_defaults(&config);
    ck_assert_int_eq(sn_config_set(&config, "space.mlp_ratios= 3.5 , 4 "), SN_OK);
    ck_assert_int_eq(config.space_mlp_ratios.count, 2);
    ck_assert_double_eq(config.space_mlp_ratios.values[0], 3.5);
    ck_assert_int_eq(sn_config_set(&config, "space.mlp_ratios=3.5;4"), SN_ERR_CONFIG);
    assert_message_has("comma-separated list of numbers");
    ck_assert_int_eq(sn_config_set(&config, "space.width_ratios=0.5,1.5"), SN_ERR_CONFIG);
    assert_message_has("element out of range");
    ck_assert_int_eq(sn_config_set(&config, "space.expand_ratios=2,,3"), SN_ERR_CONFIG);
    assert_message_has("empty list element");
    ck_assert_int_eq(sn_config_set(&config, "space.expand_ratios=2,nan"), SN_ERR_CONFIG);
    ck_assert_int_eq(sn_config_set(&config, "space.expand_ratios="), SN_ERR_CONFIG);
    assert_message_has("empty list");
}
END_TEST

/* ---- PNG ------------------------------------------------------------------------ */

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walks the chunks of a PNG file image: signature, every CRC, IHDR fields,
 * and the inflated IDAT: height rows of a 0 filter byte and the pixels. */
static void check_png(const uint8_t *png, size_t size, const uint8_t *pixels, int width,
                      int height, int channels)
{
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    ck_assert(size > 8);
    ck_assert_mem_eq(png, signature, 8);
    size_t at = 8;
    int chunks = 0, saw_end = 0;
    uint8_t *idat = NULL;
    size_t idat_size = 0;
    while (at + 12 <= size) {
        uint32_t length = get_u32(png + at);
        ck_assert(at + 12 + length <= size);
        const uint8_t *type = png + at + 4, *data = png + at + 8;
        uLong crc = crc32(crc32(0L, Z_NULL, 0), type, 4 + length);
        ck_assert_uint_eq(get_u32(data + length), (uint32_t)crc);
        if (chunks == 0) {
            ck_assert(memcmp(type, "IHDR", 4) == 0);
            ck_assert_uint_eq(length, 13);
            ck_assert_uint_eq(get_u32(data), (uint32_t)width);
            ck_assert_uint_eq(get_u32(data + 4), (uint32_t)height);
            ck_assert_uint_eq(data[8], 8);
            ck_assert_uint_eq(data[9], channels == 1 ? 0 : 2);
            ck_assert_uint_eq(data[10] | data[11] | data[12], 0);
        } else if (memcmp(type, "IDAT", 4) == 0) {
            idat = realloc(idat, idat_size + length);
            memcpy(idat + idat_size, data, length);
            idat_size += length;
        } else if (memcmp(type, "IEND", 4) == 0) {
            ck_assert_uint_eq(length, 0);
            saw_end = 1;
        }
        at += 12 + length;
        chunks++;
    }
    ck_assert(saw_end);
    ck_assert_uint_eq(at, size);
    size_t row = 1 + (size_t)width * channels;
    uLongf raw_size = (uLongf)(row * height + 16);
    uint8_t *raw = malloc(raw_size);
    ck_assert_int_eq(uncompress(raw, &raw_size, idat, (uLong)idat_size), Z_OK);
    ck_assert_uint_eq(raw_size, row * height);
    for (int y = 0; y < height; y++) {
        ck_assert_uint_eq(raw[y * row], 0);
        ck_assert_mem_eq(raw + y * row + 1, pixels + (size_t)y * (row - 1), row - 1);
    }
    free(raw);
    free(idat);
}

START_TEST(png_is_well_formed)
{
    for (int channels = 1; channels <= 3; channels += 2) {
        const int width = 37, height = 23;
        uint8_t *pixels = malloc((size_t)width * height * channels);
        for (int i = 0; i < width * height * channels; i++)
            pixels[i] = (uint8_t)(i * 7 + i / 13);
        uint8_t *png;
        size_t size;
        ck_assert_int_eq(sn_png_encode(pixels, width, height, channels, &png, &size), SN_OK);
        check_png(png, size, pixels, width, height, channels);

        /* the file holds the same bytes */
        char path[256];
        snprintf(path, sizeof path, "%s/shiftnas-test-png-%d.png",
                 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                 (int)getpid());
        ck_assert_int_eq(sn_png_write(path, pixels, width, height, channels), SN_OK);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        uint8_t *back = malloc(size + 1);
        ck_assert_uint_eq(fread(back, 1, size + 1, f), size);
        fclose(f);
        unlink(path);
        ck_assert_mem_eq(back, png, size);
        free(back);
        free(png);
        free(pixels);
    }
    uint8_t pixel[4] = {0};
    uint8_t *png;
    size_t size;
    ck_assert_int_eq(sn_png_encode(pixel, 1, 1, 2, &png, &size), SN_ERR_ARGUMENT);
    ck_assert_int_eq(sn_png_encode(pixel, 0, 1, 1, &png, &size), SN_ERR_ARGUMENT);
    ck_assert_int_eq(sn_png_write("/nonexistent/dir/x.png", pixel, 1, 1, 1), SN_ERR_IO);
    assert_message_has("/nonexistent/dir/x.png");
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("space");
    TCase *flops = tcase_create("flops");
    tcase_add_test(flops, cnn_hand_count);
    tcase_add_test(flops, vit_hand_count);
    tcase_add_test(flops, soft_at_one_hot_is_exact);
    tcase_add_test(flops, gradient_matches_finite_differences);
    tcase_add_test(flops, raising_a_choice_raises_macs);
    tcase_add_test(flops, autoformer_t_extremes);
    tcase_add_test(flops, shipped_spaces_have_their_budgets);
    suite_add_tcase(suite, flops);
    TCase *text = tcase_create("text");
    tcase_add_test(text, text_round_trips);
    tcase_add_test(text, text_has_its_documented_form);
    tcase_add_test(text, text_errors_name_dimension_and_value);
    suite_add_tcase(suite, text);
    TCase *config = tcase_create("config");
    tcase_add_test(config, space_from_config);
    suite_add_tcase(suite, config);
    TCase *png = tcase_create("png");
    tcase_add_test(png, png_is_well_formed);
    suite_add_tcase(suite, png);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
