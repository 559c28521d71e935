/* The scheduler: which key serves which request, and when. Keys are leased in Postgres
 * (key_leases: at most KEY_MAX_CONCURRENCY slots per key, each with an expiry this instance
 * keeps renewing), so two pool instances never run two generations on one key and a crashed
 * instance's leases lapse. Requests wait in a fair queue (fairq.h: round-robin across users,
 * FIFO within a user); one scheduler thread grants leases (least recently used eligible key
 * first, from the usable keys of keyring.h), applies releases (key state, cooldowns, streaks)
 * and times waiters out. Other instances' releases wake it through LISTEN/NOTIFY.
 *
 * State flow of one waiter:
 *   1. pool_sched_enqueue (any thread): queued under its user; the scheduler thread wakes.
 *   2. a pass (scheduler thread): the user's turn comes and an eligible key has a free slot:
 *      the lease row is inserted, the token decrypted, and on_grant runs (scheduler thread).
 *   3. or the deadline passes first: on_timeout runs (scheduler thread).
 *   4. pool_sched_release (any thread, never blocks): the lease is ended with an outcome;
 *      a waiter given with it (a retry) goes back to the head of its user's queue.
 * A leaseless waiter (a route NovelAI runs without its generation lock) takes the same path
 * but gets a key without a lease row (slot -1); the relay usually picks one straight from the
 * keyring (keyring.h) and queues only when none is free. */
#ifndef POOL_SCHEDULER_H
#define POOL_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "anlas.h"
#include "fairq.h"
#include "np/config.h"
#include "np/db.h"
#include "np/events.h"
#include "outcome.h"
#include "ratelimit.h"

#define POOL_MAX_TRIED 8
#define POOL_TOKEN_MAX 160

typedef struct pool_sched pool_sched;
typedef struct pool_keyring pool_keyring;

/* A granted lease; token is wiped when the lease is released. */
typedef struct {
    int64_t key_id;
    int slot;        /* -1: a leaseless grant (no key_leases row) */
    int fail_streak; /* at grant time: drives the backoff of a failure */
    bool settled;    /* at grant time: active with no streak (a success changes nothing) */
    int64_t cost;    /* the Anlas estimate on this key */
    char token[POOL_TOKEN_MAX];
} pool_lease;

typedef struct pool_waiter pool_waiter;
typedef void (*pool_waiter_fn)(void *arg, pool_waiter *w);

/* A request waiting for a key; owned by its caller, borrowed by the scheduler while queued. */
struct pool_waiter {
    int64_t user_id;
    const pool_anlas_req *need;
    bool need_opus;                /* a text model only Opus serves */
    bool leaseless;                /* NovelAI does not lock the route: no lease needed */
    int64_t tried[POOL_MAX_TRIED]; /* keys that failed this request: not again */
    int ntried;
    int64_t deadline_ms; /* monotonic */
    /* A cap on the user's running requests (USER_MAX_CONCURRENCY): a waiter is granted only
     * while running holds fewer than max_running of them; the grant counts it (counted) and
     * its owner gives the count back (pool_waiter_give_running) when the request ends. A
     * retry keeps its count. running NULL: no cap. */
    pool_inflight *running;
    int64_t max_running;
    bool counted;
    pool_lease lease; /* filled before on_grant */
    pool_waiter_fn on_grant, on_timeout;
    void *arg;
    fairq_item qi; /* scheduler-internal: its place in the fair queue (user_id and
                    * deadline_ms are copied into it each time it is queued) */
};

/* pool_waiter_take_running counts w as running unless its user is at the cap (false);
 * pool_waiter_give_running gives a count back, once. */
bool pool_waiter_take_running(pool_waiter *w);
void pool_waiter_give_running(pool_waiter *w);
/* pool_waiter_tried: whether key_id already failed w (it is not offered again). */
bool pool_waiter_tried(const pool_waiter *w, int64_t key_id);

/* How a lease ended. */
typedef struct {
    pool_outcome_action action;
    int64_t spent;   /* Anlas to deduct from the key's known balance */
    bool used;       /* counts as a use of the key today */
    char error[128]; /* last_error to record; "" keeps the old one */
    char rid[64];    /* the request, for the key.state event */
    bool v5_read;    /* the V5 allowance was read after the request: store the two below */
    bool v5_negative;
    double v5_percent;
} pool_release_info;

/* pool_sched_open starts the scheduler and its LISTEN thread (a dedicated connection to
 * db_url). enc_key opens tokens; holder names this instance in key_leases; keyring (borrowed)
 * is invalidated when keys change and receives the counted uses of leaseless requests. */
np_err pool_sched_open(pool_sched **out, np_db *db, const char *db_url, const np_config *cfg,
                       np_events *events, const uint8_t enc_key[32], const char *holder,
                       pool_keyring *keyring);
/* pool_sched_drain stops granting and times out every waiter; releases are still applied
 * (transfers being cancelled end their leases after this). */
void pool_sched_drain(pool_sched *s);
/* pool_sched_close applies the releases still queued, stops the threads and frees; NULL is
 * accepted. Nothing may call the scheduler afterwards. */
void pool_sched_close(pool_sched *s);

/* pool_sched_enqueue queues w (fairq.h); NP_ERR_RATE_LIMITED when its user already has
 * USER_QUEUE_MAX waiting, NP_ERR_CLOSED when stopping. */
np_err pool_sched_enqueue(pool_sched *s, pool_waiter *w);

/* pool_sched_release ends lease (copied; the caller's token copy is wiped) with info; retry,
 * when not NULL, is queued again at the head of its user's queue after the release is
 * applied. Never blocks: the work happens on the scheduler thread, except for a leaseless
 * use that changes nothing on a settled key, which is only counted (keyring.h). */
void pool_sched_release(pool_sched *s, pool_lease *lease, const pool_release_info *info,
                        pool_waiter *retry);

/* pool_sched_abort: w's client left; when w is queued it leaves the queue at the scheduler's
 * next pass through on_timeout (a grant that was already under way still runs on_grant).
 * Any thread; never blocks. */
void pool_sched_abort(pool_sched *s, pool_waiter *w);
/* pool_sched_depth: requests waiting on this instance. */
int pool_sched_depth(pool_sched *s);
/* pool_sched_leases_held: key_leases rows this instance holds (and renews) now. */
int pool_sched_leases_held(pool_sched *s);

/* pool_sched_fits: whether a key with policy k may serve w (tier, model, Anlas). */
bool pool_sched_fits(const pool_waiter *w, const pool_key_policy *k, int64_t *cost, char *why,
                     size_t whylen);

/* A periodic hook run on the scheduler thread about once a second (stream reaping). */
typedef void (*pool_tick_fn)(void *arg);
void pool_sched_set_tick(pool_sched *s, pool_tick_fn fn, void *arg);

#endif
