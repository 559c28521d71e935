/* What follows one upstream attempt of a relayed request: another key, or which answer, and
 * what the key's release records. Pure (no lock, no clock, no setting read): the facts are
 * gathered by relay_on_done (relay_upstream.c), which then carries the decision out, so that
 * a table of cases (relay_decide_test.c) pins the rules down, above all the one that prevents
 * double billing: a request that may have reached NovelAI is never sent to another key
 * unless it is free. */
#ifndef POOL_RELAY_DECIDE_H
#define POOL_RELAY_DECIDE_H

#include <stdbool.h>

#include "np/errors.h"
#include "np/novelai.h"
#include "outcome.h"

typedef enum {
    RELAY_NEXT_ANSWER,    /* the upstream's answer goes to the client as it came */
    RELAY_NEXT_RETRY,     /* another key (or the same key through another proxy) */
    RELAY_NEXT_FAIL,      /* no other key will try: the failure is answered */
    RELAY_NEXT_BROKEN,    /* the answer was under way: the client sees a short body */
    RELAY_NEXT_CANCELLED, /* the client left (or the service is stopping) */
} relay_next;

/* The key's last error the release records. */
typedef enum {
    RELAY_NOTE_NONE,      /* "": the old one stays */
    RELAY_NOTE_OUTCOME,   /* "<outcome> (HTTP <status>)" */
    RELAY_NOTE_CANCELLED, /* "cancelled by the client" */
} relay_note;

typedef struct {
    np_err result;        /* the transfer's end (pool_xfer_cb.on_done) */
    bool maybe_sent;      /* the request may have reached NovelAI (pool_xfer_cb.on_done) */
    np_novelai_outcome o; /* the answer classified; NP_NAI_NETWORK when result is not OK */
    int status;           /* the HTTP status; 0 when none came */
    bool passing;         /* the status was one passed to the client (2xx, client fault) */
    bool opened;          /* relay.open was answered already (a stream under way) */
    bool locks;           /* the route holds NovelAI's generation lock */
    bool free_request;    /* it costs nothing, so a re-send cannot bill twice */
    bool proxy_failed;    /* the key's egress proxy failed, not the key */
    bool suspect;         /* an earlier key's 5xx waits to be judged (relay_decision.defer) */
    bool retries_left;    /* attempts <= MAX_RETRIES and fewer than POOL_MAX_TRIED keys tried */
    bool leased;          /* the attempt held a key (always, in on_done) */
    bool v5_image;        /* a V5 image request (NovelAI bills it past the weekly allowance) */
} relay_facts;

typedef struct {
    relay_next next;
    pool_outcome_action action; /* the key's release now */
    bool used;                  /* counts as a use of the key */
    bool spend;                 /* the request's cost is deducted from the key's balance */
    relay_note note;
    bool mark_tried;    /* the key is not tried again for this request */
    bool clear_suspect; /* a second key gave the same 5xx: the request's fault, no strike */
    /* defer: the key's 5xx is judged once another key has answered; it goes back unharmed
     * now (action is none) and deferred is applied if no second 5xx clears it */
    bool defer;
    pool_outcome_action deferred;
    bool v5_check; /* the key's V5 allowance is read again before its lease ends */
} relay_decision;

/* relay_decide fills out from f and the cooldowns cd (borrowed). */
void relay_decide(const relay_facts *f, const pool_cooldowns *cd, relay_decision *out);

/* relay_next_name: "answer", "retry", ... for logs and tests. */
const char *relay_next_name(relay_next n);

#endif
