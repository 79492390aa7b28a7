/*
 * The ranks of a run (shiftnas/dist.h): start-up checks, failure agreement
 * and the handful of collectives training uses. Every collective has a
 * one-rank path that copies, so a run of one process (no launcher, no MPI)
 * goes through the same calls as a run of many.
 */
#include "dist/dist_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftnas/error.h"

static int failure_agreed;
static int failure_code; /* the reporter's status of the first agreed failure */

void sn_dist_local_init(sn_dist *dist)
{
    memset(dist, 0, sizeof *dist);
    dist->rank = 0;
    dist->size = 1;
    dist->comm = MPI_COMM_NULL;
}

/* Also the start of the other handles, which fill it in. */
int sn_dist_local(sn_dist **out)
{
    *out = malloc(sizeof **out);
    if (!*out)
        return sn_error_set(SN_ERR_NOMEM, "the ranks of the run: out of memory");
    sn_dist_local_init(*out);
    return SN_OK;
}

int sn_dist_rank(const sn_dist *dist)
{
    return dist->rank;
}

int sn_dist_size(const sn_dist *dist)
{
    return dist->size;
}

int sn_dist_uses_mpi(const sn_dist *dist)
{
    return dist->mpi;
}

static int allocate_scratch(sn_dist *dist)
{
    dist->displacements = malloc(sizeof(int) * (size_t)dist->size);
    dist->hashes = malloc(sizeof(uint64_t) * (size_t)dist->size);
    if (!dist->displacements || !dist->hashes)
        return sn_error_set(SN_ERR_NOMEM, "buffers for %d ranks: out of memory", dist->size);
    return SN_OK;
}

int sn_dist_from_world(sn_dist **out)
{
    SN_TRY(sn_dist_local(out));
    sn_dist *dist = *out;
    dist->mpi = 1;
    dist->comm = MPI_COMM_WORLD;
    MPI_Comm_rank(dist->comm, &dist->rank);
    MPI_Comm_size(dist->comm, &dist->size);
    int status = allocate_scratch(dist);
    if (status != SN_OK) {
        sn_dist_free(dist);
        *out = NULL;
    }
    return status;
}

static const char *environment(const char *name)
{
    const char *value = getenv(name);
    return value && *value ? value : NULL;
}

/* A launcher that wires the ranks together left one of these behind:
 * mpirun (Open MPI's ORTE), PMIx (srun --mpi=pmix, prterun) or PMI. */
static int launched_by_mpi(void)
{
    return environment("OMPI_COMM_WORLD_SIZE") || environment("PMIX_RANK") ||
           environment("PMI_RANK") || environment("PMI_SIZE");
}

/* Tasks of the current srun step, 0 outside one. Only srun sets
 * SLURM_STEP_ID: a batch script's own environment also has SLURM_PROCID=0
 * and the job's SLURM_NTASKS, but it is one process (it may run a plain
 * `shiftnas train`, or mpirun). */
static long slurm_tasks(void)
{
    if (!environment("SLURM_PROCID") || !environment("SLURM_STEP_ID"))
        return 0;
    const char *tasks = environment("SLURM_STEP_NUM_TASKS");
    if (!tasks)
        tasks = environment("SLURM_NTASKS");
    return tasks ? strtol(tasks, NULL, 10) : 0;
}

int sn_dist_launched_processes(int *rank)
{
    const char *size = environment("OMPI_COMM_WORLD_SIZE");
    const char *mine = environment("OMPI_COMM_WORLD_RANK");
    long count = size ? strtol(size, NULL, 10) : slurm_tasks();
    if (!size)
        mine = environment("SLURM_PROCID");
    if (rank)
        *rank = mine ? (int)strtol(mine, NULL, 10) : 0;
    return count > 1 ? (int)count : 1;
}

/* Fills in the handle of one process `dist` as the launcher started the
 * ranks. On failure MPI may be running: the caller ends it. */
static int start_ranks(sn_dist *dist, int *argc, char ***argv)
{
    long tasks = slurm_tasks();
    if (!launched_by_mpi()) {
        /* Plain srun -n N without PMI starts N unrelated copies: each would
         * train the whole run alone and they would overwrite each other's
         * files. Only task 0 says so, the others just stop. */
        if (tasks > 1) {
            const char *procid = environment("SLURM_PROCID");
            if (procid && strcmp(procid, "0") != 0)
                return sn_error_set(SN_ERR_PEER, "srun started this copy without PMI");
            return sn_error_set(SN_ERR_MPI,
                                "srun started %ld separate copies (SLURM_NTASKS=%ld) that cannot "
                                "talk to each other: launch with 'srun --mpi=pmix' or mpirun",
                                tasks, tasks);
        }
        return SN_OK;
    }
    int provided = 0;
    /* Only the main thread calls MPI; BLIS may run OpenMP threads beside. */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return sn_error_set(SN_ERR_MPI, "MPI_Init_thread failed");
    dist->mpi = 1;
    dist->owns_mpi = 1;
    dist->comm = MPI_COMM_WORLD;
    MPI_Comm_rank(dist->comm, &dist->rank);
    MPI_Comm_size(dist->comm, &dist->size);
    if (allocate_scratch(dist) != SN_OK)
        return sn_error_set(SN_ERR_NOMEM, "rank %d: buffers for %d ranks: out of memory",
                            dist->rank, dist->size);
    /* mpirun inside an allocation may use fewer ranks than the allocation
     * has tasks; only a direct srun launch must match its step. */
    if (tasks > 0 && !environment("OMPI_COMM_WORLD_SIZE") && tasks != dist->size) {
        int status = dist->rank == 0
                         ? sn_error_set(SN_ERR_MPI,
                                        "Slurm started %ld tasks (SLURM_NTASKS) but MPI sees %d "
                                        "rank(s): check srun --mpi=pmix and the MPI library",
                                        tasks, dist->size)
                         : sn_error_set(SN_ERR_PEER, "rank count differs from SLURM_NTASKS");
        return status;
    }
    return SN_OK;
}

int sn_dist_init(sn_dist **out, int *argc, char ***argv)
{
    SN_TRY(sn_dist_local(out));
    int status = start_ranks(*out, argc, argv);
    if (status != SN_OK) {
        sn_dist_free(*out);
        *out = NULL;
    }
    return status;
}

void sn_dist_free(sn_dist *dist)
{
    if (!dist)
        return;
    free(dist->displacements);
    free(dist->hashes);
    if (dist->owns_mpi) {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized)
            MPI_Finalize();
    }
    free(dist);
}

int sn_dist_agree(const sn_dist *dist, int status)
{
    /* key: a rank that failed itself (and reports) < size <= a rank that
     * only knows another failed < 2 size = success; the minimum names the
     * reporter. Agreeing twice on the same failure keeps the reporter. */
    int size = dist->size;
    int mine = status == SN_OK ? 2 * size
                               : (status == SN_ERR_PEER ? size + dist->rank : dist->rank);
    int first = mine;
    if (dist->mpi && size > 1)
        MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, dist->comm);
    if (first == 2 * size)
        return SN_OK;
    /* Every rank is here: the reporter tells the others what failed. */
    int reporter = first < size ? first : first - size;
    int code = status;
    if (dist->mpi && size > 1)
        MPI_Bcast(&code, 1, MPI_INT, reporter, dist->comm);
    if (!failure_agreed)
        failure_code = code;
    failure_agreed = 1;
    if (first == dist->rank)
        return status;
    return sn_error_set(SN_ERR_PEER, "rank %d failed", first < size ? first : first - size);
}

int sn_dist_failure_agreed(void)
{
    return failure_agreed;
}

int sn_dist_failure_code(void)
{
    return failure_code;
}

void sn_dist_abort(const sn_dist *dist, int code)
{
    if (dist->mpi && dist->size > 1) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(dist->comm, code);
    }
}

/* Displacements of an allgatherv from the counts. */
static int displacements(const sn_dist *dist, const int *counts, int *displs)
{
    int total = 0;
    for (int r = 0; r < dist->size; r++) {
        displs[r] = total;
        total += counts[r];
    }
    return total;
}

static int gather_any(const sn_dist *dist, const void *mine, const int *counts, void *values,
                      MPI_Datatype type, size_t element, int root)
{
    if (!dist->mpi || dist->size == 1) {
        memmove(values, mine, element * (size_t)counts[0]);
        return SN_OK;
    }
    int *displs = dist->displacements;
    displacements(dist, counts, displs);
    int rc = root < 0 ? MPI_Allgatherv(mine, counts[dist->rank], type, values, counts, displs,
                                       type, dist->comm)
                      : MPI_Gatherv(mine, counts[dist->rank], type, values, counts, displs, type,
                                    root, dist->comm);
    return rc == MPI_SUCCESS ? SN_OK : sn_error_set(SN_ERR_MPI, "gather of per-shard values failed");
}

int sn_dist_allgather_doubles(const sn_dist *dist, const double *mine, const int *counts,
                              double *values)
{
    return gather_any(dist, mine, counts, values, MPI_DOUBLE, sizeof(double), -1);
}

int sn_dist_allgather_floats(const sn_dist *dist, const float *mine, const int *counts,
                             float *values)
{
    return gather_any(dist, mine, counts, values, MPI_FLOAT, sizeof(float), -1);
}

int sn_dist_gather_doubles(const sn_dist *dist, const double *mine, const int *counts,
                           double *values)
{
    return gather_any(dist, mine, counts, values, MPI_DOUBLE, sizeof(double), 0);
}

int sn_dist_broadcast(const sn_dist *dist, void *data, size_t bytes, int root)
{
    if (!dist->mpi || dist->size == 1)
        return SN_OK;
    /* MPI counts are ints: large buffers go in pieces. */
    char *p = data;
    while (bytes > 0) {
        size_t piece = bytes < (1u << 30) ? bytes : (1u << 30);
        if (MPI_Bcast(p, (int)piece, MPI_BYTE, root, dist->comm) != MPI_SUCCESS)
            return sn_error_set(SN_ERR_MPI, "broadcast failed");
        p += piece;
        bytes -= piece;
    }
    return SN_OK;
}

static int allreduce_pieces(const sn_dist *dist, void *values, int64_t count, size_t element,
                            MPI_Datatype type, MPI_Op op)
{
    if (!dist->mpi || dist->size == 1)
        return SN_OK;
    char *p = values;
    while (count > 0) {
        int piece = count < (1 << 28) ? (int)count : (1 << 28);
        if (MPI_Allreduce(MPI_IN_PLACE, p, piece, type, op, dist->comm) != MPI_SUCCESS)
            return sn_error_set(SN_ERR_MPI, "all-reduce failed");
        p += (size_t)piece * element;
        count -= piece;
    }
    return SN_OK;
}

int sn_dist_max_int8(const sn_dist *dist, int8_t *values, int64_t count)
{
    return allreduce_pieces(dist, values, count, 1, MPI_INT8_T, MPI_MAX);
}

int sn_dist_sum_int64(const sn_dist *dist, int64_t *values, int64_t count)
{
    return allreduce_pieces(dist, values, count, 8, MPI_INT64_T, MPI_SUM);
}

int sn_dist_max_double(const sn_dist *dist, double *value)
{
    return allreduce_pieces(dist, value, 1, sizeof(double), MPI_DOUBLE, MPI_MAX);
}

uint64_t sn_hash_bytes(uint64_t hash, const void *data, size_t bytes)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < bytes; i++) {
        hash ^= p[i];
        hash *= 1099511628211ull;
    }
    return hash;
}

int sn_dist_check_identical(const sn_dist *dist, uint64_t hash, int64_t step)
{
    if (!dist->mpi || dist->size == 1)
        return SN_OK;
    uint64_t *all = dist->hashes;
    if (MPI_Allgather(&hash, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, dist->comm) != MPI_SUCCESS)
        return sn_error_set(SN_ERR_MPI, "state check: gather of hashes failed");
    int differs = -1;
    for (int r = 1; r < dist->size && differs < 0; r++)
        if (all[r] != all[0])
            differs = r;
    if (differs < 0)
        return SN_OK;
    /* Every rank sees the same hashes, so every rank reaches this branch:
     * an agreed failure that rank 0 reports. */
    failure_agreed = 1;
    if (dist->rank != 0)
        return sn_error_set(SN_ERR_PEER, "state differs across ranks");
    return sn_error_set(SN_ERR_MPI,
                        "step %lld: the trained state of rank %d differs from rank 0's "
                        "([distributed] check_interval); the ranks no longer train the same "
                        "network",
                        (long long)step + 1, differs);
}

int sn_shard_plan_init(sn_shard_plan *plan, int64_t batch, int shards, const sn_dist *dist)
{
    memset(plan, 0, sizeof *plan);
    if (shards < 1)
        return sn_error_set(SN_ERR_CONFIG, "[distributed] shards = %d: must be at least 1",
                            shards);
    if (shards > batch)
        return sn_error_set(SN_ERR_CONFIG,
                            "[distributed] shards = %d exceeds [train] batch_size = %lld: every "
                            "shard needs an image",
                            shards, (long long)batch);
    if (dist->size > shards)
        return sn_error_set(SN_ERR_CONFIG,
                            "%d ranks but only %d shards ([distributed] shards): a rank would "
                            "have nothing to do; raise shards or use fewer ranks",
                            dist->size, shards);
    plan->batch = batch;
    plan->shards = shards;
    plan->ranks = dist->size;
    plan->shards_of_rank = malloc(sizeof(int) * (size_t)dist->size);
    if (!plan->shards_of_rank)
        return sn_error_set(SN_ERR_NOMEM, "shard plan: out of memory");
    for (int r = 0; r < dist->size; r++) {
        int first = (int)((int64_t)r * shards / dist->size);
        int last = (int)((int64_t)(r + 1) * shards / dist->size);
        plan->shards_of_rank[r] = last - first;
        if (r == dist->rank) {
            plan->first = first;
            plan->last = last;
        }
    }
    return SN_OK;
}

void sn_shard_plan_free(sn_shard_plan *plan)
{
    free(plan->shards_of_rank);
    memset(plan, 0, sizeof *plan);
}

void sn_shard_plan_counts(const sn_shard_plan *plan, int per_shard, int *counts)
{
    for (int r = 0; r < plan->ranks; r++)
        counts[r] = plan->shards_of_rank[r] * per_shard;
}
