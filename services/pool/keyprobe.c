/* The key-upload probe pool: a mutex-guarded FIFO and a fixed set of threads. */
#include "keyprobe.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct pool_keyprobe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pool_keyprobe_job *head, *tail;
    int waiting, running;
    bool closing;
    pthread_t *threads;
    int nthreads;
};

static void *
thread_main(void *arg)
{
    pool_keyprobe *kp = arg;
    pthread_mutex_lock(&kp->mu);
    for (;;) {
        while (kp->head == NULL && !kp->closing) {
            pthread_cond_wait(&kp->cv, &kp->mu);
        }
        if (kp->closing) {
            break; /* what still waits is cancelled by pool_keyprobe_close */
        }
        pool_keyprobe_job *j = kp->head;
        kp->head = j->next;
        if (kp->head == NULL) {
            kp->tail = NULL;
        }
        kp->waiting--;
        kp->running++;
        pthread_mutex_unlock(&kp->mu);
        j->run(j);
        pthread_mutex_lock(&kp->mu);
        kp->running--;
    }
    pthread_mutex_unlock(&kp->mu);
    return NULL;
}

np_err
pool_keyprobe_open(pool_keyprobe **out, int threads)
{
    pool_keyprobe *kp = calloc(1, sizeof(*kp));
    if (kp == NULL) {
        return NP_ERR_NOMEM;
    }
    kp->threads = calloc((size_t)threads, sizeof(pthread_t));
    if (kp->threads == NULL) {
        free(kp);
        return NP_ERR_NOMEM;
    }
    pthread_mutex_init(&kp->mu, NULL);
    pthread_cond_init(&kp->cv, NULL);
    for (; kp->nthreads < threads; kp->nthreads++) {
        if (pthread_create(&kp->threads[kp->nthreads], NULL, thread_main, kp) != 0) {
            pool_keyprobe_close(kp);
            return NP_ERR_SYSTEM;
        }
    }
    *out = kp;
    return NP_ERR_OK;
}

np_err
pool_keyprobe_submit(pool_keyprobe *kp, pool_keyprobe_job *j, int max_waiting)
{
    np_err err = NP_ERR_OK;
    pthread_mutex_lock(&kp->mu);
    /* A job that finds an idle thread does not wait for one: the bound is on the jobs
     * beyond the threads. */
    if (kp->closing) {
        err = NP_ERR_CLOSED;
    } else if (kp->running + kp->waiting >= kp->nthreads + max_waiting) {
        err = NP_ERR_UNAVAILABLE;
    } else {
        j->next = NULL;
        if (kp->tail != NULL) {
            kp->tail->next = j;
        } else {
            kp->head = j;
        }
        kp->tail = j;
        kp->waiting++;
        pthread_cond_signal(&kp->cv);
    }
    pthread_mutex_unlock(&kp->mu);
    return err;
}

void
pool_keyprobe_counts(pool_keyprobe *kp, int *running, int *waiting)
{
    pthread_mutex_lock(&kp->mu);
    *running = kp->running;
    *waiting = kp->waiting;
    pthread_mutex_unlock(&kp->mu);
}

void
pool_keyprobe_close(pool_keyprobe *kp)
{
    if (kp == NULL) {
        return;
    }
    pthread_mutex_lock(&kp->mu);
    kp->closing = true;
    pthread_cond_broadcast(&kp->cv);
    pthread_mutex_unlock(&kp->mu);
    for (int i = 0; i < kp->nthreads; i++) {
        pthread_join(kp->threads[i], NULL);
    }
    pool_keyprobe_job *j = kp->head;
    kp->head = kp->tail = NULL;
    while (j != NULL) {
        pool_keyprobe_job *next = j->next;
        j->cancel(j);
        j = next;
    }
    pthread_mutex_destroy(&kp->mu);
    pthread_cond_destroy(&kp->cv);
    free(kp->threads);
    free(kp);
}
