/* Start-up shared by every command. */
#include "boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "gateway/gateway.h"
#include "health/health.h"
#include "np/crypto.h"
#include "np/db.h"
#include "np/log.h"
#include "np/wire_mac.h"
#include "pool/pool.h"
#include "run.h"

static void
fail(const char *why)
{
    fprintf(stderr, "naipool: %s\n", why);
}

const np_cfg_table *const cli_config_tables[] = {&np_common_settings_table,
                                                 &gw_settings_table,
                                                 &auth_settings_table,
                                                 &pool_settings_table,
                                                 &health_settings_table,
                                                 &audit_settings_table,
                                                 NULL};
const char *const cli_config_table_names[] = {"common", "gateway", "auth", "pool",
                                              "health", "audit",   NULL};

/* Each setting name of the earlier Python pool, once, with what it became. */
static void
log_old_name(void *arg, const char *sentence, bool warn)
{
    (void)arg;
    np_log_write(warn ? NP_LOG_WARN : NP_LOG_INFO, "config", NULL, "old setting %s", sentence);
}

bool
cli_boot_config(cli_boot *b)
{
    const np_cfg_table *const *tables = cli_config_tables;
    char why[512] = "";
    memset(b, 0, sizeof(*b));
    b->cfg = np_config_new(tables);
    if (b->cfg == NULL) {
        fail("out of memory");
        return false;
    }
    if (np_config_load(b->cfg, ".env", why, sizeof(why)) != NP_ERR_OK) {
        fail(why);
        return false;
    }
    char level[16];
    np_log_setup(NP_SETTING_COPY(b->cfg, np_common, LOG_LEVEL, level, sizeof(level)));
    np_config_old_names(".env", log_old_name, NULL);
    char node[64];
    NP_SETTING_COPY(b->cfg, np_common, NODE_ID, node, sizeof(node));
    if (node[0] == '\0') {
        if (gethostname(node, sizeof(node)) != 0 || node[0] == '\0') {
            snprintf(node, sizeof(node), "node-%d", (int)getpid());
        }
        node[sizeof(node) - 1] = '\0';
        np_config_set(b->cfg, NP_SETTING_NAME(np_common, NODE_ID), node, NP_CFG_SRC_DEFAULT, why,
                      sizeof(why));
    }
    return true;
}

/* secrets_file loads SECRET_KEY and ENCRYPTION_KEY kept in DATA_DIR/secrets.env, making
 * them on first start; settings already given are left alone. */
static bool
secrets_file(cli_boot *b, const char *data_dir)
{
    char path[600], why[1024] = "";
    snprintf(path, sizeof(path), "%s/secrets.env", data_dir);
    if (mkdir(data_dir, 0755) != 0 && errno != EEXIST) {
        snprintf(why, sizeof(why), "DATA_DIR: cannot create %s: %s", data_dir, strerror(errno));
        fail(why);
        return false;
    }
    if (access(path, F_OK) != 0) {
        uint8_t key[NP_KEY_LEN];
        char secret[80];
        np_buf enc;
        np_buf_init(&enc, 128);
        if (np_random_bytes(key, sizeof(key)) != NP_ERR_OK ||
            np_b64url_encode(key, sizeof(key), &enc) != NP_ERR_OK ||
            np_token_new("", 384, secret, sizeof(secret)) != NP_ERR_OK) {
            fail("cannot generate secrets");
            np_buf_fini(&enc);
            return false;
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        bool ok = f != NULL && fprintf(f,
                                       "# Generated on first start; keep this file private.\n"
                                       "SECRET_KEY=%s\nENCRYPTION_KEY=%s\n",
                                       secret, enc.data) > 0;
        if (f != NULL) {
            ok = fclose(f) == 0 && ok;
        } else if (fd >= 0) {
            close(fd);
        }
        np_wipe(key, sizeof(key));
        np_wipe(secret, sizeof(secret));
        np_wipe(enc.data, enc.len);
        np_buf_fini(&enc);
        if (!ok) {
            snprintf(why, sizeof(why), "DATA_DIR: cannot write %s: %s", path, strerror(errno));
            fail(why);
            return false;
        }
        np_log_info("boot", "generated SECRET_KEY and ENCRYPTION_KEY into %s", path);
    }
    /* Reuse the .env reader: the file has the same syntax. */
    static const np_cfg_spec secrets[] = {
        {"SECRET_KEY", NP_CFG_STR, "", 0, 0, NP_CFG_SECRET, "", np_cfg_check_secret},
        {"ENCRYPTION_KEY", NP_CFG_STR, "", 0, 0, NP_CFG_SECRET, "", np_cfg_check_b64key32},
        NP_CFG_END,
    };
    static const np_cfg_table secrets_table = {"secrets", secrets, 0};
    const np_cfg_table *tables[] = {&secrets_table, NULL};
    np_config *kept = np_config_new(tables);
    /* The environment must not override what the file says for unset values, so read the
     * file through a store of its own and copy only what is still missing. */
    bool ok = kept != NULL && np_config_load(kept, path, why, sizeof(why)) == NP_ERR_OK;
    for (int i = 0; ok && i < 2; i++) {
        const char *name = secrets[i].name;
        if (!np_config_is_set(b->cfg, name)) {
            char *v = np_config_strdup(kept, name);
            ok = v != NULL && v[0] != '\0' &&
                 np_config_set(b->cfg, name, v, NP_CFG_SRC_ENV, why, sizeof(why)) == NP_ERR_OK;
            if (v != NULL) {
                np_wipe(v, strlen(v));
            }
            free(v);
        }
    }
    np_config_free(kept);
    if (!ok) {
        fail(why[0] ? why : "the secrets file in DATA_DIR is damaged");
    }
    return ok;
}

bool
cli_boot_prepare(cli_boot *b, bool need_db, bool migrate)
{
    char why[512] = "";
    char data_dir[512];
    NP_SETTING_COPY(b->cfg, np_common, DATA_DIR, data_dir, sizeof(data_dir));
    bool multi = NP_SETTING_NOW(b->cfg, np_common, MULTI_NODE_ENABLED);
    if (!need_db) {
        return true; /* the gateway alone: no database, no secrets (it must never hold them) */
    }
    if (multi) {
        /* Each service needs only the secrets it uses, so a deployment can keep the others
         * out of its reach: auth SECRET_KEY (sessions and relay-key hashes), pool and health
         * ENCRYPTION_KEY (contributed keys; the pool's key fingerprints derive from it too),
         * audit neither. */
        unsigned m = b->mask != 0 ? b->mask : ~0u;
        const struct {
            const char *name;
            unsigned users;
        } required[] = {
            {NP_SETTING_NAME(np_common, DATABASE_URL), ~0u},
            {NP_SETTING_NAME(np_common, SECRET_KEY), CLI_AUTH},
            {NP_SETTING_NAME(np_common, ENCRYPTION_KEY), CLI_POOL | CLI_HEALTH},
        };
        for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
            if (!(required[i].users & m)) {
                continue;
            }
            if (!np_config_is_set(b->cfg, required[i].name)) {
                snprintf(why, sizeof(why), "%s: required when MULTI_NODE_ENABLED=true",
                         required[i].name);
                fail(why);
                return false;
            }
        }
    } else if ((!np_config_is_set(b->cfg, NP_SETTING_NAME(np_common, SECRET_KEY)) ||
                !np_config_is_set(b->cfg, NP_SETTING_NAME(np_common, ENCRYPTION_KEY))) &&
               !secrets_file(b, data_dir)) {
        return false;
    }
    char given[1024];
    if (cli_boot_is_sqlite(
            NP_SETTING_COPY(b->cfg, np_common, DATABASE_URL, given, sizeof(given)))) {
        fail("DATABASE_URL names a SQLite database (the earlier Python pool's): this suite keeps "
             "its data in Postgres. Bring the old data over with `naipool import` (it reads this "
             "DATABASE_URL), then remove DATABASE_URL from .env (a private Postgres is used) or "
             "point it at Postgres");
        return false;
    }
    if (!np_config_is_set(b->cfg, NP_SETTING_NAME(np_common, DATABASE_URL))) {
        char url[700];
        if (np_pgboot_start(&b->pg, data_dir, url, sizeof(url), why, sizeof(why)) != NP_ERR_OK) {
            fail(why);
            return false;
        }
        np_config_set(b->cfg, NP_SETTING_NAME(np_common, DATABASE_URL), url, NP_CFG_SRC_DEFAULT,
                      why, sizeof(why));
    }
    if (!migrate) {
        return true;
    }
    np_settings *snap = np_config_acquire(b->cfg);
    np_db *db = NULL;
    char reason[300] = "";
    np_err err = np_db_open(&db, np_settings_common(snap)->DATABASE_URL, 1, "naipool-migrate",
                            reason, sizeof(reason));
    np_settings_release(snap);
    if (err != NP_ERR_OK) {
        snprintf(why, sizeof(why), "DATABASE_URL: the database cannot be reached: %s", reason);
        fail(why);
        return false;
    }
    err = np_db_migrate(db, why, sizeof(why));
    np_db_close(db);
    if (err != NP_ERR_OK) {
        fail(why);
        return false;
    }
    return true;
}

bool
cli_boot_internal(cli_boot *b, bool all)
{
    char why[512] = "";
    bool multi = NP_SETTING_NOW(b->cfg, np_common, MULTI_NODE_ENABLED);
    if (multi) {
        /* Services on their own hosts must be reachable from the others; alone on one host
         * they listen on loopback only. */
        static const char *const listens[] = {NP_SETTING_NAME(np_common, AUTH_RPC_LISTEN),
                                              NP_SETTING_NAME(np_common, POOL_RPC_LISTEN),
                                              NP_SETTING_NAME(np_common, AUDIT_RPC_LISTEN),
                                              NP_SETTING_NAME(np_common, HEALTH_RPC_LISTEN),
                                              NP_SETTING_NAME(np_common, EVENTS_LISTEN),
                                              NP_SETTING_NAME(np_common, ACKS_LISTEN),
                                              NULL};
        for (int i = 0; listens[i] != NULL; i++) {
            char url[512], wide[560];
            np_config_str(b->cfg, listens[i], url, sizeof(url));
            if (!np_config_is_set(b->cfg, listens[i]) &&
                strncmp(url, "tcp://127.0.0.1:", 16) == 0) {
                snprintf(wide, sizeof(wide), "tcp://0.0.0.0:%s", url + 16);
                np_config_set(b->cfg, listens[i], wide, NP_CFG_SRC_DEFAULT, why, sizeof(why));
            }
        }
    }
    if (!np_config_is_set(b->cfg, NP_SETTING_NAME(np_common, INTERNAL_SECRET))) {
        if (multi || !all) {
            fail("INTERNAL_SECRET: required when services run as separate processes "
                 "(MULTI_NODE_ENABLED=true or one service per command): every message between "
                 "them is authenticated with it");
            return false;
        }
        return true; /* naipool all: inproc:// within one process */
    }
    np_settings *snap = np_config_acquire(b->cfg);
    np_err err = np_wire_auth_setup(np_settings_common(snap)->INTERNAL_SECRET);
    np_settings_release(snap);
    if (err != NP_ERR_OK) {
        fail("INTERNAL_SECRET: cannot derive the message key");
        return false;
    }
    return true;
}

void
cli_boot_inproc(cli_boot *b)
{
    static const struct {
        const char *name, *url;
    } addrs[] = {
        {NP_SETTING_NAME(np_common, AUTH_RPC_URL), "inproc://naipool-auth"},
        {NP_SETTING_NAME(np_common, AUTH_RPC_LISTEN), "inproc://naipool-auth"},
        {NP_SETTING_NAME(np_common, POOL_RPC_URL), "inproc://naipool-pool"},
        {NP_SETTING_NAME(np_common, POOL_RPC_LISTEN), "inproc://naipool-pool"},
        {NP_SETTING_NAME(np_common, AUDIT_RPC_URL), "inproc://naipool-audit"},
        {NP_SETTING_NAME(np_common, AUDIT_RPC_LISTEN), "inproc://naipool-audit"},
        {NP_SETTING_NAME(np_common, HEALTH_RPC_URL), "inproc://naipool-health"},
        {NP_SETTING_NAME(np_common, HEALTH_RPC_LISTEN), "inproc://naipool-health"},
        {NP_SETTING_NAME(np_common, EVENTS_URL), "inproc://naipool-events"},
        {NP_SETTING_NAME(np_common, EVENTS_LISTEN), "inproc://naipool-events"},
        {NP_SETTING_NAME(np_common, ACKS_URL), "inproc://naipool-acks"},
        {NP_SETTING_NAME(np_common, ACKS_LISTEN), "inproc://naipool-acks"},
    };
    char why[256];
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        np_config_set(b->cfg, addrs[i].name, addrs[i].url, NP_CFG_SRC_DEFAULT, why, sizeof(why));
    }
}

void
cli_boot_fini(cli_boot *b)
{
    np_pgboot_stop(b->pg);
    b->pg = NULL;
    np_config_free(b->cfg);
    b->cfg = NULL;
}

bool
cli_boot_is_sqlite(const char *url)
{
    return strncmp(url, "sqlite", 6) == 0;
}
