/* The operational endpoints: /healthz, /readyz and /metrics. */
#ifndef GW_OPS_H
#define GW_OPS_H

#include "server.h"

void gw_ops_healthz(gw_request *r);
/* gw_ops_readyz pings auth and pool; each must answer and see its database. */
void gw_ops_readyz(gw_request *r);
void gw_ops_metrics(gw_request *r);

#endif
