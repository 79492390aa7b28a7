/* Image sets in memory, the validation split and the epoch order. Batches
 * are assembled by image sources (image_source.c). */
#include "shiftnas/data.h"
#include "shiftnas/error.h"
#include "shiftnas/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sn_image_set_free(sn_image_set *set)
{
    if (!set)
        return;
    free(set->pixels);
    free(set->labels);
    memset(set, 0, sizeof *set);
}

int sn_split_make(int64_t total, int64_t validation_count, uint64_t seed, sn_split *split)
{
    memset(split, 0, sizeof *split);
    /* Indices are uint32 and the permutation counts in uint32. */
    if (total < 1 || total > (int64_t)UINT32_MAX)
        return sn_error_set(SN_ERR_ARGUMENT, "split: %lld images: expected 1 to %u", (long long)total,
                            UINT32_MAX);
    if (validation_count < 0 || validation_count >= total)
        return sn_error_set(SN_ERR_ARGUMENT,
                            "split: validation count %lld out of range: expected 0 <= count < %lld",
                            (long long)validation_count, (long long)total);
    uint32_t *order = malloc((size_t)total * sizeof *order);
    uint8_t *held_out = calloc((size_t)total, 1);
    split->train = malloc((size_t)(total - validation_count) * sizeof *split->train);
    split->validation = malloc((size_t)(validation_count ? validation_count : 1) * sizeof *split->validation);
    if (!order || !held_out || !split->train || !split->validation) {
        free(order);
        free(held_out);
        sn_split_free(split);
        return sn_error_set(SN_ERR_NOMEM, "split: cannot allocate index lists for %lld images",
                            (long long)total);
    }
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, seed, SN_RNG_SPLIT, 0, 0);
    sn_rng_permutation(&stream, order, (uint32_t)total);
    for (int64_t i = 0; i < validation_count; i++)
        held_out[order[i]] = 1;
    /* A pass in index order yields both lists already sorted. */
    int64_t t = 0, v = 0;
    for (int64_t i = 0; i < total; i++) {
        if (held_out[i])
            split->validation[v++] = (uint32_t)i;
        else
            split->train[t++] = (uint32_t)i;
    }
    split->train_count = t;
    split->validation_count = v;
    free(order);
    free(held_out);
    return SN_OK;
}

void sn_split_free(sn_split *split)
{
    if (!split)
        return;
    free(split->train);
    free(split->validation);
    memset(split, 0, sizeof *split);
}

void sn_epoch_order(uint32_t *order, const uint32_t *indices, int64_t count, uint64_t seed,
                    uint64_t epoch)
{
    /* The permutation is built in `order` itself and then mapped through
     * `indices` in place (each slot is read once, then overwritten), so no
     * scratch memory is needed. `order` must not alias `indices`. */
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, seed, SN_RNG_SHUFFLE, epoch, 0);
    sn_rng_permutation(&stream, order, (uint32_t)count);
    for (int64_t i = 0; i < count; i++)
        order[i] = indices[order[i]];
}
