/* Microseconds per image of the per-image transforms (draw + resample), for
 * the sizes the pipeline meets: ImageNet-style 256x256x3 -> 224x224x3 and
 * Fashion-MNIST 28x28x1 -> 28x28x1. Not a test: timings vary by machine.
 * Build and run: make tests/bench/transform_bench && ./tests/bench/transform_bench */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "shiftnas/image_transform.h"
#include "shiftnas/rng.h"

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* kind: 0 random resized crop, 1 centre crop, 2 the whole image. */
static void bench(const char *name, int channels, int height, int width, int channels_last, int out,
                  int kind, int images)
{
    const size_t source_bytes = (size_t)channels * height * width;
    uint8_t *pixels = malloc(source_bytes);
    float *batch = malloc((size_t)channels * out * out * sizeof *batch);
    if (!pixels || !batch) {
        fprintf(stderr, "transform_bench: out of memory\n");
        exit(1);
    }
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 1, SN_RNG_TEST, 0, 0);
    for (size_t i = 0; i < source_bytes; i++)
        pixels[i] = (uint8_t)sn_rng_next_u32(&stream);
    float lut[4][256];
    for (int c = 0; c < 4; c++)
        for (int v = 0; v < 256; v++)
            lut[c][v] = ((float)v / 255.0f - 0.45f) / 0.22f;
    sn_image_view view = {pixels, channels, height, width, (int64_t)height * width, width, 1};
    if (channels_last) {
        view.channel_stride = 1;
        view.row_stride = (int64_t)width * channels;
        view.column_stride = channels;
    }
    const sn_random_resized_crop settings = {0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, 1};
    double checksum = 0;
    const double start = seconds_now();
    for (int i = 0; i < images; i++) {
        sn_crop crop = {0, 0, height, width, 0};
        if (kind == 0) {
            sn_rng_stream_init(&stream, 1, SN_RNG_AUGMENT, 0, (uint32_t)i);
            crop = sn_random_resized_crop_draw(&settings, height, width, &stream);
        } else if (kind == 1) {
            crop = sn_center_crop(height, width, out, 0.875);
        }
        sn_crop_resize(batch, (int64_t)out * out, out, out, &view, &crop, (const float(*)[256])lut);
        checksum += batch[i % (out * out)];
    }
    const double elapsed = seconds_now() - start;
    printf("%-44s %9.2f us/image  (%d images, checksum %.3f)\n", name, 1e6 * elapsed / images,
           images, checksum);
    free(pixels);
    free(batch);
}

int main(void)
{
    bench("256x256x3 CHW -> 224 random resized crop", 3, 256, 256, 0, 224, 0, 2000);
    bench("256x256x3 HWC -> 224 random resized crop", 3, 256, 256, 1, 224, 0, 2000);
    bench("256x256x3 CHW -> 224 centre crop (copy)", 3, 256, 256, 0, 224, 1, 2000);
    bench("28x28x1 -> 28x28x1 whole image (copy)", 1, 28, 28, 0, 28, 2, 200000);
    bench("28x28x1 -> 28x28x1 random resized crop", 1, 28, 28, 0, 28, 0, 200000);
    return 0;
}
