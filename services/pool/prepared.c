/* Prepared statements on demand: run by name; when the session does not know the name
 * (SQLSTATE 26000), prepare and run again. No bookkeeping of which connection has what, so
 * connections of the shared pool and reconnected sessions need nothing special. */
#include "prepared.h"

#include <string.h>

#include "np/db.h"
#include "np/log.h"

static bool
unknown_statement(const PGresult *r)
{
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return state != NULL && strcmp(state, "26000") == 0;
}

np_err
pool_db_exec_prepared(PGconn *c, const char *name, const char *sql, int nparams,
                      const char *const *params, PGresult **out)
{
    PGresult *r = PQexecPrepared(c, name, nparams, params, NULL, NULL, 0);
    if (unknown_statement(r)) {
        PQclear(r);
        r = PQprepare(c, name, sql, nparams, NULL);
        np_err err = np_err_from_pg(r);
        PQclear(r);
        r = err == NP_ERR_OK ? PQexecPrepared(c, name, nparams, params, NULL, NULL, 0) : NULL;
    }
    np_err err = np_err_from_pg(r);
    if (err != NP_ERR_OK) {
        if (err == NP_ERR_DB) {
            const char *m = r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c);
            np_log_error("db", "query %s failed: %.*s", name, (int)strcspn(m, "\n"), m);
        }
        PQclear(r);
        return err;
    }
    if (out != NULL) {
        *out = r;
    } else {
        PQclear(r);
    }
    return NP_ERR_OK;
}
