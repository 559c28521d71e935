/* The move table of a relayed request's states (relay_state.h). */
#include "relay_state.h"

#define TO(s) (1u << (s))

static const unsigned allowed[RELAY_STATES] = {
    /* queued, or refused (a refusal, a local answer) */
    [RELAY_ADMITTING] = TO(RELAY_QUEUED) | TO(RELAY_DONE),
    /* granted; or timed out, aborted, refused by the scheduler, failed to start */
    [RELAY_QUEUED] = TO(RELAY_RUNNING) | TO(RELAY_DONE),
    /* the status is known (on_headers); or the transfer ended without one */
    [RELAY_RUNNING] = TO(RELAY_PASSING) | TO(RELAY_JUDGING) | TO(RELAY_SETTLING),
    [RELAY_JUDGING] = TO(RELAY_SETTLING),
    /* relay.open answered with its first chunk; or the whole answer came */
    [RELAY_PASSING] = TO(RELAY_STREAMING) | TO(RELAY_SETTLING),
    [RELAY_STREAMING] = TO(RELAY_SETTLING),
    /* another key; or finished, with or without bytes left for relay.next */
    [RELAY_SETTLING] = TO(RELAY_QUEUED) | TO(RELAY_DRAINING) | TO(RELAY_DONE),
    /* the last relay.next answered, or the stream cancelled or reaped */
    [RELAY_DRAINING] = TO(RELAY_DONE),
    [RELAY_DONE] = 0,
};

bool
relay_state_allowed(relay_state from, relay_state to)
{
    if ((unsigned)from >= RELAY_STATES || (unsigned)to >= RELAY_STATES) {
        return false;
    }
    return (allowed[from] & TO(to)) != 0;
}

const char *
relay_state_name(relay_state s)
{
    static const char *const names[RELAY_STATES] = {
        "admitting", "queued",   "running",  "judging", "passing",
        "streaming", "settling", "draining", "done",
    };
    return (unsigned)s < RELAY_STATES ? names[s] : "?";
}
