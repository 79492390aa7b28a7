/* The probability shift's state as one list of fields. The checkpoint
 * (src/train/checkpointing.c), the coordinator's broadcast and the ranks'
 * state hash (src/train) all walk this list, so a field added to sn_shift is
 * added here once and reaches all of them. */
#include <math.h>
#include <stddef.h>

#include "shiftnas/dist.h"
#include "shiftnas/error.h"
#include "shiftnas/sampler.h"

static sn_shift_field vector(const char *name, sn_shift_field_type type, void *data, int64_t count)
{
    size_t element = type == SN_SHIFT_FIELD_DOUBLE  ? sizeof(double)
                     : type == SN_SHIFT_FIELD_INT64 ? sizeof(int64_t)
                                                    : sizeof(int);
    return (sn_shift_field){name, type, 0, data, count, (size_t)count * element};
}

static sn_shift_field scalar(const char *name, sn_shift_field_type type, void *data)
{
    sn_shift_field field = vector(name, type, data, 1);
    field.scalar = 1;
    return field;
}

int sn_shift_visit_state(sn_shift *shift, sn_shift_field_visitor visit, void *context)
{
    const sn_shift_field_type D = SN_SHIFT_FIELD_DOUBLE, I64 = SN_SHIFT_FIELD_INT64,
                              I = SN_SHIFT_FIELD_INT;
    const int64_t k = shift->count, ring = shift->ring_capacity;
    /* The order is the checkpoint's (doc/checkpoint.md): new fields go last. */
    const sn_shift_field fields[] = {
        vector("beta", D, shift->beta, k),
        vector("probability", D, shift->probability, k),
        vector("adam_m", D, shift->adam_m, k),
        vector("adam_v", D, shift->adam_v, k),
        scalar("adam_t", I64, &shift->adam_t),
        scalar("have_previous", I, &shift->have_previous),
        vector("previous_loss", D, shift->previous_loss, k),
        vector("delta", D, shift->delta, k),
        vector("gradient", D, shift->gradient, k),
        scalar("gumbel_bucket", I, &shift->gumbel_bucket),
        scalar("updates", I64, &shift->updates),
        scalar("ring_head", I, &shift->ring_head),
        scalar("ring_size", I, &shift->ring_size),
        vector("ring_bucket", I, shift->ring_bucket, ring),
        vector("ring_loss", D, shift->ring_loss, ring),
        vector("mean", D, shift->mean, k),
        vector("variance", D, shift->variance, k),
        vector("record_count", I, shift->record_count, k),
    };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        SN_TRY(visit(&fields[i], context));
    return SN_OK;
}

static int hash_field(const sn_shift_field *field, void *context)
{
    uint64_t *hash = context;
    *hash = sn_hash_bytes(*hash, field->data, field->bytes);
    return SN_OK;
}

uint64_t sn_shift_state_hash(const sn_shift *shift, uint64_t hash)
{
    /* hash_field only reads */
    sn_shift_visit_state((sn_shift *)shift, hash_field, &hash);
    return hash;
}

static int check_ring(const sn_shift *s)
{
    if (s->ring_head < 0 || s->ring_head >= (s->ring_capacity > 0 ? s->ring_capacity : 1) ||
        s->ring_size < 0 || s->ring_size > s->ring_capacity)
        return sn_error_set(SN_ERR_FORMAT, "shift ring position %d/%d outside its %d entries",
                            s->ring_head, s->ring_size, s->ring_capacity);
    for (int i = 0; i < s->ring_capacity; i++)
        if (s->ring_bucket[i] < -1 || s->ring_bucket[i] >= s->count)
            return sn_error_set(SN_ERR_FORMAT, "shift/ring_bucket[%d] = %d is not a bucket", i,
                                s->ring_bucket[i]);
    for (int k = 0; k < s->count; k++)
        if (s->record_count[k] < 0 || s->record_count[k] > s->ring_capacity)
            return sn_error_set(SN_ERR_FORMAT, "shift/record_count[%d] = %d is not a count of "
                                               "the %d ring entries",
                                k, s->record_count[k], s->ring_capacity);
    return SN_OK;
}

int sn_shift_check_state(const sn_shift *s)
{
    if (s->adam_t < 0 || s->updates < 0)
        return sn_error_set(SN_ERR_FORMAT, "shift/adam_t %lld or shift/updates %lld is negative",
                            (long long)s->adam_t, (long long)s->updates);
    if (s->have_previous != 0 && s->have_previous != 1)
        return sn_error_set(SN_ERR_FORMAT, "shift/have_previous = %d is not 0 or 1",
                            s->have_previous);
    if (s->gumbel_bucket < -1 || s->gumbel_bucket >= s->count)
        return sn_error_set(SN_ERR_FORMAT, "shift/gumbel_bucket = %d is not a bucket or -1",
                            s->gumbel_bucket);
    SN_TRY(check_ring(s));
    double total = 0;
    for (int i = 0; i < s->count; i++) {
        if (!isfinite(s->beta[i]) || !(s->probability[i] >= 0) || s->probability[i] > 1)
            return sn_error_set(SN_ERR_FORMAT, "shift state of bucket %d is not a distribution",
                                i);
        total += s->probability[i];
    }
    if (fabs(total - 1) > 1e-9)
        return sn_error_set(SN_ERR_FORMAT, "shift/probability sums to %.12g, not 1", total);
    return SN_OK;
}
