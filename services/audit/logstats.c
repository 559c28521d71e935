/* Per-day and per-status usage counts of one user. */
#include "logstats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query.h"
#include "sql.h"

void
audit_logstats_serve(np_db *db, np_rpc_call *call, const np_http_req *r)
{
    static const char *const keys[] = {"days", NULL};
    char why[300];
    audit_query q;
    int64_t days = AUDIT_STATS_DAYS_DEFAULT;
    if (!audit_query_parse(r->query, keys, &q, why, sizeof(why))) {
        np_http_reply_err(call, NP_ERR_INVALID, why);
        return;
    }
    const char *v = audit_query_get(&q, "days");
    if (v != NULL && !audit_parse_int(v, 1, AUDIT_STATS_DAYS_MAX, &days)) {
        snprintf(why, sizeof(why), "days must be a whole number from 1 to %d",
                 AUDIT_STATS_DAYS_MAX);
        np_http_reply_err(call, NP_ERR_INVALID, why);
        return;
    }
    int64_t today = (int64_t)time(NULL) / 86400;
    int64_t first = today - days + 1;
    audit_sql s;
    audit_sql_init(&s);
    int uid = audit_sql_int(&s, r->user_id);
    audit_sql_add(&s,
                  "SELECT floor(extract(epoch FROM time) / 86400)::bigint, status, count(*) "
                  "FROM usage_logs WHERE user_id = $%d AND time >= " AUDIT_SQL_TS
                  " GROUP BY 1, 2 ORDER BY 1, 2",
                  uid, audit_sql_int(&s, first * 86400 * 1000000));
    PGresult *res = NULL;
    PGconn *conn = np_db_acquire(db, 5000);
    np_err err = conn ? np_db_exec(conn, s.text.data, s.n, s.v, &res) : NP_ERR_DB;
    np_db_release(db, conn);
    audit_sql_fini(&s);
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, NP_ERR_DB, NULL);
        return;
    }
    int64_t(*per_day)[3] = calloc((size_t)days, sizeof(*per_day)); /* total, ok, errors */
    json_t *by_status = json_object();
    int64_t total = 0, ok = 0, errors = 0;
    for (int i = 0; per_day != NULL && i < PQntuples(res); i++) {
        np_db_row row = np_db_row_at(res, i);
        int64_t d = np_db_int(&row, 0) - first;
        int64_t status = np_db_int(&row, 1);
        int64_t count = np_db_int(&row, 2);
        if (row.err != NP_ERR_OK) {
            err = row.err;
            break;
        }
        if (d < 0 || d >= days) {
            continue; /* a producer clock ahead of ours: outside the range asked for */
        }
        bool good = status >= 100 && status < 400;
        per_day[d][0] += count;
        per_day[d][good ? 1 : 2] += count;
        total += count;
        *(good ? &ok : &errors) += count;
        char key[8];
        snprintf(key, sizeof(key), "%d", (int)status);
        json_t *prev = json_object_get(by_status, key);
        json_object_set_new(by_status, key,
                            json_integer((prev ? json_integer_value(prev) : 0) + count));
    }
    PQclear(res);
    if (per_day == NULL || err != NP_ERR_OK) {
        json_decref(by_status);
        free(per_day);
        np_http_reply_err(call, per_day == NULL ? NP_ERR_NOMEM : err, NULL);
        return;
    }
    json_t *days_arr = json_array();
    for (int64_t d = 0; d < days; d++) {
        char day[40];
        audit_time_format((first + d) * 86400 * 1000000, day, sizeof(day));
        day[10] = '\0';
        json_array_append_new(days_arr,
                              json_pack("{s:s, s:I, s:I, s:I}", "day", day, "total",
                                        (json_int_t)per_day[d][0], "ok", (json_int_t)per_day[d][1],
                                        "errors", (json_int_t)per_day[d][2]));
    }
    free(per_day);
    json_t *status_arr = json_array();
    const char *key;
    json_t *val;
    json_object_foreach(by_status, key, val)
    {
        json_array_append_new(status_arr, json_pack("{s:i, s:O}", "status",
                                                    (int)strtol(key, NULL, 10), "count", val));
    }
    json_decref(by_status);
    char since[40];
    audit_time_format(first * 86400 * 1000000, since, sizeof(since));
    json_t *body =
        json_pack("{s:I, s:s, s:I, s:I, s:I, s:o, s:o}", "days", (json_int_t)days, "since", since,
                  "total", (json_int_t)total, "ok", (json_int_t)ok, "errors", (json_int_t)errors,
                  "by_day", days_arr, "by_status", status_arr);
    np_http_reply_json(call, 200, body, NULL);
}
