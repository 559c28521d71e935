/* The req side of np_rpc.
 *
 * State flow of one asynchronous call:
 *   1. SEND: nng_ctx_send with the short send deadline (no peer: fail fast).
 *   2. RECV: started from the send completion, with the caller's deadline.
 *   3. done(arg, err, reply) runs once; the aio is reaped (it cannot be freed from its own
 *      callback) and the context closed.
 *
 * With resends off, NNG 1.5.2 fails a request whose connection breaks before the answer
 * (NP_ERR_PEER_LOST here) rather than sending it again to the next peer, which could run it
 * twice; rpc_test.c pins that behaviour.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/transport/tcp/tcp.h>

#include "np/dialset.h"
#include "np/log.h"
#include "np/rpc.h"
#include "np/wire_mac.h"

struct np_rpc_client {
    nng_socket sock;
    np_dialset *dials; /* every instance behind the address, followed as they come and go */
    int send_timeout_ms;
    np_wire_guard *guard; /* answers must carry a valid INTERNAL_SECRET MAC */
    atomic_int pipes;     /* live connections (pipe notifications) */
};

/* on_pipe counts the socket's live connections: a peer that died has none. */
static void
on_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    (void)pipe;
    np_rpc_client *c = arg;
    atomic_fetch_add(&c->pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

int
np_rpc_client_pipes(np_rpc_client *c)
{
    return atomic_load(&c->pipes);
}

/* tune_dialer sets each new dialer's options: keepalive on tcp, quick reconnects. */
static void
tune_dialer(nng_dialer d, const char *url)
{
    if (strncmp(url, "tcp", 3) == 0) {
        nng_dialer_set_bool(d, NNG_OPT_TCP_KEEPALIVE, true);
        nng_dialer_set_bool(d, NNG_OPT_TCP_NODELAY, true);
    }
    nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, 50);
    nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, 2000);
}

np_err
np_rpc_client_open(np_rpc_client **out, const char *url, const np_rpc_opts *opts)
{
    np_rpc_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NP_ERR_NOMEM;
    }
    c->send_timeout_ms = opts && opts->send_timeout_ms ? opts->send_timeout_ms : 1000;
    size_t recv_max = opts && opts->recv_max ? opts->recv_max : (1u << 20);
    c->guard = np_wire_guard_new();
    int rv = c->guard == NULL ? NNG_ENOMEM : nng_req0_open(&c->sock);
    if (rv != 0) {
        np_wire_guard_free(c->guard);
        free(c);
        return np_err_from_nng(rv);
    }
    atomic_init(&c->pipes, 0);
    nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, on_pipe, c);
    nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, on_pipe, c);
    /* A dead peer must not make a request run twice: no resend, ever. */
    nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, recv_max);
    int resolve = opts && opts->resolve_seconds ? opts->resolve_seconds : 10;
    np_err err = np_dialset_open(&c->dials, c->sock, url, resolve < 0 ? 0 : resolve, tune_dialer);
    if (err != NP_ERR_OK) {
        nng_close(c->sock);
        np_wire_guard_free(c->guard);
        free(c);
        return err;
    }
    *out = c;
    return NP_ERR_OK;
}

void
np_rpc_client_close(np_rpc_client *c)
{
    if (c == NULL) {
        return;
    }
    np_dialset_close(c->dials); /* no new dialers while the socket closes */
    nng_close(c->sock);
    np_wire_guard_free(c->guard);
    free(c);
}

static np_err
make_msg(const np_wire_writer *req, nng_msg **out)
{
    nng_msg *msg;
    if (nng_msg_alloc(&msg, 0) != 0) {
        return NP_ERR_NOMEM;
    }
    if (nng_msg_append(msg, req->sbuf.data, req->sbuf.size) != 0 ||
        np_wire_seal(msg) != NP_ERR_OK) {
        nng_msg_free(msg);
        return NP_ERR_NOMEM;
    }
    *out = msg;
    return NP_ERR_OK;
}

np_err
np_rpc_client_call(np_rpc_client *c, const np_wire_writer *req, int timeout_ms, nng_msg **reply)
{
    nng_ctx ctx;
    nng_aio *aio;
    nng_msg *msg;
    np_err err = make_msg(req, &msg);
    if (err != NP_ERR_OK) {
        return err;
    }
    int rv = nng_aio_alloc(&aio, NULL, NULL);
    if (rv != 0) {
        nng_msg_free(msg);
        return np_err_from_nng(rv);
    }
    rv = nng_ctx_open(&ctx, c->sock);
    if (rv != 0) {
        nng_aio_free(aio);
        nng_msg_free(msg);
        return np_err_from_nng(rv);
    }
    nng_aio_set_msg(aio, msg);
    nng_aio_set_timeout(aio, c->send_timeout_ms);
    nng_ctx_send(ctx, aio);
    nng_aio_wait(aio);
    rv = nng_aio_result(aio);
    if (rv != 0) {
        nng_msg_free(msg); /* not sent: still ours */
        err = rv == NNG_ETIMEDOUT ? NP_ERR_UNAVAILABLE : np_err_from_nng(rv);
        goto out;
    }
    nng_aio_set_timeout(aio, timeout_ms);
    nng_ctx_recv(ctx, aio);
    nng_aio_wait(aio);
    rv = nng_aio_result(aio);
    if (rv != 0) {
        err = rv == NNG_ETIMEDOUT ? NP_ERR_TIMEOUT : NP_ERR_PEER_LOST;
        goto out;
    }
    *reply = nng_aio_get_msg(aio);
    if (np_wire_open(c->guard, *reply) != NP_ERR_OK) {
        nng_msg_free(*reply);
        *reply = NULL;
        err = NP_ERR_PEER_LOST; /* an answer nobody with the secret wrote */
    }
out:
    nng_ctx_close(ctx);
    nng_aio_free(aio);
    return err;
}

typedef struct {
    np_rpc_client *client;
    nng_ctx ctx;
    nng_aio *aio;
    nng_msg *msg;
    int timeout_ms;
    bool sent;
    np_rpc_done done;
    void *arg;
} async_call;

/* finish ends an async call. After NNG_ECLOSED the socket is closing and closes its contexts
 * itself: closing ours as well races with the socket's teardown (NNG 1.5.2 panicked on a freed
 * mutex in nng_ctx_close when a client closed with calls outstanding). */
static void
finish(async_call *a, np_err err, nng_msg *reply)
{
    np_rpc_done done = a->done;
    void *arg = a->arg;
    if (nng_aio_result(a->aio) != NNG_ECLOSED) {
        nng_ctx_close(a->ctx);
    }
    nng_aio_reap(a->aio);
    free(a);
    done(arg, err, reply);
}

static void
on_async(void *arg)
{
    async_call *a = arg;
    int rv = nng_aio_result(a->aio);
    if (!a->sent) {
        if (rv != 0) {
            nng_msg_free(a->msg);
            finish(a, rv == NNG_ETIMEDOUT ? NP_ERR_UNAVAILABLE : np_err_from_nng(rv), NULL);
            return;
        }
        a->sent = true;
        nng_aio_set_timeout(a->aio, a->timeout_ms);
        nng_ctx_recv(a->ctx, a->aio);
        return;
    }
    if (rv != 0) {
        /* Sent, then lost: the peer may have acted on it, so this is not "unavailable". */
        finish(a, rv == NNG_ETIMEDOUT ? NP_ERR_TIMEOUT : NP_ERR_PEER_LOST, NULL);
        return;
    }
    nng_msg *reply = nng_aio_get_msg(a->aio);
    if (np_wire_open(a->client->guard, reply) != NP_ERR_OK) {
        nng_msg_free(reply);
        finish(a, NP_ERR_PEER_LOST, NULL);
        return;
    }
    finish(a, NP_ERR_OK, reply);
}

np_err
np_rpc_client_call_async(np_rpc_client *c, const np_wire_writer *req, int timeout_ms,
                         np_rpc_done done, void *arg)
{
    async_call *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return NP_ERR_NOMEM;
    }
    np_err err = make_msg(req, &a->msg);
    if (err != NP_ERR_OK) {
        free(a);
        return err;
    }
    int rv = nng_aio_alloc(&a->aio, on_async, a);
    if (rv == 0 && (rv = nng_ctx_open(&a->ctx, c->sock)) != 0) {
        nng_aio_free(a->aio);
    }
    if (rv != 0) {
        nng_msg_free(a->msg);
        free(a);
        return np_err_from_nng(rv);
    }
    a->client = c;
    a->timeout_ms = timeout_ms;
    a->done = done;
    a->arg = arg;
    nng_aio_set_msg(a->aio, a->msg);
    nng_aio_set_timeout(a->aio, c->send_timeout_ms);
    nng_ctx_send(a->ctx, a->aio);
    return NP_ERR_OK;
}
