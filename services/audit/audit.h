/* The audit service: the event sink and the log queries. A library with a thin entry point; all state hangs off its
 * context, so several instances can live in one process. */
#ifndef AUDIT_H
#define AUDIT_H

#include "np/config.h"
#include "np/errors.h"

typedef struct audit_service audit_service;

/* The service's own settings. */
extern const np_cfg_spec audit_config[];

/* audit_start connects to the database and starts answering on AUDIT_RPC_LISTEN. */
np_err audit_start(audit_service **out, np_config *cfg, char *why, size_t whylen);
/* audit_stop stops answering and frees everything; NULL is accepted. */
void audit_stop(audit_service *s);

#endif
