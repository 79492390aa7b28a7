/* Which held-out images the probability shift and the search's fitness use
 * (shiftnas/train.h): the two ends of the validation split, never the same
 * image, so that the search does not select subnets on the images that
 * steered the bucket probabilities. */
#include "shiftnas/train.h"

#include <string.h>

#include "shiftnas/error.h"

/* Whether the run's probability updates evaluate held-out images. */
static int shift_uses_held_out(const sn_config *config)
{
    return strcmp(config->model_type, "supernet") == 0 &&
           strcmp(config->search_strategy, "shift") == 0 &&
           strcmp(config->shift_statistic, "loss-change") == 0;
}

int sn_held_out_plan_make(const sn_config *config, int64_t validation_count,
                          sn_held_out_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    const int64_t fitness = config->evolution_validation_images;
    if (!shift_uses_held_out(config)) {
        plan->fitness_count = fitness == 0 || fitness > validation_count ? validation_count : fitness;
        return SN_OK;
    }
    const int64_t images = config->shift_validation_images;
    if (validation_count == 0)
        return sn_error_set(SN_ERR_CONFIG,
                            "[search] shift_statistic = loss-change needs held-out images: "
                            "set [data] validation_size > 0");
    if (images >= validation_count)
        return sn_error_set(SN_ERR_CONFIG,
                            "configuration: [search] shift_validation_images = %lld leaves none of "
                            "the %lld images of [data] validation_size to the search's fitness",
                            (long long)images, (long long)validation_count);
    /* The fitness takes what the shift leaves, up to its own count (0: all
     * of it), as it takes at most the whole split in a run without shift
     * images; the search prints the count it used. */
    const int64_t left = validation_count - images;
    plan->shift_first = left;
    plan->shift_count = images;
    plan->fitness_count = fitness == 0 || fitness > left ? left : fitness;
    return SN_OK;
}
