/* The advisory-lock election of the health leader. */
#include "leader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/log.h"
#include "settings.h"

struct health_leader {
    np_db *db;
    const np_config *cfg;
    char node[64];
    pthread_mutex_t mu; /* one statement at a time on the session */
    PGconn *conn;
    atomic_bool leader;
};

health_leader *
health_leader_new(np_db *db, const np_config *cfg, const char *node)
{
    health_leader *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return NULL;
    }
    l->db = db;
    l->cfg = cfg;
    snprintf(l->node, sizeof(l->node), "%s", node);
    pthread_mutex_init(&l->mu, NULL);
    atomic_init(&l->leader, false);
    return l;
}

void
health_leader_free(health_leader *l)
{
    if (l == NULL) {
        return;
    }
    PQfinish(l->conn);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static void
step_down(health_leader *l, const char *why)
{
    if (atomic_load(&l->leader)) {
        np_log_warn("health", "stepping down as leader: %s", why);
    }
    atomic_store(&l->leader, false);
    PQfinish(l->conn); /* ends the session: the lock goes with it if it was still held */
    l->conn = NULL;
}

/* one_bool runs sql on the session and reads a single boolean; false on any error. */
static bool
one_bool(PGconn *c, const char *sql, bool *out)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok) {
        np_db_row row = np_db_row_at(r, 0);
        *out = np_db_bool(&row, 0);
        ok = row.err == NP_ERR_OK;
    }
    PQclear(r);
    return ok;
}

#define STR_(x) #x
#define STR(x) STR_(x)

bool
health_leader_check(health_leader *l)
{
    pthread_mutex_lock(&l->mu);
    if (l->conn != NULL && PQstatus(l->conn) != CONNECTION_OK) {
        step_down(l, "the session is gone");
    }
    if (l->conn == NULL) {
        char app[80], opts[160], why[256] = "";
        int64_t t = NP_SETTING_NOW(l->cfg, health, HEALTH_LEADER_TIMEOUT_SECONDS);
        snprintf(app, sizeof(app), HEALTH_LEADER_APP "%.50s", l->node);
        /* A frozen leader stays idle: the server ends its session after t seconds. */
        snprintf(opts, sizeof(opts),
                 "-c idle_session_timeout=%lld -c statement_timeout=%lld -c lock_timeout=%lld",
                 (long long)t * 1000, (long long)t * 500, (long long)t * 250);
        l->conn = np_db_connect(l->db, app, opts, why, sizeof(why));
        if (l->conn == NULL) {
            np_log_debug("health", "leader session: cannot connect: %s", why);
            pthread_mutex_unlock(&l->mu);
            return false;
        }
    }
    bool held = false;
    if (atomic_load(&l->leader)) {
        /* Heartbeat: the session answers and the lock is still ours. */
        if (!one_bool(l->conn,
                      "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                      "AND classid = " STR(HEALTH_LOCK_CLASS) " AND objid = " STR(
                          HEALTH_LOCK_OBJ) " AND objsubid = 2 AND granted "
                                           "AND pid = pg_backend_pid())",
                      &held) ||
            !held) {
            step_down(l, "the session no longer holds the lock");
        }
    } else if (one_bool(l->conn,
                        "SELECT pg_try_advisory_lock(" STR(HEALTH_LOCK_CLASS) ", " STR(
                            HEALTH_LOCK_OBJ) ")",
                        &held)) {
        if (held) {
            atomic_store(&l->leader, true);
            np_log_info("health", "this instance (%s) is now the health leader", l->node);
        }
    } else {
        step_down(l, "the session failed");
    }
    bool leader = atomic_load(&l->leader);
    pthread_mutex_unlock(&l->mu);
    return leader;
}

bool
health_leader_is(health_leader *l)
{
    return atomic_load(&l->leader);
}
