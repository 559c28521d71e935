/* The auth service: accounts, sessions (JWT), relay keys, login throttling. A library with a thin
 * entry point; all state hangs off its context, so several instances can live in one process. */
#ifndef AUTH_H
#define AUTH_H

#include "np/config.h"
#include "np/errors.h"

typedef struct auth_service auth_service;

/* The service's own settings. */
extern const np_cfg_table auth_settings_table; /* settings.def; the struct: settings.h */

/* auth_start connects to the database and starts answering on AUTH_RPC_LISTEN. */
np_err auth_start(auth_service **out, np_config *cfg, char *why, size_t whylen);
/* auth_stop stops answering and frees everything; NULL is accepted. */
void auth_stop(auth_service *s);

#endif
