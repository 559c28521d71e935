/* The fake's account table: NovelAI tokens, their subscription, Anlas, behaviour and lock state. */
#include "tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const behaviour_names[] = {
    [BEHAVE_OK] = "ok",       [BEHAVE_INVALID] = "invalid", [BEHAVE_BROKE] = "broke",
    [BEHAVE_FLAKY] = "flaky", [BEHAVE_SLOW] = "slow",       [BEHAVE_LOCKED] = "locked",
};

const char *
behaviour_name(enum behaviour b)
{
    return behaviour_names[b];
}

static size_t
bucket_of(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    return h % TOKEN_BUCKETS;
}

void
tokens_init(struct token_table *t)
{
    memset(t, 0, sizeof(*t));
}

void
tokens_fini(struct token_table *t)
{
    for (size_t i = 0; i < TOKEN_BUCKETS; i++) {
        struct token *e = t->buckets[i];
        while (e != NULL) {
            struct token *next = e->next;
            free(e->value);
            free(e);
            e = next;
        }
        t->buckets[i] = NULL;
    }
    t->count = 0;
}

struct token *
tokens_find(const struct token_table *t, const char *value, size_t len)
{
    for (struct token *e = t->buckets[bucket_of(value, len)]; e != NULL; e = e->next) {
        if (strlen(e->value) == len && memcmp(e->value, value, len) == 0) {
            return e;
        }
    }
    return NULL;
}

static bool
load_one(struct token_table *t, const json_t *o, char *err, size_t errlen)
{
    const char *value = json_string_value(json_object_get(o, "token"));
    if (!json_is_object(o) || value == NULL || value[0] == '\0') {
        snprintf(err, errlen, "each token needs a non-empty \"token\" string");
        return false;
    }
    enum behaviour behaviour = BEHAVE_OK;
    const json_t *jb = json_object_get(o, "behaviour");
    if (jb != NULL) {
        const char *name = json_string_value(jb);
        size_t i = 0;
        while (name != NULL && i < sizeof(behaviour_names) / sizeof(behaviour_names[0]) &&
               strcmp(name, behaviour_names[i]) != 0) {
            i++;
        }
        if (name == NULL || i == sizeof(behaviour_names) / sizeof(behaviour_names[0])) {
            snprintf(err, errlen, "%s: behaviour must be ok/invalid/broke/flaky/slow/locked",
                     value);
            return false;
        }
        behaviour = (enum behaviour)i;
    }

    size_t len = strlen(value);
    struct token *e = tokens_find(t, value, len);
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL || (e->value = strdup(value)) == NULL) {
            free(e);
            snprintf(err, errlen, "out of memory");
            return false;
        }
        size_t b = bucket_of(value, len);
        e->next = t->buckets[b];
        t->buckets[b] = e;
        t->count++;
    }
    const json_t *tier = json_object_get(o, "tier");
    const json_t *anlas = json_object_get(o, "anlas");
    const json_t *active = json_object_get(o, "active");
    const json_t *expires = json_object_get(o, "expires_at");
    e->tier = json_is_integer(tier) ? (int)json_integer_value(tier) : 3;
    e->active = active != NULL ? json_is_true(active) : true;
    e->anlas = json_is_integer(anlas) ? json_integer_value(anlas) : 1000;
    e->v5_negative = json_is_true(json_object_get(o, "v5_negative"));
    const json_t *v5a = json_object_get(o, "v5_allowance");
    e->v5_allowance =
        json_is_integer(v5a) && json_integer_value(v5a) >= 0 ? json_integer_value(v5a) : -1;
    e->v5_allowance_of = e->v5_allowance;
    if (e->v5_allowance == 0) {
        e->v5_negative = true;
    }
    e->behaviour = behaviour;
    e->expires_at =
        json_is_integer(expires) ? json_integer_value(expires) : (int64_t)time(NULL) + 30 * 86400;
    if (behaviour == BEHAVE_BROKE) {
        e->anlas = 0;
    }
    return true;
}

bool
tokens_load_json(struct token_table *t, const json_t *v, char *err, size_t errlen)
{
    if (json_is_object(v)) {
        return load_one(t, v, err, errlen);
    }
    if (!json_is_array(v)) {
        snprintf(err, errlen, "expected a token object or an array of them");
        return false;
    }
    size_t i;
    const json_t *o;
    json_array_foreach(v, i, o)
    {
        if (!load_one(t, o, err, errlen)) {
            return false;
        }
    }
    return true;
}

bool
tokens_load_file(struct token_table *t, const char *path, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *v = json_load_file(path, 0, &jerr);
    if (v == NULL) {
        snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
        return false;
    }
    bool ok = tokens_load_json(t, v, err, errlen);
    json_decref(v);
    return ok;
}

json_t *
tokens_to_json(const struct token_table *t)
{
    json_t *a = json_array();
    for (size_t i = 0; i < TOKEN_BUCKETS; i++) {
        for (const struct token *e = t->buckets[i]; e != NULL; e = e->next) {
            json_array_append_new(a,
                                  json_pack("{s:s, s:i, s:b, s:I, s:b, s:s, s:I, s:i}", "token",
                                            e->value, "tier", e->tier, "active", e->active, "anlas",
                                            (json_int_t)e->anlas, "v5_negative", e->v5_negative,
                                            "behaviour", behaviour_name(e->behaviour), "expires_at",
                                            (json_int_t)e->expires_at, "holders", (int)e->holders));
        }
    }
    return a;
}
