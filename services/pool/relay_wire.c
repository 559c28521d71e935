/* Every msgpack read and write of the relay's messages (relay.open, relay.next,
 * relay.cancel, relay.abort and their answers); nothing else in the relay touches msgpack. */
#include "relay_int.h"

#include <stdio.h>
#include <string.h>

#include "np/wire.h"

void
relay_hdr_add(hdrs *h, const char *name, const char *value)
{
    if (h->n < 8 && value != NULL && value[0] != '\0') {
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
    relay_hdr_add(h, "x-ratelimit-limit", v);
    snprintf(v, sizeof(v), "%lld", (long long)r->remaining);
    relay_hdr_add(h, "x-ratelimit-remaining", v);
    snprintf(v, sizeof(v), "%lld", (long long)r->reset_s);
    relay_hdr_add(h, "x-ratelimit-reset", v);
}

static void
hdr_write(np_wire_writer *w, const hdrs *h)
{
    np_wire_key(w, "h");
    msgpack_pack_map(&w->pk, (uint32_t)h->n);
    for (int i = 0; i < h->n; i++) {
        np_wire_str(w, h->name[i], h->value[i]);
    }
}

/* An error answer {e, m, h} for relay.open (or an "http" op: same envelope). */
void
relay_reply_error_h(np_rpc_call *call, np_err err, const char *message, const hdrs *h)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 3);
    np_wire_str(&w, "e", np_err_code(err));
    np_wire_str(&w, "m", message != NULL && message[0] ? message : np_err_message(err));
    hdr_write(&w, h);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

/* Reads the envelope into q; false with a sentence when a field is missing or malformed. */
bool
relay_read_envelope(rreq *q, const msgpack_object *req, const void **body, size_t *blen,
                    const char **query, size_t *qlen, char *ctype, size_t ctlen, char *why,
                    size_t whylen)
{
    const msgpack_object *u = np_wire_get_map(req, "u");
    const msgpack_object *h = np_wire_get_map(req, "h");
    if (!np_wire_get_cstr(req, "m", q->method, sizeof(q->method)) ||
        !np_wire_get_cstr(req, "p", q->path, sizeof(q->path)) ||
        !np_wire_get_str(req, "q", query, qlen) || !np_wire_get_bin(req, "b", body, blen) ||
        !np_wire_get_cstr(req, "ip", q->ip, sizeof(q->ip)) ||
        !np_wire_get_cstr(req, "rid", q->rid, sizeof(q->rid)) || u == NULL || h == NULL ||
        !np_wire_get_int(u, "id", &q->uid) || !np_wire_get_int(u, "kid", &q->kid) || q->uid <= 0) {
        snprintf(why, whylen, "malformed relay.open envelope");
        return false;
    }
    q->route = pool_route_find(q->method, q->path);
    ctype[0] = '\0';
    int nh = 0;
    for (uint32_t i = 0; i < h->via.map.size; i++) {
        const msgpack_object *k = &h->via.map.ptr[i].key;
        const msgpack_object *v = &h->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR || v->type != MSGPACK_OBJECT_STR ||
            v->via.str.size >= 400 || memchr(v->via.str.ptr, '\r', v->via.str.size) ||
            memchr(v->via.str.ptr, '\n', v->via.str.size) ||
            memchr(v->via.str.ptr, '\0', v->via.str.size)) {
            continue;
        }
        static const char *const allowed[] = {"content-type", "accept", "x-correlation-id",
                                              "x-initiated-at"};
        for (int a = 0; a < 4 && nh < 4; a++) {
            if (k->via.str.size == strlen(allowed[a]) &&
                memcmp(k->via.str.ptr, allowed[a], k->via.str.size) == 0) {
                snprintf(q->hdr_lines[nh], sizeof(q->hdr_lines[nh]), "%s: %.*s", allowed[a],
                         (int)v->via.str.size, v->via.str.ptr);
                q->hdr_ptrs[nh] = q->hdr_lines[nh];
                nh++;
                if (a == 0) {
                    snprintf(ctype, ctlen, "%.*s", (int)v->via.str.size, v->via.str.ptr);
                }
            }
        }
    }
    q->hdr_ptrs[nh] = NULL;
    return true;
}

void
relay_reply_empty(np_rpc_call *call)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 0);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

void
relay_wire_open(np_rpc_call *call, int status, const hdrs *h, const void *b, size_t n, bool more,
                int64_t sid)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, more ? 5 : 4);
    np_wire_int(&w, "s", status);
    hdr_write(&w, h);
    np_wire_bin(&w, "b", b != NULL ? b : "", n);
    np_wire_bool(&w, "more", more);
    if (more) {
        np_wire_int(&w, "sid", sid);
    }
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

void
relay_wire_next(np_rpc_call *call, const void *b, size_t n, bool more)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 2);
    np_wire_bin(&w, "b", b != NULL ? b : "", n);
    np_wire_bool(&w, "more", more);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

bool
relay_read_sid(const msgpack_object *req, int64_t *sid)
{
    return np_wire_get_int(req, "sid", sid);
}

bool
relay_read_abort(const msgpack_object *req, char *rid, size_t ridlen, int64_t *uid)
{
    *uid = 0;
    return np_wire_get_cstr(req, "rid", rid, ridlen) && np_wire_get_int(req, "uid", uid) &&
           *uid > 0;
}
