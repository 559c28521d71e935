/* The key state rules of a subscription probe. */
#include "keystate.h"

#include <string.h>

static bool
is(const char *a, const char *b)
{
    return a != NULL && strcmp(a, b) == 0;
}

static const char *
canonical(const char *s)
{
    static const char *const states[] = {"pending", "active",  "cooling", "exhausted",
                                         "invalid", "expired", "disabled"};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        if (is(s, states[i])) {
            return states[i];
        }
    }
    return "pending";
}

int64_t
health_key_backoff(int64_t base, int64_t streak, int64_t max)
{
    int64_t v = base;
    for (int64_t i = 1; i < streak && v < max; i++) {
        v *= 2;
    }
    return v < max ? v : max;
}

void
health_key_decide(const health_key_now *now, const char *verdict, const health_key_rules *rules,
                  health_key_next *out)
{
    const char *state = canonical(now->state);
    bool down = is(state, "exhausted") || is(state, "invalid") || is(state, "expired");
    int64_t streak = now->fail_streak < 0 ? 0 : now->fail_streak;
    if (streak > 1000) {
        streak = 1000;
    }
    out->state = state;
    out->fail_streak = streak;
    out->cooldown_s = 0;
    out->keep_cooldown = false;

    if (is(state, "disabled") || !now->enabled) {
        /* Never re-enabled automatically: only the facts (tier, Anlas) are refreshed. */
        out->keep_cooldown = true;
        if (is(verdict, "active")) {
            out->fail_streak = 0;
        }
        return;
    }
    if (is(verdict, "active")) {
        out->state = "active";
        out->fail_streak = 0;
        return;
    }
    out->fail_streak = streak + 1;
    if (verdict != NULL) {
        const char *bad = canonical(verdict);
        if (is(state, "pending") || down || rules->forced || out->fail_streak >= rules->threshold) {
            out->state = bad;
        } else if (is(state, "cooling")) {
            out->cooldown_s =
                health_key_backoff(rules->backoff_base, out->fail_streak, rules->backoff_max);
        }
        return;
    }
    /* No verdict: upstream trouble, not the key's fault as far as we know. */
    if (is(state, "cooling") || (is(state, "active") && out->fail_streak >= rules->threshold)) {
        out->state = "cooling";
        out->cooldown_s =
            health_key_backoff(rules->backoff_base, out->fail_streak, rules->backoff_max);
    } else if (down || is(state, "pending")) {
        out->keep_cooldown = true;
    }
}
