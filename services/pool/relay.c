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
#include "relay.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "allowlist.h"
#include "anlas.h"
#include "defaults.h"
#include "np/buf.h"
#include "np/crypto.h"
#include "np/log.h"
#include "np/novelai.h"
#include "np/proxy.h"
#include "np/wire.h"

#define RREQ_MAGIC 0x52524551u
#define ERRBODY_MAX 65536
#define TABLE_BUCKETS 1024
#define RID_BUCKETS 1024
#define MINUTES 60

typedef struct rreq rreq;

typedef struct {
    int64_t minute;
    int64_t requests, errors;
} minute_count;

/* Refusals before the rate check spend nothing of the user's rate, so each one writing a
 * usage row would let a client fill the logs for free: a user gets REFUSALS_LOGGED_PER_MINUTE
 * such rows a minute from this pool instance (one slot per user id, modulo the table; a
 * collision only restarts the count), the rest are answered and not recorded. The route a
 * refused request asked for is stored cut to ROUTE_LOGGED_MAX bytes. */
#define REFUSAL_SLOTS 1024
#define REFUSALS_LOGGED_PER_MINUTE 30
#define ROUTE_LOGGED_MAX 128

typedef struct {
    int64_t uid;
    int64_t minute;
    int count;
} refusal_slot;

struct pool_relay {
    pool_relay_deps d;
    refusal_slot refusals[REFUSAL_SLOTS]; /* under mu */
    pool_limits_cache *limits;
    pthread_mutex_t mu; /* the streams table and the counters */
    rreq *table[TABLE_BUCKETS];
    int streams;
    rreq *rids[RID_BUCKETS]; /* admitted requests not finished yet, by request id */
    atomic_llong next_sid;
    atomic_llong body_bytes; /* bodies held by admitted requests (QUEUE_BODY_BYTES_MAX) */
    minute_count minutes[MINUTES];
};

struct rreq {
    unsigned magic;
    pool_relay *rl;
    pthread_mutex_t mu;
    atomic_int refs;
    int64_t sid;
    rreq *hnext; /* streams table chain (under rl->mu) */
    bool in_table;
    rreq *rnext; /* rids chain (under rl->mu); no reference: finish unlinks it first */
    bool in_rids;

    /* the request */
    char rid[64], ip[64], path[1100];
    int64_t uid, kid;
    const pool_route *route;
    pool_anlas_req need;
    char method[8];
    char url[1024 + 128 + POOL_QUERY_MAX]; /* base + route + query */
    char hdr_lines[4][512];
    const char *hdr_ptrs[5];
    pool_body *body; /* shared with the transfers */
    size_t body_len; /* counted in rl->body_bytes */
    char *filled;    /* the client's body with defaults filled in (NOVELAI_DEFAULT_MODEL) */
    int64_t started_ms;
    pool_rate_result rate;
    bool rate_spent; /* the rate check ran: a refusal from here on is always recorded */

    /* the scheduler */
    pool_waiter w;
    int attempts;
    bool leased;
    pool_lease lease;
    int64_t key_id;   /* the key of the last attempt, for the usage event */
    int64_t proxy_id; /* the egress proxy of the last attempt; 0: direct */
    int64_t cost;
    /* A key that answered this request with a 5xx, judged once another key has answered it:
     * the same 5xx again means the request is at fault, and neither key is harmed (NOVELAI.md,
     * "Answers that are the client's fault"); anything else gives it its strike after all. */
    bool suspect;
    pool_lease suspect_lease; /* slot -1, no token: applied as a leaseless release */
    pool_release_info suspect_info;

    /* answers; next_call and last_touch_ms are written under mu and atomic because the
     * reaper (pool_relay_tick) reads them without it */
    np_rpc_call *open_call;
    _Atomic(np_rpc_call *) next_call;
    bool opened;

    /* the upstream transfer of the current attempt */
    pool_xfer *x;
    int status;
    char ctype[160], cenc[64], cdisp[160], retry[32];
    bool passing, stream_mode, paused, up_done, broken, cancelled, finished, slot_left;
    bool aborted; /* relay.abort: the client left before relay.open was answered */
    np_buf buf;
    np_buf errbody;
    _Atomic int64_t last_touch_ms;
    uint64_t bytes;
    char error_class[40];
    int final_status;
};

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- reference counting ---- */

static void
rreq_ref(rreq *q)
{
    atomic_fetch_add(&q->refs, 1);
}

static void
rreq_unref(rreq *q)
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

static void
table_add(pool_relay *rl, rreq *q)
{
    rreq_ref(q);
    pthread_mutex_lock(&rl->mu);
    size_t b = (size_t)q->sid % TABLE_BUCKETS;
    q->hnext = rl->table[b];
    rl->table[b] = q;
    q->in_table = true;
    rl->streams++;
    pthread_mutex_unlock(&rl->mu);
}

/* table_take finds sid and returns it with a reference, or NULL. */
static rreq *
table_take(pool_relay *rl, int64_t sid)
{
    pthread_mutex_lock(&rl->mu);
    rreq *q = rl->table[(size_t)sid % TABLE_BUCKETS];
    while (q != NULL && q->sid != sid) {
        q = q->hnext;
    }
    if (q != NULL) {
        rreq_ref(q);
    }
    pthread_mutex_unlock(&rl->mu);
    return q;
}

/* table_remove unlinks q (if still there) and drops the table's reference. */
static void
table_remove(pool_relay *rl, rreq *q)
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
        rreq_unref(q);
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

static void
rids_add(pool_relay *rl, rreq *q)
{
    pthread_mutex_lock(&rl->mu);
    size_t b = rid_bucket(q->rid);
    q->rnext = rl->rids[b];
    rl->rids[b] = q;
    q->in_rids = true;
    pthread_mutex_unlock(&rl->mu);
}

/* rids_remove runs in finish, before the request's own reference can go. */
static void
rids_remove(pool_relay *rl, rreq *q)
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
static rreq *
rids_take(pool_relay *rl, const char *rid, int64_t uid)
{
    pthread_mutex_lock(&rl->mu);
    rreq *q = rl->rids[rid_bucket(rid)];
    while (q != NULL && (q->uid != uid || strcmp(q->rid, rid) != 0)) {
        q = q->rnext;
    }
    if (q != NULL) {
        rreq_ref(q);
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

/* ---- answers (q->mu held) ---- */

typedef struct {
    const char *name[8];
    char value[8][160];
    int n;
} hdrs;

static void
hdr_add(hdrs *h, const char *name, const char *value)
{
    if (h->n < 8 && value != NULL && value[0] != '\0') {
        h->name[h->n] = name;
        snprintf(h->value[h->n], sizeof(h->value[h->n]), "%s", value);
        h->n++;
    }
}

static void
hdr_rate(hdrs *h, const pool_rate_result *r)
{
    char v[32];
    if (r->limit <= 0) {
        return;
    }
    snprintf(v, sizeof(v), "%lld", (long long)r->limit);
    hdr_add(h, "x-ratelimit-limit", v);
    snprintf(v, sizeof(v), "%lld", (long long)r->remaining);
    hdr_add(h, "x-ratelimit-remaining", v);
    snprintf(v, sizeof(v), "%lld", (long long)r->reset_s);
    hdr_add(h, "x-ratelimit-reset", v);
}

static void
hdr_write(np_wire_writer *w, const hdrs *h)
{
    np_wire_key(w, "h");
    msgpack_pack_map(&w->pk, (uint32_t)h->n);
    for (int i = 0; i < h->n; i++) {
        np_wire_str(w, h->name[i], h->value[i]);
    }
}

/* An error answer {e, m, h} for relay.open (or an "http" op: same envelope). */
static void
reply_error_h(np_rpc_call *call, np_err err, const char *message, const hdrs *h)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 3);
    np_wire_str(&w, "e", np_err_code(err));
    np_wire_str(&w, "m", message != NULL && message[0] ? message : np_err_message(err));
    hdr_write(&w, h);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

static void
reply_open_error(rreq *q, np_err err, const char *message, int retry_after)
{
    hdrs h = {.n = 0};
    char v[16];
    if (retry_after > 0) {
        snprintf(v, sizeof(v), "%d", retry_after);
        hdr_add(&h, "retry-after", v);
    }
    hdr_rate(&h, &q->rate);
    reply_error_h(q->open_call, err, message, &h);
    q->open_call = NULL;
    q->opened = true;
    q->final_status = np_err_status(err);
    snprintf(q->error_class, sizeof(q->error_class), "%s", np_err_code(err));
}

/* The answer to a request whose client left (relay.abort): nobody reads it, but the deferred
 * call must be answered; the usage row says 499 client_closed. */
static void
reply_client_closed(rreq *q)
{
    if (q->open_call != NULL) {
        reply_open_error(q, NP_ERR_CANCELED, "the client closed the connection", 0);
    }
    q->final_status = 499;
    snprintf(q->error_class, sizeof(q->error_class), "client_closed");
}

/* Answers relay.open with the upstream status and up to one chunk of buf. */
static void
reply_open_ok(rreq *q, size_t chunk)
{
    size_t n = q->buf.len < chunk ? q->buf.len : chunk;
    bool more = !(q->up_done && n == q->buf.len);
    hdrs h = {.n = 0};
    hdr_add(&h, "content-type", q->ctype);
    hdr_add(&h, "content-encoding", q->cenc);
    hdr_add(&h, "content-disposition", q->cdisp);
    hdr_add(&h, "retry-after", q->retry);
    hdr_rate(&h, &q->rate);
    q->last_touch_ms = now_ms();
    if (more) {
        /* in the table before the answer leaves: relay.next may come back at once */
        table_add(q->rl, q);
    }
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, more ? 5 : 4);
    np_wire_int(&w, "s", q->status);
    hdr_write(&w, &h);
    np_wire_bin(&w, "b", q->buf.data != NULL ? q->buf.data : "", n);
    np_wire_bool(&w, "more", more);
    if (more) {
        np_wire_int(&w, "sid", q->sid);
    }
    np_rpc_reply(q->open_call, &w);
    np_wire_writer_fini(&w);
    q->open_call = NULL;
    q->opened = true;
    q->final_status = q->status;
    if (n > 0) {
        memmove(q->buf.data, q->buf.data + n, q->buf.len - n);
        q->buf.len -= n;
    }
    q->last_touch_ms = now_ms();
}

/* Answers the parked relay.next with up to one chunk; returns true when it was the last. */
static bool
reply_next(rreq *q, np_rpc_call *call, size_t chunk)
{
    size_t n = q->buf.len < chunk ? q->buf.len : chunk;
    bool more = !(q->up_done && !q->broken && n == q->buf.len);
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 2);
    np_wire_bin(&w, "b", q->buf.data != NULL ? q->buf.data : "", n);
    np_wire_bool(&w, "more", more);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
    if (n > 0) {
        memmove(q->buf.data, q->buf.data + n, q->buf.len - n);
        q->buf.len -= n;
    }
    q->last_touch_ms = now_ms();
    return !more;
}

/* ---- finishing ---- */

/* emit_usage counts the request and publishes its "relay.finished" event: one per relayed
 * request, refusals included (route: the path asked for when it is not a relayed route). */
static void
emit_usage(rreq *q)
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
static void
leave_slot(rreq *q)
{
    if (!q->slot_left) {
        q->slot_left = true;
        pool_waiter_give_running(&q->w);
    }
}

/* finish runs once per admitted request: the in-flight slot, then the usage event. */
static void
finish(rreq *q)
{
    if (q->finished) {
        return;
    }
    q->finished = true;
    rids_remove(q->rl, q);
    leave_slot(q);
    emit_usage(q);
}

/* refusal_recorded tells whether one more refusal of uid before the rate check may write a
 * usage row, and counts it. */
static bool
refusal_recorded(pool_relay *rl, int64_t uid)
{
    int64_t minute = now_ms() / 60000;
    pthread_mutex_lock(&rl->mu);
    refusal_slot *s = &rl->refusals[(uint64_t)uid % REFUSAL_SLOTS];
    if (s->uid != uid || s->minute != minute) {
        *s = (refusal_slot){.uid = uid, .minute = minute};
    }
    bool ok = s->count < REFUSALS_LOGGED_PER_MINUTE;
    if (ok) {
        s->count++;
    }
    pthread_mutex_unlock(&rl->mu);
    return ok;
}

/* refused answers relay.open for a request refused before it was queued (q was never
 * admitted: no in-flight slot), with the X-RateLimit-* figures once the rate was spent, and
 * records it like any other request (when the envelope named a user; before the rate check,
 * only within the user's refusal budget). */
static void
refused(rreq *q, np_rpc_call *call, np_err err, const char *why, int retry_after)
{
    hdrs h = {.n = 0};
    char v[16];
    if (retry_after > 0) {
        snprintf(v, sizeof(v), "%d", retry_after);
        hdr_add(&h, "retry-after", v);
    }
    hdr_rate(&h, &q->rate); /* nothing before the rate check: the figures are not known */
    reply_error_h(call, err, why, &h);
    q->open_call = NULL;
    if (q->uid > 0 && (q->rate_spent || refusal_recorded(q->rl, q->uid))) {
        q->final_status = np_err_status(err);
        snprintf(q->error_class, sizeof(q->error_class), "%s", np_err_code(err));
        emit_usage(q);
    }
}

static size_t
chunk_bytes(const pool_relay *rl)
{
    return (size_t)np_config_int(rl->d.cfg, "STREAM_CHUNK_BYTES");
}

static size_t
buffer_cap(const pool_relay *rl)
{
    return (size_t)np_config_int(rl->d.cfg, "STREAM_BUFFER_BYTES");
}

/* ---- upstream callbacks (curl thread) ---- */

static void
on_headers(void *arg, pool_xfer *x)
{
    rreq *q = arg;
    pthread_mutex_lock(&q->mu);
    q->status = pool_xfer_status(x);
    snprintf(q->ctype, sizeof(q->ctype), "%s", pool_xfer_content_type(x));
    snprintf(q->cenc, sizeof(q->cenc), "%s", pool_xfer_content_encoding(x));
    snprintf(q->cdisp, sizeof(q->cdisp), "%s", pool_xfer_content_disposition(x));
    snprintf(q->retry, sizeof(q->retry), "%s", pool_xfer_retry_after(x));
    np_novelai_outcome o = np_novelai_classify(q->status, NULL, 0);
    q->passing = o == NP_NAI_OK || o == NP_NAI_CLIENT;
    q->stream_mode = strncmp(q->ctype, "text/event-stream", 17) == 0 ||
                     strncmp(q->ctype, "application/msgpack", 19) == 0;
    pthread_mutex_unlock(&q->mu);
}

static size_t
on_body(void *arg, const char *p, size_t n)
{
    rreq *q = arg;
    pool_relay *rl = q->rl;
    pthread_mutex_lock(&q->mu);
    if (!q->passing) {
        size_t room = ERRBODY_MAX - q->errbody.len;
        np_buf_append(&q->errbody, p, n < room ? n : room);
        pthread_mutex_unlock(&q->mu);
        return n;
    }
    if (q->cancelled) {
        pthread_mutex_unlock(&q->mu);
        return n; /* the cancel job is on its way; drop the bytes */
    }
    if (q->buf.len > 0 && q->buf.len + n > buffer_cap(rl)) {
        q->paused = true;
        pthread_mutex_unlock(&q->mu);
        return CURL_WRITEFUNC_PAUSE;
    }
    if (np_buf_append(&q->buf, p, n) != NP_ERR_OK) {
        pthread_mutex_unlock(&q->mu);
        return 0; /* aborts the transfer: no memory */
    }
    q->bytes += n;
    size_t chunk = chunk_bytes(rl);
    bool ready = q->stream_mode || q->buf.len >= chunk;
    if (ready && q->open_call != NULL) {
        reply_open_ok(q, chunk);
    } else if (ready && q->next_call != NULL) {
        np_rpc_call *c = q->next_call;
        q->next_call = NULL;
        reply_next(q, c, chunk);
    }
    pthread_mutex_unlock(&q->mu);
    return n;
}

static void on_grant(void *arg, pool_waiter *w);
static void on_timeout(void *arg, pool_waiter *w);

/* ---- the V5 allowance check (curl thread) ----
 *
 * NovelAI does not refuse a V5 image once a key's weekly allowance is gone: it bills Anlas.
 * So after every V5 image a key served, its lease is held until GET /user/subscription has
 * been read with its token, and the release stores usage.isNegative and usage.percent: the
 * next request that could get the key is priced on the allowance as it is after this one.
 * A reading that fails counts as "used up" (fail closed) until the key's next probe. */

#define V5CHECK_BODY_MAX 65536

typedef struct {
    pool_relay *rl;
    pool_lease lease; /* its token is wiped once the transfer has its own copy */
    pool_release_info info;
    pool_xfer *x;
    int status;
    np_buf body;
} v5check;

/* v5check_end releases the lease with what the check read, and frees c. */
static void
v5check_end(v5check *c, bool ok)
{
    np_novelai_sub sub;
    bool read = ok && c->status == 200 && np_novelai_sub_parse(c->body.data, c->body.len, &sub);
    c->info.v5_read = true;
    c->info.v5_negative = read ? sub.v5_negative : true;
    c->info.v5_percent = read ? sub.v5_percent : 0.0;
    if (!read) {
        np_log_write(NP_LOG_WARN, "pool", c->info.rid,
                     "key %lld: its V5 allowance could not be read after a V5 image (HTTP %d); "
                     "no free V5 image on it until its next probe",
                     (long long)c->lease.key_id, c->status);
    } else if (c->info.v5_negative) {
        np_log_write(NP_LOG_INFO, "pool", c->info.rid,
                     "key %lld: V5 allowance used up; it serves no more free V5 images",
                     (long long)c->lease.key_id);
    }
    pool_sched_release(c->rl->d.sched, &c->lease, &c->info, NULL);
    pool_xfer_release(c->x);
    np_buf_fini(&c->body);
    free(c);
}

static void
v5check_on_headers(void *arg, pool_xfer *x)
{
    ((v5check *)arg)->status = pool_xfer_status(x);
}

static size_t
v5check_on_body(void *arg, const char *p, size_t n)
{
    v5check *c = arg;
    size_t room = V5CHECK_BODY_MAX - c->body.len;
    np_buf_append(&c->body, p, n < room ? n : room);
    return n;
}

static void
v5check_on_done(void *arg, pool_xfer *x, np_err result, bool maybe_sent)
{
    (void)x;
    (void)maybe_sent;
    v5check_end(arg, result == NP_ERR_OK);
}

/* v5check_start reads the allowance of lease's key (consumed: it is released when the check
 * ends, with info). */
static void
v5check_start(pool_relay *rl, pool_lease *lease, const pool_release_info *info)
{
    static const pool_xfer_cb cb = {v5check_on_headers, v5check_on_body, v5check_on_done};
    static const char *const headers[] = {"accept: application/json", NULL};
    v5check *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        pool_release_info closed = *info;
        closed.v5_read = true;
        closed.v5_negative = true; /* fail closed */
        pool_sched_release(rl->d.sched, lease, &closed, NULL);
        return;
    }
    c->rl = rl;
    c->lease = *lease;
    np_wipe(lease->token, sizeof(lease->token));
    c->info = *info;
    np_buf_init(&c->body, V5CHECK_BODY_MAX);
    char base[1024], url[1100], proxy[1100] = "";
    np_config_str(rl->d.cfg, "NOVELAI_IMAGE_BASE", base, sizeof(base));
    snprintf(url, sizeof(url), "%s/user/subscription", base);
    int64_t proxy_id = 0;
    np_err err = rl->d.proxies != NULL ? pool_proxies_for_key(rl->d.proxies, c->lease.key_id,
                                                              &proxy_id, proxy, sizeof(proxy))
                                       : NP_ERR_OK;
    long timeout_ms = (long)np_config_int(rl->d.cfg, "UPSTREAM_CONNECT_TIMEOUT_SECONDS") * 1000;
    pool_xfer_spec spec = {
        .method = "GET",
        .url = url,
        .headers = headers,
        .token = c->lease.token,
        .connect_timeout_ms = timeout_ms,
        .timeout_ms = 2 * timeout_ms,
        .idle_timeout_s = timeout_ms / 1000,
        .proxy = proxy,
    };
    c->x = err == NP_ERR_OK ? pool_xfer_new(&spec, &cb, c) : NULL;
    np_wipe(proxy, sizeof(proxy));
    np_wipe(c->lease.token, sizeof(c->lease.token));
    if (c->x == NULL || pool_upstream_start(rl->d.up, c->x) != NP_ERR_OK) {
        v5check_end(c, false); /* nothing was asked: what is known is not enough */
    }
}

/* ---- the upstream's answer (curl thread) ---- */

/* The answer once no other key will be tried after a key-level failure. */
static void
answer_failure(rreq *q, np_novelai_outcome o, np_err result)
{
    switch (o) {
    case NP_NAI_CLIENT:
    case NP_NAI_SERVER:
        /* NovelAI's own answer (a 5xx, or a client fault such as 403 "Model not allowed for
         * user tier"), as it sent it */
        q->passing = true;
        np_buf_reset(&q->buf);
        np_buf_append(&q->buf, q->errbody.data != NULL ? q->errbody.data : "", q->errbody.len);
        q->bytes = q->errbody.len;
        reply_open_ok(q, chunk_bytes(q->rl) > q->buf.len ? chunk_bytes(q->rl) : q->buf.len);
        snprintf(q->error_class, sizeof(q->error_class), "%s", np_novelai_outcome_name(o));
        break;
    case NP_NAI_NETWORK:
        reply_open_error(
            q, result == NP_ERR_UPSTREAM_TIMEOUT ? NP_ERR_UPSTREAM_TIMEOUT : NP_ERR_UPSTREAM, NULL,
            0);
        break;
    default: {
        char m[160];
        snprintf(m, sizeof(m), "no key could serve the request (last answer: %s)",
                 np_novelai_outcome_name(o));
        reply_open_error(q, NP_ERR_NO_KEY, m, 5);
        snprintf(q->error_class, sizeof(q->error_class), "%s", np_novelai_outcome_name(o));
        break;
    }
    }
}

/* take_suspect (q->mu held): the deferred 5xx of an earlier key, to be applied (after
 * unlocking) because no second 5xx showed the request was at fault; false when none. */
static bool
take_suspect(rreq *q, pool_lease *lease, pool_release_info *info)
{
    if (!q->suspect) {
        return false;
    }
    q->suspect = false;
    *lease = q->suspect_lease;
    *info = q->suspect_info;
    return true;
}

/* unlock_settling unlocks q->mu and applies the deferred 5xx of an earlier key, if any (the
 * request ends without a second 5xx that would have cleared it). */
static void
unlock_settling(rreq *q)
{
    pool_lease lease;
    pool_release_info info;
    bool sus = take_suspect(q, &lease, &info);
    pthread_mutex_unlock(&q->mu);
    if (sus) {
        pool_sched_release(q->rl->d.sched, &lease, &info, NULL);
    }
}

/* defer_strike (q->mu held): the 5xx q's current key gave is judged when another key has
 * answered; meanwhile that key goes back unharmed (info becomes a plain use). */
static void
defer_strike(rreq *q, pool_release_info *info)
{
    q->suspect = true;
    q->suspect_lease = q->lease;
    np_wipe(q->suspect_lease.token, sizeof(q->suspect_lease.token));
    q->suspect_lease.slot = -1;
    q->suspect_info = *info;
    q->suspect_info.used = false; /* the use is counted now */
    info->action = (pool_outcome_action){0};
    info->error[0] = '\0';
}

static void
on_done(void *arg, pool_xfer *x, np_err result, bool maybe_sent)
{
    rreq *q = arg;
    pool_relay *rl = q->rl;
    pool_cooldowns cd;
    pool_cooldowns_read(rl->d.cfg, &cd);
    pool_release_info info = {.used = true};
    snprintf(info.rid, sizeof(info.rid), "%s", q->rid);
    pool_waiter *retry = NULL;
    bool failed = false;

    pthread_mutex_lock(&q->mu);
    q->up_done = true;
    np_novelai_outcome o = result == NP_ERR_OK
                               ? np_novelai_classify(q->status, q->errbody.data, q->errbody.len)
                               : NP_NAI_NETWORK;
    /* First what happens next (another key, or the end), then the answer. */
    if (result == NP_ERR_CANCELED) {
        /* 6: the client left mid-generation (or the service is stopping); only a generation
         * keeps NovelAI busy after that */
        if (q->route->locks) {
            pool_outcome_cancelled(&cd, &info.action);
            snprintf(info.error, sizeof(info.error), "cancelled by the client");
        }
        q->broken = true;
    } else if (result == NP_ERR_OK && q->passing) {
        pool_outcome_decide(o, true, q->cost == 0, &cd, &info.action);
        info.spent = o == NP_NAI_OK ? q->cost : 0;
        if (o != NP_NAI_OK) {
            snprintf(q->error_class, sizeof(q->error_class), "%s", np_novelai_outcome_name(o));
        }
    } else {
        bool proxy_failed = q->proxy_id > 0 && pool_xfer_proxy_failed(x);
        pool_outcome_decide(o, maybe_sent || q->opened, q->cost == 0, &cd, &info.action);
        snprintf(info.error, sizeof(info.error), "%s (HTTP %d)", np_novelai_outcome_name(o),
                 q->status);
        if (o == NP_NAI_CLIENT) {
            info.error[0] = '\0'; /* the request's fault: not the key's last error */
        }
        if (o == NP_NAI_SERVER && q->suspect && !proxy_failed) {
            /* a second key gave the same 5xx: the request is at fault, neither key is */
            np_log_write(NP_LOG_INFO, "pool", q->rid,
                         "key %lld answered HTTP %d as key %lld did: the request's fault, no "
                         "key is struck",
                         (long long)q->key_id, q->status, (long long)q->suspect_lease.key_id);
            q->suspect = false;
            info.action = (pool_outcome_action){0};
            info.error[0] = '\0';
        }
        if (proxy_failed) {
            /* The key's egress failed, not the key: the key moves to another healthy proxy
             * at once and keeps its state; a request that surely did not leave may try again
             * (the same key is fine: its next transfer takes the other proxy). */
            if (np_proxy_failure_counts(rl->d.cfg, pool_xfer_proxy_code(x))) {
                pool_proxies_report_failure(rl->d.proxies, q->proxy_id);
            }
            np_log_write(NP_LOG_WARN, "pool", q->rid, "proxy %lld failed; key %lld moves on",
                         (long long)q->proxy_id, (long long)q->key_id);
            info.action = (pool_outcome_action){.retry = !(maybe_sent || q->opened)};
            info.error[0] = '\0';
            info.used = false;
        }
        if (q->opened) {
            /* 5: a stream broke after its status went out: the client sees a short body */
            q->broken = true;
            snprintf(q->error_class, sizeof(q->error_class), "%s", np_novelai_outcome_name(o));
        } else if (info.action.retry && q->attempts <= np_config_int(rl->d.cfg, "MAX_RETRIES") &&
                   q->w.ntried < POOL_MAX_TRIED) {
            if (!proxy_failed) {
                q->w.tried[q->w.ntried++] = q->key_id;
            }
            if (o == NP_NAI_SERVER && !proxy_failed) {
                defer_strike(q, &info);
            }
            int64_t floor = now_ms() + 5000;
            q->w.deadline_ms = q->w.deadline_ms > floor ? q->w.deadline_ms : floor;
            retry = &q->w;
            np_log_write(NP_LOG_INFO, "pool", q->rid, "key %lld answered %s; trying another key",
                         (long long)q->key_id, np_novelai_outcome_name(o));
        } else {
            failed = true;
        }
    }
    if (retry == NULL) {
        leave_slot(q);
    }
    if (result == NP_ERR_CANCELED) {
        if (q->aborted) {
            reply_client_closed(q);
        } else {
            if (q->open_call != NULL) {
                reply_open_error(q, NP_ERR_CLOSED, NULL, 0);
            }
            snprintf(q->error_class, sizeof(q->error_class), "cancelled");
        }
    } else if (failed) {
        answer_failure(q, o, result);
    }
    bool was_leased = q->leased;
    q->leased = false;
    pool_lease lease = q->lease;
    np_wipe(q->lease.token, sizeof(q->lease.token));
    /* a V5 image that may have been made (a 2xx, even if cut short) used up some allowance */
    bool v5_check = was_leased && retry == NULL && q->need.v5 && q->need.kind == POOL_KIND_IMAGE &&
                    q->status >= 200 && q->status < 300;
    if (retry != NULL) {
        /* the next attempt starts clean */
        pool_xfer_release(q->x);
        q->x = NULL;
        q->status = 0;
        q->passing = q->stream_mode = q->paused = q->up_done = false;
        np_buf_reset(&q->errbody);
        np_buf_reset(&q->buf);
        q->bytes = 0;
    } else if (q->open_call != NULL) {
        /* 4: the whole answer fitted (or was empty), or its first chunk goes now */
        reply_open_ok(q, chunk_bytes(rl));
    } else if (q->next_call != NULL) {
        np_rpc_call *c = q->next_call;
        q->next_call = NULL;
        bool last = true;
        if (q->broken && q->buf.len == 0) {
            np_rpc_reply_error(c, NP_ERR_UPSTREAM, "the upstream stream broke");
        } else {
            last = reply_next(q, c, chunk_bytes(rl));
        }
        if (last) {
            pthread_mutex_unlock(&q->mu);
            table_remove(rl, q);
            pthread_mutex_lock(&q->mu);
        }
    }
    if (retry == NULL) {
        finish(q);
        unlock_settling(q);
    } else {
        pthread_mutex_unlock(&q->mu);
    }
    if (v5_check) {
        v5check_start(rl, &lease, &info);
    } else if (was_leased) {
        pool_sched_release(rl->d.sched, &lease, &info, retry);
    } else if (retry != NULL) {
        on_timeout(q, retry);
    }
    np_wipe(lease.token, sizeof(lease.token));
    if (retry == NULL) {
        rreq_unref(q); /* the request's reference, which the transfer carried */
    }
}

/* ---- scheduler callbacks (scheduler thread) ---- */

static void
on_grant(void *arg, pool_waiter *w)
{
    rreq *q = arg;
    pool_relay *rl = q->rl;
    static const pool_xfer_cb cb = {on_headers, on_body, on_done};
    pthread_mutex_lock(&q->mu);
    q->attempts++;
    q->leased = true;
    q->lease = w->lease;
    np_wipe(w->lease.token, sizeof(w->lease.token));
    q->key_id = q->lease.key_id;
    q->cost = q->lease.cost;
    if (q->aborted) {
        /* the client left while the grant was under way: the key goes back unused */
        pool_release_info info = {.used = false};
        snprintf(info.rid, sizeof(info.rid), "%s", q->rid);
        pool_lease lease = q->lease;
        np_wipe(q->lease.token, sizeof(q->lease.token));
        q->leased = false;
        leave_slot(q);
        reply_client_closed(q);
        finish(q);
        unlock_settling(q);
        pool_sched_release(rl->d.sched, &lease, &info, NULL);
        rreq_unref(q); /* the request's own */
        return;
    }
    int64_t timeout_s = np_config_int(rl->d.cfg, "UPSTREAM_TIMEOUT_SECONDS");
    bool stream = q->route->stream || q->need.stream;
    pool_xfer_spec spec = {
        .method = q->method,
        .url = q->url,
        .body = q->body,
        .headers = q->hdr_ptrs,
        .token = q->lease.token,
        .connect_timeout_ms = np_config_int(rl->d.cfg, "UPSTREAM_CONNECT_TIMEOUT_SECONDS") * 1000,
        .timeout_ms = stream ? 0 : timeout_s * 1000,
        .idle_timeout_s =
            stream ? np_config_int(rl->d.cfg, "UPSTREAM_IDLE_TIMEOUT_SECONDS") : timeout_s,
    };
    /* The key's egress: in proxy_pool mode its sticky proxy, and no request without one. */
    char proxy[1100] = "";
    int64_t proxy_id = 0;
    np_err perr = rl->d.proxies != NULL ? pool_proxies_for_key(rl->d.proxies, q->key_id, &proxy_id,
                                                               proxy, sizeof(proxy))
                                        : NP_ERR_OK;
    spec.proxy = proxy;
    q->proxy_id = proxy_id;
    pool_xfer_release(q->x);
    q->x = perr == NP_ERR_OK ? pool_xfer_new(&spec, &cb, q) : NULL;
    np_wipe(proxy, sizeof(proxy));
    if (!q->need.v5 || q->need.kind != POOL_KIND_IMAGE) {
        np_wipe(q->lease.token, sizeof(q->lease.token)); /* the transfer has its own copy */
    } /* else kept until on_done, for the V5 allowance check */
    /* The request's reference now rides with the transfer until on_done. */
    np_err err = perr != NP_ERR_OK ? perr
                 : q->x != NULL    ? pool_upstream_start(rl->d.up, q->x)
                                   : NP_ERR_NOMEM;
    if (err == NP_ERR_OK) {
        pthread_mutex_unlock(&q->mu);
        return;
    }
    /* Nothing was sent: the key is unharmed. */
    pool_release_info info = {.used = false};
    snprintf(info.rid, sizeof(info.rid), "%s", q->rid);
    pool_lease lease = q->lease;
    q->leased = false;
    leave_slot(q);
    reply_open_error(q, err == NP_ERR_CLOSED ? NP_ERR_CLOSED : NP_ERR_UPSTREAM, NULL, 0);
    finish(q);
    unlock_settling(q);
    pool_sched_release(rl->d.sched, &lease, &info, NULL);
    rreq_unref(q); /* the request's own */
}

static void
on_timeout(void *arg, pool_waiter *w)
{
    rreq *q = arg;
    (void)w;
    pthread_mutex_lock(&q->mu);
    leave_slot(q);
    if (q->aborted) {
        reply_client_closed(q);
    } else if (q->open_call != NULL) {
        reply_open_error(q, NP_ERR_NO_KEY,
                         q->attempts > 0 ? "no other key was free to retry the request"
                                         : "every eligible key stayed busy; try again shortly",
                         5);
    }
    finish(q);
    unlock_settling(q); /* no other key answered: an earlier 5xx stays its key's */
    rreq_unref(q);      /* the request's own */
}

/* ---- relay.open (rpc worker) ---- */

static bool
query_ok(const char *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)q[i];
        if (c <= 0x20 || c >= 0x7f || c == '#') {
            return false;
        }
    }
    return true;
}

/* Whether body is one JSON object (duplicate keys refused): what the free POST routes
 * (TTS, token count) take. */
static bool
json_object_body(const void *body, size_t len)
{
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    bool ok = json_is_object(j);
    json_decref(j);
    return ok;
}

/* Whether name is in the comma-separated list setting. */
static bool
in_list(const np_config *cfg, const char *setting, const char *name)
{
    char list[2048];
    np_config_str(cfg, setting, list, sizeof(list));
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') {
            t++;
        }
        size_t n = strlen(t);
        while (n > 0 && t[n - 1] == ' ') {
            t[--n] = '\0';
        }
        if (strcmp(t, name) == 0) {
            return true;
        }
    }
    return false;
}

static void
reply_local_json(np_rpc_call *call, json_t *body, const pool_rate_result *rate)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL) {
        np_rpc_reply_error(call, NP_ERR_NOMEM, NULL);
        return;
    }
    hdrs h = {.n = 0};
    hdr_add(&h, "content-type", "application/json");
    if (rate != NULL) {
        hdr_rate(&h, rate);
    }
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 4);
    np_wire_int(&w, "s", 200);
    hdr_write(&w, &h);
    np_wire_bin(&w, "b", text, strlen(text));
    np_wire_bool(&w, "more", false);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
    free(text);
}

/* answer_models: the earlier pool's shape, a JSON list of model ids, unless the query asks
 * for detail=1 (or detail=true): then {"models": [{id, type}]}. */
static void
answer_models(pool_relay *rl, np_rpc_call *call, const char *query, size_t qlen)
{
    bool detail = false;
    for (size_t i = 0; i < qlen && !detail; i++) {
        if (i == 0 || query[i - 1] == '&') {
            size_t rest = qlen - i;
            detail = (rest >= 8 && strncmp(query + i, "detail=1", 8) == 0 &&
                      (rest == 8 || query[i + 8] == '&')) ||
                     (rest >= 11 && strncmp(query + i, "detail=true", 11) == 0 &&
                      (rest == 11 || query[i + 11] == '&'));
        }
    }
    char list[2048];
    np_config_str(rl->d.cfg, "NOVELAI_MODELS", list, sizeof(list));
    json_t *models = json_array();
    char *save = NULL;
    for (char *t = strtok_r(list, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
        json_array_append_new(
            models, detail ? json_pack("{s:s, s:s}", "id", t, "type",
                                       strncmp(t, "nai-diffusion", 13) == 0 ? "image" : "text")
                           : json_string(t));
    }
    reply_local_json(call, detail ? json_pack("{s:o}", "models", models) : models, NULL);
}

/* The account routes (account.h), synthesized without spending the rate; the rate rides in the
 * X-RateLimit headers (and on GET /auth/me), never in NovelAI's bodies. */
static void
answer_account(pool_relay *rl, np_rpc_call *call, int64_t uid, const char *path)
{
    PGconn *c = np_db_acquire(rl->d.db, 5000);
    pool_user_limits lim;
    pool_rate_result rate = {0};
    np_err err = c != NULL ? pool_user_limits_cached(rl->limits, c, rl->d.cfg, uid,
                                                     pool_keyring_version(rl->d.keyring), &lim)
                           : NP_ERR_DB;
    if (err == NP_ERR_OK && lim.rpm > 0) {
        err = pool_rate_take(c, uid, lim.rpm, false, &rate);
    }
    np_db_release(rl->d.db, c);
    if (err != NP_ERR_OK) {
        np_rpc_reply_error(call, err, NULL);
        return;
    }
    pool_account_free f = {np_config_int(rl->d.cfg, "OPUS_MAX_PIXELS"),
                           np_config_int(rl->d.cfg, "OPUS_MAX_SAMPLES")};
    reply_local_json(call, pool_account_answer(path, time(NULL), &f), lim.rpm > 0 ? &rate : NULL);
}

/* The Anlas guard before any upstream call: is there a key that may serve this at all? It
 * reads the keyring's copy, and confirms a refusal on a fresh one. */
static np_err
guard(pool_relay *rl, PGconn *c, const pool_waiter *w, char *why, size_t whylen)
{
    np_err err = pool_keyring_refresh(rl->d.keyring, c, false);
    if (err == NP_ERR_OK) {
        err = pool_keyring_guard(rl->d.keyring, w, why, whylen);
    }
    if (err == NP_ERR_NO_KEY || err == NP_ERR_ANLAS) {
        err = pool_keyring_refresh(rl->d.keyring, c, true);
        if (err == NP_ERR_OK) {
            err = pool_keyring_guard(rl->d.keyring, w, why, whylen);
        }
    }
    return err;
}

/* Reads the envelope into q; false with a sentence when a field is missing or malformed. */
static bool
read_envelope(rreq *q, const msgpack_object *req, const void **body, size_t *blen,
              const char **query, size_t *qlen, char *ctype, size_t ctlen, char *why, size_t whylen)
{
    const msgpack_object *u = np_wire_get_map(req, "u");
    const msgpack_object *h = np_wire_get_map(req, "h");
    if (!np_wire_get_cstr(req, "m", q->method, sizeof(q->method)) ||
        !np_wire_get_cstr(req, "p", q->path, sizeof(q->path)) ||
        !np_wire_get_str(req, "q", query, qlen) || !np_wire_get_bin(req, "b", body, blen) ||
        !np_wire_get_cstr(req, "ip", q->ip, sizeof(q->ip)) ||
        !np_wire_get_cstr(req, "rid", q->rid, sizeof(q->rid)) || u == NULL || h == NULL ||
        !np_wire_get_int(u, "id", &q->uid) || !np_wire_get_int(u, "kid", &q->kid) || q->uid <= 0) {
        snprintf(why, whylen, "malformed relay.open envelope");
        return false;
    }
    q->route = pool_route_find(q->method, q->path);
    ctype[0] = '\0';
    int nh = 0;
    for (uint32_t i = 0; i < h->via.map.size; i++) {
        const msgpack_object *k = &h->via.map.ptr[i].key;
        const msgpack_object *v = &h->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR || v->type != MSGPACK_OBJECT_STR ||
            v->via.str.size >= 400 || memchr(v->via.str.ptr, '\r', v->via.str.size) ||
            memchr(v->via.str.ptr, '\n', v->via.str.size) ||
            memchr(v->via.str.ptr, '\0', v->via.str.size)) {
            continue;
        }
        static const char *const allowed[] = {"content-type", "accept", "x-correlation-id",
                                              "x-initiated-at"};
        for (int a = 0; a < 4 && nh < 4; a++) {
            if (k->via.str.size == strlen(allowed[a]) &&
                memcmp(k->via.str.ptr, allowed[a], k->via.str.size) == 0) {
                snprintf(q->hdr_lines[nh], sizeof(q->hdr_lines[nh]), "%s: %.*s", allowed[a],
                         (int)v->via.str.size, v->via.str.ptr);
                q->hdr_ptrs[nh] = q->hdr_lines[nh];
                nh++;
                if (a == 0) {
                    snprintf(ctype, ctlen, "%.*s", (int)v->via.str.size, v->via.str.ptr);
                }
            }
        }
    }
    q->hdr_ptrs[nh] = NULL;
    return true;
}

void
pool_relay_open(pool_relay *rl, np_rpc_call *call, const msgpack_object *req)
{
    char why[320] = "", ctype[400];
    const void *body;
    const char *query;
    size_t blen, qlen;
    rreq *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        np_rpc_reply_error(call, NP_ERR_NOMEM, NULL);
        return;
    }
    q->magic = RREQ_MAGIC;
    q->rl = rl;
    atomic_init(&q->refs, 1);
    pthread_mutex_init(&q->mu, NULL);
    np_buf_init(&q->buf, 0);
    np_buf_init(&q->errbody, ERRBODY_MAX);
    q->started_ms = now_ms();
    q->sid = atomic_fetch_add(&rl->next_sid, 1) + 1;
    q->open_call = call;
    PGconn *c = NULL;
    np_err err = NP_ERR_OK;

    /* 1. the request itself: nothing is spent on a bad one */
    if (!read_envelope(q, req, &body, &blen, &query, &qlen, ctype, sizeof(ctype), why,
                       sizeof(why))) {
        err = NP_ERR_WIRE;
        goto refuse;
    }
    if (q->route == NULL) {
        err = NP_ERR_NOT_ALLOWED;
        snprintf(why, sizeof(why), "%s /v1/novelai%.200s is not a NovelAI route this relay serves",
                 q->method, q->path);
        goto refuse;
    }
    int nctype = 0; /* two Content-Types: upstream could read the other one than was priced */
    for (int i = 0; q->hdr_ptrs[i] != NULL; i++) {
        nctype += strncmp(q->hdr_ptrs[i], "content-type:", 13) == 0;
    }
    if (nctype > 1) {
        err = NP_ERR_INVALID;
        snprintf(why, sizeof(why), "the request has two Content-Type headers");
        goto refuse;
    }
    if (qlen > POOL_QUERY_MAX || !query_ok(query, qlen)) {
        err = NP_ERR_INVALID;
        snprintf(why, sizeof(why), "the query string is too long or badly encoded");
        goto refuse;
    }
    if (q->route->kind == POOL_KIND_MODELS) {
        answer_models(rl, call, query, qlen);
        rreq_unref(q);
        return;
    }
    if (q->route->kind == POOL_KIND_SUBSCRIPTION || q->route->kind == POOL_KIND_ACCOUNT) {
        answer_account(rl, call, q->uid, q->path);
        rreq_unref(q);
        return;
    }
    q->route = pool_route_for_body(q->route, ctype, body, blen);
    if (q->route->kind == POOL_KIND_FREE && blen > 0 && !json_object_body(body, blen)) {
        err = NP_ERR_INVALID;
        snprintf(why, sizeof(why), "the body of %s %.200s must be one JSON object", q->method,
                 q->path);
        goto refuse;
    }
    if (q->route->kind == POOL_KIND_IMAGE) {
        char model[96];
        np_config_str(rl->d.cfg, "NOVELAI_DEFAULT_MODEL", model, sizeof(model));
        size_t filled_len = 0;
        err = pool_default_model(ctype, body, blen, model, &q->filled, &filled_len);
        if (err != NP_ERR_OK) {
            goto refuse;
        }
        if (q->filled != NULL) { /* the body with the model is what is priced and sent */
            body = q->filled;
            blen = filled_len;
        }
    }
    pool_anlas_limits free_lim = {np_config_int(rl->d.cfg, "OPUS_MAX_PIXELS"),
                                  np_config_int(rl->d.cfg, "OPUS_MAX_STEPS"),
                                  np_config_int(rl->d.cfg, "OPUS_MAX_SAMPLES"),
                                  (double)np_config_int(rl->d.cfg, "V5_ALLOWANCE_MARGIN_PERCENT")};
    err =
        pool_anlas_parse(q->route->kind, ctype, body, blen, &free_lim, &q->need, why, sizeof(why));
    if (err != NP_ERR_OK) {
        goto refuse;
    }
    if (q->need.model[0] != '\0' && !in_list(rl->d.cfg, "NOVELAI_MODELS", q->need.model)) {
        err = NP_ERR_INVALID;
        snprintf(why, sizeof(why),
                 "model %.64s is not served by this pool (GET /v1/novelai/models)", q->need.model);
        goto refuse;
    }
    q->w.need = &q->need;
    q->w.need_opus =
        q->need.kind == POOL_KIND_TEXT && in_list(rl->d.cfg, "NOVELAI_OPUS_MODELS", q->need.model);
    q->w.user_id = q->uid;
    q->w.leaseless = !q->route->locks;

    /* 2. the user's rate, then the Anlas guard, then the in-flight cap */
    c = np_db_acquire(rl->d.db, 5000);
    if (c == NULL) {
        err = NP_ERR_DB;
        goto refuse;
    }
    pool_user_limits lim;
    err = pool_user_limits_cached(rl->limits, c, rl->d.cfg, q->uid,
                                  pool_keyring_version(rl->d.keyring), &lim);
    if (err == NP_ERR_NOT_FOUND) {
        err = NP_ERR_UNAUTHORIZED;
    }
    if (err != NP_ERR_OK) {
        goto refuse;
    }
    if (pool_rate_needs_contribution(rl->d.cfg, &lim)) {
        err = NP_ERR_CONTRIBUTION_REQUIRED; /* the old pool's gate, in its words */
        why[0] = '\0';
        goto refuse;
    }
    if (lim.rpm <= 0) {
        err = NP_ERR_RATE_LIMITED;
        snprintf(why, sizeof(why),
                 "your account has no request rate yet: contribute a NovelAI "
                 "key (POST /keys) to earn one");
        goto refuse;
    }
    err = pool_rate_take(c, q->uid, lim.rpm, true, &q->rate);
    if (err != NP_ERR_OK) {
        goto refuse;
    }
    q->rate_spent = true;
    if (!q->rate.allowed) {
        np_db_release(rl->d.db, c);
        snprintf(why, sizeof(why), "rate limit of %lld requests per minute reached",
                 (long long)lim.rpm);
        refused(q, call, NP_ERR_RATE_LIMITED, why,
                q->rate.retry_after_s > 0 ? (int)q->rate.retry_after_s : 1);
        rreq_unref(q);
        return;
    }
    err = guard(rl, c, &q->w, why, sizeof(why));
    np_db_release(rl->d.db, c);
    c = NULL;
    if (err != NP_ERR_OK) {
        goto refuse;
    }
    /* The cap counts running requests only: the rest wait their turn (USER_QUEUE_MAX). */
    int64_t conc = np_config_int(rl->d.cfg, "USER_MAX_CONCURRENCY");
    q->w.running = rl->d.inflight;
    q->w.max_running = conc > 0 ? conc : lim.healthy > 1 ? lim.healthy : 1;

    /* 3. the upstream request and a place in the queue */
    char base[1024];
    np_config_str(rl->d.cfg, q->route->base, base, sizeof(base));
    snprintf(q->url, sizeof(q->url), "%s%s%s%.*s", base, q->route->upstream, qlen ? "?" : "",
             (int)qlen, query);
    /* Every admitted request keeps its body until it ends (a retry on another key sends it
     * again): the instance's bodies together stay within QUEUE_BODY_BYTES_MAX. */
    long long budget = (long long)np_config_int(rl->d.cfg, "QUEUE_BODY_BYTES_MAX");
    if (blen > 0 && atomic_fetch_add(&rl->body_bytes, (long long)blen) + (long long)blen > budget) {
        atomic_fetch_sub(&rl->body_bytes, (long long)blen);
        err = NP_ERR_NO_KEY;
        snprintf(why, sizeof(why),
                 "the pool holds as many request bodies as it may (QUEUE_BODY_BYTES_MAX); "
                 "try again shortly");
        goto refuse;
    }
    if (blen > 0) {
        q->body = pool_body_new(body, blen);
        if (q->body == NULL) {
            atomic_fetch_sub(&rl->body_bytes, (long long)blen);
            err = NP_ERR_NOMEM;
            goto refuse;
        }
        q->body_len = blen;
        free(q->filled); /* copied: body is not read again */
        q->filled = NULL;
    }
    q->w.deadline_ms = now_ms() + np_config_int(rl->d.cfg, "QUEUE_TIMEOUT_SECONDS") * 1000;
    q->w.on_grant = on_grant;
    q->w.on_timeout = on_timeout;
    q->w.arg = q;
    rids_add(rl, q);
    if (q->w.leaseless && pool_waiter_take_running(&q->w)) {
        if (pool_keyring_pick(rl->d.keyring, &q->w)) {
            on_grant(q, &q->w);
            return; /* the request's reference now rides with the transfer */
        }
        pool_waiter_give_running(&q->w); /* it waits like the others */
    }
    err = pool_sched_enqueue(rl->d.sched, &q->w);
    if (err != NP_ERR_OK) {
        rids_remove(rl, q);
        if (err == NP_ERR_RATE_LIMITED) {
            snprintf(why, sizeof(why), "too many of your requests are waiting for a key");
        }
        goto refuse;
    }
    return; /* the request's reference now rides with the waiter */

refuse:
    np_db_release(rl->d.db, c);
    refused(q, call, err, why, err == NP_ERR_NO_KEY ? 30 : err == NP_ERR_RATE_LIMITED ? 60 : 0);
    rreq_unref(q);
}

/* ---- relay.next and relay.cancel (rpc worker) ---- */

static void
reply_empty(np_rpc_call *call)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 0);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

void
pool_relay_next(pool_relay *rl, np_rpc_call *call, const msgpack_object *req)
{
    int64_t sid;
    if (!np_wire_get_int(req, "sid", &sid)) {
        np_rpc_reply_error(call, NP_ERR_WIRE, "relay.next needs sid");
        return;
    }
    rreq *q = table_take(rl, sid);
    if (q == NULL) {
        np_rpc_reply_error(call, NP_ERR_NOT_FOUND, "no such stream (finished or reaped)");
        return;
    }
    bool last = false;
    pthread_mutex_lock(&q->mu);
    q->last_touch_ms = now_ms();
    if (q->next_call != NULL) {
        np_rpc_reply_error(call, NP_ERR_CONFLICT, "a relay.next is already waiting");
    } else if (q->buf.len > 0 || (q->up_done && !q->broken)) {
        last = reply_next(q, call, chunk_bytes(rl));
        if (q->paused && q->buf.len < buffer_cap(rl) / 2) {
            q->paused = false;
            pool_upstream_resume(rl->d.up, q->x);
        }
    } else if (q->up_done) {
        np_rpc_reply_error(call, NP_ERR_UPSTREAM, "the upstream stream broke");
        last = true;
    } else {
        q->next_call = call; /* 6: answered when bytes come or the transfer ends */
    }
    pthread_mutex_unlock(&q->mu);
    if (last) {
        table_remove(rl, q);
    }
    rreq_unref(q);
}

/* Aborts a stream: its transfer (the key then cools down) and its parked relay.next. */
static void
abort_stream(pool_relay *rl, rreq *q)
{
    pthread_mutex_lock(&q->mu);
    q->cancelled = true;
    if (q->next_call != NULL) {
        np_rpc_reply_error(q->next_call, NP_ERR_CANCELED, NULL);
        q->next_call = NULL;
    }
    if (!q->up_done && q->x != NULL) {
        pool_upstream_cancel(rl->d.up, q->x);
    }
    pthread_mutex_unlock(&q->mu);
    table_remove(rl, q);
}

void
pool_relay_cancel(pool_relay *rl, np_rpc_call *call, const msgpack_object *req)
{
    int64_t sid;
    if (!np_wire_get_int(req, "sid", &sid)) {
        np_rpc_reply_error(call, NP_ERR_WIRE, "relay.cancel needs sid");
        return;
    }
    rreq *q = table_take(rl, sid);
    if (q != NULL) {
        abort_stream(rl, q);
        rreq_unref(q);
    }
    reply_empty(call);
}

void
pool_relay_abort(pool_relay *rl, np_rpc_call *call, const msgpack_object *req)
{
    char rid[64];
    int64_t uid = 0;
    if (!np_wire_get_cstr(req, "rid", rid, sizeof(rid)) || !np_wire_get_int(req, "uid", &uid) ||
        uid <= 0) {
        np_rpc_reply_error(call, NP_ERR_WIRE, "relay.abort needs rid and uid");
        return;
    }
    rreq *q = rids_take(rl, rid, uid);
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
        rreq_unref(q);
    }
    reply_empty(call);
}

void
pool_relay_tick(void *arg)
{
    pool_relay *rl = arg;
    int64_t limit = np_config_int(rl->d.cfg, "STREAM_REAP_SECONDS") * 1000;
    int64_t now = now_ms();
    rreq *idle[64];
    int n = 0;
    pthread_mutex_lock(&rl->mu);
    for (int b = 0; b < TABLE_BUCKETS && n < 64; b++) {
        for (rreq *q = rl->table[b]; q != NULL && n < 64; q = q->hnext) {
            /* last_touch_ms and next_call are read without q->mu (atomics): a stale read
             * only delays the reaping by one tick. */
            if (q->next_call == NULL && now - q->last_touch_ms > limit) {
                rreq_ref(q);
                idle[n++] = q;
            }
        }
    }
    pthread_mutex_unlock(&rl->mu);
    for (int i = 0; i < n; i++) {
        np_log_write(NP_LOG_INFO, "pool", idle[i]->rid, "reaping stream %lld: nobody read it",
                     (long long)idle[i]->sid);
        abort_stream(rl, idle[i]);
        rreq_unref(idle[i]);
    }
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
                rreq_ref(q);
            }
            pthread_mutex_unlock(&rl->mu);
            if (q == NULL) {
                break;
            }
            abort_stream(rl, q);
            rreq_unref(q);
        }
    }
    pthread_mutex_destroy(&rl->mu);
    pool_limits_cache_free(rl->limits);
    free(rl);
}
