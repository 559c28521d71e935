/* The health service: the leader-elected key and proxy probes and log retention. A library with a
 * thin entry point; all state hangs off its context, so several instances can live in one process.
 */
#ifndef HEALTH_H
#define HEALTH_H

#include "np/config.h"
#include "np/errors.h"

typedef struct health_service health_service;

/* The service's own settings. */
extern const np_cfg_table health_settings_table; /* settings.def; the struct: settings.h */

/* health_start connects to the database and starts answering on HEALTH_RPC_LISTEN. */
np_err health_start(health_service **out, np_config *cfg, char *why, size_t whylen);
/* health_stop stops answering and frees everything; NULL is accepted. */
void health_stop(health_service *s);

#endif
