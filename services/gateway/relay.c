/* The relay, gateway side.
 *
 * The messages are np/relaymsg.h's. State flow of one relayed request:
 *   1. authorize; send relay.open {m, p, q, b, h, ip, rid, u}.
 *   2. answer {s, h, b, more, sid}: without more, a whole response; with more, start a
 *      streamed response and send the first chunk.
 *   3. H2O calls proceed when the chunk is written: send relay.next {sid}; its answer
 *      {b, more} is sent on; repeat until more is false (the final chunk).
 *   4. the client leaves before the final chunk: relay.cancel {sid}, fire and forget, once
 *      no relay.next is out. It leaves while relay.open is still out (queued for a key, or a
 *      transfer not answered yet): relay.abort {rid} to the same instance, fire and forget.
 * The stream record is shared by the request and the call that is out; whichever of the two
 * ends last frees it. */
#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "auth.h"
#include "call.h"
#include "clientip.h"
#include "forward.h"
#include "np/log.h"
#include "np/relaymsg.h"
#include "respond.h"
#include "settings.h"

#define RELAY_PREFIX "/v1/novelai"

typedef struct {
    h2o_generator_t gen; /* first: H2O hands it back to proceed and stop */
    gw_gateway *gw;
    gw_peer *peer; /* the instance that holds the stream (lent until the record ends) */
    int64_t sid;
    char *chunk;   /* what H2O is writing; must live until proceed */
    bool call_out; /* a relay.next is out */
    bool finished; /* the final chunk (or an error) was sent */
    bool req_gone; /* the request's pool was disposed */
} relay_stream;

static void
on_cancel_done(void *arg, np_err err, nng_msg *reply)
{
    (void)arg;
    (void)err;
    nng_msg_free(reply);
}

static void
send_cancel(np_rpc_client *pool, int64_t sid)
{
    np_relay_sid s = {.sid = sid};
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_relay_cancel_write(&w, &s);
    np_rpc_client_call_async(pool, &w, 2000, on_cancel_done, NULL);
    np_wire_writer_fini(&w);
}

static void
release(relay_stream *st)
{
    if (st->call_out || !st->req_gone) {
        return;
    }
    if (!st->finished) {
        send_cancel(gw_peer_client(st->peer), st->sid);
    }
    gw_peers_put(&st->gw->pools, st->peer);
    free(st->chunk);
    free(st);
}

static void
on_req_dispose(void *p)
{
    relay_stream *st = *(relay_stream **)p;
    st->req_gone = true;
    release(st);
}

static void
send_chunk(relay_stream *st, h2o_req_t *req, const void *data, size_t len, bool more)
{
    free(st->chunk);
    st->chunk = malloc(len ? len : 1);
    if (st->chunk == NULL) {
        st->finished = true;
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    if (len > 0) {
        memcpy(st->chunk, data, len);
    }
    st->finished = !more;
    h2o_iovec_t buf = h2o_iovec_init(st->chunk, len);
    h2o_send(req, &buf, 1, more ? H2O_SEND_STATE_IN_PROGRESS : H2O_SEND_STATE_FINAL);
}

static void
on_next(gw_call *call)
{
    relay_stream *st = call->data;
    st->call_out = false;
    np_relay_chunk c;
    if (call->err != NP_ERR_OK || np_relay_chunk_read(call->msg.root, false, &c) != NP_ERR_OK ||
        c.err != NP_ERR_OK) {
        /* The status line is gone already: end the body early; the client sees a
         * truncated transfer. */
        np_log_write(NP_LOG_WARN, "gateway", call->r->rid,
                     "relay stream %lld broke: %s (client request id \"%s\")", (long long)st->sid,
                     np_err_message(call->err), call->r->client_rid);
        st->finished = true;
        h2o_send(call->r->req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    send_chunk(st, call->r->req, c.data, c.len, c.more);
}

static void
on_next_gone(gw_call *call)
{
    relay_stream *st = call->data;
    st->call_out = false;
    release(st);
}

static void
on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    relay_stream *st = (relay_stream *)gen;
    gw_request *r = *(gw_request **)(st + 1);
    (void)req;
    if (st->finished) {
        return;
    }
    gw_call *call = gw_call_new(r, on_next, on_next_gone, st);
    if (call == NULL) {
        st->finished = true;
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    st->call_out = true;
    np_relay_sid s = {.sid = st->sid};
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_relay_next_write(&w, &s);
    gw_call_start(call, gw_peer_client(st->peer), &w,
                  (int)NP_SETTING_NOW(st->gw->cfg, gw, RELAY_TIMEOUT_MS));
    np_wire_writer_fini(&w);
}

static void
on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    /* The pool's dispose callback does the clean-up; nothing to do before it. */
    (void)gen;
    (void)req;
}

/* start_stream takes over peer (lent by the open). */
static void
start_stream(gw_request *r, gw_peer *peer, int64_t sid, const void *data, size_t len)
{
    /* The record and a back pointer to r travel together: proceed needs r. */
    relay_stream *st = calloc(1, sizeof(*st) + sizeof(gw_request *));
    if (st == NULL) {
        send_cancel(gw_peer_client(peer), sid);
        gw_peers_put(&r->th->gw->pools, peer);
        gw_respond_err(r, NP_ERR_NOMEM, NULL);
        return;
    }
    *(gw_request **)(st + 1) = r;
    st->gen.proceed = on_proceed;
    st->gen.stop = on_stop;
    st->gw = r->th->gw;
    st->peer = peer;
    st->sid = sid;
    relay_stream **guard = h2o_mem_alloc_shared(&r->req->pool, sizeof(*guard), on_req_dispose);
    *guard = st;
    h2o_start_response(r->req, &st->gen);
    send_chunk(st, r->req, data, len, true);
}

/* An open in flight: the instance asked, the request kept for one more try elsewhere when
 * that instance took nothing (NP_ERR_UNAVAILABLE: no instance took it within the send
 * deadline, so it surely did not run), and how many instances were tried. */
typedef struct open_ctx open_ctx;

/* Lives in the request's pool: tells an open still out that its client left. */
typedef struct {
    open_ctx *o; /* NULL once the open was answered */
} open_guard;

struct open_ctx {
    gw_peer *peer;
    gw_principal who; /* for each try's envelope */
    char ip[64];
    int tries;
    char rid[64];             /* the gateway's id of the request */
    int64_t uid;              /* its user: relay.abort names both */
    open_guard *guard;        /* NULL once the request is gone */
    gw_request *r;            /* valid while guard is not NULL */
    h2o_timeout_entry_t peek; /* looks at the client's socket once a second */
    bool aborted;             /* relay.abort was sent */
};

static void
send_abort(np_rpc_client *pool, const char *rid, int64_t uid)
{
    np_relay_abort a = {.user_id = uid};
    snprintf(a.rid, sizeof(a.rid), "%s", rid);
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_relay_abort_write(&w, &a);
    np_rpc_client_call_async(pool, &w, 2000, on_cancel_done, NULL);
    np_wire_writer_fini(&w);
}

/* The request's pool is disposed: with the open still out, its client left before the
 * answer (on_open_gone frees o when the answer comes). */
static void
on_open_guard_dispose(void *p)
{
    open_guard *g = p;
    if (g->o != NULL) {
        open_ctx *o = g->o;
        o->guard = NULL;
        o->r = NULL;
        if (h2o_timeout_is_linked(&o->peek)) {
            h2o_timeout_unlink(&o->peek);
        }
        if (!o->aborted) {
            o->aborted = true;
            send_abort(gw_peer_client(o->peer), o->rid, o->uid);
        }
        g->o = NULL;
    }
}

/* client_gone peeks at the client's socket without taking anything from it: H2O 2.2 stops
 * reading an HTTP/1.1 connection while its request is handled, so a client that closes is
 * only noticed at the next write; a request waiting for a key may not write for a minute. */
static bool
client_gone(h2o_req_t *req)
{
    if (req->conn->callbacks->get_socket == NULL) {
        return false;
    }
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL) {
        return false;
    }
    char c;
    ssize_t n = recv(h2o_socket_get_fd(sock), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void
on_peek(h2o_timeout_entry_t *entry)
{
    open_ctx *o = H2O_STRUCT_FROM_MEMBER(open_ctx, peek, entry);
    if (o->r == NULL || o->aborted) {
        return;
    }
    if (client_gone(o->r->req)) {
        o->aborted = true;
        send_abort(gw_peer_client(o->peer), o->rid, o->uid);
        return;
    }
    h2o_timeout_link(o->r->th->loop, &o->r->th->ctx.one_sec_timeout, &o->peek);
}

static void
open_ctx_free(gw_gateway *gw, open_ctx *o, bool keep_peer)
{
    if (o->guard != NULL) {
        o->guard->o = NULL; /* answered: nothing to abort */
    }
    if (h2o_timeout_is_linked(&o->peek)) {
        h2o_timeout_unlink(&o->peek);
    }
    if (!keep_peer) {
        gw_peers_put(&gw->pools, o->peer);
    }
    free(o);
}

static void on_open(gw_call *call);
static void on_open_gone(gw_call *call);

/* relay_path_start: where the NovelAI path begins in req's path of plen bytes. A client whose
 * base URL ends in a slash (".../v1/novelai/") sends "//ai/...": the path starts at the last of
 * the leading slashes. Nothing else in the path is rewritten. */
static size_t
relay_path_start(const h2o_req_t *req, size_t plen)
{
    size_t skip = strlen(RELAY_PREFIX);
    while (skip + 1 < plen && req->path.base[skip] == '/' && req->path.base[skip + 1] == '/') {
        skip++;
    }
    return skip;
}

/* write_open writes the relay.open envelope of r into w (send_open checked the path): the
 * request headers of the contract's list, in the client's order. */
static void
write_open(np_wire_writer *w, gw_request *r, const open_ctx *o)
{
    h2o_req_t *req = r->req;
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    size_t skip = relay_path_start(req, plen);
    np_relay_open m = {
        .method = req->method.base,
        .method_len = req->method.len,
        .path = req->path.base + skip,
        .path_len = plen - skip,
        .body = req->entity.base,
        .body_len = req->entity.base ? req->entity.len : 0,
        .user_id = o->who.user_id,
        .relay_key_id = o->who.relay_key_id,
    };
    if (req->query_at != SIZE_MAX) {
        m.query = req->path.base + plen + 1;
        m.query_len = req->path.len - plen - 1;
    }
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        int id = np_relay_req_header_id(h->name->base, h->name->len);
        if (id >= 0) {
            (void)np_relay_open_add_header(&m, id, h->value.base, h->value.len);
        }
    }
    snprintf(m.ip, sizeof(m.ip), "%s", o->ip);
    snprintf(m.rid, sizeof(m.rid), "%s", r->rid);
    snprintf(m.role, sizeof(m.role), "%s", o->who.role);
    np_relay_open_write(w, &m);
}

/* apply_headers adds the pool's response headers to r's response. */
static void
apply_headers(gw_request *r, const np_relay_chunk *c)
{
    for (int i = 0; i < c->nh; i++) {
        gw_add_header(r, np_relay_res_headers[c->h[i].name], c->h[i].value, c->h[i].len);
    }
}

/* open_start sends o's request to its instance; on_open answers. The envelope is written
 * for each try and freed once NNG has its message: while the open waits for a key the
 * gateway holds the body twice at most (H2O's and, until it is sent, NNG's), not three
 * times. */
static void
open_start(gw_request *r, open_ctx *o)
{
    gw_gateway *gw = r->th->gw;
    gw_call *call = gw_call_new(r, on_open, on_open_gone, o);
    if (call == NULL) {
        open_ctx_free(gw, o, false);
        gw_respond_err(r, NP_ERR_NOMEM, NULL);
        return;
    }
    o->tries++;
    np_wire_writer w;
    np_wire_writer_init(&w);
    write_open(&w, r, o);
    gw_call_start(call, gw_peer_client(o->peer), &w,
                  (int)NP_SETTING_NOW(gw->cfg, gw, RELAY_TIMEOUT_MS));
    np_wire_writer_fini(&w);
}

static void
on_open(gw_call *call)
{
    gw_request *r = call->r;
    gw_gateway *gw = r->th->gw;
    open_ctx *o = call->data;
    if (call->err == NP_ERR_UNAVAILABLE && o->tries < gw_peers_count(&gw->pools)) {
        gw_peer *next = gw_peers_get(&gw->pools, o->peer);
        if (next != NULL && next != o->peer) {
            gw_peers_put(&gw->pools, o->peer);
            o->peer = next;
            open_start(r, o);
            return;
        }
        gw_peers_put(&gw->pools, next);
    }
    if (call->err != NP_ERR_OK) {
        open_ctx_free(gw, o, false);
        gw_respond_err(r, call->err == NP_ERR_TIMEOUT ? NP_ERR_UPSTREAM_TIMEOUT : NP_ERR_UPSTREAM,
                       call->err == NP_ERR_TIMEOUT ? "the pool did not answer in time"
                                                   : "the pool service is unavailable");
        return;
    }
    np_relay_chunk c;
    if (np_relay_chunk_read(call->msg.root, true, &c) != NP_ERR_OK) {
        open_ctx_free(gw, o, false);
        gw_respond_err(r, NP_ERR_WIRE, NULL);
        return;
    }
    if (c.err != NP_ERR_OK) {
        /* a message too long for the answer gives way to the error's own */
        char message[256] = "";
        if (c.message_len < sizeof(message)) {
            snprintf(message, sizeof(message), "%.*s", (int)c.message_len, c.message);
        }
        open_ctx_free(gw, o, false);
        apply_headers(r, &c);
        gw_respond_err(r, c.err, message);
        return;
    }
    h2o_req_t *req = r->req;
    req->res.status = c.status;
    req->res.reason = gw_status_reason(c.status);
    gw_common_headers(r);
    apply_headers(r, &c);
    gw_observe(r, c.status);
    if (!c.more) {
        open_ctx_free(gw, o, false);
        req->res.content_length = c.len;
        h2o_send_inline(req, c.len ? c.data : "", c.len);
        return;
    }
    gw_peer *peer = o->peer;
    open_ctx_free(gw, o, true); /* the stream takes the instance over */
    start_stream(r, peer, c.sid, c.data, c.len);
}

static void
on_open_gone(gw_call *call)
{
    /* The client left before the answer: a stream that was opened must be cancelled. */
    open_ctx *o = call->data;
    np_relay_chunk c;
    if (call->err == NP_ERR_OK && np_relay_chunk_read(call->msg.root, true, &c) == NP_ERR_OK &&
        c.err == NP_ERR_OK && c.more) {
        send_cancel(gw_peer_client(o->peer), c.sid);
    }
    open_ctx_free(call->th->gw, o, false);
}

static void
send_open(gw_request *r, const gw_route *route, const void *principal)
{
    const gw_principal *p = principal;
    h2o_req_t *req = r->req;
    (void)route;
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    size_t skip = relay_path_start(req, plen);
    size_t qlen = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
    if (plen - skip > NP_RELAY_PATH_MAX || qlen > NP_RELAY_QUERY_MAX) {
        gw_respond_err(r, NP_ERR_URI_TOO_LONG, NULL);
        return;
    }
    char ip[64];
    gw_client_ip(r, ip, sizeof(ip));
    gw_gateway *gw = r->th->gw;
    open_ctx *o = calloc(1, sizeof(*o));
    if (o == NULL || (o->peer = gw_peers_get(&gw->pools, NULL)) == NULL) {
        free(o);
        gw_respond_err(r, NP_ERR_UNAVAILABLE, "no pool instance is known");
        return;
    }
    snprintf(o->rid, sizeof(o->rid), "%s", r->rid);
    o->uid = p->user_id;
    o->guard = h2o_mem_alloc_shared(&req->pool, sizeof(*o->guard), on_open_guard_dispose);
    o->guard->o = o;
    o->r = r;
    o->peek.cb = on_peek;
    h2o_timeout_link(r->th->loop, &r->th->ctx.one_sec_timeout, &o->peek);
    o->who = *p;
    snprintf(o->ip, sizeof(o->ip), "%s", ip);
    open_start(r, o);
}

void
gw_relay(gw_request *r, const gw_route *route)
{
    gw_authorize(r, route, send_open);
}
