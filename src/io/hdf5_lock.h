/* One lock around every HDF5 call shiftnas makes (internal to the library).
 *
 * Debian's parallel HDF5 is built without thread safety: two threads inside
 * the library at once corrupt its state, even on different files. The batch
 * prefetcher (src/io/prefetch.c) reads images on a thread of its own while
 * the main thread writes checkpoints, the run log and model files, so each
 * of those entries holds this lock. It is recursive: a locked function may
 * call another. Code that runs only when no prefetcher exists (report,
 * inspect) need not take it, but may. */
#ifndef SHIFTNAS_HDF5_LOCK_H
#define SHIFTNAS_HDF5_LOCK_H

void sn_hdf5_lock(void);
void sn_hdf5_unlock(void);

#endif
