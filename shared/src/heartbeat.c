/* One thread per service instance that keeps its row of the nodes table fresh. */
#include "np/heartbeat.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "np/clock.h"
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
    np_ticker *ticker;
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

static int64_t
period_ms(const np_heartbeat *hb)
{
    return NP_SETTING_NOW(hb->cfg, np_common, NODE_HEARTBEAT_SECONDS) * 1000;
}

/* beat_tick beats and reads the period again: NODE_HEARTBEAT_SECONDS may have changed. */
static int64_t
beat_tick(void *arg)
{
    np_heartbeat *hb = arg;
    beat(hb, false);
    return period_ms(hb);
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
    beat(hb, false);
    np_err err = np_ticker_start(&hb->ticker, beat_tick, hb, period_ms(hb));
    if (err != NP_ERR_OK) {
        free(hb);
        return err;
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
    np_ticker_stop(hb->ticker);
    beat(hb, true);
    free(hb);
}

const char *
np_heartbeat_instance(const np_heartbeat *hb)
{
    return hb->instance;
}
