/* The earlier Python pool's setting names and what each becomes (config_alias.h). */
#include "np/config_alias.h"

#include <stdio.h>
#include <string.h>

#include "np/config.h"

/* AUTO_QUOTA_ENABLED: true is the auto rate, false the manual one. */
static bool
quota_mode(const char *v, char *out, size_t outlen)
{
    bool b;
    if (!np_cfg_parse_bool(v, &b)) {
        return false;
    }
    snprintf(out, outlen, "%s", b ? "auto" : "manual");
    return true;
}

/* A switch whose true is the one worth a warning (CORS_ALLOW_CREDENTIALS=true). */
static bool
switch_value(const char *v, char *out, size_t outlen)
{
    bool b;
    if (!np_cfg_parse_bool(v, &b)) {
        return false;
    }
    snprintf(out, outlen, "%s", b ? "true" : "false");
    return true;
}

#define RENAME(old, name)                                                                          \
    {                                                                                              \
        old, name, NULL, NULL, false                                                               \
    }
#define NOEFFECT(old, why)                                                                         \
    {                                                                                              \
        old, NULL, NULL, why, false                                                                \
    }

const np_cfg_alias np_cfg_aliases[] = {
    NOEFFECT("ENVIRONMENT", "no effect"),
    NOEFFECT("SYSTEM_CONFIG_REFRESH_ENABLED",
             "no effect: runtime settings spread at once by LISTEN/NOTIFY"),
    RENAME("SYSTEM_CONFIG_REFRESH_INTERVAL_SECONDS", "CONFIG_RELOAD_SECONDS"),
    {"CORS_ALLOW_CREDENTIALS", NULL, switch_value,
     "no effect: no cookies are used (credentials are bearer tokens)", true},
    {"AUTO_QUOTA_ENABLED", "RATE_LIMIT_MODE", quota_mode, NULL, false},
    {"KEY_COOLDOWN_SECONDS", NULL, NULL,
     "no effect: a key serves one generation at a time by its lease (KEY_MAX_CONCURRENCY, "
     "LEASE_TTL_SECONDS) instead of a fixed gap",
     true},
    NOEFFECT("HEALTH_CHECK_LEADER_ONLY", "no effect: the health leader is elected"),
    NOEFFECT("HEALTH_CHECK_LEADER_NODE_ID", "no effect: the health leader is elected"),
    NOEFFECT("UPSTREAM_PROXY_KEEPALIVE_LEADER_ONLY", "no effect: the health leader is elected"),
    NOEFFECT("UPSTREAM_PROXY_KEEPALIVE_LEADER_NODE_ID", "no effect: the health leader is elected"),
    NOEFFECT("UPSTREAM_PROXY_STRATEGY", "no effect: each key keeps one proxy (sticky) here"),
    NOEFFECT("UPSTREAM_PROXY_STICKY_SALT", "no effect: each key keeps one proxy (sticky) here"),
    RENAME("UPSTREAM_PROXY_MAX_COOLDOWN_SECONDS", "PROXY_COOLDOWN_MAX_SECONDS"),
    RENAME("UPSTREAM_PROXY_FAILURE_THRESHOLD", "PROXY_FAIL_THRESHOLD"),
    RENAME("UPSTREAM_PROXY_FAIL_STREAK_CAP", "PROXY_FAIL_STREAK_CAP"),
    /* the specific cooldowns first: they win over the old common base */
    RENAME("UPSTREAM_PROXY_COOLDOWN_429_SECONDS", "PROXY_COOLDOWN_429_SECONDS"),
    RENAME("UPSTREAM_PROXY_COOLDOWN_5XX_SECONDS", "PROXY_COOLDOWN_5XX_SECONDS"),
    RENAME("UPSTREAM_PROXY_COOLDOWN_ERROR_SECONDS", "PROXY_COOLDOWN_NETWORK_SECONDS"),
    RENAME("UPSTREAM_PROXY_COOLDOWN_SECONDS", "PROXY_COOLDOWN_429_SECONDS"),
    RENAME("UPSTREAM_PROXY_COOLDOWN_SECONDS", "PROXY_COOLDOWN_5XX_SECONDS"),
    RENAME("UPSTREAM_PROXY_COOLDOWN_SECONDS", "PROXY_COOLDOWN_NETWORK_SECONDS"),
    RENAME("UPSTREAM_PROXY_KEEPALIVE_ENABLED", "PROXY_CHECK_ENABLED"),
    RENAME("UPSTREAM_PROXY_KEEPALIVE_INTERVAL_SECONDS", "PROXY_CHECK_INTERVAL_SECONDS"),
    RENAME("UPSTREAM_PROXY_KEEPALIVE_URL", "PROXY_CHECK_URL"),
    RENAME("UPSTREAM_PROXY_KEEPALIVE_TIMEOUT_SECONDS", "PROXY_CHECK_TIMEOUT_SECONDS"),
    {NULL, NULL, NULL, NULL, false},
};

const np_cfg_alias *
np_cfg_alias_value(const char *name, const char *(*get)(void *, const char *), void *arg, char *out,
                   size_t outlen)
{
    for (const np_cfg_alias *a = np_cfg_aliases; a->old != NULL; a++) {
        if (a->name == NULL || strcmp(a->name, name) != 0) {
            continue;
        }
        const char *v = get(arg, a->old);
        if (v == NULL) {
            continue;
        }
        if (a->map == NULL) {
            snprintf(out, outlen, "%s", v);
        } else if (!a->map(v, out, outlen)) {
            snprintf(out, outlen, "%s", v); /* validation of the setting names the fault */
        }
        return a;
    }
    return NULL;
}

bool
np_cfg_alias_describe(const np_cfg_alias *a, const char *value, char *out, size_t outlen)
{
    char mapped[256] = "";
    bool ok = a->map == NULL || a->map(value, mapped, sizeof(mapped));
    if (a->name != NULL && a->map == NULL) {
        snprintf(out, outlen, "%s is read as %s", a->old, a->name);
    } else if (a->name != NULL) {
        snprintf(out, outlen, "%s=%s is read as %s=%s", a->old, value, a->name,
                 ok ? mapped : "(not valid)");
    } else {
        snprintf(out, outlen, "%s: %s", a->old, a->note);
    }
    if (a->name == NULL && a->map != NULL) {
        return ok && strcmp(mapped, "true") == 0 && a->warn;
    }
    return a->warn;
}

bool
np_cfg_old_value(const char *name, const char *value, char *out, size_t outlen)
{
    static const char *const drivers[] = {"postgresql+asyncpg://", "postgres+asyncpg://",
                                          "postgresql+psycopg://", "postgresql+psycopg2://", NULL};
    if (strcmp(name, "DATABASE_URL") != 0) {
        return false;
    }
    for (int i = 0; drivers[i] != NULL; i++) {
        size_t n = strlen(drivers[i]);
        if (strncmp(value, drivers[i], n) == 0 && strlen(value) < outlen) {
            const char *plus = strchr(drivers[i], '+');
            snprintf(out, outlen, "%.*s://%s", (int)(plus - drivers[i]), drivers[i], value + n);
            return true;
        }
    }
    return false;
}
