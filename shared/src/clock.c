/* The monotonic and wall clocks, monotonic condvar waits, and the periodic thread. */
#include "np/clock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

static int64_t
ms_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
np_now_ms(void)
{
    return ms_of(CLOCK_MONOTONIC);
}

int64_t
np_wall_ms(void)
{
    return ms_of(CLOCK_REALTIME);
}

int64_t
np_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
np_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

int64_t
np_deadline_ms(int64_t ms)
{
    int64_t now = np_now_ms();
    if (ms < 0) {
        ms = 0;
    }
    return ms > INT64_MAX - now ? INT64_MAX : now + ms;
}

int
np_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms)
{
    if (np_now_ms() >= deadline_ms) {
        return ETIMEDOUT;
    }
    /* Clamp far deadlines so the seconds fit any time_t. */
    int64_t s = deadline_ms / 1000;
    struct timespec ts = {.tv_sec = (time_t)(s > INT32_MAX ? INT32_MAX : s),
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
    int rv = pthread_cond_timedwait(cv, mu, &ts);
    return rv == ETIMEDOUT ? ETIMEDOUT : 0;
}

struct np_ticker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    np_ticker_fn fn;
    void *arg;
    int64_t period_ms;
    bool stop;
    bool kicked;
};

static void *
ticker_main(void *arg)
{
    np_ticker *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        int64_t until = np_deadline_ms(t->period_ms);
        while (!t->stop && !t->kicked && np_cond_wait_until(&t->cv, &t->mu, until) == 0) {
        }
        if (t->stop) {
            break;
        }
        t->kicked = false;
        pthread_mutex_unlock(&t->mu);
        int64_t next = t->fn(t->arg);
        pthread_mutex_lock(&t->mu);
        if (next > 0) {
            t->period_ms = next;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

np_err
np_ticker_start(np_ticker **out, np_ticker_fn fn, void *arg, int64_t period_ms)
{
    np_ticker *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NP_ERR_NOMEM;
    }
    t->fn = fn;
    t->arg = arg;
    t->period_ms = period_ms > 0 ? period_ms : 1000;
    pthread_mutex_init(&t->mu, NULL);
    np_cond_init(&t->cv);
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        free(t);
        return NP_ERR_SYSTEM;
    }
    *out = t;
    return NP_ERR_OK;
}

void
np_ticker_kick(np_ticker *t)
{
    pthread_mutex_lock(&t->mu);
    t->kicked = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

void
np_ticker_stop(np_ticker *t)
{
    if (t == NULL) {
        return;
    }
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}
