/* What every service must know about NovelAI answers (shared/NOVELAI.md): the persistent
 * token format, its masked display form, the subscription document, and the classification
 * of an upstream status into what it means for the key. Pure functions: pool and health both
 * use them, neither does network I/O here. */
#ifndef NP_NOVELAI_H
#define NP_NOVELAI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* np_novelai_token_valid: "pst-" followed by 32..128 characters of [A-Za-z0-9_-]; nothing
 * else (no whitespace, no newline, no NUL). */
bool np_novelai_token_valid(const char *token, size_t len);

/* np_novelai_token_mask writes the display form "pst-ab…yz" (first and last two characters
 * after the prefix) into out; never more of the token than that. */
void np_novelai_token_mask(const char *token, size_t len, char *out, size_t outlen);

/* The fields of GET /user/subscription the pool uses. */
typedef struct {
    int tier; /* 0 Paper, 1 Tablet, 2 Scroll, 3 Opus */
    bool active;
    int64_t expires_at; /* unix seconds; 0 when absent */
    int64_t anlas;      /* fixedTrainingStepsLeft + purchasedTrainingSteps */
    bool v5_negative;   /* usage.isNegative: the V5 weekly allowance is used up */
    double v5_percent;  /* usage.percent */
    bool unlimited_images;
} np_novelai_sub;

/* np_novelai_sub_parse reads a subscription document; false when it is not JSON or lacks
 * tier or active (the other fields default to 0/false). */
bool np_novelai_sub_parse(const void *json, size_t len, np_novelai_sub *out);

/* What an upstream answer means (NOVELAI.md, "Errors and limits"). */
typedef enum {
    NP_NAI_OK,        /* 2xx */
    NP_NAI_CLIENT,    /* 400 and other 4xx the client caused: pass through, key unharmed */
    NP_NAI_INVALID,   /* 401: token revoked or wrong */
    NP_NAI_EXHAUSTED, /* 402: no subscription or not enough Anlas */
    NP_NAI_FORBIDDEN, /* 403: banned (403 "Model not allowed for user tier" is NP_NAI_CLIENT) */
    NP_NAI_CONFLICT,  /* 409: transient */
    NP_NAI_LOCKED,    /* 429 "Concurrent generation is locked": the account is busy */
    NP_NAI_RATE,      /* 429 otherwise (Cloudflare) */
    NP_NAI_SERVER,    /* 5xx */
    NP_NAI_NETWORK,   /* no HTTP answer: connection failed, reset, timed out */
} np_novelai_outcome;

/* np_novelai_classify maps a status (0: no answer) and the error body to an outcome. */
np_novelai_outcome np_novelai_classify(int status, const void *body, size_t len);
/* np_novelai_outcome_name: "ok", "client_error", "invalid", ... for logs and events. */
const char *np_novelai_outcome_name(np_novelai_outcome o);

/* np_novelai_probe_state maps a subscription probe to a key state: "active", "expired",
 * "invalid", "exhausted", or NULL when the probe says nothing about the key (5xx, network:
 * keep the state and try later). sub is read only for a 200. */
const char *np_novelai_probe_state(int status, const np_novelai_sub *sub);

#endif
