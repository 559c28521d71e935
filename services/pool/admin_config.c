/* The runtime settings over REST. */
#include "admin_config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/buf.h"
#include "np/config_watch.h"
#include "np/json.h"
#include "np/log.h"

static const char *
source_name(np_cfg_source src)
{
    return src == NP_CFG_SRC_DB ? "database" : src == NP_CFG_SRC_ENV ? "environment" : "default";
}

static bool
editable(const np_cfg_spec *spec)
{
    return (spec->flags & NP_CFG_RUNTIME) && !(spec->flags & NP_CFG_SECRET);
}

/* typed turns a setting's text into its JSON form. */
static json_t *
typed(const np_cfg_spec *spec, const char *value)
{
    if (spec->type == NP_CFG_INT) {
        return json_integer(strtoll(value, NULL, 10));
    }
    if (spec->type == NP_CFG_BOOL) {
        return json_boolean(strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0 ||
                            strcasecmp(value, "yes") == 0 || strcasecmp(value, "on") == 0);
    }
    return json_string(value);
}

static void
list_one(void *arg, const np_cfg_spec *spec, const char *value, np_cfg_source src)
{
    json_t *list = arg;
    bool secret = spec->flags & NP_CFG_SECRET;
    static const char *const types[] = {"string", "integer", "boolean"};
    json_t *o =
        json_pack("{s:s, s:o, s:s, s:s, s:b, s:b, s:s}", "key", spec->name, "value",
                  secret ? (value[0] ? json_string("********") : json_null()) : typed(spec, value),
                  "type", types[spec->type], "source", source_name(src), "editable", editable(spec),
                  "secret", secret, "description", spec->doc ? spec->doc : "");
    if (o == NULL) {
        return;
    }
    if (!secret) {
        json_object_set_new(o, "default", typed(spec, spec->def ? spec->def : ""));
    }
    if (spec->type == NP_CFG_INT && (spec->min != 0 || spec->max != 0)) {
        json_object_set_new(o, "min", json_integer(spec->min));
        json_object_set_new(o, "max", json_integer(spec->max));
    }
    json_array_append_new(list, o);
}

static void
reply_list(np_service *svc, np_rpc_call *call)
{
    json_t *list = json_array();
    np_config_each(svc->cfg, list_one, list);
    np_http_reply_json(call, 200, json_pack("{s:o}", "settings", list), NULL);
}

bool
pool_admin_config_value(const np_cfg_spec *spec, const json_t *v, char *out, size_t outlen,
                        char *why, size_t whylen)
{
    switch (spec->type) {
    case NP_CFG_INT:
        if (!json_is_integer(v)) {
            snprintf(why, whylen, "%s must be a whole JSON number", spec->name);
            return false;
        }
        snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return true;
    case NP_CFG_BOOL:
        if (!json_is_boolean(v)) {
            snprintf(why, whylen, "%s must be true or false", spec->name);
            return false;
        }
        snprintf(out, outlen, "%s", json_is_true(v) ? "true" : "false");
        return true;
    case NP_CFG_STR:
    default:
        if (!json_is_string(v) || json_string_length(v) >= outlen ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            snprintf(why, whylen, "%s must be a string of at most %zu characters", spec->name,
                     outlen - 1);
            return false;
        }
        snprintf(out, outlen, "%s", json_string_value(v));
        return true;
    }
}

typedef struct {
    const char *key;
    char value[1024];
    bool reset; /* null: back to the environment or default */
    char old[1024];
} change;

/* old_pair turns the earlier pool's POST /admin/config {key, value} (value a string) into
 * today's {KEY: value}; NULL after answering 400. */
static json_t *
old_pair(np_rpc_call *call, json_t *body)
{
    static const char *const allowed[] = {"key", "value", NULL};
    char why[256] = "";
    const char *key = NULL, *value = NULL;
    if (!np_json_only_keys(body, allowed, why, sizeof(why)) ||
        np_json_str(body, "key", true, 1, 100, &key, NULL, why, sizeof(why)) != NP_ERR_OK ||
        np_json_str(body, "value", true, 0, 1023, &value, NULL, why, sizeof(why)) != NP_ERR_OK) {
        np_http_reply_err(call, NP_ERR_INVALID, why);
        return NULL;
    }
    return json_pack("{s:s}", key, value);
}

/* put stores {KEY: value, ...} (PUT), or the earlier pool's {key, value} (POST, old). */
static void
put(np_service *svc, np_rpc_call *call, const np_http_req *r, bool old)
{
    char why[512] = "";
    json_t *body = NULL;
    change *ch = NULL;
    PGconn *c = NULL;
    np_buf bad;
    np_buf_init(&bad, 4096);
    np_err err = np_json_parse_object(r->body, r->body_len, &body, why, sizeof(why));
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, NP_ERR_BAD_JSON, why);
        goto cleanup;
    }
    if (old) {
        json_t *pair = old_pair(call, body);
        json_decref(body);
        if ((body = pair) == NULL) {
            goto cleanup;
        }
    }
    size_t n = json_object_size(body);
    if (n == 0 || n > 200) {
        np_http_reply_err(call, NP_ERR_INVALID, "send 1 to 200 settings as {\"KEY\": value}");
        goto cleanup;
    }
    ch = calloc(n, sizeof(*ch));
    if (ch == NULL) {
        np_http_reply_err(call, NP_ERR_NOMEM, NULL);
        goto cleanup;
    }
    /* 1. check every key; name every one that fails */
    const char *key;
    json_t *v;
    size_t i = 0;
    json_object_foreach(body, key, v)
    {
        const np_cfg_spec *spec = np_config_spec(svc->cfg, key);
        char reason[300] = "";
        ch[i].key = key;
        if (spec == NULL) {
            snprintf(reason, sizeof(reason), "%.100s is not a setting", key);
        } else if (!editable(spec)) {
            snprintf(reason, sizeof(reason), "%s is read-only (a start-up setting%s)", key,
                     (spec->flags & NP_CFG_SECRET) ? ", secret" : "");
        } else if (json_is_null(v)) {
            ch[i].reset = true;
        } else if (old && json_is_string(v)) { /* the text form, as in .env, checked below */
            snprintf(ch[i].value, sizeof(ch[i].value), "%s", json_string_value(v));
            np_config_check(svc->cfg, key, ch[i].value, reason, sizeof(reason));
        } else if (pool_admin_config_value(spec, v, ch[i].value, sizeof(ch[i].value), reason,
                                           sizeof(reason))) {
            np_config_check(svc->cfg, key, ch[i].value, reason, sizeof(reason));
        }
        if (reason[0] != '\0') {
            np_buf_printf(&bad, "%s%s", bad.len ? "; " : "", reason);
        }
        if (spec != NULL && !(spec->flags & NP_CFG_SECRET)) {
            np_config_str(svc->cfg, key, ch[i].old, sizeof(ch[i].old));
        }
        i++;
    }
    if (bad.len > 0) {
        np_http_reply_err(call, NP_ERR_INVALID, bad.data);
        goto cleanup;
    }
    /* 2. write all of them or none */
    c = np_db_acquire(svc->db, 5000);
    if (c == NULL) {
        np_http_reply_err(call, NP_ERR_DB, NULL);
        goto cleanup;
    }
    char uid[24];
    snprintf(uid, sizeof(uid), "%lld", (long long)r->user_id);
    err = np_db_exec(c, "BEGIN", 0, NULL, NULL);
    for (i = 0; err == NP_ERR_OK && i < n; i++) {
        if (ch[i].reset) {
            const char *p[] = {ch[i].key};
            err = np_db_exec(c, "DELETE FROM config WHERE key = $1", 1, p, NULL);
        } else {
            const char *p[] = {ch[i].key, ch[i].value, r->user_id > 0 ? uid : NULL};
            err = np_db_exec(c,
                             "INSERT INTO config (key, value, updated_by, updated_at) "
                             "VALUES ($1, $2, $3, now()) ON CONFLICT (key) DO UPDATE SET "
                             "value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, "
                             "updated_at = now()",
                             3, p, NULL);
        }
    }
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, "COMMIT", 0, NULL, NULL);
    }
    if (err != NP_ERR_OK) {
        np_db_exec(c, "ROLLBACK", 0, NULL, NULL);
        np_http_reply_err(call, err, "the settings were not saved");
        goto cleanup;
    }
    /* 3. here at once; elsewhere through NOTIFY */
    for (i = 0; i < n; i++) {
        np_config_apply_row(svc->cfg, ch[i].key, ch[i].reset ? NULL : ch[i].value);
        char now[1024];
        np_config_str(svc->cfg, ch[i].key, now, sizeof(now));
        np_events_emit(svc->events, "config.changed",
                       json_pack("{s:I, s:s, s:s, s:s, s:b}", "actor_user_id",
                                 (json_int_t)r->user_id, "key", ch[i].key, "old", ch[i].old, "new",
                                 now, "reset", ch[i].reset));
        np_log_info("pool", "admin %lld changed %s", (long long)r->user_id, ch[i].key);
    }
    reply_list(svc, call);
cleanup:
    if (c != NULL) {
        np_db_release(svc->db, c);
    }
    free(ch);
    json_decref(body);
    np_buf_fini(&bad);
}

bool
pool_admin_config_serve(np_service *svc, np_rpc_call *call, const np_http_req *r)
{
    switch (r->op) {
    case NP_OP_ADMIN_CONFIG_GET: reply_list(svc, call); return true;
    case NP_OP_ADMIN_CONFIG_PUT: put(svc, call, r, false); return true;
    case NP_OP_ADMIN_CONFIG_POST: put(svc, call, r, true); return true;
    default: return false;
    }
}
