/* relay.open, pool side: the checks a request passes before it is queued (envelope, route,
 * query, body, model, rate, Anlas guard, body budget), and the answer to one that fails them.
 * Runs on rpc worker threads. */
#include "relay_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "np/log.h"

/* refusal_recorded tells whether one more refusal of uid before the rate check may write a
 * usage row, and counts it. */
static bool
refusal_recorded(pool_relay *rl, int64_t uid)
{
    int64_t minute = np_now_ms() / 60000;
    pthread_mutex_lock(&rl->mu);
    refusal_slot *s = &rl->refusals[(uint64_t)uid % REFUSAL_SLOTS];
    if (s->uid != uid || s->minute != minute) {
        *s = (refusal_slot){.uid = uid, .minute = minute};
    }
    bool ok = s->count < REFUSALS_LOGGED_PER_MINUTE;
    if (ok) {
        s->count++;
    }
    pthread_mutex_unlock(&rl->mu);
    return ok;
}

/* refused answers relay.open for a request refused before it was queued (q was never
 * admitted: no in-flight slot), with the X-RateLimit-* figures once the rate was spent, and
 * records it like any other request (when the envelope named a user; before the rate check,
 * only within the user's refusal budget). */
void
relay_refused(rreq *q, np_rpc_call *call, np_err err, const char *why, int retry_after)
{
    hdrs h = {.n = 0};
    char v[16];
    if (retry_after > 0) {
        snprintf(v, sizeof(v), "%d", retry_after);
        relay_hdr_add(&h, NP_RELAY_RESH_RETRY_AFTER, v);
    }
    relay_hdr_rate(&h, &q->rate); /* nothing before the rate check: the figures are not known */
    relay_reply_error_h(call, err, why, &h);
    q->open_call = NULL;
    if (q->uid > 0 && (q->rate_spent || refusal_recorded(q->rl, q->uid))) {
        q->final_status = np_err_status(err);
        snprintf(q->error_class, sizeof(q->error_class), "%s", np_err_code(err));
        relay_emit_usage(q);
    }
}

/* ---- relay.open (rpc worker) ---- */

static bool
query_ok(const char *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)q[i];
        if (c <= 0x20 || c >= 0x7f || c == '#') {
            return false;
        }
    }
    return true;
}

/* Whether body is one JSON object (duplicate keys refused): what the free POST routes
 * (TTS, token count) take. */
static bool
json_object_body(const void *body, size_t len)
{
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    bool ok = json_is_object(j);
    json_decref(j);
    return ok;
}

/* Whether name is in the comma-separated list (a setting's value). */
static bool
in_list(const char *value, const char *name)
{
    char list[2048];
    snprintf(list, sizeof(list), "%s", value);
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') {
            t++;
        }
        size_t n = strlen(t);
        while (n > 0 && t[n - 1] == ' ') {
            t[--n] = '\0';
        }
        if (strcmp(t, name) == 0) {
            return true;
        }
    }
    return false;
}

/* The Anlas guard before any upstream call: is there a key that may serve this at all? It
 * reads the keyring's copy, and confirms a refusal on a fresh one. */
static np_err
guard(pool_relay *rl, PGconn *c, const pool_waiter *w, char *why, size_t whylen)
{
    np_err err = pool_keyring_refresh(rl->d.keyring, c, false);
    if (err == NP_ERR_OK) {
        err = pool_keyring_guard(rl->d.keyring, w, why, whylen);
    }
    if (err == NP_ERR_NO_KEY || err == NP_ERR_ANLAS) {
        err = pool_keyring_refresh(rl->d.keyring, c, true);
        if (err == NP_ERR_OK) {
            err = pool_keyring_guard(rl->d.keyring, w, why, whylen);
        }
    }
    return err;
}

/* refused_done: a request that was never queued (refused, or answered by the pool itself) is
 * done; the request's own reference goes. */
static void
refused_done(rreq *q)
{
    pthread_mutex_lock(&q->mu); /* relay.abort may have found it, between rids_add and _remove */
    relay_set_state(q, RELAY_DONE);
    pthread_mutex_unlock(&q->mu);
    relay_unref(q);
}

/* What relay.open carries beyond what q keeps, and what a refusal says. */
typedef struct {
    const void *body; /* the client's, or q->filled */
    size_t blen;
    const char *query;
    size_t qlen;
    char ctype[400];
    char why[320];   /* the reason of a refusal ("": the error's own message) */
    int retry_after; /* seconds for Retry-After; -1: what the error usually says */
    PGconn *c;       /* held from check_user to check_keys */
    pool_user_limits lim;
} admission;

/* ---- the checks, in order: each returns NP_ERR_OK or the refusal with a->why ---- */

/* 1. the request itself: nothing is spent on a bad one */
static np_err
check_envelope(rreq *q, const msgpack_object *req, admission *a)
{
    return relay_read_envelope(q, req, &a->body, &a->blen, &a->query, &a->qlen, a->ctype,
                               sizeof(a->ctype), a->why, sizeof(a->why));
}

static np_err
check_route(const rreq *q, admission *a)
{
    if (q->route == NULL) {
        snprintf(a->why, sizeof(a->why),
                 "%s /v1/novelai%.200s is not a NovelAI route this relay serves", q->method,
                 q->path);
        return NP_ERR_NOT_ALLOWED;
    }
    return NP_ERR_OK;
}

/* Two Content-Types: upstream could read the other one than was priced. */
static np_err
check_headers(const rreq *q, admission *a)
{
    int nctype = 0;
    for (int i = 0; q->hdr_ptrs[i] != NULL; i++) {
        nctype += strncmp(q->hdr_ptrs[i], "content-type:", 13) == 0;
    }
    if (nctype > 1) {
        snprintf(a->why, sizeof(a->why), "the request has two Content-Type headers");
        return NP_ERR_INVALID;
    }
    return NP_ERR_OK;
}

static np_err
check_query(admission *a)
{
    if (a->qlen > POOL_QUERY_MAX || !query_ok(a->query, a->qlen)) {
        snprintf(a->why, sizeof(a->why), "the query string is too long or badly encoded");
        return NP_ERR_INVALID;
    }
    return NP_ERR_OK;
}

/* The route as the body makes it; a free route's body is one JSON object; an image without a
 * model gets NOVELAI_DEFAULT_MODEL (the body with it is what is priced and sent). */
static np_err
check_body(pool_relay *rl, rreq *q, admission *a)
{
    q->route = pool_route_for_body(q->route, a->ctype, a->body, a->blen);
    if (q->route->kind == POOL_KIND_FREE && a->blen > 0 && !json_object_body(a->body, a->blen)) {
        snprintf(a->why, sizeof(a->why), "the body of %s %.200s must be one JSON object", q->method,
                 q->path);
        return NP_ERR_INVALID;
    }
    if (q->route->kind == POOL_KIND_IMAGE) {
        char model[96];
        snprintf(model, sizeof(model), "%s", q->ps->NOVELAI_DEFAULT_MODEL);
        size_t filled_len = 0;
        np_err err = pool_default_model(a->ctype, a->body, a->blen, model, &q->filled, &filled_len);
        if (err != NP_ERR_OK) {
            return err;
        }
        if (q->filled != NULL) {
            a->body = q->filled;
            a->blen = filled_len;
        }
    }
    return NP_ERR_OK;
}

/* What the request needs of a key (pool_anlas_parse), from a model this pool serves. */
static np_err
check_price(pool_relay *rl, rreq *q, admission *a)
{
    pool_anlas_limits free_lim = {q->ps->OPUS_MAX_PIXELS, q->ps->OPUS_MAX_STEPS,
                                  q->ps->OPUS_MAX_SAMPLES,
                                  (double)q->ps->V5_ALLOWANCE_MARGIN_PERCENT};
    np_err err = pool_anlas_parse(q->route->kind, a->ctype, a->body, a->blen, &free_lim, &q->need,
                                  a->why, sizeof(a->why));
    if (err != NP_ERR_OK) {
        return err;
    }
    if (q->need.model[0] != '\0' && !in_list(q->ps->NOVELAI_MODELS, q->need.model)) {
        snprintf(a->why, sizeof(a->why),
                 "model %.64s is not served by this pool (GET /v1/novelai/models)", q->need.model);
        return NP_ERR_INVALID;
    }
    q->w.need = &q->need;
    q->w.need_opus =
        q->need.kind == POOL_KIND_TEXT && in_list(q->ps->NOVELAI_OPUS_MODELS, q->need.model);
    q->w.user_id = q->uid;
    q->w.leaseless = !q->route->locks;
    return NP_ERR_OK;
}

/* 2. the user: known, past the contribution gate, with a request rate */
static np_err
check_user(pool_relay *rl, rreq *q, admission *a)
{
    a->c = np_db_acquire(rl->d.db, 5000);
    if (a->c == NULL) {
        return NP_ERR_DB;
    }
    np_err err = pool_user_limits_cached(rl->limits, a->c, rl->d.cfg, q->uid,
                                         pool_keyring_version(rl->d.keyring), &a->lim);
    if (err != NP_ERR_OK) {
        return err == NP_ERR_NOT_FOUND ? NP_ERR_UNAUTHORIZED : err;
    }
    if (pool_rate_needs_contribution(rl->d.cfg, &a->lim)) {
        a->why[0] = '\0'; /* the old pool's gate, in its words */
        return NP_ERR_CONTRIBUTION_REQUIRED;
    }
    if (a->lim.rpm <= 0) {
        snprintf(a->why, sizeof(a->why),
                 "your account has no request rate yet: contribute a NovelAI "
                 "key (POST /keys) to earn one");
        return NP_ERR_RATE_LIMITED;
    }
    return NP_ERR_OK;
}

/* The user's rate is spent: from here on every refusal is recorded. */
static np_err
check_rate(rreq *q, admission *a)
{
    np_err err = pool_rate_take(a->c, q->uid, a->lim.rpm, true, &q->rate);
    if (err != NP_ERR_OK) {
        return err;
    }
    q->rate_spent = true;
    if (!q->rate.allowed) {
        snprintf(a->why, sizeof(a->why), "rate limit of %lld requests per minute reached",
                 (long long)a->lim.rpm);
        a->retry_after = q->rate.retry_after_s > 0 ? (int)q->rate.retry_after_s : 1;
        return NP_ERR_RATE_LIMITED;
    }
    return NP_ERR_OK;
}

/* The Anlas guard: a key that may serve it at all; then the user's in-flight cap, which
 * counts running requests only (the rest wait their turn, USER_QUEUE_MAX). */
static np_err
check_keys(pool_relay *rl, rreq *q, admission *a)
{
    np_err err = guard(rl, a->c, &q->w, a->why, sizeof(a->why));
    if (err != NP_ERR_OK) {
        return err;
    }
    int64_t conc = q->ps->USER_MAX_CONCURRENCY;
    q->w.running = rl->d.inflight;
    q->w.max_running = conc > 0 ? conc : a->lim.healthy > 1 ? a->lim.healthy : 1;
    return NP_ERR_OK;
}

/* 3. the upstream request. Every admitted request keeps its body until it ends (a retry on
 * another key sends it again): the instance's bodies together stay within
 * QUEUE_BODY_BYTES_MAX. */
static np_err
hold_body(pool_relay *rl, rreq *q, admission *a)
{
    const char *base = pool_route_base(q->route, q->ps);
    const char *qm = a->qlen ? "?" : "";
    size_t ulen = (size_t)snprintf(NULL, 0, "%s%s%s%.*s", base, q->route->upstream, qm,
                                   (int)a->qlen, a->query);
    ulen = ulen < RREQ_URL_MAX ? ulen : RREQ_URL_MAX - 1; /* cut as the old array did */
    free(q->url);
    q->url = malloc(ulen + 1);
    if (q->url == NULL) {
        return NP_ERR_NOMEM;
    }
    snprintf(q->url, ulen + 1, "%s%s%s%.*s", base, q->route->upstream, qm, (int)a->qlen, a->query);
    long long budget = (long long)q->ps->QUEUE_BODY_BYTES_MAX;
    long long blen = (long long)a->blen;
    if (blen > 0 && atomic_fetch_add(&rl->body_bytes, blen) + blen > budget) {
        atomic_fetch_sub(&rl->body_bytes, blen);
        snprintf(a->why, sizeof(a->why),
                 "the pool holds as many request bodies as it may (QUEUE_BODY_BYTES_MAX); "
                 "try again shortly");
        return NP_ERR_NO_KEY;
    }
    if (blen > 0) {
        q->body = pool_body_new(a->body, a->blen);
        if (q->body == NULL) {
            atomic_fetch_sub(&rl->body_bytes, blen);
            return NP_ERR_NOMEM;
        }
        q->body_len = a->blen;
        free(q->filled); /* copied: body is not read again */
        q->filled = NULL;
    }
    return NP_ERR_OK;
}

/* A place in the queue, or a key at once for a leaseless route; NP_ERR_OK: the request's
 * reference now rides with the waiter or the transfer. */
static np_err
queue(pool_relay *rl, rreq *q, admission *a)
{
    q->w.deadline_ms = np_now_ms() + q->ps->QUEUE_TIMEOUT_SECONDS * 1000;
    q->w.on_grant = relay_on_grant;
    q->w.on_timeout = relay_on_timeout;
    q->w.arg = q;
    relay_set_state(q, RELAY_QUEUED); /* not published yet: no lock needed */
    relay_rids_add(rl, q);
    if (q->w.leaseless && pool_waiter_take_running(&q->w)) {
        if (pool_keyring_pick(rl->d.keyring, &q->w)) {
            relay_on_grant(q, &q->w);
            return NP_ERR_OK;
        }
        pool_waiter_give_running(&q->w); /* it waits like the others */
    }
    np_err err = pool_sched_enqueue(rl->d.sched, &q->w);
    if (err != NP_ERR_OK) {
        relay_rids_remove(rl, q);
        if (err == NP_ERR_RATE_LIMITED) {
            snprintf(a->why, sizeof(a->why), "too many of your requests are waiting for a key");
        }
    }
    return err;
}

/* answer_locally: the routes the pool answers itself, without a key or the rate. */
static bool
answer_locally(pool_relay *rl, rreq *q, np_rpc_call *call, const admission *a)
{
    if (q->route->kind == POOL_KIND_MODELS) {
        relay_answer_models(rl, call, a->query, a->qlen);
        return true;
    }
    if (q->route->kind == POOL_KIND_SUBSCRIPTION || q->route->kind == POOL_KIND_ACCOUNT) {
        relay_answer_account(rl, call, q->uid, q->path);
        return true;
    }
    return false;
}

void
pool_relay_open(pool_relay *rl, np_rpc_call *call, const msgpack_object *req)
{
    rreq *q = relay_rreq_new(rl, call);
    if (q == NULL) {
        np_rpc_reply_error(call, NP_ERR_NOMEM, NULL);
        return;
    }
    admission a = {.retry_after = -1};
    np_err err = check_envelope(q, req, &a);
    if (err == NP_ERR_OK) {
        err = check_route(q, &a);
    }
    if (err == NP_ERR_OK) {
        err = check_headers(q, &a);
    }
    if (err == NP_ERR_OK) {
        err = check_query(&a);
    }
    if (err == NP_ERR_OK && answer_locally(rl, q, call, &a)) {
        refused_done(q);
        return;
    }
    if (err == NP_ERR_OK) {
        err = check_body(rl, q, &a);
    }
    if (err == NP_ERR_OK) {
        err = check_price(rl, q, &a);
    }
    if (err == NP_ERR_OK) {
        err = check_user(rl, q, &a);
    }
    if (err == NP_ERR_OK) {
        err = check_rate(q, &a);
    }
    if (err == NP_ERR_OK) {
        err = check_keys(rl, q, &a);
    }
    np_db_release(rl->d.db, a.c);
    if (err == NP_ERR_OK) {
        err = hold_body(rl, q, &a);
    }
    if (err == NP_ERR_OK) {
        err = queue(rl, q, &a);
    }
    if (err == NP_ERR_OK) {
        return; /* the request's reference rides with the waiter or the transfer */
    }
    int retry_after = a.retry_after >= 0           ? a.retry_after
                      : err == NP_ERR_NO_KEY       ? 30
                      : err == NP_ERR_RATE_LIMITED ? 60
                                                   : 0;
    relay_refused(q, call, err, a.why, retry_after);
    refused_done(q);
}
