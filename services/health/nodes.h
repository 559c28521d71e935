/* GET /admin/nodes: every instance that heartbeats (service, node id, version, start time,
 * last seen, alive) and the current health leader, read from the lock table itself (the
 * session holding the election lock), so a stale row can never name a leader. */
#ifndef HEALTH_NODES_H
#define HEALTH_NODES_H

#include <jansson.h>

#include "np/config.h"
#include "np/db.h"
#include "np/errors.h"

/* health_nodes_list builds {leader: {node, since} | null, nodes: [...]} into *out
 * (json_decref). NP_ERR_DB when the database cannot be used. */
np_err health_nodes_list(np_db *db, const np_config *cfg, json_t **out);

#endif
