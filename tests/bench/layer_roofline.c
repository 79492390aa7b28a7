/*
 * bench_shiftnas layers SPACE_INI ARCH: where one subnet's training step
 * goes, layer by layer, against a roofline (issue 18).
 *
 * Every layer of the subnet (sliced mode, src/nn/supernet_cnn.c or
 * supernet_vit.c) is rebuilt from the public kernels of shiftnas/nn.h at the
 * shapes it has in the trainer's shard (batch / [distributed] shards images,
 * 16 for the shipped spaces) and timed alone, forward and backward, on its
 * own hot buffers (best of 5 rounds, in CPU time: the machine may be
 * shared). Per step = per shard x the shards of a
 * batch. For each layer:
 *
 *   FLOPs   2 per multiply-add of the products; for norms, activations,
 *           adds and pooling a few per element (an estimate: they are
 *           memory-bound and judged by bytes);
 *   bytes   a simple model: every input and weight read once, every output
 *           written once (a weight gradient read and written); a norm's
 *           second pass over its input, im2col's buffer and BLIS's packing
 *           are not counted;
 *   bound   the roofline time: for products (convolutions as sgemm, linear
 *           layers, attention), the sum over the layer's sgemm calls of
 *           their FLOPs at BLIS's measured GFLOP/s for that very shape and
 *           transposition (bench_sgemm_gflops); for the rest (depthwise,
 *           norms, activations, adds, pooling, loss) bytes over the
 *           bandwidth of a STREAM-like triad at the working set the layer
 *           has (a triad over at least that many bytes, so a layer that fits
 *           in cache is judged against cache bandwidth), or its FLOPs at the
 *           sgemm 1024^3 peak if that takes longer (the depthwise);
 *   % of roofline = bound / measured.
 *
 * Then the sum of the layers against the same subnet's whole step measured
 * in-process at the same shard size (sn_network forward and backward per
 * shard), and the trainer's own per-step work (zeroing the gradients and
 * the exact gradient sum per shard, AdamW over the slab).
 */
#include "layer_roofline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer_ops.h"
#include "measure.h"
#include "shiftnas/error.h"
#include "shiftnas/exact_sum.h"
#include "shiftnas/network.h"
#include "shiftnas/nn.h"
#include "shiftnas/optim.h"
#include "shiftnas/space.h"
#include "shiftnas/train.h"

/* ---- the subnets' layers ----------------------------------------------------- */

static void cnn_layers(layer_list *list, const sn_space *space, const sn_arch *arch)
{
    char name[72];
    int64_t side = sn_conv2d_out_size(space->image_size, space->stem_kernel, space->stem_stride,
                                      space->stem_kernel / 2);
    int64_t in = space->stem_channels;
    snprintf(name, sizeof name, "stem %dx%d conv %d->%lld", space->stem_kernel,
             space->stem_kernel, space->image_channels, (long long)in);
    add_conv(list, "stem conv (im2col)", name, space->image_channels, in, space->image_size,
             space->stem_kernel, space->stem_stride, 0);
    add_batchnorm(list, "stem norm + ReLU", in, side * side, 1);
    for (int s = 0; s < space->stage_count; s++) {
        int depth = (int)sn_arch_value(space, arch, space->depth_dimension[s]);
        int64_t width = (int64_t)sn_arch_value(space, arch, space->width_dimension[s]);
        for (int b = 0; b < depth; b++) {
            int kernel = (int)sn_arch_value(space, arch, space->kernel_dimension[s][b]);
            int64_t mid =
                lround(sn_arch_value(space, arch, space->expand_dimension[s][b]) * (double)in);
            int stride = b == 0 ? space->stage_strides[s] : 1;
            int64_t out_side = sn_conv2d_out_size(side, kernel, stride, kernel / 2);
            snprintf(name, sizeof name, "s%db%d expand 1x1 %lld->%lld @%lld", s + 1, b + 1,
                     (long long)in, (long long)mid, (long long)side);
            add_conv(list, "1x1 conv", name, in, mid, side, 1, 1, 1);
            snprintf(name, sizeof name, "s%db%d expand norm + ReLU", s + 1, b + 1);
            add_batchnorm(list, name, mid, side * side, 1);
            snprintf(name, sizeof name, "s%db%d depthwise %dx%d /%d %lld @%lld", s + 1, b + 1,
                     kernel, kernel, stride, (long long)mid, (long long)side);
            add_depthwise(list, name, mid, side, kernel, stride);
            snprintf(name, sizeof name, "s%db%d depthwise norm + ReLU", s + 1, b + 1);
            add_batchnorm(list, name, mid, out_side * out_side, 1);
            snprintf(name, sizeof name, "s%db%d project 1x1 %lld->%lld @%lld", s + 1, b + 1,
                     (long long)mid, (long long)width, (long long)out_side);
            add_conv(list, "1x1 conv", name, mid, width, out_side, 1, 1, 1);
            snprintf(name, sizeof name, "s%db%d project norm", s + 1, b + 1);
            add_batchnorm(list, name, width, out_side * out_side, 0);
            if (b > 0) {
                snprintf(name, sizeof name, "s%db%d residual", s + 1, b + 1);
                add_residual(list, name, width * list->shard * out_side * out_side);
            }
            in = width;
            side = out_side;
        }
    }
    add_pool(list, "average pooling", in, side * side);
    snprintf(name, sizeof name, "classifier %lld->%d", (long long)in, space->classes);
    add_linear(list, name, list->shard, in, space->classes);
    add_loss(list, space->classes);
}

static void vit_layers(layer_list *list, const sn_space *space, const sn_arch *arch)
{
    char name[72];
    int64_t e = (int64_t)sn_arch_value(space, arch, space->embed_dimension);
    int depth = (int)sn_arch_value(space, arch, space->depth_dimension[0]);
    int64_t side = space->image_size / space->patch, t = side * side + 1;
    int64_t rows = list->shard * t, q = space->head_dim;
    snprintf(name, sizeof name, "patch embedding %dx%d -> %lld", space->patch, space->patch,
             (long long)e);
    add_patch_embed(list, name, space->image_channels, space->image_size, space->patch, e);
    for (int l = 0; l < depth; l++) {
        int64_t heads = (int64_t)sn_arch_value(space, arch, space->heads_dimension[l]);
        int64_t hidden = lround(sn_arch_value(space, arch, space->mlp_dimension[l]) * (double)e);
        snprintf(name, sizeof name, "L%d norm1", l + 1);
        add_layernorm(list, name, rows, e);
        const char *qkv[3] = {"q", "k", "v"};
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "L%d %s %lld->%lld", l + 1, qkv[i], (long long)e,
                     (long long)(heads * q));
            add_linear(list, name, rows, e, heads * q);
        }
        snprintf(name, sizeof name, "L%d attention %lld heads x %lld", l + 1, (long long)heads,
                 (long long)q);
        add_attention(list, name, t, heads, q);
        snprintf(name, sizeof name, "L%d proj %lld->%lld", l + 1, (long long)(heads * q),
                 (long long)e);
        add_linear(list, name, rows, heads * q, e);
        snprintf(name, sizeof name, "L%d residual 1", l + 1);
        add_residual(list, name, rows * e);
        snprintf(name, sizeof name, "L%d norm2", l + 1);
        add_layernorm(list, name, rows, e);
        snprintf(name, sizeof name, "L%d fc1 %lld->%lld", l + 1, (long long)e, (long long)hidden);
        add_linear(list, name, rows, e, hidden);
        snprintf(name, sizeof name, "L%d GELU", l + 1);
        add_gelu(list, name, rows * hidden);
        snprintf(name, sizeof name, "L%d fc2 %lld->%lld", l + 1, (long long)hidden, (long long)e);
        add_linear(list, name, rows, hidden, e);
        snprintf(name, sizeof name, "L%d residual 2", l + 1);
        add_residual(list, name, rows * e);
    }
    add_layernorm(list, "final norm (class token)", list->shard, e);
    snprintf(name, sizeof name, "head %lld->%d", (long long)e, space->classes);
    add_linear(list, name, list->shard, e, space->classes);
    add_loss(list, space->classes);
}

/* ---- timing and the roofline ------------------------------------------------ */

typedef struct {
    double bytes, gbps;
} bandwidth_level;

enum { LEVELS = 4 };

/* GB/s at the smallest measured working set that holds `bytes`. */
static double bandwidth_for(const bandwidth_level levels[LEVELS], double bytes)
{
    for (int i = 0; i < LEVELS; i++)
        if (bytes <= levels[i].bytes)
            return levels[i].gbps;
    return levels[LEVELS - 1].gbps;
}

typedef struct {
    layer_op *op;
    int pass;
} op_call;

static void call_op(void *context)
{
    op_call *c = context;
    c->op->run[c->pass](c->op);
}

static void time_op(layer_op *op, const bandwidth_level levels[LEVELS], double peak_gflops)
{
    for (int pass = FWD; pass <= BWD; pass++) {
        op_call c = {op, pass};
        op->seconds[pass] = bench_best_seconds(call_op, &c, 5, 0.005);
        if (op->is_product) {
            double t = 0;
            for (int i = 0; i < op->product_count[pass]; i++) {
                const product *p = &op->products[pass][i];
                double gflops = bench_sgemm_gflops(p->m, p->n, p->k, p->ta, p->tb);
                t += gflops > 0 ? 2.0 * (double)(p->m * p->n * p->k) * p->count / (gflops * 1e9)
                                : 0;
            }
            op->bound[pass] = t;
        } else {
            /* the slower of its two ceilings: bytes at the working set's
             * bandwidth, FLOPs at the machine's sgemm peak */
            double memory = op->bytes[pass] / (bandwidth_for(levels, op->bytes[pass]) * 1e9);
            double compute = op->flops[pass] / (peak_gflops * 1e9);
            op->bound[pass] = memory > compute ? memory : compute;
        }
    }
}

static void print_cells(const char *label, const char *kind, double seconds, double flops,
                        double bytes, double bound, int shards)
{
    double step = seconds * shards;
    printf("| %s | %s | %.3f | %.1f | %.2f | %.1f | %.1f | %.3f | %.0f%% |", label, kind,
           1e3 * step, flops * shards / 1e6, bytes * shards / 1e6,
           seconds > 0 ? flops / seconds / 1e9 : 0.0, seconds > 0 ? bytes / seconds / 1e9 : 0.0,
           1e3 * bound * shards, seconds > 0 ? 100.0 * bound / seconds : 0.0);
}

static void print_row(const char *label, const char *kind, double seconds, double flops,
                      double bytes, double bound, int shards)
{
    print_cells(label, kind, seconds, flops, bytes, bound, shards);
    printf("\n");
}

static const char *table_head = "| layer | kind | ms / step (fwd+bwd) | MFLOP / step | MB / step "
                                "| GFLOP/s | GB/s | roofline ms / step | % of roofline |\n"
                                "|---|---|---|---|---|---|---|---|---|\n";
static const char *kind_head = "| kind of layer | bound by | ms / step (fwd+bwd) | MFLOP / step | MB / step "
                               "| GFLOP/s | GB/s | roofline ms / step | % of roofline | share of the "
                               "layers' time | ms / step at the sgemm 1024^3 peak |\n"
                               "|---|---|---|---|---|---|---|---|---|---|---|\n";

/* Per kind: the layers' sums, in the order kinds first appear. */
static void print_kinds(const layer_list *list, int shards, double peak_gflops,
                        double *total_seconds, double *total_bound)
{
    const char *kinds[MAX_OPS];
    int kind_count = 0;
    double all_flops = 0, all_bytes = 0;
    *total_seconds = *total_bound = 0;
    for (int i = 0; i < list->count; i++) {
        const layer_op *op = &list->ops[i];
        int seen = 0;
        for (int k = 0; k < kind_count; k++)
            seen |= strcmp(kinds[k], op->kind) == 0;
        if (!seen)
            kinds[kind_count++] = op->kind;
        *total_seconds += op->seconds[FWD] + op->seconds[BWD];
        *total_bound += op->bound[FWD] + op->bound[BWD];
        all_flops += op->flops[FWD] + op->flops[BWD];
        all_bytes += op->bytes[FWD] + op->bytes[BWD];
    }
    printf("\nPer kind of layer (the sum of its layers):\n\n%s", kind_head);
    for (int k = 0; k < kind_count; k++) {
        double s = 0, f = 0, b = 0, r = 0;
        int layers = 0, products = 0;
        for (int i = 0; i < list->count; i++) {
            const layer_op *op = &list->ops[i];
            if (strcmp(op->kind, kinds[k]) != 0)
                continue;
            s += op->seconds[FWD] + op->seconds[BWD];
            f += op->flops[FWD] + op->flops[BWD];
            b += op->bytes[FWD] + op->bytes[BWD];
            r += op->bound[FWD] + op->bound[BWD];
            products = op->is_product;
            layers++;
        }
        char label[96];
        snprintf(label, sizeof label, "%s (%d)", kinds[k], layers);
        print_cells(label, products ? "sgemm at its shapes" : "memory (or FLOPs at peak)", s, f, b,
                    r, shards);
        printf(" %.0f%% | %.3f |\n", 100.0 * s / *total_seconds,
               1e3 * f * shards / (peak_gflops * 1e9));
    }
    print_cells("**all layers**", "", *total_seconds, all_flops, all_bytes, *total_bound, shards);
    printf(" 100%% | %.3f |\n", 1e3 * all_flops * shards / (peak_gflops * 1e9));
}

/* ---- the whole step, measured ------------------------------------------------ */

typedef struct {
    sn_network *network;
    sn_optimizer optimizer;
    sn_exact_sum sum;
    const float *images;
    const int32_t *labels;
    float *probs, *dlogits;
    int64_t shard;
    int shards, classes;
} whole_step;

static void network_passes(void *context)
{
    whole_step *w = context;
    for (int s = 0; s < w->shards; s++) {
        sn_forward_mode mode = {1, 1, 1, (uint32_t)s};
        const float *logits = sn_network_forward(w->network, w->images, w->shard, &mode);
        sn_softmax_cross_entropy_forward(w->probs, logits, w->labels, w->shard, w->classes, 0.1f,
                                         NULL);
        sn_softmax_cross_entropy_backward(w->dlogits, w->probs, w->labels, w->shard, w->classes,
                                          0.1f, 1.0f / (float)w->shards);
        sn_network_backward(w->network, w->dlogits, w->shard);
    }
}

static void zero_gradients(void *context)
{
    whole_step *w = context;
    for (int s = 0; s < w->shards; s++)
        sn_network_zero_gradients(w->network);
}

static void exact_sums(void *context)
{
    whole_step *w = context;
    const sn_parameter_table *table = sn_network_parameter_table(w->network);
    sn_exact_sum_clear(&w->sum, 0, (int64_t)table->total);
    for (int s = 0; s < w->shards; s++)
        sn_exact_sum_add(&w->sum, 0, sn_network_gradients(w->network), (int64_t)table->total);
}

static void adamw_step(void *context)
{
    whole_step *w = context;
    sn_optimizer_step(&w->optimizer, sn_network_parameter_table(w->network),
                      sn_network_parameters(w->network), sn_network_gradients(w->network), 1e-4f);
}

static int measure_whole_step(const sn_config *config, sn_space *space, const sn_arch *arch,
                              int64_t shard, int shards, double layer_sum)
{
    whole_step w;
    memset(&w, 0, sizeof w);
    w.shard = shard;
    w.shards = shards;
    w.classes = space->classes;
    sn_layer_settings layers;
    sn_layer_settings_from_config(&layers, config);
    if (sn_network_create_supernet(&w.network, space, &layers, shard) != SN_OK)
        return bench_fail("supernet");
    sn_network_initialize(w.network, 1);
    const sn_parameter_table *table = sn_network_parameter_table(w.network);
    sn_optimizer_settings settings = {SN_OPTIMIZER_ADAMW, 0.9f, 1, 0.9f, 0.999f, 1e-8f, 0.05f};
    if (sn_network_set_architecture(w.network, arch) != SN_OK ||
        sn_optimizer_init(&w.optimizer, &settings, table) != SN_OK ||
        sn_exact_sum_init(&w.sum, (int64_t)table->total) != SN_OK)
        return bench_fail("whole step");
    int64_t image_floats =
        shard * space->image_channels * space->image_size * space->image_size;
    float *images = sn_alloc_floats((size_t)image_floats);
    int32_t *labels = malloc((size_t)shard * sizeof *labels);
    w.probs = sn_alloc_floats((size_t)(shard * w.classes));
    w.dlogits = sn_alloc_floats((size_t)(shard * w.classes));
    if (!images || !labels || !w.probs || !w.dlogits)
        return bench_fail("whole step buffers");
    bench_fill_normal(images, image_floats, 7);
    for (int64_t i = 0; i < shard; i++)
        labels[i] = (int32_t)(i % w.classes);
    w.images = images;
    w.labels = labels;
    sn_network_zero_gradients(w.network);
    double passes = bench_best_seconds(network_passes, &w, 5, 0.05);
    double zero = bench_best_seconds(zero_gradients, &w, 5, 0.005);
    double sums = bench_best_seconds(exact_sums, &w, 5, 0.005);
    double adamw = bench_best_seconds(adamw_step, &w, 5, 0.005);
    double slab_mb = 4.0 * (double)table->total / 1e6;
    printf("\n| whole step, measured in-process (%d shards of %lld) | ms / step |\n|---|---|\n",
           shards, (long long)shard);
    printf("| sum of the layers above (each timed alone) | %.2f |\n", 1e3 * layer_sum);
    printf("| the subnet's forward + loss + backward, all shards (sn_network) | %.2f |\n",
           1e3 * passes);
    printf("| layers' sum / measured network passes | %.2f |\n", layer_sum / passes);
    printf("| zero the gradient slab, every shard (%.2f MB) | %.2f |\n", slab_mb, 1e3 * zero);
    printf("| exact gradient sum, every shard | %.2f |\n", 1e3 * sums);
    printf("| AdamW over the slab, once | %.2f |\n", 1e3 * adamw);
    printf("| **step without input and reduction** | **%.2f** (%.0f img/s) |\n",
           1e3 * (passes + zero + sums + adamw),
           (double)(shard * shards) / (passes + zero + sums + adamw));
    printf("layers_sum_ms %.3f\nnetwork_passes_ms %.3f\nstep_ms %.3f\n", 1e3 * layer_sum,
           1e3 * passes, 1e3 * (passes + zero + sums + adamw));
    sn_free(images);
    free(labels);
    sn_free(w.probs);
    sn_free(w.dlogits);
    sn_exact_sum_free(&w.sum);
    sn_optimizer_free(&w.optimizer);
    sn_network_free(w.network);
    return 0;
}

/* ---- the mode ------------------------------------------------------------------ */

int bench_layers(const char *path, const char *arch_text)
{
    sn_config config;
    if (bench_load_config(&config, path))
        return 1;
    sn_space space;
    if (sn_space_from_config(&space, &config, 1, 28, 10) != SN_OK)
        return bench_fail("space");
    sn_arch arch;
    if (sn_arch_parse(&space, arch_text, &arch) != SN_OK)
        return bench_fail("architecture");
    int shards = (int)config.distributed_shards;
    if (shards > config.batch_size)
        shards = (int)config.batch_size;
    int64_t shard = (config.batch_size + shards - 1) / shards;

    /* The roofline's two ceilings: memory bandwidth by working set, and
     * sgemm at each product's shape (measured as the layers ask). */
    bandwidth_level levels[LEVELS] = {{256e3, 0}, {2e6, 0}, {16e6, 0}, {256e6, 0}};
    printf("\n| triad working set (MB) | GB/s |\n|---|---|\n");
    for (int i = 0; i < LEVELS; i++) {
        levels[i].gbps = bench_triad_gbps(levels[i].bytes);
        printf("| %.2f | %.1f |\n", levels[i].bytes / 1e6, levels[i].gbps);
        printf("triad_%.0fkB_gbps %.1f\n", levels[i].bytes / 1e3, levels[i].gbps);
    }
    double peak = bench_sgemm_gflops(1024, 1024, 1024, 0, 0);
    printf("sgemm_1024_gflops %.1f\n", peak);

    static layer_list list;
    memset(&list, 0, sizeof list);
    list.shard = shard;
    if (space.type == SN_SPACE_CNN)
        cnn_layers(&list, &space, &arch);
    else
        vit_layers(&list, &space, &arch);
    if (list.alloc_failed) {
        fprintf(stderr, "bench_shiftnas layers: out of memory or too many layers\n");
        for (int i = 0; i < list.count; i++)
            free_op(&list.ops[i]);
        return 1;
    }
    printf("\nLayers of `%s` (%s), a shard of %lld images, %d shards per batch of %lld; "
           "sgemm 1024^3 %.1f GFLOP/s:\n\n%s",
           arch_text, path, (long long)shard, shards, (long long)config.batch_size, peak,
           table_head);
    for (int i = 0; i < list.count; i++) {
        layer_op *op = &list.ops[i];
        time_op(op, levels, peak);
        print_row(op->name, op->kind, op->seconds[FWD] + op->seconds[BWD],
                  op->flops[FWD] + op->flops[BWD], op->bytes[FWD] + op->bytes[BWD],
                  op->bound[FWD] + op->bound[BWD], shards);
    }
    double total = 0, bound = 0;
    print_kinds(&list, shards, peak, &total, &bound);
    printf("layers_roofline_ms %.3f\nlayers_roofline_share %.2f\n", 1e3 * bound * shards,
           bound / total);
    for (int i = 0; i < list.count; i++)
        free_op(&list.ops[i]);
    return measure_whole_step(&config, &space, &arch, shard, shards, total * shards);
}
