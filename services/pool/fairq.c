/* The fair queue: a ring of users, each with a FIFO of items. See fairq.h for the rules.
 *
 * Users are found by a walk of the ring: the ring holds only users with a request waiting,
 * which stays small next to the work a grant does (a lease row, a token opened). */
#include "fairq.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>

struct fairq_user {
    int64_t uid;
    fairq_item *head, *tail;
    int n;
    fairq_user *next; /* the next user in turn order */
};

void
fairq_init(fairq *q)
{
    *q = (fairq){0};
}

void
fairq_fini(fairq *q)
{
    fairq_user *u = q->head;
    while (u != NULL) {
        fairq_user *next = u->next;
        free(u);
        u = next;
    }
    *q = (fairq){0};
}

static fairq_user *
user_find(const fairq *q, int64_t uid)
{
    for (fairq_user *u = q->head; u != NULL; u = u->next) {
        if (u->uid == uid) {
            return u;
        }
    }
    return NULL;
}

static void
ring_append(fairq *q, fairq_user *u)
{
    u->next = NULL;
    if (q->tail != NULL) {
        q->tail->next = u;
    } else {
        q->head = u;
    }
    q->tail = u;
}

/* Unlinks u, whose predecessor in the ring is prev (NULL: u is the first). */
static void
ring_unlink(fairq *q, fairq_user *prev, fairq_user *u)
{
    if (prev != NULL) {
        prev->next = u->next;
    } else {
        q->head = u->next;
    }
    if (q->tail == u) {
        q->tail = prev;
    }
    u->next = NULL;
}

/* The user entry of uid, a new one at the back of the ring when it has none; NULL on no
 * memory. */
static fairq_user *
user_get(fairq *q, int64_t uid)
{
    fairq_user *u = user_find(q, uid);
    if (u != NULL) {
        return u;
    }
    u = calloc(1, sizeof(*u));
    if (u == NULL) {
        return NULL;
    }
    u->uid = uid;
    ring_append(q, u);
    q->users++;
    return u;
}

np_err
fairq_push(fairq *q, fairq_item *it, int max_per_user)
{
    fairq_user *u = user_find(q, it->user);
    if ((u != NULL ? u->n : 0) >= max_per_user) {
        return NP_ERR_RATE_LIMITED;
    }
    if (u == NULL && (u = user_get(q, it->user)) == NULL) {
        return NP_ERR_NOMEM;
    }
    it->next = NULL;
    if (u->tail != NULL) {
        u->tail->next = it;
    } else {
        u->head = it;
    }
    u->tail = it;
    u->n++;
    q->depth++;
    return NP_ERR_OK;
}

np_err
fairq_push_front(fairq *q, fairq_item *it)
{
    fairq_user *u = user_get(q, it->user);
    if (u == NULL) {
        return NP_ERR_NOMEM;
    }
    it->next = u->head;
    u->head = it;
    if (u->tail == NULL) {
        u->tail = it;
    }
    u->n++;
    q->depth++;
    return NP_ERR_OK;
}

int
fairq_round(const fairq *q, fairq_item **out, int max)
{
    int k = 0;
    for (fairq_user *u = q->head; u != NULL && k < max; u = u->next) {
        out[k++] = u->head;
    }
    return k;
}

void
fairq_served(fairq *q, fairq_item *it)
{
    fairq_user *prev = NULL, *u = q->head;
    while (u != NULL && u->uid != it->user) {
        prev = u;
        u = u->next;
    }
    assert(u != NULL && u->head == it);
    u->head = it->next;
    if (u->head == NULL) {
        u->tail = NULL;
    }
    it->next = NULL;
    u->n--;
    q->depth--;
    ring_unlink(q, prev, u);
    if (u->n == 0) {
        free(u);
        q->users--;
    } else {
        ring_append(q, u);
    }
}

void
fairq_abort(fairq_item *it)
{
    it->deadline_ms = INT64_MIN;
}

fairq_item *
fairq_expire(fairq *q, int64_t now_ms, bool all)
{
    fairq_item *gone = NULL, **gone_tail = &gone;
    fairq_user *prev_u = NULL, *u = q->head;
    while (u != NULL) {
        fairq_user *next_u = u->next;
        fairq_item **pp = &u->head, *last = NULL;
        while (*pp != NULL) {
            fairq_item *it = *pp;
            if (all || it->deadline_ms <= now_ms) {
                *pp = it->next;
                it->next = NULL;
                *gone_tail = it;
                gone_tail = &it->next;
                u->n--;
                q->depth--;
            } else {
                last = it;
                pp = &it->next;
            }
        }
        u->tail = last;
        if (u->n == 0) {
            ring_unlink(q, prev_u, u);
            free(u);
            q->users--;
        } else {
            prev_u = u;
        }
        u = next_u;
    }
    return gone;
}

int
fairq_depth(const fairq *q)
{
    return q->depth;
}

int
fairq_users(const fairq *q)
{
    return q->users;
}
