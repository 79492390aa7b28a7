/* Patch embedding: a convolution with kernel = stride = patch is a reshuffle
 * of the image into non-overlapping patches followed by one matrix product.
 * The patch matrix is kept in the workspace, which backward reads again. */
#include "shiftnas/nn.h"

int64_t sn_patch_embed_workspace_floats(int64_t batch, int64_t channels, int64_t height,
                                        int64_t width, int patch)
{
    int64_t tokens = (height / patch) * (width / patch);
    return batch * tokens * channels * (int64_t)patch * patch;
}

/* workspace [N*T, C*p*p]: row n*T + ty*(W/p) + tx, column (c*p + i)*p + j holds
 * image[n][c][ty*p + i][tx*p + j], matching the weight's column order. */
static void patchify(float *patches, const float *image, int64_t batch, int64_t channels,
                     int64_t height, int64_t width, int patch)
{
    int64_t grid_h = height / patch, grid_w = width / patch;
    int64_t features = channels * (int64_t)patch * patch;
    for (int64_t n = 0; n < batch; n++)
        for (int64_t ty = 0; ty < grid_h; ty++)
            for (int64_t tx = 0; tx < grid_w; tx++) {
                float *row = patches + ((n * grid_h + ty) * grid_w + tx) * features;
                for (int64_t c = 0; c < channels; c++)
                    for (int i = 0; i < patch; i++) {
                        const float *src =
                            image + ((n * channels + c) * height + ty * patch + i) * width +
                            tx * patch;
                        float *dst = row + (c * patch + i) * patch;
                        for (int j = 0; j < patch; j++)
                            dst[j] = src[j];
                    }
            }
}

/* Patchify, then the patches are the rows of a linear layer. */
void sn_patch_embed_forward(float *out, const float *image, sn_matrix weight, const float *bias,
                            int64_t batch, int64_t channels, int64_t height, int64_t width,
                            int patch, float *workspace)
{
    int64_t rows = batch * (height / patch) * (width / patch);
    patchify(workspace, image, batch, channels, height, width, patch);
    sn_linear_forward(out, workspace, weight, bias, rows);
}

/* dweight (D x C*p*p view) += dout^T * patches; dbias [D] += column sums.
 * The image needs no gradient, so the linear backward runs without din; it
 * then reads only the shape of its weight argument, which dweight shares. */
void sn_patch_embed_backward(sn_matrix dweight, float *dbias, const float *dout,
                             int64_t batch, int64_t tokens, int patch_features,
                             const float *workspace)
{
    (void)patch_features; /* = dweight.cols */
    sn_linear_backward(NULL, dweight, dbias, dout, workspace, dweight, batch * tokens);
}
