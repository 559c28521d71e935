/* The events producer: every service reports what happened (request finished, key state
 * changed, login failed, admin change...) through one producer per service instance, and
 * the audit service stores it. Events must never carry a token, a password or a secret:
 * only ids, masked forms and outcomes.
 *
 * Transport (DESIGN.md section 4): NNG pub/sub drops silently when a subscriber lags or is
 * absent, so delivery is made lossless on top of it. Each event carries (producer_id, seq);
 * the producer keeps it in a bounded outbox (EVENTS_OUTBOX_MAX) until an audit instance
 * acknowledges it, has at most EVENTS_INFLIGHT_MAX of them on the wire at once, and
 * re-publishes those unacknowledged after EVENTS_RESEND_MS. Audit inserts idempotently on
 * (producer_id, seq) and publishes acknowledgements (seq ranges) after commit.
 *
 * Topology: the producer's pub socket dials every address of EVENTS_URL (audit's sub
 * listens on EVENTS_LISTEN); its sub socket dials every address of ACKS_URL (audit's pub
 * listens on ACKS_LISTEN). Both lists are comma separated, one entry per audit instance.
 *
 * Wire (msgpack), producer -> audit, one message per batch of events:
 *   {v:1, p:producer_id, e:[[seq, time_us, type, fields_json], ...]}
 * audit -> producers, one message per producer:
 *   producer_id "\n" {v:1, p:producer_id, r:[[first_seq, last_seq], ...]}
 * (the producer subscribes to its own id followed by "\n", so it sees only its acks). */
#ifndef NP_EVENTS_H
#define NP_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "np/buf.h"
#include "np/config.h"
#include "np/errors.h"

typedef struct np_events np_events;

/* Largest producer id, type and encoded fields the audit side accepts. */
#define NP_EVENTS_ID_MAX 128
#define NP_EVENTS_TYPE_MAX 64
#define NP_EVENTS_FIELDS_MAX (256u * 1024u)

/* np_events_open creates the producer of service svc on this node: a fresh producer id
 * (svc.node.random, so a restarted process never reuses its old seqs), the sockets (dialled
 * without waiting: an absent audit is not an error) and the sender thread. Settings read:
 * NODE_ID, EVENTS_URL, ACKS_URL, EVENTS_OUTBOX_MAX, EVENTS_INFLIGHT_MAX, EVENTS_RESEND_MS,
 * EVENTS_DRAIN_MS. NP_ERR_NOMEM, NP_ERR_SYSTEM or an NNG error otherwise. */
np_err np_events_open(np_events **out, const char *svc, const np_config *cfg);
/* np_events_close waits up to EVENTS_DRAIN_MS for the outbox to be acknowledged (so a
 * graceful stop loses nothing while an audit instance runs), then stops and frees. NULL is
 * accepted. */
void np_events_close(np_events *ev);

/* np_events_emit records one event of type (e.g. "auth.login_failed") with fields (a JSON
 * object or NULL), which it consumes (json_decref) in every case. Never blocks on the
 * network. When the outbox is full the event is dropped, counted in `dropped` and logged
 * once per burst; that is the only place an event may be lost. */
void np_events_emit(np_events *ev, const char *type, json_t *fields);

/* Per-process figures of one producer, for /metrics. */
typedef struct {
    char producer_id[NP_EVENTS_ID_MAX];
    uint64_t emitted;  /* events accepted into the outbox */
    uint64_t dropped;  /* events refused because the outbox was full */
    uint64_t sent;     /* first transmissions */
    uint64_t resent;   /* re-transmissions after EVENTS_RESEND_MS without an ack */
    uint64_t acked;    /* events acknowledged by an audit instance */
    uint64_t depth;    /* events in the outbox not yet acknowledged */
    uint64_t inflight; /* of those, sent at least once */
    uint64_t capacity; /* EVENTS_OUTBOX_MAX */
} np_events_stats;

/* np_events_stats_read copies the producer's current figures into out (zeros for NULL). */
void np_events_stats_read(np_events *ev, np_events_stats *out);

/* np_events_metrics_render appends the producer's figures as Prometheus text, one family
 * per figure named naipool_<svc>_events_<figure> (the service in the name keeps families
 * distinct when the gateway concatenates the answers of several services), labelled with
 * the node and the producer id: emitted_total, dropped_total (outbox overflow), sent_total,
 * resent_total, acked_total, outbox_depth, inflight, outbox_capacity. */
void np_events_metrics_render(np_events *ev, const char *svc, const char *node, np_buf *out);

/* np_events_producer_id returns the producer's id (borrowed; lives as long as ev). */
const char *np_events_producer_id(const np_events *ev);

/* np_pub_msg_new allocates, into *out, an empty message whose body can take cap bytes without
 * growing, for a pub socket. Every message sent on a pub socket (events, acks) comes from here
 * so that tests/lsan.supp can name this one function: NNG 1.5.2 loses a message when a pub
 * pipe closes while it is being handed to that pipe (NNG issue #1713, fixed in 1.6.0), which
 * LeakSanitizer reports at exit. Append at most cap bytes, or the body is reallocated outside
 * this function and a genuine leak of it stays visible. Returns NP_ERR_NOMEM. */
np_err np_pub_msg_new(nng_msg **out, size_t cap);

#endif
