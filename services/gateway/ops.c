/* The operational endpoints. */
#include "ops.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "call.h"
#include "np/buf.h"
#include "np/clock.h"
#include "np/crypto.h"
#include "peers.h"
#include "promtext.h"
#include "respond.h"

#define READY_CACHE_MS 1000

/* cache_put keeps a copy of an answer (dropped when out of memory: the next call asks). */
static void
cache_put(gw_gateway *gw, gw_ops_answer *a, int status, const char *body, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return;
    }
    memcpy(copy, body, len);
    copy[len] = '\0';
    pthread_mutex_lock(&gw->ops_mu);
    free(a->body);
    a->body = copy;
    a->len = len;
    a->status = status;
    a->at_ms = np_now_ms();
    pthread_mutex_unlock(&gw->ops_mu);
}

/* cache_reply answers r from a when it is younger than max_ms; returns whether it did. */
static bool
cache_reply(gw_request *r, gw_ops_answer *a, int max_ms, const char *ctype)
{
    gw_gateway *gw = r->th->gw;
    char *body = NULL;
    size_t len = 0;
    int status = 0;
    pthread_mutex_lock(&gw->ops_mu);
    if (a->body != NULL && max_ms > 0 && np_now_ms() - a->at_ms < max_ms) {
        body = h2o_mem_alloc_pool(&r->req->pool, a->len + 1);
        memcpy(body, a->body, a->len + 1);
        len = a->len;
        status = a->status;
    }
    pthread_mutex_unlock(&gw->ops_mu);
    if (body == NULL) {
        return false;
    }
    gw_respond(r, status, ctype, body, len);
    return true;
}

void
gw_ops_fini(gw_gateway *gw)
{
    free(gw->ready.body);
    free(gw->scrape.body);
    gw->ready.body = gw->scrape.body = NULL;
    free(gw->metrics_token);
    gw->metrics_token = NULL;
    pthread_mutex_destroy(&gw->ops_mu);
}

void
gw_ops_healthz(gw_request *r)
{
    static const char body[] = "{\"status\":\"ok\"}";
    gw_respond(r, 200, "application/json", body, sizeof(body) - 1);
}

enum { PROBES = 2 };

typedef struct {
    int pending; /* calls still out; the last one to finish answers and frees */
    bool alive;  /* the client is still there */
    const char *names[PROBES];
    const char *state[PROBES]; /* "ok", "database unreachable", "no answer" */
    gw_request *r;
    gw_gateway *gw;
} readiness;

static void
finish_probe(readiness *rd)
{
    if (--rd->pending > 0) {
        return;
    }
    pthread_mutex_lock(&rd->gw->ops_mu);
    rd->gw->ready_probing = false;
    pthread_mutex_unlock(&rd->gw->ops_mu);
    if (rd->alive) {
        bool ready = true;
        np_buf b;
        np_buf_init(&b, 4096);
        np_buf_puts(&b, "{");
        for (int i = 0; i < PROBES; i++) {
            ready = ready && strcmp(rd->state[i], "ok") == 0;
            np_buf_printf(&b, "%s\"%s\":\"%s\"", i ? "," : "", rd->names[i], rd->state[i]);
        }
        np_buf_puts(&b, "}");
        if (ready) {
            char out[600];
            int n = snprintf(out, sizeof(out), "{\"status\":\"ready\",\"checks\":%s}", b.data);
            size_t len = (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1;
            cache_put(rd->gw, &rd->gw->ready, 200, out, len);
            gw_respond(rd->r, 200, "application/json", out, len);
        } else {
            np_buf msg;
            np_buf_init(&msg, 4096);
            np_buf_puts(&msg, "not ready:");
            for (int i = 0; i < PROBES; i++) {
                if (strcmp(rd->state[i], "ok") != 0) {
                    np_buf_printf(&msg, " %s %s;", rd->names[i], rd->state[i]);
                }
            }
            msg.data[msg.len - 1] = '\0';
            np_buf out;
            np_buf_init(&out, 8192);
            np_buf_puts(&out, "{\"error\":\"not_ready\",\"message\":");
            np_buf_json_str(&out, msg.data, strlen(msg.data));
            np_buf_printf(&out, ",\"checks\":%s}", b.data);
            cache_put(rd->gw, &rd->gw->ready, 503, out.data, out.len);
            gw_respond(rd->r, 503, "application/json", out.data, out.len);
            np_buf_fini(&out);
            np_buf_fini(&msg);
        }
        np_buf_fini(&b);
    }
    free(rd);
}

typedef struct {
    readiness *rd;
    int i;
} probe;

static void
on_pong(gw_call *call)
{
    probe *pb = call->data;
    readiness *rd = pb->rd;
    rd->state[pb->i] = "no answer";
    if (call->err == NP_ERR_OK && np_wire_reply_error(call->msg.root, NULL, 0) == NP_ERR_OK) {
        bool db = false;
        np_wire_get_bool(call->msg.root, "db", &db);
        rd->state[pb->i] = db ? "ok" : "database unreachable";
    }
    free(pb);
    finish_probe(rd);
}

static void
on_pong_gone(gw_call *call)
{
    probe *pb = call->data;
    pb->rd->alive = false;
    readiness *rd = pb->rd;
    free(pb);
    finish_probe(rd);
}

void
gw_ops_readyz(gw_request *r)
{
    gw_gateway *gw = r->th->gw;
    if (cache_reply(r, &gw->ready, READY_CACHE_MS, "application/json")) {
        return;
    }
    /* One probe at a time: while it is out, callers get the last answer (a burst at a cache
     * miss costs the services one database round trip, not one per caller). */
    pthread_mutex_lock(&gw->ops_mu);
    bool probing = gw->ready_probing;
    gw->ready_probing = true;
    pthread_mutex_unlock(&gw->ops_mu);
    if (probing && cache_reply(r, &gw->ready, INT_MAX, "application/json")) {
        return;
    }
    readiness *rd = calloc(1, sizeof(*rd));
    if (rd == NULL) {
        pthread_mutex_lock(&gw->ops_mu);
        gw->ready_probing = false;
        pthread_mutex_unlock(&gw->ops_mu);
        gw_respond_err(r, NP_ERR_NOMEM, NULL);
        return;
    }
    rd->r = r;
    rd->gw = gw;
    rd->alive = true;
    rd->pending = PROBES;
    rd->names[0] = "auth";
    rd->names[1] = "pool";
    np_rpc_client *clients[PROBES] = {gw->auth, gw->pool};
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 1);
    np_wire_str(&w, "op", "ping");
    for (int i = 0; i < PROBES; i++) {
        rd->state[i] = "no answer";
        probe *pb = malloc(sizeof(*pb));
        gw_call *call = pb ? gw_call_new(r, on_pong, on_pong_gone, pb) : NULL;
        if (call == NULL) {
            free(pb);
            finish_probe(rd);
            continue;
        }
        pb->rd = rd;
        pb->i = i;
        gw_call_start(call, clients[i], &w, 2000);
    }
    np_wire_writer_fini(&w);
}

/* /metrics: the gateway's own counters, then what the services report through their optional
 * "metrics" operation ({t: Prometheus text}): queue depth, keys by state, event outboxes. Every
 * pool instance is asked (their figures carry their node label), one instance of each other
 * service. Families are merged so each appears once. A service that does not answer in time
 * is left out rather than failing the scrape. */
enum { MAX_POOLS = 32, SERVICES = 3, SOURCES = 1 + SERVICES + MAX_POOLS };

typedef struct {
    int pending;
    bool alive;
    gw_request *r; /* only while alive */
    gw_gateway *gw;
    gw_peer *pools[MAX_POOLS]; /* lent until the scrape ends */
    int npools;
    np_buf text[SOURCES]; /* [0]: the gateway's own */
} scrape;

typedef struct {
    scrape *sc;
    int i;
} scrape_part;

static void
finish_scrape(scrape *sc)
{
    if (--sc->pending > 0) {
        return;
    }
    gw_gateway *gw = sc->gw;
    if (sc->alive) {
        np_buf b;
        np_buf_init(&b, 8u << 20);
        gw_metrics_render(&gw->metrics, &sc->text[0]);
        if (gw_promtext_merge(sc->text, SOURCES, &b) == NP_ERR_OK) {
            cache_put(gw, &gw->scrape, 200, b.data ? b.data : "", b.len);
            gw_respond(sc->r, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
        } else {
            gw_respond_err(sc->r, NP_ERR_NOMEM, NULL);
        }
        np_buf_fini(&b);
    }
    for (int i = 0; i < sc->npools; i++) {
        gw_peers_put(&gw->pools, sc->pools[i]);
    }
    for (int i = 0; i < SOURCES; i++) {
        np_buf_fini(&sc->text[i]);
    }
    free(sc);
}

static void
on_metrics(gw_call *call)
{
    scrape_part *part = call->data;
    const char *t;
    size_t n;
    if (call->err == NP_ERR_OK && np_wire_reply_error(call->msg.root, NULL, 0) == NP_ERR_OK &&
        np_wire_get_str(call->msg.root, "t", &t, &n)) {
        np_buf_append(&part->sc->text[part->i], t, n);
    }
    scrape *sc = part->sc;
    free(part);
    finish_scrape(sc);
}

static void
on_metrics_gone(gw_call *call)
{
    scrape_part *part = call->data;
    scrape *sc = part->sc;
    sc->alive = false;
    free(part);
    finish_scrape(sc);
}

/* metrics_allowed checks METRICS_TOKEN, answering 401 when it is set and not given. */
static bool
metrics_allowed(gw_request *r)
{
    const char *want = r->th->gw->metrics_token;
    if (want == NULL || want[0] == '\0') {
        return true;
    }
    ssize_t i = h2o_find_header(&r->req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    size_t wlen = strlen(want);
    if (i >= 0) {
        h2o_iovec_t v = r->req->headers.entries[i].value;
        if (v.len == 7 + wlen && strncasecmp(v.base, "Bearer ", 7) == 0 &&
            np_ct_equal(v.base + 7, want, wlen)) {
            return true;
        }
    }
    gw_respond_err(r, NP_ERR_UNAUTHORIZED, "/metrics needs Authorization: Bearer <METRICS_TOKEN>");
    return false;
}

void
gw_ops_metrics(gw_request *r)
{
    gw_gateway *gw = r->th->gw;
    if (!metrics_allowed(r) ||
        cache_reply(r, &gw->scrape, gw->metrics_cache_ms, "text/plain; version=0.0.4")) {
        return;
    }
    scrape *sc = calloc(1, sizeof(*sc));
    if (sc == NULL) {
        gw_respond_err(r, NP_ERR_NOMEM, NULL);
        return;
    }
    sc->r = r;
    sc->gw = gw;
    sc->alive = true;
    for (int i = 0; i < SOURCES; i++) {
        np_buf_init(&sc->text[i], 1u << 20);
    }
    np_rpc_client *clients[SOURCES] = {NULL, gw->auth, gw->audit, gw->health};
    sc->npools = gw_peers_lend_all(&gw->pools, sc->pools, MAX_POOLS);
    for (int i = 0; i < sc->npools; i++) {
        clients[1 + SERVICES + i] = gw_peer_client(sc->pools[i]);
    }
    int n = 1 + SERVICES + sc->npools;
    sc->pending = n; /* one for each call, and one for this function */
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 1);
    np_wire_str(&w, "op", "metrics");
    for (int i = 1; i < n; i++) {
        scrape_part *part = malloc(sizeof(*part));
        gw_call *call = part ? gw_call_new(r, on_metrics, on_metrics_gone, part) : NULL;
        if (call == NULL) {
            free(part);
            finish_scrape(sc);
            continue;
        }
        part->sc = sc;
        part->i = i;
        gw_call_start(call, clients[i], &w, 2000);
    }
    np_wire_writer_fini(&w);
    finish_scrape(sc);
}
