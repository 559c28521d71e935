/* Configuration: typed settings from the environment, a .env file and (for the settings an
 * admin may change online) the database. Each service declares its own table of settings;
 * a process loads the tables of the services it runs.
 *
 * Typed settings. A service lists its settings once, in an X-macro file (settings.def beside
 * its service.c; np/config_common.def for the shared ones), one row a setting:
 *
 *     NP_SETTING(MAX_RETRIES, INT, "2", 0, 10, NP_CFG_RUNTIME, "doc", check)
 *
 * The same rows generate both the struct (NP_CFG_FIELD: `int64_t MAX_RETRIES;`) and the
 * np_cfg_spec table bound to it (NP_CFG_ROW: name, type, limits, doc, offsetof). An X-macro
 * rather than a hand-written offsetof per row because the struct and the table cannot drift
 * apart: a row is one line, a field without a row cannot exist, and the field's C type follows
 * from the row's type. Fields carry the setting's own name, so one grep finds a setting in
 * .env files, docs/CONFIG.md and the code, and a misspelt name fails to compile.
 *
 * Snapshots. The store keeps each setting's text (for listings, PUT /admin/config and the
 * alias module) and, after np_config_load and after every np_config_set/np_config_unset that
 * changes something, builds an immutable snapshot: one struct per table, ints parsed, strings
 * copied into storage the snapshot owns. It is published by swapping one atomic pointer.
 * Readers take it with np_config_acquire (no lock, no parse, no name lookup) and give it back
 * with np_settings_release; a snapshot stays valid, unchanged, while held, so a request that
 * holds one sees one consistent set of values from start to end.
 *
 * Lifetime: every snapshot is reference counted (the store holds one reference on the current
 * snapshot). The only race, a reader loading the pointer while a writer swaps it and drops the
 * store's reference, is closed by a two-slot epoch: a reader counts itself into the slot of the
 * current epoch around "load pointer, take a reference" (a few instructions), and a writer,
 * after the swap, advances the epoch and waits for the old slot to drain before dropping the
 * store's reference. Writers wait only for readers inside that short window, never for a
 * reader that holds a snapshot for a whole request. NP_SETTING_NOW reads one value inside
 * that window and takes no reference at all. */
#ifndef NP_CONFIG_H
#define NP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
    size_t offset; /* of the setting's field in its table's struct */
} np_cfg_spec;

#define NP_CFG_END                                                                                 \
    {                                                                                              \
        NULL, NP_CFG_STR, NULL, 0, 0, 0, NULL, NULL, 0                                             \
    }

/* The C type of each setting type's field; strings belong to the snapshot, never NULL. */
#define NP_CFG_CTYPE_INT int64_t
#define NP_CFG_CTYPE_BOOL bool
#define NP_CFG_CTYPE_STR const char *

/* NP_CFG_FIELD: a settings.def row as a struct field (define NP_SETTING as it, then include
 * the .def inside the struct). */
#define NP_CFG_FIELD(name, type, def, min, max, flags, doc, check) NP_CFG_CTYPE_##type name;
/* NP_CFG_ROW(T, ...): a settings.def row as an np_cfg_spec bound to its field of struct T. */
#define NP_CFG_ROW(T, name, type, def, min, max, flags, doc, check)                                \
    {#name, NP_CFG_##type, def, min, max, flags, doc, check, offsetof(T, name)},

/* A table: its settings and the struct they fill. prefix names the struct (prefix_settings)
 * and finds its block in a snapshot (NP_SETTINGS_OF). size 0: a table without a struct,
 * read only by name (a store built to read one file, say). */
typedef struct {
    const char *prefix;
    const np_cfg_spec *specs; /* NP_CFG_END terminated */
    size_t size;              /* sizeof(prefix_settings) */
} np_cfg_table;

/* NP_CFG_TABLE(prefix, specs) defines prefix_settings_table over specs. */
#define NP_CFG_TABLE(prefix, specs)                                                                \
    const np_cfg_table prefix##_settings_table = {#prefix, specs, sizeof(prefix##_settings)}

/* The settings every service shares (SECRET_KEY, DATABASE_URL, NODE_ID, addresses...). */
typedef struct {
#define NP_SETTING NP_CFG_FIELD
#include "np/config_common.def"
#undef NP_SETTING
} np_common_settings;
extern const np_cfg_spec np_config_common[];
extern const np_cfg_table np_common_settings_table;

typedef struct np_config np_config;
/* An immutable set of every loaded table's values (see Snapshots above). */
typedef struct np_settings np_settings;

/* np_config_new builds a store over a NULL-terminated list of tables, with a first snapshot
 * of the defaults; NULL on no memory. The list is copied; the tables it points to are borrowed
 * and must outlive the store (they are static). */
np_config *np_config_new(const np_cfg_table *const *tables);
/* np_config_free frees the store; every snapshot taken from it must have been released. */
void np_config_free(np_config *cfg);

/* np_config_acquire returns the current snapshot with one more reference (never NULL): no
 * lock, no parse. Give it back with np_settings_release; until then it stays as it was. */
np_settings *np_config_acquire(const np_config *cfg);
/* np_settings_release drops a reference taken by np_config_acquire; NULL is accepted. The
 * last reference frees the snapshot (secrets are wiped). */
void np_settings_release(np_settings *s);
/* np_settings_block: the struct of the table called prefix, which must have been loaded and
 * have size bytes (both programmer errors: assert). Use NP_SETTINGS_OF. */
const void *np_settings_block(const np_settings *s, const char *prefix, size_t size);
/* NP_SETTINGS_OF(snap, pool) is snap's `const pool_settings *`. */
#define NP_SETTINGS_OF(snap, prefix)                                                               \
    ((const prefix##_settings *)np_settings_block((snap), #prefix, sizeof(prefix##_settings)))
/* np_settings_common: the shared settings of snap. */
const np_common_settings *np_settings_common(const np_settings *s);
/* np_settings_version counts the snapshots published before this one (0: the defaults). */
uint64_t np_settings_version(const np_settings *s);

/* NP_SETTING_NAME(prefix, NAME) is the string "NAME", checked at compile time against
 * prefix_settings, for the few places that must pass a setting's name (np_config_set,
 * np_config_is_set, tables of names); usable in static initializers. */
#define NP_SETTING_NAME(prefix, NAME) (&#NAME[0 * sizeof(((prefix##_settings *)0)->NAME)])

/* np__config_enter / np__config_leave bracket a read of the current snapshot without taking a
 * reference: inside, the snapshot cannot be freed (a writer waits for the slot to drain), so
 * only a few loads may happen there. For the macros below; code takes references. */
np_settings *np__config_enter(const np_config *cfg, unsigned *slot);
void np__config_leave(const np_config *cfg, unsigned slot);

/* NP_SETTING_NOW(cfg, prefix, NAME) reads one number or switch of the current snapshot, for
 * code that reads a single value now and then (a periodic thread's interval, a handler's
 * limit): no reference is taken, so it costs two atomic increments. Strings need a held
 * snapshot or NP_SETTING_COPY: a string does not compile here. */
#define NP_SETTING_NOW(cfg, prefix, NAME)                                                          \
    __extension__({                                                                                \
        unsigned np_slot_;                                                                         \
        const np_settings *np_now_ = np__config_enter((cfg), &np_slot_);                           \
        __typeof__(NP_SETTINGS_OF(np_now_, prefix)->NAME) np_val_ =                                \
            NP_SETTINGS_OF(np_now_, prefix)->NAME;                                                 \
        _Static_assert(!__builtin_types_compatible_p(__typeof__(np_val_), const char *),           \
                       "hold a snapshot to read a string setting");                                \
        np__config_leave((cfg), np_slot_);                                                         \
        np_val_;                                                                                   \
    })
/* NP_SETTING_COPY(cfg, prefix, NAME, out, outlen) copies a string setting of the current
 * snapshot into out (always NUL-terminated, cut at outlen) and returns out. */
#define NP_SETTING_COPY(cfg, prefix, NAME, out, outlen)                                            \
    __extension__({                                                                                \
        np_settings *np_now_ = np_config_acquire(cfg);                                             \
        const char *np_str_ = NP_SETTINGS_OF(np_now_, prefix)->NAME;                               \
        snprintf((out), (outlen), "%s", np_str_);                                                  \
        np_settings_release(np_now_);                                                              \
        (out);                                                                                     \
    })

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

/* Getters by name, for code where the name is data (listings, PUT /admin/config, the alias
 * module, `naipool config check`); everything else reads fields of a snapshot. Asking for a
 * name no loaded table declares is a programmer error (asserts). These take a lock and parse
 * on every call. */
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
