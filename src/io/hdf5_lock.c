/* The process-wide HDF5 lock (hdf5_lock.h). */
#include "hdf5_lock.h"

#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock;

static void create_lock(void)
{
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&lock, &attributes);
    pthread_mutexattr_destroy(&attributes);
}

void sn_hdf5_lock(void)
{
    pthread_once(&once, create_lock);
    pthread_mutex_lock(&lock);
}

void sn_hdf5_unlock(void)
{
    pthread_mutex_unlock(&lock);
}
