/* A blocking Postgres connection pool and helpers. */
#include "np/db.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "np/clock.h"
#include "np/log.h"

struct np_db {
    char *url;
    char *app;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn **idle;
    int nidle;
    int size;
    int out; /* connections lent */
    bool closing;
};

char *
np_db_url_normalize(const char *url)
{
    const char *sep = strstr(url, "://");
    const char *plus = strchr(url, '+');
    if (sep != NULL && plus != NULL && plus < sep) {
        size_t head = (size_t)(plus - url);
        size_t n = head + strlen(sep) + 1;
        char *out = malloc(n);
        if (out != NULL) {
            snprintf(out, n, "%.*s%s", (int)head, url, sep);
        }
        return out;
    }
    return strdup(url);
}

bool
np_db_alive(PGconn *c)
{
    /* Readable while idle means the server sent something: a notice, or its last words before
     * closing. Reading it tells them apart; the close itself is seen on the next read. */
    for (int i = 0; i < 4 && c != NULL && PQstatus(c) == CONNECTION_OK; i++) {
        struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
        if (poll(&p, 1, 0) <= 0) {
            return true;
        }
        (void)PQconsumeInput(c);
    }
    return c != NULL && PQstatus(c) == CONNECTION_OK;
}

PGconn *
np_db_connect(np_db *db, const char *app_name, const char *options, char *why, size_t whylen)
{
    const char *keys[] = {"dbname", "application_name", "connect_timeout", "options", NULL};
    const char *vals[] = {db->url, app_name ? app_name : db->app, "5", options ? options : "",
                          NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        if (why != NULL) {
            const char *m = c ? PQerrorMessage(c) : "out of memory";
            snprintf(why, whylen, "%.*s", (int)strcspn(m, "\n"), m);
        }
        PQfinish(c);
        return NULL;
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

np_err
np_db_open(np_db **out, const char *url, int size, const char *app_name, char *why, size_t whylen)
{
    np_db *db = calloc(1, sizeof(*db));
    if (db == NULL) {
        return NP_ERR_NOMEM;
    }
    db->url = np_db_url_normalize(url);
    db->app = strdup(app_name ? app_name : "naipool");
    db->size = size > 0 ? size : 4;
    db->idle = calloc((size_t)db->size, sizeof(PGconn *));
    if (db->url == NULL || db->app == NULL || db->idle == NULL) {
        free(db->url);
        free(db->app);
        free(db->idle);
        free(db);
        return NP_ERR_NOMEM;
    }
    pthread_mutex_init(&db->mu, NULL);
    np_cond_init(&db->cv);
    PGconn *c = np_db_connect(db, NULL, NULL, why, whylen);
    if (c == NULL) {
        np_db_close(db);
        return NP_ERR_DB;
    }
    db->idle[db->nidle++] = c;
    *out = db;
    return NP_ERR_OK;
}

void
np_db_close(np_db *db)
{
    if (db == NULL) {
        return;
    }
    pthread_mutex_lock(&db->mu);
    db->closing = true;
    while (db->out > 0) {
        pthread_cond_wait(&db->cv, &db->mu);
    }
    pthread_mutex_unlock(&db->mu);
    for (int i = 0; i < db->nidle; i++) {
        PQfinish(db->idle[i]);
    }
    pthread_mutex_destroy(&db->mu);
    pthread_cond_destroy(&db->cv);
    if (db->url != NULL) {
        memset(db->url, 0, strlen(db->url)); /* may carry a password */
    }
    free(db->url);
    free(db->app);
    free(db->idle);
    free(db);
}

PGconn *
np_db_acquire(np_db *db, int timeout_ms)
{
    int64_t deadline = np_deadline_ms(timeout_ms);
    pthread_mutex_lock(&db->mu);
    while (db->nidle == 0 && db->out >= db->size && !db->closing) {
        if (np_cond_wait_until(&db->cv, &db->mu, deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&db->mu);
            return NULL;
        }
    }
    if (db->closing) {
        pthread_mutex_unlock(&db->mu);
        return NULL;
    }
    PGconn *c = db->nidle > 0 ? db->idle[--db->nidle] : NULL;
    db->out++;
    pthread_mutex_unlock(&db->mu);

    if (c != NULL && !np_db_alive(c)) {
        PQreset(c);
        if (PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = NULL;
        }
    }
    if (c == NULL) {
        char why[256];
        c = np_db_connect(db, NULL, NULL, why, sizeof(why));
        if (c == NULL) {
            np_log_warn("db", "cannot connect: %s", why);
            pthread_mutex_lock(&db->mu);
            db->out--;
            pthread_cond_broadcast(&db->cv);
            pthread_mutex_unlock(&db->mu);
        }
    }
    return c;
}

void
np_db_release(np_db *db, PGconn *conn)
{
    if (conn == NULL) {
        return;
    }
    if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE) {
        /* A caller left a transaction open (an error path): do not lend it out dirty. */
        PQclear(PQexec(conn, "ROLLBACK"));
    }
    pthread_mutex_lock(&db->mu);
    db->out--;
    if (PQstatus(conn) == CONNECTION_OK && db->nidle < db->size) {
        db->idle[db->nidle++] = conn;
        conn = NULL;
    }
    pthread_cond_broadcast(&db->cv);
    pthread_mutex_unlock(&db->mu);
    PQfinish(conn);
}

np_err
np_err_from_pg(const PGresult *res)
{
    if (res == NULL) {
        return NP_ERR_DB;
    }
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE) {
        return NP_ERR_OK;
    }
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state != NULL && strcmp(state, "23505") == 0) {
        return NP_ERR_CONFLICT;
    }
    if (state != NULL && (strncmp(state, "22", 2) == 0 || strcmp(state, "23514") == 0)) {
        return NP_ERR_INVALID;
    }
    return NP_ERR_DB;
}

np_err
np_db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, PGresult **out)
{
    PGresult *r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    np_err err = np_err_from_pg(r);
    if (err != NP_ERR_OK) {
        if (err == NP_ERR_DB) {
            const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(conn);
            np_log_error("db", "query failed: %.*s", (int)strcspn(m, "\n"), m);
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

np_err
np_db_ping(np_db *db)
{
    PGconn *c = np_db_acquire(db, 2000);
    if (c == NULL) {
        return NP_ERR_DB;
    }
    np_err err = np_db_exec(c, "SELECT 1", 0, NULL, NULL);
    np_db_release(db, c);
    return err;
}

np_db_row
np_db_row_at(const PGresult *res, int row)
{
    np_db_row r = {res, row, NP_ERR_OK};
    return r;
}

/* cell returns the text of a cell that exists and is not NULL, else NULL with the error set
 * (logged once per row reader). */
static const char *
cell(np_db_row *r, int col, const char *want)
{
    if (r->err != NP_ERR_OK) {
        return NULL;
    }
    if (r->res == NULL || r->row < 0 || r->row >= PQntuples(r->res) || col < 0 ||
        col >= PQnfields(r->res)) {
        np_log_error("db", "row %d column %d: no such cell", r->row, col);
        r->err = NP_ERR_DB;
        return NULL;
    }
    if (PQgetisnull(r->res, r->row, col)) {
        np_log_error("db", "row %d column %s: NULL where %s was expected", r->row,
                     PQfname(r->res, col), want);
        r->err = NP_ERR_DB;
        return NULL;
    }
    return PQgetvalue(r->res, r->row, col);
}

static void
bad(np_db_row *r, int col, const char *want)
{
    np_log_error("db", "row %d column %s: not %s", r->row, PQfname(r->res, col), want);
    r->err = NP_ERR_DB;
}

int64_t
np_db_int(np_db_row *r, int col)
{
    const char *s = cell(r, col, "an integer");
    if (s == NULL) {
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0) {
        bad(r, col, "an integer");
        return 0;
    }
    return (int64_t)v;
}

bool
np_db_bool(np_db_row *r, int col)
{
    const char *s = cell(r, col, "a boolean");
    if (s == NULL) {
        return false;
    }
    if (strcmp(s, "t") != 0 && strcmp(s, "f") != 0) {
        bad(r, col, "a boolean");
        return false;
    }
    return s[0] == 't';
}

double
np_db_num(np_db_row *r, int col)
{
    const char *s = cell(r, col, "a number");
    if (s == NULL) {
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE) {
        bad(r, col, "a number");
        return 0;
    }
    return v;
}

const char *
np_db_str(np_db_row *r, int col)
{
    const char *s = cell(r, col, "text");
    return s == NULL ? "" : s;
}

bool
np_db_null(np_db_row *r, int col)
{
    if (r->err != NP_ERR_OK) {
        return true;
    }
    if (r->res == NULL || r->row < 0 || r->row >= PQntuples(r->res) || col < 0 ||
        col >= PQnfields(r->res)) {
        np_log_error("db", "row %d column %d: no such cell", r->row, col);
        r->err = NP_ERR_DB;
        return true;
    }
    return PQgetisnull(r->res, r->row, col) != 0;
}

void
np_db_params_init(np_db_params *p)
{
    p->n = 0;
    p->overflow = false;
}

static char *
slot(np_db_params *p)
{
    if (p->n >= NP_DB_PARAMS_MAX) {
        assert(!"too many parameters for np_db_params");
        p->overflow = true;
        return NULL;
    }
    return p->num[p->n];
}

void
np_db_param_str(np_db_params *p, const char *s)
{
    if (slot(p) != NULL) {
        p->v[p->n++] = s;
    }
}

void
np_db_param_null(np_db_params *p)
{
    np_db_param_str(p, NULL);
}

void
np_db_param_bool(np_db_params *p, bool v)
{
    np_db_param_str(p, v ? "true" : "false");
}

void
np_db_param_int(np_db_params *p, int64_t v)
{
    char *s = slot(p);
    if (s != NULL) {
        snprintf(s, sizeof(p->num[0]), "%lld", (long long)v);
        p->v[p->n++] = s;
    }
}

void
np_db_param_num(np_db_params *p, double v)
{
    char *s = slot(p);
    if (s != NULL) {
        snprintf(s, sizeof(p->num[0]), "%.17g", v);
        p->v[p->n++] = s;
    }
}

np_err
np_db_exec_params(PGconn *conn, const char *sql, const np_db_params *p, PGresult **out)
{
    if (p->overflow) {
        return NP_ERR_INTERNAL;
    }
    return np_db_exec(conn, sql, p->n, p->v, out);
}
