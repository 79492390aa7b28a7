/*
 * Benchmarks of the training engine (make bench; figures in doc/performance.md).
 *
 *   bench_shiftnas gemm                 single-thread sgemm peak through sn_gemm
 *   bench_shiftnas gemm-blis-choice     the same with the kernels BLIS picks by
 *                                       itself (sn_blas_setup not called)
 *   bench_shiftnas conv CONFIG          GFLOP/s of the CNN's convolutions, forward
 *                                       and both backward products
 *   bench_shiftnas train CONFIG         training images/s of the configured
 *                                       network and peak memory against the
 *                                       bytes it accounts for
 *   bench_shiftnas blis-arch CONFIG     the BLIS_ARCH_TYPE value `shiftnas train`
 *                                       sets for CONFIG (none: BLIS's own pick),
 *                                       the kernels' name and why (CPU flags),
 *                                       for running PyTorch on the same kernels
 *   bench_shiftnas kernels [CONFIG]     the BLIS configuration shiftnas chose (for
 *                                       CONFIG) and why, then sgemm GFLOP/s at
 *                                       supernet shapes under every configuration
 *                                       BLIS was built with (kernel_choice.c)
 *   bench_shiftnas layers CONFIG ARCH   one subnet's training step layer by layer,
 *                                       against a roofline (layer_roofline.c)
 *   bench_shiftnas supernet CONFIG      training-step time of the smallest, a
 *                                       middle and the largest subnet of the
 *                                       configured space (sliced mode), their
 *                                       time per MAC, and the masked mode's step
 *
 * Every mode prints "key value" lines that tests/bench/run-bench.sh collects.
 * Inputs are synthetic (normal noise, fixed labels): the figures measure the
 * engine, not the data pipeline, and the PyTorch baseline does the same.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <blis.h>

#include "kernel_choice.h"
#include "layer_roofline.h"
#include "measure.h"
#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/network.h"
#include "shiftnas/nn.h"
#include "shiftnas/optim.h"
#include "shiftnas/rng.h"
#include "shiftnas/settings.h"
#include "shiftnas/space.h"
#include "shiftnas/tensor.h"
#include "shiftnas/train.h"

/* Best of several repetitions: the machine is shared and noisy (+-20%). */
static int bench_gemm(void)
{
    const int sizes[][3] = {{1024, 1024, 1024}, {64, 25088, 288}, {128, 6272, 576}};
    for (int s = 0; s < 3; s++) {
        int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
        float *a = sn_alloc_floats((size_t)m * k), *b = sn_alloc_floats((size_t)k * n);
        float *c = sn_alloc_floats((size_t)m * n);
        bench_fill_normal(a, (int64_t)m * k, 1);
        bench_fill_normal(b, (int64_t)k * n, 2);
        double best = 1e30;
        for (int rep = 0; rep < 7; rep++) {
            double t0 = sn_now();
            sn_gemm(1.0f, sn_matrix_make(a, m, k, k), sn_matrix_make(b, k, n, n), 0.0f,
                    sn_matrix_make(c, m, n, n));
            double t = sn_now() - t0;
            best = t < best ? t : best;
        }
        printf("gemm_%dx%dx%d_gflops %.1f\n", m, n, k, 2.0 * m * n * k / best / 1e9);
        if (s == 0)
            printf("gemm_kernels %s\n", sn_blas_kernel_name());
        sn_free(a);
        sn_free(b);
        sn_free(c);
    }
    return 0;
}

/* Each convolution of the fixed CNN at the training batch size: forward,
 * input-gradient and weight-gradient products, 2 FLOPs per multiply-add. */
static int bench_conv(const char *path)
{
    sn_config config;
    if (bench_load_config(&config, path))
        return 1;
    int64_t batch = config.batch_size, channels = 1, size = 28;
    double total_flops = 0, total_seconds = 0;
    for (int i = 0; i < config.cnn_channels.count; i++) {
        sn_conv2d_dims d = {batch, channels, config.cnn_channels.values[i], size, size,
                            (int)config.cnn_kernel, (int)config.cnn_strides.values[i],
                            (int)config.cnn_kernel / 2, 1};
        if (sn_conv2d_dims_check(&d) != SN_OK)
            return bench_fail("conv shape");
        int64_t out = sn_conv2d_out_size(size, d.kernel, d.stride, d.padding);
        int64_t in_floats = channels * batch * size * size;
        int64_t out_floats = d.out_channels * batch * out * out;
        int64_t cols = channels * d.kernel * d.kernel;
        float *in = sn_alloc_floats((size_t)in_floats), *din = sn_alloc_floats((size_t)in_floats);
        float *o = sn_alloc_floats((size_t)out_floats), *dout = sn_alloc_floats((size_t)out_floats);
        float *w = sn_alloc_floats((size_t)(d.out_channels * cols));
        float *dw = sn_alloc_floats((size_t)(d.out_channels * cols));
        float *ws = sn_alloc_floats((size_t)sn_conv2d_workspace_floats(&d) + 1);
        bench_fill_normal(in, in_floats, 4);
        bench_fill_normal(dout, out_floats, 5);
        bench_fill_normal(w, d.out_channels * cols, 6);
        sn_matrix wv = sn_matrix_make(w, d.out_channels, cols, cols);
        sn_matrix dwv = sn_matrix_make(dw, d.out_channels, cols, cols);
        /* The first layer's input is the image: no input gradient, as in training. */
        float *din_or_null = i == 0 ? NULL : din;
        double best = 1e30;
        for (int rep = 0; rep < 7; rep++) {
            double t0 = sn_now();
            sn_conv2d_forward(o, in, wv, NULL, &d, ws);
            sn_conv2d_backward(din_or_null, dwv, NULL, dout, in, wv, &d, ws);
            double t = sn_now() - t0;
            best = t < best ? t : best;
        }
        double macs = (double)d.out_channels * cols * out * out * batch;
        double flops = 2.0 * macs * (i == 0 ? 2 : 3);
        printf("conv%d_%lldto%lld_k%d_s%d_gflops %.1f\n", i, (long long)channels,
               (long long)d.out_channels, d.kernel, d.stride, flops / best / 1e9);
        total_flops += flops;
        total_seconds += best;
        channels = d.out_channels;
        size = out;
        sn_free(in); sn_free(din); sn_free(o); sn_free(dout); sn_free(w); sn_free(dw); sn_free(ws);
    }
    printf("conv_total_gflops %.1f\n", total_flops / total_seconds / 1e9);
    return 0;
}

static long peak_rss_kib(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

/* Best of 3 timings of `steps` full training steps (forward, label-smoothed
 * cross-entropy, backward, AdamW over the whole slab) in the network's
 * current mode, in seconds per step. */
static double time_steps(sn_network *network, sn_optimizer *optimizer, const float *images,
                         const int32_t *labels, float *probs, float *dlogits, int64_t batch,
                         int classes, int steps)
{
    const sn_parameter_table *table = sn_network_parameter_table(network);
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = 0;
        for (int step = -3; step < steps; step++) { /* 3 warm-up steps */
            if (step == 0)
                t0 = sn_now();
            sn_network_zero_gradients(network);
            sn_forward_mode mode = {1, 1, (uint64_t)(step + 3), 0};
            const float *logits = sn_network_forward(network, images, batch, &mode);
            sn_softmax_cross_entropy_forward(probs, logits, labels, batch, classes, 0.1f, NULL);
            sn_softmax_cross_entropy_backward(dlogits, probs, labels, batch, classes, 0.1f, 1.0f);
            sn_network_backward(network, dlogits, batch);
            sn_optimizer_step(optimizer, table, sn_network_parameters(network),
                              sn_network_gradients(network), 1e-3f);
        }
        double t = (sn_now() - t0) / steps;
        best = t < best ? t : best;
    }
    return best;
}

static int bench_train(const char *path, int steps)
{
    sn_config config;
    if (bench_load_config(&config, path))
        return 1;
    long rss_before = peak_rss_kib();
    int64_t batch = config.batch_size;
    sn_input_shape shape = {1, 28, 28, 10};
    sn_network_settings network_settings;
    sn_network *network = NULL;
    if (sn_network_settings_from_config(&network_settings, &config, &shape) != SN_OK ||
        sn_network_create(&network, &network_settings, &shape, batch) != SN_OK)
        return bench_fail("network");
    sn_network_initialize(network, 1);
    const sn_parameter_table *table = sn_network_parameter_table(network);
    sn_optimizer optimizer;
    sn_optimizer_settings settings = {SN_OPTIMIZER_ADAMW, 0.9f, 1, 0.9f, 0.999f, 1e-8f, 0.05f};
    if (sn_optimizer_init(&optimizer, &settings, table) != SN_OK)
        return bench_fail("optimizer");
    int64_t image_floats = batch * 28 * 28;
    float *images = sn_alloc_floats((size_t)image_floats);
    float *probs = sn_alloc_floats((size_t)batch * 10), *dlogits = sn_alloc_floats((size_t)batch * 10);
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    bench_fill_normal(images, image_floats, 7);
    for (int64_t n = 0; n < batch; n++)
        labels[n] = (int32_t)(n % 10);
    double seconds = time_steps(network, &optimizer, images, labels, probs, dlogits, batch, 10,
                                steps);
    double accounted = 4.0 * ((double)table->total * 4 /* parameters, gradients, 2 moments */ +
                              (double)sn_network_activation_floats(network) + (double)image_floats +
                              2.0 * batch * 10);
    printf("model %s\n", config.model_type);
    printf("batch %lld\n", (long long)batch);
    printf("macs_per_image %lld\n", (long long)sn_network_macs(network));
    printf("parameters_floats %zu\n", table->total);
    printf("activation_floats %lld\n", (long long)sn_network_activation_floats(network));
    printf("images_per_second %.1f\n", (double)batch / seconds);
    printf("accounted_mib %.1f\n", accounted / 1048576.0);
    printf("peak_rss_mib %.1f\n", peak_rss_kib() / 1024.0);
    printf("rss_before_network_mib %.1f\n", rss_before / 1024.0);
    printf("blis_kernels %s\n", sn_blas_kernel_name());
    sn_free(images); sn_free(probs); sn_free(dlogits); free(labels);
    sn_optimizer_free(&optimizer);
    sn_network_free(network);
    return 0;
}

/* The middle subnet: the median by MACs of 201 uniform samples (keyed by
 * seed 1, SN_RNG_SAMPLER, item i), so it is the same in every run. */
static void median_architecture(const sn_space *space, sn_arch *median)
{
    enum { SAMPLES = 201 };
    static sn_arch archs[SAMPLES];
    int64_t macs[SAMPLES];
    int order[SAMPLES];
    for (int i = 0; i < SAMPLES; i++) {
        sn_rng_stream stream;
        sn_rng_stream_init(&stream, 1, SN_RNG_SAMPLER, 0, (uint32_t)i);
        sn_arch_sample_uniform(space, &stream, &archs[i]);
        macs[i] = sn_space_cost(space, &archs[i]).macs;
        order[i] = i;
    }
    for (int i = 1; i < SAMPLES; i++) /* insertion sort by MACs */
        for (int j = i; j > 0 && macs[order[j]] < macs[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    *median = archs[order[SAMPLES / 2]];
}

static int bench_supernet(const char *path, int steps)
{
    sn_config config;
    if (bench_load_config(&config, path))
        return 1;
    sn_space space;
    if (sn_space_from_config(&space, &config, 1, 28, 10) != SN_OK)
        return bench_fail("space");
    int64_t batch = config.batch_size;
    sn_layer_settings layers;
    sn_layer_settings_from_config(&layers, &config);
    sn_network *network = NULL;
    if (sn_network_create_supernet(&network, &space, &layers, batch) != SN_OK)
        return bench_fail("supernet");
    sn_network_initialize(network, 1);
    const sn_parameter_table *table = sn_network_parameter_table(network);
    sn_optimizer optimizer;
    sn_optimizer_settings settings = {SN_OPTIMIZER_ADAMW, 0.9f, 1, 0.9f, 0.999f, 1e-8f, 0.05f};
    if (sn_optimizer_init(&optimizer, &settings, table) != SN_OK)
        return bench_fail("optimizer");
    const int classes = space.classes;
    int64_t image_floats = batch * space.image_channels * space.image_size * space.image_size;
    float *images = sn_alloc_floats((size_t)image_floats);
    float *probs = sn_alloc_floats((size_t)(batch * classes));
    float *dlogits = sn_alloc_floats((size_t)(batch * classes));
    float *soft = sn_alloc_floats((size_t)space.choice_total);
    double *one_hot = malloc((size_t)space.choice_total * sizeof *one_hot);
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    bench_fill_normal(images, image_floats, 7);
    for (int64_t n = 0; n < batch; n++)
        labels[n] = (int32_t)(n % classes);

    const char *names[3] = {"smallest", "middle", "largest"};
    sn_arch archs[3];
    sn_arch_smallest(&space, &archs[0]);
    median_architecture(&space, &archs[1]);
    sn_arch_largest(&space, &archs[2]);
    double seconds[3], per_mac[3];
    printf("space %s\nbatch %lld\n", space.type == SN_SPACE_CNN ? "cnn" : "vit",
           (long long)batch);
    for (int i = 0; i < 3; i++) {
        char text[SN_ARCH_TEXT_MAX];
        if (sn_network_set_architecture(network, &archs[i]) != SN_OK ||
            sn_arch_format(&space, &archs[i], text, sizeof text) != SN_OK)
            return bench_fail("architecture");
        int64_t macs = sn_space_cost(&space, &archs[i]).macs;
        seconds[i] = time_steps(network, &optimizer, images, labels, probs, dlogits, batch,
                                classes, steps);
        per_mac[i] = seconds[i] / ((double)macs * (double)batch) * 1e12; /* ps per MAC */
        printf("%s_arch %s\n", names[i], text);
        printf("%s_macs %lld\n", names[i], (long long)macs);
        printf("%s_ms_per_step %.3f\n", names[i], 1e3 * seconds[i]);
        printf("%s_ps_per_mac %.2f\n", names[i], per_mac[i]);
    }
    double lo = per_mac[0], hi = per_mac[0];
    for (int i = 1; i < 3; i++) {
        lo = per_mac[i] < lo ? per_mac[i] : lo;
        hi = per_mac[i] > hi ? per_mac[i] : hi;
    }
    printf("time_per_mac_spread %.2f\n", hi / lo);
    /* Masked mode at the largest subnet's one-hot: the same network as the
     * sliced largest, so the ratio is the masks' own cost. */
    sn_arch_one_hot(&space, &archs[2], one_hot);
    for (int j = 0; j < space.choice_total; j++)
        soft[j] = (float)one_hot[j];
    if (sn_network_set_soft_architecture(network, soft) != SN_OK)
        return bench_fail("masked mode");
    double masked = time_steps(network, &optimizer, images, labels, probs, dlogits, batch, classes,
                               steps);
    printf("masked_ms_per_step %.3f\n", 1e3 * masked);
    printf("masked_over_largest %.2f\n", masked / seconds[2]);
    sn_free(images);
    sn_free(probs);
    sn_free(dlogits);
    sn_free(soft);
    free(one_hot);
    free(labels);
    sn_optimizer_free(&optimizer);
    sn_network_free(network);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "gemm-blis-choice") == 0) {
        bli_thread_set_num_threads(1);
        return bench_gemm();
    }
    if (argc == 2 && strcmp(argv[1], "kernels-one") == 0)
        return bench_kernels_one();
    /* The same kernels as `shiftnas train` chooses for the configuration. */
    sn_blas_products products = SN_BLAS_LARGE_PRODUCTS;
    if (argc >= 3 && (strcmp(argv[1], "train") == 0 || strcmp(argv[1], "supernet") == 0 ||
                      strcmp(argv[1], "blis-arch") == 0 || strcmp(argv[1], "kernels") == 0 ||
                      strcmp(argv[1], "layers") == 0)) {
        sn_config config;
        if (bench_load_config(&config, argv[2]))
            return 1;
        products = sn_train_blas_products(&config);
    }
    const char *arch_before = getenv("BLIS_ARCH_TYPE");
    if (sn_blas_setup_for(1, products) != SN_OK)
        return bench_fail("blas");
    if (argc == 3 && strcmp(argv[1], "blis-arch") == 0) {
        bench_print_blis_choice(arch_before, products);
        return 0;
    }
    if ((argc == 2 || argc == 3) && strcmp(argv[1], "kernels") == 0) {
        bench_print_blis_choice(arch_before, products);
        return bench_kernels(sn_blas_kernel_name());
    }
    if (argc == 4 && strcmp(argv[1], "layers") == 0) {
        bench_print_blis_choice(arch_before, products);
        return bench_layers(argv[2], argv[3]);
    }
    if (argc == 2 && strcmp(argv[1], "gemm") == 0)
        return bench_gemm();
    if (argc == 3 && strcmp(argv[1], "conv") == 0)
        return bench_conv(argv[2]);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "train") == 0)
        return bench_train(argv[2], argc == 4 ? atoi(argv[3]) : 40);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "supernet") == 0)
        return bench_supernet(argv[2], argc == 4 ? atoi(argv[3]) : 20);
    fprintf(stderr, "usage: bench_shiftnas gemm | conv CONFIG | train CONFIG [STEPS] | supernet "
                    "CONFIG [STEPS] | blis-arch CONFIG | kernels [CONFIG] | layers SPACE_CONFIG "
                    "ARCH\n");
    return 2;
}
