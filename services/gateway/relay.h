/* The relay (/v1/novelai/...): one relay.open to pool, then relay.next each time H2O has
 * written the previous chunk, so backpressure runs end to end and streams reach the client
 * event by event; relay.cancel when the client leaves. */
#ifndef GW_RELAY_H
#define GW_RELAY_H

#include "routes.h"
#include "server.h"

void gw_relay(gw_request *r, const gw_route *route);

#endif
