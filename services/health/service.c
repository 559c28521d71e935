/* The health service's life cycle, its settings and its operation dispatch. */
#include "health.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "keyprobe.h"
#include "leader.h"
#include "nodes.h"
#include "np/heartbeat.h"
#include "np/httpop.h"
#include "np/log.h"
#include "np/service.h"

struct health_service {
    np_service base;
    health_leader *leader;
    health_probe_env env;
    np_rpc_client *audit;
    health_jobs *jobs;
    bool curl_ready;
};

static bool
check_proxy_mode(const char *value, char *why, size_t whylen)
{
    if (strcmp(value, "direct") != 0 && strcmp(value, "proxy_pool") != 0) {
        snprintf(why, whylen, "must be direct or proxy_pool");
        return false;
    }
    return true;
}

#define RT NP_CFG_RUNTIME

/* Health's settings, and the egress proxy settings it shares with the pool (every process
 * loads every table, so the pool reads UPSTREAM_PROXY_MODE from here and health reads the
 * pool's NOVELAI_IMAGE_BASE). */
const np_cfg_spec health_config[] = {
    {"HEALTH_CHECK_ENABLED", NP_CFG_BOOL, "true", 0, 0, RT,
     "false: no periodic key probes (uploads and admin checks still probe)", NULL},
    {"HEALTH_CHECK_INTERVAL_SECONDS", NP_CFG_INT, "300", 1, 86400, RT,
     "each active key is probed (GET /user/subscription) once per interval, spread evenly", NULL},
    {"HEALTH_CHECK_FAIL_THRESHOLD", NP_CFG_INT, "3", 1, 100, RT,
     "failed probes in a row before an active key is marked down", NULL},
    {"HEALTH_CHECK_CONCURRENCY", NP_CFG_INT, "4", 1, 64, 0, "probes running at once on the leader",
     NULL},
    {"HEALTH_PROBE_TIMEOUT_SECONDS", NP_CFG_INT, "10", 1, 120, RT,
     "deadline of one key or proxy probe", NULL},
    {"HEALTH_RECHECK_BASE_SECONDS", NP_CFG_INT, "60", 1, 86400, RT,
     "first wait before a down or cooling key is probed again; doubles per failure", NULL},
    {"HEALTH_RECHECK_MAX_SECONDS", NP_CFG_INT, "21600", 1, 604800, RT,
     "longest wait between probes of a down key", NULL},
    {"HEALTH_LEADER_TIMEOUT_SECONDS", NP_CFG_INT, "5", 2, 300, 0,
     "a leader silent this long loses the lock (idle_session_timeout of its session)", NULL},
    {"HEALTH_RETENTION_BATCH", NP_CFG_INT, "1000", 1, 100000, RT,
     "rows deleted per batch by log retention", NULL},
    {"HEALTH_HOUSEKEEPING_SECONDS", NP_CFG_INT, "60", 1, 86400, RT,
     "how often the leader runs log retention and prunes stale rows", NULL},
    {"UPSTREAM_PROXY_MODE", NP_CFG_STR, "direct", 0, 0, RT,
     "direct, or proxy_pool: each key leaves through one healthy proxy of /admin/proxies",
     check_proxy_mode},
    {"PROXY_CHECK_INTERVAL_SECONDS", NP_CFG_INT, "60", 1, 86400, RT,
     "how often the health leader probes each proxy (a CONNECT to the image host)", NULL},
    {"PROXY_CHECK_ENABLED", NP_CFG_BOOL, "true", 0, 0, RT,
     "false: the health leader does not probe proxies", NULL},
    {"PROXY_CHECK_URL", NP_CFG_STR, "", 0, 0, RT,
     "the host a proxy probe opens a tunnel to (empty: NOVELAI_IMAGE_BASE)", NULL},
    {"PROXY_CHECK_TIMEOUT_SECONDS", NP_CFG_INT, "0", 0, 120, RT,
     "deadline of one proxy probe (0: HEALTH_PROBE_TIMEOUT_SECONDS)", NULL},
    {"UPSTREAM_PROXY_HANDLE_429", NP_CFG_BOOL, "true", 0, 0, RT,
     "a 429 seen through a proxy counts against that proxy", NULL},
    {"UPSTREAM_PROXY_HANDLE_5XX", NP_CFG_BOOL, "true", 0, 0, RT,
     "a 5xx (or another refusal of the tunnel) seen through a proxy counts against that proxy",
     NULL},
    {"UPSTREAM_PROXY_HANDLE_NETWORK_ERRORS", NP_CFG_BOOL, "true", 0, 0, RT,
     "a network error reaching a proxy counts against that proxy", NULL},
    {"UPSTREAM_PROXIES", NP_CFG_STR, "", 0, 0, NP_CFG_SECRET,
     "comma separated proxy URLs (old pool): imported into /admin/proxies at start when the "
     "table holds none of them",
     NULL},
    {"PROXY_FAIL_THRESHOLD", NP_CFG_INT, "3", 1, 100, RT,
     "failed proxy probes in a row before the proxy cools down", NULL},
    {"PROXY_COOLDOWN_429_SECONDS", NP_CFG_INT, "120", 1, 86400, RT,
     "cooldown of a proxy that answered 429", NULL},
    {"PROXY_COOLDOWN_5XX_SECONDS", NP_CFG_INT, "60", 1, 86400, RT,
     "cooldown of a proxy that refused the tunnel (5xx or another error status)", NULL},
    {"PROXY_COOLDOWN_NETWORK_SECONDS", NP_CFG_INT, "30", 1, 86400, RT,
     "cooldown of a proxy that could not be reached", NULL},
    {"PROXY_COOLDOWN_MAX_SECONDS", NP_CFG_INT, "1800", 1, 604800, RT,
     "longest proxy cooldown (the cooldown doubles per failure beyond the threshold)", NULL},
    {"PROXY_FAIL_STREAK_CAP", NP_CFG_INT, "10", 1, 1000, RT,
     "the failure count of a proxy stops growing here", NULL},
    NP_CFG_END,
};

/* check_all answers the earlier pool's POST /admin/health-check: every key is probed now, as
 * by POST /admin/keys/{id}/check, one after the other -> {checked, failed, keys: [...]}. */
static void
check_all(health_service *s, np_rpc_call *call)
{
    PGconn *c = np_db_acquire(s->base.db, 5000);
    PGresult *res = NULL;
    np_err err = c != NULL
                     ? np_db_exec(c, "SELECT id FROM upstream_keys ORDER BY id", 0, NULL, &res)
                     : NP_ERR_DB;
    np_db_release(s->base.db, c);
    if (err != NP_ERR_OK) {
        PQclear(res);
        np_http_reply_err(call, err, NULL);
        return;
    }
    json_t *keys = json_array();
    int64_t failed = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *key = NULL;
        np_db_row row = np_db_row_at(res, i);
        int64_t id = np_db_int(&row, 0);
        np_err e = row.err != NP_ERR_OK ? row.err : health_keyprobe_run(&s->env, id, true, &key);
        if (e == NP_ERR_OK) {
            json_array_append_new(keys, key);
        } else if (e != NP_ERR_NOT_FOUND) { /* a key withdrawn meanwhile is no failure */
            failed++;
        }
    }
    PQclear(res);
    np_http_reply_json(call, 200,
                       json_pack("{s:I, s:I, s:o}", "checked", (json_int_t)json_array_size(keys),
                                 "failed", (json_int_t)failed, "keys", keys),
                       NULL);
}

static void
serve_http(health_service *s, np_rpc_call *call, const msgpack_object *req)
{
    np_http_req r;
    if (np_http_req_read(req, &r) != NP_ERR_OK) {
        np_rpc_reply_error(call, NP_ERR_WIRE, "malformed http operation");
        return;
    }
    if (np_http_refuse_relay_key(call, &r)) {
        return;
    }
    if (strcmp(r.role, "admin") != 0) {
        np_http_reply_err(call, NP_ERR_FORBIDDEN, "this needs an admin");
        return;
    }
    switch (r.op) {
    case NP_OP_ADMIN_NODES: {
        json_t *body = NULL;
        np_err err = health_nodes_list(s->base.db, s->base.cfg, &body);
        if (err != NP_ERR_OK) {
            np_http_reply_err(call, err, NULL);
            return;
        }
        np_http_reply_json(call, 200, body, NULL);
        return;
    }
    case NP_OP_ADMIN_HEALTH_CHECK: check_all(s, call); return;
    case NP_OP_ADMIN_KEY_CHECK: {
        json_t *key = NULL;
        np_err err = health_keyprobe_run(&s->env, r.id, true, &key);
        switch (err) {
        case NP_ERR_OK: np_http_reply_json(call, 200, key, NULL); return;
        case NP_ERR_NOT_FOUND: np_http_reply_err(call, err, "no such key"); return;
        case NP_ERR_CONFLICT:
            np_http_reply_err(call, err, "another probe of this key did not finish in time");
            return;
        case NP_ERR_UNAVAILABLE:
            np_http_reply_err(call, err, "proxy_pool mode and no proxy is healthy");
            return;
        case NP_ERR_CRYPTO:
            np_http_reply_err(call, err, "the key's token cannot be decrypted");
            return;
        default: np_http_reply_err(call, err, NULL); return;
        }
    }
    default: np_http_reply_err(call, NP_ERR_NOT_FOUND, NULL); return;
    }
}

/* store_beat keeps the row of an instance without a database of its own (the gateway):
 * node.beat {svc, node, instance, version, started, gone} -> {}. */
static void
store_beat(health_service *s, np_rpc_call *call, const msgpack_object *req)
{
    char svc[32], node[64], instance[128], version[32], started[40];
    bool gone = false;
    if (!np_wire_get_cstr(req, "svc", svc, sizeof(svc)) ||
        !np_wire_get_cstr(req, "node", node, sizeof(node)) ||
        !np_wire_get_cstr(req, "instance", instance, sizeof(instance)) ||
        !np_wire_get_cstr(req, "version", version, sizeof(version)) ||
        !np_wire_get_cstr(req, "started", started, sizeof(started)) ||
        !np_wire_get_bool(req, "gone", &gone) || strcmp(svc, "gateway") != 0) {
        np_rpc_reply_error(call, NP_ERR_WIRE, "malformed node.beat");
        return;
    }
    np_heartbeat_row row = {svc, node, instance, version, started};
    np_err err = np_heartbeat_store(s->base.db, &row, gone);
    if (err != NP_ERR_OK) {
        np_rpc_reply_error(call, err, NULL);
        return;
    }
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 0);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}

static void
on_call(void *arg, np_rpc_call *call, const char *op, const msgpack_object *req)
{
    health_service *s = arg;
    if (strcmp(op, "ping") == 0) {
        np_service_reply_ping(&s->base, call);
        return;
    }
    if (strcmp(op, "http") == 0) {
        serve_http(s, call, req);
        return;
    }
    if (strcmp(op, "node.beat") == 0) {
        store_beat(s, call, req);
        return;
    }
    np_rpc_reply_error(call, NP_ERR_NOT_FOUND, "unknown operation");
}

np_err
health_start(health_service **out, np_config *cfg, char *why, size_t whylen)
{
    health_service *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NP_ERR_NOMEM;
    }
    np_service_no_core_dumps("health"); /* decrypted tokens and ENCRYPTION_KEY live here */
    np_err err = NP_ERR_OK;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(why, whylen, "health: libcurl cannot start");
        err = NP_ERR_SYSTEM;
    }
    s->curl_ready = err == NP_ERR_OK;
    if (err == NP_ERR_OK) {
        err = np_service_open(&s->base, "health", cfg, why, whylen);
    }
    if (err == NP_ERR_OK) {
        s->env = (health_probe_env){s->base.db, cfg, s->base.events,
                                    np_heartbeat_instance(s->base.heartbeat)};
        s->leader = health_leader_new(s->base.db, cfg, s->base.node);
        err = s->leader == NULL ? NP_ERR_NOMEM : NP_ERR_OK;
    }
    if (err == NP_ERR_OK) {
        char url[512];
        np_config_str(cfg, "AUDIT_RPC_URL", url, sizeof(url));
        np_rpc_opts o = {0};
        err = np_rpc_client_open(&s->audit, url, &o);
        if (err != NP_ERR_OK) {
            snprintf(why, whylen, "AUDIT_RPC_URL: health cannot dial %s", url);
        }
    }
    if (err == NP_ERR_OK) {
        err = health_jobs_start(&s->jobs, &s->env, s->leader, s->audit);
    }
    if (err == NP_ERR_OK) {
        np_rpc_opts opts = {.recv_max = NP_HTTP_RECV_MAX};
        err = np_service_listen(&s->base, "HEALTH_RPC_LISTEN", &opts, on_call, s, why, whylen);
    }
    if (err != NP_ERR_OK) {
        health_stop(s);
        return err;
    }
    *out = s;
    return NP_ERR_OK;
}

void
health_stop(health_service *s)
{
    if (s == NULL) {
        return;
    }
    /* The rep server first (no new checks), then the background work, then the lock. */
    np_rpc_server_close(s->base.rpc);
    s->base.rpc = NULL;
    health_jobs_stop(s->jobs);
    health_leader_free(s->leader);
    np_rpc_client_close(s->audit);
    np_service_close(&s->base);
    if (s->curl_ready) {
        curl_global_cleanup();
    }
    free(s);
}
