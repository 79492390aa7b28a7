/*
 * Inside the ranks handle of shiftnas/dist.h: the MPI communicator and the
 * buffers the collectives use. For the library's own code (src/train and
 * src/io read rank and size directly; the image-folder conversion opens its
 * HDF5 file on the communicator) and for the tests that start MPI
 * themselves. Programs that use the library see only the opaque handle and
 * need no MPI.
 */
#ifndef SHIFTNAS_DIST_INTERNAL_H
#define SHIFTNAS_DIST_INTERNAL_H

#include <stdint.h>

#include <mpi.h>

#include "shiftnas/dist.h"

struct sn_dist {
    int rank, size;
    int mpi;          /* 1 if the ranks talk through MPI (started by sn_dist_init or the caller) */
    int owns_mpi;     /* 1 if sn_dist_init called MPI_Init (sn_dist_free calls MPI_Finalize) */
    MPI_Comm comm;    /* MPI_COMM_NULL without MPI */
    /* allocated once at start-up, so that collectives in a training step
     * allocate nothing; NULL for one process without MPI */
    int *displacements;   /* [size] */
    uint64_t *hashes;     /* [size] */
};

/* A run of one process without MPI in the caller's storage: nothing to
 * allocate, nothing to free (never pass it to sn_dist_free). */
void sn_dist_local_init(sn_dist *dist);

/* *out = a handle on an MPI that the caller initialised (the MPI tests):
 * MPI_COMM_WORLD. sn_dist_free releases it and leaves MPI to the caller:
 * call it before MPI_Finalize. */
int sn_dist_from_world(sn_dist **out);

#endif
