/*
 * Batch-norm recalibration of a supernet's current subnet (BigNAS,
 * AttentiveNAS: "post BN calibration"). The running statistics a supernet
 * keeps were averaged over whatever subnets training happened to sample, so
 * they fit no particular subnet; before a subnet is evaluated they are
 * re-estimated from a few training batches run through that subnet alone.
 */
#include "shiftnas/train.h"

#include "shiftnas/error.h"
#include "shiftnas/network.h"

int sn_recalibrate_batchnorm(sn_network *network, sn_image_source *source,
                             const uint32_t *indices, int64_t count, int64_t batches,
                             int64_t batch_size, float *images, int32_t *labels)
{
    if (batches < 1 || batch_size < 1 || count < 1)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "batch-norm recalibration: %lld batches of %lld images from %lld: "
                            "all must be positive",
                            (long long)batches, (long long)batch_size, (long long)count);
    SN_TRY(sn_network_begin_batchnorm_recalibration(network));
    /* Training mode for batch statistics; dropout and drop-path are keyed
     * like any step, but a CNN supernet has neither. */
    sn_forward_mode mode = {1, 0, 0, 0};
    int64_t next = 0;
    for (int64_t b = 0; b < batches; b++) {
        int64_t n = batch_size;
        /* Wrap round the index list if it is shorter than the batches need,
         * one contiguous piece at a time. */
        if (next >= count)
            next = 0;
        if (n > count - next)
            n = count - next;
        int status = sn_image_source_fill_plain(source, images, labels, indices + next, n,
                                                sn_network_input_layout(network));
        if (status != SN_OK) {
            sn_network_end_batchnorm_recalibration(network);
            return status;
        }
        sn_network_forward(network, images, n, &mode);
        next += n;
    }
    sn_network_end_batchnorm_recalibration(network);
    return SN_OK;
}
