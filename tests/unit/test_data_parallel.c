/*
 * The ranks of a run (shiftnas/dist.h) and data-parallel steps
 * (src/train/data_parallel.c). An MPI program: `make check` runs it with 1,
 * 2 and 4 ranks (tests/run-mpi.sh); Check does not fork (MPI forbids it).
 *
 * The central check: the gradient reduced over the ranks is, bit for bit,
 * the gradient one process computes for the same shards alone. Likewise an
 * evaluation split over the ranks gives one process's loss and accuracy.
 */
#include <check.h>
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/config.h"
#include "shiftnas/data.h"
#include "shiftnas/dist.h"
#include "shiftnas/error.h"
#include "shiftnas/network.h"
#include "shiftnas/nn.h"
#include "shiftnas/rng.h"
#include "shiftnas/settings.h"
#include "data_parallel.h"
#include "dist/dist_internal.h"
#include "subnet_evaluation.h"
#include "image_batches.h"

static sn_dist *world;

enum { IMAGE = 8, CLASSES = 3, BATCH = 13, SHARDS = 4 };

START_TEST(shards_cover_the_batch_once_in_rank_order)
{
    int sizes[] = {1, 4, 5, 8, 13};
    for (unsigned c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        int shards = sizes[c];
        sn_shard_plan plan;
        int status = sn_shard_plan_init(&plan, BATCH, shards, world);
        if (world->size > shards) {
            ck_assert_int_eq(status, SN_ERR_CONFIG);
            ck_assert(strstr(sn_error_message(), "ranks but only") != NULL);
            continue;
        }
        ck_assert_int_eq(status, SN_OK);
        int total = 0, expected_first = 0;
        for (int r = 0; r < world->size; r++) {
            ck_assert_int_ge(plan.shards_of_rank[r], 1);
            if (r == world->rank)
                ck_assert_int_eq(plan.first, expected_first);
            expected_first += plan.shards_of_rank[r];
            total += plan.shards_of_rank[r];
        }
        ck_assert_int_eq(total, shards);
        ck_assert_int_eq(plan.last - plan.first, plan.shards_of_rank[world->rank]);
        int64_t images = 0;
        for (int s = 0; s < shards; s++) {
            ck_assert_int_eq(sn_shard_begin(&plan, s), images);
            int64_t n = sn_shard_size(&plan, s);
            ck_assert(n == BATCH / shards || n == BATCH / shards + 1);
            images += n;
        }
        ck_assert_int_eq(images, BATCH);
        sn_shard_plan_free(&plan);
    }
    sn_shard_plan plan;
    ck_assert_int_eq(sn_shard_plan_init(&plan, 3, 4, world), SN_ERR_CONFIG);
    ck_assert(strstr(sn_error_message(), "batch_size") != NULL);
}
END_TEST

START_TEST(agreement_names_the_first_failing_rank)
{
    ck_assert_int_eq(sn_dist_agree(world, SN_OK), SN_OK);
    int last = world->size - 1;
    int mine = world->rank == last ? sn_error_set(SN_ERR_IO, "rank %d: disk gone", world->rank)
                                  : SN_OK;
    int status = sn_dist_agree(world, mine);
    if (world->rank == last) {
        ck_assert_int_eq(status, SN_ERR_IO);
        ck_assert(strstr(sn_error_message(), "disk gone") != NULL);
    } else {
        ck_assert_int_eq(status, SN_ERR_PEER);
    }
    /* Agreeing again on the same failure keeps the same reporter. */
    status = sn_dist_agree(world, status);
    ck_assert_int_eq(status, world->rank == last ? SN_ERR_IO : SN_ERR_PEER);
    ck_assert(sn_dist_failure_agreed());
    /* Several failures: the lowest rank reports. */
    status = sn_dist_agree(world, sn_error_set(SN_ERR_CONFIG, "bad"));
    ck_assert_int_eq(status, world->rank == 0 ? SN_ERR_CONFIG : SN_ERR_PEER);
}
END_TEST

START_TEST(gathers_list_values_in_rank_order)
{
    int counts[64];
    ck_assert_int_le(world->size, 64);
    int total = 0;
    for (int r = 0; r < world->size; r++) {
        counts[r] = r + 1;
        total += r + 1;
    }
    double mine[64], all[64 * 65 / 2];
    for (int i = 0; i < counts[world->rank]; i++)
        mine[i] = 100.0 * world->rank + i;
    ck_assert_int_eq(sn_dist_allgather_doubles(world, mine, counts, all), SN_OK);
    int at = 0;
    for (int r = 0; r < world->size; r++)
        for (int i = 0; i < counts[r]; i++)
            ck_assert(all[at++] == 100.0 * r + i);
    ck_assert_int_eq(at, total);
}
END_TEST

START_TEST(state_check_stops_on_a_differing_rank)
{
    uint64_t same = sn_hash_bytes(SN_HASH_START, "state", 5);
    ck_assert_int_eq(sn_dist_check_identical(world, same, 41), SN_OK);
    if (world->size == 1)
        return;
    uint64_t hash = world->rank == world->size - 1 ? same ^ 1 : same;
    int status = sn_dist_check_identical(world, hash, 41);
    if (world->rank == 0) {
        ck_assert_int_eq(status, SN_ERR_MPI);
        char expected[64];
        snprintf(expected, sizeof expected, "rank %d differs", world->size - 1);
        ck_assert_msg(strstr(sn_error_message(), "step 42") != NULL &&
                          strstr(sn_error_message(), expected) != NULL,
                      "message: %s", sn_error_message());
    } else {
        ck_assert_int_eq(status, SN_ERR_PEER);
    }
}
END_TEST

/* ---- data-parallel steps on a small CNN ------------------------------------ */

typedef struct {
    sn_config config;
    sn_network *network;
    sn_data_parallel dp;
    float images[BATCH * IMAGE * IMAGE];
    int32_t labels[BATCH];
} cnn_fixture;

static void cnn_open(cnn_fixture *f, const sn_dist *dist, const char *reduce)
{
    memset(f, 0, sizeof *f);
    sn_config_defaults(&f->config);
    ck_assert_int_eq(sn_config_set(&f->config, "cnn.channels=4,6"), SN_OK);
    ck_assert_int_eq(sn_config_set(&f->config, "cnn.strides=1,2"), SN_OK);
    f->config.distributed_shards = SHARDS;
    snprintf(f->config.distributed_reduce, sizeof f->config.distributed_reduce, "%s", reduce);
    /* small buckets: the reduction is cut into several messages */
    f->config.distributed_bucket_entries = 1024;
    sn_input_shape shape = {1, IMAGE, IMAGE, CLASSES};
    sn_network_settings settings;
    ck_assert_int_eq(sn_network_settings_from_config(&settings, &f->config, &shape), SN_OK);
    ck_assert_int_eq(sn_network_create(&f->network, &settings, &shape, BATCH), SN_OK);
    sn_network_initialize(f->network, 5);
    ck_assert_int_eq(sn_data_parallel_init(&f->dp, dist, &f->config, f->network, BATCH, 0),
                     SN_OK);
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 11, SN_RNG_TEST, 0, 0);
    for (int i = 0; i < BATCH * IMAGE * IMAGE; i++)
        f->images[i] = sn_rng_normal(&stream) * (i % 7 == 0 ? 30.0f : 1.0f);
    for (int b = 0; b < BATCH; b++)
        f->labels[b] = (int32_t)sn_rng_below(&stream, CLASSES);
}

static void cnn_close(cnn_fixture *f)
{
    sn_data_parallel_free(&f->dp);
    sn_network_free(f->network);
}

/* One step over this process's shards of the batch (images hold the whole
 * batch here); returns the reduce status. poison_shard >= 0 puts a NaN in
 * that shard's input. */
static int cnn_step(cnn_fixture *f, int64_t step, int poison_shard, double *loss)
{
    sn_data_parallel *dp = &f->dp;
    const sn_shard_plan *plan = &dp->plan;
    sn_data_parallel_begin_step(dp);
    int status = SN_OK;
    float probs[BATCH * CLASSES], dlogits[BATCH * CLASSES];
    for (int s = plan->first; status == SN_OK && s < plan->last; s++) {
        int64_t begin = sn_shard_begin(plan, s), n = sn_shard_size(plan, s);
        float input[BATCH * IMAGE * IMAGE];
        memcpy(input, f->images + begin * IMAGE * IMAGE, sizeof(float) * n * IMAGE * IMAGE);
        if (s == poison_shard)
            input[3] = NAN;
        sn_data_parallel_begin_shard(dp, s);
        sn_forward_mode mode = {1, 1, (uint64_t)step, (uint32_t)s};
        const float *logits = sn_network_forward(f->network, input, n, &mode);
        double l = sn_softmax_cross_entropy_forward(probs, logits, f->labels + begin, n, CLASSES,
                                                    0.0f, NULL);
        sn_softmax_cross_entropy_backward(dlogits, probs, f->labels + begin, n, CLASSES, 0.0f,
                                          (float)n / BATCH);
        sn_network_backward(f->network, dlogits, n);
        dp->values_mine[s - plan->first] = (double)n * l;
        status = sn_data_parallel_end_shard(dp, s, NULL, step);
    }
    status = sn_data_parallel_reduce(dp, status, step);
    if (status == SN_OK)
        status = sn_data_parallel_sum_shard_values(dp, dp->values_mine, 1, loss);
    return status;
}

static void check_same_as_one_process(const char *reduce)
{
    if (world->size > SHARDS)
        return;
    cnn_fixture ranks, alone;
    sn_dist *local = NULL;
    ck_assert_int_eq(sn_dist_local(&local), SN_OK);
    cnn_open(&ranks, world, reduce);
    cnn_open(&alone, local, reduce);
    const sn_parameter_table *table = sn_network_parameter_table(ranks.network);
    for (int64_t step = 0; step < 3; step++) {
        double loss_ranks, loss_alone;
        ck_assert_int_eq(cnn_step(&ranks, step, -1, &loss_ranks), SN_OK);
        ck_assert_int_eq(cnn_step(&alone, step, -1, &loss_alone), SN_OK);
        ck_assert_msg(memcmp(sn_network_gradients(ranks.network),
                             sn_network_gradients(alone.network),
                             sizeof(float) * table->total) == 0,
                      "step %lld: the gradient over %d ranks differs from one process's",
                      (long long)step, world->size);
        ck_assert(loss_ranks == loss_alone);
        int64_t count_a, count_b;
        const float *a = sn_network_running_statistics(ranks.network, &count_a);
        const float *b = sn_network_running_statistics(alone.network, &count_b);
        ck_assert_int_eq(count_a, count_b);
        ck_assert(count_a > 0);
        ck_assert(memcmp(a, b, sizeof(float) * (size_t)count_a) == 0);
        /* move the weights so that the next step differs */
        float *p = sn_network_parameters(ranks.network), *q = sn_network_parameters(alone.network);
        const float *g = sn_network_gradients(ranks.network);
        for (size_t i = 0; i < table->total; i++) {
            p[i] -= 0.1f * g[i];
            q[i] -= 0.1f * g[i];
        }
    }
    cnn_close(&ranks);
    cnn_close(&alone);
    sn_dist_free(local);
}

START_TEST(reduced_gradient_is_one_process_gradient_bit_for_bit)
{
    check_same_as_one_process("active");
    check_same_as_one_process("slab");
}
END_TEST

/* The exact sum is the sum of the shards' gradients: against a plain
 * double-precision sum of each shard's gradient computed separately
 * (agreement to float rounding, 1e-6 of the largest entry). */
START_TEST(reduced_gradient_is_the_sum_of_shard_gradients)
{
    if (world->rank != 0)
        return;
    sn_dist *local = NULL;
    ck_assert_int_eq(sn_dist_local(&local), SN_OK);
    cnn_fixture f;
    cnn_open(&f, local, "active");
    double loss;
    ck_assert_int_eq(cnn_step(&f, 0, -1, &loss), SN_OK);
    const sn_parameter_table *table = sn_network_parameter_table(f.network);
    size_t n = table->total;
    float *reduced = malloc(sizeof(float) * n);
    double *reference = calloc(n, sizeof(double));
    memcpy(reduced, sn_network_gradients(f.network), sizeof(float) * n);
    /* the same shards one by one, from the same starting statistics */
    cnn_fixture g;
    cnn_open(&g, local, "active");
    float probs[BATCH * CLASSES], dlogits[BATCH * CLASSES];
    for (int s = 0; s < SHARDS; s++) {
        int64_t begin = sn_shard_begin(&g.dp.plan, s), n_s = sn_shard_size(&g.dp.plan, s);
        sn_data_parallel_begin_step(&g.dp);
        sn_data_parallel_begin_shard(&g.dp, s);
        sn_forward_mode mode = {1, 1, 0, (uint32_t)s};
        const float *logits =
            sn_network_forward(g.network, g.images + begin * IMAGE * IMAGE, n_s, &mode);
        sn_softmax_cross_entropy_forward(probs, logits, g.labels + begin, n_s, CLASSES, 0.0f, NULL);
        sn_softmax_cross_entropy_backward(dlogits, probs, g.labels + begin, n_s, CLASSES, 0.0f,
                                          (float)n_s / BATCH);
        sn_network_backward(g.network, dlogits, n_s);
        const float *grad = sn_network_gradients(g.network);
        for (size_t i = 0; i < n; i++)
            reference[i] += grad[i];
    }
    double largest = 0;
    for (size_t i = 0; i < n; i++)
        largest = fmax(largest, fabs(reference[i]));
    ck_assert(largest > 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(reduced[i] - reference[i]) <= 1e-6 * largest,
                      "entry %zu: %g vs %g", i, reduced[i], reference[i]);
    free(reduced);
    free(reference);
    cnn_close(&f);
    cnn_close(&g);
    sn_dist_free(local);
}
END_TEST

/* ---- the batch as the trainer fills it: one block per shard -------------- */

/* A network of the given kind on C-channel images of size h x w. */
static sn_network *network_for(const char *kind, int channels, int height, int width)
{
    sn_config config;
    sn_config_defaults(&config);
    if (strcmp(kind, "cnn") == 0) {
        ck_assert_int_eq(sn_config_set(&config, "cnn.channels=4,6"), SN_OK);
        ck_assert_int_eq(sn_config_set(&config, "cnn.strides=1,2"), SN_OK);
    } else if (strcmp(kind, "vit") == 0) {
        ck_assert_int_eq(sn_config_set(&config, "model.type=vit"), SN_OK);
        ck_assert_int_eq(sn_config_set(&config, "vit.patch=5"), SN_OK);
        ck_assert_int_eq(sn_config_set(&config, "vit.embed_dim=8"), SN_OK);
        ck_assert_int_eq(sn_config_set(&config, "vit.depth=1"), SN_OK);
        ck_assert_int_eq(sn_config_set(&config, "vit.heads=2"), SN_OK);
        ck_assert_int_eq(sn_config_set(&config, "vit.mlp_hidden=8"), SN_OK);
    } else {
        const char *keys[] = {"model.type=supernet", "space.type=cnn", "space.stem_channels=4",
                              "space.stage_channels=6,8", "space.stage_strides=2,2",
                              "space.width_ratios=0.5,1", "space.depths=1,2", "space.kernels=3",
                              "space.expand_ratios=2"};
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
            ck_assert_int_eq(sn_config_set(&config, keys[i]), SN_OK);
    }
    sn_input_shape shape = {channels, height, width, CLASSES};
    sn_network_settings settings;
    sn_network *network = NULL;
    ck_assert_msg(sn_network_settings_from_config(&settings, &config, &shape) == SN_OK &&
                      sn_network_create(&network, &settings, &shape, BATCH) == SN_OK,
                  "%s: %s", kind, sn_error_message());
    sn_network_initialize(network, 3);
    return network;
}

/* For every shard this rank owns, the block the trainer's fill gives it is
 * the batch of those images filled alone, and so its gradient is the
 * gradient of those images run alone, bit for bit. */
static void check_blocks_are_shards_alone(const char *kind, int channels, int height, int width)
{
    sn_network *network = network_for(kind, channels, height, width);
    sn_config config;
    sn_config_defaults(&config);
    config.distributed_shards = SHARDS;
    sn_data_parallel dp;
    ck_assert_int_eq(sn_data_parallel_init(&dp, world, &config, network, BATCH, 0), SN_OK);
    const int64_t floats = (int64_t)channels * height * width;
    sn_image_set set = {BATCH + 5, channels, height, width, CLASSES, NULL, NULL};
    set.pixels = malloc((size_t)(set.count * floats));
    set.labels = malloc(sizeof(int32_t) * (size_t)set.count);
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 17, SN_RNG_TEST, (uint64_t)channels, 0);
    for (int64_t i = 0; i < set.count * floats; i++)
        set.pixels[i] = (uint8_t)sn_rng_below(&stream, 256);
    for (int64_t i = 0; i < set.count; i++)
        set.labels[i] = (int32_t)sn_rng_below(&stream, CLASSES);
    uint32_t samples[BATCH];
    for (int b = 0; b < BATCH; b++)
        samples[b] = (uint32_t)((b * 7 + 3) % set.count); /* any order, as an epoch gives */
    sn_normalization norm = {channels, {0.5f, 0.4f, 0.3f, 0.2f}, {0.25f, 0.2f, 0.3f, 0.35f}};
    test_augmentation augmentation = {2, 1};
    float *batch = sn_alloc_floats((size_t)(BATCH * floats));
    float *alone = sn_alloc_floats((size_t)(BATCH * floats));
    int32_t labels[BATCH], alone_labels[BATCH];
    sn_input_pipeline pipeline;
    test_pipeline(&pipeline, &norm, &augmentation);
    sn_image_source *source = NULL;
    ck_assert_int_eq(sn_image_source_from_set(&source, &set, &pipeline), SN_OK);
    sn_batch_request request = sn_data_parallel_batch_request(&dp, samples, batch, labels, 9, 1);
    ck_assert_int_eq(sn_image_source_fill(source, &request), SN_OK);

    const sn_parameter_table *table = sn_network_parameter_table(network);
    float *gradient = malloc(sizeof(float) * table->total);
    float probs[BATCH * CLASSES], dlogits[BATCH * CLASSES];
    sn_data_parallel_begin_step(&dp);
    for (int s = dp.plan.first; s < dp.plan.last; s++) {
        int64_t offset = sn_data_parallel_offset(&dp, s), n = sn_shard_size(&dp.plan, s);
        test_batch_fill(alone, alone_labels, &set, samples + sn_shard_begin(&dp.plan, s), n, &norm,
                        &augmentation, 9, 1, sn_network_input_layout(network));
        ck_assert_msg(memcmp(batch + offset * floats, alone, sizeof(float) * (size_t)(n * floats)) == 0,
                      "%s, %d channel(s), %dx%d: shard %d's block differs from its images "
                      "filled alone", kind, channels, height, width, s);
        ck_assert(memcmp(labels + offset, alone_labels, sizeof(int32_t) * (size_t)n) == 0);
        const float *inputs[2] = {batch + offset * floats, alone};
        for (int run = 0; run < 2; run++) {
            sn_data_parallel_begin_shard(&dp, s);
            sn_forward_mode mode = {1, 1, 0, (uint32_t)s};
            const float *logits = sn_network_forward(network, inputs[run], n, &mode);
            sn_softmax_cross_entropy_forward(probs, logits, labels + offset, n, CLASSES, 0.0f, NULL);
            sn_softmax_cross_entropy_backward(dlogits, probs, labels + offset, n, CLASSES, 0.0f,
                                              (float)n / BATCH);
            sn_network_backward(network, dlogits, n);
            if (run == 0)
                memcpy(gradient, sn_network_gradients(network), sizeof(float) * table->total);
        }
        ck_assert_msg(memcmp(gradient, sn_network_gradients(network),
                             sizeof(float) * table->total) == 0,
                      "%s, %d channel(s): shard %d's gradient differs from its images' alone",
                      kind, channels, s);
    }
    free(gradient);
    sn_image_source_free(source);
    sn_free(batch);
    sn_free(alone);
    free(set.pixels);
    free(set.labels);
    sn_data_parallel_free(&dp);
    sn_network_free(network);
}

START_TEST(each_shard_block_is_its_images_alone)
{
    if (world->size > SHARDS)
        return;
    const int channels[3] = {1, 3, 4};
    for (int i = 0; i < 3; i++) {
        check_blocks_are_shards_alone("cnn", channels[i], 9, 11);
        check_blocks_are_shards_alone("vit", channels[i], 10, 10);
        check_blocks_are_shards_alone("supernet", channels[i], 12, 12);
    }
}
END_TEST

/* A NaN in one rank's shard fails the step on every rank: the rank that saw
 * it names the step, shard and parameter; the others get SN_ERR_PEER. */
START_TEST(a_nan_on_one_rank_fails_every_rank)
{
    if (world->size > SHARDS)
        return;
    cnn_fixture f;
    cnn_open(&f, world, "active");
    int poisoned = SHARDS - 1; /* owned by the last rank */
    double loss;
    int status = cnn_step(&f, 6, poisoned, &loss);
    if (world->rank == world->size - 1) {
        ck_assert_int_eq(status, SN_ERR_NUMERIC);
        ck_assert_msg(strstr(sn_error_message(), "step 7") != NULL &&
                          strstr(sn_error_message(), "shard 3") != NULL,
                      "message: %s", sn_error_message());
    } else {
        ck_assert_int_eq(status, SN_ERR_PEER);
    }
    cnn_close(&f);
}
END_TEST

/* ---- evaluations split over the ranks (subnet_evaluation.h) ------------- */

/* Loss and accuracy of an evaluation split over the ranks are one
 * process's, bit for bit, on every rank: for chunk sizes that divide the
 * images or not, fewer chunks than ranks, and no images at all. */
static void check_split_evaluation(const char *kind)
{
    sn_network *network = network_for(kind, 1, 12, 12);
    enum { COUNT = 29 };
    sn_image_set set = {COUNT, 1, 12, 12, CLASSES, NULL, NULL};
    set.pixels = malloc((size_t)(COUNT * 144));
    set.labels = malloc(sizeof(int32_t) * COUNT);
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 23, SN_RNG_TEST, 0, 0);
    for (int64_t i = 0; i < COUNT * 144; i++)
        set.pixels[i] = (uint8_t)sn_rng_below(&stream, 256);
    for (int64_t i = 0; i < COUNT; i++)
        set.labels[i] = (int32_t)sn_rng_below(&stream, CLASSES);
    uint32_t indices[COUNT];
    for (int i = 0; i < COUNT; i++)
        indices[i] = (uint32_t)((i * 11 + 5) % COUNT);
    sn_normalization norm = {1, {0.5f}, {0.25f}};
    sn_input_pipeline pipeline;
    test_pipeline(&pipeline, &norm, NULL);
    sn_image_source *source = NULL;
    ck_assert_int_eq(sn_image_source_from_set(&source, &set, &pipeline), SN_OK);
    float *images = sn_alloc_floats(BATCH * 144);
    float probs[BATCH * CLASSES];
    int32_t labels[BATCH];
    sn_evaluation_split split;
    ck_assert_int_eq(sn_evaluation_split_init(&split, world, COUNT, 1), SN_OK);
    const int64_t chunks[] = {1, 4, 5, BATCH}, counts[] = {COUNT, 12, 3, 0};
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++)
        for (size_t k = 0; k < sizeof counts / sizeof *counts; k++) {
            double loss[2], accuracy[2];
            ck_assert_int_eq(sn_evaluate_network(network, source, indices, counts[k], chunks[c], 0,
                                                 images, probs, labels, &loss[0], &accuracy[0]),
                             SN_OK);
            ck_assert_int_eq(sn_evaluate_network_split(&split, network, source, indices,
                                                       counts[k], chunks[c], 0, images, probs,
                                                       labels, &loss[1], &accuracy[1]),
                             SN_OK);
            ck_assert_msg(memcmp(&loss[0], &loss[1], sizeof(double)) == 0 &&
                              memcmp(&accuracy[0], &accuracy[1], sizeof(double)) == 0,
                          "%s, %lld images in chunks of %lld on %d ranks: %.17g %.17g against "
                          "one process's %.17g %.17g",
                          kind, (long long)counts[k], (long long)chunks[c], world->size, loss[1],
                          accuracy[1], loss[0], accuracy[0]);
        }
    sn_evaluation_split_free(&split);
    /* More chunks than the buffers hold: every rank refuses, none waits. */
    ck_assert_int_eq(sn_evaluation_split_init(&split, world, 4, 2), SN_OK);
    double loss, accuracy;
    int status = sn_evaluate_network_split(&split, network, source, indices, 5, 2, 0, images,
                                           probs, labels, &loss, &accuracy);
    ck_assert_int_eq(status, world->rank == 0 ? SN_ERR_ARGUMENT : SN_ERR_PEER);
    sn_evaluation_split_free(&split);
    sn_free(images);
    sn_image_source_free(source);
    free(set.pixels);
    free(set.labels);
    sn_network_free(network);
}

START_TEST(split_evaluation_is_one_process_evaluation_bit_for_bit)
{
    check_split_evaluation("cnn");
    check_split_evaluation("supernet");
}
END_TEST

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (sn_dist_from_world(&world) != SN_OK)
        MPI_Abort(MPI_COMM_WORLD, 1);
    Suite *suite = suite_create("data_parallel");
    TCase *tc = tcase_create("ranks");
    tcase_add_test(tc, shards_cover_the_batch_once_in_rank_order);
    tcase_add_test(tc, agreement_names_the_first_failing_rank);
    tcase_add_test(tc, gathers_list_values_in_rank_order);
    tcase_add_test(tc, state_check_stops_on_a_differing_rank);
    tcase_add_test(tc, reduced_gradient_is_one_process_gradient_bit_for_bit);
    tcase_add_test(tc, reduced_gradient_is_the_sum_of_shard_gradients);
    tcase_add_test(tc, a_nan_on_one_rank_fails_every_rank);
    tcase_add_test(tc, each_shard_block_is_its_images_alone);
    tcase_add_test(tc, split_evaluation_is_one_process_evaluation_bit_for_bit);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    /* MPI processes must not fork. */
    srunner_set_fork_status(runner, CK_NOFORK);
    /* Only rank 0 prints the summary; every rank's failures count. */
    srunner_run_all(runner, world->rank == 0 ? CK_NORMAL : CK_SILENT);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    int any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    sn_dist_free(world);
    MPI_Finalize();
    return any == 0 ? 0 : 1;
}
