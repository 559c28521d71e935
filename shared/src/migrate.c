/* The migration runner: applies the embedded db/migrations in order, once, under a
 * transaction-scoped advisory lock so that two instances starting together do not race. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/db.h"
#include "np/log.h"

/* An arbitrary constant naming the migration lock ("naipool" in ASCII). */
#define MIGRATION_LOCK "7885361478643820"

np_err
np_db_migrate(np_db *db, char *why, size_t whylen)
{
    PGconn *c = np_db_acquire(db, 10000);
    if (c == NULL) {
        snprintf(why, whylen, "DATABASE_URL: the database cannot be reached");
        return NP_ERR_DB;
    }
    np_err err = np_db_exec(c, "BEGIN", 0, NULL, NULL);
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")", 0, NULL, NULL);
    }
    if (err == NP_ERR_OK) {
        err = np_db_exec(c,
                         "CREATE TABLE IF NOT EXISTS schema_migrations ("
                         " version integer PRIMARY KEY, name text NOT NULL,"
                         " applied_at timestamptz NOT NULL DEFAULT now())",
                         0, NULL, NULL);
    }
    for (int i = 0; err == NP_ERR_OK && i < np_migrations_count; i++) {
        const np_migration *m = &np_migrations[i];
        char version[16];
        snprintf(version, sizeof(version), "%d", m->version);
        const char *p[] = {version, m->name};
        PGresult *r = NULL;
        err = np_db_exec(c, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, p, &r);
        bool applied = err == NP_ERR_OK && PQntuples(r) > 0;
        PQclear(r);
        if (err != NP_ERR_OK || applied) {
            continue;
        }
        PGresult *res = PQexec(c, m->sql); /* several statements: simple protocol */
        err = np_err_from_pg(res);
        if (err != NP_ERR_OK) {
            const char *msg = PQresultErrorMessage(res);
            snprintf(why, whylen, "migration %04d_%s failed: %.*s", m->version, m->name,
                     (int)strcspn(msg, "\n"), msg);
            err = NP_ERR_DB;
        }
        PQclear(res);
        if (err == NP_ERR_OK) {
            err = np_db_exec(c, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
                             p, NULL);
            np_log_info("db", "applied migration %04d_%s", m->version, m->name);
        }
    }
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, "COMMIT", 0, NULL, NULL);
    } else {
        PQclear(PQexec(c, "ROLLBACK"));
        if (why[0] == '\0') {
            snprintf(why, whylen, "migrations failed (see the log)");
        }
    }
    np_db_release(db, c);
    return err;
}
