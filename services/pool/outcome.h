/* What an upstream answer does to the key that served it and to the request: the key's new
 * state, its cooldown (exponential backoff on a failure streak), whether the streak grows or
 * resets, and whether the request may be retried on another key. Pure; settings are passed in. */
#ifndef POOL_OUTCOME_H
#define POOL_OUTCOME_H

#include <stdbool.h>

#include "np/config.h"
#include "np/novelai.h"

typedef struct {
    int base_409, base_429, base_5xx, base_402, max, locked, cancel; /* seconds */
    bool dynamic; /* DYNAMIC_COOLDOWN_ENABLED: cooldowns double with the failure streak */
} pool_cooldowns;

typedef struct {
    const char *state; /* the key's new state; NULL: unchanged */
    int cooldown_s;    /* base seconds; 0: none */
    bool backoff;      /* cooldown_s doubles with each failure of the streak */
    bool strike;       /* the failure streak grows */
    bool reset_streak; /* a success: the streak starts again */
    bool retry;        /* the request may go to another key */
} pool_outcome_action;

/* pool_cooldowns_read reads the COOLDOWN_* settings now (they may change at run time). */
void pool_cooldowns_read(const np_config *cfg, pool_cooldowns *out);

/* pool_outcome_decide: what outcome o means. maybe_sent says whether the request may have
 * reached NovelAI; free_request whether it cost nothing (so a re-send cannot bill twice). */
void pool_outcome_decide(np_novelai_outcome o, bool maybe_sent, bool free_request,
                         const pool_cooldowns *cd, pool_outcome_action *out);

/* pool_outcome_cancelled: the client left while the key was generating; NovelAI keeps the
 * account locked until the abandoned generation ends, so the key rests briefly. */
void pool_outcome_cancelled(const pool_cooldowns *cd, pool_outcome_action *out);

/* pool_cooldown_seconds: base doubled per earlier failure in the streak, capped at max. */
int pool_cooldown_seconds(int base, int streak, bool backoff, int max);
/* pool_cooldown_for: the cooldown an action gives a key whose streak is streak: its base,
 * doubled per failure when the action backs off and DYNAMIC_COOLDOWN_ENABLED (cd->dynamic). */
int pool_cooldown_for(const pool_outcome_action *a, int streak, const pool_cooldowns *cd);

#endif
