/* Unit tests for the fair queue: turn order across users, FIFO within a user, the per-user
 * cap (and a skipped turn keeping its place), a retry at the head, deadlines and aborts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fairq.h"

/* A request of the test: its item and a name to read assertions by. */
typedef struct {
    fairq_item it;
    const char *name;
} req;

#define NO_DEADLINE INT64_MAX

static req *
req_of(fairq_item *it)
{
    return (req *)(void *)((char *)it - offsetof(req, it));
}

static void
req_init(req *r, const char *name, int64_t user, int64_t deadline_ms)
{
    memset(r, 0, sizeof(*r));
    r->name = name;
    r->it.user = user;
    r->it.deadline_ms = deadline_ms;
}

static void
push(fairq *q, req *r)
{
    assert_int_equal(fairq_push(q, &r->it, 100), NP_ERR_OK);
}

/* Appends name to the space-separated list in buf (cut to fit). */
static void
add_name(char *buf, size_t cap, const char *name)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s%s", n > 0 ? " " : "", name);
}

/* The names of the current round's heads, space-separated. */
static const char *
round_names(const fairq *q, char *buf, size_t cap)
{
    fairq_item *heads[16];
    int k = fairq_round(q, heads, 16);
    buf[0] = '\0';
    for (int i = 0; i < k; i++) {
        add_name(buf, cap, req_of(heads[i])->name);
    }
    return buf;
}

/* Serves every head of each round, round after round, and names what was served in order. */
static const char *
drain_by_rounds(fairq *q, char *buf, size_t cap)
{
    buf[0] = '\0';
    fairq_item *heads[16];
    int k;
    while ((k = fairq_round(q, heads, 16)) > 0) {
        for (int i = 0; i < k; i++) {
            add_name(buf, cap, req_of(heads[i])->name);
            fairq_served(q, heads[i]);
        }
    }
    return buf;
}

/* Serves one request at a time, always the first head of the ring. */
static const char *
drain_one_by_one(fairq *q, char *buf, size_t cap)
{
    buf[0] = '\0';
    fairq_item *head;
    while (fairq_round(q, &head, 1) == 1) {
        add_name(buf, cap, req_of(head)->name);
        fairq_served(q, head);
    }
    return buf;
}

/* The names of an expired list, in its order. */
static const char *
list_names(fairq_item *it, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (; it != NULL; it = it->next) {
        add_name(buf, cap, req_of(it)->name);
    }
    return buf;
}

/* User 1 queues three requests before users 2 and 3 queue theirs: the users still take
 * turns, whether a pass serves a whole round or one request at a time. */
static void
test_turn_order(void **state)
{
    (void)state;
    char buf[128];
    for (int mode = 0; mode < 2; mode++) {
        fairq q;
        fairq_init(&q);
        req a1, a2, a3, b1, b2, c1;
        req_init(&a1, "a1", 1, NO_DEADLINE);
        req_init(&a2, "a2", 1, NO_DEADLINE);
        req_init(&a3, "a3", 1, NO_DEADLINE);
        req_init(&b1, "b1", 2, NO_DEADLINE);
        req_init(&b2, "b2", 2, NO_DEADLINE);
        req_init(&c1, "c1", 3, NO_DEADLINE);
        push(&q, &a1);
        push(&q, &a2);
        push(&q, &a3);
        push(&q, &b1);
        push(&q, &b2);
        push(&q, &c1);
        assert_int_equal(fairq_depth(&q), 6);
        assert_int_equal(fairq_users(&q), 3);
        assert_string_equal(round_names(&q, buf, sizeof(buf)), "a1 b1 c1");
        assert_string_equal(mode == 0 ? drain_by_rounds(&q, buf, sizeof(buf))
                                      : drain_one_by_one(&q, buf, sizeof(buf)),
                            "a1 b1 c1 a2 b2 a3");
        assert_int_equal(fairq_depth(&q), 0);
        assert_int_equal(fairq_users(&q), 0);
        fairq_fini(&q);
    }
}

/* A user served goes to the back of the ring, behind a user who arrived meanwhile; a user
 * who comes back after its queue emptied enters at the back. */
static void
test_turn_order_late_users(void **state)
{
    (void)state;
    char buf[128];
    fairq q;
    fairq_init(&q);
    req a1, a2, b1, c1, a3;
    req_init(&a1, "a1", 1, NO_DEADLINE);
    req_init(&a2, "a2", 1, NO_DEADLINE);
    req_init(&b1, "b1", 2, NO_DEADLINE);
    req_init(&c1, "c1", 3, NO_DEADLINE);
    req_init(&a3, "a3", 1, NO_DEADLINE);
    push(&q, &a1);
    push(&q, &a2);
    push(&q, &b1);
    fairq_item *head;
    assert_int_equal(fairq_round(&q, &head, 1), 1);
    fairq_served(&q, head); /* a1; user 1 goes behind user 2 */
    push(&q, &c1);          /* user 3 arrives: behind user 1 */
    assert_string_equal(round_names(&q, buf, sizeof(buf)), "b1 a2 c1");
    assert_int_equal(fairq_round(&q, &head, 1), 1);
    fairq_served(&q, head); /* b1: user 2 leaves the ring */
    assert_int_equal(fairq_round(&q, &head, 1), 1);
    fairq_served(&q, head); /* a2: user 1 leaves the ring */
    assert_int_equal(fairq_users(&q), 1);
    push(&q, &a3); /* user 1 comes back: behind user 3 */
    assert_string_equal(drain_one_by_one(&q, buf, sizeof(buf)), "c1 a3");
    fairq_fini(&q);
}

/* Within a user, requests come out in the order they went in, also when pushes and grants
 * interleave. */
static void
test_fifo_within_user(void **state)
{
    (void)state;
    char buf[128];
    fairq q;
    fairq_init(&q);
    req r[5];
    const char *names[] = {"r0", "r1", "r2", "r3", "r4"};
    for (int i = 0; i < 5; i++) {
        req_init(&r[i], names[i], 7, NO_DEADLINE);
    }
    push(&q, &r[0]);
    push(&q, &r[1]);
    fairq_item *head;
    assert_int_equal(fairq_round(&q, &head, 1), 1);
    assert_ptr_equal(head, &r[0].it);
    fairq_served(&q, head);
    push(&q, &r[2]);
    push(&q, &r[3]);
    assert_int_equal(fairq_round(&q, &head, 1), 1);
    assert_ptr_equal(head, &r[1].it);
    fairq_served(&q, head);
    push(&q, &r[4]);
    assert_string_equal(drain_one_by_one(&q, buf, sizeof(buf)), "r2 r3 r4");
    assert_int_equal(fairq_users(&q), 0);
    fairq_fini(&q);
}

/* At most max_per_user wait per user: one more is refused (and not queued) while other
 * users are still accepted, and a place freed by a grant can be taken again. */
static void
test_per_user_cap(void **state)
{
    (void)state;
    char buf[128];
    fairq q;
    fairq_init(&q);
    req a1, a2, a3, b1;
    req_init(&a1, "a1", 1, NO_DEADLINE);
    req_init(&a2, "a2", 1, NO_DEADLINE);
    req_init(&a3, "a3", 1, NO_DEADLINE);
    req_init(&b1, "b1", 2, NO_DEADLINE);
    assert_int_equal(fairq_push(&q, &a1.it, 2), NP_ERR_OK);
    assert_int_equal(fairq_push(&q, &a2.it, 2), NP_ERR_OK);
    assert_int_equal(fairq_push(&q, &a3.it, 2), NP_ERR_RATE_LIMITED);
    assert_int_equal(fairq_depth(&q), 2);
    assert_int_equal(fairq_push(&q, &b1.it, 2), NP_ERR_OK);
    assert_string_equal(round_names(&q, buf, sizeof(buf)), "a1 b1");
    fairq_item *head;
    assert_int_equal(fairq_round(&q, &head, 1), 1);
    fairq_served(&q, head); /* a1 */
    assert_int_equal(fairq_push(&q, &a3.it, 2), NP_ERR_OK);
    assert_string_equal(drain_one_by_one(&q, buf, sizeof(buf)), "b1 a2 a3");

    /* a cap of 0 queues nothing, and leaves no user behind */
    assert_int_equal(fairq_push(&q, &a1.it, 0), NP_ERR_RATE_LIMITED);
    assert_int_equal(fairq_users(&q), 0);
    assert_int_equal(fairq_depth(&q), 0);
    fairq_fini(&q);
}

/* A user whose turn is skipped (it runs as many requests as it may) keeps its place at the
 * front of the ring while the others are served. */
static void
test_skipped_turn_keeps_place(void **state)
{
    (void)state;
    char buf[128];
    fairq q;
    fairq_init(&q);
    req a1, b1, b2, c1;
    req_init(&a1, "a1", 1, NO_DEADLINE);
    req_init(&b1, "b1", 2, NO_DEADLINE);
    req_init(&b2, "b2", 2, NO_DEADLINE);
    req_init(&c1, "c1", 3, NO_DEADLINE);
    push(&q, &a1);
    push(&q, &b1);
    push(&q, &b2);
    push(&q, &c1);
    fairq_item *heads[4];
    assert_int_equal(fairq_round(&q, heads, 4), 3);
    fairq_served(&q, heads[1]); /* b1; a1's turn skipped */
    fairq_served(&q, heads[2]); /* c1 */
    assert_string_equal(round_names(&q, buf, sizeof(buf)), "a1 b2");
    fairq_fini(&q);
}

/* A retry goes back to the head of its user's queue, even past the cap; a user who had
 * left the ring enters it at the back. */
static void
test_retry_at_head(void **state)
{
    (void)state;
    char buf[128];
    fairq q;
    fairq_init(&q);
    req a1, a2, a3, b1, c1;
    req_init(&a1, "a1", 1, NO_DEADLINE);
    req_init(&a2, "a2", 1, NO_DEADLINE);
    req_init(&a3, "a3", 1, NO_DEADLINE);
    req_init(&b1, "b1", 2, NO_DEADLINE);
    req_init(&c1, "c1", 3, NO_DEADLINE);
    assert_int_equal(fairq_push(&q, &a1.it, 2), NP_ERR_OK);
    assert_int_equal(fairq_push(&q, &a2.it, 2), NP_ERR_OK);
    fairq_item *head;
    assert_int_equal(fairq_round(&q, &head, 1), 1);
    fairq_served(&q, head); /* a1 runs */
    assert_int_equal(fairq_push(&q, &a3.it, 2), NP_ERR_OK);
    /* a1 failed on its key: it comes back ahead of a2 and a3, past the cap of 2 */
    assert_int_equal(fairq_push_front(&q, &a1.it), NP_ERR_OK);
    assert_int_equal(fairq_depth(&q), 3);
    assert_string_equal(drain_one_by_one(&q, buf, sizeof(buf)), "a1 a2 a3");

    /* b1 ran and left the ring empty-handed; c1 queued meanwhile: b1's retry follows c1 */
    push(&q, &b1);
    assert_int_equal(fairq_round(&q, &head, 1), 1);
    fairq_served(&q, head);
    push(&q, &c1);
    assert_int_equal(fairq_push_front(&q, &b1.it), NP_ERR_OK);
    assert_string_equal(round_names(&q, buf, sizeof(buf)), "c1 b1");
    /* a retry into an emptied user queue is also its tail: a later push follows it */
    req b2;
    req_init(&b2, "b2", 2, NO_DEADLINE);
    push(&q, &b2);
    assert_string_equal(drain_one_by_one(&q, buf, sizeof(buf)), "c1 b1 b2");
    fairq_fini(&q);
}

/* Requests leave once now reaches their deadline, whichever user and place they hold; the
 * rest keep their order, and a user left with none leaves the ring. */
static void
test_deadlines(void **state)
{
    (void)state;
    char buf[128];
    fairq q;
    fairq_init(&q);
    req a1, a2, a3, b1, c1;
    req_init(&a1, "a1", 1, 300);
    req_init(&a2, "a2", 1, 100);
    req_init(&a3, "a3", 1, 200);
    req_init(&b1, "b1", 2, 100);
    req_init(&c1, "c1", 3, 500);
    push(&q, &a1);
    push(&q, &a2);
    push(&q, &a3);
    push(&q, &b1);
    push(&q, &c1);
    assert_null(fairq_expire(&q, 99, false));
    assert_int_equal(fairq_depth(&q), 5);
    assert_string_equal(list_names(fairq_expire(&q, 100, false), buf, sizeof(buf)), "a2 b1");
    assert_int_equal(fairq_depth(&q), 3);
    assert_int_equal(fairq_users(&q), 2);
    assert_string_equal(round_names(&q, buf, sizeof(buf)), "a1 c1");
    /* the last of a user's queue expires: a later push still lands behind a1 */
    assert_string_equal(list_names(fairq_expire(&q, 250, false), buf, sizeof(buf)), "a3");
    req a4;
    req_init(&a4, "a4", 1, 1000);
    push(&q, &a4);
    assert_string_equal(list_names(fairq_expire(&q, 0, true), buf, sizeof(buf)), "a1 a4 c1");
    assert_int_equal(fairq_depth(&q), 0);
    assert_int_equal(fairq_users(&q), 0);
    fairq_item *none;
    assert_int_equal(fairq_round(&q, &none, 1), 0);
    fairq_fini(&q);
}

/* An aborted request leaves at the next expiry, long before its deadline, and only it; an
 * abort while the request is not queued (a retry on its way back) holds when it returns. */
static void
test_abort(void **state)
{
    (void)state;
    char buf[128];
    fairq q;
    fairq_init(&q);
    req a1, a2, b1;
    req_init(&a1, "a1", 1, NO_DEADLINE);
    req_init(&a2, "a2", 1, NO_DEADLINE);
    req_init(&b1, "b1", 2, NO_DEADLINE);
    push(&q, &a1);
    push(&q, &a2);
    push(&q, &b1);
    fairq_abort(&a1.it);
    assert_int_equal(fairq_depth(&q), 3); /* not unlinked by the abort itself */
    assert_string_equal(list_names(fairq_expire(&q, 0, false), buf, sizeof(buf)), "a1");
    assert_string_equal(round_names(&q, buf, sizeof(buf)), "a2 b1");

    fairq_item *head;
    assert_int_equal(fairq_round(&q, &head, 1), 1);
    fairq_served(&q, head); /* a2 runs */
    fairq_abort(&a2.it);    /* its client leaves while it runs; then it is retried */
    assert_int_equal(fairq_push_front(&q, &a2.it), NP_ERR_OK);
    assert_string_equal(list_names(fairq_expire(&q, 0, false), buf, sizeof(buf)), "a2");
    assert_string_equal(drain_one_by_one(&q, buf, sizeof(buf)), "b1");
    fairq_fini(&q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_turn_order),
        cmocka_unit_test(test_turn_order_late_users),
        cmocka_unit_test(test_fifo_within_user),
        cmocka_unit_test(test_per_user_cap),
        cmocka_unit_test(test_skipped_turn_keeps_place),
        cmocka_unit_test(test_retry_at_head),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
