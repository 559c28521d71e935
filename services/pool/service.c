/* The pool service's life cycle, its settings and its operation dispatch. */
#include "pool.h"

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

const np_cfg_spec pool_config[] = {
    {"NOVELAI_IMAGE_BASE", NP_CFG_STR, "https://image.novelai.net", 0, 0, 0,
     "NovelAI's image host: /ai/* image routes and /user/subscription", URL_CHECK},
    {"NOVELAI_TEXT_BASE", NP_CFG_STR, "https://text.novelai.net", 0, 0, 0,
     "NovelAI's text host: /ai/generate*, /oa/v1/*", URL_CHECK},
    {"NOVELAI_API_BASE", NP_CFG_STR, "https://api.novelai.net", 0, 0, 0,
     "NovelAI's legacy API host: /ai/generate-voice", URL_CHECK},
    {"NOVELAI_MODELS", NP_CFG_STR,
     "nai-diffusion-5-full,nai-diffusion-5-curated,nai-diffusion-4-5-full,"
     "nai-diffusion-4-5-curated,nai-diffusion-4-full,nai-diffusion-4-curated-preview,"
     "nai-diffusion-3,nai-diffusion-furry-3,nai-diffusion-5-full-inpainting,"
     "nai-diffusion-4-5-full-inpainting,nai-diffusion-4-5-curated-inpainting,"
     "nai-diffusion-4-full-inpainting,nai-diffusion-4-curated-inpainting,"
     "nai-diffusion-3-inpainting,nai-diffusion-furry-3-inpainting,kayra-v1,llama-3-erato-v1,"
     "glm-4-6,xialong-v1",
     0, 0, RT, "comma separated models the pool serves (GET /v1/novelai/models)", NULL},
    {"NOVELAI_OPUS_MODELS", NP_CFG_STR, "llama-3-erato-v1,xialong-v1", 0, 0, RT,
     "text models only Opus keys may serve", NULL},
    {"OPUS_MAX_PIXELS", NP_CFG_INT, "1048576", 0, 3145728, RT,
     "largest image (width x height) an Opus key generates for free (NOVELAI.md)", NULL},
    {"OPUS_MAX_STEPS", NP_CFG_INT, "28", 0, 50, RT,
     "most steps of an image an Opus key generates for free", NULL},
    {"OPUS_MAX_SAMPLES", NP_CFG_INT, "1", 0, 8, RT,
     "samples of one request an Opus key generates for free (the others are billed)", NULL},
    {"V5_ALLOWANCE_MARGIN_PERCENT", NP_CFG_INT, "1", 0, 100, RT,
     "a key whose V5 weekly allowance left (usage.percent) is at or under this gets no free "
     "V5 image",
     NULL},
    {"UPSTREAM_TIMEOUT_SECONDS", NP_CFG_INT, "120", 5, 3600, RT,
     "deadline for a whole upstream response", NULL},
    {"UPSTREAM_CONNECT_TIMEOUT_SECONDS", NP_CFG_INT, "10", 1, 120, RT,
     "deadline for connecting to NovelAI", NULL},
    {"UPSTREAM_IDLE_TIMEOUT_SECONDS", NP_CFG_INT, "60", 5, 3600, RT,
     "a stream with no byte from NovelAI for this long is aborted", NULL},
    {"STREAM_REAP_SECONDS", NP_CFG_INT, "60", 5, 3600, RT,
     "a response stream nobody asked to continue for this long is cancelled", NULL},
    {"STREAM_CHUNK_BYTES", NP_CFG_INT, "262144", 4096, 16777216, RT,
     "largest piece of a response sent to the gateway at once", NULL},
    {"STREAM_BUFFER_BYTES", NP_CFG_INT, "1048576", 65536, 67108864, RT,
     "bytes held per response before the upstream transfer pauses", NULL},
    {"MAX_CONTRIBUTED_KEYS_PER_USER", NP_CFG_INT, "20", 0, 100000, RT,
     "NovelAI keys one user (not an admin) may contribute (0: no cap)", NULL},
    {"PROBE_TIMEOUT_SECONDS", NP_CFG_INT, "15", 1, 120, RT,
     "deadline for the subscription probe of a new key", NULL},
    {"KEY_PROBE_WORKERS", NP_CFG_INT, "2", 1, 64, 0,
     "threads that probe uploaded keys (POST /keys), apart from the pool's workers", NULL},
    {"KEY_PROBE_QUEUE_MAX", NP_CFG_INT, "32", 0, 10000, RT,
     "uploads waiting for a probe thread before POST /keys answers 503 with Retry-After", NULL},
    {"KEY_UPLOADS_PER_HOUR", NP_CFG_INT, "10", 0, 100000, RT,
     "key uploads one user (not an admin) may attempt in an hour, failed ones included (429 "
     "beyond; 0: no limit)",
     NULL},
    {"KEY_MAX_CONCURRENCY", NP_CFG_INT, "1", 1, 64, RT,
     "requests one key serves at once, across every pool instance", NULL},
    {"LEASE_TTL_SECONDS", NP_CFG_INT, "30", 5, 3600, RT,
     "a key lease not renewed for this long lapses (a crashed instance's keys come back)", NULL},
    {"USER_QUEUE_MAX", NP_CFG_INT, "10", 0, 100000, RT,
     "requests one user may have waiting for a key (429 beyond)", NULL},
    {"QUEUE_TIMEOUT_SECONDS", NP_CFG_INT, "60", 1, 600, RT,
     "how long a request waits for a key before 503 no_key_available", NULL},
    {"QUEUE_BODY_BYTES_MAX", NP_CFG_INT, "268435456", 1048576, 17179869184, RT,
     "request bodies this pool instance holds for requests waiting for a key or upstream "
     "(503 no_key_available beyond)",
     NULL},
    {"COOLDOWN_409_BASE_SECONDS", NP_CFG_INT, "3", 0, 86400, RT,
     "first cooldown after a 409 (doubles with the failure streak)", NULL},
    {"COOLDOWN_429_BASE_SECONDS", NP_CFG_INT, "8", 0, 86400, RT,
     "first cooldown after a rate-limit 429 (doubles with the failure streak)", NULL},
    {"COOLDOWN_5XX_BASE_SECONDS", NP_CFG_INT, "15", 0, 86400, RT,
     "first cooldown after a 5xx or network failure (doubles with the failure streak)", NULL},
    {"COOLDOWN_402_BASE_SECONDS", NP_CFG_INT, "60", 0, 86400, RT, "cooldown after a 402 or 403",
     NULL},
    {"COOLDOWN_MAX_SECONDS", NP_CFG_INT, "300", 0, 86400, RT, "longest cooldown", NULL},
    {"COOLDOWN_LOCKED_SECONDS", NP_CFG_INT, "3", 0, 86400, RT,
     "rest after 429 Concurrent generation is locked (no failure strike)", NULL},
    {"COOLDOWN_CANCEL_SECONDS", NP_CFG_INT, "5", 0, 86400, RT,
     "rest after a client abandoned a generation (NovelAI keeps the account busy)", NULL},
    {"MAX_RETRIES", NP_CFG_INT, "2", 0, 10, RT,
     "other keys tried after a key-level failure, where safe", NULL},
    {"RATE_LIMIT_MODE", NP_CFG_STR, "auto", 0, 0, RT,
     "auto (rate earned by contributed keys) or manual (MANUAL_GLOBAL_RPM)", NULL},
    {"BASE_RPM", NP_CFG_INT, "0", 0, 100000, RT, "requests per minute everyone gets (auto)", NULL},
    {"PER_KEY_RPM", NP_CFG_INT, "10", 0, 100000, RT,
     "requests per minute added per healthy key contributed (auto)", NULL},
    {"MAX_RPM", NP_CFG_INT, "120", 0, 1000000, RT, "highest rate in auto mode", NULL},
    {"BASE_RPM_CONTRIBUTOR_ONLY", NP_CFG_BOOL, "true", 0, 0, RT,
     "BASE_RPM only for users with a healthy contributed key; with BASE_RPM 0 the others are "
     "refused (403 contribution_required)",
     NULL},
    {"MANUAL_GLOBAL_RPM", NP_CFG_INT, "0", 0, 1000000, RT,
     "requests per minute of every user in manual mode", NULL},
    {"DYNAMIC_COOLDOWN_ENABLED", NP_CFG_BOOL, "true", 0, 0, RT,
     "true: a key's cooldown doubles with its failure streak; false: every cooldown is its base",
     NULL},
    {"NOVELAI_DEFAULT_MODEL", NP_CFG_STR, "nai-diffusion-4-5-full", 0, 0, RT,
     "the model of a generate-image body that names none", NULL},
    {"REQUIRE_OPUS_TIER", NP_CFG_BOOL, "true", 0, 0, RT,
     "true: a contributed key whose subscription is not Opus (tier 3) is refused (400)", NULL},
    {"USER_MAX_CONCURRENCY", NP_CFG_INT, "0", 0, 10000, RT,
     "requests one user may run at once (0: the user's healthy keys, at least 1)", NULL},
    {"POOL_RPC_CONTEXTS", NP_CFG_INT, "4096", 16, 65536, 0,
     "concurrent requests the pool holds (waiting, streaming)", NULL},
    {"POOL_RPC_WORKERS", NP_CFG_INT, "8", 1, 256, 0, "pool worker threads", NULL},
    NP_CFG_END,
};

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

/* serve_settings answers /admin/config and /admin/proxies (admin_config.h, proxies.h);
 * false for every other path, which pool_api_http answers. */
static bool
serve_settings(pool_service *s, np_rpc_call *call, const msgpack_object *req)
{
    np_http_req r;
    if (np_http_req_read(req, &r) != NP_ERR_OK ||
        (strcmp(r.path, "/admin/config") != 0 && strncmp(r.path, "/admin/proxies", 14) != 0 &&
         strcmp(r.path, "/admin/proxy-pool") != 0)) {
        return false;
    }
    if (np_http_refuse_relay_key(call, &r)) {
        return true;
    }
    if (strcmp(r.role, "admin") != 0) {
        np_http_reply_err(call, NP_ERR_FORBIDDEN, "administrators only");
        return true;
    }
    return pool_admin_config_serve(&s->base, call, &r) || pool_proxies_serve(s->proxies, call, &r);
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
        if (!serve_settings(s, call, req)) {
            pool_api_http(&s->api, call, req);
        }
    } else if (strcmp(op, "user.limits") == 0) {
        pool_api_user_limits(&s->api, call, req);
    } else {
        np_rpc_reply_error(call, NP_ERR_NOT_FOUND, "unknown operation");
    }
    leave(s);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* keys_by_state fills n[] with the pool's keys per visible state: one query at most every
 * KEYS_TTL_MS whoever scrapes; false when they were never read (no database). */
static bool
keys_by_state(pool_service *s, int64_t n[NSTATES])
{
    pthread_mutex_lock(&s->kmu);
    if (s->keys_at_ms == 0 || mono_ms() - s->keys_at_ms > KEYS_TTL_MS) {
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
                        s->keys_n[i] = strtoll(PQgetvalue(res, r, 1), NULL, 10);
                    }
                }
            }
            s->keys_at_ms = mono_ms();
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
    char text[256];
    np_config_str(s->base.cfg, "ENCRYPTION_KEY", text, sizeof(text));
    bool ok = np_key_parse(text, s->enc_key);
    np_wipe(text, sizeof(text));
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
        err = pool_keyprobe_open(&s->probes, (int)np_config_int(cfg, "KEY_PROBE_WORKERS"));
    }
    if (err == NP_ERR_OK) {
        s->keyring = pool_keyring_new(s->enc_key);
        err = s->keyring != NULL ? NP_ERR_OK : NP_ERR_NOMEM;
    }
    if (err == NP_ERR_OK) {
        char *url = np_config_strdup(cfg, "DATABASE_URL");
        err = url != NULL ? pool_sched_open(&s->sched, s->base.db, url, cfg, s->base.events,
                                            s->enc_key, s->holder, s->keyring)
                          : NP_ERR_NOMEM;
        if (url != NULL) {
            np_wipe(url, strlen(url));
        }
        free(url);
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
        np_rpc_opts opts = {
            .recv_max = (size_t)np_config_int(cfg, "MAX_BODY_BYTES") + (4u << 20),
            .contexts = (int)np_config_int(cfg, "POOL_RPC_CONTEXTS"),
            .workers = (int)np_config_int(cfg, "POOL_RPC_WORKERS"),
        };
        np_service_set_metrics(&s->base, render_metrics, s);
        err = np_service_listen(&s->base, "POOL_RPC_LISTEN", &opts, on_call, s, why, whylen);
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
