/* The relay, pool side.
 *
 * State flow of one relayed request (one rreq):
 *   1. OPEN (rpc worker): the envelope, the allow-list, the query and the body are checked
 *      (400/404, nothing else touched); the user's rate is spent (429 with X-RateLimit-*);
 *      the Anlas guard finds at least one key that may serve it (402 naming the reason, or
 *      503 when the pool has no usable key); the in-flight cap admits it (429); it is queued
 *      in the scheduler (429 when the user's queue is full). The relay.open call is kept.
 *      A route NovelAI runs without its generation lock takes a key from the keyring at once
 *      instead (no lease), and queues only when none is usable right now.
 *   2. GRANTED (scheduler thread, or the rpc worker for a leaseless pick): a key; the
 *      transfer starts on the curl thread. TIMEOUT instead: 503 no_key_available.
 *   3. HEADERS (curl thread): a 2xx or a client error (400...) is passed to the client
 *      ("passing"); a key-level error (401/402/403/409/429/5xx) is buffered to be judged.
 *   4. BYTES (curl thread): passing bytes collect in buf; relay.open is answered with the
 *      status, headers and first chunk as soon as there is an event (msgpack/SSE) or a full
 *      chunk or the end; later bytes answer a parked relay.next. Above the buffer cap the
 *      transfer pauses until relay.next drains it.
 *   5. DONE (curl thread): the lease is released with the outcome (state, cooldown, streak).
 *      A key-level failure that is safe to retry goes back to 2 on another key (at most
 *      MAX_RETRIES times, never a request that may have been billed); otherwise the error is
 *      answered. The usage event is emitted once.
 *   6. STREAM: relay.next drains buf (unpausing curl), parks when empty, answers more=false
 *      at the end; relay.cancel or the reaper aborts the transfer (the key then cools down).
 * An rreq is reference counted: the request itself, the upstream transfer's callbacks and
 * the streams table each hold one; the last to let go frees it. */
#include "relay_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/crypto.h"
#include "np/log.h"

/* ---- reference counting ---- */

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
    pool_xfer_release(q->x);
    np_wipe(q->lease.token, sizeof(q->lease.token));
    np_wipe(q->w.lease.token, sizeof(q->w.lease.token));
    np_buf_fini(&q->buf);
    np_buf_fini(&q->errbody);
    atomic_fetch_sub(&q->rl->body_bytes, (long long)q->body_len);
    pool_body_unref(q->body);
    free(q->filled);
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
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t minute = ts.tv_sec / 60;
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
    q->opened = true;
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
        (json_int_t)(now_ms() - q->started_ms), "bytes", (json_int_t)q->bytes, "node", rl->d.node,
        "retries", q->attempts > 0 ? q->attempts - 1 : 0, "request_id", q->rid);
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
        if (np_config_has(rl->d.cfg, "LOG_REQUEST_IP") &&
            np_config_bool(rl->d.cfg, "LOG_REQUEST_IP")) {
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

/* finish runs once per admitted request: the in-flight slot, then the usage event. */
void
relay_finish(rreq *q)
{
    if (q->finished) {
        return;
    }
    q->finished = true;
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
        if (!q->finished && !q->opened && !q->aborted) {
            q->aborted = true;
            np_log_write(NP_LOG_INFO, "pool", q->rid, "the client left before the answer");
            if (q->x != NULL && !q->up_done) {
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
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t minute = ts.tv_sec / 60;
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
