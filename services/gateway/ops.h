/* The operational endpoints: /healthz, /readyz and /metrics. */
#ifndef GW_OPS_H
#define GW_OPS_H

#include "server.h"

void gw_ops_healthz(gw_request *r);
/* gw_ops_readyz pings auth and pool; each must answer and see its database. The answer is
 * reused for a second, so probes cost the services at most one ping each a second. */
void gw_ops_readyz(gw_request *r);
/* gw_ops_metrics merges every service's figures; with METRICS_TOKEN set it answers 401 unless
 * the request carries "Authorization: Bearer <token>"; the merged text is reused for
 * METRICS_CACHE_SECONDS. */
void gw_ops_metrics(gw_request *r);
/* gw_ops_fini frees the cached answers. */
void gw_ops_fini(gw_gateway *gw);

#endif
