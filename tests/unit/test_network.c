/*
 * Whole networks: the fixed CNN and ViT backward passes against finite
 * differences of the training loss, shape errors from the configuration, and
 * deterministic initialisation.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/network.h"
#include "shiftnas/nn.h"
#include "shiftnas/settings.h"

typedef struct {
    sn_network *network;
    float *images;
    int32_t *labels;
    float *probs;
    int64_t batch;
    int classes;
} network_case;

/* The training loss (label smoothing 0.1) of one training-mode forward. */
static double network_loss(void *context)
{
    network_case *c = context;
    sn_forward_mode mode = {1, 7, 3, 0};
    const float *logits = sn_network_forward(c->network, c->images, c->batch, &mode);
    return sn_softmax_cross_entropy_forward(c->probs, logits, c->labels, c->batch, c->classes,
                                            0.1f, NULL);
}

/* The network of a configuration, as the trainer builds it. */
static int create_from_config(sn_network **network, const sn_config *config,
                              const sn_input_shape *shape, int64_t batch)
{
    sn_network_settings settings;
    int status = sn_network_settings_from_config(&settings, config, shape);
    return status != SN_OK ? status : sn_network_create(network, &settings, shape, batch);
}

static void setup_case(network_case *c, sn_config *config, int channels, int size, int classes,
                       int64_t batch)
{
    sn_input_shape shape = {channels, size, size, classes};
    ck_assert_int_eq(create_from_config(&c->network, config, &shape, batch), SN_OK);
    sn_network_initialize(c->network, 11);
    c->batch = batch;
    c->classes = classes;
    int64_t image_floats = batch * channels * size * size;
    c->images = malloc((size_t)image_floats * sizeof(float));
    c->labels = malloc((size_t)batch * sizeof(int32_t));
    c->probs = malloc((size_t)(batch * classes) * sizeof(float));
    gradcheck_fill_normal(c->images, image_floats, 1.0f, 1);
    for (int64_t n = 0; n < batch; n++)
        c->labels[n] = (int32_t)(n % classes);
}

static void teardown_case(network_case *c)
{
    sn_network_free(c->network);
    free(c->images);
    free(c->labels);
    free(c->probs);
}

/* Analytic gradients of every parameter entry against central differences.
 * The parameters are first redrawn from N(0, 0.5^2): at the real
 * initialisation (std 0.02 for the ViT) the residual stream is so small that
 * layer norm makes the loss strongly curved at the scale of any step float32
 * can resolve. float32 forward passes through several layers: h = 2e-3 and a
 * tolerance of 3e-2 relative plus 3e-4 absolute (loss units per parameter). */
static int check_all_parameters(network_case *c, int64_t per_entry)
{
    const sn_parameter_table *table = sn_network_parameter_table(c->network);
    float *params = sn_network_parameters(c->network);
    for (int e = 0; e < table->count; e++)
        gradcheck_fill_normal(params + table->entries[e].offset, (int64_t)table->entries[e].count,
                              0.5f, 100 + (uint32_t)e);
    sn_network_zero_gradients(c->network);
    network_loss(c);
    float *dlogits = malloc((size_t)(c->batch * c->classes) * sizeof(float));
    sn_softmax_cross_entropy_backward(dlogits, c->probs, c->labels, c->batch, c->classes, 0.1f, 1.0f);
    sn_network_backward(c->network, dlogits, c->batch);
    free(dlogits);
    float *grads = sn_network_gradients(c->network);
    /* The gradients are read while the parameters are perturbed, so copy them. */
    float *analytic = malloc(table->total * sizeof(float));
    memcpy(analytic, grads, table->total * sizeof(float));
    int failures = 0;
    for (int e = 0; e < table->count; e++) {
        const sn_parameter_entry *entry = &table->entries[e];
        failures += gradcheck_compare(entry->name, params + entry->offset, analytic + entry->offset,
                                      (int64_t)entry->count, per_entry, 2e-3, 3e-2, 3e-4,
                                      network_loss, c);
    }
    free(analytic);
    return failures;
}

START_TEST(cnn_gradients_match_finite_differences)
{
    sn_config config;
    sn_config_defaults(&config);
    strcpy(config.model_type, "cnn");
    config.cnn_channels.count = 2;
    config.cnn_channels.values[0] = 4;
    config.cnn_channels.values[1] = 6;
    config.cnn_strides.count = 2;
    config.cnn_strides.values[0] = 1;
    config.cnn_strides.values[1] = 2;
    config.cnn_kernel = 3;
    strcpy(config.cnn_activation, "hardswish"); /* smooth except at +-3: fewer kinks than ReLU */
    network_case c;
    setup_case(&c, &config, 2, 6, 3, 4);
    ck_assert_int_eq(check_all_parameters(&c, 24), 0);
    teardown_case(&c);
}
END_TEST

START_TEST(vit_gradients_match_finite_differences)
{
    sn_config config;
    sn_config_defaults(&config);
    strcpy(config.model_type, "vit");
    config.vit_patch = 2;
    config.vit_embed_dim = 8;
    config.vit_depth = 2;
    config.vit_heads = 2;
    config.vit_mlp_hidden = 12;
    config.vit_dropout = 0.2;  /* masks are keyed by (seed, step): the same in every probe */
    config.vit_drop_path = 0.3;
    network_case c;
    setup_case(&c, &config, 1, 6, 3, 3);
    ck_assert_int_eq(check_all_parameters(&c, 16), 0);
    teardown_case(&c);
}
END_TEST

START_TEST(vit_rejects_a_patch_that_does_not_divide_the_image)
{
    sn_config config;
    sn_config_defaults(&config);
    strcpy(config.model_type, "vit");
    config.vit_patch = 5;
    sn_input_shape shape = {1, 28, 28, 10};
    sn_network *network = NULL;
    ck_assert_int_eq(create_from_config(&network, &config, &shape, 8), SN_ERR_CONFIG);
    ck_assert_ptr_null(network);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "patch"));
}
END_TEST

START_TEST(cnn_rejects_mismatched_lists)
{
    sn_config config;
    sn_config_defaults(&config);
    config.cnn_strides.count = 1;
    sn_input_shape shape = {1, 28, 28, 10};
    sn_network *network = NULL;
    ck_assert_int_eq(create_from_config(&network, &config, &shape, 8), SN_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "strides"));
}
END_TEST

/* The settings alone build a network, without a configuration: the same
 * network as the configuration that says the same, and a block count out of
 * range is an error, not a write past the blocks. */
START_TEST(cnn_settings_build_without_a_configuration)
{
    sn_network_settings settings = {.type = SN_NETWORK_CNN};
    settings.cnn = (sn_cnn_settings){.block_count = 3, .channels = {32, 64, 128},
                                     .strides = {1, 2, 2}, .kernel = 3};
    settings.layers.bn_momentum = 0.1;
    sn_config config;
    sn_config_defaults(&config);
    sn_input_shape shape = {1, 28, 28, 10};
    sn_network *a = NULL, *b = NULL;
    ck_assert_int_eq(sn_network_create(&a, &settings, &shape, 2), SN_OK);
    ck_assert_int_eq(create_from_config(&b, &config, &shape, 2), SN_OK);
    ck_assert_int_eq(sn_network_macs(a), sn_network_macs(b));
    ck_assert_uint_eq(sn_network_parameter_table(a)->total, sn_network_parameter_table(b)->total);
    sn_network_free(a);
    sn_network_free(b);
    settings.cnn.block_count = SN_CNN_MAX_BLOCKS + 1;
    sn_network *c = NULL;
    ck_assert_int_eq(sn_network_create(&c, &settings, &shape, 2), SN_ERR_CONFIG);
    ck_assert_ptr_null(c);
}
END_TEST

/* Same seed, same bits; another seed, other weights. */
START_TEST(initialisation_is_deterministic)
{
    sn_config config;
    sn_config_defaults(&config);
    sn_input_shape shape = {1, 28, 28, 10};
    sn_network *a = NULL, *b = NULL;
    ck_assert_int_eq(create_from_config(&a, &config, &shape, 4), SN_OK);
    ck_assert_int_eq(create_from_config(&b, &config, &shape, 4), SN_OK);
    sn_network_initialize(a, 5);
    sn_network_initialize(b, 5);
    size_t bytes = sn_network_parameter_table(a)->total * sizeof(float);
    ck_assert_mem_eq(sn_network_parameters(a), sn_network_parameters(b), bytes);
    sn_network_initialize(b, 6);
    ck_assert_int_ne(memcmp(sn_network_parameters(a), sn_network_parameters(b), bytes), 0);
    sn_network_free(a);
    sn_network_free(b);
}
END_TEST

/* The MAC count of the default CNN, by hand: 3x3 convolutions 1->32 at 28x28,
 * 32->64 at 14x14, 64->128 at 7x7, then a 128->10 linear layer. */
START_TEST(cnn_mac_count_by_hand)
{
    sn_config config;
    sn_config_defaults(&config);
    sn_input_shape shape = {1, 28, 28, 10};
    sn_network *n = NULL;
    ck_assert_int_eq(create_from_config(&n, &config, &shape, 2), SN_OK);
    int64_t conv = 32LL * 1 * 9 * 784 + 64LL * 32 * 9 * 196 + 128LL * 64 * 9 * 49;
    ck_assert_int_eq(sn_network_convolution_macs(n), conv);
    ck_assert_int_eq(sn_network_macs(n), conv + 128 * 10);
    sn_network_free(n);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("network");
    TCase *gradients = tcase_create("gradients");
    tcase_set_timeout(gradients, 60);
    tcase_add_test(gradients, cnn_gradients_match_finite_differences);
    tcase_add_test(gradients, vit_gradients_match_finite_differences);
    suite_add_tcase(suite, gradients);
    TCase *build = tcase_create("build");
    tcase_add_test(build, vit_rejects_a_patch_that_does_not_divide_the_image);
    tcase_add_test(build, cnn_rejects_mismatched_lists);
    tcase_add_test(build, cnn_settings_build_without_a_configuration);
    tcase_add_test(build, initialisation_is_deterministic);
    tcase_add_test(build, cnn_mac_count_by_hand);
    suite_add_tcase(suite, build);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
