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

void sn_patch_embed_forward(float *out, const float *image, sn_matrix weight, const float *bias,
                            int64_t batch, int64_t channels, int64_t height, int64_t width,
                            int patch, float *workspace)
{
    int64_t rows = batch * (height / patch) * (width / patch);
    int64_t features = channels * (int64_t)patch * patch;
    int64_t dim = weight.rows;
    patchify(workspace, image, batch, channels, height, width, patch);
    float beta = 0.0f;
    if (bias != NULL) {
        for (int64_t r = 0; r < rows; r++)
            for (int64_t d = 0; d < dim; d++)
                out[r * dim + d] = bias[d];
        beta = 1.0f;
    }
    sn_gemm(1.0f, sn_matrix_make(workspace, rows, features, features),
            sn_matrix_transpose(weight), beta, sn_matrix_make(out, rows, dim, dim));
}

/* dweight (D x C*p*p view) += dout^T * patches; dbias [D] += column sums. */
void sn_patch_embed_backward(sn_matrix dweight, float *dbias, const float *dout,
                             int64_t batch, int64_t tokens, int patch_features,
                             const float *workspace)
{
    int64_t rows = batch * tokens, dim = dweight.rows;
    sn_matrix dy = sn_matrix_make((float *)dout, rows, dim, dim);
    sn_matrix patches = sn_matrix_make((float *)workspace, rows, patch_features, patch_features);
    sn_gemm(1.0f, sn_matrix_transpose(dy), patches, 1.0f, dweight);
    if (dbias != NULL)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t d = 0; d < dim; d++)
                dbias[d] += dout[r * dim + d];
}
