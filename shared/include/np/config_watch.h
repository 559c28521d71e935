/* The runtime-configuration watcher: one thread per process keeps the settings an admin may
 * change online (NP_CFG_RUNTIME) in step with the config table. It LISTENs on channel
 * np_config over a dedicated connection (a trigger of 0005_health.sql notifies every insert,
 * update and delete with the key as payload), applies a change with np_config_set(...,
 * NP_CFG_SRC_DB), falls back to the environment or default value when a row is deleted, and
 * reloads the whole table after every (re)connect, since a NOTIFY sent while it was
 * disconnected is lost, and every CONFIG_RELOAD_SECONDS as a safety net. */
#ifndef NP_CONFIG_WATCH_H
#define NP_CONFIG_WATCH_H

#include <libpq-fe.h>
#include <stddef.h>

#include "np/config.h"
#include "np/db.h"
#include "np/errors.h"

/* The NOTIFY channel of the config table. */
#define NP_CONFIG_CHANNEL "np_config"

/* np_config_watch_acquire starts the watcher of cfg, or takes one more reference to the
 * watcher already running for cfg in this process (several services of `naipool all` share
 * one configuration, so they share one watcher). It connects to DATABASE_URL, applies
 * the table once (through db) before returning; when the database cannot be reached now, the thread
 * keeps trying. NP_ERR_NOMEM or NP_ERR_SYSTEM otherwise. */
np_err np_config_watch_acquire(np_config *cfg, np_db *db);
/* np_config_watch_release drops one reference; the last one stops the thread. */
void np_config_watch_release(np_config *cfg);

/* np_config_apply_row applies one row of the config table (value NULL: the row is gone) to
 * cfg; only runtime settings are touched. Returns true when the effective value changed.
 * Invalid stored values are logged and ignored. */
bool np_config_apply_row(np_config *cfg, const char *key, const char *value);
/* np_config_apply_table applies n rows read from the table and unsets every runtime setting
 * of database origin that is not among them. */
void np_config_apply_table(np_config *cfg, const char *const *keys, const char *const *values,
                           size_t n);
/* np_config_reload reads the whole table over conn and applies it; NP_ERR_DB on failure. */
np_err np_config_reload(np_config *cfg, PGconn *conn);

#endif
