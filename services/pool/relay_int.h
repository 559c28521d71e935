/* The relay's internals, shared by its files (relay.h is the public side):
 *   relay.c          lifecycle: an rreq's references, its state moves, the streams and
 *                    request-id tables, finishing (the usage event), relay.abort, stats
 *   relay_admit.c    relay.open: the checks before a request is queued, refusals
 *   relay_local.c    answers the pool gives itself (models, account routes)
 *   relay_upstream.c one attempt on one key: grant, the transfer's status, the outcome
 *   relay_decide.c   what follows an attempt (pure: relay_decide.h)
 *   relay_state.c    the states and their allowed moves (pure: relay_state.h)
 *   relay_v5check.c  the V5 allowance read after a V5 image
 *   relay_stream.c   the streaming buffer, relay.next / relay.cancel, the reaper
 *   relay_wire.c     every msgpack read and write of the relay's messages (np/relaymsg.h)
 * Nothing here is for other modules.
 *
 * Lock order (relay.c says more): q->mu, then rl->mu, then other modules' leaf locks; never
 * a q->mu under rl->mu, and nothing that may call the relay back (pool_sched_release,
 * relay_table_remove, relay_unref) under q->mu. */
#ifndef POOL_RELAY_INT_H
#define POOL_RELAY_INT_H

#include "relay.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "anlas.h"
#include "np/buf.h"
#include "np/clock.h"
#include "np/relaymsg.h"
#include "relay_state.h"
#include "settings.h"

#define RREQ_MAGIC 0x52524551u
#define ERRBODY_MAX 65536
#define TABLE_BUCKETS 1024
#define RID_BUCKETS 1024
#define MINUTES 60
/* The bounds of a request's strings, each allocated at its real length at admission: a longer
 * one is cut to the bound minus its NUL, as the fixed arrays they replace did. */
#define RREQ_PATH_MAX 1100
#define RREQ_URL_MAX (1024 + 128 + POOL_QUERY_MAX) /* base + route + query */
#define RREQ_HDR_LINES 4
#define RREQ_HDR_LINE_MAX 512

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
    unsigned magic; /* RREQ_MAGIC while alive: every callback checks it (relay_rreq_of) */
    pool_relay *rl;
    pthread_mutex_t mu;
    relay_state state; /* under mu; moved only by relay_set_state */
    atomic_int refs;
    /* the settings the request was admitted under, held for its whole life: one request sees
     * one consistent set, read as fields (ps is snap's pool block) */
    np_settings *snap;
    const pool_settings *ps;
    int64_t sid;
    rreq *hnext; /* streams table chain (under rl->mu) */
    bool in_table;
    rreq *rnext; /* rids chain (under rl->mu); no reference: finish unlinks it first */
    bool in_rids;

    /* the request */
    char rid[64], ip[64];
    const char *path; /* "" until the envelope is read, then into strs */
    int64_t uid, kid;
    const pool_route *route;
    pool_anlas_req need;
    char method[8];
    char *url;  /* malloc'd by the admission (hold_body), NULL before */
    char *strs; /* malloc'd by relay_read_envelope: path and the header lines hdr_ptrs point to */
    const char *hdr_ptrs[RREQ_HDR_LINES + 1];
    pool_body *body; /* shared with the transfers */
    size_t body_len; /* counted in rl->body_bytes */
    char *filled;    /* the client's body with defaults filled in (NOVELAI_DEFAULT_MODEL) */
    int64_t started_ms;
    pool_rate_result rate;
    bool rate_spent; /* the rate check ran: a refusal from here on is always recorded */

    /* the scheduler */
    pool_waiter w;
    int attempts;
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
     * reaper (relay_stream.c) reads them without it */
    np_rpc_call *open_call;
    _Atomic(np_rpc_call *) next_call;

    /* the upstream transfer of the current attempt */
    pool_xfer *x;
    int status;
    char ctype[160], cenc[64], cdisp[160], retry[32];
    /* Facts, not states (the state is in state): */
    bool stream_mode; /* the answer is an event stream (SSE, msgpack): each piece goes at once */
    bool paused;      /* curl holds the transfer paused until relay.next drains buf */
    bool broken;      /* the answer was cut short after its status went out */
    bool cancelled;   /* relay.cancel, the reaper or relay.abort stopped the transfer */
    bool slot_left;   /* the user's in-flight slot was given back (relay_leave_slot) */
    bool aborted;     /* relay.abort: the client left before relay.open was answered */
    np_buf buf;
    np_buf errbody;
    _Atomic int64_t last_touch_ms;
    uint64_t bytes;
    char error_class[40];
    int final_status;
};

/* The response headers of an answer (names from np/relaymsg.h's list). */
typedef struct {
    np_relay_resh name[NP_RELAY_RESH_COUNT];
    char value[NP_RELAY_RESH_COUNT][160];
    int n;
} hdrs;

/* ---- relay.c: lifecycle ---- */
/* relay_rreq_new: a request for relay.open's call (kept to be answered), ADMITTING, with one
 * reference (the request's own); NULL on no memory. */
rreq *relay_rreq_new(pool_relay *rl, np_rpc_call *open_call);
/* relay_rreq_of: the request behind a callback's void *arg, checked (RREQ_MAGIC): NULL, after
 * an error in the log, when arg is not a live request (and an assert in debug builds). */
rreq *relay_rreq_of(void *arg, const char *where);
/* relay_set_state moves q to to (q->mu held, or q not yet published); a move that
 * relay_state_allowed refuses is logged (and asserts in debug builds). */
void relay_set_state(rreq *q, relay_state to);
void relay_ref(rreq *q);
void relay_unref(rreq *q);
/* the streams table (sid -> rreq, one reference) */
void relay_table_add(pool_relay *rl, rreq *q);
rreq *relay_table_take(pool_relay *rl, int64_t sid);
void relay_table_remove(pool_relay *rl, rreq *q);
/* admitted requests not finished yet, by request id (no reference) */
void relay_rids_add(pool_relay *rl, rreq *q);
void relay_rids_remove(pool_relay *rl, rreq *q);
rreq *relay_rids_take(pool_relay *rl, const char *rid, int64_t uid);
/* answers and the end (q->mu held) */
void relay_reply_open_error(rreq *q, np_err err, const char *message, int retry_after);
void relay_reply_client_closed(rreq *q);
void relay_emit_usage(rreq *q);
void relay_leave_slot(rreq *q);
/* relay_finish runs once per admitted request: the in-flight slot, the usage event, and the
 * move to to (RELAY_DRAINING while relay.next has bytes or the end to take, else RELAY_DONE). */
void relay_finish(rreq *q, relay_state to);

/* What the state says (q->mu held). */
/* a transfer of q is under way on a key it holds */
static inline bool
relay_attempt_running(const rreq *q)
{
    return q->state >= RELAY_RUNNING && q->state <= RELAY_STREAMING;
}
/* the upstream's bytes go to the client (not kept to be judged) */
static inline bool
relay_passing(const rreq *q)
{
    return q->state == RELAY_PASSING || q->state == RELAY_STREAMING;
}
/* no more bytes will come from upstream (the transfer ended, or none will run) */
static inline bool
relay_upstream_ended(const rreq *q)
{
    return q->state >= RELAY_SETTLING;
}
/* relay.open is still to be answered and the request is not finished: relay.abort applies */
static inline bool
relay_awaits_answer(const rreq *q)
{
    return q->state <= RELAY_PASSING;
}

/* ---- relay_admit.c ---- */
void relay_refused(rreq *q, np_rpc_call *call, np_err err, const char *why, int retry_after);

/* ---- relay_local.c ---- */
void relay_answer_models(pool_relay *rl, np_rpc_call *call, const char *query, size_t qlen);
void relay_answer_account(pool_relay *rl, np_rpc_call *call, int64_t uid, const char *path);

/* ---- relay_upstream.c (scheduler thread, rpc worker for a leaseless pick; curl thread) ---- */
void relay_on_grant(void *arg, pool_waiter *w);
void relay_on_timeout(void *arg, pool_waiter *w);
void relay_on_headers(void *arg, pool_xfer *x);
void relay_on_done(void *arg, pool_xfer *x, np_err result, bool maybe_sent);

/* ---- relay_v5check.c ---- */
void relay_v5check_start(pool_relay *rl, pool_lease *lease, const pool_release_info *info);

/* ---- relay_stream.c ---- */
size_t relay_chunk_bytes(const rreq *q);
size_t relay_buffer_cap(const rreq *q);
size_t relay_on_body(void *arg, const char *p, size_t n);
/* relay_reply_open_ok answers relay.open with up to one chunk; true when more is to come (the
 * stream is in the table). */
bool relay_reply_open_ok(rreq *q, size_t chunk);
bool relay_reply_next(rreq *q, np_rpc_call *call, size_t chunk);
void relay_abort_stream(pool_relay *rl, rreq *q);

/* ---- relay_wire.c: the relay's messages (msgpack) ---- */
void relay_hdr_add(hdrs *h, np_relay_resh name, const char *value);
void relay_hdr_rate(hdrs *h, const pool_rate_result *r);
/* relay.open's envelope into q (its strings allocated: q->strs); NP_ERR_WIRE with a sentence
 * when a field is missing or malformed, NP_ERR_NOMEM */
np_err relay_read_envelope(rreq *q, const msgpack_object *req, const void **body, size_t *blen,
                           const char **query, size_t *qlen, char *ctype, size_t ctlen, char *why,
                           size_t whylen);
/* relay.next and relay.cancel {sid}; relay.abort {rid, uid} */
bool relay_read_sid(const msgpack_object *req, int64_t *sid);
bool relay_read_abort(const msgpack_object *req, char *rid, size_t ridlen, int64_t *uid);
/* An error answer {e, m, h} for relay.open (or an "http" op: same envelope). */
void relay_reply_error_h(np_rpc_call *call, np_err err, const char *message, const hdrs *h);
/* relay.open's answer {s, h, b, more[, sid]} (sid only when more) */
void relay_wire_open(np_rpc_call *call, int status, const hdrs *h, const void *b, size_t n,
                     bool more, int64_t sid);
/* relay.next's answer {b, more} */
void relay_wire_next(np_rpc_call *call, const void *b, size_t n, bool more);
/* an empty map: relay.cancel, relay.abort */
void relay_reply_empty(np_rpc_call *call);

#endif
