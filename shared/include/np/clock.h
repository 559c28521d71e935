/* Time in one place: a monotonic clock for intervals and deadlines, the wall clock only where
 * a timestamp is stored or shown, and condition variables that time out on the monotonic
 * clock (a wall-clock step never shortens or stretches a wait). Also a stoppable periodic
 * thread (np_ticker) built on them. */
#ifndef NP_CLOCK_H
#define NP_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "np/errors.h"

/* np_now_ms returns milliseconds on CLOCK_MONOTONIC: for intervals, deadlines and ages, never
 * for stored timestamps. */
int64_t np_now_ms(void);
/* np_wall_ms returns milliseconds since the Unix epoch (CLOCK_REALTIME): for timestamps that
 * are stored, sent or compared with another host's. */
int64_t np_wall_ms(void);
/* np_wall_us is np_wall_ms in microseconds (event and log timestamps). */
int64_t np_wall_us(void);

/* np_cond_init initialises cv to time out on CLOCK_MONOTONIC (pthread_condattr_setclock);
 * every condvar given to np_cond_wait_until must be made here. */
void np_cond_init(pthread_cond_t *cv);
/* np_deadline_ms returns the np_now_ms() value ms milliseconds from now (saturating). */
int64_t np_deadline_ms(int64_t ms);
/* np_cond_wait_until waits on cv (made by np_cond_init, mu held) until it is signalled or the
 * monotonic time deadline_ms (an np_now_ms value) has passed. Returns 0 when woken (maybe
 * spuriously: callers recheck their condition) and ETIMEDOUT when the deadline has passed. */
int np_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms);

/* A thread that calls fn every period, on its own, until stopped. */
typedef struct np_ticker np_ticker;
/* np_ticker_fn runs on the ticker's thread, without any ticker lock held. It returns the delay
 * in ms before its next run, or 0 to keep the current period (so a period read from settings
 * can change between runs). */
typedef int64_t (*np_ticker_fn)(void *arg);

/* np_ticker_start starts a thread that waits period_ms (> 0), calls fn(arg), and again, until
 * np_ticker_stop. NP_ERR_NOMEM or NP_ERR_SYSTEM when it cannot. */
np_err np_ticker_start(np_ticker **out, np_ticker_fn fn, void *arg, int64_t period_ms);
/* np_ticker_kick makes the ticker run fn now rather than at the end of its period (once, even
 * when kicked several times before it runs). */
void np_ticker_kick(np_ticker *t);
/* np_ticker_stop wakes the ticker at once, waits for a run in progress to end, joins the
 * thread and frees the ticker; fn is not called again. NULL is accepted. */
void np_ticker_stop(np_ticker *t);

#endif
