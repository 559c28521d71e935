/* The settings every service shares, and the value checks used by several tables. */
#include <stdio.h>
#include <string.h>

#include "np/config.h"
#include "np/crypto.h"

bool
np_cfg_check_b64key32(const char *value, char *why, size_t whylen)
{
    uint8_t key[NP_KEY_LEN];
    bool ok = np_key_parse(value, key);
    np_wipe(key, sizeof(key));
    if (!ok) {
        snprintf(why, whylen,
                 "must be URL-safe base64 of exactly 32 bytes "
                 "(make one with `naipool keygen`)");
    }
    return ok;
}

bool
np_cfg_check_secret(const char *value, char *why, size_t whylen)
{
    static const char *const weak[] = {"change-me", "changeme",        "secret",
                                       "password",  "your-secret-key", "dev",
                                       "test",      "default",         NULL};
    for (int i = 0; weak[i] != NULL; i++) {
        if (strcasecmp(value, weak[i]) == 0) {
            snprintf(why, whylen, "a well-known weak value; use a random one of 32+ characters");
            return false;
        }
    }
    if (strlen(value) < 32) {
        snprintf(why, whylen, "too short (at least 32 characters)");
        return false;
    }
    return true;
}

bool
np_cfg_check_nng_url(const char *value, char *why, size_t whylen)
{
    static const char *const schemes[] = {"inproc://", "ipc://",  "tcp://",
                                          "tcp4://",   "tcp6://", NULL};
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", value);
    char *save = NULL;
    for (char *u = strtok_r(copy, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save)) {
        bool ok = false;
        for (int i = 0; schemes[i] != NULL && !ok; i++) {
            ok = strncmp(u, schemes[i], strlen(schemes[i])) == 0 && strlen(u) > strlen(schemes[i]);
        }
        if (!ok) {
            snprintf(why, whylen, "'%.60s' is not an NNG address (inproc://, ipc://, tcp://)", u);
            return false;
        }
    }
    return true;
}

static bool
check_log_level(const char *value, char *why, size_t whylen)
{
    if (strcmp(value, "debug") && strcmp(value, "info") && strcmp(value, "warn") &&
        strcmp(value, "error")) {
        snprintf(why, whylen, "must be debug, info, warn or error");
        return false;
    }
    return true;
}

static bool
check_db_url(const char *value, char *why, size_t whylen)
{
    if (strncmp(value, "sqlite", 6) == 0) {
        return true; /* the earlier pool's: naipool import reads it, start-up refuses it */
    }
    if (strncmp(value, "postgres", 8) != 0 || strstr(value, "://") == NULL) {
        snprintf(why, whylen, "must be a postgresql:// URI");
        return false;
    }
    return true;
}

#define NNG(name, def, doc)                                                                        \
    {                                                                                              \
        name, NP_CFG_STR, def, 0, 0, 0, doc, np_cfg_check_nng_url                                  \
    }

const np_cfg_spec np_config_common[] = {
    {"SECRET_KEY", NP_CFG_STR, "", 0, 0, NP_CFG_SECRET,
     "signs sessions and hashes relay keys; generated into DATA_DIR in single-node mode",
     np_cfg_check_secret},
    {"ENCRYPTION_KEY", NP_CFG_STR, "", 0, 0, NP_CFG_SECRET,
     "URL-safe base64 of 32 bytes; encrypts contributed keys at rest", np_cfg_check_b64key32},
    {"INTERNAL_SECRET", NP_CFG_STR, "", 0, 0, NP_CFG_SECRET,
     "shared by every service instance: each NNG message carries an HMAC-SHA256 under it "
     "(required when MULTI_NODE_ENABLED=true; unset in single-node mode: inproc:// only)",
     np_cfg_check_secret},
    {"DATABASE_URL", NP_CFG_STR, "", 0, 0, NP_CFG_SECRET,
     "libpq URI; unset in single-node mode: a private Postgres under DATA_DIR", check_db_url},
    {"MULTI_NODE_ENABLED", NP_CFG_BOOL, "false", 0, 0, 0,
     "true: services run as separate instances sharing DATABASE_URL", NULL},
    {"NODE_ID", NP_CFG_STR, "", 0, 0, 0, "this instance's name; default: the host name", NULL},
    {"DATA_DIR", NP_CFG_STR, "./var", 0, 0, 0,
     "where the private Postgres and generated secrets live", NULL},
    {"LOG_LEVEL", NP_CFG_STR, "info", 0, 0, 0, "debug, info, warn or error", check_log_level},
    {"MAX_BODY_BYTES", NP_CFG_INT, "33554432", 1024, 268435456, 0,
     "largest request body accepted (413 beyond)", NULL},
    {"DB_POOL_SIZE", NP_CFG_INT, "8", 1, 256, 0, "database connections per service", NULL},
    {"RPC_TIMEOUT_MS", NP_CFG_INT, "10000", 100, 600000, 0,
     "deadline for an answer between services (relay calls have their own)", NULL},
    NNG("AUTH_RPC_URL", "tcp://127.0.0.1:7101", "where auth is reached"),
    NNG("AUTH_RPC_LISTEN", "tcp://127.0.0.1:7101",
        "where auth listens (default with MULTI_NODE_ENABLED=true: tcp://0.0.0.0:7101)"),
    NNG("POOL_RPC_URL", "tcp://127.0.0.1:7102",
        "where pool is reached: a comma list; a host name stands for all its addresses"),
    NNG("POOL_RPC_LISTEN", "tcp://127.0.0.1:7102",
        "where pool listens (default with MULTI_NODE_ENABLED=true: tcp://0.0.0.0:7102)"),
    NNG("AUDIT_RPC_URL", "tcp://127.0.0.1:7103", "where audit is reached (log queries)"),
    NNG("AUDIT_RPC_LISTEN", "tcp://127.0.0.1:7103",
        "where audit listens (default with MULTI_NODE_ENABLED=true: tcp://0.0.0.0:7103)"),
    NNG("HEALTH_RPC_URL", "tcp://127.0.0.1:7104", "where health is reached"),
    NNG("HEALTH_RPC_LISTEN", "tcp://127.0.0.1:7104",
        "where health listens (default with MULTI_NODE_ENABLED=true: tcp://0.0.0.0:7104)"),
    NNG("EVENTS_URL", "tcp://127.0.0.1:7105", "where producers send events (audit's sub)"),
    NNG("EVENTS_LISTEN", "tcp://127.0.0.1:7105",
        "where audit receives events (default with MULTI_NODE_ENABLED=true: tcp://0.0.0.0:7105)"),
    NNG("ACKS_URL", "tcp://127.0.0.1:7106", "where producers receive acknowledgements"),
    NNG("ACKS_LISTEN", "tcp://127.0.0.1:7106",
        "where audit publishes acknowledgements (default with MULTI_NODE_ENABLED=true: "
        "tcp://0.0.0.0:7106)"),
    {"EVENTS_OUTBOX_MAX", NP_CFG_INT, "100000", 16, 10000000, 0,
     "events a producer keeps until audit acknowledges them (beyond: dropped, counted)", NULL},
    {"EVENTS_INFLIGHT_MAX", NP_CFG_INT, "1024", 1, 1000000, 0,
     "events a producer has sent and not yet seen acknowledged, at most", NULL},
    {"EVENTS_RESEND_MS", NP_CFG_INT, "2000", 50, 600000, 0,
     "a producer re-sends an event unacknowledged this long", NULL},
    {"EVENTS_DRAIN_MS", NP_CFG_INT, "3000", 0, 600000, 0,
     "on a graceful stop, how long a producer waits for its outbox to be acknowledged", NULL},
    {"NODE_HEARTBEAT_SECONDS", NP_CFG_INT, "5", 1, 300, 0,
     "how often every service instance refreshes its row of the nodes table (GET /admin/nodes)",
     NULL},
    {"CONFIG_RELOAD_SECONDS", NP_CFG_INT, "60", 1, 86400, 0,
     "every process re-reads the runtime settings this often, besides LISTEN/NOTIFY", NULL},
    {"LOG_REQUEST_IP", NP_CFG_BOOL, "false", 0, 0, NP_CFG_RUNTIME,
     "store the client IP in usage logs (shown to admins only); off: no IP is stored", NULL},
    NP_CFG_END,
};
