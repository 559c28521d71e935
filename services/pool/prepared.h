/* Statements the pool runs on every request, prepared once per connection: the hot ones are
 * long (the GCRA take, lease grants and releases), and parsing and planning their text again
 * for each request cost Postgres more than running them. */
#ifndef POOL_PREPARED_H
#define POOL_PREPARED_H

#include <libpq-fe.h>

#include "np/errors.h"

/* pool_db_exec_prepared runs sql (text parameters, as np_db_exec) as the prepared statement
 * name on c, preparing it first when this session does not have it yet (a new or reset
 * connection). name must be unique to sql. Errors as np_db_exec (logged, translated). */
np_err pool_db_exec_prepared(PGconn *c, const char *name, const char *sql, int nparams,
                             const char *const *params, PGresult **out);

#endif
