/* The event sink: receiving, batching, storing with libpq pipeline mode, acknowledging.
 *
 * State flow of one events message:
 *   1. the receiver thread decodes it (a malformed one is counted and ignored) and appends
 *      its events to the queue, or drops them all when the queue is full (not acknowledged,
 *      so their producer re-sends them);
 *   2. the writer thread takes up to AUDIT_BATCH_MAX queued events and stores them in one
 *      pipelined implicit transaction (ON CONFLICT (producer_id, seq) DO NOTHING);
 *   3. if that transaction fails and the connection is fine, the writer stores the events
 *      one by one, so one unstorable event cannot hold back the others;
 *   4. after the commit it publishes, per producer, the seq ranges now stored; a batch that
 *      could not be stored is not acknowledged and comes back as re-sends.
 */
#include "sink.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>

#include "acks.h"
#include "np/events.h"
#include "np/log.h"
#include "np/wire_mac.h"
#include "settings.h"

struct audit_sink {
    np_db *db;
    const np_config *cfg;
    nng_socket sub, pub;
    bool sub_open, pub_open;
    np_wire_guard *guard; /* events must carry the INTERNAL_SECRET MAC */
    pthread_t receiver, writer;
    bool receiver_started, writer_started;
    size_t queue_max, batch_max;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    np_list queue; /* of audit_event received and not yet stored, FIFO */
    size_t queued;
    audit_sink_stats st;
};

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *
receiver_main(void *arg)
{
    audit_sink *s = arg;
    for (;;) {
        nng_msg *msg;
        int rv = nng_recvmsg(s->sub, &msg, 0);
        if (rv == NNG_ECLOSED) {
            break;
        }
        if (rv != 0) {
            continue;
        }
        np_list got;
        np_list_init(&got);
        size_t n = 0;
        if (np_wire_open(s->guard, msg) != NP_ERR_OK) {
            nng_msg_free(msg); /* counted by the guard: nothing forged reaches the trail */
            continue;
        }
        np_err err = audit_batch_decode(nng_msg_body(msg), nng_msg_len(msg), &got, &n);
        nng_msg_free(msg);
        pthread_mutex_lock(&s->mu);
        s->st.messages++;
        if (err != NP_ERR_OK) {
            s->st.bad_messages++;
        } else if (s->queued + n > s->queue_max) {
            s->st.received += n;
            s->st.queue_drops += n;
        } else if (n > 0) {
            s->st.received += n;
            np_list_take(&s->queue, &got);
            s->queued += n;
            pthread_cond_signal(&s->cv);
        }
        pthread_mutex_unlock(&s->mu);
        if (err != NP_ERR_OK) {
            np_log_debug("audit", "ignored a malformed events message");
        }
        audit_event_free_list(&got); /* dropped: over the cap */
    }
    return NULL;
}

static bool
is_connection_error(PGconn *conn, const PGresult *r)
{
    if (PQstatus(conn) == CONNECTION_BAD) {
        return true;
    }
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    /* 08: connection exceptions; 57P: operator intervention (shutdown); 53: resources. */
    return state == NULL || strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
           strncmp(state, "53", 2) == 0;
}

static np_err
fill(audit_params *p, const audit_event *e, bool store_ip, bool minimal)
{
    if (audit_event_is_usage(e) && !minimal) {
        audit_params_usage(p, e, store_ip);
        return NP_ERR_OK;
    }
    return audit_params_audit(p, e, minimal);
}

static const char *
sql_for(const audit_event *e, bool minimal)
{
    return audit_event_is_usage(e) && !minimal ? AUDIT_SQL_INSERT_USAGE : AUDIT_SQL_INSERT_AUDIT;
}

static void
count_row(audit_sink_stats *st, const audit_event *e, bool minimal, bool inserted)
{
    if (!inserted) {
        st->duplicates++;
    } else if (audit_event_is_usage(e) && !minimal) {
        st->usage_rows++;
    } else {
        st->audit_rows++;
    }
}

/* store_one writes one event outside a pipeline: 1 stored, 0 refused by the database for
 * this event, -1 the connection failed. */
static int
store_one(PGconn *conn, const audit_event *e, bool store_ip, bool minimal, audit_sink_stats *st)
{
    audit_params p;
    if (fill(&p, e, store_ip, minimal) != NP_ERR_OK) {
        audit_params_fini(&p);
        return 0;
    }
    PGresult *r = PQexecParams(conn, sql_for(e, minimal), p.n, NULL, p.v, NULL, NULL, 0);
    int rc = 1;
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        count_row(st, e, minimal, strcmp(PQcmdTuples(r), "1") == 0);
    } else {
        rc = is_connection_error(conn, r) ? -1 : 0;
        const char *m = PQresultErrorMessage(r);
        np_log_warn("audit", "event %s #%lld of %s not stored%s: %.*s", e->type, (long long)e->seq,
                    e->producer, minimal ? " even minimally" : "", (int)strcspn(m, "\n"), m);
    }
    PQclear(r);
    audit_params_fini(&p);
    return rc;
}

np_err
audit_batch_store(PGconn *conn, audit_event *const *evs, size_t n, bool store_ip, bool *stored,
                  audit_sink_stats *st)
{
    audit_sink_stats scratch = {0};
    if (st == NULL) {
        st = &scratch;
    }
    memset(stored, 0, n * sizeof(*stored));
    if (n == 0) {
        return NP_ERR_OK;
    }
    np_err err = NP_ERR_OK;
    audit_params *ps = calloc(n, sizeof(*ps));
    char *inserted = calloc(n, 1);
    if (ps == NULL || inserted == NULL) {
        err = NP_ERR_NOMEM;
        goto done;
    }
    if (PQenterPipelineMode(conn) != 1) {
        err = NP_ERR_DB;
        goto done;
    }
    /* 1. queue every insert, then one sync: all of them form one implicit transaction. The
     * batch is bounded (AUDIT_BATCH_MAX) so the server's answers, a few dozen bytes each,
     * fit in the socket buffers while we are still sending. */
    bool sent_all = true;
    for (size_t i = 0; i < n && sent_all; i++) {
        sent_all = fill(&ps[i], evs[i], store_ip, false) == NP_ERR_OK &&
                   PQsendQueryParams(conn, sql_for(evs[i], false), ps[i].n, NULL, ps[i].v, NULL,
                                     NULL, 0) == 1;
    }
    bool synced = sent_all && PQpipelineSync(conn) == 1;
    /* 2. read one result set per query (each ends with NULL), then the sync marker. */
    bool failed = !synced, conn_bad = false;
    size_t q = 0;
    while (synced) {
        PGresult *r = PQgetResult(conn);
        if (r == NULL) {
            if (PQstatus(conn) == CONNECTION_BAD || ++q > n + 1) {
                conn_bad = true;
                break;
            }
            continue;
        }
        ExecStatusType rs = PQresultStatus(r);
        if (rs == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (rs == PGRES_COMMAND_OK) {
            if (q < n) {
                inserted[q] = strcmp(PQcmdTuples(r), "1") == 0;
            }
        } else {
            failed = true;
            if (rs == PGRES_FATAL_ERROR) {
                conn_bad = conn_bad || is_connection_error(conn, r);
                const char *m = PQresultErrorMessage(r);
                np_log_warn("audit", "batch of %zu events failed: %.*s", n, (int)strcspn(m, "\n"),
                            m);
            }
        }
        PQclear(r);
    }
    if (PQexitPipelineMode(conn) != 1) {
        /* Results are still pending (a broken exchange): start the connection afresh rather
         * than lend it out in pipeline mode. */
        PQreset(conn);
        conn_bad = true;
    }
    if (!failed && !conn_bad) {
        for (size_t i = 0; i < n; i++) {
            stored[i] = true;
            count_row(st, evs[i], false, inserted[i]);
        }
        goto done;
    }
    if (conn_bad || PQstatus(conn) != CONNECTION_OK) {
        err = NP_ERR_DB;
        goto done;
    }
    /* 3. one by one; an event refused as it is keeps its type and a note. */
    for (size_t i = 0; i < n; i++) {
        int rc = store_one(conn, evs[i], store_ip, false, st);
        if (rc == 0) {
            rc = store_one(conn, evs[i], store_ip, true, st);
        }
        if (rc < 0) {
            err = NP_ERR_DB;
            break;
        }
        stored[i] = rc == 1;
    }

done:
    for (size_t i = 0; ps != NULL && i < n; i++) {
        audit_params_fini(&ps[i]);
    }
    free(ps);
    free(inserted);
    return err;
}

static void
publish_ack(void *arg, const char *producer, const void *bytes, size_t len)
{
    audit_sink *s = arg;
    (void)producer;
    nng_msg *msg;
    if (np_pub_msg_new(&msg, len) != NP_ERR_OK) {
        return; /* the producer re-sends and we acknowledge again */
    }
    if (nng_msg_append(msg, bytes, len) != 0 || np_wire_seal(msg) != NP_ERR_OK ||
        nng_sendmsg(s->pub, msg, NNG_FLAG_NONBLOCK) != 0) {
        nng_msg_free(msg);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->st.acks++;
    pthread_mutex_unlock(&s->mu);
}

static void
add_stats(audit_sink_stats *to, const audit_sink_stats *from)
{
    to->usage_rows += from->usage_rows;
    to->audit_rows += from->audit_rows;
    to->duplicates += from->duplicates;
}

static void *
writer_main(void *arg)
{
    audit_sink *s = arg;
    audit_event **batch = calloc(s->batch_max, sizeof(*batch));
    bool *stored = calloc(s->batch_max, sizeof(*stored));
    int64_t failures = 0;
    pthread_mutex_lock(&s->mu);
    while (batch != NULL && stored != NULL) {
        while (!s->stopping && np_list_empty(&s->queue)) {
            pthread_cond_wait(&s->cv, &s->mu);
        }
        if (s->stopping) {
            break;
        }
        size_t n = 0;
        audit_event *e;
        while (n < s->batch_max &&
               (e = NP_LIST_ENTRY(np_list_pop_front(&s->queue), audit_event, link)) != NULL) {
            batch[n++] = e;
        }
        s->queued -= n;
        pthread_mutex_unlock(&s->mu);

        bool store_ip = NP_SETTING_NOW(s->cfg, np_common, LOG_REQUEST_IP);
        audit_sink_stats local = {0};
        PGconn *conn = np_db_acquire(s->db, 5000);
        np_err err = conn ? audit_batch_store(conn, batch, n, store_ip, stored, &local) : NP_ERR_DB;
        np_db_release(s->db, conn);
        if (err == NP_ERR_OK) {
            size_t k = 0;
            for (size_t i = 0; i < n; i++) {
                if (stored[i]) {
                    batch[k++] = batch[i];
                } else {
                    audit_event_free(batch[i]);
                }
            }
            n = k;
            audit_acks_build(batch, n, publish_ack, s);
            if (failures > 0) {
                np_log_info("audit", "storing events again after %lld failed batches",
                            (long long)failures);
            }
            failures = 0;
        } else if (failures++ == 0) {
            /* Logged once per outage; the producers keep the events and re-send them. */
            np_log_error("audit", "cannot store events (%s); leaving them to re-sends",
                         np_err_message(err));
        }
        for (size_t i = 0; i < n; i++) {
            audit_event_free(batch[i]);
        }
        if (err != NP_ERR_OK) {
            sleep_ms(200);
        }
        pthread_mutex_lock(&s->mu);
        add_stats(&s->st, &local);
        if (err == NP_ERR_OK) {
            s->st.batches++;
        } else {
            s->st.batch_failures++;
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(batch);
    free(stored);
    return NULL;
}

static int
listen_all(nng_socket sock, const char *urls, const char *setting, char *why, size_t whylen)
{
    char copy[1024];
    snprintf(copy, sizeof(copy), "%s", urls);
    char *save = NULL;
    for (char *u = strtok_r(copy, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save)) {
        int rv = nng_listen(sock, u, NULL, 0);
        if (rv != 0) {
            snprintf(why, whylen, "%s: audit cannot listen on %s: %s", setting, u,
                     nng_strerror(rv));
            return rv;
        }
    }
    return 0;
}

np_err
audit_sink_open(audit_sink **out, np_db *db, const np_config *cfg, char *why, size_t whylen)
{
    audit_sink *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->guard = np_wire_guard_new()) == NULL) {
        free(s);
        return NP_ERR_NOMEM;
    }
    s->db = db;
    s->cfg = cfg;
    np_settings *snap = np_config_acquire(cfg);
    s->queue_max = (size_t)NP_SETTINGS_OF(snap, audit)->AUDIT_QUEUE_MAX;
    s->batch_max = (size_t)NP_SETTINGS_OF(snap, audit)->AUDIT_BATCH_MAX;
    np_list_init(&s->queue);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    char events[1024], acks[1024];
    snprintf(events, sizeof(events), "%s", np_settings_common(snap)->EVENTS_LISTEN);
    snprintf(acks, sizeof(acks), "%s", np_settings_common(snap)->ACKS_LISTEN);
    np_settings_release(snap);
    int rv = nng_sub0_open(&s->sub);
    if (rv == 0) {
        s->sub_open = true;
        rv = nng_socket_set(s->sub, NNG_OPT_SUB_SUBSCRIBE, "", 0);
    }
    if (rv == 0) {
        /* Events come in bursts: a deep receive buffer means fewer drops (and re-sends). */
        nng_socket_set_int(s->sub, NNG_OPT_RECVBUF, 8192);
        nng_socket_set_size(s->sub, NNG_OPT_RECVMAXSZ, 4u << 20);
        nng_socket_set_bool(s->sub, NNG_OPT_TCP_KEEPALIVE, true);
        rv = nng_pub0_open(&s->pub);
    }
    if (rv == 0) {
        s->pub_open = true;
        nng_socket_set_int(s->pub, NNG_OPT_SENDBUF, 1024);
        nng_socket_set_bool(s->pub, NNG_OPT_TCP_KEEPALIVE, true);
    }
    if (rv != 0) {
        snprintf(why, whylen, "audit: cannot open the event sockets: %s", nng_strerror(rv));
    } else if ((rv = listen_all(s->sub, events, "EVENTS_LISTEN", why, whylen)) == 0) {
        rv = listen_all(s->pub, acks, "ACKS_LISTEN", why, whylen);
    }
    np_err err = rv != 0 ? np_err_from_nng(rv) : NP_ERR_OK;
    if (err == NP_ERR_OK) {
        if (pthread_create(&s->writer, NULL, writer_main, s) == 0) {
            s->writer_started = true;
        }
        if (s->writer_started && pthread_create(&s->receiver, NULL, receiver_main, s) == 0) {
            s->receiver_started = true;
        }
        if (!s->receiver_started) {
            snprintf(why, whylen, "audit: cannot start the sink threads");
            err = NP_ERR_SYSTEM;
        }
    }
    if (err != NP_ERR_OK) {
        audit_sink_close(s);
        return err;
    }
    np_log_info("audit", "receiving events on %s, acknowledging on %s", events, acks);
    *out = s;
    return NP_ERR_OK;
}

void
audit_sink_close(audit_sink *s)
{
    if (s == NULL) {
        return;
    }
    if (s->sub_open) {
        nng_close(s->sub); /* the receiver returns */
    }
    if (s->receiver_started) {
        pthread_join(s->receiver, NULL);
    }
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->writer_started) {
        pthread_join(s->writer, NULL);
    }
    if (s->pub_open) {
        nng_close(s->pub);
    }
    audit_event_free_list(&s->queue);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    np_wire_guard_free(s->guard);
    free(s);
}

void
audit_sink_stats_read(audit_sink *s, audit_sink_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    out->queue = s->queued;
    pthread_mutex_unlock(&s->mu);
}

void
audit_sink_metrics_render(audit_sink *s, const char *node, np_buf *out)
{
    audit_sink_stats st;
    audit_sink_stats_read(s, &st);
    const struct {
        const char *name, *type, *help, *label;
        uint64_t v;
    } figures[] = {
        {"messages_total", "counter", "event messages received", NULL, st.messages},
        {"messages_bad_total", "counter", "malformed event messages ignored", NULL,
         st.bad_messages},
        {"messages_unauthenticated_total", "counter",
         "event messages dropped for lacking a valid INTERNAL_SECRET MAC", NULL,
         np_wire_guard_dropped(s->guard)},
        {"events_received_total", "counter", "events received, re-sends included", NULL,
         st.received},
        {"queue_drops_total", "counter", "events left to re-sends because the queue was full", NULL,
         st.queue_drops},
        {"queue_depth", "gauge", "events waiting to be written", NULL, st.queue},
        {"rows_inserted_total", "counter", "rows inserted", "usage_logs", st.usage_rows},
        {"rows_inserted_total", NULL, NULL, "audit_events", st.audit_rows},
        {"duplicates_total", "counter", "events already stored (re-sends, other instances)", NULL,
         st.duplicates},
        {"batches_total", "counter", "batches committed", NULL, st.batches},
        {"batch_failures_total", "counter", "batches not stored, left to re-sends", NULL,
         st.batch_failures},
        {"acks_sent_total", "counter", "acknowledgement messages published", NULL, st.acks},
    };
    for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]); i++) {
        if (figures[i].type != NULL) {
            np_buf_printf(out,
                          "# HELP naipool_audit_%s %s (this audit instance).\n"
                          "# TYPE naipool_audit_%s %s\n",
                          figures[i].name, figures[i].help, figures[i].name, figures[i].type);
        }
        if (figures[i].label != NULL) {
            np_buf_printf(out, "naipool_audit_%s{node=\"%s\",table=\"%s\"} %llu\n", figures[i].name,
                          node, figures[i].label, (unsigned long long)figures[i].v);
        } else {
            np_buf_printf(out, "naipool_audit_%s{node=\"%s\"} %llu\n", figures[i].name, node,
                          (unsigned long long)figures[i].v);
        }
    }
}
