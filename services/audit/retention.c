/* Batched deletion of old log rows. */
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>

#include "np/wire.h"

static np_err
delete_batch(PGconn *conn, const char *sql, int64_t days, int64_t batch, int64_t *deleted)
{
    char d[24], b[24];
    snprintf(d, sizeof(d), "%lld", (long long)days);
    snprintf(b, sizeof(b), "%lld", (long long)batch);
    const char *params[] = {d, b};
    PGresult *r = NULL;
    np_err err = np_db_exec(conn, sql, 2, params, &r);
    if (err == NP_ERR_OK) {
        *deleted = strtoll(PQcmdTuples(r), NULL, 10);
        PQclear(r);
    }
    return err;
}

np_err
audit_retention_run(np_db *db, int64_t days, int64_t batch, int64_t audit_days, int64_t *usage,
                    int64_t *audit)
{
    /* The inner SELECT walks the time index from the oldest row, so each batch is cheap. */
    static const char usage_sql[] =
        "DELETE FROM usage_logs WHERE id IN (SELECT id FROM usage_logs WHERE time < now() - "
        "make_interval(days => $1::int) ORDER BY time LIMIT $2::int)";
    static const char audit_sql[] =
        "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE time < now() - "
        "make_interval(days => $1::int) ORDER BY time LIMIT $2::int)";
    *usage = *audit = 0;
    PGconn *conn = np_db_acquire(db, 5000);
    if (conn == NULL) {
        return NP_ERR_DB;
    }
    np_err err = delete_batch(conn, usage_sql, days, batch, usage);
    if (err == NP_ERR_OK && audit_days > 0) {
        err = delete_batch(conn, audit_sql, audit_days, batch, audit);
    }
    np_db_release(db, conn);
    return err;
}

void
audit_retention_serve(np_db *db, np_rpc_call *call, const msgpack_object *req)
{
    int64_t days = 0, batch = 0, audit_days = 0;
    if (!np_wire_get_int(req, "days", &days) || days < 1 || days > 36500) {
        np_rpc_reply_error(call, NP_ERR_INVALID, "days must be a whole number from 1 to 36500");
        return;
    }
    if (!np_wire_get_int(req, "batch", &batch) || batch < 1 || batch > 100000) {
        np_rpc_reply_error(call, NP_ERR_INVALID, "batch must be a whole number from 1 to 100000");
        return;
    }
    if (np_wire_get(req, "audit_days") != NULL &&
        (!np_wire_get_int(req, "audit_days", &audit_days) || audit_days < 0 ||
         audit_days > 36500)) {
        np_rpc_reply_error(call, NP_ERR_INVALID,
                           "audit_days must be a whole number from 0 (keep) to 36500");
        return;
    }
    int64_t usage = 0, audit = 0;
    np_err err = audit_retention_run(db, days, batch, audit_days, &usage, &audit);
    if (err != NP_ERR_OK) {
        np_rpc_reply_error(call, err, NULL);
        return;
    }
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 3);
    np_wire_int(&w, "deleted", usage + audit);
    np_wire_int(&w, "usage", usage);
    np_wire_int(&w, "audit", audit);
    np_rpc_reply(call, &w);
    np_wire_writer_fini(&w);
}
