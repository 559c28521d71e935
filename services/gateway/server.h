/* The gateway's insides shared by its modules: the process-wide gateway object, the loop
 * threads, and the per-request context every handler works with. */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include <h2o.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gateway.h"
#include "metrics.h"
#include "np/config.h"
#include "np/rpc.h"
#include "peers.h"

typedef struct gw_thread gw_thread;
typedef struct gw_auth_cache gw_auth_cache;
typedef struct np_heartbeat np_heartbeat;

/* A cached answer of an operational endpoint (ops.c). */
typedef struct {
    char *body; /* malloc'd; NULL: nothing cached */
    size_t len;
    int status;
    int64_t at_ms; /* monotonic time it was made */
} gw_ops_answer;

struct gw_gateway {
    np_config *cfg;
    h2o_globalconf_t h2o;
    int port;
    int listen_fd; /* the first socket; others are SO_REUSEPORT siblings */
    char node[64];
    char web_dir[PATH_MAX]; /* realpath() writes up to PATH_MAX: fortified builds abort on less */
    size_t max_body;
    bool trust_proxy;
    char *trusted_proxies; /* CIDRs skipped when reading X-Forwarded-For */
    int proxy_hops;     /* TRUSTED_PROXY_HOPS: >0 takes the entry this far from the right instead */
    char *cors_origins; /* comma separated; NULL: CORS off */
    np_rpc_client *auth, *pool, *audit, *health; /* pool: spread over every instance */
    gw_peers pools;                              /* pool instances, for the relay */
    int rpc_timeout_ms;
    int max_conns;         /* GATEWAY_MAX_CONNECTIONS */
    atomic_int conns_open; /* client connections open over every loop thread */
    gw_auth_cache *auth_cache;
    np_heartbeat *beat; /* NULL when it could not start */
    gw_metrics metrics;
    gw_thread *threads;
    int nthreads;
    atomic_bool stopping;
    atomic_int calls_out;        /* NNG calls not yet delivered to a loop */
    pthread_mutex_t ops_mu;      /* guards the two cached answers */
    gw_ops_answer ready, scrape; /* /readyz for 1 s, merged /metrics for METRICS_CACHE_SECONDS */
    int metrics_cache_ms;
    char *metrics_token; /* METRICS_TOKEN; NULL or empty: /metrics is open */
};

struct gw_thread {
    gw_gateway *gw;
    pthread_t tid;
    int fd;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    h2o_socket_t *listener;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t replies; /* NNG answers handed to this loop */
    uint64_t rng;                       /* request ids */
    h2o_linklist_t conns;               /* tracked client sockets, closed at shutdown */
    int reserve_fd; /* a spare descriptor, given up to accept and refuse one client on EMFILE */
    int64_t fd_warned_ms; /* when running out of descriptors was last logged */
};

/* The per-request context, allocated from the request's pool. */
typedef struct {
    gw_thread *th;
    h2o_req_t *req;
    char rid[40];        /* the gateway's own id: keys internal state (relay.abort), logs */
    char client_rid[40]; /* the client's X-Request-Id ("" if none): echoed and logged only */
    int route_group;
    struct timespec started;
    bool static_file; /* a UI file: static.c sets its own CSP, not the API's */
} gw_request;

/* gw_thread_of returns the loop thread a request belongs to. */
gw_thread *gw_thread_of(h2o_req_t *req);

#endif
