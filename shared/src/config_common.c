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

#define NP_SETTING(...) NP_CFG_ROW(np_common_settings, __VA_ARGS__)
const np_cfg_spec np_config_common[] = {
#include "np/config_common.def"
    NP_CFG_END,
};
#undef NP_SETTING
NP_CFG_TABLE(np_common, np_config_common);
