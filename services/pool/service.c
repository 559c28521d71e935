/* The pool service's life cycle, its settings and its operation dispatch. */
#include "pool.h"
#include "settings.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin_config.h"
#include "api.h"
#include "keyprobe.h"
#include "keyring.h"
#include "keystore.h"
#include "np/clock.h"
#include "np/crypto.h"
#include "np/httpop.h"
#include "np/log.h"
#include "np/service.h"
#include "ratelimit.h"
#include "relay.h"
#include "scheduler.h"
#include "upstream.h"

struct pool_service {
    np_service base;
    uint8_t enc_key[NP_KEY_LEN];
    uint8_t fp_key[NP_KEY_LEN];
    char holder[96];
    pool_upstream *up;
    pool_sched *sched;
    pool_keyring *keyring;
    pool_inflight *inflight;
    pool_relay *relay;
    pool_api api;
    pool_proxies *proxies; /* egress proxies (proxies.h) */
    pool_keyprobe *probes; /* the upload probes (keyprobe.h) */
    pthread_mutex_t mu;    /* closing and busy */
    pthread_cond_t cv;
    bool closing;
    int busy;
    pthread_mutex_t kmu; /* the keys-by-state figures below */
    int64_t keys_at_ms;  /* when they were read (monotonic); 0: never */
    int64_t keys_n[8];   /* per key_states[] */
};

#define KEYS_TTL_MS 5000

/* The states a key can show (keystore.h's visible state), as /metrics labels them. */
static const char *const key_states[] = {"pending", "active",  "cooling", "exhausted",
                                         "invalid", "expired", "disabled"};
#define NSTATES (sizeof(key_states) / sizeof(key_states[0]))

#define RT NP_CFG_RUNTIME
#define URL_CHECK NULL

#define NP_SETTING(...) NP_CFG_ROW(pool_settings, __VA_ARGS__)
const np_cfg_spec pool_config[] = {
#include "settings.def"
    NP_CFG_END,
};
#undef NP_SETTING
NP_CFG_TABLE(pool, pool_config);

static bool
enter(pool_service *s)
{
    pthread_mutex_lock(&s->mu);
    bool ok = !s->closing;
    s->busy += ok;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static void
leave(pool_service *s)
{
    pthread_mutex_lock(&s->mu);
    if (--s->busy == 0) {
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

/* serve_http reads the "http" operation and hands it to the module of its op: the settings
 * (admin_config.h, proxies.h, admins only) or the key and stats API (api.h). */
static void
serve_http(pool_service *s, np_rpc_call *call, const msgpack_object *req)
{
    enum { API = 1, SETTINGS };
    static const unsigned char modules[NP_OP__COUNT] = {
        [NP_OP_KEYS_LIST] = API,
        [NP_OP_KEYS_ADD] = API,
        [NP_OP_KEY_UPDATE] = API,
        [NP_OP_KEY_DELETE] = API,
        [NP_OP_ADMIN_KEYS_LIST] = API,
        [NP_OP_ADMIN_KEY_UPDATE] = API,
        [NP_OP_ADMIN_KEY_TOGGLE] = API,
        [NP_OP_ADMIN_STATS] = API,
        [NP_OP_ADMIN_CONFIG_GET] = SETTINGS,
        [NP_OP_ADMIN_CONFIG_PUT] = SETTINGS,
        [NP_OP_ADMIN_CONFIG_POST] = SETTINGS,
        [NP_OP_ADMIN_PROXIES_LIST] = SETTINGS,
        [NP_OP_ADMIN_PROXIES_ADD] = SETTINGS,
        [NP_OP_ADMIN_PROXY_UPDATE] = SETTINGS,
        [NP_OP_ADMIN_PROXY_DELETE] = SETTINGS,
        [NP_OP_ADMIN_PROXY_POOL] = SETTINGS,
    };
    np_http_req r;
    if (np_http_req_read(req, &r) != NP_ERR_OK) {
        np_rpc_reply_error(call, NP_ERR_WIRE, "malformed http request");
        return;
    }
    if (modules[r.op] == 0) {
        np_http_reply_err(call, NP_ERR_NOT_FOUND, NULL);
    } else if (np_http_refuse_relay_key(call, &r)) {
        return;
    } else if (modules[r.op] == API) {
        pool_api_http(&s->api, call, &r);
    } else if (strcmp(r.role, "admin") != 0) {
        np_http_reply_err(call, NP_ERR_FORBIDDEN, "administrators only");
    } else if (!pool_admin_config_serve(&s->base, call, &r) &&
               !pool_proxies_serve(s->proxies, call, &r)) {
        np_http_reply_err(call, NP_ERR_NOT_FOUND, NULL);
    }
}

static void
on_call(void *arg, np_rpc_call *call, const char *op, const msgpack_object *req)
{
    pool_service *s = arg;
    if (strcmp(op, "ping") == 0) {
        np_service_reply_ping(&s->base, call);
        return;
    }
    if (!enter(s)) {
        np_rpc_reply_error(call, NP_ERR_CLOSED, NULL);
        return;
    }
    if (strcmp(op, "relay.open") == 0) {
        pool_relay_open(s->relay, call, req);
    } else if (strcmp(op, "relay.next") == 0) {
        pool_relay_next(s->relay, call, req);
    } else if (strcmp(op, "relay.cancel") == 0) {
        pool_relay_cancel(s->relay, call, req);
    } else if (strcmp(op, "relay.abort") == 0) {
        pool_relay_abort(s->relay, call, req);
    } else if (strcmp(op, "http") == 0) {
        serve_http(s, call, req);
    } else if (strcmp(op, "user.limits") == 0) {
        pool_api_user_limits(&s->api, call, req);
    } else {
        np_rpc_reply_error(call, NP_ERR_NOT_FOUND, "unknown operation");
    }
    leave(s);
}

/* keys_by_state fills n[] with the pool's keys per visible state: one query at most every
 * KEYS_TTL_MS whoever scrapes; false when they were never read (no database). */
static bool
keys_by_state(pool_service *s, int64_t n[NSTATES])
{
    pthread_mutex_lock(&s->kmu);
    if (s->keys_at_ms == 0 || np_now_ms() - s->keys_at_ms > KEYS_TTL_MS) {
        PGconn *c = np_db_acquire(s->base.db, 2000);
        PGresult *res = NULL;
        if (c != NULL && np_db_exec(c,
                                    "SELECT CASE WHEN enabled THEN state ELSE 'disabled' END, "
                                    "count(*) FROM upstream_keys GROUP BY 1",
                                    0, NULL, &res) == NP_ERR_OK) {
            memset(s->keys_n, 0, sizeof(s->keys_n));
            for (int r = 0; r < PQntuples(res); r++) {
                for (size_t i = 0; i < NSTATES; i++) {
                    if (strcmp(PQgetvalue(res, r, 0), key_states[i]) == 0) {
                        np_db_row row = np_db_row_at(res, r);
                        s->keys_n[i] = np_db_int(&row, 1); /* count(*): never NULL */
                    }
                }
            }
            s->keys_at_ms = np_now_ms();
        }
        PQclear(res);
        np_db_release(s->base.db, c);
    }
    bool ok = s->keys_at_ms != 0;
    memcpy(n, s->keys_n, NSTATES * sizeof(n[0]));
    pthread_mutex_unlock(&s->kmu);
    return ok;
}

/* The pool's own /metrics figures (np_service_set_metrics; rpc worker). */
static void
render_metrics(void *arg, np_buf *out)
{
    pool_service *s = arg;
    const char *node = s->base.node;
    if (!enter(s)) {
        return; /* stopping: the scheduler and the relay may be gone */
    }
    np_buf_printf(out,
                  "# HELP naipool_pool_queue_depth Requests waiting for a key (this instance).\n"
                  "# TYPE naipool_pool_queue_depth gauge\n"
                  "naipool_pool_queue_depth{node=\"%s\"} %d\n"
                  "# HELP naipool_pool_streams_open Response streams open (this instance).\n"
                  "# TYPE naipool_pool_streams_open gauge\n"
                  "naipool_pool_streams_open{node=\"%s\"} %d\n"
                  "# HELP naipool_pool_leases_held Key leases held (this instance).\n"
                  "# TYPE naipool_pool_leases_held gauge\n"
                  "naipool_pool_leases_held{node=\"%s\"} %d\n",
                  node, pool_sched_depth(s->sched), node, pool_relay_streams(s->relay), node,
                  pool_sched_leases_held(s->sched));
    int running = 0, waiting = 0;
    pool_keyprobe_counts(s->probes, &running, &waiting);
    np_buf_printf(out,
                  "# HELP naipool_pool_key_probes Key-upload probes running and waiting "
                  "(this instance).\n"
                  "# TYPE naipool_pool_key_probes gauge\n"
                  "naipool_pool_key_probes{node=\"%s\",stage=\"running\"} %d\n"
                  "naipool_pool_key_probes{node=\"%s\",stage=\"waiting\"} %d\n",
                  node, running, node, waiting);
    leave(s);
    int64_t n[NSTATES];
    if (!keys_by_state(s, n)) {
        return;
    }
    np_buf_puts(out, "# HELP naipool_pool_keys Contributed keys by state (the whole pool).\n"
                     "# TYPE naipool_pool_keys gauge\n");
    for (size_t i = 0; i < NSTATES; i++) {
        np_buf_printf(out, "naipool_pool_keys{node=\"%s\",state=\"%s\"} %lld\n", node,
                      key_states[i], (long long)n[i]);
    }
}

/* load_keys reads ENCRYPTION_KEY and derives the fingerprint key from it (the pool needs no
 * SECRET_KEY), then gives keys still fingerprinted under SECRET_KEY their new fingerprint. */
static np_err
load_keys(pool_service *s, char *why, size_t whylen)
{
    np_settings *snap = np_config_acquire(s->base.cfg);
    bool ok = np_key_parse(np_settings_common(snap)->ENCRYPTION_KEY, s->enc_key);
    np_settings_release(snap);
    if (!ok) {
        snprintf(why, whylen, "pool: ENCRYPTION_KEY is required");
        return NP_ERR_CONFIG;
    }
    pool_keystore_fp_key(s->enc_key, s->fp_key);
    PGconn *c = np_db_acquire(s->base.db, 10000);
    int64_t n = 0;
    np_err err = c != NULL ? pool_keystore_refingerprint(c, s->enc_key, s->fp_key, &n) : NP_ERR_DB;
    np_db_release(s->base.db, c);
    if (err != NP_ERR_OK) {
        snprintf(why, whylen, "pool: the keys' fingerprints cannot be brought to version 2: %s",
                 np_err_message(err));
        return err;
    }
    if (n > 0) {
        np_log_info("pool", "%lld keys re-fingerprinted under ENCRYPTION_KEY", (long long)n);
    }
    return NP_ERR_OK;
}

np_err
pool_start(pool_service **out, np_config *cfg, char *why, size_t whylen)
{
    pool_service *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NP_ERR_NOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->kmu, NULL);
    np_service_no_core_dumps("pool"); /* decrypted tokens and ENCRYPTION_KEY live here */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    np_err err = np_service_open(&s->base, "pool", cfg, why, whylen);
    if (err == NP_ERR_OK) {
        err = pool_proxies_open(&s->proxies, &s->base);
    }
    if (err == NP_ERR_OK) {
        err = load_keys(s, why, whylen);
    }
    if (err == NP_ERR_OK) {
        uint8_t rnd[6];
        char hex[13];
        np_random_bytes(rnd, sizeof(rnd));
        np_hex(rnd, sizeof(rnd), hex);
        snprintf(s->holder, sizeof(s->holder), "%.60s/%s", s->base.node, hex);
        err = pool_upstream_open(&s->up);
    }
    if (err == NP_ERR_OK) {
        err = pool_keyprobe_open(&s->probes, (int)NP_SETTING_NOW(cfg, pool, KEY_PROBE_WORKERS));
    }
    if (err == NP_ERR_OK) {
        s->keyring = pool_keyring_new(s->enc_key);
        err = s->keyring != NULL ? NP_ERR_OK : NP_ERR_NOMEM;
    }
    if (err == NP_ERR_OK) {
        np_settings *snap = np_config_acquire(cfg);
        err = pool_sched_open(&s->sched, s->base.db, np_settings_common(snap)->DATABASE_URL, cfg,
                              s->base.events, s->enc_key, s->holder, s->keyring);
        np_settings_release(snap);
    }
    if (err == NP_ERR_OK) {
        s->inflight = pool_inflight_new();
        err = s->inflight != NULL ? NP_ERR_OK : NP_ERR_NOMEM;
    }
    if (err == NP_ERR_OK) {
        pool_relay_deps d = {.cfg = cfg,
                             .db = s->base.db,
                             .events = s->base.events,
                             .up = s->up,
                             .sched = s->sched,
                             .keyring = s->keyring,
                             .inflight = s->inflight,
                             .node = s->base.node,
                             .proxies = s->proxies};
        err = pool_relay_new(&s->relay, &d);
    }
    if (err == NP_ERR_OK) {
        pool_sched_set_tick(s->sched, pool_relay_tick, s->relay);
        s->api = (pool_api){.cfg = cfg,
                            .db = s->base.db,
                            .events = s->base.events,
                            .enc_key = s->enc_key,
                            .fp_key = s->fp_key,
                            .sched = s->sched,
                            .relay = s->relay,
                            .keyring = s->keyring,
                            .probes = s->probes,
                            .proxies = s->proxies};
        np_settings *snap = np_config_acquire(cfg);
        np_rpc_opts opts = {
            .recv_max = (size_t)np_settings_common(snap)->MAX_BODY_BYTES + (4u << 20),
            .contexts = (int)NP_SETTINGS_OF(snap, pool)->POOL_RPC_CONTEXTS,
            .workers = (int)NP_SETTINGS_OF(snap, pool)->POOL_RPC_WORKERS,
        };
        np_service_set_metrics(&s->base, render_metrics, s);
        err = np_service_listen(&s->base, "POOL_RPC_LISTEN",
                                np_settings_common(snap)->POOL_RPC_LISTEN, &opts, on_call, s, why,
                                whylen);
        np_settings_release(snap);
    }
    if (err != NP_ERR_OK) {
        pool_stop(s);
        return err;
    }
    *out = s;
    return NP_ERR_OK;
}

void
pool_stop(pool_service *s)
{
    if (s == NULL) {
        return;
    }
    /* Stop taking work, then wind down in dependency order: waiters are answered, running
     * transfers cancelled (their leases released), streams forgotten, and only then the rpc
     * server, which needs every deferred call answered. */
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    while (s->busy > 0) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    pool_keyprobe_close(s->probes); /* uploads in flight answered before what they use goes */
    pool_sched_drain(s->sched);
    pool_upstream_close(s->up);
    pool_sched_close(s->sched);
    pool_relay_close(s->relay);
    pool_keyring_free(s->keyring);
    pool_proxies_close(s->proxies);
    np_service_close(&s->base);
    pool_inflight_free(s->inflight);
    np_wipe(s->enc_key, sizeof(s->enc_key));
    np_wipe(s->fp_key, sizeof(s->fp_key));
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->kmu);
    curl_global_cleanup();
    free(s);
}
