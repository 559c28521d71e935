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
    int64_t minute = now_ms() / 60000;
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

/* Whether name is in the comma-separated list setting. */
static bool
in_list(const np_config *cfg, const char *setting, const char *name)
{
    char list[2048];
    np_config_str(cfg, setting, list, sizeof(list));
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

void
pool_relay_open(pool_relay *rl, np_rpc_call *call, const msgpack_object *req)
{
    char why[320] = "", ctype[400];
    const void *body;
    const char *query;
    size_t blen, qlen;
    rreq *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        np_rpc_reply_error(call, NP_ERR_NOMEM, NULL);
        return;
    }
    q->magic = RREQ_MAGIC;
    q->rl = rl;
    atomic_init(&q->refs, 1);
    pthread_mutex_init(&q->mu, NULL);
    np_buf_init(&q->buf, 0);
    np_buf_init(&q->errbody, ERRBODY_MAX);
    q->started_ms = now_ms();
    q->sid = atomic_fetch_add(&rl->next_sid, 1) + 1;
    q->open_call = call;
    PGconn *c = NULL;
    np_err err = NP_ERR_OK;

    /* 1. the request itself: nothing is spent on a bad one */
    if (!relay_read_envelope(q, req, &body, &blen, &query, &qlen, ctype, sizeof(ctype), why,
                             sizeof(why))) {
        err = NP_ERR_WIRE;
        goto refuse;
    }
    if (q->route == NULL) {
        err = NP_ERR_NOT_ALLOWED;
        snprintf(why, sizeof(why), "%s /v1/novelai%.200s is not a NovelAI route this relay serves",
                 q->method, q->path);
        goto refuse;
    }
    int nctype = 0; /* two Content-Types: upstream could read the other one than was priced */
    for (int i = 0; q->hdr_ptrs[i] != NULL; i++) {
        nctype += strncmp(q->hdr_ptrs[i], "content-type:", 13) == 0;
    }
    if (nctype > 1) {
        err = NP_ERR_INVALID;
        snprintf(why, sizeof(why), "the request has two Content-Type headers");
        goto refuse;
    }
    if (qlen > POOL_QUERY_MAX || !query_ok(query, qlen)) {
        err = NP_ERR_INVALID;
        snprintf(why, sizeof(why), "the query string is too long or badly encoded");
        goto refuse;
    }
    if (q->route->kind == POOL_KIND_MODELS) {
        relay_answer_models(rl, call, query, qlen);
        relay_unref(q);
        return;
    }
    if (q->route->kind == POOL_KIND_SUBSCRIPTION || q->route->kind == POOL_KIND_ACCOUNT) {
        relay_answer_account(rl, call, q->uid, q->path);
        relay_unref(q);
        return;
    }
    q->route = pool_route_for_body(q->route, ctype, body, blen);
    if (q->route->kind == POOL_KIND_FREE && blen > 0 && !json_object_body(body, blen)) {
        err = NP_ERR_INVALID;
        snprintf(why, sizeof(why), "the body of %s %.200s must be one JSON object", q->method,
                 q->path);
        goto refuse;
    }
    if (q->route->kind == POOL_KIND_IMAGE) {
        char model[96];
        np_config_str(rl->d.cfg, "NOVELAI_DEFAULT_MODEL", model, sizeof(model));
        size_t filled_len = 0;
        err = pool_default_model(ctype, body, blen, model, &q->filled, &filled_len);
        if (err != NP_ERR_OK) {
            goto refuse;
        }
        if (q->filled != NULL) { /* the body with the model is what is priced and sent */
            body = q->filled;
            blen = filled_len;
        }
    }
    pool_anlas_limits free_lim = {np_config_int(rl->d.cfg, "OPUS_MAX_PIXELS"),
                                  np_config_int(rl->d.cfg, "OPUS_MAX_STEPS"),
                                  np_config_int(rl->d.cfg, "OPUS_MAX_SAMPLES"),
                                  (double)np_config_int(rl->d.cfg, "V5_ALLOWANCE_MARGIN_PERCENT")};
    err =
        pool_anlas_parse(q->route->kind, ctype, body, blen, &free_lim, &q->need, why, sizeof(why));
    if (err != NP_ERR_OK) {
        goto refuse;
    }
    if (q->need.model[0] != '\0' && !in_list(rl->d.cfg, "NOVELAI_MODELS", q->need.model)) {
        err = NP_ERR_INVALID;
        snprintf(why, sizeof(why),
                 "model %.64s is not served by this pool (GET /v1/novelai/models)", q->need.model);
        goto refuse;
    }
    q->w.need = &q->need;
    q->w.need_opus =
        q->need.kind == POOL_KIND_TEXT && in_list(rl->d.cfg, "NOVELAI_OPUS_MODELS", q->need.model);
    q->w.user_id = q->uid;
    q->w.leaseless = !q->route->locks;

    /* 2. the user's rate, then the Anlas guard, then the in-flight cap */
    c = np_db_acquire(rl->d.db, 5000);
    if (c == NULL) {
        err = NP_ERR_DB;
        goto refuse;
    }
    pool_user_limits lim;
    err = pool_user_limits_cached(rl->limits, c, rl->d.cfg, q->uid,
                                  pool_keyring_version(rl->d.keyring), &lim);
    if (err == NP_ERR_NOT_FOUND) {
        err = NP_ERR_UNAUTHORIZED;
    }
    if (err != NP_ERR_OK) {
        goto refuse;
    }
    if (pool_rate_needs_contribution(rl->d.cfg, &lim)) {
        err = NP_ERR_CONTRIBUTION_REQUIRED; /* the old pool's gate, in its words */
        why[0] = '\0';
        goto refuse;
    }
    if (lim.rpm <= 0) {
        err = NP_ERR_RATE_LIMITED;
        snprintf(why, sizeof(why),
                 "your account has no request rate yet: contribute a NovelAI "
                 "key (POST /keys) to earn one");
        goto refuse;
    }
    err = pool_rate_take(c, q->uid, lim.rpm, true, &q->rate);
    if (err != NP_ERR_OK) {
        goto refuse;
    }
    q->rate_spent = true;
    if (!q->rate.allowed) {
        np_db_release(rl->d.db, c);
        snprintf(why, sizeof(why), "rate limit of %lld requests per minute reached",
                 (long long)lim.rpm);
        relay_refused(q, call, NP_ERR_RATE_LIMITED, why,
                      q->rate.retry_after_s > 0 ? (int)q->rate.retry_after_s : 1);
        relay_unref(q);
        return;
    }
    err = guard(rl, c, &q->w, why, sizeof(why));
    np_db_release(rl->d.db, c);
    c = NULL;
    if (err != NP_ERR_OK) {
        goto refuse;
    }
    /* The cap counts running requests only: the rest wait their turn (USER_QUEUE_MAX). */
    int64_t conc = np_config_int(rl->d.cfg, "USER_MAX_CONCURRENCY");
    q->w.running = rl->d.inflight;
    q->w.max_running = conc > 0 ? conc : lim.healthy > 1 ? lim.healthy : 1;

    /* 3. the upstream request and a place in the queue */
    char base[1024];
    np_config_str(rl->d.cfg, q->route->base, base, sizeof(base));
    snprintf(q->url, sizeof(q->url), "%s%s%s%.*s", base, q->route->upstream, qlen ? "?" : "",
             (int)qlen, query);
    /* Every admitted request keeps its body until it ends (a retry on another key sends it
     * again): the instance's bodies together stay within QUEUE_BODY_BYTES_MAX. */
    long long budget = (long long)np_config_int(rl->d.cfg, "QUEUE_BODY_BYTES_MAX");
    if (blen > 0 && atomic_fetch_add(&rl->body_bytes, (long long)blen) + (long long)blen > budget) {
        atomic_fetch_sub(&rl->body_bytes, (long long)blen);
        err = NP_ERR_NO_KEY;
        snprintf(why, sizeof(why),
                 "the pool holds as many request bodies as it may (QUEUE_BODY_BYTES_MAX); "
                 "try again shortly");
        goto refuse;
    }
    if (blen > 0) {
        q->body = pool_body_new(body, blen);
        if (q->body == NULL) {
            atomic_fetch_sub(&rl->body_bytes, (long long)blen);
            err = NP_ERR_NOMEM;
            goto refuse;
        }
        q->body_len = blen;
        free(q->filled); /* copied: body is not read again */
        q->filled = NULL;
    }
    q->w.deadline_ms = now_ms() + np_config_int(rl->d.cfg, "QUEUE_TIMEOUT_SECONDS") * 1000;
    q->w.on_grant = relay_on_grant;
    q->w.on_timeout = relay_on_timeout;
    q->w.arg = q;
    relay_rids_add(rl, q);
    if (q->w.leaseless && pool_waiter_take_running(&q->w)) {
        if (pool_keyring_pick(rl->d.keyring, &q->w)) {
            relay_on_grant(q, &q->w);
            return; /* the request's reference now rides with the transfer */
        }
        pool_waiter_give_running(&q->w); /* it waits like the others */
    }
    err = pool_sched_enqueue(rl->d.sched, &q->w);
    if (err != NP_ERR_OK) {
        relay_rids_remove(rl, q);
        if (err == NP_ERR_RATE_LIMITED) {
            snprintf(why, sizeof(why), "too many of your requests are waiting for a key");
        }
        goto refuse;
    }
    return; /* the request's reference now rides with the waiter */

refuse:
    np_db_release(rl->d.db, c);
    relay_refused(q, call, err, why,
                  err == NP_ERR_NO_KEY         ? 30
                  : err == NP_ERR_RATE_LIMITED ? 60
                                               : 0);
    relay_unref(q);
}
