/* The events producer: a bounded outbox of encoded events, a sender thread that publishes a
 * window of them and re-publishes the unacknowledged, and an ack thread that retires the
 * acknowledged (events.h describes the protocol).
 *
 * State flow of one event (one outbox slot, indexed by seq modulo the capacity):
 *   1. np_events_emit encodes it outside the lock, then under the lock gives it the next seq
 *      and a slot, or drops it when the outbox is full (counted, logged once per burst);
 *   2. the sender publishes it once it falls inside the in-flight window
 *      [base, base + EVENTS_INFLIGHT_MAX), batching neighbours into one message;
 *   3. EVENTS_RESEND_MS after a send without an ack, the sender publishes it again (pub/sub
 *      may have dropped it, audit may have been down, or the ack itself was dropped);
 *   4. the ack thread marks it acknowledged; once it is the oldest, base moves past it and
 *      its slot is freed, which moves the window forward and wakes the sender.
 */
#include "np/events.h"
#include "np/wire_mac.h"

#include "np/dialset.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>

#include "np/clock.h"
#include "np/crypto.h"
#include "np/log.h"
#include "np/wire.h"

/* A message carries at most this many events or about this many bytes. */
#define BATCH_EVENTS 256
#define BATCH_BYTES (256u * 1024u)

typedef struct {
    char *data; /* msgpack of [time_us, type, fields_json]; NULL when the slot is free */
    size_t len;
    int64_t sent_at_ms; /* last transmission; 0: never sent */
    unsigned tries;     /* re-sends so far (resend_after) */
    bool acked;
} slot;

struct np_events {
    char svc[32];
    char id[NP_EVENTS_ID_MAX];
    nng_socket pub, sub;
    np_wire_guard *guard;              /* acknowledgements must carry the INTERNAL_SECRET MAC */
    np_dialset *pub_dials, *sub_dials; /* every audit instance, followed over time */
    bool pub_open, sub_open;
    pthread_t sender, acker;
    bool sender_started, acker_started;

    pthread_mutex_t mu;
    pthread_cond_t wake;    /* the sender: new events, a moved window, or stopping */
    pthread_cond_t drained; /* close: the outbox became empty */
    bool stopping;
    slot *ring;
    uint64_t cap;      /* EVENTS_OUTBOX_MAX */
    uint64_t base;     /* every seq below base is acknowledged */
    uint64_t next;     /* the next seq to give */
    uint64_t unacked;  /* events in [base, next) not acknowledged */
    uint64_t inflight; /* of those, sent at least once */
    uint64_t window;   /* EVENTS_INFLIGHT_MAX */
    int64_t resend_ms;
    int64_t drain_ms;
    bool overflowing; /* inside a burst of drops (logged once) */
    uint64_t burst_drops;
    uint64_t emitted, dropped, sent, resent, acked;
};

/* make_id builds svc.node.random: unique per process start, and free of the "\n" that
 * separates the id from the body of an ack. */
static void
make_id(char *out, size_t outlen, const char *svc, const char *node)
{
    uint8_t rnd[6];
    char hex[sizeof(rnd) * 2 + 1];
    if (np_random_bytes(rnd, sizeof(rnd)) != NP_ERR_OK) {
        /* Not secret, only unique: fall back on the clock. */
        int64_t t = np_wall_us();
        memcpy(rnd, &t, sizeof(rnd));
    }
    np_hex(rnd, sizeof(rnd), hex);
    snprintf(out, outlen, "%.24s.%.64s.%s", svc, node[0] ? node : "node", hex);
    for (char *p = out; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_';
        if (!ok) {
            *p = '_';
        }
    }
}

static int
pack_to_msg(void *data, const char *buf, size_t len)
{
    return nng_msg_append((nng_msg *)data, buf, len) == 0 ? 0 : -1;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* resend_after is the wait before s goes out again: EVENTS_RESEND_MS, doubled with each
 * re-send up to RESEND_BACKOFF_SHIFT_MAX times. A slow audit instance is then not buried under
 * copies of what it has not acknowledged yet: without the backoff a window of events went out
 * again every EVENTS_RESEND_MS while audit was busy storing the previous copies, and under
 * ThreadSanitizer's slowdown the acknowledgements never caught up (460,000 re-sends of 5,000
 * events in two minutes, audit_kill.test.mjs). */
#define RESEND_BACKOFF_SHIFT_MAX 4

static int64_t
resend_after(const np_events *ev, const slot *s)
{
    unsigned shift = s->tries < RESEND_BACKOFF_SHIFT_MAX ? s->tries : RESEND_BACKOFF_SHIFT_MAX;
    return ev->resend_ms << shift;
}

/* collect picks, under the lock, up to one message worth of events to (re)send and packs
 * them into *out; returns false when nothing is due. *due_ms receives the earliest time a
 * sent event becomes due for a re-send (INT64_MAX when none). */
static bool
collect(np_events *ev, int64_t now, nng_msg **out, int64_t *due_ms)
{
    uint64_t pick[BATCH_EVENTS];
    size_t n = 0, bytes = 0;
    uint64_t end = ev->next < ev->base + ev->window ? ev->next : ev->base + ev->window;
    *due_ms = INT64_MAX;
    for (uint64_t seq = ev->base; seq < end; seq++) {
        slot *s = &ev->ring[seq % ev->cap];
        if (s->acked) {
            continue;
        }
        bool fresh = s->sent_at_ms == 0;
        if (!fresh && now - s->sent_at_ms < resend_after(ev, s)) {
            int64_t due = s->sent_at_ms + resend_after(ev, s);
            *due_ms = due < *due_ms ? due : *due_ms;
            continue;
        }
        if (n == BATCH_EVENTS || (n > 0 && bytes + s->len > BATCH_BYTES)) {
            *due_ms = now; /* more to send right away */
            break;
        }
        pick[n++] = seq;
        bytes += s->len + 16;
    }
    if (n == 0) {
        return false;
    }
    /* The envelope (map, version, producer id, array header) and each event's array header
     * and seq fit in the 16 bytes counted per event plus this margin: the body never grows. */
    nng_msg *msg;
    if (np_pub_msg_new(&msg, bytes + strlen(ev->id) + 64) != NP_ERR_OK) {
        *due_ms = now + 100; /* no memory now: try again shortly */
        return false;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, msg, pack_to_msg);
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, NP_WIRE_VERSION);
    pack_str(&pk, "p");
    pack_str(&pk, ev->id);
    pack_str(&pk, "e");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        slot *s = &ev->ring[pick[i] % ev->cap];
        msgpack_pack_array(&pk, 4);
        msgpack_pack_uint64(&pk, pick[i]);
        if (nng_msg_append(msg, s->data, s->len) != 0) {
            nng_msg_free(msg);
            *due_ms = now + 100;
            return false;
        }
    }
    for (size_t i = 0; i < n; i++) {
        slot *s = &ev->ring[pick[i] % ev->cap];
        if (s->sent_at_ms == 0) {
            ev->sent++;
            ev->inflight++;
        } else {
            ev->resent++;
            s->tries++;
        }
        s->sent_at_ms = now > 0 ? now : 1;
    }
    *out = msg;
    return true;
}

np_err
np_pub_msg_new(nng_msg **out, size_t cap)
{
    nng_msg *msg;
    if (nng_msg_alloc(&msg, cap) != 0) {
        return NP_ERR_NOMEM;
    }
    nng_msg_clear(msg); /* keeps the allocated capacity */
    *out = msg;
    return NP_ERR_OK;
}

static void *
sender_main(void *arg)
{
    np_events *ev = arg;
    pthread_mutex_lock(&ev->mu);
    while (!ev->stopping) {
        int64_t now = np_now_ms();
        int64_t due;
        nng_msg *msg = NULL;
        if (collect(ev, now, &msg, &due)) {
            pthread_mutex_unlock(&ev->mu);
            /* A failed send (no memory, socket closing) is like a drop on the wire: the
             * events stay in the outbox and go out again when due. */
            if (np_wire_seal(msg) != NP_ERR_OK ||
                nng_sendmsg(ev->pub, msg, NNG_FLAG_NONBLOCK) != 0) {
                nng_msg_free(msg);
            }
            pthread_mutex_lock(&ev->mu);
            continue;
        }
        int64_t wait = due == INT64_MAX ? 1000 : due - now;
        if (wait > 0) {
            np_cond_wait_until(&ev->wake, &ev->mu, np_deadline_ms(wait));
        }
    }
    pthread_mutex_unlock(&ev->mu);
    return NULL;
}

/* ack_range marks [lo, hi] acknowledged (clamped to the outbox) and frees the oldest slots. */
static void
ack_range(np_events *ev, uint64_t lo, uint64_t hi)
{
    if (lo < ev->base) {
        lo = ev->base;
    }
    if (ev->next == 0 || hi > ev->next - 1) {
        hi = ev->next - 1;
    }
    for (uint64_t seq = lo; seq <= hi && seq < ev->next; seq++) {
        slot *s = &ev->ring[seq % ev->cap];
        if (s->acked || s->data == NULL) {
            continue;
        }
        s->acked = true;
        free(s->data);
        s->data = NULL;
        ev->unacked--;
        ev->acked++;
        if (s->sent_at_ms != 0) {
            ev->inflight--;
        }
    }
    while (ev->base < ev->next && ev->ring[ev->base % ev->cap].acked) {
        ev->ring[ev->base % ev->cap] = (slot){0};
        ev->base++;
    }
}

/* on_ack reads one acknowledgement: id "\n" {v, p, r:[[lo, hi]...]}; anything else is
 * ignored (it cannot be ours). */
static void
on_ack(np_events *ev, const char *body, size_t len)
{
    size_t idlen = strlen(ev->id);
    if (len <= idlen + 1 || memcmp(body, ev->id, idlen) != 0 || body[idlen] != '\n') {
        return;
    }
    np_wire_msg m;
    char p[NP_EVENTS_ID_MAX];
    if (np_wire_parse(&m, body + idlen + 1, len - idlen - 1) != NP_ERR_OK ||
        !np_wire_get_cstr(m.root, "p", p, sizeof(p)) || strcmp(p, ev->id) != 0) {
        np_wire_msg_fini(&m);
        return;
    }
    const msgpack_object *r = np_wire_get(m.root, "r");
    if (r != NULL && r->type == MSGPACK_OBJECT_ARRAY) {
        pthread_mutex_lock(&ev->mu);
        for (uint32_t i = 0; i < r->via.array.size; i++) {
            const msgpack_object *pair = &r->via.array.ptr[i];
            if (pair->type != MSGPACK_OBJECT_ARRAY || pair->via.array.size != 2 ||
                pair->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
                pair->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
                continue;
            }
            uint64_t lo = pair->via.array.ptr[0].via.u64, hi = pair->via.array.ptr[1].via.u64;
            if (lo >= 1 && lo <= hi) {
                ack_range(ev, lo, hi);
            }
        }
        pthread_cond_signal(&ev->wake);
        if (ev->unacked == 0) {
            pthread_cond_broadcast(&ev->drained);
        }
        pthread_mutex_unlock(&ev->mu);
    }
    np_wire_msg_fini(&m);
}

static void *
acker_main(void *arg)
{
    np_events *ev = arg;
    for (;;) {
        nng_msg *msg;
        int rv = nng_recvmsg(ev->sub, &msg, 0);
        if (rv == NNG_ECLOSED) {
            break;
        }
        if (rv != 0) {
            continue;
        }
        if (np_wire_open(ev->guard, msg) == NP_ERR_OK) {
            on_ack(ev, nng_msg_body(msg), nng_msg_len(msg));
        }
        nng_msg_free(msg);
    }
    return NULL;
}

static void
socket_tune(nng_socket sock)
{
    nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 2000);
    nng_socket_set_bool(sock, NNG_OPT_TCP_KEEPALIVE, true);
    nng_socket_set_bool(sock, NNG_OPT_TCP_NODELAY, true);
}

np_err
np_events_open(np_events **out, const char *svc, const np_config *cfg)
{
    np_events *ev = calloc(1, sizeof(*ev));
    if (ev == NULL) {
        return NP_ERR_NOMEM;
    }
    if ((ev->guard = np_wire_guard_new()) == NULL) {
        free(ev);
        return NP_ERR_NOMEM;
    }
    snprintf(ev->svc, sizeof(ev->svc), "%s", svc);
    char events_url[1024], acks_url[1024];
    np_settings *snap = np_config_acquire(cfg);
    const np_common_settings *cs = np_settings_common(snap);
    snprintf(events_url, sizeof(events_url), "%s", cs->EVENTS_URL);
    snprintf(acks_url, sizeof(acks_url), "%s", cs->ACKS_URL);
    make_id(ev->id, sizeof(ev->id), svc, cs->NODE_ID);
    ev->cap = (uint64_t)cs->EVENTS_OUTBOX_MAX;
    ev->window = (uint64_t)cs->EVENTS_INFLIGHT_MAX;
    ev->resend_ms = cs->EVENTS_RESEND_MS;
    ev->drain_ms = cs->EVENTS_DRAIN_MS;
    np_settings_release(snap);
    ev->base = ev->next = 1;
    pthread_mutex_init(&ev->mu, NULL);
    np_cond_init(&ev->wake);
    np_cond_init(&ev->drained);

    np_err err = NP_ERR_OK;
    int rv = 0;
    ev->ring = calloc(ev->cap, sizeof(slot));
    if (ev->ring == NULL) {
        err = NP_ERR_NOMEM;
        goto fail;
    }
    if ((rv = nng_pub0_open(&ev->pub)) != 0) {
        goto fail;
    }
    ev->pub_open = true;
    if ((rv = nng_sub0_open(&ev->sub)) != 0) {
        goto fail;
    }
    ev->sub_open = true;
    socket_tune(ev->pub);
    socket_tune(ev->sub);
    nng_socket_set_int(ev->pub, NNG_OPT_SENDBUF, 1024);
    nng_socket_set_int(ev->sub, NNG_OPT_RECVBUF, 1024);
    nng_socket_set_size(ev->sub, NNG_OPT_RECVMAXSZ, 1u << 20);
    char topic[NP_EVENTS_ID_MAX + 1];
    int tlen = snprintf(topic, sizeof(topic), "%s\n", ev->id);
    if ((rv = nng_socket_set(ev->sub, NNG_OPT_SUB_SUBSCRIBE, topic, (size_t)tlen)) != 0) {
        goto fail;
    }
    if (np_dialset_open(&ev->pub_dials, ev->pub, events_url, 10, NULL) != NP_ERR_OK ||
        np_dialset_open(&ev->sub_dials, ev->sub, acks_url, 10, NULL) != NP_ERR_OK) {
        err = NP_ERR_UNAVAILABLE;
        goto fail;
    }
    if (pthread_create(&ev->sender, NULL, sender_main, ev) != 0) {
        err = NP_ERR_SYSTEM;
        goto fail;
    }
    ev->sender_started = true;
    if (pthread_create(&ev->acker, NULL, acker_main, ev) != 0) {
        err = NP_ERR_SYSTEM;
        goto fail;
    }
    ev->acker_started = true;
    np_log_info(svc, "events producer %s publishing to %s", ev->id, events_url);
    *out = ev;
    return NP_ERR_OK;

fail:
    if (rv != 0) {
        err = np_err_from_nng(rv);
    }
    ev->drain_ms = 0;
    np_events_close(ev);
    return err;
}

void
np_events_close(np_events *ev)
{
    if (ev == NULL) {
        return;
    }
    pthread_mutex_lock(&ev->mu);
    if (ev->unacked > 0 && ev->drain_ms > 0 && ev->sender_started && ev->acker_started) {
        int64_t until = np_deadline_ms(ev->drain_ms);
        while (ev->unacked > 0) {
            if (np_cond_wait_until(&ev->drained, &ev->mu, until) == ETIMEDOUT) {
                break;
            }
        }
    }
    uint64_t lost = ev->unacked;
    ev->stopping = true;
    pthread_cond_signal(&ev->wake);
    pthread_mutex_unlock(&ev->mu);
    if (lost > 0) {
        np_log_warn(ev->svc, "events producer %s stopping with %llu unacknowledged events", ev->id,
                    (unsigned long long)lost);
    }
    /* The sender ends before the pub socket closes: a message handed to a pub pipe while the
     * socket closes it can be lost inside NNG 1.5.2 (see np_pub_msg_new). */
    if (ev->sender_started) {
        pthread_join(ev->sender, NULL);
    }
    np_dialset_close(ev->pub_dials); /* no new dialers while the sockets close */
    np_dialset_close(ev->sub_dials);
    if (ev->pub_open) {
        nng_close(ev->pub);
    }
    if (ev->sub_open) {
        nng_close(ev->sub); /* unblocks the ack thread */
    }
    if (ev->acker_started) {
        pthread_join(ev->acker, NULL);
    }
    for (uint64_t i = 0; ev->ring != NULL && i < ev->cap; i++) {
        free(ev->ring[i].data);
    }
    free(ev->ring);
    pthread_mutex_destroy(&ev->mu);
    pthread_cond_destroy(&ev->wake);
    pthread_cond_destroy(&ev->drained);
    np_wire_guard_free(ev->guard);
    free(ev);
}

/* encode packs [time_us, type, fields_json] for a slot; NULL on no memory. */
static char *
encode(const np_events *ev, const char *type, json_t *fields, size_t *len)
{
    char *text = NULL;
    if (fields != NULL && json_is_object(fields)) {
        text = json_dumps(fields, JSON_COMPACT | JSON_ENSURE_ASCII);
    } else if (fields != NULL) {
        /* A producer bug, kept rather than lost: wrap the value. */
        json_t *wrap = json_pack("{s:O}", "value", fields);
        text = wrap ? json_dumps(wrap, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(wrap);
    } else {
        text = strdup("{}");
    }
    if (text != NULL && strlen(text) > NP_EVENTS_FIELDS_MAX) {
        np_log_warn(ev->svc, "event %s: fields of %zu bytes are too large; kept as a marker", type,
                    strlen(text));
        free(text);
        text = strdup("{\"truncated\":true}");
    }
    if (text == NULL) {
        return NULL;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_int64(&pk, np_wall_us());
    char t[NP_EVENTS_TYPE_MAX];
    snprintf(t, sizeof(t), "%s", type);
    pack_str(&pk, t);
    pack_str(&pk, text);
    free(text);
    *len = sb.size;
    return msgpack_sbuffer_release(&sb);
}

void
np_events_emit(np_events *ev, const char *type, json_t *fields)
{
    if (ev == NULL) {
        json_decref(fields);
        return;
    }
    size_t len = 0;
    char *data = encode(ev, type, fields, &len);
    json_decref(fields);
    enum { NONE, BURST_START, BURST_END } note = NONE;
    uint64_t burst = 0;
    pthread_mutex_lock(&ev->mu);
    if (data == NULL || ev->next - ev->base >= ev->cap) {
        ev->dropped++;
        ev->burst_drops++;
        if (!ev->overflowing) {
            ev->overflowing = true;
            note = BURST_START;
        }
    } else {
        slot *s = &ev->ring[ev->next % ev->cap];
        *s = (slot){.data = data, .len = len};
        data = NULL;
        ev->next++;
        ev->unacked++;
        ev->emitted++;
        if (ev->overflowing) {
            ev->overflowing = false;
            burst = ev->burst_drops;
            ev->burst_drops = 0;
            note = BURST_END;
        }
        pthread_cond_signal(&ev->wake);
    }
    pthread_mutex_unlock(&ev->mu);
    free(data);
    if (note == BURST_START) {
        np_log_error(ev->svc,
                     "events outbox full (%llu events unacknowledged): dropping events until "
                     "audit acknowledges; see naipool_events_dropped_total",
                     (unsigned long long)ev->cap);
    } else if (note == BURST_END) {
        np_log_warn(ev->svc, "events outbox accepts events again; %llu dropped in that burst",
                    (unsigned long long)burst);
    }
}

void
np_events_stats_read(np_events *ev, np_events_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (ev == NULL) {
        return;
    }
    pthread_mutex_lock(&ev->mu);
    snprintf(out->producer_id, sizeof(out->producer_id), "%s", ev->id);
    out->emitted = ev->emitted;
    out->dropped = ev->dropped;
    out->sent = ev->sent;
    out->resent = ev->resent;
    out->acked = ev->acked;
    out->depth = ev->unacked;
    out->inflight = ev->inflight;
    out->capacity = ev->cap;
    pthread_mutex_unlock(&ev->mu);
}

const char *
np_events_producer_id(const np_events *ev)
{
    return ev->id;
}

void
np_events_metrics_render(np_events *ev, const char *svc, const char *node, np_buf *out)
{
    np_events_stats st;
    np_events_stats_read(ev, &st);
    const struct {
        const char *name, *type, *help;
        uint64_t v;
    } figures[] = {
        {"emitted_total", "counter", "events accepted into the outbox", st.emitted},
        {"dropped_total", "counter", "events dropped because the outbox was full", st.dropped},
        {"sent_total", "counter", "first transmissions of events", st.sent},
        {"resent_total", "counter", "re-transmissions of unacknowledged events", st.resent},
        {"acked_total", "counter", "events acknowledged by audit", st.acked},
        {"outbox_depth", "gauge", "events not yet acknowledged", st.depth},
        {"inflight", "gauge", "events sent and not yet acknowledged", st.inflight},
        {"outbox_capacity", "gauge", "EVENTS_OUTBOX_MAX", st.capacity},
    };
    for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]); i++) {
        np_buf_printf(out,
                      "# HELP naipool_%s_events_%s %s (this process's producer).\n"
                      "# TYPE naipool_%s_events_%s %s\n"
                      "naipool_%s_events_%s{node=\"%s\",producer=\"%s\"} %llu\n",
                      svc, figures[i].name, figures[i].help, svc, figures[i].name, figures[i].type,
                      svc, figures[i].name, node, st.producer_id, (unsigned long long)figures[i].v);
    }
}
