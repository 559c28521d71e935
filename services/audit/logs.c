/* The usage log endpoints. */
#include "logs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

np_err
audit_logs_filter_parse(const char *query, bool admin, int64_t caller, audit_logs_filter *f,
                        char *why, size_t whylen)
{
    static const char *const user_keys[] = {"limit", "before", "status", "route",
                                            "since", "until",  NULL};
    static const char *const admin_keys[] = {"limit", "before", "status", "route",
                                             "since", "until",  "user",   NULL};
    memset(f, 0, sizeof(*f));
    f->admin = admin;
    f->user_id = admin ? 0 : caller;
    f->limit = AUDIT_LOGS_LIMIT_DEFAULT;
    audit_query q;
    if (!audit_query_parse(query, admin ? admin_keys : user_keys, &q, why, whylen)) {
        return NP_ERR_INVALID;
    }
    const char *v;
    if ((v = audit_query_get(&q, "limit")) != NULL &&
        !audit_parse_int(v, 1, AUDIT_LOGS_LIMIT_MAX, &f->limit)) {
        snprintf(why, whylen, "limit must be a whole number from 1 to %d", AUDIT_LOGS_LIMIT_MAX);
        return NP_ERR_INVALID;
    }
    if ((v = audit_query_get(&q, "before")) != NULL) {
        if (!audit_cursor_parse(v, &f->before_us, &f->before_id)) {
            snprintf(why, whylen,
                     "before must be a cursor from an earlier answer "
                     "(the X-Next-Cursor header or a row's cursor)");
            return NP_ERR_INVALID;
        }
        f->before = true;
    }
    if ((v = audit_query_get(&q, "status")) != NULL) {
        f->status = true;
        int64_t code;
        if (strcmp(v, "ok") == 0) {
            f->status_lo = 100;
            f->status_hi = 399;
        } else if (strcmp(v, "error") == 0) {
            f->status_lo = 400;
            f->status_hi = 999;
        } else if (strlen(v) == 3 && v[0] >= '1' && v[0] <= '5' && strcmp(v + 1, "xx") == 0) {
            f->status_lo = (v[0] - '0') * 100;
            f->status_hi = f->status_lo + 99;
        } else if (audit_parse_int(v, 100, 599, &code)) {
            f->status_lo = f->status_hi = code;
        } else {
            snprintf(why, whylen,
                     "status must be an HTTP status (100-599), a class such as "
                     "4xx, ok or error");
            return NP_ERR_INVALID;
        }
    }
    if ((v = audit_query_get(&q, "route")) != NULL) {
        if (v[0] != '/' || strlen(v) > 200) {
            snprintf(why, whylen, "route must be a path starting with / (at most 200 bytes)");
            return NP_ERR_INVALID;
        }
        snprintf(f->route, sizeof(f->route), "%s", v);
    }
    if ((v = audit_query_get(&q, "since")) != NULL) {
        if (!audit_parse_time(v, &f->since_us)) {
            snprintf(why, whylen,
                     "since must be a time: RFC 3339 (2026-11-26T06:00:00Z), a "
                     "date, or Unix seconds");
            return NP_ERR_INVALID;
        }
        f->since = true;
    }
    if ((v = audit_query_get(&q, "until")) != NULL) {
        if (!audit_parse_time(v, &f->until_us)) {
            snprintf(why, whylen,
                     "until must be a time: RFC 3339 (2026-11-26T06:00:00Z), a "
                     "date, or Unix seconds");
            return NP_ERR_INVALID;
        }
        f->until = true;
    }
    if (f->since && f->until && f->since_us > f->until_us) {
        snprintf(why, whylen, "since must not be later than until");
        return NP_ERR_INVALID;
    }
    if (admin && (v = audit_query_get(&q, "user")) != NULL &&
        !audit_parse_int(v, 1, INT64_MAX / 2, &f->user_id)) {
        snprintf(why, whylen, "user must be a user id (a positive whole number)");
        return NP_ERR_INVALID;
    }
    return NP_ERR_OK;
}

void
audit_logs_sql(const audit_logs_filter *f, audit_sql *q)
{
    audit_sql_add(q, "SELECT id, (extract(epoch FROM time) * 1000000)::bigint, request_id, "
                     "route, model, width, height, steps, n_samples, status, error, "
                     "latency_ms, bytes, cost");
    if (f->admin) {
        audit_sql_add(q, ", user_id, relay_key_id, upstream_key_id, node, retries, ip");
    }
    audit_sql_add(q, " FROM usage_logs WHERE true");
    if (f->user_id > 0) {
        audit_sql_add(q, " AND user_id = $%d", audit_sql_int(q, f->user_id));
    }
    if (f->status) {
        int lo = audit_sql_int(q, f->status_lo);
        audit_sql_add(q, " AND status BETWEEN $%d AND $%d", lo, audit_sql_int(q, f->status_hi));
    }
    if (f->route[0] != '\0') {
        audit_sql_add(q, " AND route = $%d", audit_sql_str(q, f->route));
    }
    if (f->since) {
        audit_sql_add(q, " AND time >= " AUDIT_SQL_TS, audit_sql_int(q, f->since_us));
    }
    if (f->until) {
        audit_sql_add(q, " AND time < " AUDIT_SQL_TS, audit_sql_int(q, f->until_us));
    }
    if (f->before) {
        int t = audit_sql_int(q, f->before_us);
        audit_sql_add(q, " AND (time, id) < (" AUDIT_SQL_TS ", $%d::bigint)", t,
                      audit_sql_int(q, f->before_id));
    }
    audit_sql_add(q, " ORDER BY time DESC, id DESC LIMIT $%d", audit_sql_int(q, f->limit));
}

static json_t *
col_int(np_db_row *row, int col)
{
    return np_db_null(row, col) ? json_null() : json_integer(np_db_int(row, col));
}

static json_t *
col_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

void
audit_logs_serve(np_db *db, const np_config *cfg, np_rpc_call *call, const np_http_req *r,
                 bool admin)
{
    char why[300];
    audit_logs_filter f;
    if (audit_logs_filter_parse(r->query, admin, r->user_id, &f, why, sizeof(why)) != NP_ERR_OK) {
        np_http_reply_err(call, NP_ERR_INVALID, why);
        return;
    }
    bool show_ip = admin && NP_SETTING_NOW(cfg, np_common, LOG_REQUEST_IP);
    audit_sql q;
    audit_sql_init(&q);
    audit_logs_sql(&f, &q);
    PGresult *res = NULL;
    PGconn *conn = np_db_acquire(db, 5000);
    np_err err = conn ? np_db_exec(conn, q.text.data, q.n, q.v, &res) : NP_ERR_DB;
    np_db_release(db, conn);
    audit_sql_fini(&q);
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, err == NP_ERR_DB ? NP_ERR_DB : NP_ERR_INTERNAL, NULL);
        return;
    }
    json_t *rows = json_array();
    int n = PQntuples(res);
    char cursor[48] = "", when[40];
    for (int i = 0; rows != NULL && i < n; i++) {
        np_db_row row = np_db_row_at(res, i);
        int64_t id = np_db_int(&row, 0);
        int64_t t = np_db_int(&row, 1);
        audit_cursor_format(t, id, cursor, sizeof(cursor));
        audit_time_format(t, when, sizeof(when));
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "cursor", json_string(cursor));
        json_object_set_new(o, "time", json_string(when));
        json_object_set_new(o, "request_id", col_str(res, i, 2));
        json_object_set_new(o, "route", col_str(res, i, 3));
        json_object_set_new(o, "model", col_str(res, i, 4));
        json_object_set_new(o, "width", col_int(&row, 5));
        json_object_set_new(o, "height", col_int(&row, 6));
        json_object_set_new(o, "steps", col_int(&row, 7));
        json_object_set_new(o, "n_samples", col_int(&row, 8));
        json_object_set_new(o, "status", col_int(&row, 9));
        json_object_set_new(o, "error", col_str(res, i, 10));
        json_object_set_new(o, "latency_ms", col_int(&row, 11));
        json_object_set_new(o, "bytes", col_int(&row, 12));
        json_object_set_new(o, "cost", col_int(&row, 13)); /* the Anlas estimate */
        if (admin) {
            json_object_set_new(o, "user_id", col_int(&row, 14));
            json_object_set_new(o, "relay_key_id", col_int(&row, 15));
            json_object_set_new(o, "upstream_key_id", col_int(&row, 16));
            json_object_set_new(o, "node", col_str(res, i, 17));
            json_object_set_new(o, "retries", col_int(&row, 18));
            if (show_ip) {
                json_object_set_new(o, "ip", col_str(res, i, 19));
            }
        }
        json_array_append_new(rows, o);
        if (row.err != NP_ERR_OK) {
            json_decref(rows);
            rows = NULL;
        }
    }
    PQclear(res);
    if (rows == NULL) {
        np_http_reply_err(call, NP_ERR_DB, NULL);
        return;
    }
    /* A full page may have a next one: say where it starts. */
    const char *headers[] = {"X-Next-Cursor", cursor, NULL};
    np_http_reply_json(call, 200, rows, n == f.limit && n > 0 ? headers : NULL);
}
