/* Writing answers. */
#include "respond.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "np/buf.h"
#include "np/crypto.h"
#include "np/testing.h"

static uint64_t
next_random(gw_thread *th)
{
    /* xorshift64*: request ids need uniqueness, not secrecy; seeded from the CSPRNG */
    uint64_t x = th->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    th->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

NP_STATIC bool
valid_rid(const char *s, size_t n)
{
    if (n == 0 || n > 36) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return true;
}

gw_request *
gw_request_new(h2o_req_t *req, int route_group)
{
    gw_request *r = h2o_mem_alloc_pool(&req->pool, sizeof(*r));
    r->th = gw_thread_of(req);
    r->req = req;
    r->route_group = route_group;
    r->static_file = false;
    clock_gettime(CLOCK_MONOTONIC, &r->started);
    /* The id that keys internal state is always the gateway's own: a client choosing it
     * could name another user's request (relay.abort). A client's own id is only echoed. */
    snprintf(r->rid, sizeof(r->rid), "%016llx", (unsigned long long)next_random(r->th));
    r->client_rid[0] = '\0';
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    if (i >= 0 &&
        valid_rid(req->headers.entries[i].value.base, req->headers.entries[i].value.len)) {
        snprintf(r->client_rid, sizeof(r->client_rid), "%.*s",
                 (int)req->headers.entries[i].value.len, req->headers.entries[i].value.base);
    }
    atomic_fetch_add(&r->th->gw->metrics.in_flight, 1);
    return r;
}

void
gw_add_header(gw_request *r, const char *name, const char *value, size_t len)
{
    h2o_req_t *req = r->req;
    char *v = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(v, value, len);
    v[len] = '\0';
    size_t nlen = strlen(name);
    char *n = h2o_mem_alloc_pool(&req->pool, nlen + 1);
    memcpy(n, name, nlen + 1);
    h2o_add_header_by_str(&req->pool, &req->res.headers, n, nlen, 1, NULL, v, len);
}

/* Whether origin is in CORS_ALLOW_ORIGINS: comma separated, blanks around an entry and one
 * trailing slash ignored (browsers send "https://app.example" for a configured
 * "https://app.example/"), "*" allows any. */
NP_STATIC bool
origin_allowed(const gw_gateway *gw, const char *origin, size_t n)
{
    if (gw->cors_origins == NULL) {
        return false;
    }
    const char *p = gw->cors_origins;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *next = p + len + (comma != NULL);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }
        if (len > 1 && p[len - 1] == '/') {
            len--;
        }
        if ((len == 1 && *p == '*') || (len == n && strncmp(p, origin, n) == 0)) {
            return true;
        }
        p = next;
    }
    return false;
}

void
gw_common_headers(gw_request *r)
{
    gw_gateway *gw = r->th->gw;
    if (r->client_rid[0] != '\0') {
        /* the client's id echoed; the gateway's (the request_id of GET /logs) beside it */
        gw_add_header(r, "x-request-id", r->client_rid, strlen(r->client_rid));
        gw_add_header(r, "x-novelaipool-request-id", r->rid, strlen(r->rid));
    } else {
        gw_add_header(r, "x-request-id", r->rid, strlen(r->rid));
    }
    gw_add_header(r, "x-novelaipool-node", gw->node, strlen(gw->node));
    if (!r->static_file) {
        /* An API answer is data, never a page: no sniffing it into HTML, and if a browser
         * renders it anyway, nothing in it may load or run. */
        gw_add_header(r, "x-content-type-options", H2O_STRLIT("nosniff"));
        gw_add_header(r, "content-security-policy", H2O_STRLIT("default-src 'none'; sandbox"));
    }
    ssize_t i = h2o_find_header_by_str(&r->req->headers, H2O_STRLIT("origin"), -1);
    if (i >= 0) {
        h2o_iovec_t o = r->req->headers.entries[i].value;
        if (origin_allowed(gw, o.base, o.len)) {
            gw_add_header(r, "access-control-allow-origin", o.base, o.len);
            gw_add_header(r, "vary", "Origin", 6);
            gw_add_header(r, "access-control-expose-headers",
                          H2O_STRLIT("X-Request-Id, X-NovelAIPool-Node, Retry-After, "
                                     "X-RateLimit-Limit, X-RateLimit-Remaining, "
                                     "X-RateLimit-Reset, X-Next-Cursor, Content-Disposition, "
                                     "X-NovelAIPool-Request-Id"));
        }
    }
}

void
gw_observe(gw_request *r, int status)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t us = (uint64_t)(now.tv_sec - r->started.tv_sec) * 1000000u +
                  (uint64_t)((now.tv_nsec - r->started.tv_nsec) / 1000);
    gw_metrics *m = &r->th->gw->metrics;
    gw_metrics_observe(m, r->route_group, status, us);
    atomic_fetch_sub(&m->in_flight, 1);
}

const char *
gw_status_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

void
gw_respond(gw_request *r, int status, const char *ctype, const char *body, size_t len)
{
    h2o_req_t *req = r->req;
    req->res.status = status;
    req->res.reason = gw_status_reason(status);
    gw_common_headers(r);
    if (ctype != NULL && ctype[0] != '\0') {
        gw_add_header(r, "content-type", ctype, strlen(ctype));
    }
    gw_observe(r, status);
    if (status == 204 || status == 304) {
        h2o_send_inline(req, "", 0);
        return;
    }
    /* h2o_send_inline copies the body into the request pool. */
    req->res.content_length = body ? len : 0;
    h2o_send_inline(req, body ? body : "", body ? len : 0);
}

/* respond_error writes {"error": code, "message": message}; only gw_respond_err calls it, so
 * no answer bypasses errors.def. */
static void
respond_error(gw_request *r, int status, const char *code, const char *message)
{
    np_buf b;
    np_buf_init(&b, 4096);
    np_buf_puts(&b, "{\"error\":");
    np_buf_json_str(&b, code, strlen(code));
    np_buf_puts(&b, ",\"message\":");
    np_buf_json_str(&b, message, strlen(message));
    np_buf_puts(&b, "}");
    gw_respond(r, status, "application/json", b.data ? b.data : "{}", b.data ? b.len : 2);
    np_buf_fini(&b);
}

void
gw_respond_err(gw_request *r, np_err err, const char *message)
{
    respond_error(r, np_err_status(err), np_err_code(err),
                  message && message[0] ? message : np_err_message(err));
}

NP_STATIC bool
header_allowed(const char *name, size_t n)
{
    static const char *const deny[] = {"connection",
                                       "keep-alive",
                                       "transfer-encoding",
                                       "te",
                                       "upgrade",
                                       "proxy-connection",
                                       "content-length",
                                       "trailer",
                                       "x-request-id",
                                       "x-novelaipool-node",
                                       "x-novelaipool-request-id",
                                       "set-cookie",
                                       "server",
                                       "date",
                                       NULL};
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-')) {
            return false;
        }
    }
    for (int i = 0; deny[i] != NULL; i++) {
        if (strlen(deny[i]) == n && strncasecmp(deny[i], name, n) == 0) {
            return false;
        }
    }
    return true;
}

void
gw_apply_headers(gw_request *r, const msgpack_object *h)
{
    if (h == NULL || h->type != MSGPACK_OBJECT_MAP) {
        return;
    }
    for (uint32_t i = 0; i < h->via.map.size; i++) {
        const msgpack_object *k = &h->via.map.ptr[i].key;
        const msgpack_object *v = &h->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR || v->type != MSGPACK_OBJECT_STR ||
            !header_allowed(k->via.str.ptr, k->via.str.size) || v->via.str.size > 1024 ||
            memchr(v->via.str.ptr, '\r', v->via.str.size) != NULL ||
            memchr(v->via.str.ptr, '\n', v->via.str.size) != NULL ||
            memchr(v->via.str.ptr, '\0', v->via.str.size) != NULL) {
            continue;
        }
        char name[65];
        for (uint32_t c = 0; c < k->via.str.size; c++) {
            char ch = k->via.str.ptr[c];
            name[c] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
        }
        name[k->via.str.size] = '\0';
        gw_add_header(r, name, v->via.str.ptr, v->via.str.size);
    }
}
