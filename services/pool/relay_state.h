/* The states of a relayed request (one rreq) and the moves allowed between them. Pure: the
 * relay moves a request with relay_set_state (relay.c), which checks each move against
 * relay_state_allowed; relay_state_test.c pins the table down. HACKING.md ("A relayed
 * request") draws it, with the thread that makes each move. */
#ifndef POOL_RELAY_STATE_H
#define POOL_RELAY_STATE_H

#include <stdbool.h>

typedef enum {
    RELAY_ADMITTING, /* relay.open's checks (rpc worker); nobody else knows the request yet */
    RELAY_QUEUED,    /* waiting for a key: the scheduler's queue, a leaseless pick, a retry */
    RELAY_RUNNING,   /* a transfer on a key (the request holds it); its status not known yet */
    RELAY_JUDGING,   /* the status is a key-level failure: its body is kept to be judged */
    RELAY_PASSING,   /* the status goes to the client: bytes collect until relay.open is answered */
    RELAY_STREAMING, /* relay.open was answered (more): later bytes answer relay.next */
    RELAY_SETTLING,  /* the transfer ended: another key, or the answer (relay_on_done) */
    RELAY_DRAINING,  /* finished (the usage event is out); relay.next takes what is left */
    RELAY_DONE,      /* answered and finished; only references remain */
} relay_state;

#define RELAY_STATES (RELAY_DONE + 1)

/* relay_state_allowed: whether a request may move from from to to. */
bool relay_state_allowed(relay_state from, relay_state to);
/* relay_state_name: "admitting", "queued", ... ("?" for a value out of range). */
const char *relay_state_name(relay_state s);

#endif
