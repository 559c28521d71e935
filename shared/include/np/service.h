/* What every back-end service has: its configuration, a database pool, an events producer
 * and an NNG rep server; opened and closed in one place so the four services do not repeat
 * it. */
#ifndef NP_SERVICE_H
#define NP_SERVICE_H

#include <stdatomic.h>

#include "np/config.h"
#include "np/db.h"
#include "np/events.h"
#include "np/heartbeat.h"
#include "np/rpc.h"

typedef struct {
    const char *name; /* "auth", "pool", ... */
    np_config *cfg;
    np_db *db;
    np_events *events;
    np_rpc_server *rpc;
    np_heartbeat *heartbeat; /* this instance's row of the nodes table */
    bool watching;           /* holds a reference to the process's config watcher */
    char node[64];
    np_rpc_handler handler; /* the service's own dispatch (np_service_listen) */
    void *handler_arg;
    void (*metrics)(void *arg, np_buf *out); /* np_service_set_metrics */
    void *metrics_arg;
    atomic_ullong pings; /* "ping" answers, one database round trip each (/readyz) */
} np_service;

/* np_service_open connects to DATABASE_URL, opens the events producer, starts the
 * heartbeat (nodes table) and joins the process's runtime-config watcher. */
np_err np_service_open(np_service *s, const char *name, np_config *cfg, char *why, size_t whylen);
/* np_service_no_core_dumps turns core dumps off for the whole process (RLIMIT_CORE 0, soft
 * and hard, and PR_SET_DUMPABLE 0): pool and health hold decrypted tokens and
 * ENCRYPTION_KEY in memory, which a core file would write to disk. */
void np_service_no_core_dumps(const char *name);
/* np_service_listen starts answering on url, the value of the setting listen_setting (named
 * in the error written into why). Two
 * operations are answered here for every service: "events.stats"
 * (np_service_reply_events_stats) and "metrics" -> {t: Prometheus text} (the events producer's
 * figures, then what the service's metrics function adds); every other operation goes to
 * handler. */
np_err np_service_listen(np_service *s, const char *listen_setting, const char *url,
                         const np_rpc_opts *opts, np_rpc_handler handler, void *arg, char *why,
                         size_t whylen);
/* np_service_close stops the rep server, then closes events and the database. */
void np_service_close(np_service *s);

/* np_service_set_metrics registers fn, which appends the service's own Prometheus text
 * (names naipool_<svc>_...) to the "metrics" answer; call it before np_service_listen. fn
 * runs on an rpc worker thread. */
void np_service_set_metrics(np_service *s, void (*fn)(void *arg, np_buf *out), void *arg);

/* np_service_reply_ping answers "ping": {svc, node, db: reachable?}, one database round trip,
 * counted in naipool_<svc>_ping_db_checks_total. */
void np_service_reply_ping(np_service *s, np_rpc_call *call);

/* np_service_reply_events_stats answers "events.stats" with this process's events producer
 * figures: {svc, node, p: producer id, emitted, dropped, sent, resent, acked, depth,
 * inflight, cap}. */
void np_service_reply_events_stats(np_service *s, np_rpc_call *call);

#endif
