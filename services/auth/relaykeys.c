/* Relay keys: making, hashing, and the /client-keys routes. */
#include "relaykeys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/db.h"
#include "np/json.h"
#include "np/log.h"
#include "request.h"
#include "settings.h"

#define KEY_COLUMNS                                                                                \
    "id, name, prefix, enabled, "                                                                  \
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "                   \
    "coalesce(to_char(last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

np_err
auth_relaykey_new(char key[AUTH_RELAYKEY_MAX], char prefix[AUTH_RELAYKEY_PREFIX + 1])
{
    np_err err = np_token_new("np-", AUTH_RELAYKEY_BITS, key, AUTH_RELAYKEY_MAX);
    if (err == NP_ERR_OK) {
        snprintf(prefix, AUTH_RELAYKEY_PREFIX + 1, "%.*s", AUTH_RELAYKEY_PREFIX, key);
    }
    return err;
}

bool
auth_relaykey_well_formed(const char *cred, size_t len)
{
    if (len < 3 + 32 || len > 3 + 64 || strncmp(cred, "np-", 3) != 0) {
        return false;
    }
    for (size_t i = 3; i < len; i++) {
        char c = cred[i];
        /* '-' and '_': keys of the earlier Python pool are URL-safe base64 (naipool import) */
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

void
auth_relaykey_hash(const uint8_t hkey[NP_KEY_LEN], const char *cred, size_t len, char out[67])
{
    uint8_t mac[NP_HMAC_LEN];
    np_hmac_sha256(hkey, NP_KEY_LEN, cred, len, mac);
    out[0] = '\\';
    out[1] = 'x';
    np_hex(mac, sizeof(mac), out + 2);
    np_wipe(mac, sizeof(mac));
}

/* key_json returns row i of a KEY_COLUMNS result as JSON, NULL when a cell is bad. */
static json_t *
key_json(const PGresult *res, int i)
{
    np_db_row row = np_db_row_at(res, i);
    json_int_t id = (json_int_t)np_db_int(&row, 0);
    bool enabled = np_db_bool(&row, 3);
    if (row.err != NP_ERR_OK) {
        return NULL;
    }
    return json_pack("{s:I, s:s, s:s, s:b, s:o, s:o}", "id", id, "name", PQgetvalue(res, i, 1),
                     "prefix", PQgetvalue(res, i, 2), "enabled", enabled, "created_at",
                     auth_json_time(PQgetvalue(res, i, 4)), "last_used_at",
                     auth_json_time(PQgetvalue(res, i, 5)));
}

/* name_check: 1 to 64 characters with no control characters. */
static bool
name_check(const char *name, char *why, size_t whylen)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(why, whylen, "'name' must not hold control characters");
            return false;
        }
        chars += (*p & 0xC0) != 0x80;
    }
    if (chars < 1 || chars > AUTH_RELAYKEY_NAME_MAX) {
        snprintf(why, whylen, "'name' must be 1 to %d characters long", AUTH_RELAYKEY_NAME_MAX);
        return false;
    }
    return true;
}

static void
emit(auth_service *s, const char *type, int64_t uid, int64_t kid, const char *rid)
{
    np_events_emit(s->base.events, type,
                   json_pack("{s:I, s:I, s:s}", "user", (json_int_t)uid, "relay_key",
                             (json_int_t)kid, "rid", rid));
}

/* revoke_others deletes the caller's relay keys but keep (rotation), emitting one revocation
 * each; *n counts them. */
static np_err
revoke_others(auth_service *s, PGconn *c, const np_http_req *r, int64_t keep, int64_t *n)
{
    char uid[24], kid[24];
    PGresult *res = NULL;
    const char *params[] = {auth_id_text(r->user_id, uid), auth_id_text(keep, kid)};
    np_err err = np_db_exec(
        c, "DELETE FROM relay_keys WHERE user_id = $1 AND id <> $2 RETURNING id", 2, params, &res);
    *n = 0;
    for (int i = 0; err == NP_ERR_OK && i < PQntuples(res); i++) {
        np_db_row row = np_db_row_at(res, i);
        int64_t gone = np_db_int(&row, 0);
        if ((err = row.err) == NP_ERR_OK) {
            emit(s, "auth.relay_key_revoked", r->user_id, gone, r->rid);
            (*n)++;
        }
    }
    PQclear(res);
    return err;
}

/* create makes a relay key {name, rotate?}. rotate: the caller's other keys are revoked. The
 * earlier pool's clients send {name?, rotate?} with rotate defaulting to true: a body without
 * a name is such a request, so there the key is named "default" and rotate defaults to true. */
static void
create(auth_service *s, np_rpc_call *call, const np_http_req *r)
{
    static const char *const allowed[] = {"name", "rotate", NULL};
    json_t *body = NULL;
    const char *name = NULL;
    bool has_name = false, rotate = false, has_rotate = false;
    char why[256] = "", uid[24], max[24], hash[67];
    char key[AUTH_RELAYKEY_MAX] = "", prefix[AUTH_RELAYKEY_PREFIX + 1];
    PGconn *c = NULL;
    PGresult *res = NULL;
    if (!np_request_body(call, r, allowed, &body)) {
        return;
    }
    if (np_json_str(body, "name", false, 1, 4 * AUTH_RELAYKEY_NAME_MAX, &name, &has_name, why,
                    sizeof(why)) != NP_ERR_OK ||
        (has_name && !name_check(name, why, sizeof(why))) ||
        np_json_bool(body, "rotate", false, &rotate, &has_rotate, why, sizeof(why)) != NP_ERR_OK) {
        np_http_reply_err(call, NP_ERR_INVALID, why);
        goto done;
    }
    if (!has_name) {
        name = "default";
        rotate = has_rotate ? rotate : true;
    }
    if (auth_relaykey_new(key, prefix) != NP_ERR_OK) {
        np_http_reply_err(call, NP_ERR_CRYPTO, NULL);
        goto done;
    }
    auth_relaykey_hash(s->relay_key, key, strlen(key), hash);
    if ((c = auth_db_get(s, call)) == NULL) {
        goto done;
    }
    snprintf(max, sizeof(max), "%lld",
             (long long)NP_SETTING_NOW(s->base.cfg, auth, AUTH_MAX_RELAY_KEYS));
    const char *params[] = {auth_id_text(r->user_id, uid), name, hash, prefix, max,
                            rotate ? "true" : "false"};
    /* Lock the user's row, then count and insert in a statement that sees every create
     * committed before the lock was granted: parallel creates cannot pass the cap together.
     * A rotation replaces every other key, so it never meets the cap. */
    np_err err = np_db_exec(c, "BEGIN", 0, NULL, NULL);
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", 1, params, NULL);
    }
    if (err == NP_ERR_OK) {
        err = np_db_exec(c,
                         "INSERT INTO relay_keys (user_id, name, key_hash, prefix) "
                         "SELECT $1, $2, $3::bytea, $4 WHERE $6::boolean OR (SELECT count(*) "
                         "FROM relay_keys WHERE user_id = $1) < $5::int RETURNING " KEY_COLUMNS,
                         6, params, &res);
    }
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, "COMMIT", 0, NULL, NULL);
    }
    if (err != NP_ERR_OK) {
        if (PQtransactionStatus(c) != PQTRANS_IDLE) {
            np_db_exec(c, "ROLLBACK", 0, NULL, NULL);
        }
        np_http_reply_err(call, err, NULL);
        goto done;
    }
    if (PQntuples(res) != 1) {
        snprintf(why, sizeof(why),
                 "you already have %s relay keys, the most allowed; delete one "
                 "first",
                 max);
        np_http_reply_err(call, NP_ERR_CONFLICT, why);
        goto done;
    }
    json_t *out = key_json(res, 0);
    if (out == NULL) {
        np_http_reply_err(call, NP_ERR_DB, NULL);
        goto done;
    }
    int64_t kid = json_integer_value(json_object_get(out, "id")), revoked = 0;
    if (rotate && (err = revoke_others(s, c, r, kid, &revoked)) != NP_ERR_OK) {
        json_decref(out);
        np_http_reply_err(call, err, NULL);
        goto done;
    }
    json_object_set_new(out, "key", json_string(key));
    if (rotate) {
        json_object_set_new(out, "revoked", json_integer((json_int_t)revoked));
    }
    np_http_reply_json(call, 201, out, NULL);
    emit(s, "auth.relay_key_created", r->user_id, kid, r->rid);
done:
    np_wipe(key, sizeof(key));
    PQclear(res);
    auth_db_put(s, c);
    json_decref(body);
}

static void
list(auth_service *s, np_rpc_call *call, const np_http_req *r)
{
    char uid[24];
    PGresult *res = NULL;
    PGconn *c = auth_db_get(s, call);
    if (c == NULL) {
        return;
    }
    const char *params[] = {auth_id_text(r->user_id, uid)};
    np_err err = np_db_exec(c,
                            "SELECT " KEY_COLUMNS " FROM relay_keys WHERE user_id = $1 "
                            "ORDER BY id",
                            1, params, &res);
    auth_db_put(s, c);
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, err, NULL);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; arr != NULL && i < PQntuples(res); i++) {
        json_t *one = key_json(res, i);
        if (one == NULL) {
            json_decref(arr);
            arr = NULL;
            break;
        }
        json_array_append_new(arr, one);
    }
    PQclear(res);
    if (arr == NULL) {
        np_http_reply_err(call, NP_ERR_DB, NULL);
        return;
    }
    np_http_reply_json(call, 200, arr, NULL);
}

static void
update(auth_service *s, np_rpc_call *call, const np_http_req *r, int64_t id)
{
    /* is_active: the earlier pool's name for enabled. */
    static const char *const allowed[] = {"name", "enabled", "is_active", NULL};
    json_t *body = NULL;
    const char *name = NULL;
    bool has_name = false, has_enabled = false, enabled = true, has_active = false, active = true;
    char why[256] = "", uid[24], kid[24];
    PGconn *c = NULL;
    PGresult *res = NULL;
    if (!np_request_body(call, r, allowed, &body)) {
        return;
    }
    if (np_json_str(body, "name", false, 1, 4 * AUTH_RELAYKEY_NAME_MAX, &name, &has_name, why,
                    sizeof(why)) != NP_ERR_OK ||
        (has_name && !name_check(name, why, sizeof(why))) ||
        np_json_bool(body, "enabled", false, &enabled, &has_enabled, why, sizeof(why)) !=
            NP_ERR_OK ||
        np_json_bool(body, "is_active", false, &active, &has_active, why, sizeof(why)) !=
            NP_ERR_OK) {
        np_http_reply_err(call, NP_ERR_INVALID, why);
        goto done;
    }
    if (has_active && has_enabled && active != enabled) {
        np_http_reply_err(call, NP_ERR_INVALID, "'enabled' and 'is_active' disagree; give one");
        goto done;
    }
    if (has_active) {
        has_enabled = true;
        enabled = active;
    }
    if (!has_name && !has_enabled) {
        np_http_reply_err(call, NP_ERR_INVALID, "nothing to change: give 'name' or 'enabled'");
        goto done;
    }
    if ((c = auth_db_get(s, call)) == NULL) {
        goto done;
    }
    const char *params[] = {auth_id_text(id, kid), auth_id_text(r->user_id, uid),
                            has_name ? name : NULL,
                            has_enabled ? (enabled ? "true" : "false") : NULL};
    np_err err = np_db_exec(c,
                            "UPDATE relay_keys SET name = coalesce($3, name), "
                            "enabled = coalesce($4::boolean, enabled) "
                            "WHERE id = $1 AND user_id = $2 RETURNING " KEY_COLUMNS,
                            4, params, &res);
    if (err == NP_ERR_OK && PQntuples(res) != 1) {
        err = NP_ERR_NOT_FOUND;
    }
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, err, err == NP_ERR_NOT_FOUND ? "no such relay key" : NULL);
        goto done;
    }
    json_t *out = key_json(res, 0);
    if (out == NULL) {
        np_http_reply_err(call, NP_ERR_DB, NULL);
        goto done;
    }
    np_http_reply_json(call, 200, out, NULL);
    if (has_enabled) {
        emit(s, enabled ? "auth.relay_key_enabled" : "auth.relay_key_disabled", r->user_id, id,
             r->rid);
    }
done:
    PQclear(res);
    auth_db_put(s, c);
    json_decref(body);
}

static void delete (auth_service *s, np_rpc_call *call, const np_http_req *r, int64_t id)
{
    char uid[24], kid[24];
    PGresult *res = NULL;
    PGconn *c = auth_db_get(s, call);
    if (c == NULL) {
        return;
    }
    const char *params[] = {auth_id_text(id, kid), auth_id_text(r->user_id, uid)};
    np_err err =
        np_db_exec(c, "DELETE FROM relay_keys WHERE id = $1 AND user_id = $2", 2, params, &res);
    auth_db_put(s, c);
    if (err == NP_ERR_OK && strcmp(PQcmdTuples(res), "1") != 0) {
        err = NP_ERR_NOT_FOUND;
    }
    PQclear(res);
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, err, err == NP_ERR_NOT_FOUND ? "no such relay key" : NULL);
        return;
    }
    np_http_reply_json(call, 204, NULL, NULL);
    emit(s, "auth.relay_key_revoked", r->user_id, id, r->rid);
}

np_err
auth_relaykeys_revoke_all(PGconn *c, int64_t uid, int64_t *n)
{
    char id[24];
    const char *params[] = {auth_id_text(uid, id)};
    PGresult *res = NULL;
    np_err err = np_db_exec(c,
                            "WITH gone AS (DELETE FROM relay_keys WHERE user_id = $1 RETURNING 1) "
                            "SELECT (SELECT count(*) FROM gone), EXISTS (SELECT 1 FROM users "
                            "WHERE id = $1)",
                            1, params, &res);
    if (err == NP_ERR_OK) {
        np_db_row row = np_db_row_at(res, 0);
        *n = np_db_int(&row, 0);
        bool user = np_db_bool(&row, 1);
        err = row.err != NP_ERR_OK ? row.err : user ? NP_ERR_OK : NP_ERR_NOT_FOUND;
    }
    PQclear(res);
    return err;
}

void
auth_relaykeys_http(auth_service *s, np_rpc_call *call, const np_http_req *r)
{
    switch (r->op) {
    case NP_OP_CLIENT_KEYS_CREATE: create(s, call, r); break;
    case NP_OP_CLIENT_KEYS_LIST: list(s, call, r); break;
    case NP_OP_CLIENT_KEY_UPDATE: update(s, call, r, r->id); break;
    case NP_OP_CLIENT_KEY_DELETE: delete (s, call, r, r->id); break;
    default: np_http_reply_err(call, NP_ERR_NOT_FOUND, NULL); break;
    }
}
