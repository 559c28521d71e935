/* The rep side of np_rpc: contexts receive, workers handle, replies go back from any thread.
 *
 * State flow of one context (one np_rpc_call):
 *   1. RECV: nng_ctx_recv is pending.
 *   2. on receive: the call is queued for the workers (NNG callbacks never block).
 *   3. a worker parses the envelope and runs the handler; the handler (or whoever it handed
 *      the call to) calls np_rpc_reply.
 *   4. SEND: nng_ctx_send is pending; on its completion the next nng_ctx_recv starts (only
 *      from the send completion: NNG bug #1702).
 *   4'. IDLE: a request that gets no answer (dropped as unauthenticated, or no memory for the
 *      answer) parks the context on a zero-length nng_sleep_aio, whose completion starts the
 *      next nng_ctx_recv: a receive is only ever started from the context's own aio
 *      completion, never from a worker thread.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "np/list.h"
#include "np/log.h"
#include "np/rpc.h"
#include "np/wire_mac.h"

#define CALL_MAGIC 0x52504343u

enum call_state { ST_RECV, ST_WORK, ST_SEND, ST_IDLE };

struct np_rpc_call {
    unsigned magic;
    np_rpc_server *srv;
    nng_ctx ctx;
    nng_aio *aio;
    nng_msg *req;
    np_wire_msg parsed;
    _Atomic int state; /* enum call_state; atomic: a second answer (a programmer error that
                        * np_rpc_reply catches) reads it while NNG's thread moves it on */
    np_list_node link; /* on the work queue */
};

struct np_rpc_server {
    nng_socket sock;
    np_rpc_handler handler;
    void *arg;
    np_rpc_call *calls;
    int ncalls;
    pthread_t *workers;
    int nworkers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    np_list queue; /* of np_rpc_call received and not yet dispatched, FIFO */
    bool closing;
    np_wire_guard *guard; /* INTERNAL_SECRET: unauthenticated requests are dropped, counted */
};

static void
queue_push(np_rpc_server *s, np_rpc_call *c)
{
    pthread_mutex_lock(&s->mu);
    np_list_push_back(&s->queue, &c->link);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void
start_recv(np_rpc_call *c)
{
    c->state = ST_RECV;
    nng_aio_set_timeout(c->aio, NNG_DURATION_INFINITE);
    nng_ctx_recv(c->ctx, c->aio);
}

/* park_recv (any thread): the call will not be answered; its next receive starts from the
 * completion of a zero-length sleep on its own aio (state 4'). */
static void
park_recv(np_rpc_call *c)
{
    c->state = ST_IDLE;
    nng_sleep_aio(0, c->aio);
}

static void
on_aio(void *arg)
{
    np_rpc_call *c = arg;
    int rv = nng_aio_result(c->aio);
    if (c->state == ST_IDLE) {
        if (rv == 0) {
            start_recv(c);
        }
        return; /* NNG_ECANCELED: the server is closing */
    }
    if (c->state == ST_RECV) {
        if (rv != 0) {
            if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
                start_recv(c);
            }
            return;
        }
        c->req = nng_aio_get_msg(c->aio);
        c->state = ST_WORK;
        queue_push(c->srv, c);
        return;
    }
    /* ST_SEND completed */
    if (rv != 0) {
        nng_msg_free(nng_aio_get_msg(c->aio));
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
            return;
        }
    }
    start_recv(c);
}

static void
dispatch(np_rpc_server *s, np_rpc_call *c)
{
    if (np_wire_open(s->guard, c->req) != NP_ERR_OK) {
        /* No answer at all: a caller without the secret learns nothing, not even an error.
         * The context's next receive abandons the request. */
        nng_msg_free(c->req);
        c->req = NULL;
        park_recv(c);
        return;
    }
    np_err err = np_wire_parse(&c->parsed, nng_msg_body(c->req), nng_msg_len(c->req));
    char op[64];
    if (err != NP_ERR_OK || !np_wire_get_cstr(c->parsed.root, "op", op, sizeof(op))) {
        np_rpc_reply_error(c, NP_ERR_WIRE, "malformed request envelope");
        return;
    }
    s->handler(s->arg, c, op, c->parsed.root);
}

static void *
worker_main(void *arg)
{
    np_rpc_server *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (np_list_empty(&s->queue) && !s->closing) {
            pthread_cond_wait(&s->cv, &s->mu);
        }
        np_rpc_call *c = NP_LIST_ENTRY(np_list_pop_front(&s->queue), np_rpc_call, link);
        if (c == NULL) {
            break;
        }
        pthread_mutex_unlock(&s->mu);
        dispatch(s, c);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void
send_bytes(np_rpc_call *c, const void *p, size_t n)
{
    nng_msg *msg;
    np_wire_msg_fini(&c->parsed);
    nng_msg_free(c->req);
    c->req = NULL;
    if (nng_msg_alloc(&msg, 0) != 0 || nng_msg_append(msg, p, n) != 0 ||
        np_wire_seal(msg) != NP_ERR_OK) {
        /* Without memory there is no answer to give; the client's deadline fires. */
        nng_msg_free(msg);
        park_recv(c);
        return;
    }
    c->state = ST_SEND;
    nng_aio_set_msg(c->aio, msg);
    nng_aio_set_timeout(c->aio, 5000);
    nng_ctx_send(c->ctx, c->aio);
}

void
np_rpc_reply(np_rpc_call *c, const np_wire_writer *w)
{
    if (c->magic != CALL_MAGIC || c->state != ST_WORK) {
        /* A call answered twice or a stray pointer: a programmer error. Debug and test
         * builds stop here to show it; a release build must not let a request that reaches
         * such a path crash the service, so the second answer is logged and dropped. */
#ifndef NDEBUG
        abort();
#else
        np_log_error("rpc", "a second answer to one call was dropped (a programmer error)");
        return;
#endif
    }
    send_bytes(c, w->sbuf.data, w->sbuf.size);
}

void
np_rpc_reply_error(np_rpc_call *c, np_err err, const char *message)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_error(&w, err, message);
    np_rpc_reply(c, &w);
    np_wire_writer_fini(&w);
}

static int
listen_all(nng_socket sock, const char *urls)
{
    char *copy = strdup(urls);
    if (copy == NULL) {
        return NNG_ENOMEM;
    }
    int rv = 0;
    char *save = NULL;
    for (char *u = strtok_r(copy, ",", &save); u != NULL && rv == 0;
         u = strtok_r(NULL, ",", &save)) {
        rv = nng_listen(sock, u, NULL, 0);
        if (rv != 0) {
            np_log_error("rpc", "cannot listen on %s: %s", u, nng_strerror(rv));
        }
    }
    free(copy);
    return rv;
}

np_err
np_rpc_server_open(np_rpc_server **out, const char *url, const np_rpc_opts *opts,
                   np_rpc_handler handler, void *arg)
{
    np_rpc_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NP_ERR_NOMEM;
    }
    s->handler = handler;
    s->arg = arg;
    s->guard = np_wire_guard_new();
    if (s->guard == NULL) {
        free(s);
        return NP_ERR_NOMEM;
    }
    s->ncalls = opts && opts->contexts ? opts->contexts : 64;
    s->nworkers = opts && opts->workers ? opts->workers : 4;
    size_t recv_max = opts && opts->recv_max ? opts->recv_max : (1u << 20);
    np_list_init(&s->queue);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    int rv = nng_rep0_open(&s->sock);
    if (rv != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        np_wire_guard_free(s->guard);
        free(s);
        return np_err_from_nng(rv);
    }
    nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, recv_max);
    s->calls = calloc((size_t)s->ncalls, sizeof(np_rpc_call));
    s->workers = calloc((size_t)s->nworkers, sizeof(pthread_t));
    if (s->calls == NULL || s->workers == NULL) {
        rv = NNG_ENOMEM;
    }
    int opened = 0;
    for (; rv == 0 && opened < s->ncalls; opened++) {
        np_rpc_call *c = &s->calls[opened];
        c->magic = CALL_MAGIC;
        c->srv = s;
        msgpack_unpacked_init(&c->parsed.up);
        rv = nng_aio_alloc(&c->aio, on_aio, c);
        if (rv == 0 && (rv = nng_ctx_open(&c->ctx, s->sock)) != 0) {
            nng_aio_free(c->aio);
            c->aio = NULL;
        }
        if (rv != 0) {
            break;
        }
    }
    if (rv == 0) {
        rv = listen_all(s->sock, url);
    }
    if (rv != 0) {
        nng_close(s->sock);
        for (int i = 0; i < opened; i++) {
            nng_aio_free(s->calls[i].aio);
            msgpack_unpacked_destroy(&s->calls[i].parsed.up);
        }
        free(s->calls);
        free(s->workers);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        np_wire_guard_free(s->guard);
        free(s);
        return np_err_from_nng(rv);
    }
    /* Published before the first request can arrive: a handler may read it (the metrics
     * reply reads np_rpc_server_dropped of the service's server). */
    *out = s;
    for (int i = 0; i < s->nworkers; i++) {
        pthread_create(&s->workers[i], NULL, worker_main, s);
    }
    for (int i = 0; i < s->ncalls; i++) {
        start_recv(&s->calls[i]);
    }
    return NP_ERR_OK;
}

void
np_rpc_server_close(np_rpc_server *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nworkers; i++) {
        pthread_join(s->workers[i], NULL);
    }
    /* Calls still queued were never dispatched: drop them. */
    NP_LIST_FOREACH(&s->queue, n)
    {
        np_rpc_call *c = NP_CONTAINER_OF(n, np_rpc_call, link);
        nng_msg_free(c->req);
        c->req = NULL;
    }
    nng_close(s->sock);
    for (int i = 0; i < s->ncalls; i++) {
        nng_aio_stop(s->calls[i].aio);
    }
    for (int i = 0; i < s->ncalls; i++) {
        np_rpc_call *c = &s->calls[i];
        nng_aio_free(c->aio);
        np_wire_msg_fini(&c->parsed);
        nng_msg_free(c->req);
        c->magic = 0;
    }
    free(s->calls);
    free(s->workers);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    np_wire_guard_free(s->guard);
    free(s);
}

uint64_t
np_rpc_server_dropped(np_rpc_server *s)
{
    return s != NULL ? np_wire_guard_dropped(s->guard) : 0;
}
