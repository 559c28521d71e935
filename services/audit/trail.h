/* GET /admin/audit: the audit trail (admin actions, auth events, key state changes...),
 * newest first, with filters and the same keyset cursor as the usage logs. */
#ifndef AUDIT_TRAIL_H
#define AUDIT_TRAIL_H

#include "np/db.h"
#include "np/httpop.h"

/* audit_trail_serve answers [{id, cursor, time, type, actor_user_id, subject, details,
 * producer_id}] with X-Next-Cursor on a full page. Filters: limit (1..500, default 50),
 * before, type (exact, or a prefix ending in "." such as "auth."), user (actor id),
 * subject, since, until; 400 with a sentence on anything else. */
void audit_trail_serve(np_db *db, np_rpc_call *call, const np_http_req *r);

#endif
