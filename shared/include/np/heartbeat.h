/* Heartbeats: every instance of every back-end service writes a row of the nodes table
 * (service, node id, instance id, version, start time, last seen) every
 * NODE_HEARTBEAT_SECONDS, from a thread of its own, and deletes it on a graceful stop. The
 * health service lists them at GET /admin/nodes. */
#ifndef NP_HEARTBEAT_H
#define NP_HEARTBEAT_H

#include <stdbool.h>

#include "np/config.h"
#include "np/db.h"
#include "np/errors.h"

typedef struct np_heartbeat np_heartbeat;

/* One instance's row. */
typedef struct {
    const char *svc, *node, *instance, *version, *started; /* started: ISO 8601 UTC */
} np_heartbeat_row;

/* np_heartbeat_store writes the row (last seen: now), or deletes it when gone. */
np_err np_heartbeat_store(np_db *db, const np_heartbeat_row *row, bool gone);

/* A sender delivers a beat somewhere else (the gateway has no database: it sends its beats to
 * the health service, which stores them). */
typedef void (*np_heartbeat_send_fn)(void *arg, const np_heartbeat_row *row, bool gone);

/* np_heartbeat_open starts beating for service svc on node (both copied) through db, which
 * must outlive the heartbeat. The first beat is written before it returns when the database
 * answers. NP_ERR_NOMEM or NP_ERR_SYSTEM otherwise. */
np_err np_heartbeat_open(np_heartbeat **out, np_db *db, const np_config *cfg, const char *svc,
                         const char *node);
/* np_heartbeat_open_with beats through send(arg, row, gone) instead of a database. */
np_err np_heartbeat_open_with(np_heartbeat **out, const np_config *cfg, const char *svc,
                              const char *node, np_heartbeat_send_fn send, void *arg);
/* np_heartbeat_close stops the thread and deletes the row; NULL is accepted. */
void np_heartbeat_close(np_heartbeat *hb);
/* np_heartbeat_instance returns this instance's id (node, pid and a random part; borrowed). */
const char *np_heartbeat_instance(const np_heartbeat *hb);

#endif
