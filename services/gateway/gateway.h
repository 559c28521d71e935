/* The gateway service: HTTP ingress on H2O. It routes each request to the service that owns
 * it over NNG, serves the web UI and the operational endpoints, and never talks to
 * Postgres. */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include "np/config.h"
#include "np/errors.h"

typedef struct gw_gateway gw_gateway;

/* The gateway's settings. */
extern const np_cfg_table gw_settings_table; /* settings.def; the struct: settings.h */

/* gw_start binds PORT and starts the loop threads; why names the cause of a failure. */
np_err gw_start(gw_gateway **out, np_config *cfg, char *why, size_t whylen);
/* gw_port returns the bound port (useful when PORT is 0). */
int gw_port(const gw_gateway *gw);
/* gw_stop stops accepting, finishes the loop threads and frees; NULL is accepted. */
void gw_stop(gw_gateway *gw);

#endif
