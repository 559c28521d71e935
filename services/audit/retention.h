/* Log retention: deleting old rows in small batches, so a large backlog never holds long
 * locks or one huge transaction. The health leader calls the `retention.run` operation
 * repeatedly (until fewer than `batch` rows come back deleted). */
#ifndef AUDIT_RETENTION_H
#define AUDIT_RETENTION_H

#include <stdint.h>

#include "np/db.h"
#include "np/rpc.h"

/* audit_retention_run deletes up to batch usage_logs rows older than days, and, when
 * audit_days > 0, up to batch audit_events rows older than audit_days; the counts go to
 * *usage and *audit. NP_ERR_DB when the database cannot be used. */
np_err audit_retention_run(np_db *db, int64_t days, int64_t batch, int64_t audit_days,
                           int64_t *usage, int64_t *audit);

/* audit_retention_serve answers the operation
 *   retention.run {days: 1..36500, batch: 1..100000, audit_days?: 0..36500}
 *   -> {deleted, usage, audit}
 * with an NP_ERR_INVALID error reply on bad fields. */
void audit_retention_serve(np_db *db, np_rpc_call *call, const msgpack_object *req);

#endif
