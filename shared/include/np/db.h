/* Postgres access: a small blocking connection pool (for worker threads, never NNG
 * callbacks), error translation, and the migration runner. */
#ifndef NP_DB_H
#define NP_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "np/errors.h"

typedef struct np_db np_db;

/* np_db_url_normalize returns a malloc'd libpq URI: "postgresql+asyncpg://" and other
 * "+driver" suffixes of the earlier Python pool are dropped. NULL on no memory. */
char *np_db_url_normalize(const char *url);

/* np_db_open creates a pool of up to size connections to url (connected lazily); it
 * connects once to check the URL, NP_ERR_DB with a reason in why when it cannot. */
np_err np_db_open(np_db **out, const char *url, int size, const char *app_name, char *why,
                  size_t whylen);
void np_db_close(np_db *db);

/* np_db_acquire lends a healthy connection (reconnecting when needed), waiting up to
 * timeout_ms for a free one; NULL when the database cannot be reached. */
PGconn *np_db_acquire(np_db *db, int timeout_ms);
/* np_db_release gives a connection back; a broken one is dropped and remade later. */
void np_db_release(np_db *db, PGconn *conn);

/* np_db_connect opens a connection of its own (not part of the pool) to the pool's database,
 * for sessions that must stay apart: LISTEN, advisory locks. options is libpq's "options"
 * ("-c idle_session_timeout=5000"), may be NULL; app_name NULL uses the pool's. The caller
 * owns it (PQfinish). NULL with a reason in why when the database cannot be reached. */
PGconn *np_db_connect(np_db *db, const char *app_name, const char *options, char *why,
                      size_t whylen);

/* np_db_ping runs SELECT 1; NP_ERR_OK when the database answers. */
np_err np_db_ping(np_db *db);

/* np_db_exec runs a parameterised statement (text parameters; NULL entries are SQL NULL).
 * On success *out (if out is not NULL) holds the result (PQclear it). Errors are
 * translated: unique violation -> NP_ERR_CONFLICT, others -> NP_ERR_DB (logged). */
np_err np_db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
                  PGresult **out);
/* np_err_from_pg maps a failed result to an np_err. */
np_err np_err_from_pg(const PGresult *res);

/* np_db_migrate applies the embedded migrations (db/migrations/NNNN_name.sql) in order, in
 * one transaction under an advisory lock, so two starting instances do not race. */
np_err np_db_migrate(np_db *db, char *why, size_t whylen);

/* The embedded migrations (generated at build time). */
typedef struct {
    int version;
    const char *name;
    const char *sql;
} np_migration;
extern const np_migration np_migrations[];
extern const int np_migrations_count;

#endif
