/* Shared by the samplers: distance of a MACs value to a bucket and the guided
 * search that walks a subnet into a bucket. */
#ifndef SHIFTNAS_SEARCH_INTERNAL_H
#define SHIFTNAS_SEARCH_INTERNAL_H

#include "shiftnas/sampler.h"

enum { SN_ROLE_BUCKET = 0, SN_ROLE_TARGET = 1, SN_ROLE_ARCH = 2, SN_ROLE_SEARCH = 3 };

/* 0 inside bucket k, else how many MACs short of or beyond it. */
int64_t sn_bucket_distance(const sn_buckets *buckets, int k, int64_t macs);

/* Moves `arch` (canonical, MACs *macs) toward bucket k, at most max_moves
 * moves, choices drawn from `stream`. Updates *macs; returns moves made. */
int sn_bucket_search(const sn_space *space, const sn_buckets *buckets, int k, int max_moves,
                     sn_rng_stream *stream, sn_arch *arch, int64_t *macs);

#endif
