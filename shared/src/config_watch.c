/* Keeps runtime settings in step with the config table in every process: LISTEN/NOTIFY for
 * changes within a second, a full reload after each reconnect and periodically. */
#include "np/config_watch.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/clock.h"
#include "np/crypto.h"
#include "np/log.h"

typedef struct watcher {
    np_config *cfg;
    char *url; /* its own copy: the services that share the watcher close in any order */
    int refs;
    np_ticker *ticker; /* runs watch_step */
    /* The ticker thread's own: */
    PGconn *conn;
    int64_t next_reload; /* np_now_ms value */
    bool warned;
    struct watcher *next;
} watcher;

/* The watchers of this process, one per configuration store. A process-wide list is the one
 * place a static is right: `naipool all` runs four services over one np_config, and one
 * LISTEN connection per configuration is enough. */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static watcher *registry;

static bool
is_runtime(const np_config *cfg, const char *key)
{
    const np_cfg_spec *spec = np_config_spec(cfg, key);
    return spec != NULL && (spec->flags & NP_CFG_RUNTIME) && !(spec->flags & NP_CFG_SECRET);
}

bool
np_config_apply_row(np_config *cfg, const char *key, const char *value)
{
    if (!is_runtime(cfg, key)) {
        return false; /* start-up settings and secrets never come from the table */
    }
    char before[1024], after[1024];
    np_cfg_source src_before = np_config_source(cfg, key);
    np_config_str(cfg, key, before, sizeof(before));
    if (value == NULL) {
        np_config_unset(cfg, key);
    } else {
        char why[256] = "";
        if (np_config_set(cfg, key, value, NP_CFG_SRC_DB, why, sizeof(why)) != NP_ERR_OK) {
            np_log_warn("config", "ignoring the stored value of %s: %s", key, why);
            return false;
        }
    }
    np_config_str(cfg, key, after, sizeof(after));
    bool changed = strcmp(before, after) != 0 || src_before != np_config_source(cfg, key);
    if (changed) {
        np_log_info("config", "runtime setting %s now from %s", key,
                    np_config_source(cfg, key) == NP_CFG_SRC_DB ? "the database"
                                                                : "the environment or default");
    }
    return changed;
}

typedef struct {
    np_config *cfg;
    const char *const *keys;
    size_t n;
} unset_ctx;

static void
unset_missing(void *arg, const np_cfg_spec *spec, const char *value, np_cfg_source src)
{
    (void)value;
    unset_ctx *u = arg;
    if (src != NP_CFG_SRC_DB) {
        return;
    }
    for (size_t i = 0; i < u->n; i++) {
        if (strcmp(u->keys[i], spec->name) == 0) {
            return;
        }
    }
    np_config_apply_row(u->cfg, spec->name, NULL);
}

void
np_config_apply_table(np_config *cfg, const char *const *keys, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        np_config_apply_row(cfg, keys[i], values[i]);
    }
    unset_ctx u = {cfg, keys, n};
    np_config_each(cfg, unset_missing, &u);
}

np_err
np_config_reload(np_config *cfg, PGconn *conn)
{
    PGresult *res = NULL;
    np_err err = np_db_exec(conn, "SELECT key, value FROM config ORDER BY key", 0, NULL, &res);
    if (err != NP_ERR_OK) {
        return err;
    }
    size_t n = (size_t)PQntuples(res);
    const char **keys = calloc(n ? n : 1, sizeof(char *));
    const char **values = calloc(n ? n : 1, sizeof(char *));
    if (keys == NULL || values == NULL) {
        err = NP_ERR_NOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i] = PQgetvalue(res, (int)i, 0);
        values[i] = PQgetvalue(res, (int)i, 1);
    }
    np_config_apply_table(cfg, keys, values, n);
cleanup:
    free(keys);
    free(values);
    PQclear(res);
    return err;
}

/* apply_key re-reads one key after a notification. */
static np_err
apply_key(np_config *cfg, PGconn *conn, const char *key)
{
    PGresult *res = NULL;
    const char *params[] = {key};
    np_err err = np_db_exec(conn, "SELECT value FROM config WHERE key = $1", 1, params, &res);
    if (err == NP_ERR_OK) {
        np_config_apply_row(cfg, key, PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : NULL);
    }
    PQclear(res);
    return err;
}

static PGconn *
watch_connect(watcher *w)
{
    const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *vals[] = {w->url, "naipool-config-watch", "5", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    /* LISTEN first, then read: a change between the two is seen twice, never missed. */
    if (np_db_exec(c, "LISTEN " NP_CONFIG_CHANNEL, 0, NULL, NULL) != NP_ERR_OK ||
        np_config_reload(w->cfg, c) != NP_ERR_OK) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* State flow of the watcher (one step per ticker run):
 *   1. connect, LISTEN and reload the whole table (retry every second until it works);
 *   2. wait on the socket (200 ms, so a stop waits no longer), consume input, apply each
 *      notified key, and run again at once;
 *   3. every CONFIG_RELOAD_SECONDS reload the whole table;
 *   4. on any error drop the connection and go back to 1 after 200 ms. */
static int64_t
watch_step(void *arg)
{
    watcher *w = arg;
    if (w->conn == NULL) {
        w->conn = watch_connect(w);
        if (w->conn == NULL) {
            if (!w->warned) {
                np_log_warn("config", "cannot watch the config table; retrying");
                w->warned = true;
            }
            return 1000;
        }
        w->warned = false;
        w->next_reload =
            np_now_ms() + NP_SETTING_NOW(w->cfg, np_common, CONFIG_RELOAD_SECONDS) * 1000;
    }
    PGconn *conn = w->conn;
    struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
    int rc = poll(&pfd, 1, 200);
    bool broken = rc < 0 || PQconsumeInput(conn) == 0;
    PGnotify *n;
    while (!broken && (n = PQnotifies(conn)) != NULL) {
        broken = apply_key(w->cfg, conn, n->extra) != NP_ERR_OK;
        PQfreemem(n);
    }
    if (!broken && np_now_ms() >= w->next_reload) {
        broken = np_config_reload(w->cfg, conn) != NP_ERR_OK;
        w->next_reload =
            np_now_ms() + NP_SETTING_NOW(w->cfg, np_common, CONFIG_RELOAD_SECONDS) * 1000;
    }
    if (broken || PQstatus(conn) != CONNECTION_OK) {
        np_log_warn("config", "lost the config watch connection; reconnecting");
        PQfinish(conn);
        w->conn = NULL;
        return 200;
    }
    return 1; /* back to the socket */
}

np_err
np_config_watch_acquire(np_config *cfg, np_db *db)
{
    np_err err = NP_ERR_OK;
    pthread_mutex_lock(&registry_mu);
    for (watcher *w = registry; w != NULL; w = w->next) {
        if (w->cfg == cfg) {
            w->refs++;
            goto cleanup;
        }
    }
    watcher *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        err = NP_ERR_NOMEM;
        goto cleanup;
    }
    np_settings *snap = np_config_acquire(cfg);
    w->url = np_db_url_normalize(np_settings_common(snap)->DATABASE_URL);
    np_settings_release(snap);
    if (w->url == NULL) {
        free(w);
        err = NP_ERR_NOMEM;
        goto cleanup;
    }
    w->cfg = cfg;
    w->refs = 1;
    /* Apply the table once now, so a service starts with the admin's values. */
    PGconn *c = np_db_acquire(db, 5000);
    if (c != NULL) {
        np_config_reload(cfg, c);
        np_db_release(db, c);
    }
    err = np_ticker_start(&w->ticker, watch_step, w, 1); /* the first step at once */
    if (err != NP_ERR_OK) {
        free(w->url);
        free(w);
        goto cleanup;
    }
    w->next = registry;
    registry = w;
cleanup:
    pthread_mutex_unlock(&registry_mu);
    return err;
}

void
np_config_watch_release(np_config *cfg)
{
    watcher *found = NULL;
    pthread_mutex_lock(&registry_mu);
    for (watcher **p = &registry; *p != NULL; p = &(*p)->next) {
        if ((*p)->cfg == cfg) {
            if (--(*p)->refs == 0) {
                found = *p;
                *p = found->next;
            }
            break;
        }
    }
    pthread_mutex_unlock(&registry_mu);
    if (found != NULL) {
        np_ticker_stop(found->ticker);
        PQfinish(found->conn);
        np_wipe(found->url, strlen(found->url));
        free(found->url);
        free(found);
    }
}
