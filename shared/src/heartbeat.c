/* One thread per service instance that keeps its row of the nodes table fresh. */
#include "np/heartbeat.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "np/crypto.h"
#include "np/log.h"

struct np_heartbeat {
    np_heartbeat_send_fn send;
    void *arg;
    const np_config *cfg;
    char svc[32];
    char node[64];
    char instance[128];
    char started[40]; /* ISO time of the start, as Postgres reads it */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    pthread_t thread;
};

np_err
np_heartbeat_store(np_db *db, const np_heartbeat_row *row, bool gone)
{
    PGconn *c = np_db_acquire(db, 2000);
    if (c == NULL) {
        return NP_ERR_DB;
    }
    np_err err;
    if (gone) {
        const char *params[] = {row->svc, row->node, row->instance};
        err = np_db_exec(c, "DELETE FROM nodes WHERE service = $1 AND node = $2 AND instance = $3",
                         3, params, NULL);
    } else {
        const char *params[] = {row->svc, row->node, row->instance, row->version, row->started};
        err = np_db_exec(c,
                         "INSERT INTO nodes (service, node, instance, version, started_at, "
                         "last_seen) VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (service, "
                         "node) DO UPDATE SET instance = EXCLUDED.instance, version = "
                         "EXCLUDED.version, started_at = EXCLUDED.started_at, last_seen = now()",
                         5, params, NULL);
    }
    np_db_release(db, c);
    return err;
}

static void
to_db(void *arg, const np_heartbeat_row *row, bool gone)
{
    np_heartbeat_store(arg, row, gone);
}

static void
beat(np_heartbeat *hb, bool gone)
{
    np_heartbeat_row row = {hb->svc, hb->node, hb->instance, NP_VERSION, hb->started};
    hb->send(hb->arg, &row, gone);
}

static void *
beat_main(void *arg)
{
    np_heartbeat *hb = arg;
    pthread_mutex_lock(&hb->mu);
    while (!hb->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)NP_SETTING_NOW(hb->cfg, np_common, NODE_HEARTBEAT_SECONDS);
        while (!hb->stop && pthread_cond_timedwait(&hb->cv, &hb->mu, &until) == 0) {
        }
        if (hb->stop) {
            break;
        }
        pthread_mutex_unlock(&hb->mu);
        beat(hb, false);
        pthread_mutex_lock(&hb->mu);
    }
    pthread_mutex_unlock(&hb->mu);
    return NULL;
}

np_err
np_heartbeat_open(np_heartbeat **out, np_db *db, const np_config *cfg, const char *svc,
                  const char *node)
{
    return np_heartbeat_open_with(out, cfg, svc, node, to_db, db);
}

np_err
np_heartbeat_open_with(np_heartbeat **out, const np_config *cfg, const char *svc, const char *node,
                       np_heartbeat_send_fn send, void *arg)
{
    np_heartbeat *hb = calloc(1, sizeof(*hb));
    if (hb == NULL) {
        return NP_ERR_NOMEM;
    }
    hb->send = send;
    hb->arg = arg;
    hb->cfg = cfg;
    snprintf(hb->svc, sizeof(hb->svc), "%s", svc);
    snprintf(hb->node, sizeof(hb->node), "%s", node);
    char rnd[16] = "";
    np_token_new("", 48, rnd, sizeof(rnd));
    snprintf(hb->instance, sizeof(hb->instance), "%s.%d.%s", node, (int)getpid(), rnd);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(hb->started, sizeof(hb->started), "%Y-%m-%dT%H:%M:%SZ", &tm);
    pthread_mutex_init(&hb->mu, NULL);
    pthread_cond_init(&hb->cv, NULL);
    beat(hb, false);
    if (pthread_create(&hb->thread, NULL, beat_main, hb) != 0) {
        pthread_mutex_destroy(&hb->mu);
        pthread_cond_destroy(&hb->cv);
        free(hb);
        return NP_ERR_SYSTEM;
    }
    *out = hb;
    return NP_ERR_OK;
}

void
np_heartbeat_close(np_heartbeat *hb)
{
    if (hb == NULL) {
        return;
    }
    pthread_mutex_lock(&hb->mu);
    hb->stop = true;
    pthread_cond_signal(&hb->cv);
    pthread_mutex_unlock(&hb->mu);
    pthread_join(hb->thread, NULL);
    beat(hb, true);
    pthread_mutex_destroy(&hb->mu);
    pthread_cond_destroy(&hb->cv);
    free(hb);
}

const char *
np_heartbeat_instance(const np_heartbeat *hb)
{
    return hb->instance;
}
