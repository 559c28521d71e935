/* The configuration store: validated settings as text behind a read-write lock (the write
 * side and the by-name getters), and the typed snapshots built from them for every reader
 * (np/config.h: Snapshots, Lifetime). */
#include "np/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/buf.h"
#include "np/config_alias.h"
#include "np/crypto.h"

typedef struct {
    const np_cfg_spec *spec;
    char *value;
    np_cfg_source src;
    char *base; /* the value np_config_load found (environment, .env or default) */
    np_cfg_source base_src;
} entry;

/* Where one table's setting lands: the store's entry for its name and the field's place in
 * the snapshot (the block's offset plus the field's). */
typedef struct {
    const np_cfg_spec *spec; /* the table's own row (its type is the field's) */
    size_t entry;
    size_t at;
} binding;

struct np_settings {
    atomic_long refs;
    uint64_t version;
    const struct np_config *cfg; /* for the table layout; a snapshot never outlives its store */
    char *strings;               /* every string field points in here */
    size_t strings_len;
    unsigned char *blocks; /* the tables' structs, one after another */
};

/* The readers' side, apart from the store so const readers may count themselves in. */
typedef struct {
    _Atomic(np_settings *) current;
    atomic_ulong epoch;
    atomic_long active[2]; /* readers inside np__config_enter .. np__config_leave, per epoch */
} readers;

struct np_config {
    /* entries; held for writing while a snapshot is built and published. lock points at
     * lock_storage: readers holding a const np_config * still take the lock, which is no
     * part of the settings' value. */
    pthread_rwlock_t *lock;
    pthread_rwlock_t lock_storage;
    entry *entries;
    size_t n;
    const np_cfg_table **tables; /* a copy of the list; the tables themselves are borrowed */
    size_t ntables;
    size_t *block_at; /* per table: its block's offset in np_settings.blocks */
    size_t blocks_size;
    binding *binds;
    size_t nbinds;
    uint64_t published;
    readers *rd;
};

static entry *
find(const np_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcmp(cfg->entries[i].spec->name, name) == 0) {
            return &cfg->entries[i];
        }
    }
    return NULL;
}

#define BLOCK_ALIGN alignof(max_align_t)

static np_err publish(np_config *cfg);

np_config *
np_config_new(const np_cfg_table *const *tables)
{
    np_config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        return NULL;
    }
    size_t total = 0;
    for (size_t t = 0; tables[t] != NULL; t++) {
        for (const np_cfg_spec *s = tables[t]->specs; s->name != NULL; s++) {
            total++;
        }
        cfg->ntables++;
    }
    cfg->tables = calloc(cfg->ntables + 1, sizeof(*cfg->tables));
    cfg->entries = calloc(total ? total : 1, sizeof(entry));
    cfg->binds = calloc(total ? total : 1, sizeof(binding));
    cfg->block_at = calloc(cfg->ntables ? cfg->ntables : 1, sizeof(size_t));
    cfg->rd = calloc(1, sizeof(readers));
    if (cfg->tables == NULL || cfg->entries == NULL || cfg->binds == NULL ||
        cfg->block_at == NULL || cfg->rd == NULL) {
        free(cfg->tables);
        free(cfg->entries);
        free(cfg->binds);
        free(cfg->block_at);
        free(cfg->rd);
        free(cfg);
        return NULL;
    }
    cfg->lock = &cfg->lock_storage;
    pthread_rwlock_init(cfg->lock, NULL);
    for (size_t t = 0; tables[t] != NULL; t++) {
        cfg->tables[t] = tables[t];
        cfg->block_at[t] = cfg->blocks_size;
        cfg->blocks_size += (tables[t]->size + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
        for (const np_cfg_spec *s = tables[t]->specs; s->name != NULL; s++) {
            entry *e = find(cfg, s->name);
            if (e == NULL) {
                /* several tables may declare a shared name; the first one's row validates */
                e = &cfg->entries[cfg->n++];
                e->spec = s;
                e->src = NP_CFG_SRC_DEFAULT;
            }
            assert(e->spec->type == s->type && "one name, two types");
            if (tables[t]->size > 0) {
                assert(s->offset < tables[t]->size);
                cfg->binds[cfg->nbinds++] =
                    (binding){s, (size_t)(e - cfg->entries), cfg->block_at[t] + s->offset};
            }
        }
    }
    if (publish(cfg) != NP_ERR_OK) {
        np_config_free(cfg);
        return NULL;
    }
    return cfg;
}

void
np_config_free(np_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    for (size_t i = 0; i < cfg->n; i++) {
        if (cfg->entries[i].value != NULL) {
            if (cfg->entries[i].spec->flags & NP_CFG_SECRET) {
                memset(cfg->entries[i].value, 0, strlen(cfg->entries[i].value));
            }
            free(cfg->entries[i].value);
        }
        if (cfg->entries[i].base != NULL) {
            if (cfg->entries[i].spec->flags & NP_CFG_SECRET) {
                memset(cfg->entries[i].base, 0, strlen(cfg->entries[i].base));
            }
            free(cfg->entries[i].base);
        }
    }
    free(cfg->entries);
    np_settings *cur = atomic_load(&cfg->rd->current);
    assert(cur == NULL || atomic_load(&cur->refs) == 1 ||
           !"a snapshot is still held while its store is freed");
    np_settings_release(cur);
    free(cfg->binds);
    free(cfg->block_at);
    free(cfg->tables);
    free(cfg->rd);
    pthread_rwlock_destroy(cfg->lock);
    free(cfg);
}

static bool
parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    while (isspace((unsigned char)*s)) {
        s++;
    }
    if (*s == '\0') {
        return false;
    }
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = v;
    return true;
}

bool
np_cfg_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* validate checks value against spec; on failure writes "NAME: reason" into why. */
static bool
validate(const np_cfg_spec *spec, const char *value, char *why, size_t whylen)
{
    char reason[200] = "";
    bool ok = true;
    if (spec->type == NP_CFG_INT) {
        int64_t v;
        if (!parse_int(value, &v)) {
            snprintf(reason, sizeof(reason), "'%.40s' is not a whole number", value);
            ok = false;
        } else if ((spec->min != 0 || spec->max != 0) && (v < spec->min || v > spec->max)) {
            snprintf(reason, sizeof(reason), "%lld is outside %lld..%lld", (long long)v,
                     (long long)spec->min, (long long)spec->max);
            ok = false;
        }
    } else if (spec->type == NP_CFG_BOOL) {
        bool b;
        if (!np_cfg_parse_bool(value, &b)) {
            snprintf(reason, sizeof(reason), "'%.40s' is not a switch (true/false)", value);
            ok = false;
        }
    }
    if (ok && spec->check != NULL && value[0] != '\0') {
        ok = spec->check(value, reason, sizeof(reason));
    }
    if (!ok && why != NULL) {
        snprintf(why, whylen, "%s: %s", spec->name, reason);
    }
    return ok;
}

/* The text a setting has now: its value, else its default. */
static const char *
value_of(const entry *e)
{
    return e->value != NULL ? e->value : (e->spec->def != NULL ? e->spec->def : "");
}

/* build makes a snapshot of the entries' text as it is (the caller holds the write lock, or
 * is np_config_new): numbers and switches parsed once, strings copied into one buffer. */
static np_settings *
build(const np_config *cfg)
{
    size_t slen = 0;
    for (size_t i = 0; i < cfg->nbinds; i++) {
        if (cfg->binds[i].spec->type == NP_CFG_STR) {
            slen += strlen(value_of(&cfg->entries[cfg->binds[i].entry])) + 1;
        }
    }
    np_settings *s = calloc(1, sizeof(*s));
    char *strings = malloc(slen ? slen : 1);
    unsigned char *blocks = calloc(1, cfg->blocks_size ? cfg->blocks_size : 1);
    if (s == NULL || strings == NULL || blocks == NULL) {
        free(s);
        free(strings);
        free(blocks);
        return NULL;
    }
    size_t used = 0;
    for (size_t i = 0; i < cfg->nbinds; i++) {
        const binding *b = &cfg->binds[i];
        const char *v = value_of(&cfg->entries[b->entry]);
        void *field = blocks + b->at;
        switch (b->spec->type) {
        case NP_CFG_INT: {
            int64_t x = 0;
            (void)parse_int(v, &x); /* validated when set; a default without a value reads 0 */
            *(int64_t *)field = x;
            break;
        }
        case NP_CFG_BOOL: {
            bool x = false;
            (void)np_cfg_parse_bool(v, &x);
            *(bool *)field = x;
            break;
        }
        case NP_CFG_STR: {
            size_t n = strlen(v) + 1;
            memcpy(strings + used, v, n);
            *(const char **)field = strings + used;
            used += n;
            break;
        }
        }
    }
    atomic_init(&s->refs, 1);
    s->cfg = cfg;
    s->strings = strings;
    s->strings_len = slen;
    s->blocks = blocks;
    return s;
}

/* publish builds a snapshot of the entries and makes it current (the caller holds the write
 * lock, or is np_config_new). The old one loses the store's reference once no reader is
 * between loading the pointer and taking its own reference (np/config.h: Lifetime). On no
 * memory the current snapshot stays. */
static np_err
publish(np_config *cfg)
{
    np_settings *s = build(cfg);
    if (s == NULL) {
        return NP_ERR_NOMEM;
    }
    s->version = cfg->published++;
    readers *r = cfg->rd;
    np_settings *old = atomic_exchange(&r->current, s);
    if (old != NULL) {
        /* A reader counted in the old epoch's slot may have loaded old; one that counts itself
         * in after the increment finds the new epoch and loads s. */
        unsigned long e = atomic_fetch_add(&r->epoch, 1);
        while (atomic_load(&r->active[e & 1]) != 0) {
            sched_yield();
        }
        np_settings_release(old);
    }
    return NP_ERR_OK;
}

np_settings *
np__config_enter(const np_config *cfg, unsigned *slot)
{
    readers *r = cfg->rd;
    for (;;) {
        unsigned long e = atomic_load(&r->epoch);
        atomic_fetch_add(&r->active[e & 1], 1);
        if (atomic_load(&r->epoch) == e) {
            *slot = (unsigned)(e & 1);
            return atomic_load(&r->current);
        }
        /* a writer advanced the epoch meanwhile: count in again, in the new slot */
        atomic_fetch_sub(&r->active[e & 1], 1);
    }
}

void
np__config_leave(const np_config *cfg, unsigned slot)
{
    atomic_fetch_sub(&cfg->rd->active[slot], 1);
}

np_settings *
np_config_acquire(const np_config *cfg)
{
    unsigned slot;
    np_settings *s = np__config_enter(cfg, &slot);
    atomic_fetch_add(&s->refs, 1);
    np__config_leave(cfg, slot);
    return s;
}

void
np_settings_release(np_settings *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1) {
        return;
    }
    np_wipe(s->strings, s->strings_len); /* secrets are strings too */
    free(s->strings);
    free(s->blocks);
    free(s);
}

const void *
np_settings_block(const np_settings *s, const char *prefix, size_t size)
{
    const np_config *cfg = s->cfg;
    for (size_t t = 0; t < cfg->ntables; t++) {
        const np_cfg_table *tab = cfg->tables[t];
        if (tab->size > 0 && (tab->prefix == prefix || strcmp(tab->prefix, prefix) == 0)) {
            assert(tab->size == size && "a settings struct of another build");
            return s->blocks + cfg->block_at[t];
        }
    }
    assert(!"no such table loaded: add it to the store's tables");
    return NULL;
}

const np_common_settings *
np_settings_common(const np_settings *s)
{
    return NP_SETTINGS_OF(s, np_common);
}

uint64_t
np_settings_version(const np_settings *s)
{
    return s->version;
}

typedef struct {
    char **keys;
    char **vals;
    size_t n, cap;
} kvlist;

static void
kv_add(void *arg, const char *key, const char *value)
{
    kvlist *kv = arg;
    if (kv->n == kv->cap) {
        size_t cap = kv->cap ? kv->cap * 2 : 16;
        char **k = realloc(kv->keys, cap * sizeof(char *));
        if (k == NULL) {
            return;
        }
        kv->keys = k;
        char **v = realloc(kv->vals, cap * sizeof(char *));
        if (v == NULL) {
            return;
        }
        kv->vals = v;
        kv->cap = cap;
    }
    kv->keys[kv->n] = strdup(key);
    kv->vals[kv->n] = strdup(value);
    kv->n++;
}

static void
kv_free(kvlist *kv)
{
    for (size_t i = 0; i < kv->n; i++) {
        free(kv->keys[i]);
        if (kv->vals[i] != NULL) {
            memset(kv->vals[i], 0, strlen(kv->vals[i]));
        }
        free(kv->vals[i]);
    }
    free(kv->keys);
    free(kv->vals);
}

static const char *
kv_get(const kvlist *kv, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < kv->n; i++) {
        if (kv->keys[i] != NULL && strcmp(kv->keys[i], key) == 0) {
            v = kv->vals[i]; /* the last assignment wins, as in a shell */
        }
    }
    return v;
}

static np_err
read_file(const char *path, np_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NP_ERR_NOT_FOUND;
    }
    char chunk[4096];
    size_t n;
    np_err err = NP_ERR_OK;
    while (err == NP_ERR_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        err = np_buf_append(out, chunk, n);
    }
    fclose(f);
    return err;
}

/* load_dotenv reads the .env file at path (absent: nothing) into kv. */
static np_err
load_dotenv(const char *dotenv_path, kvlist *kv, char *why, size_t whylen)
{
    np_err err = NP_ERR_OK;
    if (dotenv_path != NULL) {
        np_buf text;
        np_buf_init(&text, 1 << 20);
        np_err rerr = read_file(dotenv_path, &text);
        if (rerr == NP_ERR_TOO_LARGE) {
            snprintf(why, whylen, "%s: larger than 1 MiB", dotenv_path);
            err = NP_ERR_CONFIG;
        } else if (rerr == NP_ERR_OK) {
            int bad = 0;
            if (!np_dotenv_parse(text.data ? text.data : "", text.len, kv_add, kv, &bad)) {
                snprintf(why, whylen, "%s: line %d is not KEY=VALUE", dotenv_path, bad);
                err = NP_ERR_CONFIG;
            }
        }
        np_buf_fini(&text);
    }
    return err;
}

/* A name's raw value: the environment, else .env. */
static const char *
raw_value(void *arg, const char *name)
{
    const char *v = getenv(name);
    return v != NULL ? v : kv_get(arg, name);
}

np_err
np_config_load(np_config *cfg, const char *dotenv_path, char *why, size_t whylen)
{
    kvlist kv = {0};
    np_err err = load_dotenv(dotenv_path, &kv, why, whylen);
    char old[1024];
    pthread_rwlock_wrlock(cfg->lock);
    for (size_t i = 0; err == NP_ERR_OK && i < cfg->n; i++) {
        entry *e = &cfg->entries[i];
        const char *v = getenv(e->spec->name);
        np_cfg_source src = NP_CFG_SRC_ENV;
        if (v == NULL) {
            v = kv_get(&kv, e->spec->name);
        }
        if (v == NULL && np_cfg_alias_value(e->spec->name, raw_value, &kv, old, sizeof(old))) {
            v = old; /* the earlier pool's name for it */
        } else if (v != NULL && np_cfg_old_value(e->spec->name, v, old, sizeof(old))) {
            v = old;
        }
        np_buf from_file;
        np_buf_init(&from_file, 64 * 1024);
        if (v == NULL && (e->spec->flags & NP_CFG_SECRET)) {
            /* Secrets may also come from a file named by NAME_FILE (Docker and Kubernetes
             * mount secrets as files); one trailing newline is dropped. */
            char fname[128];
            snprintf(fname, sizeof(fname), "%s_FILE", e->spec->name);
            const char *path = getenv(fname) ? getenv(fname) : kv_get(&kv, fname);
            if (path != NULL && path[0] != '\0') {
                if (read_file(path, &from_file) != NP_ERR_OK || from_file.data == NULL) {
                    snprintf(why, whylen, "%s: cannot read the file %s names", fname,
                             e->spec->name);
                    np_buf_fini(&from_file);
                    err = NP_ERR_CONFIG;
                    break;
                }
                while (from_file.len > 0 && (from_file.data[from_file.len - 1] == '\n' ||
                                             from_file.data[from_file.len - 1] == '\r')) {
                    from_file.data[--from_file.len] = '\0';
                }
                v = from_file.data;
            }
        }
        if (v == NULL) {
            v = e->spec->def ? e->spec->def : "";
            src = NP_CFG_SRC_DEFAULT;
        }
        bool valid = validate(e->spec, v, why, whylen);
        char *copy = valid ? strdup(v) : NULL;
        char *base = valid ? strdup(v) : NULL;
        if (from_file.data != NULL) {
            memset(from_file.data, 0, from_file.len);
        }
        np_buf_fini(&from_file);
        if (!valid) {
            err = NP_ERR_CONFIG;
            break;
        }
        if (copy == NULL || base == NULL) {
            free(copy);
            free(base);
            err = NP_ERR_NOMEM;
            break;
        }
        free(e->value);
        e->value = copy;
        e->src = src;
        free(e->base);
        e->base = base;
        e->base_src = src;
    }
    /* Published even after a bad value: the snapshot follows the text of the store. */
    np_err perr = publish(cfg);
    pthread_rwlock_unlock(cfg->lock);
    kv_free(&kv);
    return err != NP_ERR_OK ? err : perr;
}

void
np_config_old_names(const char *dotenv_path, np_config_old_fn fn, void *arg)
{
    kvlist kv = {0};
    char why[256], line[512];
    if (load_dotenv(dotenv_path, &kv, why, sizeof(why)) == NP_ERR_OK) {
        const char *last = NULL;
        for (const np_cfg_alias *a = np_cfg_aliases; a->old != NULL; a++) {
            const char *v = raw_value(&kv, a->old);
            if (v == NULL || (last != NULL && strcmp(last, a->old) == 0)) {
                continue; /* an old name with several targets is named once */
            }
            last = a->old;
            bool warn = np_cfg_alias_describe(a, v, line, sizeof(line));
            for (const np_cfg_alias *b = a + 1; b->old != NULL && strcmp(b->old, a->old) == 0;
                 b++) {
                size_t n = strlen(line);
                snprintf(line + n, sizeof(line) - n, ", %s", b->name);
            }
            fn(arg, line, warn);
        }
        const char *url = raw_value(&kv, "DATABASE_URL");
        char *rewritten = calloc(1, url != NULL ? strlen(url) + 1 : 1);
        if (rewritten != NULL && url != NULL &&
            np_cfg_old_value("DATABASE_URL", url, rewritten, strlen(url) + 1)) {
            fn(arg, "DATABASE_URL: the driver suffix (+asyncpg) of the old pool is dropped", false);
        }
        if (rewritten != NULL) {
            memset(rewritten, 0, strlen(rewritten));
        }
        free(rewritten);
    }
    kv_free(&kv);
}

static void
wipe_free(const entry *e, char *p)
{
    if (p != NULL && (e->spec->flags & NP_CFG_SECRET)) {
        np_wipe(p, strlen(p));
    }
    free(p);
}

np_err
np_config_set(np_config *cfg, const char *name, const char *value, np_cfg_source src, char *why,
              size_t whylen)
{
    entry *e = find(cfg, name);
    if (e == NULL) {
        snprintf(why, whylen, "%s: no such setting", name);
        return NP_ERR_NOT_FOUND;
    }
    if (!validate(e->spec, value, why, whylen)) {
        return NP_ERR_INVALID;
    }
    char *copy = strdup(value);
    /* A value set from anywhere but the database becomes what np_config_unset returns to. */
    char *base = src == NP_CFG_SRC_DB ? NULL : strdup(value);
    if (copy == NULL || (src != NP_CFG_SRC_DB && base == NULL)) {
        free(copy);
        free(base);
        return NP_ERR_NOMEM;
    }
    np_err err = NP_ERR_OK;
    char *drop_value = copy, *drop_base = base; /* what is freed at the end */
    pthread_rwlock_wrlock(cfg->lock);
    bool same =
        e->value != NULL && strcmp(e->value, value) == 0 && e->src == src &&
        (base == NULL || (e->base != NULL && strcmp(e->base, value) == 0 && e->base_src == src));
    if (!same) { /* an unchanged value publishes nothing (periodic reloads set every row) */
        entry before = *e;
        e->value = copy;
        e->src = src;
        if (base != NULL) {
            e->base = base;
            e->base_src = src;
        }
        err = publish(cfg);
        if (err != NP_ERR_OK) {
            *e = before;
        } else {
            drop_value = before.value;
            drop_base = base != NULL ? before.base : NULL;
        }
    }
    pthread_rwlock_unlock(cfg->lock);
    wipe_free(e, drop_value);
    wipe_free(e, drop_base);
    return err;
}

np_err
np_config_unset(np_config *cfg, const char *name)
{
    entry *e = find(cfg, name);
    if (e == NULL) {
        return NP_ERR_NOT_FOUND;
    }
    pthread_rwlock_wrlock(cfg->lock);
    np_err err = NP_ERR_OK;
    char *drop = NULL;
    if (e->src == NP_CFG_SRC_DB) {
        const char *b = e->base ? e->base : (e->spec->def ? e->spec->def : "");
        char *copy = strdup(b);
        if (copy == NULL) {
            err = NP_ERR_NOMEM;
        } else {
            entry before = *e;
            e->value = copy;
            e->src = e->base ? e->base_src : NP_CFG_SRC_DEFAULT;
            err = publish(cfg);
            if (err != NP_ERR_OK) {
                *e = before;
                drop = copy;
            } else {
                drop = before.value;
            }
        }
    }
    pthread_rwlock_unlock(cfg->lock);
    wipe_free(e, drop);
    return err;
}

np_cfg_source
np_config_source(const np_config *cfg, const char *name)
{
    const entry *e = find(cfg, name);
    if (e == NULL) {
        return NP_CFG_SRC_DEFAULT;
    }
    pthread_rwlock_rdlock(cfg->lock);
    np_cfg_source src = e->src;
    pthread_rwlock_unlock(cfg->lock);
    return src;
}

bool
np_config_check(const np_config *cfg, const char *name, const char *value, char *why, size_t whylen)
{
    const entry *e = find(cfg, name);
    if (e == NULL) {
        snprintf(why, whylen, "%s: no such setting", name);
        return false;
    }
    return validate(e->spec, value, why, whylen);
}

static const entry *
must_find(const np_config *cfg, const char *name)
{
    const entry *e = find(cfg, name);
    assert(e != NULL && "setting not declared in any loaded table");
    return e;
}

int64_t
np_config_int(const np_config *cfg, const char *name)
{
    const entry *e = must_find(cfg, name);
    int64_t v = 0;
    pthread_rwlock_rdlock(cfg->lock);
    if (e->value != NULL) {
        parse_int(e->value, &v);
    }
    pthread_rwlock_unlock(cfg->lock);
    return v;
}

bool
np_config_bool(const np_config *cfg, const char *name)
{
    const entry *e = must_find(cfg, name);
    bool v = false;
    pthread_rwlock_rdlock(cfg->lock);
    if (e->value != NULL) {
        np_cfg_parse_bool(e->value, &v);
    }
    pthread_rwlock_unlock(cfg->lock);
    return v;
}

char *
np_config_str(const np_config *cfg, const char *name, char *out, size_t outlen)
{
    const entry *e = must_find(cfg, name);
    pthread_rwlock_rdlock(cfg->lock);
    snprintf(out, outlen, "%s", e->value ? e->value : "");
    pthread_rwlock_unlock(cfg->lock);
    return out;
}

char *
np_config_strdup(const np_config *cfg, const char *name)
{
    const entry *e = must_find(cfg, name);
    pthread_rwlock_rdlock(cfg->lock);
    char *p = strdup(e->value ? e->value : "");
    pthread_rwlock_unlock(cfg->lock);
    return p;
}

bool
np_config_has(const np_config *cfg, const char *name)
{
    return find(cfg, name) != NULL;
}

bool
np_config_is_set(const np_config *cfg, const char *name)
{
    const entry *e = must_find(cfg, name);
    pthread_rwlock_rdlock(cfg->lock);
    bool set = e->src != NP_CFG_SRC_DEFAULT && e->value != NULL && e->value[0] != '\0';
    pthread_rwlock_unlock(cfg->lock);
    return set;
}

const np_cfg_spec *
np_config_spec(const np_config *cfg, const char *name)
{
    const entry *e = find(cfg, name);
    return e ? e->spec : NULL;
}

void
np_config_each(const np_config *cfg, np_config_each_fn fn, void *arg)
{
    for (size_t i = 0; i < cfg->n; i++) {
        const entry *e = &cfg->entries[i];
        char *copy;
        pthread_rwlock_rdlock(cfg->lock);
        copy = strdup(e->value ? e->value : "");
        pthread_rwlock_unlock(cfg->lock);
        if (copy == NULL) {
            continue;
        }
        if ((e->spec->flags & NP_CFG_SECRET) && copy[0] != '\0') {
            fn(arg, e->spec, "********", e->src);
        } else {
            fn(arg, e->spec, copy, e->src);
        }
        memset(copy, 0, strlen(copy));
        free(copy);
    }
}
