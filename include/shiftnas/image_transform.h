/*
 * shiftnas/image_transform.h — the ImageNet-style per-image transforms:
 * torchvision's RandomResizedCrop + RandomHorizontalFlip for training, its
 * Resize + CenterCrop for evaluation, and one bilinear resampling that turns
 * either crop into a normalised float image.
 *
 * The transforms are split in two on purpose. Choosing a crop (a box of
 * whole source pixels and a flip) is cheap and random; resampling it is
 * expensive and deterministic. A pipeline can draw every crop of a batch
 * first, keyed by (seed, SN_RNG_AUGMENT, epoch, sample) so that a sample's
 * crop does not depend on its batch position or rank, and resample later.
 *
 * Worked example, a 256x256 RGB image stored channels-last in an HDF5 file,
 * made into sample b of a channels-major [C, N, 224, 224] batch:
 *
 *   sn_image_view view = {pixels, 3, 256, 256,
 *                         1, 256 * 3, 3};       channel, row, column strides
 *   sn_rng_stream stream;
 *   sn_rng_stream_init(&stream, seed, SN_RNG_AUGMENT, epoch, sample);
 *   sn_crop crop = sn_random_resized_crop_draw(&settings, 256, 256, &stream);
 *   sn_crop_resize(batch + b * 224 * 224, (int64_t)N * 224 * 224, 224, 224,
 *                  &view, &crop, lut);
 *
 * Limits worth knowing:
 *   - Plain bilinear reads only the two nearest source pixels in each
 *     direction, so shrinking by more than 2x skips pixels and aliases
 *     (torchvision's tensor path with antialias=False does the same; its PIL
 *     path filters). A 224 crop of a 256-pixel image shrinks by at most
 *     1.14x, of an average full-size ImageNet image (about 400 x 350) by
 *     up to about 2x, of larger ones more: store images near the output size.
 *   - Crops are whole source pixels: torchvision's evaluation crop can start
 *     half a source pixel off the grid, ours is rounded down onto it.
 *   - Output and source sides up to INT_MAX; no allocation anywhere, the
 *     column tables live on the stack in tiles of SN_TRANSFORM_COLUMN_TILE.
 */
#ifndef SHIFTNAS_IMAGE_TRANSFORM_H
#define SHIFTNAS_IMAGE_TRANSFORM_H

#include <stdint.h>

#include "shiftnas/api.h"
#include "shiftnas/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Output columns resampled per pass (sn_crop_resize's stack tables). Wider
 * outputs are processed in several passes, with the same result. */
#define SN_TRANSFORM_COLUMN_TILE 512

/* A uint8 image described by strides, so that the same code reads images
 * stored channels-first ([C,H,W]: in-memory sets, channel_stride = H*W,
 * row_stride = W, column_stride = 1) and channels-last ([H,W,C]: HDF5 files
 * read as stored, channel_stride = 1, row_stride = W*C, column_stride = C).
 * Strides count elements (bytes). */
typedef struct {
    const uint8_t *pixels;
    int channels, height, width;
    int64_t channel_stride, row_stride, column_stride;
} sn_image_view;

/* A crop of a source image, in whole source pixels, and whether the
 * output is mirrored left-right. Always inside the image, height/width >= 1. */
typedef struct {
    int top, left, height, width;
    int flip;
} sn_crop;

/* torchvision's RandomResizedCrop + RandomHorizontalFlip settings
 * (DeiT/AutoFormer: scale 0.08..1, ratio 3/4..4/3, flip on). */
typedef struct {
    double scale_min, scale_max;   /* fraction of the source area, 0 < min <= max <= 1 */
    double ratio_min, ratio_max;   /* width / height, drawn log-uniformly, 0 < min <= max */
    int horizontal_flip;
} sn_random_resized_crop;

/* Draws one training crop from `stream` (the caller keys it by
 * (seed, SN_RNG_AUGMENT, epoch, sample)): up to 10 tries of
 * area = U(scale) * H * W, log-ratio = U(log ratio_min, log ratio_max),
 * w = round(sqrt(area * ratio)), h = round(sqrt(area / ratio)), accepted
 * when 0 < w <= W and 0 < h <= H, then top = U{0..H-h}, left = U{0..W-w};
 * after 10 failures the centre crop with the ratio clamped to the range
 * (torchvision's fallback). Then the flip, with probability 1/2 when enabled.
 *
 * The draw order is part of the meaning of a seed (changing it changes every
 * run's data stream). Per try: one sn_rng_uniform for the scale, then one
 * sn_rng_uniform for the log-ratio (24 random bits each, widened to double;
 * the rest of the arithmetic is double, rounding half to even like Python's
 * round). An accepted try then takes sn_rng_below(H - h + 1) for top and
 * sn_rng_below(W - w + 1) for left. Last, when horizontal_flip is set, one
 * sn_rng_next_u32 whose top bit is the flip; when it is not set, nothing is
 * drawn and flip is 0. The fallback draws nothing: its top and left are
 * (H - h) / 2 and (W - w) / 2 rounded down. */
SN_API sn_crop sn_random_resized_crop_draw(const sn_random_resized_crop *settings, int height,
                                           int width, sn_rng_stream *stream);

/* The evaluation crop: torchvision's Resize(round(out / fraction)) on the
 * shorter side followed by CenterCrop(out), expressed as the centred box of
 * the source that those two steps keep (so one resampling replaces two).
 * fraction in (0, 1]: DeiT uses 0.875 (224 of 256). out is the output side.
 * The box is square, round(out * shorter / round(out / fraction)) source
 * pixels a side, at most the shorter side; top and left are rounded down.
 * flip is 0. */
SN_API sn_crop sn_center_crop(int height, int width, int out, double fraction);

/* Resamples `crop` of `image` to out_height x out_width, bilinear with
 * half-pixel centres (align_corners = false, edge pixels clamped), mirrored
 * when crop->flip, each source value mapped through lut[c][v] first (the
 * caller's per-channel normalisation table, (v/255 - mean)/std), and writes
 * channel c's rows (out_width floats each, contiguous) at
 * out + c * out_channel_stride. When the crop is out_height x out_width the
 * result is exactly a copy of the crop through the table (no interpolation
 * error). No allocation.
 *
 * The crop is resampled as an image of its own: source coordinate
 * (x + 0.5) * crop->width / out_width - 0.5, clamped to the crop, so pixels
 * outside the crop never leak in (torchvision crops, then resizes). Values
 * are interpolated after the table, in float; the table is affine per
 * channel, so this equals normalising the interpolated pixel up to rounding.
 * out_height, out_width >= 1; image->channels entries of lut are read. */
SN_API void sn_crop_resize(float *out, int64_t out_channel_stride, int out_height, int out_width,
                           const sn_image_view *image, const sn_crop *crop,
                           const float (*lut)[256]);

#ifdef __cplusplus
}
#endif
#endif
