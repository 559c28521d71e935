/* The admin audit trail endpoint. */
#include "trail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs.h"
#include "query.h"
#include "sql.h"

static bool
type_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
              *p == '-')) {
            return false;
        }
    }
    return true;
}

void
audit_trail_serve(np_db *db, np_rpc_call *call, const np_http_req *r)
{
    static const char *const keys[] = {"limit",   "before", "type",  "user",
                                       "subject", "since",  "until", NULL};
    char why[300];
    audit_query q;
    if (!audit_query_parse(r->query, keys, &q, why, sizeof(why))) {
        np_http_reply_err(call, NP_ERR_INVALID, why);
        return;
    }
    int64_t limit = AUDIT_LOGS_LIMIT_DEFAULT, user = 0, before_us = 0, before_id = 0;
    int64_t since = 0, until = 0;
    const char *v, *type = audit_query_get(&q, "type"), *subject = audit_query_get(&q, "subject");
    const char *bad = NULL;
    if ((v = audit_query_get(&q, "limit")) &&
        !audit_parse_int(v, 1, AUDIT_LOGS_LIMIT_MAX, &limit)) {
        bad = "limit must be a whole number from 1 to 500";
    } else if ((v = audit_query_get(&q, "before")) &&
               !audit_cursor_parse(v, &before_us, &before_id)) {
        bad = "before must be a cursor from an earlier answer (X-Next-Cursor or a row's cursor)";
    } else if (type && !type_ok(type)) {
        bad = "type must be an event type such as auth.login_failed, or a prefix such as auth.";
    } else if ((v = audit_query_get(&q, "user")) && !audit_parse_int(v, 1, INT64_MAX / 2, &user)) {
        bad = "user must be a user id (a positive whole number)";
    } else if (subject && strlen(subject) > 200) {
        bad = "subject is at most 200 bytes";
    } else if ((v = audit_query_get(&q, "since")) && !audit_parse_time(v, &since)) {
        bad = "since must be a time: RFC 3339 (2026-11-26T06:00:00Z), a date, or Unix seconds";
    } else if ((v = audit_query_get(&q, "until")) && !audit_parse_time(v, &until)) {
        bad = "until must be a time: RFC 3339 (2026-11-26T06:00:00Z), a date, or Unix seconds";
    }
    if (bad != NULL) {
        np_http_reply_err(call, NP_ERR_INVALID, bad);
        return;
    }
    audit_sql s;
    audit_sql_init(&s);
    audit_sql_add(&s, "SELECT id, (extract(epoch FROM time) * 1000000)::bigint, type, "
                      "actor_user_id, subject, details::text, producer_id FROM audit_events "
                      "WHERE true");
    char prefix[80];
    if (type != NULL && type[strlen(type) - 1] == '.') {
        /* A prefix: type_ok allows no LIKE wildcards, so the pattern is literal. */
        snprintf(prefix, sizeof(prefix), "%s%%", type);
        audit_sql_add(&s, " AND type LIKE $%d", audit_sql_str(&s, prefix));
    } else if (type != NULL) {
        audit_sql_add(&s, " AND type = $%d", audit_sql_str(&s, type));
    }
    if (user > 0) {
        audit_sql_add(&s, " AND actor_user_id = $%d", audit_sql_int(&s, user));
    }
    if (subject != NULL) {
        audit_sql_add(&s, " AND subject = $%d", audit_sql_str(&s, subject));
    }
    if (audit_query_get(&q, "since")) {
        audit_sql_add(&s, " AND time >= " AUDIT_SQL_TS, audit_sql_int(&s, since));
    }
    if (audit_query_get(&q, "until")) {
        audit_sql_add(&s, " AND time < " AUDIT_SQL_TS, audit_sql_int(&s, until));
    }
    if (before_id > 0) {
        int t = audit_sql_int(&s, before_us);
        audit_sql_add(&s, " AND (time, id) < (" AUDIT_SQL_TS ", $%d::bigint)", t,
                      audit_sql_int(&s, before_id));
    }
    audit_sql_add(&s, " ORDER BY time DESC, id DESC LIMIT $%d", audit_sql_int(&s, limit));
    PGresult *res = NULL;
    PGconn *conn = np_db_acquire(db, 5000);
    np_err err = conn ? np_db_exec(conn, s.text.data, s.n, s.v, &res) : NP_ERR_DB;
    np_db_release(db, conn);
    audit_sql_fini(&s);
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, NP_ERR_DB, NULL);
        return;
    }
    json_t *rows = json_array();
    int n = PQntuples(res);
    char cursor[48] = "", when[40];
    for (int i = 0; rows != NULL && i < n; i++) {
        np_db_row row = np_db_row_at(res, i);
        int64_t id = np_db_int(&row, 0);
        int64_t t = np_db_int(&row, 1);
        json_t *actor = np_db_null(&row, 3) ? json_null() : json_integer(np_db_int(&row, 3));
        if (row.err != NP_ERR_OK) {
            json_decref(actor);
            json_decref(rows);
            rows = NULL;
            break;
        }
        audit_cursor_format(t, id, cursor, sizeof(cursor));
        audit_time_format(t, when, sizeof(when));
        json_t *details = json_loads(PQgetvalue(res, i, 5), 0, NULL);
        json_t *o = json_pack(
            "{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:s}", "id", (json_int_t)id, "cursor", cursor,
            "time", when, "type", PQgetvalue(res, i, 2), "actor_user_id", actor, "subject",
            PQgetisnull(res, i, 4) ? json_null() : json_string(PQgetvalue(res, i, 4)), "details",
            details ? details : json_object(), "producer_id", PQgetvalue(res, i, 6));
        json_array_append_new(rows, o);
    }
    PQclear(res);
    if (rows == NULL) {
        np_http_reply_err(call, NP_ERR_DB, NULL);
        return;
    }
    const char *headers[] = {"X-Next-Cursor", cursor, NULL};
    np_http_reply_json(call, 200, rows, n == limit && n > 0 ? headers : NULL);
}
