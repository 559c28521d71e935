/* Reading the earlier pool's database: SQLite through libsqlite3, Postgres through libpq. */
#include "oldsrc.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/db.h"

#define MAX_COLS 32

struct cli_oldsrc {
    sqlite3 *lite;
    PGconn *pg;
};

static bool
starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool
cli_oldsrc_sqlite_path(const char *url, char *out, size_t outlen)
{
    if (starts(url, "postgres")) {
        return false;
    }
    const char *path = url;
    if (starts(url, "sqlite")) {
        /* sqlite[+driver]:///relative/or/absolute: three slashes, then the path (a fourth
         * slash makes it absolute, as in SQLAlchemy). */
        const char *p = strstr(url, ":///");
        if (p == NULL) {
            return false;
        }
        path = p + 4;
    }
    if (path[0] == '\0' || strlen(path) >= outlen) {
        return false;
    }
    snprintf(out, outlen, "%s", path);
    return true;
}

np_err
cli_oldsrc_open(cli_oldsrc **out, const char *url, char *why, size_t whylen)
{
    *out = NULL;
    cli_oldsrc *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NP_ERR_NOMEM;
    }
    char path[1024];
    if (cli_oldsrc_sqlite_path(url, path, sizeof(path))) {
        if (sqlite3_open_v2(path, &s->lite, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
            snprintf(why, whylen, "cannot open the SQLite database %s: %s", path,
                     s->lite ? sqlite3_errmsg(s->lite) : "no memory");
            cli_oldsrc_close(s);
            return NP_ERR_DB;
        }
        sqlite3_busy_timeout(s->lite, 5000);
    } else if (starts(url, "postgres")) {
        char *norm = np_db_url_normalize(url);
        if (norm == NULL) {
            free(s);
            return NP_ERR_NOMEM;
        }
        s->pg = PQconnectdb(norm);
        free(norm);
        if (PQstatus(s->pg) != CONNECTION_OK) {
            snprintf(why, whylen, "cannot reach the earlier pool's Postgres: %s",
                     PQerrorMessage(s->pg));
            cli_oldsrc_close(s);
            return NP_ERR_DB;
        }
        PQclear(PQexec(s->pg, "SET default_transaction_read_only = on")); /* read only */
    } else {
        snprintf(why, whylen, "the source must be a SQLite file or URL, or a Postgres URL");
        free(s);
        return NP_ERR_INVALID;
    }
    *out = s;
    return NP_ERR_OK;
}

void
cli_oldsrc_close(cli_oldsrc *s)
{
    if (s == NULL) {
        return;
    }
    sqlite3_close(s->lite);
    PQfinish(s->pg);
    free(s);
}

static np_err
each_sqlite(cli_oldsrc *s, const char *sql, cli_oldsrc_row_fn fn, void *arg, char *why,
            size_t whylen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->lite, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(why, whylen, "reading the earlier pool's database: %s", sqlite3_errmsg(s->lite));
        return NP_ERR_DB;
    }
    int n = sqlite3_column_count(st);
    if (n > MAX_COLS) {
        sqlite3_finalize(st);
        return NP_ERR_INVALID;
    }
    np_err err = NP_ERR_OK;
    int rc;
    while (err == NP_ERR_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *cols[MAX_COLS];
        for (int i = 0; i < n; i++) {
            cols[i] = (const char *)sqlite3_column_text(st, i); /* NULL for SQL NULL */
        }
        err = fn(arg, cols, n);
    }
    if (err == NP_ERR_OK && rc != SQLITE_DONE) {
        snprintf(why, whylen, "reading the earlier pool's database: %s", sqlite3_errmsg(s->lite));
        err = NP_ERR_DB;
    }
    sqlite3_finalize(st);
    return err;
}

static np_err
each_pg(cli_oldsrc *s, const char *sql, cli_oldsrc_row_fn fn, void *arg, char *why, size_t whylen)
{
    PGresult *res = PQexec(s->pg, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(why, whylen, "reading the earlier pool's database: %s", PQerrorMessage(s->pg));
        PQclear(res);
        return NP_ERR_DB;
    }
    int n = PQnfields(res);
    np_err err = n > MAX_COLS ? NP_ERR_INVALID : NP_ERR_OK;
    for (int r = 0; err == NP_ERR_OK && r < PQntuples(res); r++) {
        const char *cols[MAX_COLS];
        for (int i = 0; i < n; i++) {
            cols[i] = PQgetisnull(res, r, i) ? NULL : PQgetvalue(res, r, i);
        }
        err = fn(arg, cols, n);
    }
    PQclear(res);
    return err;
}

np_err
cli_oldsrc_each(cli_oldsrc *s, const char *sql, cli_oldsrc_row_fn fn, void *arg, char *why,
                size_t whylen)
{
    return s->lite != NULL ? each_sqlite(s, sql, fn, arg, why, whylen)
                           : each_pg(s, sql, fn, arg, why, whylen);
}

static np_err
found_row(void *arg, const char *const *cols, int n)
{
    (void)cols;
    (void)n;
    *(bool *)arg = true;
    return NP_ERR_OK;
}

bool
cli_oldsrc_has_table(cli_oldsrc *s, const char *table)
{
    char why[256];
    bool found = false;
    if (s->lite != NULL) {
        char *q = sqlite3_mprintf("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %Q",
                                  table);
        if (q == NULL) {
            return false;
        }
        each_sqlite(s, q, found_row, &found, why, sizeof(why));
        sqlite3_free(q);
        return found;
    }
    const char *params[] = {table};
    PGresult *res = PQexecParams(s->pg,
                                 "SELECT 1 FROM information_schema.tables WHERE table_name = $1 "
                                 "AND table_schema = current_schema()",
                                 1, NULL, params, NULL, NULL, 0);
    found = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
    PQclear(res);
    return found;
}
