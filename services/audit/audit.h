/* The audit service: the event sink (usage logs and the audit trail) and the log queries.
 * A library with a thin entry point; all state hangs off its context, so several instances
 * can live in one process.
 *
 * Operations: ping; events.stats and metrics (answered by np/service.h; metrics adds the
 * sink's figures); http for GET /logs, /logs/stats, /admin/logs, /admin/audit;
 * retention.run {days, batch, audit_days?} -> {deleted, usage, audit}; audit.stats -> the
 * sink's figures (sink.h: audit_sink_stats, same names). */
#ifndef AUDIT_H
#define AUDIT_H

#include "np/config.h"
#include "np/errors.h"

typedef struct audit_service audit_service;

/* The service's own settings. */
extern const np_cfg_table audit_settings_table; /* settings.def; the struct: settings.h */

/* audit_start connects to the database, starts the event sink (EVENTS_LISTEN, ACKS_LISTEN)
 * and answers on AUDIT_RPC_LISTEN. NP_ERR_* with why naming the cause. */
np_err audit_start(audit_service **out, np_config *cfg, char *why, size_t whylen);
/* audit_stop stops answering and receiving and frees everything; NULL is accepted. */
void audit_stop(audit_service *s);

#endif
