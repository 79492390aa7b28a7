/*
 * shiftnas/dist.h — the ranks of a run: start-up, agreement on failures, the
 * few collectives training and the image-folder conversion need, and the
 * logical shards of a batch.
 *
 * A run is one or more MPI ranks (mpirun -np N, srun --mpi=pmix), held by an
 * opaque sn_dist handle; this header needs no MPI, so neither does a program
 * that includes it. A process started without an MPI launcher is a run of
 * one rank and never calls MPI, so single-process tools and tests need no
 * launcher. Every collective below also works for one rank (where it copies
 * or does nothing), so the code path is the same at every rank count.
 *
 * Failures. A function that fails on one rank returns its error as usual;
 * before the next collective that the other ranks are waiting in, the
 * caller passes its status through sn_dist_agree(), which tells every rank
 * whether some rank failed. The failing rank of lowest number keeps its
 * message (the command line prints it, naming the rank); the others get
 * SN_ERR_PEER and print nothing. A failure that cannot reach an agreement
 * point is ended by sn_dist_abort() (MPI_Abort: the launcher kills every
 * rank).
 */
#ifndef SHIFTNAS_DIST_H
#define SHIFTNAS_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "shiftnas/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ranks of a run: which one this process is, how many there are, and
 * (inside the library) how they talk. */
typedef struct sn_dist sn_dist;

/* *out = a run of one process that does not use MPI (rank 0 of 1).
 * SN_ERR_NOMEM if the handle cannot be allocated (*out = NULL). */
SN_API int sn_dist_local(sn_dist **out);

/* Starts the ranks: *out = this process's handle. Without an MPI launcher
 * (no Open MPI, PMIx or PMI variables) this is sn_dist_local. Refuses, with
 * SN_ERR_MPI on task 0 (the message says how to launch) and SN_ERR_PEER
 * (print nothing) on the others: an srun step of several tasks without PMI
 * (separate copies, each would train alone), and an srun launch whose MPI
 * world size differs from the step's task count. On failure *out = NULL
 * and MPI, if this call started it, is finalized again. */
SN_API int sn_dist_init(sn_dist **out, int *argc, char ***argv);
/* Releases the handle; calls MPI_Finalize if sn_dist_init started MPI.
 * dist may be NULL. */
SN_API void sn_dist_free(sn_dist *dist);

/* This process's rank, 0 .. size-1. */
SN_API int sn_dist_rank(const sn_dist *dist);
/* The number of ranks of the run. */
SN_API int sn_dist_size(const sn_dist *dist);
/* 1 if the ranks talk through MPI (a launcher started them, even a run of
 * one rank under mpirun -np 1); 0 for a process on its own. */
SN_API int sn_dist_uses_mpi(const sn_dist *dist);

/* For the commands that run on one process (search, eval): the number of
 * processes a launcher started together, from its environment (mpirun's
 * OMPI_COMM_WORLD_SIZE, or an srun step's task count); 1 if none. *rank
 * (may be NULL) receives this process's rank among them. */
SN_API int sn_dist_launched_processes(int *rank);

/* Every rank passes its status; returns SN_OK if all succeeded. Else one
 * rank gets its own status back, message kept: the lowest-numbered rank that
 * failed by itself (a status other than SN_ERR_PEER), or if there is none the
 * lowest-numbered failing one; every other rank gets SN_ERR_PEER. Marks the
 * failure as agreed (see sn_dist_failure_agreed). */
SN_API int sn_dist_agree(const sn_dist *dist, int status);
/* 1 once a failure has gone through sn_dist_agree or sn_dist_check_identical:
 * every rank knows of it, so none needs sn_dist_abort. Stays 1 for the rest
 * of the process. */
SN_API int sn_dist_failure_agreed(void);
/* The status of the rank that reported the first failure agreed through
 * sn_dist_agree (SN_OK before any), the same on every rank: a rank that got
 * SN_ERR_PEER learns what kind of failure ended the run (e.g.
 * SN_ERR_IO_TRANSIENT, on which train exits 75). */
SN_API int sn_dist_failure_code(void);
/* Flushes stdout and stderr and ends every rank (MPI_Abort) with exit code
 * `code`. Returns when there is no other rank to end (no MPI, or a run of
 * one rank): the caller then exits with its code as usual. */
SN_API void sn_dist_abort(const sn_dist *dist, int code);

/* values[counts[0] + ... + counts[size-1]] on every rank: rank r's `mine`
 * (counts[rank] doubles) at offset counts[0] + ... + counts[r-1]. */
SN_API int sn_dist_allgather_doubles(const sn_dist *dist, const double *mine, const int *counts,
                                     double *values);
/* The same for floats. */
SN_API int sn_dist_allgather_floats(const sn_dist *dist, const float *mine, const int *counts,
                                    float *values);
/* Rank 0 receives what allgather would give; other ranks' `values` untouched. */
SN_API int sn_dist_gather_doubles(const sn_dist *dist, const double *mine, const int *counts,
                                  double *values);
SN_API int sn_dist_broadcast(const sn_dist *dist, void *data, size_t bytes, int root);
/* Elementwise max over ranks of int8 values (in place). */
SN_API int sn_dist_max_int8(const sn_dist *dist, int8_t *values, int64_t count);
/* Elementwise sum over ranks of int64 values (in place; exact). */
SN_API int sn_dist_sum_int64(const sn_dist *dist, int64_t *values, int64_t count);
/* Largest value over ranks. */
SN_API int sn_dist_max_double(const sn_dist *dist, double *value);

/* 64-bit FNV-1a of `bytes` bytes, continuing from `hash` (start: SN_HASH_START). */
#define SN_HASH_START 14695981039346656037ull
SN_API uint64_t sn_hash_bytes(uint64_t hash, const void *data, size_t bytes);
/* Compares `hash` across ranks (SN_OK on one rank). On a mismatch, an agreed
 * failure: rank 0 returns SN_ERR_MPI with a message naming the step and the
 * first rank whose state differs from rank 0's, every other rank SN_ERR_PEER. */
SN_API int sn_dist_check_identical(const sn_dist *dist, uint64_t hash, int64_t step);

/* ---- logical shards -------------------------------------------------------
 *
 * A global batch of B images is cut into S shards, shard s holding images
 * [s*B/S, (s+1)*B/S) (sizes differ by at most one). Rank r of P owns the
 * shards [r*S/P, (r+1)*S/P): a contiguous block, so gathering per-shard
 * values in rank order lists them in shard order. A shard is computed the
 * same way whichever rank owns it. */
typedef struct {
    int64_t batch;
    int shards;
    int first, last;      /* this rank's shards: [first, last) */
    int ranks;
    int *shards_of_rank;  /* [size]: how many shards each rank owns */
} sn_shard_plan;

/* SN_ERR_CONFIG when S < 1, S > B (an empty shard) or P > S (a rank with
 * nothing to do), with a message saying which number to change;
 * SN_ERR_NOMEM. Free with sn_shard_plan_free. */
SN_API int sn_shard_plan_init(sn_shard_plan *plan, int64_t batch, int shards, const sn_dist *dist);
SN_API void sn_shard_plan_free(sn_shard_plan *plan);
static inline int64_t sn_shard_begin(const sn_shard_plan *plan, int shard)
{
    return (int64_t)shard * plan->batch / plan->shards;
}
static inline int64_t sn_shard_size(const sn_shard_plan *plan, int shard)
{
    return sn_shard_begin(plan, shard + 1) - sn_shard_begin(plan, shard);
}
/* counts[r] = shards of rank r times `per_shard` (for the allgathers). */
SN_API void sn_shard_plan_counts(const sn_shard_plan *plan, int per_shard, int *counts);

#ifdef __cplusplus
}
#endif
#endif
