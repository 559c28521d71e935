/* The fair queue of requests waiting for a key: round robin across users, FIFO within a
 * user. A pure data structure: no locks (its owner, the scheduler, holds its own), no SQL,
 * no clock (times are passed in, monotonic milliseconds).
 *
 * The rules it keeps:
 *   - users take turns in a ring; a user enters the ring at the back with its first waiting
 *     request, goes to the back again each time one of its requests is served, and leaves
 *     when it has none left. A user whose turn is skipped (fairq_served not called for it,
 *     e.g. it runs as many requests as it may) keeps its place;
 *   - within a user, requests are served in the order they came (fairq_push), at most
 *     max_per_user of them waiting; a retry (fairq_push_front) goes to the head of its
 *     user's queue, past that cap, so it keeps the place it had;
 *   - a request whose deadline passed, or that was aborted, leaves with fairq_expire.
 *
 * Items are the caller's (embedded in its own struct), borrowed while queued; the user
 * entries are the queue's. */
#ifndef POOL_FAIRQ_H
#define POOL_FAIRQ_H

#include <stdbool.h>
#include <stdint.h>

#include "np/errors.h"

typedef struct fairq_item fairq_item;
struct fairq_item {
    int64_t user;
    int64_t deadline_ms; /* fairq_expire removes the item once now reaches it */
    fairq_item *next;    /* queue-internal while queued; fairq_expire's list afterwards */
};

typedef struct fairq_user fairq_user;

typedef struct {
    fairq_user *head, *tail; /* the ring, in turn order */
    int users;               /* entries in the ring */
    int depth;               /* items queued */
} fairq;

/* fairq_init / fairq_fini: caller-owned storage. fini frees the user entries; items still
 * queued are left as they are (the caller expires them first). */
void fairq_init(fairq *q);
void fairq_fini(fairq *q);

/* fairq_push queues it (user and deadline_ms set by the caller) at the back of its user's
 * queue. NP_ERR_RATE_LIMITED when the user already has max_per_user waiting, NP_ERR_NOMEM
 * when a new user's entry cannot be allocated; it is not queued then. */
np_err fairq_push(fairq *q, fairq_item *it, int max_per_user);
/* fairq_push_front queues it at the head of its user's queue, whatever the cap (a retry).
 * NP_ERR_NOMEM as above. */
np_err fairq_push_front(fairq *q, fairq_item *it);

/* fairq_round writes the head of each user's queue into out[0..max), in turn order, and
 * returns how many it wrote (at most fairq_users). The items stay queued. */
int fairq_round(const fairq *q, fairq_item **out, int max);
/* fairq_served removes it, which must be the head of its user's queue (from fairq_round),
 * and sends that user to the back of the ring (or out of it, when it has no more). */
void fairq_served(fairq *q, fairq_item *it);

/* fairq_abort makes it expire at the next fairq_expire, queued or not (whoever queues it
 * again keeps its deadline_ms). It does not unlink it: a round taken earlier may still
 * hold it. */
void fairq_abort(fairq_item *it);
/* fairq_expire removes every item whose deadline_ms <= now_ms (every item when all) and
 * returns them as a list linked through next, in turn order of their users and queue order
 * within each; NULL when none. */
fairq_item *fairq_expire(fairq *q, int64_t now_ms, bool all);

/* fairq_depth: items queued. fairq_users: users with an item queued. */
int fairq_depth(const fairq *q);
int fairq_users(const fairq *q);

#endif
