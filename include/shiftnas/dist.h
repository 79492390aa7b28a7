/*
 * shiftnas/dist.h — the ranks of a run: start-up, agreement on failures, the
 * few collectives training needs, and the logical shards of a batch.
 *
 * A run is one or more MPI ranks (mpirun -np N, srun --mpi=pmix). A process
 * started without an MPI launcher is a run of one rank and never calls MPI,
 * so single-process tools and tests need no launcher. Every collective below
 * also works for one rank (where it is a copy), so the code path is the same
 * at every rank count.
 *
 * Failures. A function that fails on one rank returns its error as usual;
 * before the next collective that the other ranks are waiting in, the
 * caller passes its status through sn_dist_agree(), which tells every rank
 * whether some rank failed. The first failing rank keeps its message (the
 * command line prints it, naming the rank); the others get SN_ERR_PEER and
 * print nothing. A failure that cannot reach an agreement point is ended by
 * sn_dist_abort() (MPI_Abort: the launcher kills every rank).
 */
#ifndef SHIFTNAS_DIST_H
#define SHIFTNAS_DIST_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int rank, size;
    int mpi;          /* 1 if MPI was initialised (by sn_dist_init or the caller) */
    int owns_mpi;     /* 1 if sn_dist_init called MPI_Init (finalize calls MPI_Finalize) */
    MPI_Comm comm;
    /* allocated once at start-up, so that collectives in a training step
     * allocate nothing */
    int *displacements;   /* [size] */
    uint64_t *hashes;     /* [size] */
} sn_dist;

/* The context of a single process that does not use MPI. */
void sn_dist_local(sn_dist *dist);

/* Starts the ranks. Without a launcher (no Open MPI, PMIx or PMI variables)
 * this is sn_dist_local. Under Slurm, refuses (SN_ERR_MPI, message says how
 * to launch) when srun started several copies without PMI (each would train
 * alone), and when the MPI world size differs from SLURM_NTASKS. */
int sn_dist_init(sn_dist *dist, int *argc, char ***argv);
/* For the commands that run on one process (search, eval): the number of
 * processes a launcher started together, from its environment (mpirun's
 * OMPI_COMM_WORLD_SIZE, or an srun step's task count); 1 if none. *rank
 * (may be NULL) receives this process's rank among them. */
int sn_dist_launched_processes(int *rank);

/* Uses an MPI that the caller initialised (tests); MPI_COMM_WORLD.
 * Call sn_dist_finalize before MPI_Finalize (it frees, and leaves MPI to
 * the caller). */
int sn_dist_from_world(sn_dist *dist);
void sn_dist_finalize(sn_dist *dist);

/* Every rank passes its status; returns SN_OK if all succeeded; else the
 * first failing rank gets its own status back (message kept) and every other
 * rank SN_ERR_PEER. Marks the failure as agreed (see sn_dist_failure_agreed). */
int sn_dist_agree(const sn_dist *dist, int status);
/* 1 if the last failure went through sn_dist_agree (all ranks know). */
int sn_dist_failure_agreed(void);
/* Ends every rank (MPI_Abort) with exit code `code`; returns only without MPI. */
void sn_dist_abort(const sn_dist *dist, int code);

/* values[counts[0] + ... + counts[size-1]] on every rank: rank r's `mine`
 * (counts[rank] doubles) at offset counts[0] + ... + counts[r-1]. */
int sn_dist_allgather_doubles(const sn_dist *dist, const double *mine, const int *counts,
                              double *values);
/* The same for floats. */
int sn_dist_allgather_floats(const sn_dist *dist, const float *mine, const int *counts,
                             float *values);
/* Rank 0 receives what allgather would give; other ranks' `values` untouched. */
int sn_dist_gather_doubles(const sn_dist *dist, const double *mine, const int *counts,
                           double *values);
int sn_dist_broadcast(const sn_dist *dist, void *data, size_t bytes, int root);
/* Elementwise max over ranks of int8 values (in place). */
int sn_dist_max_int8(const sn_dist *dist, int8_t *values, int64_t count);
/* Elementwise sum over ranks of int64 values (in place; exact). */
int sn_dist_sum_int64(const sn_dist *dist, int64_t *values, int64_t count);
/* Largest value over ranks. */
int sn_dist_max_double(const sn_dist *dist, double *value);

/* 64-bit FNV-1a of `bytes` bytes, continuing from `hash` (start: SN_HASH_START). */
#define SN_HASH_START 14695981039346656037ull
uint64_t sn_hash_bytes(uint64_t hash, const void *data, size_t bytes);
/* Compares `hash` across ranks; on a mismatch every rank returns SN_ERR_MPI
 * with a message naming the step and the first rank whose state differs
 * from rank 0's (an agreed failure). */
int sn_dist_check_identical(const sn_dist *dist, uint64_t hash, int64_t step);

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
 * nothing to do), with a message saying which number to change. */
int sn_shard_plan_init(sn_shard_plan *plan, int64_t batch, int shards, const sn_dist *dist);
void sn_shard_plan_free(sn_shard_plan *plan);
static inline int64_t sn_shard_begin(const sn_shard_plan *plan, int shard)
{
    return (int64_t)shard * plan->batch / plan->shards;
}
static inline int64_t sn_shard_size(const sn_shard_plan *plan, int shard)
{
    return sn_shard_begin(plan, shard + 1) - sn_shard_begin(plan, shard);
}
/* counts[r] = shards of rank r times `per_shard` (for the allgathers). */
void sn_shard_plan_counts(const sn_shard_plan *plan, int per_shard, int *counts);

#ifdef __cplusplus
}
#endif
#endif
