/* Managing users: listing them with their usage, changing role, disabled and rate override. */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "np/db.h"
#include "np/json.h"
#include "relaykeys.h"
#include "request.h"
#include "settings.h"
#include "users.h"

#define MAX_RPM_OVERRIDE 1000000

/* The columns of one listed user: the account, its relay keys, its latest lockout of any address
 * (parameter numbers T: lockout threshold, M: lockout minutes) and its usage over the last day
 * (from the usage_logs index on user and time). */
#define LIST_COLUMNS(T, M)                                                                         \
    "u.id, u.username, u.role, u.disabled, u.rpm_override, "                                       \
    "to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "                 \
    "(SELECT count(*) FROM relay_keys k WHERE k.user_id = u.id), "                                 \
    "coalesce((SELECT to_char(max(k.last_used_at) AT TIME ZONE 'UTC', "                            \
    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM relay_keys k WHERE k.user_id = u.id), ''), "         \
    "coalesce((SELECT to_char((max(t.last_at) + make_interval(mins => $" M "::int)) "              \
    "  AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM auth_login_failures t "          \
    "  WHERE t.name = lower(u.username) AND t.addr <> '*' AND $" T "::int > 0 "                    \
    "  AND t.failures >= $" T "::int "                                                             \
    "  AND t.last_at > now() - make_interval(mins => $" M "::int)), ''), "                         \
    "(SELECT count(*) FROM usage_logs l WHERE l.user_id = u.id "                                   \
    "  AND l.time > now() - interval '24 hours'), "                                                \
    "(SELECT count(*) FROM usage_logs l WHERE l.user_id = u.id "                                   \
    "  AND l.time > now() - interval '24 hours' AND l.status >= 400)"

/* user_json returns row i as JSON, NULL when a cell is not what the columns promise. */
static json_t *
user_json(const PGresult *res, int i)
{
    np_db_row row = np_db_row_at(res, i);
    bool has_rpm = !np_db_null(&row, 4);
    json_int_t rpm = has_rpm ? (json_int_t)np_db_int(&row, 4) : 0;
    json_int_t id = (json_int_t)np_db_int(&row, 0), keys = (json_int_t)np_db_int(&row, 6);
    json_int_t requests = (json_int_t)np_db_int(&row, 9), errors = (json_int_t)np_db_int(&row, 10);
    bool disabled = np_db_bool(&row, 3);
    if (row.err != NP_ERR_OK) {
        return NULL;
    }
    return json_pack(
        "{s:I, s:s, s:s, s:b, s:o, s:s, s:I, s:o, s:o, s:I, s:I}", "id", id, "username",
        PQgetvalue(res, i, 1), "role", PQgetvalue(res, i, 2), "disabled", disabled, "rpm_override",
        has_rpm ? json_integer(rpm) : json_null(), "created_at", PQgetvalue(res, i, 5),
        "relay_keys", keys, "last_used_at", auth_json_time(PQgetvalue(res, i, 7)), "locked_until",
        auth_json_time(PQgetvalue(res, i, 8)), "requests_24h", requests, "errors_24h", errors);
}

/* caller_is_admin checks the caller against the database, not only the gateway's word. */
static bool
caller_is_admin(auth_service *s, np_rpc_call *call, PGconn *c, const np_http_req *r)
{
    auth_user u;
    np_err err =
        strcmp(r->role, "admin") == 0 ? auth_user_by_id(c, r->user_id, &u) : NP_ERR_FORBIDDEN;
    np_wipe(u.password_hash, sizeof(u.password_hash));
    if (err == NP_ERR_DB) {
        np_http_reply_err(call, err, NULL);
        return false;
    }
    if (err != NP_ERR_OK || strcmp(u.role, "admin") != 0 || u.disabled) {
        np_http_reply_err(call, NP_ERR_FORBIDDEN, "this needs the admin role");
        return false;
    }
    return true;
}

/* admin_db_get lends a connection once the caller is known to be an admin; NULL when it has
 * answered (503 or 403). */
static PGconn *
admin_db_get(auth_service *s, np_rpc_call *call, const np_http_req *r)
{
    PGconn *c = auth_db_get(s, call);
    if (c != NULL && !caller_is_admin(s, call, c, r)) {
        auth_db_put(s, c);
        return NULL;
    }
    return c;
}

/* pool_figures adds each user's rate and contribution from pool; after the first failure it
 * stops asking, so a missing pool costs one timeout, not one per user. */
static void
pool_figures(auth_service *s, json_t *arr)
{
    bool pool_up = true;
    int timeout = (int)NP_SETTING_NOW(s->base.cfg, auth, AUTH_POOL_TIMEOUT_MS);
    size_t i;
    json_t *u;
    json_array_foreach(arr, i, u)
    {
        if (pool_up) {
            pool_up =
                auth_limits_fill(s->pool, timeout, json_integer_value(json_object_get(u, "id")), u);
        } else {
            auth_limits_nulls(u);
        }
    }
}

static bool
query_int(np_rpc_call *call, const char *query, const char *name, int64_t min, int64_t max,
          int64_t *out)
{
    char text[32], why[128];
    if (!np_query_get(query, name, text, sizeof(text))) {
        return true; /* absent: keep the default */
    }
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (text[0] == '\0' || *end != '\0' || v < min || v > max) {
        snprintf(why, sizeof(why), "'%s' must be a whole number from %lld to %lld", name,
                 (long long)min, (long long)max);
        np_http_reply_err(call, NP_ERR_INVALID, why);
        return false;
    }
    *out = v;
    return true;
}

static void
list(auth_service *s, np_rpc_call *call, const np_http_req *r)
{
    int64_t limit = 100, offset = 0;
    char q[AUTH_USERNAME_MAX + 1] = "";
    if (!query_int(call, r->query, "limit", 1, 500, &limit) ||
        !query_int(call, r->query, "offset", 0, 1000000000, &offset)) {
        return;
    }
    if (np_query_get(r->query, "q", q, sizeof(q))) {
        for (size_t i = 0; q[i] != '\0'; i++) {
            char ch = q[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-')) {
                np_http_reply_err(call, NP_ERR_INVALID,
                                  "'q' may hold only the characters of a username");
                return;
            }
        }
    } else if (strstr(r->query, "q=") != NULL) {
        np_http_reply_err(call, NP_ERR_INVALID, "'q' must be at most 32 characters of a username");
        return;
    }
    PGconn *c = admin_db_get(s, call, r);
    if (c == NULL) {
        return;
    }
    char thr[24], mins[24], lim[24], off[24];
    /* '_' is a LIKE wildcard and may appear in names: escape it. */
    char pattern[2 * AUTH_USERNAME_MAX + 3];
    size_t o = 0;
    pattern[o++] = '%';
    for (size_t i = 0; q[i] != '\0'; i++) {
        if (q[i] == '_' || q[i] == '%' || q[i] == '\\') {
            pattern[o++] = '\\';
        }
        pattern[o++] = q[i];
    }
    pattern[o++] = '%';
    pattern[o] = '\0';
    const char *params[] = {
        auth_id_text(NP_SETTING_NOW(s->base.cfg, auth, AUTH_LOGIN_LOCKOUT_THRESHOLD), thr),
        auth_id_text(NP_SETTING_NOW(s->base.cfg, auth, AUTH_LOGIN_LOCKOUT_MINUTES), mins),
        auth_id_text(limit, lim), auth_id_text(offset, off), pattern};
    PGresult *res = NULL;
    np_err err =
        np_db_exec(c,
                   "SELECT " LIST_COLUMNS("1", "2") " FROM users u WHERE u.username ILIKE $5 "
                                                    "ORDER BY u.id LIMIT $3::int OFFSET $4::int",
                   5, params, &res);
    auth_db_put(s, c);
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, err, NULL);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; arr != NULL && i < PQntuples(res); i++) {
        json_t *one = user_json(res, i);
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
    pool_figures(s, arr);
    np_http_reply_json(call, 200, arr, NULL);
}

typedef struct {
    const char *role; /* NULL: unchanged */
    bool has_disabled, disabled;
    bool has_rpm;
    int64_t rpm; /* -1: clear */
} change;

static bool
read_change(np_rpc_call *call, const np_http_req *r, change *ch)
{
    /* manual_rpm and is_active: the earlier pool's names (is_active is the opposite of
     * disabled). */
    static const char *const allowed[] = {"role",       "disabled",  "rpm_override",
                                          "manual_rpm", "is_active", NULL};
    json_t *body = NULL;
    char why[256] = "";
    bool has_role = false, has_active = false, active = true;
    memset(ch, 0, sizeof(*ch));
    if (!np_request_body(call, r, allowed, &body)) {
        return false;
    }
    const char *role = NULL;
    bool ok =
        np_json_str(body, "role", false, 0, 16, &role, &has_role, why, sizeof(why)) == NP_ERR_OK &&
        np_json_bool(body, "disabled", false, &ch->disabled, &ch->has_disabled, why, sizeof(why)) ==
            NP_ERR_OK &&
        np_json_bool(body, "is_active", false, &active, &has_active, why, sizeof(why)) == NP_ERR_OK;
    if (ok && has_active && ch->has_disabled && active == ch->disabled) {
        snprintf(why, sizeof(why), "'disabled' and 'is_active' disagree; give one");
        ok = false;
    }
    if (ok && has_active) {
        ch->has_disabled = true;
        ch->disabled = !active;
    }
    const char *rpm_key =
        json_object_get(body, "manual_rpm") != NULL ? "manual_rpm" : "rpm_override";
    if (ok && json_object_get(body, "manual_rpm") != NULL &&
        json_object_get(body, "rpm_override") != NULL) {
        snprintf(why, sizeof(why), "give 'rpm_override' or 'manual_rpm', not both");
        ok = false;
    }
    if (ok && has_role) {
        if (strcmp(role, "user") == 0 || strcmp(role, "admin") == 0) {
            ch->role = strcmp(role, "user") == 0 ? "user" : "admin";
        } else {
            snprintf(why, sizeof(why), "'role' must be \"user\" or \"admin\"");
            ok = false;
        }
    }
    if (ok && np_json_is_null(body, rpm_key)) {
        ch->has_rpm = true;
        ch->rpm = -1;
    } else if (ok) {
        ok = np_json_int(body, rpm_key, false, 0, MAX_RPM_OVERRIDE, &ch->rpm, &ch->has_rpm, why,
                         sizeof(why)) == NP_ERR_OK;
    }
    if (ok && ch->role == NULL && !ch->has_disabled && !ch->has_rpm) {
        snprintf(why, sizeof(why),
                 "nothing to change: give 'role', 'disabled' or "
                 "'rpm_override'");
        ok = false;
    }
    json_decref(body);
    if (!ok) {
        np_http_reply_err(call, NP_ERR_INVALID, why);
    }
    return ok;
}

static void
emit(auth_service *s, const char *type, const np_http_req *r, int64_t uid, json_t *extra)
{
    json_t *f = json_pack("{s:I, s:I, s:s}", "actor", (json_int_t)r->user_id, "user",
                          (json_int_t)uid, "rid", r->rid);
    if (extra != NULL) {
        json_object_update(f, extra);
        json_decref(extra);
    }
    np_events_emit(s->base.events, type, f);
}

/* apply runs the change in one transaction under the admins lock. On success *before holds
 * the row as it was. Errors: NP_ERR_NOT_FOUND, NP_ERR_CONFLICT (last admin), NP_ERR_DB. */
static np_err
apply(PGconn *c, int64_t id, const change *ch, auth_user *before, PGresult **after, const char *thr,
      const char *mins)
{
    char idtext[24], rpm[24];
    np_err err = np_db_exec(c, "BEGIN", 0, NULL, NULL);
    if (err != NP_ERR_OK) {
        return err;
    }
    err = np_db_exec(c, "SELECT pg_advisory_xact_lock(" AUTH_ADMIN_LOCK ")", 0, NULL, NULL);
    if (err == NP_ERR_OK) {
        err = auth_user_by_id(c, id, before);
    }
    bool was_admin = err == NP_ERR_OK && strcmp(before->role, "admin") == 0 && !before->disabled;
    bool stays_admin = err == NP_ERR_OK &&
                       strcmp(ch->role ? ch->role : before->role, "admin") == 0 &&
                       !(ch->has_disabled ? ch->disabled : before->disabled);
    if (err == NP_ERR_OK && was_admin && !stays_admin) {
        PGresult *res = NULL;
        const char *p[] = {auth_id_text(id, idtext)};
        err = np_db_exec(c,
                         "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled "
                         "AND id <> $1",
                         1, p, &res);
        if (err == NP_ERR_OK) {
            np_db_row row = np_db_row_at(res, 0);
            int64_t others = np_db_int(&row, 0);
            err = row.err != NP_ERR_OK ? row.err : others == 0 ? NP_ERR_CONFLICT : NP_ERR_OK;
        }
        PQclear(res);
    }
    if (err == NP_ERR_OK) {
        /* Disabling ends every session (token_version); the gateway's cache forgets the
         * user within its TTL. */
        const char *p[] = {auth_id_text(id, idtext),
                           ch->role,
                           ch->has_disabled ? (ch->disabled ? "true" : "false") : NULL,
                           ch->has_rpm ? "true" : "false",
                           ch->has_rpm && ch->rpm >= 0 ? auth_id_text(ch->rpm, rpm) : NULL,
                           thr,
                           mins};
        err = np_db_exec(c,
                         "WITH u AS (UPDATE users SET role = coalesce($2, role), "
                         " disabled = coalesce($3::boolean, disabled), "
                         " rpm_override = CASE WHEN $4::boolean THEN $5::int "
                         "                ELSE rpm_override END, "
                         " token_version = token_version + "
                         "   CASE WHEN $3::boolean AND NOT disabled THEN 1 ELSE 0 END "
                         " WHERE id = $1 RETURNING *) "
                         "SELECT " LIST_COLUMNS("6", "7") " FROM u",
                         7, p, after);
    }
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, "COMMIT", 0, NULL, NULL);
    } else {
        PQclear(PQexec(c, "ROLLBACK"));
    }
    if (err != NP_ERR_OK) {
        PQclear(*after);
        *after = NULL;
    }
    return err;
}

static void
update(auth_service *s, np_rpc_call *call, const np_http_req *r, int64_t id)
{
    change ch;
    if (!read_change(call, r, &ch)) {
        return;
    }
    PGconn *c = admin_db_get(s, call, r);
    if (c == NULL) {
        return;
    }
    char thr[24], mins[24];
    auth_user before;
    PGresult *after = NULL;
    np_err err =
        apply(c, id, &ch, &before, &after,
              auth_id_text(NP_SETTING_NOW(s->base.cfg, auth, AUTH_LOGIN_LOCKOUT_THRESHOLD), thr),
              auth_id_text(NP_SETTING_NOW(s->base.cfg, auth, AUTH_LOGIN_LOCKOUT_MINUTES), mins));
    auth_db_put(s, c);
    np_wipe(before.password_hash, sizeof(before.password_hash));
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, err,
                          err == NP_ERR_NOT_FOUND  ? "no such user"
                          : err == NP_ERR_CONFLICT ? "this is the last active admin; make "
                                                     "another admin first"
                                                   : NULL);
        return;
    }
    json_t *one = user_json(after, 0);
    PQclear(after);
    if (one == NULL) {
        np_http_reply_err(call, NP_ERR_DB, NULL);
        return;
    }
    json_t *arr = json_array();
    json_array_append_new(arr, one);
    pool_figures(s, arr);
    np_http_reply_json(call, 200, json_incref(json_array_get(arr, 0)), NULL);
    json_decref(arr);
    if (ch.role != NULL && strcmp(ch.role, before.role) != 0) {
        emit(s, "admin.role_changed", r, id,
             json_pack("{s:s, s:s}", "from", before.role, "to", ch.role));
    }
    if (ch.has_disabled && ch.disabled != before.disabled) {
        emit(s, ch.disabled ? "admin.user_disabled" : "admin.user_enabled", r, id, NULL);
    }
    if (ch.has_rpm && ch.rpm != before.rpm_override) {
        emit(s, "admin.rpm_override_changed", r, id,
             json_pack("{s:o}", "rpm_override",
                       ch.rpm >= 0 ? json_integer((json_int_t)ch.rpm) : json_null()));
    }
}

/* revoke_keys deletes every relay key of user id (after a takeover): {"revoked": n}. */
static void
revoke_keys(auth_service *s, np_rpc_call *call, const np_http_req *r, int64_t id)
{
    PGconn *c = admin_db_get(s, call, r);
    if (c == NULL) {
        return;
    }
    int64_t n = 0;
    np_err err = auth_relaykeys_revoke_all(c, id, &n);
    auth_db_put(s, c);
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, err, err == NP_ERR_NOT_FOUND ? "no such user" : NULL);
        return;
    }
    np_http_reply_json(call, 200, json_pack("{s:I}", "revoked", (json_int_t)n), NULL);
    emit(s, "admin.relay_keys_revoked", r, id, json_pack("{s:I}", "revoked", (json_int_t)n));
}

void
auth_admin_http(auth_service *s, np_rpc_call *call, const np_http_req *r)
{
    if (r->user_id <= 0) {
        np_http_reply_err(call, NP_ERR_UNAUTHORIZED, NULL);
        return;
    }
    switch (r->op) {
    case NP_OP_ADMIN_USERS_LIST: list(s, call, r); break;
    case NP_OP_ADMIN_USER_REVOKE_KEYS: revoke_keys(s, call, r, r->id); break;
    case NP_OP_ADMIN_USER_UPDATE: update(s, call, r, r->id); break;
    default: np_http_reply_err(call, NP_ERR_NOT_FOUND, NULL); break;
    }
}
