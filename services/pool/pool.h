/* The pool service: contributed keys, the scheduler, rate limits and the upstream relay. A library
 * with a thin entry point; all state hangs off its context, so several instances can live in one
 * process. */
#ifndef POOL_H
#define POOL_H

#include "np/config.h"
#include "np/errors.h"

typedef struct pool_service pool_service;

/* The service's own settings. */
extern const np_cfg_table pool_settings_table; /* settings.def; the struct: settings.h */

/* pool_start connects to the database and starts answering on POOL_RPC_LISTEN. */
np_err pool_start(pool_service **out, np_config *cfg, char *why, size_t whylen);
/* pool_stop stops answering and frees everything; NULL is accepted. */
void pool_stop(pool_service *s);

#endif
