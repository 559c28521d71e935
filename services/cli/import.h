/* naipool import: brings an earlier Python pool's users, relay keys, contributed keys,
 * runtime settings and (optionally) request logs into this suite's database, in one
 * transaction, idempotently (a second run changes nothing). ../shared/SEED-COMPAT.md lists
 * the old formats; docs/MIGRATION.md the steps. */
#ifndef CLI_IMPORT_H
#define CLI_IMPORT_H

#include <stdbool.h>

#include "np/config.h"

typedef struct {
    const char *source; /* SQLite file or URL, or Postgres URL of the earlier pool */
    bool dry_run;       /* do everything, print it, then roll back */
    bool with_logs;     /* also request_logs -> usage_logs */
} cli_import_opts;

/* cli_import runs the import into cfg's DATABASE_URL (migrated already), printing what it
 * did (or would do) to standard output and why it failed to standard error. The contributed
 * keys open with OLD_ENCRYPTION_KEY when set, else with ENCRYPTION_KEY (the earlier pool's
 * format is the same). Returns the process exit code: 0 done, 1 failed (nothing changed). */
int cli_import(const np_config *cfg, const cli_import_opts *opts);

#endif
