/* The retry/answer decision after an upstream attempt (relay_decide.h). */
#include "relay_decide.h"

#include <string.h>

/* A failure that is not the client's and not a pass-through: the key's outcome, then the
 * exceptions (a repeated 5xx, a failed proxy), then another key or the end. */
static void
decide_failure(const relay_facts *f, const pool_cooldowns *cd, relay_decision *out)
{
    /* maybe_sent: once relay.open was answered the request surely reached NovelAI */
    bool sent = f->maybe_sent || f->opened;
    pool_outcome_decide(f->o, sent, f->free_request, cd, &out->action);
    out->note = f->o == NP_NAI_CLIENT ? RELAY_NOTE_NONE /* the request's fault, not the key's */
                                      : RELAY_NOTE_OUTCOME;
    if (f->o == NP_NAI_SERVER && f->suspect && !f->proxy_failed) {
        /* a second key gave the same 5xx: the request is at fault, neither key is */
        out->clear_suspect = true;
        out->action = (pool_outcome_action){0};
        out->note = RELAY_NOTE_NONE;
    }
    if (f->proxy_failed) {
        /* The key's egress failed, not the key: it keeps its state and moves to another
         * proxy; a request that surely did not leave may try again (even on the same key). */
        out->action = (pool_outcome_action){.retry = !sent};
        out->note = RELAY_NOTE_NONE;
        out->used = false;
    }
    if (f->opened) {
        out->next = RELAY_NEXT_BROKEN;
    } else if (out->action.retry && f->retries_left) {
        out->next = RELAY_NEXT_RETRY;
        out->mark_tried = !f->proxy_failed;
        if (f->o == NP_NAI_SERVER && !f->proxy_failed) {
            out->defer = true;
            out->deferred = out->action;
            out->action = (pool_outcome_action){0};
            out->note = RELAY_NOTE_NONE; /* the deferred release records it */
        }
    } else {
        out->next = RELAY_NEXT_FAIL;
    }
}

void
relay_decide(const relay_facts *f, const pool_cooldowns *cd, relay_decision *out)
{
    memset(out, 0, sizeof(*out));
    out->used = true;
    if (f->result == NP_ERR_CANCELED) {
        /* the client left mid-generation (or the service is stopping); only a generation
         * keeps NovelAI busy after that */
        if (f->locks) {
            pool_outcome_cancelled(cd, &out->action);
            out->note = RELAY_NOTE_CANCELLED;
        }
        out->next = RELAY_NEXT_CANCELLED;
    } else if (f->result == NP_ERR_OK && f->passing) {
        pool_outcome_decide(f->o, true, f->free_request, cd, &out->action);
        out->spend = f->o == NP_NAI_OK;
        out->next = RELAY_NEXT_ANSWER;
    } else {
        decide_failure(f, cd, out);
    }
    /* a V5 image that may have been made (a 2xx, even if cut short) used up some allowance */
    out->v5_check = f->leased && out->next != RELAY_NEXT_RETRY && f->v5_image && f->status >= 200 &&
                    f->status < 300;
}

const char *
relay_next_name(relay_next n)
{
    switch (n) {
    case RELAY_NEXT_ANSWER: return "answer";
    case RELAY_NEXT_RETRY: return "retry";
    case RELAY_NEXT_FAIL: return "fail";
    case RELAY_NEXT_BROKEN: return "broken";
    case RELAY_NEXT_CANCELLED: return "cancelled";
    }
    return "?";
}
