/* A bounded pool of threads for the auth service's slow work (argon2id hashing, with the
 * database writes that follow it), apart from the rpc workers so that a burst of sign-ins
 * cannot starve token checks. The queue is bounded too: when it is full, callers answer 503
 * at once instead of letting waits grow without limit. */
#ifndef AUTH_WORKPOOL_H
#define AUTH_WORKPOOL_H

#include "np/errors.h"

typedef struct auth_workpool auth_workpool;
typedef void (*auth_job_fn)(void *arg);

/* auth_workpool_new starts threads workers with room for queue_max waiting jobs; NULL on no
 * memory or when a thread cannot be started. */
auth_workpool *auth_workpool_new(int threads, int queue_max);

/* auth_workpool_submit queues fn(arg) to run on a pool thread. On success the job owns arg;
 * on failure (NP_ERR_UNAVAILABLE: the queue is full; NP_ERR_CLOSED: the pool is stopping) the
 * caller still owns it and fn never runs. */
np_err auth_workpool_submit(auth_workpool *w, auth_job_fn fn, void *arg);

/* auth_workpool_stop refuses new jobs (submit answers NP_ERR_CLOSED from now on), runs every
 * job already queued, so deferred answers still go out, and joins the threads. The pool stays
 * valid for submit until auth_workpool_free; calling it twice is harmless. */
void auth_workpool_stop(auth_workpool *w);
/* auth_workpool_free stops the pool if needed and frees it; NULL is accepted. */
void auth_workpool_free(auth_workpool *w);

#endif
