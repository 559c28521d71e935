/* Start-up shared by every command: configuration from the environment and .env, the
 * single-node defaults (generated secrets, the private Postgres), and migrations. */
#ifndef CLI_BOOT_H
#define CLI_BOOT_H

#include <stdbool.h>

#include "np/config.h"
#include "np/pgboot.h"

typedef struct {
    np_config *cfg;
    np_pgboot *pg; /* the private Postgres, when this process started one */
    unsigned mask; /* the services this process runs (run.h CLI_*); 0: a command needing all */
} cli_boot;

/* The settings tables of every service, in order, with their names; NULL-terminated. */
extern const np_cfg_table *const cli_config_tables[];
extern const char *const cli_config_table_names[];

/* cli_boot_config builds the configuration of every service and loads it; prints one line
 * naming the bad setting and returns false on failure. */
bool cli_boot_config(cli_boot *b);
/* cli_boot_prepare applies single-node defaults (secrets kept in DATA_DIR, a private
 * Postgres when DATABASE_URL is unset) or checks multi-node requirements (DATABASE_URL, and
 * only the secrets that b->services use: SECRET_KEY for auth, ENCRYPTION_KEY for pool and
 * health, so each container is given only its own), then applies
 * migrations when migrate is true. Without need_db (the gateway alone) it checks nothing:
 * the gateway uses no database and no secret. */
bool cli_boot_prepare(cli_boot *b, bool need_db, bool migrate);
/* cli_boot_internal prepares authenticated internal messages (np/wire_mac.h) from
 * INTERNAL_SECRET, required unless all runs every service in one process; with
 * MULTI_NODE_ENABLED=true the *_LISTEN settings left unset listen on every interface. */
bool cli_boot_internal(cli_boot *b, bool all);
/* cli_boot_inproc points every NNG address at inproc:// (all services in one process). */
void cli_boot_inproc(cli_boot *b);
void cli_boot_fini(cli_boot *b);
/* cli_boot_is_sqlite: url names a SQLite database (the earlier Python pool's default), which
 * this suite does not store into: start-up refuses it and says how to import it. */
bool cli_boot_is_sqlite(const char *url);

#endif
