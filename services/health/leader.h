/* Leader election among health instances: a Postgres advisory lock held by a dedicated
 * session that sets idle_session_timeout (HEALTH_LEADER_TIMEOUT_SECONDS), statement_timeout
 * and lock_timeout, so a frozen leader's session is ended by the server and its lock freed.
 * The leader proves it still holds the lock before each round of work (health_leader_check)
 * and steps down on any error. */
#ifndef HEALTH_LEADER_H
#define HEALTH_LEADER_H

#include <stdbool.h>

#include "np/config.h"
#include "np/db.h"
#include "np/errors.h"

typedef struct health_leader health_leader;

/* The advisory lock (two-int form, so pg_locks shows classid/objid/objsubid = 2). */
#define HEALTH_LOCK_CLASS 1313817676 /* "NPHL" */
#define HEALTH_LOCK_OBJ 1
/* The leader session's application_name starts with this, followed by its node id. */
#define HEALTH_LEADER_APP "naipool-leader:"

/* health_leader_new prepares an election over db's database for node (copied); db and cfg
 * must outlive it. NULL on no memory. */
health_leader *health_leader_new(np_db *db, const np_config *cfg, const char *node);
/* health_leader_free closes the session (releasing the lock); NULL is accepted. */
void health_leader_free(health_leader *l);

/* health_leader_check is the heartbeat: as leader, it verifies over the session that the
 * session is alive and still holds the lock (stepping down otherwise); as follower, it
 * (re)connects and tries to take the lock. Returns whether this instance leads now. Blocks
 * on the database (worker threads only). */
bool health_leader_check(health_leader *l);
/* health_leader_is reports the last known result without touching the database. */
bool health_leader_is(health_leader *l);

#endif
