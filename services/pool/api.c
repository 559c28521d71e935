/* REST handlers of the pool: input checked strictly (unknown fields, types, ranges), answers
 * in the shapes of HTTP-API.md, never a token: only the masked form and the key id. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyprobe.h"
#include "keyring.h"
#include "keystore.h"
#include "np/clock.h"
#include "np/httpop.h"
#include "np/json.h"
#include "np/log.h"
#include "np/novelai.h"
#include "np/request.h"
#include "probe.h"
#include "proxies.h"
#include "ratelimit.h"
#include "settings.h"

#define NOTE_MAX 200
#define ANLAS_MAX 1000000

static void
reply_json_err(np_rpc_call *call, np_err err, const char *why)
{
    np_http_reply_err(call, err, why);
}

/* Reads the optional policy fields shared by POST and PATCH. */
static np_err
read_policy(const json_t *body, pool_key_patch *p, char *why, size_t whylen)
{
    np_err err;
    if ((err = np_json_str(body, "note", false, 0, NOTE_MAX, &p->note, &p->has_note, why,
                           whylen)) != NP_ERR_OK ||
        (err = np_json_bool(body, "allow_paid", false, &p->allow_paid, &p->has_allow_paid, why,
                            whylen)) != NP_ERR_OK) {
        return err;
    }
    if (np_json_is_null(body, "max_anlas_per_request")) {
        p->has_max = true;
        p->max_anlas = -1;
    } else if ((err = np_json_int(body, "max_anlas_per_request", false, 0, ANLAS_MAX, &p->max_anlas,
                                  &p->has_max, why, whylen)) != NP_ERR_OK) {
        return err;
    }
    if (np_json_is_null(body, "anlas_floor")) {
        p->has_floor = true;
        p->floor = 0;
    } else if ((err = np_json_int(body, "anlas_floor", false, 0, ANLAS_MAX, &p->floor,
                                  &p->has_floor, why, whylen)) != NP_ERR_OK) {
        return err;
    }
    if (p->has_note && strpbrk(p->note, "\r\n") != NULL) {
        snprintf(why, whylen, "'note' must be one line");
        return NP_ERR_INVALID;
    }
    return NP_ERR_OK;
}

/* One upload between the rpc worker that checked it and the probe thread that finishes it
 * (keyprobe.h): everything the insert needs, copied, so the request can be forgotten. */
typedef struct {
    pool_keyprobe_job job; /* first: the job pointer is the upload's */
    const pool_api *a;
    np_rpc_call *call;
    int64_t user_id, id; /* id: reserved (pool_keystore_reserve_id) */
    int64_t queued_ms;   /* monotonic, when handed to the probe pool */
    char token[POOL_TOKEN_MAX];
    uint8_t fp[NP_HMAC_LEN];
    char proxy[1100]; /* the key's egress in proxy_pool mode, credentials included; "" direct */
    char note[NOTE_MAX + 1];
    pool_key_settings set;
} upload;

static void
upload_free(upload *u)
{
    np_wipe(u->token, sizeof(u->token));
    np_wipe(u->proxy, sizeof(u->proxy));
    free(u);
}

static void
reply_limit(const pool_api *a, np_rpc_call *call)
{
    char why[160];
    snprintf(why, sizeof(why), "you already contribute %lld keys, the most allowed",
             (long long)NP_SETTING_NOW(a->cfg, pool, MAX_CONTRIBUTED_KEYS_PER_USER));
    reply_json_err(call, NP_ERR_LIMIT, why);
}

/* upload_run, on a probe thread: the probe (through the key's proxy), the tier rule, the
 * insert, the events and the answer. */
static void
upload_run(pool_keyprobe_job *j)
{
    upload *u = (upload *)j;
    const pool_api *a = u->a;
    char why[256] = "";
    json_t *out = NULL;
    PGconn *c = NULL;
    char base[1024];
    NP_SETTING_COPY(a->cfg, pool, NOVELAI_IMAGE_BASE, base, sizeof(base));
    /* In proxy_pool mode the probe leaves through the proxy the key is assigned (its id is
     * reserved), as its relayed requests will; with no healthy proxy nothing leaves at all. A
     * proxy health has just found healthy may be missing from the 2-second copy: read it
     * again once before refusing. */
    int64_t proxy_id = 0;
    np_err err = NP_ERR_OK;
    if (a->proxies != NULL && pool_proxies_for_key(a->proxies, u->id, &proxy_id, u->proxy,
                                                   sizeof(u->proxy)) != NP_ERR_OK) {
        pool_proxies_reload(a->proxies);
        err = pool_proxies_for_key(a->proxies, u->id, &proxy_id, u->proxy, sizeof(u->proxy));
    }
    if (err != NP_ERR_OK) {
        np_request_reply_retry(u->call, NP_ERR_UNAVAILABLE,
                               "no egress proxy is healthy: the key cannot be checked now", 30);
        upload_free(u);
        return;
    }
    /* The answer must reach the gateway before its deadline (RPC_TIMEOUT_MS), or the client
     * is told 504 while its key is stored: the probe gets what the wait left of it. */
    int64_t left =
        NP_SETTING_NOW(a->cfg, np_common, RPC_TIMEOUT_MS) - (np_now_ms() - u->queued_ms) - 1000;
    int64_t timeout_ms = NP_SETTING_NOW(a->cfg, pool, PROBE_TIMEOUT_SECONDS) * 1000;
    timeout_ms = left < timeout_ms ? left : timeout_ms;
    if (timeout_ms < 1000) {
        np_request_reply_retry(u->call, NP_ERR_UNAVAILABLE,
                               "too many keys are being checked; try again shortly", 5);
        upload_free(u);
        return;
    }
    pool_probe_result probe;
    pool_probe_run(base, u->token, u->proxy, (long)timeout_ms, &probe);
    if (probe.status == 200 && probe.sub.tier != 3 &&
        NP_SETTING_NOW(a->cfg, pool, REQUIRE_OPUS_TIER)) {
        err = NP_ERR_INVALID; /* the old pool's rule: only Opus keys generate for free */
        snprintf(why, sizeof(why),
                 "this pool accepts Opus keys only (tier 3); this key's subscription is tier %d",
                 probe.sub.tier);
    }
    if (err == NP_ERR_OK && (c = np_db_acquire(a->db, 5000)) == NULL) {
        err = NP_ERR_DB;
    }
    if (err == NP_ERR_OK) {
        err = pool_keystore_add(c, a->enc_key, u->user_id, u->token, strlen(u->token), u->fp,
                                &u->set, &probe, u->id);
    }
    if (err == NP_ERR_OK) {
        pool_keyring_invalidate(a->keyring);
        err = pool_keystore_get(c, u->id, u->user_id, false, &out);
    }
    np_db_release(a->db, c);
    if (err == NP_ERR_OK) {
        const char *state = json_string_value(json_object_get(out, "state"));
        np_events_emit(a->events, "key.added",
                       json_pack("{s:I, s:I, s:s, s:s}", "key_id", (json_int_t)u->id, "owner_id",
                                 (json_int_t)u->user_id, "masked",
                                 json_string_value(json_object_get(out, "masked")), "state",
                                 state != NULL ? state : ""));
        np_events_emit(a->events, "key.state",
                       json_pack("{s:I, s:s, s:s, s:s}", "key_id", (json_int_t)u->id, "from",
                                 "pending", "to", state != NULL ? state : "pending", "reason",
                                 probe.error[0] ? probe.error : "probe on upload"));
        np_http_reply_json(u->call, 201, out, NULL);
    } else if (err == NP_ERR_CONFLICT) {
        reply_json_err(u->call, err, "this key is already in the pool");
    } else if (err == NP_ERR_LIMIT) {
        reply_limit(a, u->call);
    } else {
        reply_json_err(u->call, err, why);
    }
    upload_free(u);
}

/* upload_cancel: the pool is closing before the upload's probe ran. */
static void
upload_cancel(pool_keyprobe_job *j)
{
    upload *u = (upload *)j;
    reply_json_err(u->call, NP_ERR_CLOSED, NULL);
    upload_free(u);
}

/* keys_add checks an upload on the rpc worker (body, the hourly attempts, the keys held, the
 * fingerprint) and hands the probe and the insert to the probe pool, which
 * answers; every refusal is answered here at once. */
static void
keys_add(const pool_api *a, np_rpc_call *call, const np_http_req *r)
{
    /* api_key and verify_now: the earlier pool's names. A key is always probed on upload here,
     * so verify_now is accepted and has no effect. */
    static const char *const allowed[] = {
        "token",       "note",    "allow_paid", "max_anlas_per_request",
        "anlas_floor", "api_key", "verify_now", NULL};
    char why[256] = "";
    json_t *body = NULL;
    PGconn *c = NULL;
    upload *u = calloc(1, sizeof(*u));
    pool_key_patch p = {.max_anlas = -1};
    int64_t retry_s = 0;
    np_err err =
        u != NULL ? np_request_body_parse(r, allowed, &body, why, sizeof(why)) : NP_ERR_NOMEM;
    bool verify = true;
    if (err == NP_ERR_OK) {
        err = np_json_bool(body, "verify_now", false, &verify, NULL, why, sizeof(why));
    }
    if (err == NP_ERR_OK && json_object_get(body, "token") != NULL &&
        json_object_get(body, "api_key") != NULL) {
        err = NP_ERR_INVALID;
        snprintf(why, sizeof(why), "give 'token' or 'api_key', not both");
    }
    if (err == NP_ERR_OK) {
        const json_t *t = json_object_get(body, "token");
        t = t != NULL ? t : json_object_get(body, "api_key");
        size_t n = json_is_string(t) ? json_string_length(t) : 0;
        if (!json_is_string(t) || !np_novelai_token_valid(json_string_value(t), n)) {
            err = NP_ERR_INVALID;
            snprintf(why, sizeof(why),
                     "'token' must be a NovelAI persistent API token: pst- "
                     "followed by 32 to 128 letters, digits, _ or -");
        } else {
            memcpy(u->token, json_string_value(t), n + 1);
        }
    }
    if (err == NP_ERR_OK) {
        err = read_policy(body, &p, why, sizeof(why));
    }
    if (err != NP_ERR_OK) {
        goto done;
    }
    snprintf(u->note, sizeof(u->note), "%s", p.has_note ? p.note : "");
    u->set = (pool_key_settings){.note = u->note,
                                 .allow_paid = p.has_allow_paid && p.allow_paid,
                                 .max_anlas = p.has_max ? p.max_anlas : -1,
                                 .floor = p.has_floor ? p.floor : 0,
                                 .max_keys =
                                     NP_SETTING_NOW(a->cfg, pool, MAX_CONTRIBUTED_KEYS_PER_USER)};
    u->a = a;
    u->call = call;
    u->user_id = r->user_id;
    u->job = (pool_keyprobe_job){.run = upload_run, .cancel = upload_cancel};
    pool_keystore_fingerprint(a->fp_key, u->token, strlen(u->token), u->fp);
    c = np_db_acquire(a->db, 5000);
    if (c == NULL) {
        err = NP_ERR_DB;
        goto done;
    }
    /* Every well-formed upload counts, whatever its fate: the pool is no oracle for tokens. */
    err = pool_keystore_take_upload(c, r->user_id,
                                    NP_SETTING_NOW(a->cfg, pool, KEY_UPLOADS_PER_HOUR), &retry_s);
    if (err == NP_ERR_RATE_LIMITED) {
        snprintf(why, sizeof(why), "at most %lld key uploads an hour; try again in %lld s",
                 (long long)NP_SETTING_NOW(a->cfg, pool, KEY_UPLOADS_PER_HOUR), (long long)retry_s);
        goto done;
    }
    if (err == NP_ERR_OK) {
        err = pool_keystore_precheck(c, r->user_id, u->set.max_keys);
    }
    bool exists = false;
    if (err == NP_ERR_OK) {
        err = pool_keystore_exists(c, u->fp, &exists);
    }
    if (err == NP_ERR_OK && exists) {
        err = NP_ERR_CONFLICT;
    }
    if (err == NP_ERR_OK) {
        err = pool_keystore_reserve_id(c, &u->id);
    }
    np_db_release(a->db, c);
    c = NULL;
    if (err == NP_ERR_OK) {
        u->queued_ms = np_now_ms();
        err = pool_keyprobe_submit(a->probes, &u->job,
                                   (int)NP_SETTING_NOW(a->cfg, pool, KEY_PROBE_QUEUE_MAX));
        if (err == NP_ERR_UNAVAILABLE) {
            retry_s = 5;
            snprintf(why, sizeof(why), "too many keys are being checked; try again shortly");
        }
    }
    if (err == NP_ERR_OK) {
        json_decref(body);
        return; /* the probe thread answers and frees u */
    }
done:
    np_db_release(a->db, c);
    json_decref(body);
    if (retry_s > 0) {
        np_request_reply_retry(call, err, why, retry_s);
    } else if (err == NP_ERR_CONFLICT) {
        reply_json_err(call, err, "this key is already in the pool");
    } else if (err == NP_ERR_LIMIT) {
        reply_limit(a, call);
    } else {
        reply_json_err(call, err, why);
    }
    if (u != NULL) {
        upload_free(u);
    }
}

/* keys_patch changes a key (PATCH); toggle: the earlier pool's POST /admin/keys/{id}/toggle,
 * with no body, flips the key's enabled flag. */
static void
keys_patch(const pool_api *a, np_rpc_call *call, const np_http_req *r, int64_t id, bool admin,
           bool toggle)
{
    static const char *const owner_fields[] = {
        "note", "enabled", "allow_paid", "max_anlas_per_request", "anlas_floor", NULL};
    static const char *const admin_fields[] = {"enabled", NULL};
    char why[256] = "", from[16] = "", to[16] = "";
    json_t *body = NULL, *out = NULL;
    PGconn *c = NULL;
    pool_key_patch p = {.max_anlas = -1};
    np_err err = NP_ERR_OK;
    if (toggle && r->body_len > 0 && (r->body_len != 2 || memcmp(r->body, "{}", 2) != 0)) {
        err = NP_ERR_INVALID;
        snprintf(why, sizeof(why), "toggle takes no body");
    } else if (!toggle) {
        err =
            np_request_body_parse(r, admin ? admin_fields : owner_fields, &body, why, sizeof(why));
    }
    if (err == NP_ERR_OK && !toggle) {
        err = np_json_bool(body, "enabled", false, &p.enabled, &p.has_enabled, why, sizeof(why));
    }
    if (err == NP_ERR_OK && !admin && !toggle) {
        err = read_policy(body, &p, why, sizeof(why));
    }
    if (err == NP_ERR_OK && (c = np_db_acquire(a->db, 5000)) == NULL) {
        err = NP_ERR_DB;
    }
    if (err == NP_ERR_OK && toggle) {
        json_t *cur = NULL;
        err = pool_keystore_get(c, id, 0, true, &cur);
        p.has_enabled = true;
        p.enabled = err == NP_ERR_OK && !json_is_true(json_object_get(cur, "enabled"));
        json_decref(cur);
    }
    if (err == NP_ERR_OK) {
        err = pool_keystore_patch(c, id, admin ? 0 : r->user_id, admin, &p, from, to, sizeof(from));
        if (err == NP_ERR_OK) {
            pool_keyring_invalidate(a->keyring);
        }
        if (err == NP_ERR_FORBIDDEN) {
            snprintf(why, sizeof(why), "an administrator disabled this key");
        }
    }
    if (err == NP_ERR_OK) {
        err = pool_keystore_get(c, id, 0, admin, &out);
    }
    if (err == NP_ERR_OK && strcmp(from, to) != 0) {
        np_events_emit(a->events, "key.state",
                       json_pack("{s:I, s:s, s:s, s:s, s:I}", "key_id", (json_int_t)id, "from",
                                 from, "to", to, "reason", admin ? "admin" : "owner", "by",
                                 (json_int_t)r->user_id));
    }
    np_db_release(a->db, c);
    json_decref(body);
    if (err != NP_ERR_OK) {
        reply_json_err(call, err, why);
    } else {
        np_http_reply_json(call, 200, out, NULL);
    }
}

static void
keys_delete(const pool_api *a, np_rpc_call *call, const np_http_req *r, int64_t id)
{
    PGconn *c = np_db_acquire(a->db, 5000);
    np_err err = c != NULL ? pool_keystore_delete(c, id, r->user_id) : NP_ERR_DB;
    np_db_release(a->db, c);
    if (err != NP_ERR_OK) {
        reply_json_err(call, err, NULL);
        return;
    }
    pool_keyring_invalidate(a->keyring);
    np_events_emit(
        a->events, "key.withdrawn",
        json_pack("{s:I, s:I}", "key_id", (json_int_t)id, "owner_id", (json_int_t)r->user_id));
    np_http_reply_json(call, 204, NULL, NULL);
}

static void
keys_list(const pool_api *a, np_rpc_call *call, int64_t owner, bool admin)
{
    json_t *out = NULL;
    PGconn *c = np_db_acquire(a->db, 5000);
    np_err err = c != NULL ? pool_keystore_list(c, owner, admin, &out) : NP_ERR_DB;
    np_db_release(a->db, c);
    if (err != NP_ERR_OK) {
        reply_json_err(call, err, NULL);
        return;
    }
    np_http_reply_json(call, 200, out, NULL);
}

static void
admin_stats(const pool_api *a, np_rpc_call *call)
{
    PGconn *c = np_db_acquire(a->db, 5000);
    PGresult *res = NULL;
    np_err err = c != NULL ? np_db_exec(c,
                                        "SELECT coalesce(json_object_agg(s, n), '{}') FROM "
                                        "(SELECT CASE WHEN enabled THEN state ELSE 'disabled' "
                                        "END AS s, count(*) AS n FROM upstream_keys GROUP BY 1) "
                                        "t",
                                        0, NULL, &res)
                           : NP_ERR_DB;
    json_t *out = json_object();
    if (err == NP_ERR_OK) {
        json_object_set_new(out, "keys_by_state", json_loads(PQgetvalue(res, 0, 0), 0, NULL));
    }
    PQclear(res);
    res = NULL;
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, "SELECT count(*) FROM key_leases WHERE expires_at > now()", 0, NULL,
                         &res);
        if (err == NP_ERR_OK) {
            np_db_row row = np_db_row_at(res, 0);
            int64_t leases = np_db_int(&row, 0);
            if ((err = row.err) == NP_ERR_OK) {
                json_object_set_new(out, "leases", json_integer(leases));
            }
        }
        PQclear(res);
    }
    np_db_release(a->db, c);
    if (err != NP_ERR_OK) {
        json_decref(out);
        reply_json_err(call, err, NULL);
        return;
    }
    json_object_set_new(out, "queue_depth", json_integer(pool_sched_depth(a->sched)));
    pool_relay_stats(a->relay, out);
    np_http_reply_json(call, 200, out, NULL);
}

void
pool_api_http(const pool_api *a, np_rpc_call *call, const np_http_req *r)
{
    if (r->user_id <= 0) {
        np_http_reply_err(call, NP_ERR_UNAUTHORIZED, NULL);
        return;
    }
    bool admin = strcmp(r->role, "admin") == 0;
    switch (r->op) {
    case NP_OP_KEYS_LIST: keys_list(a, call, r->user_id, false); return;
    case NP_OP_KEYS_ADD: keys_add(a, call, r); return;
    case NP_OP_KEY_UPDATE: keys_patch(a, call, r, r->id, false, false); return;
    case NP_OP_KEY_DELETE: keys_delete(a, call, r, r->id); return;
    default: break;
    }
    if (!admin) {
        np_http_reply_err(call, NP_ERR_FORBIDDEN, "administrators only");
        return;
    }
    switch (r->op) {
    case NP_OP_ADMIN_KEYS_LIST: keys_list(a, call, 0, true); break;
    case NP_OP_ADMIN_KEY_UPDATE: keys_patch(a, call, r, r->id, true, false); break;
    case NP_OP_ADMIN_KEY_TOGGLE: keys_patch(a, call, r, r->id, true, true); break;
    case NP_OP_ADMIN_STATS: admin_stats(a, call); break;
    default: np_http_reply_err(call, NP_ERR_NOT_FOUND, NULL); break;
    }
}

void
pool_api_user_limits(const pool_api *a, np_rpc_call *call, const msgpack_object *req)
{
    int64_t uid;
    if (!np_wire_get_int(req, "uid", &uid) || uid <= 0) {
        np_rpc_reply_error(call, NP_ERR_WIRE, "user.limits needs uid");
        return;
    }
    PGconn *c = np_db_acquire(a->db, 5000);
    pool_user_limits lim;
    np_err err = c != NULL ? pool_user_limits_read(c, a->cfg, uid, &lim) : NP_ERR_DB;
    /* What is left of the rate now, without spending any (it used to ride in the relay's
     * /user/subscription, which now carries NovelAI's fields only). */
    pool_rate_result rate = {0};
    if (err == NP_ERR_OK && lim.rpm > 0) {
        err = pool_rate_take(c, uid, lim.rpm, false, &rate);
    }
    np_db_release(a->db, c);
    if (err != NP_ERR_OK) {
        np_rpc_reply_error(call, err, NULL);
        return;
    }
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 5);
    np_wire_int(&w, "rpm_limit", lim.rpm);
    np_wire_int(&w, "contributed_keys", lim.contributed);
    np_wire_int(&w, "healthy_keys", lim.healthy);
    np_wire_int(&w, "rate_remaining", lim.rpm > 0 ? rate.remaining : 0);
    np_wire_int(&w, "rate_reset_s", lim.rpm > 0 ? rate.reset_s : 0);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}
