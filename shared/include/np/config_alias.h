/* The earlier Python pool's setting names (SEED-COMPAT.md), read beside today's.
 *
 * An old name either sets a setting of this suite (renamed, or with its value translated)
 * or is accepted with no effect and a sentence saying why. np_config_load consults this table
 * for every setting that neither the environment nor .env set by its own name, so the new
 * name wins when both are given. Start-up and `naipool config check` name each old name seen,
 * once, with what it became (np_config_old_names). */
#ifndef NP_CONFIG_ALIAS_H
#define NP_CONFIG_ALIAS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *old;  /* the old name */
    const char *name; /* the setting it sets; NULL: none (accepted, no effect) */
    /* the value translated into out (NULL: as given); false: the old value is not valid */
    bool (*map)(const char *value, char *out, size_t outlen);
    const char *note; /* what it became, for the log (English, one line) */
    bool warn;        /* seen at all (or, with name NULL and map, true) deserves a warning */
} np_cfg_alias;

/* Every old name, in order of precedence: of two old names setting one setting, the first
 * that is set wins. Ends with an entry whose old is NULL. */
extern const np_cfg_alias np_cfg_aliases[];

/* np_cfg_alias_value finds the value of setting name given by an old name: get(arg, old)
 * answers an old name's raw value or NULL. Returns the alias used (NULL: none set); the
 * translated value is written into out. */
const np_cfg_alias *np_cfg_alias_value(const char *name, const char *(*get)(void *, const char *),
                                       void *arg, char *out, size_t outlen);

/* np_cfg_alias_describe writes, for an old name set to value, the sentence the log and
 * `config check` print ("AUTO_QUOTA_ENABLED=false -> RATE_LIMIT_MODE=manual"). Returns
 * whether it deserves a warning rather than a note. */
bool np_cfg_alias_describe(const np_cfg_alias *a, const char *value, char *out, size_t outlen);

/* np_cfg_old_value rewrites a value of today's name in the old pool's form into today's
 * (DATABASE_URL=postgresql+asyncpg://... loses +asyncpg); false: nothing to rewrite. */
bool np_cfg_old_value(const char *name, const char *value, char *out, size_t outlen);

#endif
