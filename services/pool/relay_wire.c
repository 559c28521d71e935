/* Every read and write of the relay's messages (relay.open, relay.next, relay.cancel,
 * relay.abort and their answers), through the shared contract np/relaymsg.h; nothing else in
 * the relay touches msgpack. */
#include "relay_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/relaymsg.h"

void
relay_hdr_add(hdrs *h, np_relay_resh name, const char *value)
{
    if (h->n < NP_RELAY_RESH_COUNT && value != NULL && value[0] != '\0') {
        h->name[h->n] = name;
        snprintf(h->value[h->n], sizeof(h->value[h->n]), "%s", value);
        h->n++;
    }
}

void
relay_hdr_rate(hdrs *h, const pool_rate_result *r)
{
    char v[32];
    if (r->limit <= 0) {
        return;
    }
    snprintf(v, sizeof(v), "%lld", (long long)r->limit);
    relay_hdr_add(h, NP_RELAY_RESH_RATELIMIT_LIMIT, v);
    snprintf(v, sizeof(v), "%lld", (long long)r->remaining);
    relay_hdr_add(h, NP_RELAY_RESH_RATELIMIT_REMAINING, v);
    snprintf(v, sizeof(v), "%lld", (long long)r->reset_s);
    relay_hdr_add(h, NP_RELAY_RESH_RATELIMIT_RESET, v);
}

/* reply answers call with c as relay.open's answer (first) or relay.next's. */
static void
reply(np_rpc_call *call, const np_relay_chunk *c, bool first)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_relay_chunk_write(&w, c, first);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

static void
add_headers(np_relay_chunk *c, const hdrs *h)
{
    for (int i = 0; i < h->n; i++) {
        (void)np_relay_chunk_add_header(c, h->name[i], h->value[i]);
    }
}

void
relay_reply_error_h(np_rpc_call *call, np_err err, const char *message, const hdrs *h)
{
    np_relay_chunk c = {
        .err = err,
        .message = message,
        .message_len = message != NULL ? strlen(message) : 0,
    };
    add_headers(&c, h);
    reply(call, &c, true);
}

/* The length snprintf would give a string cut to max bytes with its NUL. */
static size_t
cut_len(int n, size_t max)
{
    return n < 0 ? 0 : (size_t)n < max ? (size_t)n : max - 1;
}

/* Reads the envelope into q: the request headers of the contract's list, the first four of
 * them as upstream header lines (ctype: the last Content-Type among those). The path and the
 * lines share one allocation of their real lengths (q->strs), cut as the bounds say. */
np_err
relay_read_envelope(rreq *q, const msgpack_object *req, const void **body, size_t *blen,
                    const char **query, size_t *qlen, char *ctype, size_t ctlen, char *why,
                    size_t whylen)
{
    np_relay_open o;
    if (np_relay_open_read(req, &o) != NP_ERR_OK) {
        snprintf(why, whylen, "malformed relay.open envelope");
        return NP_ERR_WIRE;
    }
    int nh = o.nh < RREQ_HDR_LINES ? o.nh : RREQ_HDR_LINES;
    size_t plen = cut_len(snprintf(NULL, 0, "%.*s", (int)o.path_len, o.path), RREQ_PATH_MAX);
    size_t hlen[RREQ_HDR_LINES];
    size_t total = plen + 1;
    for (int i = 0; i < nh; i++) {
        const np_relay_hdr *h = &o.h[i];
        hlen[i] = cut_len(
            snprintf(NULL, 0, "%s: %.*s", np_relay_req_headers[h->name], (int)h->len, h->value),
            RREQ_HDR_LINE_MAX);
        total += hlen[i] + 1;
    }
    free(q->strs);
    q->strs = malloc(total);
    if (q->strs == NULL) {
        q->path = "";
        q->hdr_ptrs[0] = NULL;
        snprintf(why, whylen, "out of memory");
        return NP_ERR_NOMEM;
    }
    char *p = q->strs;
    snprintf(p, plen + 1, "%.*s", (int)o.path_len, o.path);
    q->path = p;
    p += plen + 1;
    snprintf(q->method, sizeof(q->method), "%.*s", (int)o.method_len, o.method);
    snprintf(q->ip, sizeof(q->ip), "%s", o.ip);
    snprintf(q->rid, sizeof(q->rid), "%s", o.rid);
    q->uid = o.user_id;
    q->kid = o.relay_key_id;
    *query = o.query != NULL ? o.query : "";
    *qlen = o.query_len;
    *body = o.body;
    *blen = o.body_len;
    q->route = pool_route_find(q->method, q->path);
    ctype[0] = '\0';
    for (int i = 0; i < nh; i++) {
        const np_relay_hdr *h = &o.h[i];
        snprintf(p, hlen[i] + 1, "%s: %.*s", np_relay_req_headers[h->name], (int)h->len, h->value);
        q->hdr_ptrs[i] = p;
        p += hlen[i] + 1;
        if (h->name == NP_RELAY_REQH_CONTENT_TYPE) {
            snprintf(ctype, ctlen, "%.*s", (int)h->len, h->value);
        }
    }
    q->hdr_ptrs[nh] = NULL;
    return NP_ERR_OK;
}

void
relay_reply_empty(np_rpc_call *call)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_relay_done_write(&w);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

void
relay_wire_open(np_rpc_call *call, int status, const hdrs *h, const void *b, size_t n, bool more,
                int64_t sid)
{
    np_relay_chunk c = {.status = status, .data = b, .len = n, .more = more, .sid = sid};
    add_headers(&c, h);
    reply(call, &c, true);
}

void
relay_wire_next(np_rpc_call *call, const void *b, size_t n, bool more)
{
    np_relay_chunk c = {.data = b, .len = n, .more = more};
    reply(call, &c, false);
}

bool
relay_read_sid(const msgpack_object *req, int64_t *sid)
{
    np_relay_sid s;
    if (np_relay_sid_read(req, &s) != NP_ERR_OK) {
        return false;
    }
    *sid = s.sid;
    return true;
}

bool
relay_read_abort(const msgpack_object *req, char *rid, size_t ridlen, int64_t *uid)
{
    np_relay_abort a;
    *uid = 0;
    if (np_relay_abort_read(req, &a) != NP_ERR_OK || strlen(a.rid) >= ridlen) {
        return false;
    }
    snprintf(rid, ridlen, "%s", a.rid);
    *uid = a.user_id;
    return true;
}
