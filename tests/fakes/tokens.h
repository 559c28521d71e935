/* The fake's account table: NovelAI tokens, their subscription, Anlas, behaviour and lock state. */
#ifndef FAKE_TOKENS_H
#define FAKE_TOKENS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum behaviour {
    BEHAVE_OK,
    BEHAVE_INVALID, /* every request answers 401 */
    BEHAVE_BROKE,   /* no Anlas; every generation answers 402 */
    BEHAVE_FLAKY,   /* every second generation answers 500 */
    BEHAVE_SLOW,    /* latency times ten */
    BEHAVE_LOCKED,  /* every generation answers 429, as if the owner were generating elsewhere */
};

struct token {
    char *value;
    int tier;
    bool active;
    int64_t anlas;
    bool v5_negative;
    int64_t v5_allowance;    /* free V5 images left ("v5_allowance"); -1: not counted */
    int64_t v5_allowance_of; /* the allowance it started from (usage.percent = left / of) */
    enum behaviour behaviour;
    int64_t expires_at;
    /* Run-time state, kept when the entry is replaced through /__tokens. */
    unsigned holders;     /* generations holding this account's lock (0 or 1) */
    uint64_t generations; /* generations admitted, drives the flaky behaviour */
    struct token *next;   /* hash chain */
};

#define TOKEN_BUCKETS 1024

struct token_table {
    struct token *buckets[TOKEN_BUCKETS];
    size_t count;
};

void tokens_init(struct token_table *t);
/* tokens_fini: frees every entry; no struct token pointer may be used afterwards. */
void tokens_fini(struct token_table *t);
/* tokens_find: the entry for this exact token, or NULL. */
struct token *tokens_find(const struct token_table *t, const char *value, size_t len);
/* tokens_load_json: adds or replaces the entries in v (one object or an array of them).
 * Entries are never freed before tokens_fini, so pointers held by running generations stay
 * valid. On a malformed entry writes a message to err and stops (earlier entries stay). */
bool tokens_load_json(struct token_table *t, const json_t *v, char *err, size_t errlen);
/* tokens_load_file: tokens_load_json on the contents of a JSON file. */
bool tokens_load_file(struct token_table *t, const char *path, char *err, size_t errlen);
/* tokens_to_json: the table as a new JSON array (with current Anlas and lock holders). */
json_t *tokens_to_json(const struct token_table *t);
const char *behaviour_name(enum behaviour b);

#endif
