/*
 * The depthwise convolutions of one cnn-space subnet, alone: forward and
 * backward (weight and input gradients) of each layer on one shard, CPU
 * time per call (process CPU time, so that a shared machine inflates it
 * less than wall time), and GFLOP/s (2 FLOPs per multiply-add; the backward
 * does two products' worth). Not part of `make bench`'s table; for A/B runs
 * of the kernels:
 *
 *   make tests/bench/depthwise_bench && ./tests/bench/depthwise_bench [REPEATS [SHARD]]
 *
 * The layers are the largest cnn-space subnet's (jobs/configs/cnn-space.ini:
 * 5x5 kernels, expand ratio 4): a stride-2 block and two stride-1 blocks per
 * stage at 28 -> 14, 14 -> 7 and 7 -> 4.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "shiftnas/nn.h"

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    int channels, size, kernel, stride;
} layer;

static const layer layers[] = {
    {64, 28, 5, 2},  {96, 14, 5, 1},  {96, 14, 5, 1},  {96, 14, 5, 2}, {160, 7, 5, 1},
    {160, 7, 5, 1}, {160, 7, 5, 2}, {256, 4, 5, 1}, {256, 4, 5, 1},
};
enum { LAYERS = sizeof layers / sizeof layers[0] };

static float *filled(int64_t n, int seed)
{
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; x != NULL && i < n; i++)
        x[i] = (float)((i * 7919 + seed) % 1000) / 1000.0f - 0.5f;
    return x;
}

/* Times one layer; adds its seconds per call and multiply-adds. */
static int time_layer(const layer *l, int64_t shard, int repeats, double *forward,
                      double *backward, double *macs)
{
    const int k = l->kernel;
    sn_conv2d_dims d = {shard, l->channels, l->channels, l->size, l->size, k, l->stride, k / 2,
                        l->channels};
    const int64_t out_size = sn_conv2d_out_size(l->size, k, l->stride, k / 2);
    const int64_t n_in = shard * l->channels * l->size * l->size;
    const int64_t n_out = shard * l->channels * out_size * out_size;
    float *in = filled(n_in, 1), *out = filled(n_out, 2), *din = filled(n_in, 3);
    float *w = filled((int64_t)l->channels * k * k, 4), *dw = filled((int64_t)l->channels * k * k, 5);
    if (!in || !out || !din || !w || !dw) {
        fprintf(stderr, "depthwise_bench: out of memory\n");
        return 1;
    }
    sn_kernel_view weight = {w, (int64_t)k * k, k}, dweight = {dw, (int64_t)k * k, k};
    double t0 = cpu_seconds();
    for (int r = 0; r < repeats; r++)
        sn_depthwise_conv2d_forward(out, in, weight, NULL, &d);
    double t1 = cpu_seconds();
    for (int r = 0; r < repeats; r++)
        sn_depthwise_conv2d_backward(din, dweight, NULL, out, in, weight, &d);
    double t2 = cpu_seconds();
    *forward = (t1 - t0) / repeats;
    *backward = (t2 - t1) / repeats;
    *macs = (double)n_out * k * k;
    free(in), free(out), free(din), free(w), free(dw);
    return 0;
}

int main(int argc, char **argv)
{
    const int repeats = argc > 1 ? atoi(argv[1]) : 20;
    const int64_t shard = argc > 2 ? atoll(argv[2]) : 16;
    if (repeats < 1 || shard < 1) {
        fprintf(stderr, "usage: depthwise_bench [REPEATS [SHARD]]\n");
        return 2;
    }
    double forward_all = 0, backward_all = 0, macs_all = 0;
    printf("| layer (channels, size, stride) | forward ms | backward ms | forward GFLOP/s | backward GFLOP/s |\n|---|---|---|---|---|\n");
    for (int i = 0; i < LAYERS; i++) {
        double f, b, m;
        if (time_layer(&layers[i], shard, repeats, &f, &b, &m))
            return 1;
        printf("| %d, %dx%d, %d | %.3f | %.3f | %.1f | %.1f |\n", layers[i].channels, layers[i].size,
               layers[i].size, layers[i].stride, 1e3 * f, 1e3 * b, 2 * m / f / 1e9,
               4 * m / b / 1e9);
        forward_all += f, backward_all += b, macs_all += m;
    }
    printf("| all, shard of %lld | %.3f | %.3f | %.1f | %.1f |\n", (long long)shard,
           1e3 * forward_all, 1e3 * backward_all, 2 * macs_all / forward_all / 1e9,
           4 * macs_all / backward_all / 1e9);
    return 0;
}
