/* Writes image folders for tests/cli/test_convert.sh and the conversion
 * benchmark, with libjpeg and libpng (CI has neither Python nor ImageMagick).
 *
 *   image_fixtures folder DIR          3 classes of mixed kinds and sizes
 *   image_fixtures bench DIR N W H     N noisy RGB JPEGs of W x H (photo-like
 *                                      file sizes) in 10 classes,
 *                                      and 20 more under val/ */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../unit/image_writer.h"

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

/* One image of kind k (0..6) in path, w x h, seeded. */
static int write_kind(const char *path, int kind, int w, int h, unsigned seed)
{
    uint8_t *pixels = malloc((size_t)w * h * 8);
    int status = -1;
    if (!pixels)
        return -1;
    switch (kind) {
    case 0: /* RGB JPEG */
        pattern_fill(pixels, w, h, 3, seed);
        status = write_jpeg(path, pixels, w, h, 3);
        break;
    case 1: /* grey JPEG */
        pattern_fill(pixels, w, h, 1, seed);
        status = write_jpeg(path, pixels, w, h, 1);
        break;
    case 2: /* Adobe CMYK JPEG */
        pattern_fill(pixels, w, h, 4, seed);
        status = write_jpeg_cmyk(path, pixels, w, h, 1, 0);
        break;
    case 3: /* RGBA PNG */
        pattern_fill(pixels, w, h, 4, seed);
        status = write_png(path, pixels, w, h, PNG_RGBA, 8, 0, NULL, 0);
        break;
    case 4: { /* palette PNG */
        uint8_t palette[64 * 3];
        for (int i = 0; i < 64 * 3; i++)
            palette[i] = (uint8_t)(i * 4 + seed);
        for (int i = 0; i < w * h; i++)
            pixels[i] = (uint8_t)((i / 3 + seed) % 64);
        status = write_png(path, pixels, w, h, PNG_PALETTE, 8, 0, palette, 64);
        break;
    }
    case 5: /* 16-bit grey PNG, interlaced */
        pattern_fill(pixels, w, h, 2, seed);
        status = write_png(path, pixels, w, h, PNG_GREY, 16, 1, NULL, 0);
        break;
    case 7: { /* RGB JPEG with noise: about the entropy (file size) of a photo */
        pattern_fill(pixels, w, h, 3, seed);
        unsigned state = seed * 2654435761u + 1;
        for (size_t i = 0; i < (size_t)w * h * 3; i++) {
            state = state * 1664525u + 1013904223u;
            int v = pixels[i] + (int)(state >> 27) - 16;
            pixels[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        status = write_jpeg(path, pixels, w, h, 3);
        break;
    }
    case 6:
    default: /* interlaced RGB PNG */
        pattern_fill(pixels, w, h, 3, seed);
        status = write_png(path, pixels, w, h, PNG_RGB, 8, 1, NULL, 0);
        break;
    }
    free(pixels);
    if (status != 0)
        fprintf(stderr, "image_fixtures: cannot write %s\n", path);
    return status;
}

static int folder(const char *dir)
{
    static const char *classes[] = {"cat", "dog", "emu"};
    static const char *splits[] = {"train", "val"};
    char path[4096];
    if (make_dir(dir) != 0)
        return 1;
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/%s", dir, splits[s]);
        if (make_dir(path) != 0)
            return 1;
        for (int c = 0; c < 3; c++) {
            snprintf(path, sizeof path, "%s/%s/%s", dir, splits[s], classes[c]);
            if (make_dir(path) != 0)
                return 1;
            int files = s == 0 ? 5 : 2;
            for (int i = 0; i < files; i++) {
                int kind = (c * 5 + i + s) % 7;
                int w = 24 + 13 * ((i + c) % 4), h = 20 + 11 * ((i + 2 * c) % 5);
                /* names with a kind-independent extension: detection is by magic bytes */
                snprintf(path, sizeof path, "%s/%s/%s/%c%d.img", dir, splits[s], classes[c], 'a' + i, kind);
                if (write_kind(path, kind, w, h, (unsigned)(c * 31 + i * 7 + s)) != 0)
                    return 1;
            }
        }
    }
    return 0;
}

static int bench(const char *dir, int n, int w, int h)
{
    char path[4096];
    if (make_dir(dir) != 0)
        return 1;
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/%s", dir, s == 0 ? "train" : "val");
        if (make_dir(path) != 0)
            return 1;
        for (int c = 0; c < 10; c++) {
            snprintf(path, sizeof path, "%s/%s/c%d", dir, s == 0 ? "train" : "val", c);
            if (make_dir(path) != 0)
                return 1;
        }
        int count = s == 0 ? n : 20;
        for (int i = 0; i < count; i++) {
            snprintf(path, sizeof path, "%s/%s/c%d/%06d.JPEG", dir, s == 0 ? "train" : "val", i % 10, i);
            if (write_kind(path, 7, w, h, (unsigned)i) != 0)
                return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "folder") == 0)
        return folder(argv[2]);
    if (argc == 6 && strcmp(argv[1], "bench") == 0)
        return bench(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: image_fixtures folder DIR | bench DIR N W H\n");
    return 2;
}
