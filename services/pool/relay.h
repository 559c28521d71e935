/* The relay, pool side: relay.open / relay.next / relay.cancel. A request is checked (allow-
 * list, body, rate, in-flight cap, Anlas guard), waits for a key in the scheduler, goes
 * upstream on the curl thread, and comes back in chunks with end-to-end backpressure. Every
 * relayed request ends with one "relay.finished" event. */
#ifndef POOL_RELAY_H
#define POOL_RELAY_H

#include "proxies.h"
#include <jansson.h>

#include "keyring.h"
#include "np/config.h"
#include "np/db.h"
#include "np/events.h"
#include "np/rpc.h"
#include "ratelimit.h"
#include "scheduler.h"
#include "upstream.h"

typedef struct pool_relay pool_relay;

typedef struct {
    np_config *cfg;
    np_db *db;
    np_events *events;
    pool_upstream *up;
    pool_sched *sched;
    pool_keyring *keyring; /* the usable keys: the guard and leaseless picks */
    pool_inflight *inflight;
    const char *node;
    pool_proxies *proxies; /* the egress proxy of each key (proxies.h) */
} pool_relay_deps;

/* pool_relay_new borrows everything in d for its life. */
np_err pool_relay_new(pool_relay **out, const pool_relay_deps *d);
/* pool_relay_close answers every parked relay.next, forgets every stream and frees; call it
 * after the upstream thread and the scheduler are closed. NULL is accepted. */
void pool_relay_close(pool_relay *rl);

/* Operation handlers (rpc worker threads); each answers call now or later. */
void pool_relay_open(pool_relay *rl, np_rpc_call *call, const msgpack_object *req);
void pool_relay_next(pool_relay *rl, np_rpc_call *call, const msgpack_object *req);
void pool_relay_cancel(pool_relay *rl, np_rpc_call *call, const msgpack_object *req);
/* relay.abort {rid}: the client of request rid left before relay.open was answered; a queued
 * request leaves the queue, a running transfer is cancelled; either way the open is answered
 * and the usage row reads 499 client_closed. Unknown or finished: nothing happens. */
void pool_relay_abort(pool_relay *rl, np_rpc_call *call, const msgpack_object *req);

/* pool_relay_tick reaps streams nobody asked for past STREAM_REAP_SECONDS (scheduler tick). */
void pool_relay_tick(void *rl);

/* pool_relay_stats adds this instance's figures (streams, requests and errors per minute over
 * the last hour) to obj. */
void pool_relay_stats(pool_relay *rl, json_t *obj);
/* pool_relay_streams: response streams this instance holds open now. */
int pool_relay_streams(pool_relay *rl);

#endif
