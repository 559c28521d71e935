/* What a subscription probe does to a key's state (DESIGN.md section 3), as a pure function:
 * a successful probe makes the key active (the only way out of exhausted, invalid and
 * expired); a definite bad answer (401/403 invalid, 402 exhausted, inactive subscription
 * expired) takes an active key down after HEALTH_CHECK_FAIL_THRESHOLD probes in a row (at
 * once for a pending key, a key already down, or a forced check); no answer (5xx, 429,
 * network) cools an active key after the threshold, with exponential backoff; a disabled key
 * keeps its state whatever the probe says. */
#ifndef HEALTH_KEYSTATE_H
#define HEALTH_KEYSTATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *state; /* the key's state now */
    bool enabled;
    int64_t fail_streak;
} health_key_now;

typedef struct {
    int64_t threshold;    /* HEALTH_CHECK_FAIL_THRESHOLD */
    int64_t backoff_base; /* HEALTH_RECHECK_BASE_SECONDS */
    int64_t backoff_max;  /* HEALTH_RECHECK_MAX_SECONDS */
    bool forced;          /* POST /admin/keys/{id}/check */
} health_key_rules;

typedef struct {
    const char *state; /* the new state (a static string) */
    int64_t fail_streak;
    int64_t cooldown_s; /* > 0: cooldown_until = now + this; 0: cleared */
    bool keep_cooldown; /* leave cooldown_until as it is */
} health_key_next;

/* health_key_decide computes the key's next state from verdict (np_novelai_probe_state:
 * "active", "invalid", "exhausted", "expired", or NULL when the probe said nothing). */
void health_key_decide(const health_key_now *now, const char *verdict,
                       const health_key_rules *rules, health_key_next *out);

/* health_key_backoff: base doubled per failure beyond the first, at most max (seconds). */
int64_t health_key_backoff(int64_t base, int64_t streak, int64_t max);

#endif
