/* The caller's identity, with a direct-mapped cache: each credential hash has one slot, so
 * the cache can never grow past its size and a lookup is O(1). */
#include "auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "call.h"
#include "np/clock.h"
#include "np/crypto.h"
#include "np/log.h"

typedef struct {
    uint8_t key[32];
    int64_t expires_ms;
    gw_principal p;
} slot;

struct gw_auth_cache {
    pthread_mutex_t mu;
    int ttl_ms;
    int n;
    slot *slots;
};

typedef struct {
    gw_auth_done done;
    void *arg;
    uint8_t key[32];
} pending;

gw_auth_cache *
gw_auth_cache_new(int ttl_ms, int slots)
{
    gw_auth_cache *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->slots = calloc((size_t)slots, sizeof(slot));
    if (c->slots == NULL) {
        free(c);
        return NULL;
    }
    c->ttl_ms = ttl_ms;
    c->n = slots;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void
gw_auth_cache_free(gw_auth_cache *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_destroy(&c->mu);
    np_wipe(c->slots, sizeof(slot) * (size_t)c->n);
    free(c->slots);
    free(c);
}

static slot *
slot_of(gw_auth_cache *c, const uint8_t key[32])
{
    uint32_t h;
    memcpy(&h, key, sizeof(h));
    return &c->slots[h % (uint32_t)c->n];
}

static bool
cache_get(gw_auth_cache *c, const uint8_t key[32], gw_principal *out)
{
    if (c == NULL || c->ttl_ms <= 0) {
        return false;
    }
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    slot *s = slot_of(c, key);
    if (s->expires_ms > np_now_ms() && memcmp(s->key, key, 32) == 0) {
        *out = s->p;
        hit = true;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void
cache_put(gw_auth_cache *c, const uint8_t key[32], const gw_principal *p)
{
    if (c == NULL || c->ttl_ms <= 0) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    slot *s = slot_of(c, key);
    memcpy(s->key, key, 32);
    s->p = *p;
    s->expires_ms = np_now_ms() + c->ttl_ms;
    pthread_mutex_unlock(&c->mu);
}

/* credential finds the token of "Bearer <token>"; message says what is wrong otherwise. */
static bool
credential(h2o_req_t *req, h2o_iovec_t *out, const char **message)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0) {
        *message = "missing Authorization header (expected 'Bearer np-...')";
        return false;
    }
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len == 0) {
        *message = "the Authorization header is empty";
        return false;
    }
    if (v.len < 7 || strncasecmp(v.base, "bearer ", 7) != 0) {
        *message = "the Authorization header must be 'Bearer <key>'";
        return false;
    }
    size_t off = 7;
    while (off < v.len && v.base[off] == ' ') {
        off++;
    }
    if (off == v.len || v.len - off > 4096) {
        *message = "the Authorization header carries no usable credential";
        return false;
    }
    for (size_t k = off; k < v.len; k++) {
        unsigned char ch = (unsigned char)v.base[k];
        if (ch <= 0x20 || ch >= 0x7f) {
            *message = "the credential holds characters a key never has";
            return false;
        }
    }
    *out = h2o_iovec_init(v.base + off, v.len - off);
    return true;
}

static void
on_authenticated(gw_call *call)
{
    pending *pd = call->data;
    gw_principal p = {0};
    char message[256] = "";
    np_err err = call->err;
    if (err == NP_ERR_OK) {
        err = np_wire_reply_error(call->msg.root, message, sizeof(message));
    }
    if (err == NP_ERR_OK) {
        if (!np_wire_get_int(call->msg.root, "uid", &p.user_id) ||
            !np_wire_get_cstr(call->msg.root, "role", p.role, sizeof(p.role)) ||
            !np_wire_get_int(call->msg.root, "kid", &p.relay_key_id) || p.user_id <= 0) {
            err = NP_ERR_WIRE;
        } else {
            cache_put(call->r->th->gw->auth_cache, pd->key, &p);
        }
    }
    if (err == NP_ERR_TIMEOUT || err == NP_ERR_CLOSED || err == NP_ERR_WIRE) {
        np_log_warn("gateway", "request %s: the authenticate call failed (%s)", call->r->rid,
                    np_err_code(err));
        err = NP_ERR_UNAVAILABLE;
        snprintf(message, sizeof(message), "the auth service is unavailable");
    }
    pd->done(call->r, err, message, &p, pd->arg);
    free(pd);
}

static void
on_gone(gw_call *call)
{
    free(call->data);
}

void
gw_auth_resolve(gw_request *r, gw_auth_done done, void *arg)
{
    gw_gateway *gw = r->th->gw;
    h2o_iovec_t cred;
    const char *message = NULL;
    if (!credential(r->req, &cred, &message)) {
        done(r, NP_ERR_UNAUTHORIZED, message, NULL, arg);
        return;
    }
    uint8_t key[32];
    np_sha256(cred.base, cred.len, key);
    gw_principal p;
    if (cache_get(gw->auth_cache, key, &p)) {
        done(r, NP_ERR_OK, NULL, &p, arg);
        return;
    }
    pending *pd = calloc(1, sizeof(*pd));
    gw_call *call = pd ? gw_call_new(r, on_authenticated, on_gone, pd) : NULL;
    if (call == NULL) {
        free(pd);
        done(r, NP_ERR_NOMEM, NULL, NULL, arg);
        return;
    }
    pd->done = done;
    pd->arg = arg;
    memcpy(pd->key, key, 32);
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 3);
    np_wire_str(&w, "op", "authenticate");
    np_wire_strn(&w, "cred", cred.base, cred.len);
    np_wire_str(&w, "rid", r->rid);
    gw_call_start(call, gw->auth, &w, gw->rpc_timeout_ms);
    np_wire_writer_fini(&w);
}
