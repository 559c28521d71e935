/* The event sink: audit's sub socket (EVENTS_LISTEN) feeds a bounded queue; a writer
 * thread stores the queue in batches with libpq pipeline mode, idempotently on
 * (producer_id, seq), and after each commit publishes acknowledgements on the pub socket
 * (ACKS_LISTEN). Events that cannot be queued or stored are simply not acknowledged:
 * their producer re-sends them. */
#ifndef AUDIT_SINK_H
#define AUDIT_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "np/config.h"
#include "np/db.h"
#include "np/errors.h"

typedef struct audit_sink audit_sink;

typedef struct {
    uint64_t messages;       /* event messages received */
    uint64_t bad_messages;   /* malformed messages ignored */
    uint64_t received;       /* events received (re-sends included) */
    uint64_t queue_drops;    /* events not queued because the queue was full (re-sent later) */
    uint64_t queue;          /* events waiting to be written */
    uint64_t usage_rows;     /* rows inserted into usage_logs */
    uint64_t audit_rows;     /* rows inserted into audit_events */
    uint64_t duplicates;     /* events already stored (re-sends, a second audit instance) */
    uint64_t batches;        /* batches committed */
    uint64_t batch_failures; /* batches not stored (database down...), left to re-sends */
    uint64_t acks;           /* ack messages published */
} audit_sink_stats;

/* audit_sink_open listens on EVENTS_LISTEN and ACKS_LISTEN and starts the receiver and the
 * writer threads, writing through db (borrowed; must outlive the sink). cfg is read at
 * start and, for LOG_REQUEST_IP, at every batch. NP_ERR_* with why filled on failure. */
np_err audit_sink_open(audit_sink **out, np_db *db, const np_config *cfg, char *why, size_t whylen);
/* audit_sink_close stops receiving, finishes the batch being written and frees; events still
 * queued are dropped unacknowledged (their producers re-send them). NULL is accepted. */
void audit_sink_close(audit_sink *s);

void audit_sink_stats_read(audit_sink *s, audit_sink_stats *out);

/* audit_sink_metrics_render appends the sink's figures as Prometheus text (this instance's):
 * naipool_audit_messages_total, _messages_bad_total, _events_received_total,
 * _queue_drops_total, _queue_depth, _rows_inserted_total{table}, _duplicates_total,
 * _batches_total, _batch_failures_total, _acks_sent_total, all labelled with node. */
void audit_sink_metrics_render(audit_sink *s, const char *node, np_buf *out);

/* audit_batch_store writes events (borrowed) in one pipelined implicit transaction; when
 * it fails for a reason other than the connection, it stores them one by one (an event
 * whose details cannot be stored keeps a note instead). stored[i] is set for each event
 * now in the database (inserted or already there). Counts go to st (may be NULL).
 * NP_ERR_DB when the database could not be used. Exposed for tests. */
np_err audit_batch_store(PGconn *conn, audit_event *const *evs, size_t n, bool store_ip,
                         bool *stored, audit_sink_stats *st);

#endif
