/* The private Postgres of single-node mode: a cluster under DATA_DIR/pg that listens on a
 * Unix socket only, created on first start, started before the services and stopped after
 * them. Postgres refuses to run as root, so under root it runs as the `postgres` user. */
#ifndef NP_PGBOOT_H
#define NP_PGBOOT_H

#include <stddef.h>

#include "np/errors.h"

typedef struct np_pgboot np_pgboot;

/* np_pgboot_start initdb's (first time) and starts the cluster for data_dir, creates the
 * database, and writes its libpq URI into url. On failure why names the cause. */
np_err np_pgboot_start(np_pgboot **out, const char *data_dir, char *url, size_t urllen, char *why,
                       size_t whylen);
/* np_pgboot_stop stops the cluster (fast shutdown) and frees; NULL is accepted. */
void np_pgboot_stop(np_pgboot *pg);
/* np_pgboot_stop_dir stops the private cluster of data_dir started by another process. */
np_err np_pgboot_stop_dir(const char *data_dir, char *why, size_t whylen);

#endif
