/* The key-upload probe pool: a few threads of its own (KEY_PROBE_WORKERS) that run the slow
 * part of POST /keys (the subscription probe, then the insert and the answer), so probes that
 * take seconds never hold the rpc workers that relays and the other REST routes need. Jobs
 * wait in a bounded queue; a full queue refuses at once (the caller answers 503 with
 * Retry-After) rather than letting uploads pile up. */
#ifndef POOL_KEYPROBE_H
#define POOL_KEYPROBE_H

#include "np/errors.h"

typedef struct pool_keyprobe pool_keyprobe;
typedef struct pool_keyprobe_job pool_keyprobe_job;

/* A job is embedded in the caller's own struct. run is called once on a probe thread and
 * owns the job from then on (it answers and frees); cancel is called instead for a job still
 * waiting when the pool closes, and owns it the same way. */
struct pool_keyprobe_job {
    void (*run)(pool_keyprobe_job *j);
    void (*cancel)(pool_keyprobe_job *j);
    pool_keyprobe_job *next;
};

/* pool_keyprobe_open starts threads probe threads. NP_ERR_NOMEM, NP_ERR_SYSTEM. */
np_err pool_keyprobe_open(pool_keyprobe **out, int threads);

/* pool_keyprobe_submit queues j, consuming it on success only. NP_ERR_UNAVAILABLE when
 * max_waiting jobs already wait for a thread (every thread busy), NP_ERR_CLOSED when the pool
 * is closing. */
np_err pool_keyprobe_submit(pool_keyprobe *kp, pool_keyprobe_job *j, int max_waiting);

/* pool_keyprobe_counts: jobs running and waiting now (for /metrics). */
void pool_keyprobe_counts(pool_keyprobe *kp, int *running, int *waiting);

/* pool_keyprobe_close cancels the waiting jobs, lets the running ones finish, joins the
 * threads and frees the pool; NULL is accepted. */
void pool_keyprobe_close(pool_keyprobe *kp);

#endif
