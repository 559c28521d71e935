/* GET /logs (the caller's usage) and GET /admin/logs (everyone's): filters, keyset
 * pagination newest first, and the fields each audience may see. Users never see key ids
 * or IPs; admins see the ip only while LOG_REQUEST_IP is on. */
#ifndef AUDIT_LOGS_H
#define AUDIT_LOGS_H

#include <stdbool.h>
#include <stdint.h>

#include "np/config.h"
#include "np/db.h"
#include "np/errors.h"
#include "np/httpop.h"
#include "query.h"
#include "sql.h"

#define AUDIT_LOGS_LIMIT_DEFAULT 50
#define AUDIT_LOGS_LIMIT_MAX 500

typedef struct {
    bool admin;
    int64_t user_id; /* users: the caller; admins: the `user` filter, 0 for everyone */
    int64_t limit;
    bool before;
    int64_t before_us, before_id;
    bool status;
    int64_t status_lo, status_hi;
    char route[AUDIT_QUERY_VALUE_MAX]; /* "" for any */
    bool since, until;
    int64_t since_us, until_us;
} audit_logs_filter;

/* audit_logs_filter_parse reads the query string: limit (1..500, default 50), before (a
 * cursor), status (a code, "2xx".."5xx", "ok" or "error"), route, since, until, and for
 * admins user. NP_ERR_INVALID with a sentence in why otherwise. */
np_err audit_logs_filter_parse(const char *query, bool admin, int64_t caller, audit_logs_filter *f,
                               char *why, size_t whylen);

/* audit_logs_sql builds the SELECT for f into q (initialised by the caller). Columns: id,
 * time_us, request_id, route, model, width, height, steps, n_samples, status, error,
 * latency_ms, bytes, then for admins user_id, relay_key_id, upstream_key_id, node, retries,
 * cost, ip. */
void audit_logs_sql(const audit_logs_filter *f, audit_sql *q);

/* audit_logs_serve answers GET /logs (admin false) or GET /admin/logs (admin true). */
void audit_logs_serve(np_db *db, const np_config *cfg, np_rpc_call *call, const np_http_req *r,
                      bool admin);

#endif
