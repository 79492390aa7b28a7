/*
 * The batch prefetcher (shiftnas/input.h): one thread that fills the next
 * request while the caller trains on the last one.
 *
 * One request is in flight at most, and the caller owns the buffers it
 * names until it has waited for it, so the two threads never touch the same
 * memory; HDF5 reads inside the fill take the HDF5 lock (hdf5_lock.h). A
 * failure on the thread (a corrupt image, an I/O error) is carried back
 * with its message and reported by the wait, on the caller's thread, at the
 * step that needed the batch.
 */
#include "shiftnas/input.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shiftnas/error.h"

struct sn_prefetcher {
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    sn_image_source *source;
    sn_batch_request request;
    int submitted;   /* a request waits for the thread */
    int outstanding; /* submitted and not yet waited for */
    int finished;    /* the thread has filled it */
    int quit;
    int status;
    char message[1024];
};

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *prefetch_thread(void *argument)
{
    sn_prefetcher *p = argument;
    pthread_mutex_lock(&p->mutex);
    for (;;) {
        while (!p->submitted && !p->quit)
            pthread_cond_wait(&p->changed, &p->mutex);
        if (p->quit)
            break;
        p->submitted = 0;
        sn_batch_request request = p->request;
        pthread_mutex_unlock(&p->mutex);
        int status = sn_image_source_fill(p->source, &request);
        pthread_mutex_lock(&p->mutex);
        p->status = status;
        if (status != SN_OK)
            snprintf(p->message, sizeof p->message, "%s", sn_error_message());
        p->finished = 1;
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->mutex);
    return NULL;
}

int sn_prefetcher_start(sn_prefetcher **out, sn_image_source *source)
{
    *out = NULL;
    sn_prefetcher *p = calloc(1, sizeof *p);
    if (!p)
        return sn_error_set(SN_ERR_NOMEM, "batch prefetcher: out of memory");
    p->source = source;
    if (pthread_mutex_init(&p->mutex, NULL) != 0) {
        free(p);
        return sn_error_set(SN_ERR_INTERNAL, "batch prefetcher: cannot create a mutex");
    }
    if (pthread_cond_init(&p->changed, NULL) != 0) {
        pthread_mutex_destroy(&p->mutex);
        free(p);
        return sn_error_set(SN_ERR_INTERNAL, "batch prefetcher: cannot create a condition");
    }
    int error = pthread_create(&p->thread, NULL, prefetch_thread, p);
    if (error != 0) {
        pthread_cond_destroy(&p->changed);
        pthread_mutex_destroy(&p->mutex);
        free(p);
        return sn_error_set(SN_ERR_INTERNAL, "batch prefetcher: cannot start its thread: %s",
                            strerror(error));
    }
    *out = p;
    return SN_OK;
}

void sn_prefetcher_submit(sn_prefetcher *p, const sn_batch_request *request)
{
    pthread_mutex_lock(&p->mutex);
    p->request = *request;
    p->submitted = 1;
    p->outstanding = 1;
    p->finished = 0;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mutex);
}

int sn_prefetcher_wait(sn_prefetcher *p, double *waited)
{
    double start = seconds_now();
    pthread_mutex_lock(&p->mutex);
    if (!p->outstanding) {
        pthread_mutex_unlock(&p->mutex);
        return SN_OK;
    }
    while (!p->finished)
        pthread_cond_wait(&p->changed, &p->mutex);
    p->outstanding = 0;
    p->finished = 0;
    int status = p->status;
    pthread_mutex_unlock(&p->mutex);
    if (waited)
        *waited += seconds_now() - start;
    if (status != SN_OK)
        return sn_error_set(status, "%s", p->message);
    return SN_OK;
}

void sn_prefetcher_stop(sn_prefetcher *p)
{
    if (!p)
        return;
    sn_prefetcher_wait(p, NULL);
    pthread_mutex_lock(&p->mutex);
    p->quit = 1;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mutex);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->mutex);
    free(p);
}
