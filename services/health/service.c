/* The health service's life cycle, its settings and its operation dispatch. */
#include "health.h"
#include "settings.h"

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
 * loads every table, so the pool reads NP_SETTINGS_OF(snap, health)->UPSTREAM_PROXY_MODE and
 * health reads the pool's NOVELAI_IMAGE_BASE; the UPSTREAM_PROXY_HANDLE_* switches that
 * shared/proxy.c reads are among the common settings). */
#define NP_SETTING(...) NP_CFG_ROW(health_settings, __VA_ARGS__)
const np_cfg_spec health_config[] = {
#include "settings.def"
    NP_CFG_END,
};
#undef NP_SETTING
NP_CFG_TABLE(health, health_config);

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
    np_settings *snap = np_config_acquire(cfg);
    const np_common_settings *cs = np_settings_common(snap);
    if (err == NP_ERR_OK) {
        np_rpc_opts o = {0};
        err = np_rpc_client_open(&s->audit, cs->AUDIT_RPC_URL, &o);
        if (err != NP_ERR_OK) {
            snprintf(why, whylen, "AUDIT_RPC_URL: health cannot dial %s", cs->AUDIT_RPC_URL);
        }
    }
    if (err == NP_ERR_OK) {
        err = health_jobs_start(&s->jobs, &s->env, s->leader, s->audit);
    }
    if (err == NP_ERR_OK) {
        np_rpc_opts opts = {.recv_max = NP_HTTP_RECV_MAX};
        err = np_service_listen(&s->base, "HEALTH_RPC_LISTEN", cs->HEALTH_RPC_LISTEN, &opts,
                                on_call, s, why, whylen);
    }
    np_settings_release(snap);
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
