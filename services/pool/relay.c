/* The relay, pool side: the life of a relayed request (one rreq), its references and the
 * tables that find it; the other relay_*.c files hold the steps (relay_int.h lists them).
 *
 * State flow of one relayed request (relay_state.h; the thread that makes each move):
 *   1. ADMITTING (rpc worker, relay_admit.c): the envelope, the allow-list, the query and the
 *      body are checked (400/404, nothing else touched); the user's rate is spent (429 with
 *      X-RateLimit-*); the Anlas guard finds at least one key that may serve it (402 naming
 *      the reason, or 503 when the pool has no usable key); it is queued in the scheduler
 *      (429 when the user's queue is full). A refusal ends it: DONE. The relay.open call is
 *      kept. A route NovelAI runs without its generation lock takes a key from the keyring
 *      at once instead (no lease), and queues only when none is usable right now.
 *   2. QUEUED -> RUNNING (scheduler thread, or the rpc worker for a leaseless pick): a key
 *      (the in-flight cap counts it); the transfer starts on the curl thread. A timeout, an
 *      abort or a transfer that cannot start instead: DONE (503 no_key_available, ...).
 *   3. RUNNING -> PASSING or JUDGING (curl thread, on_headers): a 2xx or a client error
 *      (400...) is passed to the client; a key-level error (401/402/403/409/429/5xx) is
 *      buffered to be judged.
 *   4. PASSING -> STREAMING (curl thread, relay_stream.c): passing bytes collect in buf;
 *      relay.open is answered with the status, headers and first chunk as soon as there is
 *      an event (msgpack/SSE) or a full chunk; later bytes answer a parked relay.next. Above
 *      the buffer cap the transfer pauses until relay.next drains it.
 *   5. SETTLING (curl thread, on_done): the transfer ended; relay_decide says what follows.
 *      A key-level failure that is safe to retry goes back to QUEUED for another key (at
 *      most MAX_RETRIES times, never a request that may have been billed); otherwise the
 *      answer or the error goes out, the lease is released with the outcome (state,
 *      cooldown, streak) and the usage event is emitted once: DRAINING when relay.next
 *      still has bytes or the end to take, else DONE.
 *   6. DRAINING -> DONE (rpc worker; the scheduler thread for the reaper): relay.next drains
 *      buf (unpausing curl), parks when empty, answers more=false at the end; relay.cancel
 *      or the reaper ends a stream (and aborts its transfer if it still runs: the key then
 *      cools down).
 * An rreq is reference counted: the request itself, the upstream transfer's callbacks and
 * the streams table each hold one; the last to let go frees it (in DONE).
 *
 * Locks, in the only order they are taken:
 *   1. q->mu, one request's fields (its state, buffers, deferred calls, lease). The thread
 *      that moves the request holds it: an rpc worker (relay.open's leaseless pick,
 *      relay.next, relay.cancel, relay.abort), the curl thread (on_headers, on_body,
 *      on_done) or the scheduler thread (on_grant, on_timeout, the reaper).
 *   2. rl->mu, the relay's tables (streams by sid, admitted requests by rid), counters and
 *      refusal budget; taken under q->mu (relay_table_add, relay_rids_remove, the counts of
 *      relay_emit_usage) or alone. Nobody locks a q->mu while holding rl->mu: the reaper
 *      and pool_relay_close take references under it and let go before locking a request.
 *   3. the leaf locks of other modules, taken under q->mu, which never call the relay back:
 *      the scheduler's (pool_sched_abort), the upstream's job queue (pool_upstream_start,
 *      _resume, _cancel), the in-flight counts (pool_waiter_give_running), the proxies, the
 *      settings, the events producer and the rpc server (replies).
 * What may call the relay back runs with no q->mu held: pool_sched_release (it may run
 * on_timeout at once for a retry), pool_sched_enqueue and the leaseless pick (on_grant), and
 * every relay_table_remove and relay_unref (they may drop the last reference). The
 * scheduler and the curl thread call the relay's callbacks with none of their own locks
 * held. */
#include "relay_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/crypto.h"
#include "np/log.h"

/* ---- checks: the magic number and the state ---- */

rreq *
relay_rreq_of(void *arg, const char *where)
{
    rreq *q = arg;
    if (q == NULL || q->magic != RREQ_MAGIC) {
        np_log_write(NP_LOG_ERROR, "pool", NULL,
                     "%s: not a live relayed request (%p); the call is dropped", where, arg);
        assert(!"relay: a callback's argument is not a live rreq");
        return NULL;
    }
    return q;
}

void
relay_set_state(rreq *q, relay_state to)
{
    if (!relay_state_allowed(q->state, to)) {
        np_log_write(NP_LOG_ERROR, "pool", q->rid,
                     "relayed request moved from %s to %s: not a move the relay makes",
                     relay_state_name(q->state), relay_state_name(to));
        assert(!"relay: a state move relay_state_allowed refuses");
    }
    q->state = to;
}

/* ---- a request's life: made by relay.open, freed by its last reference ---- */

rreq *
relay_rreq_new(pool_relay *rl, np_rpc_call *open_call)
{
    rreq *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        return NULL;
    }
    q->magic = RREQ_MAGIC;
    q->rl = rl;
    q->state = RELAY_ADMITTING;
    q->path = "";
    atomic_init(&q->refs, 1);
    pthread_mutex_init(&q->mu, NULL);
    np_buf_init(&q->buf, 0);
    np_buf_init(&q->errbody, ERRBODY_MAX);
    q->started_ms = np_now_ms();
    q->sid = atomic_fetch_add(&rl->next_sid, 1) + 1;
    q->open_call = open_call;
    q->snap = np_config_acquire(rl->d.cfg);
    q->ps = NP_SETTINGS_OF(q->snap, pool);
    return q;
}

void
relay_ref(rreq *q)
{
    atomic_fetch_add(&q->refs, 1);
}

void
relay_unref(rreq *q)
{
    if (atomic_fetch_sub(&q->refs, 1) != 1) {
        return;
    }
    if (q->state != RELAY_DONE) {
        np_log_write(NP_LOG_ERROR, "pool", q->rid, "relayed request freed while %s",
                     relay_state_name(q->state));
        assert(!"relay: an rreq freed before it was done");
    }
    pool_xfer_release(q->x);
    np_wipe(q->lease.token, sizeof(q->lease.token));
    np_wipe(q->w.lease.token, sizeof(q->w.lease.token));
    np_buf_fini(&q->buf);
    np_buf_fini(&q->errbody);
    atomic_fetch_sub(&q->rl->body_bytes, (long long)q->body_len);
    pool_body_unref(q->body);
    free(q->filled);
    free(q->url);
    free(q->strs);
    np_settings_release(q->snap);
    pthread_mutex_destroy(&q->mu);
    q->magic = 0;
    free(q);
}

/* ---- the streams table ---- */

void
relay_table_add(pool_relay *rl, rreq *q)
{
    relay_ref(q);
    pthread_mutex_lock(&rl->mu);
    size_t b = (size_t)q->sid % TABLE_BUCKETS;
    q->hnext = rl->table[b];
    rl->table[b] = q;
    q->in_table = true;
    rl->streams++;
    pthread_mutex_unlock(&rl->mu);
}

/* table_take finds sid and returns it with a reference, or NULL. */
rreq *
relay_table_take(pool_relay *rl, int64_t sid)
{
    pthread_mutex_lock(&rl->mu);
    rreq *q = rl->table[(size_t)sid % TABLE_BUCKETS];
    while (q != NULL && q->sid != sid) {
        q = q->hnext;
    }
    if (q != NULL) {
        relay_ref(q);
    }
    pthread_mutex_unlock(&rl->mu);
    return q;
}

/* table_remove unlinks q (if still there) and drops the table's reference. */
void
relay_table_remove(pool_relay *rl, rreq *q)
{
    bool was = false;
    pthread_mutex_lock(&rl->mu);
    rreq **pp = &rl->table[(size_t)q->sid % TABLE_BUCKETS];
    while (*pp != NULL && *pp != q) {
        pp = &(*pp)->hnext;
    }
    if (*pp == q) {
        *pp = q->hnext;
        q->in_table = false;
        rl->streams--;
        was = true;
    }
    pthread_mutex_unlock(&rl->mu);
    if (was) {
        relay_unref(q);
    }
}

/* ---- admitted requests by request id (relay.abort) ---- */

static size_t
rid_bucket(const char *rid)
{
    size_t h = 5381;
    for (; *rid != '\0'; rid++) {
        h = h * 33 + (unsigned char)*rid;
    }
    return h % RID_BUCKETS;
}

void
relay_rids_add(pool_relay *rl, rreq *q)
{
    pthread_mutex_lock(&rl->mu);
    size_t b = rid_bucket(q->rid);
    q->rnext = rl->rids[b];
    rl->rids[b] = q;
    q->in_rids = true;
    pthread_mutex_unlock(&rl->mu);
}

/* rids_remove runs in finish, before the request's own reference can go. */
void
relay_rids_remove(pool_relay *rl, rreq *q)
{
    pthread_mutex_lock(&rl->mu);
    if (q->in_rids) {
        rreq **pp = &rl->rids[rid_bucket(q->rid)];
        while (*pp != NULL && *pp != q) {
            pp = &(*pp)->rnext;
        }
        if (*pp == q) {
            *pp = q->rnext;
        }
        q->in_rids = false;
    }
    pthread_mutex_unlock(&rl->mu);
}

/* rids_take finds user uid's unfinished request rid and returns it with a reference, or
 * NULL. The gateway makes every id; the user is checked as well, so that one user can never
 * name another's request. */
rreq *
relay_rids_take(pool_relay *rl, const char *rid, int64_t uid)
{
    pthread_mutex_lock(&rl->mu);
    rreq *q = rl->rids[rid_bucket(rid)];
    while (q != NULL && (q->uid != uid || strcmp(q->rid, rid) != 0)) {
        q = q->rnext;
    }
    if (q != NULL) {
        relay_ref(q);
    }
    pthread_mutex_unlock(&rl->mu);
    return q;
}

static void
count_minute(pool_relay *rl, int status)
{
    int64_t minute = np_wall_ms() / 60000;
    pthread_mutex_lock(&rl->mu);
    minute_count *m = &rl->minutes[minute % MINUTES];
    if (m->minute != minute) {
        *m = (minute_count){minute, 0, 0};
    }
    m->requests++;
    m->errors += status >= 400;
    pthread_mutex_unlock(&rl->mu);
}

void
relay_reply_open_error(rreq *q, np_err err, const char *message, int retry_after)
{
    hdrs h = {.n = 0};
    char v[16];
    if (retry_after > 0) {
        snprintf(v, sizeof(v), "%d", retry_after);
        relay_hdr_add(&h, NP_RELAY_RESH_RETRY_AFTER, v);
    }
    relay_hdr_rate(&h, &q->rate);
    relay_reply_error_h(q->open_call, err, message, &h);
    q->open_call = NULL;
    q->final_status = np_err_status(err);
    snprintf(q->error_class, sizeof(q->error_class), "%s", np_err_code(err));
}

/* The answer to a request whose client left (relay.abort): nobody reads it, but the deferred
 * call must be answered; the usage row says 499 client_closed. */
void
relay_reply_client_closed(rreq *q)
{
    if (q->open_call != NULL) {
        relay_reply_open_error(q, NP_ERR_CANCELED, "the client closed the connection", 0);
    }
    q->final_status = 499;
    snprintf(q->error_class, sizeof(q->error_class), "client_closed");
}

/* ---- finishing ---- */

/* emit_usage counts the request and publishes its "relay.finished" event: one per relayed
 * request, refusals included (route: the path asked for when it is not a relayed route). */
void
relay_emit_usage(rreq *q)
{
    pool_relay *rl = q->rl;
    count_minute(rl, q->final_status);
    /* The route asked for, cut to ROUTE_LOGGED_MAX bytes on a UTF-8 character boundary. */
    char asked[ROUTE_LOGGED_MAX + 1];
    size_t alen = strnlen(q->path, ROUTE_LOGGED_MAX + 1);
    if (alen > ROUTE_LOGGED_MAX) {
        alen = ROUTE_LOGGED_MAX;
        while (alen > 0 && ((unsigned char)q->path[alen] & 0xC0) == 0x80) {
            alen--;
        }
    }
    memcpy(asked, q->path, alen);
    asked[alen] = '\0';
    json_t *ev = json_pack(
        "{s:I, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:s, s:I, s:I, s:s, s:i, s:s}",
        "user_id", (json_int_t)q->uid, "relay_key_id", (json_int_t)q->kid, "route",
        q->route != NULL ? q->route->path : asked, "model", q->need.model, "width",
        (json_int_t)q->need.width, "height", (json_int_t)q->need.height, "steps",
        (json_int_t)q->need.steps, "n_samples", (json_int_t)q->need.n_samples, "cost",
        (json_int_t)q->cost, "status", q->final_status, "error", q->error_class, "latency_ms",
        (json_int_t)(np_now_ms() - q->started_ms), "bytes", (json_int_t)q->bytes, "node",
        rl->d.node, "retries", q->attempts > 0 ? q->attempts - 1 : 0, "request_id", q->rid);
    if (ev != NULL && ((q->need.kind != POOL_KIND_IMAGE && q->need.kind != POOL_KIND_AUGMENT) ||
                       q->need.width <= 0)) {
        /* not an image request, or one refused before its size was known */
        static const char *const image_only[] = {"width", "height", "steps", "n_samples", NULL};
        for (int i = 0; image_only[i] != NULL; i++) {
            json_object_set_new(ev, image_only[i], json_null());
        }
    }
    if (ev != NULL) {
        json_object_set_new(ev, "upstream_key_id",
                            q->key_id > 0 ? json_integer(q->key_id) : json_null());
        if (np_settings_common(q->snap)->LOG_REQUEST_IP) {
            json_object_set_new(ev, "ip", json_string(q->ip));
        }
    }
    np_events_emit(rl->d.events, "relay.finished", ev);
}

/* leave_slot gives the user's in-flight slot back, once. Every last answer is preceded by
 * it: a client that asks again the moment it hears the end must find its slot free. */
void
relay_leave_slot(rreq *q)
{
    if (!q->slot_left) {
        q->slot_left = true;
        pool_waiter_give_running(&q->w);
    }
}

void
relay_finish(rreq *q, relay_state to)
{
    if (q->state == RELAY_DRAINING || q->state == RELAY_DONE) {
        return;
    }
    relay_set_state(q, to);
    relay_rids_remove(q->rl, q);
    relay_leave_slot(q);
    relay_emit_usage(q);
}

void
pool_relay_abort(pool_relay *rl, np_rpc_call *call, const msgpack_object *req)
{
    char rid[64];
    int64_t uid = 0;
    if (!relay_read_abort(req, rid, sizeof(rid), &uid)) {
        np_rpc_reply_error(call, NP_ERR_WIRE, "relay.abort needs rid and uid");
        return;
    }
    rreq *q = relay_rids_take(rl, rid, uid);
    if (q != NULL) {
        pthread_mutex_lock(&q->mu);
        if (relay_awaits_answer(q) && !q->aborted) {
            q->aborted = true;
            np_log_write(NP_LOG_INFO, "pool", q->rid, "the client left before the answer");
            if (relay_attempt_running(q)) {
                /* running: as relay.cancel does (on_done answers) */
                q->cancelled = true;
                pool_upstream_cancel(rl->d.up, q->x);
            } else {
                /* waiting for a key (or for a retry): it leaves the queue (on_timeout) */
                pool_sched_abort(rl->d.sched, &q->w);
            }
        }
        pthread_mutex_unlock(&q->mu);
        relay_unref(q);
    }
    relay_reply_empty(call);
}

int
pool_relay_streams(pool_relay *rl)
{
    pthread_mutex_lock(&rl->mu);
    int n = rl->streams;
    pthread_mutex_unlock(&rl->mu);
    return n;
}

void
pool_relay_stats(pool_relay *rl, json_t *obj)
{
    int64_t minute = np_wall_ms() / 60000;
    json_t *per = json_array();
    pthread_mutex_lock(&rl->mu);
    int streams = rl->streams;
    for (int i = MINUTES - 1; i >= 0; i--) {
        const minute_count *m = &rl->minutes[(minute - i) % MINUTES];
        bool cur = m->minute == minute - i;
        json_array_append_new(per, json_pack("{s:I, s:I, s:I}", "minute",
                                             (json_int_t)((minute - i) * 60), "requests",
                                             (json_int_t)(cur ? m->requests : 0), "errors",
                                             (json_int_t)(cur ? m->errors : 0)));
    }
    pthread_mutex_unlock(&rl->mu);
    json_object_set_new(obj, "open_streams", json_integer(streams));
    json_object_set_new(obj, "per_minute", per);
}

np_err
pool_relay_new(pool_relay **out, const pool_relay_deps *d)
{
    pool_relay *rl = calloc(1, sizeof(*rl));
    if (rl == NULL) {
        return NP_ERR_NOMEM;
    }
    rl->d = *d;
    rl->limits = pool_limits_cache_new();
    if (rl->limits == NULL) {
        free(rl);
        return NP_ERR_NOMEM;
    }
    pthread_mutex_init(&rl->mu, NULL);
    atomic_init(&rl->next_sid, 0);
    atomic_init(&rl->body_bytes, 0);
    *out = rl;
    return NP_ERR_OK;
}

void
pool_relay_close(pool_relay *rl)
{
    if (rl == NULL) {
        return;
    }
    for (int b = 0; b < TABLE_BUCKETS; b++) {
        for (;;) {
            pthread_mutex_lock(&rl->mu);
            rreq *q = rl->table[b];
            if (q != NULL) {
                relay_ref(q);
            }
            pthread_mutex_unlock(&rl->mu);
            if (q == NULL) {
                break;
            }
            relay_abort_stream(rl, q);
            relay_unref(q);
        }
    }
    pthread_mutex_destroy(&rl->mu);
    pool_limits_cache_free(rl->limits);
    free(rl);
}
