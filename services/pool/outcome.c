/* The key-level policy of NOVELAI.md's "Errors and limits" table. */
#include "outcome.h"
#include "settings.h"

#include <string.h>

void
pool_cooldowns_read(const np_config *cfg, pool_cooldowns *out)
{
    out->base_409 = (int)NP_SETTING_NOW(cfg, pool, COOLDOWN_409_BASE_SECONDS);
    out->base_429 = (int)NP_SETTING_NOW(cfg, pool, COOLDOWN_429_BASE_SECONDS);
    out->base_5xx = (int)NP_SETTING_NOW(cfg, pool, COOLDOWN_5XX_BASE_SECONDS);
    out->base_402 = (int)NP_SETTING_NOW(cfg, pool, COOLDOWN_402_BASE_SECONDS);
    out->max = (int)NP_SETTING_NOW(cfg, pool, COOLDOWN_MAX_SECONDS);
    out->locked = (int)NP_SETTING_NOW(cfg, pool, COOLDOWN_LOCKED_SECONDS);
    out->cancel = (int)NP_SETTING_NOW(cfg, pool, COOLDOWN_CANCEL_SECONDS);
    out->dynamic = NP_SETTING_NOW(cfg, pool, DYNAMIC_COOLDOWN_ENABLED);
}

void
pool_outcome_decide(np_novelai_outcome o, bool maybe_sent, bool free_request,
                    const pool_cooldowns *cd, pool_outcome_action *out)
{
    memset(out, 0, sizeof(*out));
    switch (o) {
    case NP_NAI_OK:
        out->state = "active";
        out->reset_streak = true;
        break;
    case NP_NAI_CLIENT:
        /* the client's mistake: the key is fine and keeps its streak */
        break;
    case NP_NAI_INVALID:
        out->state = "invalid";
        out->strike = true;
        out->retry = true; /* nothing ran upstream */
        break;
    case NP_NAI_EXHAUSTED:
        out->state = "exhausted";
        out->cooldown_s = cd->base_402;
        out->strike = true;
        out->retry = true;
        break;
    case NP_NAI_FORBIDDEN:
        out->state = "cooling";
        out->cooldown_s = cd->base_402;
        out->backoff = true;
        out->strike = true;
        out->retry = true;
        break;
    case NP_NAI_CONFLICT:
        out->state = "cooling";
        out->cooldown_s = cd->base_409;
        out->backoff = true;
        out->strike = true;
        out->retry = true;
        break;
    case NP_NAI_LOCKED:
        /* the contributor is generating on their own account: rest, no strike */
        out->state = "cooling";
        out->cooldown_s = cd->locked;
        out->retry = true;
        break;
    case NP_NAI_RATE:
        out->state = "cooling";
        out->cooldown_s = cd->base_429;
        out->backoff = true;
        out->strike = true;
        out->retry = true; /* refused before anything ran */
        break;
    case NP_NAI_SERVER:
    case NP_NAI_NETWORK:
        out->state = "cooling";
        out->cooldown_s = cd->base_5xx;
        out->backoff = true;
        out->strike = true;
        /* a 5xx or a broken transfer may have run (and billed) the generation */
        out->retry = !maybe_sent || free_request;
        break;
    }
}

void
pool_outcome_cancelled(const pool_cooldowns *cd, pool_outcome_action *out)
{
    memset(out, 0, sizeof(*out));
    out->state = "cooling";
    out->cooldown_s = cd->cancel;
}

int
pool_cooldown_for(const pool_outcome_action *a, int streak, const pool_cooldowns *cd)
{
    return a->cooldown_s > 0
               ? pool_cooldown_seconds(a->cooldown_s, streak, a->backoff && cd->dynamic, cd->max)
               : 0;
}

int
pool_cooldown_seconds(int base, int streak, bool backoff, int max)
{
    long long s = base;
    for (int i = 0; backoff && i < streak && s < max; i++) {
        s *= 2;
    }
    return s > max ? max : (int)s;
}
