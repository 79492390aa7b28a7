/* The guided fallback of flops-uniform sampling: a randomised local search
 * that walks the closest rejected draw into its bucket. Uniform draws almost
 * never reach the extreme buckets (0.1% for the top two of eight in the CNN
 * space), and returning the closest draw would put the "top bucket" subnets
 * in bucket K-2 or K-3, which is the bias flops-uniform exists to remove.
 * Random choices among the moves that land in (or get closer to) the bucket
 * keep the result varied: it is not always the same subnet per bucket. */
#include "search_internal.h"

int64_t sn_bucket_distance(const sn_buckets *buckets, int k, int64_t macs)
{
    int64_t lo = buckets->edge[k], hi = buckets->edge[k + 1];
    if (macs < lo)
        return lo - macs;
    if (k == buckets->count - 1)
        return macs > hi ? macs - hi : 0;
    return macs >= hi ? macs - hi + 1 : 0; /* the top edge belongs to the next bucket */
}

/* A single move: dimension d one choice up (+1) or down (-1). */
typedef struct {
    int d, dir;
} move;

static int apply(const sn_space *space, const sn_arch *from, move m, sn_arch *to)
{
    if (!sn_arch_dimension_active(space, from, m.d))
        return 0;
    int c = from->choice[m.d] + m.dir;
    if (c < 0 || c >= space->dimensions[m.d].choice_count)
        return 0;
    *to = *from;
    to->choice[m.d] = c;
    sn_arch_canonicalize(space, to); /* a shallower depth resets its dropped blocks */
    return 1;
}

/* Reservoir choice among equally good candidates: keeps *best with
 * probability 1 - 1/n, so each of n candidates is kept with probability 1/n. */
static void consider(sn_rng_stream *stream, int64_t dist, const sn_arch *candidate,
                     int64_t candidate_macs, int64_t *best_dist, int *ties, sn_arch *best,
                     int64_t *best_macs)
{
    /* Landing inside beats everything; otherwise any improvement is as good
     * as another (a random walk downhill, not steepest descent, for variety). */
    int64_t key = dist == 0 ? 0 : 1;
    int64_t best_key = *best_dist == 0 ? 0 : 1;
    if (*ties == 0 || key < best_key) {
        *ties = 1;
        *best_dist = dist;
        *best = *candidate;
        *best_macs = candidate_macs;
    } else if (key == best_key) {
        (*ties)++;
        if (sn_rng_below(stream, (uint32_t)*ties) == 0) {
            *best_dist = dist;
            *best = *candidate;
            *best_macs = candidate_macs;
        }
    }
}

int sn_bucket_search(const sn_space *space, const sn_buckets *buckets, int k, int max_moves,
                     sn_rng_stream *stream, sn_arch *arch, int64_t *macs)
{
    move moves[2 * SN_SPACE_MAX_DIMENSIONS];
    int moves_made = 0;
    int64_t dist = sn_bucket_distance(buckets, k, *macs);
    while (dist > 0 && moves_made < max_moves) {
        int n = 0;
        for (int d = 0; d < space->dimension_count; d++) {
            moves[n++] = (move){d, +1};
            moves[n++] = (move){d, -1};
        }
        sn_arch best, a1, a2;
        int64_t best_dist = dist, best_macs = *macs;
        int ties = 0;
        for (int i = 0; i < n; i++) {
            if (!apply(space, arch, moves[i], &a1))
                continue;
            int64_t m = sn_space_cost(space, &a1).macs;
            int64_t dm = sn_bucket_distance(buckets, k, m);
            if (dm < dist)
                consider(stream, dm, &a1, m, &best_dist, &ties, &best, &best_macs);
        }
        /* Stuck (every single move overshoots the bucket or goes the wrong
         * way): trade one dimension up against another down. */
        if (ties == 0) {
            for (int i = 0; i < n; i++) {
                if (!apply(space, arch, moves[i], &a1))
                    continue;
                for (int j = 0; j < n; j++) {
                    if (moves[j].d == moves[i].d || moves[j].dir == moves[i].dir ||
                        !apply(space, &a1, moves[j], &a2))
                        continue;
                    int64_t m = sn_space_cost(space, &a2).macs;
                    int64_t dm = sn_bucket_distance(buckets, k, m);
                    if (dm < dist)
                        consider(stream, dm, &a2, m, &best_dist, &ties, &best, &best_macs);
                }
            }
        }
        if (ties == 0)
            break; /* a local minimum of the distance: give the closest found */
        *arch = best;
        *macs = best_macs;
        dist = best_dist;
        moves_made++;
    }
    return moves_made;
}
