/*
 * Every shipped search space (jobs/configs/cnn-space.ini, vit-space.ini,
 * vit-autoformer-t.ini): a subnet run by the supernet on slices of the shared
 * weights computes exactly what the same network built on its own computes
 * (a supernet of sn_space_restrict(space, arch), with the slices copied in):
 * logits and every weight gradient within 1e-5 relative (whole tensor:
 * max |a - b| / max |b|; the two differ only by the order BLIS sums in, as
 * their strides differ), and the supernet's gradient is exactly 0 outside the
 * subnet's slices. Smallest, largest and uniformly sampled subnets.
 *
 * The supernet's parameters are perturbed from their initial values first:
 * batch-norm scales that start at 0 (residual branches, BigNAS style) would
 * otherwise hide a wrong slice of a whole branch.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/network.h"
#include "shiftnas/rng.h"
#include "shiftnas/settings.h"
#include "shiftnas/space.h"
#include "shiftnas/tensor.h"
#include "supernet_slices.h"

static void load_space(const char *name, sn_config *config, sn_space *space)
{
    const char *source = getenv("SHIFTNAS_SOURCE_DIR");
    ck_assert_msg(source != NULL, "SHIFTNAS_SOURCE_DIR is not set (run through make check)");
    char path[1024];
    snprintf(path, sizeof path, "%s/jobs/configs/%s", source, name);
    sn_config_defaults(config);
    ck_assert_msg(sn_config_load_file(config, path) == SN_OK, "%s: %s", path, sn_error_message());
    /* Dropout and drop-path draw per position; off, so both runs match. */
    config->vit_dropout = 0.0;
    config->vit_drop_path = 0.0;
    /* The Fashion-MNIST shape where [space] leaves it to the data set. */
    ck_assert_msg(sn_space_from_config(space, config, 1, 28, 10) == SN_OK, "%s: %s", name,
                  sn_error_message());
}

static void fill_normal(float *x, int64_t n, float scale, uint32_t item)
{
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 17, SN_RNG_TEST, 0, item);
    for (int64_t i = 0; i < n; i++)
        x[i] = scale * sn_rng_normal(&stream);
}

static sn_network *build(const sn_space *space, const sn_config *config, int64_t batch)
{
    sn_layer_settings layers;
    sn_layer_settings_from_config(&layers, config);
    sn_network *network = NULL;
    ck_assert_msg(sn_network_create_supernet(&network, space, &layers, batch) == SN_OK, "%s",
                  sn_error_message());
    sn_network_initialize(network, 3);
    return network;
}

/* Runs one training-mode forward and a backward of a fixed logit gradient. */
static const float *forward_backward(sn_network *network, const float *images,
                                     const float *dlogits, int64_t batch)
{
    sn_forward_mode mode = {1, 5, 0, 0};
    sn_network_zero_gradients(network);
    const float *logits = sn_network_forward(network, images, batch, &mode);
    sn_network_backward(network, dlogits, batch);
    return logits;
}

static void check_space(const char *name, int64_t batch, int random_subnets)
{
    sn_config config;
    sn_space space;
    load_space(name, &config, &space);
    sn_network *big = build(&space, &config, batch);
    const sn_parameter_table *table = sn_network_parameter_table(big);
    float *params = sn_network_parameters(big);
    float *noise = malloc(table->total * sizeof(float));
    fill_normal(noise, (int64_t)table->total, 0.05f, 1);
    for (size_t i = 0; i < table->total; i++)
        params[i] += noise[i];
    free(noise);

    const int64_t image_floats =
        batch * space.image_channels * space.image_size * space.image_size;
    float *images = malloc((size_t)image_floats * sizeof(float));
    float *dlogits = malloc((size_t)(batch * space.classes) * sizeof(float));
    float *logits = malloc((size_t)(batch * space.classes) * sizeof(float));
    fill_normal(images, image_floats, 1.0f, 2);
    fill_normal(dlogits, batch * space.classes, 0.1f, 3);

    const int count = 2 + random_subnets;
    for (int k = 0; k < count; k++) {
        sn_arch arch;
        sn_rng_stream stream;
        sn_rng_stream_init(&stream, 23, SN_RNG_SAMPLER, 0, (uint32_t)k);
        trial_architecture(&space, k, &stream, &arch);
        char text[SN_ARCH_TEXT_MAX];
        ck_assert_int_eq(sn_arch_format(&space, &arch, text, sizeof text), SN_OK);

        ck_assert_int_eq(sn_network_set_architecture(big, &arch), SN_OK);
        memcpy(logits, forward_backward(big, images, dlogits, batch),
               (size_t)(batch * space.classes) * sizeof(float));

        sn_space single;
        ck_assert_int_eq(sn_space_restrict(&space, &arch, &single), SN_OK);
        sn_network *small = build(&single, &config, batch);
        copy_slices(big, small);
        const float *alone = forward_backward(small, images, dlogits, batch);

        double d = relative_difference(logits, alone, batch * space.classes);
        ck_assert_msg(d <= 1e-5, "%s %s: logits differ by %.3g", name, text, d);
        const char *where = "";
        d = worst_gradient_difference(big, small, &where);
        ck_assert_msg(d <= 1e-5, "%s %s: gradient of %s differs by %.3g", name, text, where, d);
        int64_t outside = nonzero_outside(big, small);
        ck_assert_msg(outside == 0, "%s %s: %lld gradients outside the subnet are not 0", name,
                      text, (long long)outside);
        ck_assert_int_eq(sn_network_macs(big), sn_space_cost(&space, &arch).macs);
        sn_network_free(small);
    }
    free(images);
    free(dlogits);
    free(logits);
    sn_network_free(big);
}

START_TEST(cnn_space_subnets_equal_subnets_built_alone)
{
    check_space("cnn-space.ini", 4, 10);
}
END_TEST

START_TEST(vit_space_subnets_equal_subnets_built_alone)
{
    check_space("vit-space.ini", 4, 10);
}
END_TEST

/* 224x224 images and 1000 classes: one image, and two sampled subnets. */
START_TEST(autoformer_t_subnets_equal_subnets_built_alone)
{
    check_space("vit-autoformer-t.ini", 1, 2);
}
END_TEST

int main(void)
{
    sn_blas_setup_for(1, SN_BLAS_SMALL_PRODUCTS);
    Suite *suite = suite_create("shipped_spaces");
    TCase *tc = tcase_create("shipped_spaces");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, cnn_space_subnets_equal_subnets_built_alone);
    tcase_add_test(tc, vit_space_subnets_equal_subnets_built_alone);
    tcase_add_test(tc, autoformer_t_subnets_equal_subnets_built_alone);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
