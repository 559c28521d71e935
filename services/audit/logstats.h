/* GET /logs/stats?days=: the caller's request counts per UTC day and per status, for charts. */
#ifndef AUDIT_LOGSTATS_H
#define AUDIT_LOGSTATS_H

#include "np/db.h"
#include "np/httpop.h"

#define AUDIT_STATS_DAYS_DEFAULT 7
#define AUDIT_STATS_DAYS_MAX 366

/* audit_logstats_serve answers {days, since, total, ok, errors, by_day:[{day, total, ok,
 * errors}] (every day of the range, oldest first, zeros included), by_status:[{status,
 * count}]}; 400 on an unknown parameter or days outside 1..366. */
void audit_logstats_serve(np_db *db, np_rpc_call *call, const np_http_req *r);

#endif
