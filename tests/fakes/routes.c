/* Request dispatch for the fake NovelAI: route table, bearer auth, the per-account lock gate,
 * request records for /__last, and the helpers the route modules share. */
#include "routes.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "body.h"
#include "reply.h"

enum route_flag {
    ROUTE_GENERATION = 1, /* takes the account's one-at-a-time generation lock */
};

struct route {
    const char *method;
    const char *path;
    unsigned flags;
    void (*handle)(struct call *c);
};

/* NOVELAI.md, "Routes to relay": everything a relay may forward, on one server. */
static const struct route routes[] = {
    {"GET", "/user/subscription", 0, route_subscription},
    {"POST", "/ai/generate-image", ROUTE_GENERATION, route_generate_image},
    {"POST", "/ai/generate-image-stream", ROUTE_GENERATION, route_generate_image_stream},
    {"POST", "/ai/augment-image", ROUTE_GENERATION, route_augment_image},
    {"POST", "/ai/upscale", ROUTE_GENERATION, route_upscale},
    {"POST", "/ai/encode-vibe", ROUTE_GENERATION, route_encode_vibe},
    {"GET", "/ai/generate-image/suggest-tags", 0, route_suggest_tags},
    {"POST", "/ai/generate", ROUTE_GENERATION, route_text_generate},
    {"POST", "/ai/generate-stream", ROUTE_GENERATION, route_text_generate_stream},
    {"POST", "/oa/v1/completions", ROUTE_GENERATION, route_oa_completions},
    {"POST", "/oa/v1/chat/completions", ROUTE_GENERATION, route_oa_chat_completions},
    {"GET", "/oa/v1/models", 0, route_oa_models},
    {"GET", "/ai/generate-voice", 0, route_generate_voice},
    {"POST", "/ai/generate-voice", 0, route_generate_voice},
    {"POST", "/oa/v1/internal/token-count", 0, route_token_count},
};

#define MAX_KEY 256 /* longest token or path kept as a stats key */

void
fake_init(struct fake *f, h2o_loop_t *loop, unsigned latency_ms, unsigned event_delay_ms)
{
    tokens_init(&f->tokens);
    stats_init(&f->stats);
    streams_init(&f->streams, loop);
    f->latency_ms = latency_ms;
    f->event_delay_ms = event_delay_ms;
    f->gen_ids = 0;
    memset(f->forced, 0, sizeof(f->forced));
}

void
fake_fini(struct fake *f)
{
    streams_fini(&f->streams); /* first: running streams point at tokens */
    stats_fini(&f->stats);
    tokens_fini(&f->tokens);
}

static bool
iov_eq(h2o_iovec_t v, const char *s)
{
    size_t n = strlen(s);
    return v.len == n && memcmp(v.base, s, n) == 0;
}

/* The route of path for method, else the first of path (answered 404 for the method). */
static const struct route *
route_find(h2o_iovec_t method, h2o_iovec_t path)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (iov_eq(path, routes[i].path) && iov_eq(method, routes[i].method)) {
            return &routes[i];
        }
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (iov_eq(path, routes[i].path)) {
            return &routes[i];
        }
    }
    return NULL;
}

/* Copies the bearer token of req into out (empty when there is none). */
static void
bearer_token(const h2o_req_t *req, char *out, size_t outlen)
{
    static const char scheme[] = "Bearer ";
    out[0] = '\0';
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i == -1) {
        return;
    }
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < sizeof(scheme) - 1 || strncasecmp(v.base, scheme, sizeof(scheme) - 1) != 0) {
        return;
    }
    const char *p = v.base + sizeof(scheme) - 1;
    size_t n = v.len - (sizeof(scheme) - 1);
    while (n > 0 && *p == ' ') {
        p++;
        n--;
    }
    while (n > 0 && p[n - 1] == ' ') {
        n--;
    }
    snprintf(out, outlen, "%.*s", (int)n, p);
}

static void
sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(n != 0 ? p : "", n, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < mdlen && i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
    out[64] = '\0';
}

/* What /__last shows: enough for a relay test to check that bytes and headers went through. */
static json_t *
request_record(const h2o_req_t *req, const char *token, uint64_t seq)
{
    json_t *headers = json_object();
    bool authorization = false;
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        char name[128];
        size_t n = h->name->len < sizeof(name) - 1 ? h->name->len : sizeof(name) - 1;
        for (size_t k = 0; k < n; k++) {
            name[k] = (char)tolower((unsigned char)h->name->base[k]);
        }
        name[n] = '\0';
        if (strcmp(name, "authorization") == 0) {
            authorization = true;
            continue;
        }
        json_t *prev = json_object_get(headers, name);
        if (prev != NULL) {
            json_object_set_new(headers, name,
                                json_sprintf("%s, %.*s", json_string_value(prev), (int)h->value.len,
                                             h->value.base));
        } else {
            json_object_set_new(headers, name, json_stringn(h->value.base, h->value.len));
        }
    }
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *query = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : "";
    size_t query_len = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
    char digest[65];
    sha256_hex(req->entity.base, req->entity.len, digest);
    return json_pack(
        "{s:s%, s:s%, s:s%, s:s%, s:o, s:b, s:s?, s:s, s:I, s:I}", "method", req->method.base,
        req->method.len, "path", req->path.base, path_len, "query", query, query_len, "host",
        req->authority.base != NULL ? req->authority.base : "", req->authority.len, "headers",
        headers, "authorization", authorization, "token", token[0] != '\0' ? token : NULL,
        "body_sha256", digest, "body_length", (json_int_t)req->entity.len, "seq", (json_int_t)seq);
}

int
fake_handle(struct fake *f, h2o_req_t *req)
{
    h2o_iovec_t path = req->path_normalized;
    if (path.len >= 3 && memcmp(path.base, "/__", 3) == 0) {
        control_handle(f, req);
        return 0;
    }

    const struct route *route = route_find(req->method, path);
    char token[MAX_KEY];
    char route_key[MAX_KEY];
    bearer_token(req, token, sizeof(token));
    snprintf(route_key, sizeof(route_key), "%.*s", (int)path.len, path.base);
    stats_count_request(&f->stats, token[0] != '\0' ? token : "(none)", route_key);
    stats_record_last(&f->stats, route_key, request_record(req, token, f->stats.total));

    struct call c = {.fake = f, .req = req};
    if (route == NULL || !iov_eq(req->method, route->method)) {
        call_error(&c, 404, "Not found");
        return 0;
    }
    c.tok = tokens_find(&f->tokens, token, strlen(token));
    if (c.tok == NULL || c.tok->behaviour == BEHAVE_INVALID) {
        call_error(&c, 401, "Invalid accessToken.");
        return 0;
    }
    const struct forced_answer *forced = control_forced(f, route_key);
    if (forced != NULL) {
        call_error(&c, forced->status, forced->message);
        return 0;
    }
    if ((route->flags & ROUTE_GENERATION) != 0) {
        /* The lock is checked before the body: any overlap on one account is the relay
         * double-booking a key, whatever the second request would have been answered. */
        if (c.tok->behaviour == BEHAVE_LOCKED) {
            f->stats.locked_rejections++;
            call_error(&c, 429, "Concurrent generation is locked");
            return 0;
        }
        stats_note_concurrency(&f->stats, c.tok->value, c.tok->holders + 1);
        if (c.tok->holders > 0) {
            f->stats.lock_violations++;
            call_error(&c, 429, "Concurrent generation is locked");
            return 0;
        }
    }
    if (iov_eq(req->method, "POST")) {
        ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
        h2o_iovec_t ct = i != -1 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
        size_t parts;
        char err[256];
        c.body = body_parse(ct.base, ct.len, req->entity.base, req->entity.len, &parts, err,
                            sizeof(err));
        if (c.body == NULL) {
            call_error(&c, 400, err);
            return 0;
        }
        if (!json_is_object(c.body)) {
            json_decref(c.body);
            call_error(&c, 400, "Request body must be a JSON object");
            return 0;
        }
    }
    route->handle(&c);
    json_decref(c.body);
    return 0;
}

void
call_error(struct call *c, int status, const char *message)
{
    stats_count_response(&c->fake->stats, status);
    reply_error(c->req, status, message);
}

void
call_json(struct call *c, int status, json_t *body)
{
    stats_count_response(&c->fake->stats, status);
    reply_json(c->req, status, body);
}

void
call_bytes(struct call *c, int status, const char *content_type, const void *p, size_t n)
{
    stats_count_response(&c->fake->stats, status);
    reply_bytes(c->req, status, content_type, p, n);
}

unsigned
call_latency(const struct call *c)
{
    unsigned ms = c->fake->latency_ms;
    return c->tok != NULL && c->tok->behaviour == BEHAVE_SLOW ? ms * 10 : ms;
}

void
call_later(struct call *c, struct stream_spec *spec)
{
    spec->first_ms = call_latency(c);
    stats_count_response(&c->fake->stats, spec->status);
    stream_start(&c->fake->streams, c->req, NULL, spec);
}

static int
hex_value(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    ch = (char)tolower((unsigned char)ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

bool
call_query(const struct call *c, const char *name, char *out, size_t outlen)
{
    const h2o_req_t *req = c->req;
    if (req->query_at == SIZE_MAX) {
        return false;
    }
    const char *p = req->path.base + req->query_at + 1;
    const char *end = req->path.base + req->path.len;
    size_t name_len = strlen(name);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        const char *key_end = eq != NULL ? eq : pair_end;
        if ((size_t)(key_end - p) == name_len && memcmp(p, name, name_len) == 0) {
            size_t n = 0;
            for (const char *v = eq != NULL ? eq + 1 : pair_end; v < pair_end; v++) {
                char ch = *v;
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%' && pair_end - v >= 3 && hex_value(v[1]) >= 0 &&
                           hex_value(v[2]) >= 0) {
                    ch = (char)(hex_value(v[1]) * 16 + hex_value(v[2]));
                    v += 2;
                }
                if (n + 1 >= outlen) {
                    return false;
                }
                out[n++] = ch;
            }
            out[n] = '\0';
            return true;
        }
        p = pair_end + 1;
    }
    return false;
}

bool
call_accepts_json(const struct call *c)
{
    ssize_t i = h2o_find_header(&c->req->headers, H2O_TOKEN_ACCEPT, -1);
    if (i == -1) {
        return false;
    }
    h2o_iovec_t v = c->req->headers.entries[i].value;
    return memmem(v.base, v.len, "application/json", 16) != NULL;
}

bool
gen_check_funds(struct call *c, int64_t cost, bool need_subscription)
{
    const struct token *tok = c->tok;
    if (need_subscription && !tok->active) {
        call_error(c, 402, "An active subscription is required to access this endpoint.");
        return false;
    }
    if (tok->behaviour == BEHAVE_BROKE || tok->anlas < cost) {
        call_error(c, 402, "Insufficient Anlas");
        return false;
    }
    return true;
}

void
gen_answer(struct call *c, int64_t cost, struct stream_spec *spec)
{
    struct token *tok = c->tok;
    tok->generations++;
    if (tok->behaviour == BEHAVE_FLAKY && tok->generations % 2 == 0) {
        static const char body[] = "{\"statusCode\":500,\"message\":\"Internal server error\"}";
        h2o_iovec_t *chunk = h2o_mem_alloc_pool(&c->req->pool, sizeof(*chunk));
        *chunk = h2o_iovec_init(body, sizeof(body) - 1);
        struct stream_spec failure = {.status = 500,
                                      .content_type = "application/json",
                                      .chunks = chunk,
                                      .nchunks = 1,
                                      .first_ms = call_latency(c)};
        stats_count_response(&c->fake->stats, 500);
        stream_start(&c->fake->streams, c->req, tok, &failure);
        return;
    }
    if (cost > 0) {
        tok->anlas -= cost;
        stats_add_spent(&c->fake->stats, tok->value, cost);
    }
    spec->first_ms = call_latency(c);
    stats_count_response(&c->fake->stats, spec->status);
    stream_start(&c->fake->streams, c->req, tok, spec);
}
