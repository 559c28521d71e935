/* Configuration: typed settings from the environment, a .env file and (for the settings an
 * admin may change online) the database. Each service declares its own table of settings;
 * a process loads the tables of the services it runs. */
#ifndef NP_CONFIG_H
#define NP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "np/errors.h"

typedef enum { NP_CFG_STR, NP_CFG_INT, NP_CFG_BOOL } np_cfg_type;

enum {
    NP_CFG_SECRET = 1u << 0,  /* masked in every listing, never logged */
    NP_CFG_RUNTIME = 1u << 1, /* an admin may change it online (PUT /admin/config) */
};

typedef enum { NP_CFG_SRC_DEFAULT, NP_CFG_SRC_ENV, NP_CFG_SRC_DB } np_cfg_source;

typedef struct {
    const char *name;
    np_cfg_type type;
    const char *def;  /* default as text; NULL or "" for none */
    int64_t min, max; /* for NP_CFG_INT; min == max == 0 means unbounded */
    unsigned flags;
    const char *doc; /* one line */
    /* optional extra check; writes a reason into why and returns false when invalid */
    bool (*check)(const char *value, char *why, size_t whylen);
} np_cfg_spec;

#define NP_CFG_END                                                                                 \
    {                                                                                              \
        NULL, NP_CFG_STR, NULL, 0, 0, 0, NULL, NULL                                                \
    }

typedef struct np_config np_config;

/* The settings every service shares (SECRET_KEY, DATABASE_URL, NODE_ID, addresses...). */
extern const np_cfg_spec np_config_common[];

/* np_config_new builds a store over a NULL-terminated list of tables; NULL on no memory. */
np_config *np_config_new(const np_cfg_spec *const *tables);
void np_config_free(np_config *cfg);

/* np_config_load reads each setting from the environment, else from the .env file at
 * dotenv_path (may be NULL or absent), else its default, and validates it. On failure it
 * writes one line naming the setting into why and returns NP_ERR_CONFIG. */
np_err np_config_load(np_config *cfg, const char *dotenv_path, char *why, size_t whylen);

/* np_config_old_names calls fn once for each setting name of the earlier Python pool that
 * the environment or .env sets, with a sentence saying what it became (config_alias.h);
 * warn: it has no effect an operator may have counted on. */
typedef void (*np_config_old_fn)(void *arg, const char *sentence, bool warn);
void np_config_old_names(const char *dotenv_path, np_config_old_fn fn, void *arg);

/* np_config_set validates and sets one value from the given source (runtime changes). */
np_err np_config_set(np_config *cfg, const char *name, const char *value, np_cfg_source src,
                     char *why, size_t whylen);

/* np_config_unset drops a value that came from the database, going back to what
 * np_config_load found (environment, .env or default); a no-op for other sources.
 * NP_ERR_NOT_FOUND for an unknown name. */
np_err np_config_unset(np_config *cfg, const char *name);
/* np_config_source says where the current value came from (default for unknown names). */
np_cfg_source np_config_source(const np_config *cfg, const char *name);
/* np_config_check validates value for name without setting it; writes "NAME: reason". */
bool np_config_check(const np_config *cfg, const char *name, const char *value, char *why,
                     size_t whylen);

/* Getters. Asking for a name no loaded table declares is a programmer error (asserts). */
int64_t np_config_int(const np_config *cfg, const char *name);
bool np_config_bool(const np_config *cfg, const char *name);
/* np_config_str copies the value into out (always NUL-terminated) and returns out. */
char *np_config_str(const np_config *cfg, const char *name, char *out, size_t outlen);
/* np_config_strdup returns a malloc'd copy of the value (NULL on no memory). */
char *np_config_strdup(const np_config *cfg, const char *name);
bool np_config_has(const np_config *cfg, const char *name);
/* np_config_is_set: a non-empty value came from the environment or the database. */
bool np_config_is_set(const np_config *cfg, const char *name);

/* np_config_each calls fn for every setting in table order, with the value masked when
 * the setting is secret. */
typedef void (*np_config_each_fn)(void *arg, const np_cfg_spec *spec, const char *value,
                                  np_cfg_source src);
void np_config_each(const np_config *cfg, np_config_each_fn fn, void *arg);
const np_cfg_spec *np_config_spec(const np_config *cfg, const char *name);

/* np_dotenv_parse parses .env text; calls fn for each KEY=VALUE; returns false with the
 * line number in *bad_line on a syntax error. Exposed for tests. */
typedef void (*np_dotenv_fn)(void *arg, const char *key, const char *value);
bool np_dotenv_parse(const char *text, size_t len, np_dotenv_fn fn, void *arg, int *bad_line);

/* np_cfg_parse_bool reads a switch (1/true/yes/on, 0/false/no/off, any case); false if neither. */
bool np_cfg_parse_bool(const char *s, bool *out);

/* Shared value checks usable as np_cfg_spec.check. */
bool np_cfg_check_b64key32(const char *value, char *why, size_t whylen);
bool np_cfg_check_secret(const char *value, char *why, size_t whylen);
bool np_cfg_check_nng_url(const char *value, char *why, size_t whylen);

#endif
