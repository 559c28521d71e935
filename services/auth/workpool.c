/* The bounded thread pool for slow auth work. */
#include "workpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "np/list.h"

typedef struct job {
    auth_job_fn fn;
    void *arg;
    np_list_node link; /* on the queue */
} job;

struct auth_workpool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    np_list queue; /* of job, FIFO */
    int queued, queue_max;
    bool closing;
    bool joined;
    pthread_t *threads;
    int nthreads;
};

static void *
worker_main(void *arg)
{
    auth_workpool *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (np_list_empty(&w->queue) && !w->closing) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        job *j = NP_LIST_ENTRY(np_list_pop_front(&w->queue), job, link);
        if (j == NULL) {
            break; /* closing and drained */
        }
        w->queued--;
        pthread_mutex_unlock(&w->mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

auth_workpool *
auth_workpool_new(int threads, int queue_max)
{
    auth_workpool *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    w->threads = calloc((size_t)threads, sizeof(pthread_t));
    if (w->threads == NULL) {
        free(w);
        return NULL;
    }
    w->queue_max = queue_max;
    np_list_init(&w->queue);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0) {
            auth_workpool_free(w);
            return NULL;
        }
        w->nthreads++;
    }
    return w;
}

np_err
auth_workpool_submit(auth_workpool *w, auth_job_fn fn, void *arg)
{
    job *j = malloc(sizeof(*j));
    if (j == NULL) {
        return NP_ERR_NOMEM;
    }
    j->fn = fn;
    j->arg = arg;
    np_err err = NP_ERR_OK;
    pthread_mutex_lock(&w->mu);
    if (w->closing) {
        err = NP_ERR_CLOSED;
    } else if (w->queued >= w->queue_max) {
        err = NP_ERR_UNAVAILABLE;
    } else {
        np_list_push_back(&w->queue, &j->link);
        w->queued++;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    if (err != NP_ERR_OK) {
        free(j);
    }
    return err;
}

void
auth_workpool_stop(auth_workpool *w)
{
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    bool join = !w->joined;
    w->joined = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; join && i < w->nthreads; i++) {
        pthread_join(w->threads[i], NULL);
    }
}

void
auth_workpool_free(auth_workpool *w)
{
    if (w == NULL) {
        return;
    }
    auth_workpool_stop(w);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->threads);
    free(w);
}
