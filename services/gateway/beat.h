/* The gateway's heartbeat: it has no database, so it sends its beats to the health service
 * (op node.beat), which keeps its row in the nodes table shown at /admin/nodes. */
#ifndef GW_BEAT_H
#define GW_BEAT_H

#include "np/heartbeat.h"
#include "server.h"

/* gw_beat_open starts beating for gw; a failure only costs the row, never the gateway. */
np_err gw_beat_open(gw_gateway *gw, np_heartbeat **out);

#endif
