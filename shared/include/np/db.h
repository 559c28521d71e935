/* Postgres access: a small blocking connection pool (for worker threads, never NNG
 * callbacks), error translation, and the migration runner. */
#ifndef NP_DB_H
#define NP_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

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

/* np_db_alive tells whether c still has its server. PQstatus only learns of a lost connection
 * at its next use; a server that ended the session (a restart, pg_terminate_backend) has sent
 * its goodbye and closed, which this reads without waiting. A connection found dead is
 * CONNECTION_BAD afterwards (PQreset or PQfinish it). */
bool np_db_alive(PGconn *c);

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

/* Row readers: strict reads of one row's cells. A SQL NULL, a cell that is not what was asked
 * for (a number, t/f) or a missing row or column is an error, not 0: the first one sets
 * row->err to NP_ERR_DB (logged once, with the column) and every later read returns 0,
 * false or "". Read the fields, then check row.err once. */
typedef struct {
    const PGresult *res;
    int row;
    np_err err;
} np_db_row;

/* np_db_row_at starts reading row of res (borrowed: keep res alive while reading). */
np_db_row np_db_row_at(const PGresult *res, int row);
/* np_db_int reads a base-10 integer cell (int2/int4/int8, or a bigint-valued expression). */
int64_t np_db_int(np_db_row *row, int col);
/* np_db_bool reads a boolean cell ("t" or "f"). */
bool np_db_bool(np_db_row *row, int col);
/* np_db_num reads a floating-point or numeric cell. */
double np_db_num(np_db_row *row, int col);
/* np_db_str reads a text cell; the string belongs to res. */
const char *np_db_str(np_db_row *row, int col);
/* np_db_null tells whether a cell is SQL NULL (for optional columns: test it, then read);
 * a missing row or column is an error and reads as NULL. */
bool np_db_null(np_db_row *row, int col);

/* A parameter list for np_db_exec_params: numbers are formatted into the builder's own
 * storage, strings are borrowed (they must outlive the call). Adding past NP_DB_PARAMS_MAX
 * is a programmer error (asserted) and makes the statement fail with NP_ERR_INTERNAL. */
enum { NP_DB_PARAMS_MAX = 16 };
typedef struct {
    int n;
    const char *v[NP_DB_PARAMS_MAX];
    char num[NP_DB_PARAMS_MAX][32];
    bool overflow;
} np_db_params;

void np_db_params_init(np_db_params *p);
/* np_db_param_str adds a text parameter (borrowed); NULL is SQL NULL. */
void np_db_param_str(np_db_params *p, const char *s);
/* np_db_param_int adds an integer; np_db_param_bool adds "true"/"false"; np_db_param_null
 * adds SQL NULL; np_db_param_num adds a double (round-trip precision). */
void np_db_param_int(np_db_params *p, int64_t v);
void np_db_param_bool(np_db_params *p, bool v);
void np_db_param_null(np_db_params *p);
void np_db_param_num(np_db_params *p, double v);
/* np_db_exec_params runs sql with the built parameters, as np_db_exec does. */
np_err np_db_exec_params(PGconn *conn, const char *sql, const np_db_params *p, PGresult **out);

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
