/* The REST routes: authenticate as the route requires, hand the request to the owning
 * service as the "http" operation, and write its answer. */
#ifndef GW_FORWARD_H
#define GW_FORWARD_H

#include "routes.h"
#include "server.h"

void gw_forward(gw_request *r, const gw_route *route);
/* gw_service_client returns the NNG client for a service. */
np_rpc_client *gw_service_client(gw_gateway *gw, gw_service svc);
/* gw_authorize authenticates for route and calls then(r, principal) on success, or answers
 * 401/403/503 itself. The principal is NULL for public routes. */
typedef void (*gw_then)(gw_request *r, const gw_route *route, const void *principal);
void gw_authorize(gw_request *r, const gw_route *route, gw_then then);

#endif
