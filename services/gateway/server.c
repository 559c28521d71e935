/* The gateway's H2O server: configuration, the loop threads (one per core, each with its
 * own SO_REUSEPORT listener), the request entry point, and clean shutdown. */
#include "server.h"
#include "clientip.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "beat.h"
#include "call.h"
#include "forward.h"
#include "np/clock.h"
#include "np/crypto.h"
#include "np/httpop.h"
#include "np/log.h"
#include "ops.h"
#include "relay.h"
#include "respond.h"
#include "routes.h"
#include "settings.h"
#include "static.h"

#define NP_SETTING(...) NP_CFG_ROW(gw_settings, __VA_ARGS__)
const np_cfg_spec gw_config[] = {
#include "settings.def"
    NP_CFG_END,
};
#undef NP_SETTING
NP_CFG_TABLE(gw, gw_config);

gw_thread *
gw_thread_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(gw_thread, ctx, req->conn->ctx);
}

static void
answer_options(gw_request *r)
{
    /* CORS preflight: the allowed-origin header comes from gw_common_headers. */
    gw_add_header(r, "access-control-allow-methods", H2O_STRLIT("GET, POST, PUT, PATCH, DELETE"));
    gw_add_header(r, "access-control-allow-headers",
                  H2O_STRLIT("Authorization, Content-Type, Accept, X-Request-Id, "
                             "x-correlation-id, x-initiated-at"));
    gw_add_header(r, "access-control-max-age", H2O_STRLIT("600"));
    gw_respond(r, 204, NULL, NULL, 0);
}

static int
on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    const char *path = req->path_normalized.base;
    size_t plen = req->path_normalized.len;
    const char *allow = NULL;
    const gw_route *route = gw_route_find(req->method.base, req->method.len, path, plen, &allow);
    gw_request *r = gw_request_new(req, gw_metrics_route_id(route ? route->group : "other"));
    /* H2O 2.2.5 checks its one limit (MAX_BODY_BYTES) on Content-Length before it reads the
     * body, and has no per-path hook before that: the REST routes' smaller limit is checked
     * here, before anything is sent on to a service. */
    if (route != NULL && route->handler == GW_H_FORWARD && req->entity.len > NP_HTTP_BODY_MAX) {
        gw_respond_err(r, NP_ERR_TOO_LARGE, "the request body is larger than 64 KiB");
        return 0;
    }
    if (route != NULL) {
        switch (route->handler) {
        case GW_H_HEALTHZ: gw_ops_healthz(r); break;
        case GW_H_READYZ: gw_ops_readyz(r); break;
        case GW_H_METRICS: gw_ops_metrics(r); break;
        case GW_H_FORWARD: gw_forward(r, route); break;
        case GW_H_RELAY: gw_relay(r, route); break;
        }
        return 0;
    }
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"))) {
        answer_options(r);
        return 0;
    }
    if (allow != NULL) {
        gw_add_header(r, "allow", allow, strlen(allow));
        gw_respond_err(r, NP_ERR_METHOD, "this method is not allowed here");
        return 0;
    }
    if (plen >= 11 && strncmp(path, "/v1/novelai", 11) == 0) {
        gw_respond_err(r, NP_ERR_NOT_ALLOWED, NULL);
        return 0;
    }
    if (gw_route_is_api(path, plen)) {
        gw_respond_err(r, NP_ERR_NOT_FOUND, "no such API route");
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        gw_add_header(r, "allow", H2O_STRLIT("GET, HEAD"));
        gw_respond_err(r, NP_ERR_METHOD, "static files are read-only");
        return 0;
    }
    r->route_group = gw_metrics_route_id("static");
    gw_static_serve(r, path, plen);
    return 0;
}

/* Answers H2O makes on its own (413 before the handler, 400 for broken framing) go
 * through the host's fallback path: this filter gives them the project's error shape and
 * the headers every response carries. */
typedef struct {
    h2o_ostream_t super;
    h2o_iovec_t body;
} shape_ostream;

static void
shape_do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n,
              h2o_send_state_t state)
{
    shape_ostream *s = (shape_ostream *)self;
    (void)bufs;
    (void)n;
    if (h2o_send_state_is_in_progress(state)) {
        h2o_ostream_send_next(&s->super, req, NULL, 0, state);
        return;
    }
    h2o_ostream_send_next(&s->super, req, &s->body, 1, state);
}

static void
on_setup_fallback(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    gw_thread *th = gw_thread_of(req);
    gw_request r = {.th = th, .req = req};
    snprintf(r.rid, sizeof(r.rid), "%016llx", (unsigned long long)(th->rng ^= th->rng << 13));
    const char *code = np_err_code(req->res.status == 413 ? NP_ERR_TOO_LARGE : NP_ERR_INVALID);
    const char *msg = req->res.status == 413 ? "the request body is larger than MAX_BODY_BYTES"
                                             : "the request could not be read";
    char body[256];
    int len = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\"}", code, msg);
    req->res.content_length = (size_t)len;
    h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
                   H2O_STRLIT("application/json"), 1);
    gw_add_header(&r, "x-request-id", r.rid, strlen(r.rid));
    gw_add_header(&r, "x-novelaipool-node", th->gw->node, strlen(th->gw->node));
    shape_ostream *s = (shape_ostream *)h2o_add_ostream(req, sizeof(*s), slot);
    s->body = h2o_strdup(&req->pool, body, (size_t)len);
    s->super.do_send = shape_do_send;
    slot = &s->super.next;
    h2o_setup_next_ostream(req, slot);
}

static int
open_listener(gw_gateway *gw, const char *addr, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        errno = e;
        return -1;
    }
    (void)gw;
    return fd;
}

/* Every accepted socket is tracked until it closes, so that shutdown can end idle
 * keep-alive connections (H2O 2.2 has no way to close them from outside) and so that the
 * open connections can be counted against GATEWAY_MAX_CONNECTIONS. */
typedef struct {
    h2o_linklist_t link;
    h2o_socket_t *sock;
    gw_gateway *gw;
} tracked_conn;

static void
on_conn_close(void *data)
{
    tracked_conn *tc = data;
    atomic_fetch_sub(&tc->gw->conns_open, 1);
    h2o_linklist_unlink(&tc->link);
    free(tc);
}

/* refuse_fd tells a client there is no room (one try, never blocking) before it is closed. */
static void
refuse_fd(int fd)
{
    static const char body[] = "{\"error\":\"service_unavailable\",\"message\":\"the gateway has "
                               "as many connections open as it takes; try again\"}";
    char answer[512];
    int n = snprintf(answer, sizeof(answer),
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                     "Retry-After: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                     sizeof(body) - 1, body);
    (void)!send(fd, answer, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Out of descriptors (EMFILE/ENFILE), a pending connection would make the listener readable
 * forever and the loop spin: the spare descriptor is given up to accept it, refuse it and
 * close it, then taken again. */
static void
shed_one(gw_thread *th, int listen_fd)
{
    int64_t now = (int64_t)h2o_now(th->loop);
    if (now - th->fd_warned_ms > 10000) {
        th->fd_warned_ms = now;
        np_log_warn("gateway", "out of file descriptors (ulimit -n): refusing new connections "
                               "(lower GATEWAY_MAX_CONNECTIONS or raise the limit)");
    }
    if (th->reserve_fd >= 0) {
        close(th->reserve_fd);
        th->reserve_fd = -1;
    }
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        refuse_fd(fd);
        close(fd);
    }
    th->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* accept_pending takes every connection waiting on listener; until_empty: also while the
 * gateway stops (its last call, so that none is left in the queue to be reset at close). */
static void
accept_pending(gw_thread *th, h2o_socket_t *listener, bool until_empty)
{
    gw_gateway *gw = th->gw;
    for (;;) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL) {
            if (errno == EMFILE || errno == ENFILE) {
                shed_one(th, h2o_socket_get_fd(listener));
            }
            break;
        }
        tracked_conn *tc = NULL;
        if (atomic_fetch_add(&gw->conns_open, 1) >= gw->max_conns ||
            (tc = calloc(1, sizeof(*tc))) == NULL) {
            atomic_fetch_sub(&gw->conns_open, 1);
            refuse_fd(h2o_socket_get_fd(sock));
            h2o_socket_close(sock);
            continue;
        }
        tc->sock = sock;
        tc->gw = gw;
        h2o_linklist_insert(&th->conns, &tc->link);
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = tc;
        h2o_accept(&th->accept, sock);
        if (!until_empty && atomic_load(&th->gw->stopping)) {
            break;
        }
    }
}

static void
on_accept(h2o_socket_t *listener, const char *err)
{
    if (err == NULL) {
        accept_pending(listener->data, listener, false);
    }
}

/* loop_idle tells whether nothing is left on the loop: no connection and no pending timer,
 * so that the context can be disposed. */
static bool
loop_idle(gw_thread *th)
{
    h2o_context_t *c = &th->ctx;
    h2o_timeout_t *timeouts[] = {&c->zero_timeout,
                                 &c->one_sec_timeout,
                                 &c->hundred_ms_timeout,
                                 &c->handshake_timeout,
                                 &c->http1.req_timeout,
                                 &c->http2.idle_timeout,
                                 &c->http2.graceful_shutdown_timeout,
                                 &c->proxy.io_timeout};
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
        if (!h2o_linklist_is_empty(&timeouts[i]->_entries)) {
            return false;
        }
    }
    return h2o_linklist_is_empty(&c->http1._conns) && h2o_linklist_is_empty(&c->http2._conns);
}

/* drain_recycled_buffers frees the socket buffers H2O keeps for reuse in this thread's
 * thread-local list, which would otherwise be lost when the thread ends. In H2O 2.2.5 a
 * recycled chunk's first word links to the next one. */
static void
drain_recycled_buffers(void)
{
    h2o_mem_recycle_t *r = &h2o_socket_buffer_prototype.allocator;
    void *p = r->_link;
    while (p != NULL) {
        void *next = *(void **)p;
        free(p);
        p = next;
    }
    r->_link = NULL;
    r->cnt = 0;
}

/* What thread_init hands its loop thread: the thread posts ready once set up. */
typedef struct {
    gw_thread *th;
    sem_t ready;
} thread_start;

/* set_up makes the thread's loop, context, reply queue and listener on the loop thread itself.
 * H2O 2.2.5 recycles socket buffers in a per-thread list, and a socket takes the list of the
 * thread that created it: queues made on the starting thread had every loop thread popping
 * and pushing that one thread's list without a lock (ThreadSanitizer saw two loops read into
 * one buffer). */
static void
set_up(gw_thread *th)
{
    th->loop = h2o_evloop_create();
    h2o_context_init(&th->ctx, th->loop, &th->gw->h2o);
    h2o_linklist_init_anchor(&th->conns);
    th->queue = h2o_multithread_create_queue(th->loop);
    h2o_multithread_register_receiver(th->queue, &th->replies, gw_on_replies);
    th->accept.ctx = &th->ctx;
    th->accept.hosts = th->gw->h2o.hosts;
    th->listener = h2o_evloop_socket_create(th->loop, th->fd, H2O_SOCKET_FLAG_DONT_READ);
    th->listener->data = th;
    h2o_socket_read_start(th->listener, on_accept);
}

static void thread_fini(gw_thread *th);

static void *
thread_main(void *arg)
{
    thread_start *start = arg;
    gw_thread *th = start->th;
    set_up(th);
    sem_post(&start->ready); /* start is gone after this */
    while (!atomic_load(&th->gw->stopping)) {
        h2o_evloop_run(th->loop, 100);
    }
    /* Stop accepting, then give open connections a moment to finish their requests. The
     * connections already in the listener's queue are taken first: closed with it, the kernel
     * would reset them after a proxy had sent them a request (a 502 behind nginx, which does
     * not send a POST elsewhere once it went out); later ones are refused, which a proxy
     * takes to another gateway. */
    h2o_socket_read_stop(th->listener);
    accept_pending(th, th->listener, true);
    h2o_socket_close(th->listener);
    th->listener = NULL;
    h2o_context_request_shutdown(&th->ctx);
    /* Requests in flight get a moment to finish (the connections just taken a few turns to
     * send theirs); then every remaining connection is shut down at the socket, which H2O
     * sees as the client leaving and cleans up itself. */
    for (int i = 0; i < 4 || (i < 24 && atomic_load(&th->gw->metrics.in_flight) > 0); i++) {
        h2o_evloop_run(th->loop, 50);
    }
    for (h2o_linklist_t *n = th->conns.next; n != &th->conns; n = n->next) {
        tracked_conn *tc = H2O_STRUCT_FROM_MEMBER(tracked_conn, link, n);
        shutdown(h2o_socket_get_fd(tc->sock), SHUT_RDWR);
    }
    for (int i = 0; i < 40 && !loop_idle(th); i++) {
        h2o_evloop_run(th->loop, 50);
    }
    /* Quiet: gw_stop now closes the NNG clients, and the answers of calls still out come back
     * through this loop's queue; it turns until gw_stop has seen them all, then ends its H2O
     * objects on the thread that made them (set_up). */
    atomic_fetch_add(&th->gw->threads_quiet, 1);
    while (!atomic_load(&th->gw->drained)) {
        h2o_evloop_run(th->loop, 10);
    }
    thread_fini(th);
    drain_recycled_buffers();
    return NULL;
}

static int
thread_init(gw_gateway *gw, gw_thread *th, int fd)
{
    th->gw = gw;
    th->fd = fd;
    th->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    np_random_bytes(&th->rng, sizeof(th->rng));
    th->rng |= 1;
    /* returns once the thread has set itself up (set_up), as when this thread did it */
    thread_start start = {.th = th};
    if (sem_init(&start.ready, 0, 0) != 0) {
        return -1;
    }
    int rv = pthread_create(&th->tid, NULL, thread_main, &start);
    while (rv == 0 && sem_wait(&start.ready) != 0 && errno == EINTR) {
    }
    sem_destroy(&start.ready);
    return rv;
}

static void
thread_fini(gw_thread *th)
{
    bool idle = loop_idle(th);
    if (th->reserve_fd >= 0) {
        close(th->reserve_fd);
        th->reserve_fd = -1;
    }
    h2o_multithread_unregister_receiver(th->queue, &th->replies);
    h2o_multithread_destroy_queue(th->queue);
    /* H2O 2.2.5's evloop destroy_queue closes the queue's socket (finished on the next loop
     * turn) but never frees the queue itself. */
    for (int i = 0; i < 3; i++) {
        h2o_evloop_run(th->loop, 1);
    }
    free(th->queue);
    th->queue = NULL;
    if (!idle) {
        /* H2O 2.2 cannot close live connections from outside; the process is exiting, so
         * the loop is left as it is rather than freed under them. */
        np_log_warn("gateway", "connections still open at shutdown");
        return;
    }
    /* h2o_context_dispose destroys the context's own queue the same way: free it too. */
    h2o_multithread_queue_t *ctx_queue = th->ctx.queue;
    h2o_context_dispose(&th->ctx);
    for (int i = 0; i < 3; i++) {
        h2o_evloop_run(th->loop, 1);
    }
    free(ctx_queue);
    h2o_evloop_destroy(th->loop);
}

static np_err
open_clients(gw_gateway *gw, const np_common_settings *cs, char *why, size_t whylen)
{
    static const char *const names[] = {"AUTH_RPC_URL", "POOL_RPC_URL", "AUDIT_RPC_URL",
                                        "HEALTH_RPC_URL"};
    const char *urls[] = {cs->AUTH_RPC_URL, cs->POOL_RPC_URL, cs->AUDIT_RPC_URL,
                          cs->HEALTH_RPC_URL};
    np_rpc_client **slots[] = {&gw->auth, &gw->pool, &gw->audit, &gw->health};
    np_rpc_opts opts = {.recv_max = gw->max_body + (4u << 20), .send_timeout_ms = 1000};
    for (int i = 0; i < 4; i++) {
        np_err err = np_rpc_client_open(slots[i], urls[i], &opts);
        if (err != NP_ERR_OK) {
            snprintf(why, whylen, "%s: cannot dial %s", names[i], urls[i]);
            return err;
        }
    }
    return gw_peers_open(&gw->pools, gw->cfg, cs->POOL_RPC_URL, &opts, why, whylen);
}

/* raise_fd_limit lifts the soft limit on open files towards what GATEWAY_MAX_CONNECTIONS
 * needs (one descriptor a connection plus room for the rest of the process), up to the hard
 * limit, and says so when that is not enough. */
static void
raise_fd_limit(gw_gateway *gw)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }
    rlim_t want = (rlim_t)gw->max_conns + 1024;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < want) {
        np_log_warn("gateway",
                    "ulimit -n is %llu: GATEWAY_MAX_CONNECTIONS=%d needs about %llu; beyond the "
                    "limit new connections are refused (raise ulimit -n or lower the setting)",
                    (unsigned long long)rl.rlim_cur, gw->max_conns, (unsigned long long)want);
    }
}

static void
find_web_dir(gw_gateway *gw, const gw_settings *gs)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", gs->WEB_DIR);
    if (dir[0] == '\0') {
        snprintf(dir, sizeof(dir), "%s", NP_SOURCE_DIR "/web");
        if (access(dir, R_OK) != 0) {
            snprintf(dir, sizeof(dir), "web");
        }
    }
    if (realpath(dir, gw->web_dir) == NULL) {
        snprintf(gw->web_dir, sizeof(gw->web_dir), "%s", dir);
        np_log_warn("gateway", "web folder %s not found: the UI will answer 404", dir);
    }
}

/* wait_for_backends gives the NNG clients up to seconds to connect to auth and to one pool
 * instance before the gateway listens. A gateway that listened at once would take requests
 * (a proxy sends them as soon as the port accepts) that its first second of dialling answers
 * 503 "unavailable"; until it listens, connections are refused and go to another gateway. */
static void
wait_for_backends(gw_gateway *gw, int seconds)
{
    int64_t end = np_now_ms() + (int64_t)seconds * 1000;
    while (np_rpc_client_pipes(gw->auth) == 0 || gw_peers_connected(&gw->pools) == 0) {
        if (np_now_ms() >= end) {
            np_log_warn("gateway", "listening with %s not connected after %d s",
                        np_rpc_client_pipes(gw->auth) == 0 ? "auth" : "no pool instance", seconds);
            return;
        }
        const struct timespec tick = {0, 20 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
}

np_err
gw_start(gw_gateway **out, np_config *cfg, char *why, size_t whylen)
{
    gw_gateway *gw = calloc(1, sizeof(*gw));
    if (gw == NULL) {
        return NP_ERR_NOMEM;
    }
    np_err err = NP_ERR_OK;
    gw->cfg = cfg;
    gw->listen_fd = -1;
    pthread_mutex_init(&gw->ops_mu, NULL);
    /* The gateway's settings never change at run time (it has no database): read once. */
    np_settings *snap = np_config_acquire(cfg);
    const gw_settings *gs = NP_SETTINGS_OF(snap, gw);
    const np_common_settings *cs = np_settings_common(snap);
    gw->metrics_token = strdup(gs->METRICS_TOKEN);
    gw->metrics_cache_ms = (int)gs->METRICS_CACHE_SECONDS * 1000;
    snprintf(gw->node, sizeof(gw->node), "%s", cs->NODE_ID);
    gw->max_body = (size_t)cs->MAX_BODY_BYTES;
    gw->trust_proxy = gs->TRUST_PROXY_HEADERS;
    gw->trusted_proxies = strdup(gs->TRUSTED_PROXIES);
    gw->proxy_hops = (int)gs->TRUSTED_PROXY_HOPS;
    gw->rpc_timeout_ms = (int)cs->RPC_TIMEOUT_MS;
    gw->max_conns = (int)gs->GATEWAY_MAX_CONNECTIONS;
    raise_fd_limit(gw);
    gw->cors_origins = gs->CORS_ALLOW_ORIGINS[0] != '\0' ? strdup(gs->CORS_ALLOW_ORIGINS) : NULL;
    find_web_dir(gw, gs);
    gw->auth_cache = gw_auth_cache_new((int)gs->AUTH_CACHE_TTL_MS, (int)gs->AUTH_CACHE_SLOTS);
    if (gw->auth_cache == NULL) {
        err = NP_ERR_NOMEM;
        goto fail;
    }
    if ((err = open_clients(gw, cs, why, whylen)) != NP_ERR_OK) {
        goto fail;
    }

    h2o_config_init(&gw->h2o);
    gw->h2o.max_request_entity_size = gw->max_body;
    gw->h2o.http1.req_timeout = (uint64_t)gs->HTTP_IDLE_TIMEOUT_SECONDS * 1000;
    gw->h2o.server_name = h2o_iovec_init(H2O_STRLIT("naipool"));
    /* HTTP/1.1 only: H2O 2.2.5's HTTP/2 has no Rapid Reset mitigation. With this off its
     * HTTP/1 reader answers "PRI * HTTP/2.0" (prior knowledge) 400 and ignores
     * "Upgrade: h2c" (lib/http1.c, process_request and handle_incoming_request). */
    gw->h2o.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host =
        h2o_config_register_host(&gw->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = on_req;
    h2o_filter_t *filter = h2o_create_filter(&host->fallback_path, sizeof(*filter));
    filter->on_setup_ostream = on_setup_fallback;

    wait_for_backends(gw, (int)gs->GATEWAY_CONNECT_WAIT_SECONDS);
    char addr[64];
    snprintf(addr, sizeof(addr), "%s", gs->BIND_ADDRESS);
    gw->listen_fd = open_listener(gw, addr, (int)gs->PORT);
    if (gw->listen_fd < 0) {
        snprintf(why, whylen, "PORT: cannot listen on %s:%lld: %s", addr, (long long)gs->PORT,
                 strerror(errno));
        err = NP_ERR_CONFIG;
        goto fail_h2o;
    }
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    getsockname(gw->listen_fd, (struct sockaddr *)&sa, &salen);
    gw->port = ntohs(sa.sin_port);

    int n = (int)gs->GATEWAY_THREADS;
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    gw->threads = calloc((size_t)n, sizeof(gw_thread));
    if (gw->threads == NULL) {
        err = NP_ERR_NOMEM;
        goto fail_h2o;
    }
    for (int i = 0; i < n; i++) {
        int fd = i == 0 ? gw->listen_fd : open_listener(gw, addr, gw->port);
        if (fd < 0 || thread_init(gw, &gw->threads[i], fd) != 0) {
            snprintf(why, whylen, "gateway: cannot start loop thread %d", i);
            err = NP_ERR_SYSTEM;
            break;
        }
        gw->nthreads++;
    }
    if (err != NP_ERR_OK) {
        gw_stop(gw);
        np_settings_release(snap);
        return err;
    }
    if (gw_beat_open(gw, &gw->beat) != NP_ERR_OK) {
        gw->beat = NULL;
        np_log_warn("gateway", "no heartbeat: /admin/nodes will not list this gateway");
    }
    np_log_info("gateway", "listening on http://%s:%d/ with %d loop threads", addr, gw->port,
                gw->nthreads);
    np_settings_release(snap);
    *out = gw;
    return NP_ERR_OK;

fail_h2o:
    if (gw->listen_fd >= 0) {
        close(gw->listen_fd);
    }
    h2o_config_dispose(&gw->h2o);
fail:
    np_rpc_client_close(gw->auth);
    np_rpc_client_close(gw->pool);
    gw_peers_close(&gw->pools);
    np_rpc_client_close(gw->audit);
    np_rpc_client_close(gw->health);
    gw_auth_cache_free(gw->auth_cache);
    free(gw->cors_origins);
    free(gw->trusted_proxies);
    gw_ops_fini(gw);
    free(gw);
    np_settings_release(snap);
    return err;
}

int
gw_port(const gw_gateway *gw)
{
    return gw->port;
}

void
gw_stop(gw_gateway *gw)
{
    if (gw == NULL) {
        return;
    }
    np_heartbeat_close(gw->beat); /* its last call needs the health client */
    atomic_store(&gw->stopping, true);
    const struct timespec tick = {0, 10 * 1000 * 1000};
    while (atomic_load(&gw->threads_quiet) < gw->nthreads) { /* their connections are done */
        nanosleep(&tick, NULL);
    }
    /* Close the NNG clients: outstanding calls complete (with errors) and their messages go
     * to the loops' queues, which the loop threads drain (thread_main). */
    np_rpc_client_close(gw->auth);
    np_rpc_client_close(gw->pool);
    gw_peers_close(&gw->pools);
    np_rpc_client_close(gw->audit);
    np_rpc_client_close(gw->health);
    for (int round = 0; round < 200 && atomic_load(&gw->calls_out) > 0; round++) {
        nanosleep(&tick, NULL);
    }
    atomic_store(&gw->drained, true);
    for (int i = 0; i < gw->nthreads; i++) {
        pthread_join(gw->threads[i].tid, NULL);
    }
    free(gw->threads);
    h2o_config_dispose(&gw->h2o);
    gw_auth_cache_free(gw->auth_cache);
    free(gw->cors_origins);
    free(gw->trusted_proxies);
    gw_ops_fini(gw);
    free(gw);
}
