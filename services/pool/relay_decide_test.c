/* Unit tests for relay_decide: after each kind of upstream outcome, whether the request goes
 * to another key or is answered, and what the key's release records. One row per rule; the
 * maybe_sent rows are the ones that keep a request from being billed twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relay_decide.h"

static const pool_cooldowns cd = {.base_409 = 3,
                                  .base_429 = 8,
                                  .base_5xx = 15,
                                  .base_402 = 60,
                                  .max = 300,
                                  .locked = 3,
                                  .cancel = 5};

/* What a row expects; the fields not named are false, NULL or 0. */
typedef struct {
    relay_next next;
    bool retry;        /* action.retry */
    bool strike;       /* action.strike */
    const char *state; /* action.state */
    int cooldown_s;    /* action.cooldown_s */
    bool unused;       /* !used */
    bool spend;
    relay_note note;
    bool mark_tried, clear_suspect, defer, deferred_strike, v5_check;
} expect;

typedef struct {
    const char *name;
    relay_facts f;
    expect e;
} row;

#define OK NP_ERR_OK
#define NET NP_ERR_UPSTREAM
#define TIMEOUT NP_ERR_UPSTREAM_TIMEOUT
#define CANCEL NP_ERR_CANCELED

static const row rows[] = {
    /* answers passed to the client */
    {"200 is answered and spends the cost",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_OK,
      .status = 200,
      .passing = true,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_ANSWER, .state = "active", .spend = true}},
    {"400 (the client's fault) is answered; the key is unharmed and nothing is spent",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_CLIENT,
      .status = 400,
      .passing = true,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_ANSWER}},
    {"403 that the body shows is the client's (tier) is answered without a strike",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_CLIENT,
      .status = 403,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_FAIL}},

    /* key-level refusals: NovelAI ran nothing, another key may try */
    {"429 goes to another key although it reached NovelAI",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_RATE,
      .status = 429,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_RETRY,
      .retry = true,
      .strike = true,
      .state = "cooling",
      .cooldown_s = 8,
      .note = RELAY_NOTE_OUTCOME,
      .mark_tried = true}},
    {"429 with no retry left is answered",
     {.result = OK, .maybe_sent = true, .o = NP_NAI_RATE, .status = 429, .leased = true},
     {.next = RELAY_NEXT_FAIL,
      .retry = true,
      .strike = true,
      .state = "cooling",
      .cooldown_s = 8,
      .note = RELAY_NOTE_OUTCOME}},
    {"429 concurrent lock rests the key without a strike and retries",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_LOCKED,
      .status = 429,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_RETRY,
      .retry = true,
      .state = "cooling",
      .cooldown_s = 3,
      .note = RELAY_NOTE_OUTCOME,
      .mark_tried = true}},
    {"401 marks the key invalid and retries",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_INVALID,
      .status = 401,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_RETRY,
      .retry = true,
      .strike = true,
      .state = "invalid",
      .note = RELAY_NOTE_OUTCOME,
      .mark_tried = true}},
    {"402 marks the key exhausted and retries",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_EXHAUSTED,
      .status = 402,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_RETRY,
      .retry = true,
      .strike = true,
      .state = "exhausted",
      .cooldown_s = 60,
      .note = RELAY_NOTE_OUTCOME,
      .mark_tried = true}},
    {"409 cools the key and retries",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_CONFLICT,
      .status = 409,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_RETRY,
      .retry = true,
      .strike = true,
      .state = "cooling",
      .cooldown_s = 3,
      .note = RELAY_NOTE_OUTCOME,
      .mark_tried = true}},

    /* maybe_sent: a paid request that may have run upstream is never sent again */
    {"5xx of a paid request that may have been sent is answered, never retried",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_SERVER,
      .status = 500,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_FAIL,
      .strike = true,
      .state = "cooling",
      .cooldown_s = 15,
      .note = RELAY_NOTE_OUTCOME}},
    {"network failure of a paid request that may have been sent is answered",
     {.result = NET, .maybe_sent = true, .o = NP_NAI_NETWORK, .leased = true, .retries_left = true},
     {.next = RELAY_NEXT_FAIL,
      .strike = true,
      .state = "cooling",
      .cooldown_s = 15,
      .note = RELAY_NOTE_OUTCOME}},
    {"timeout of a paid request that may have been sent is answered",
     {.result = TIMEOUT,
      .maybe_sent = true,
      .o = NP_NAI_NETWORK,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_FAIL,
      .strike = true,
      .state = "cooling",
      .cooldown_s = 15,
      .note = RELAY_NOTE_OUTCOME}},
    {"network failure that surely never left goes to another key",
     {.result = NET,
      .maybe_sent = false,
      .o = NP_NAI_NETWORK,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_RETRY,
      .retry = true,
      .strike = true,
      .state = "cooling",
      .cooldown_s = 15,
      .note = RELAY_NOTE_OUTCOME,
      .mark_tried = true}},
    {"timeout of a free request goes to another key (a re-send cannot bill)",
     {.result = TIMEOUT,
      .maybe_sent = true,
      .o = NP_NAI_NETWORK,
      .free_request = true,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_RETRY,
      .retry = true,
      .strike = true,
      .state = "cooling",
      .cooldown_s = 15,
      .note = RELAY_NOTE_OUTCOME,
      .mark_tried = true}},
    {"a stream that broke after relay.open was answered is never retried, even unsent",
     {.result = NET,
      .maybe_sent = false,
      .o = NP_NAI_NETWORK,
      .status = 200,
      .opened = true,
      .passing = true,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_BROKEN,
      .strike = true,
      .state = "cooling",
      .cooldown_s = 15,
      .note = RELAY_NOTE_OUTCOME}},

    /* a 5xx that may be the request's fault: judged once a second key has answered */
    {"5xx of a free request goes to another key; its strike waits",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_SERVER,
      .status = 500,
      .free_request = true,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_RETRY, .mark_tried = true, .defer = true, .deferred_strike = true}},
    {"5xx surely unsent goes to another key; its strike waits",
     {.result = OK,
      .maybe_sent = false,
      .o = NP_NAI_SERVER,
      .status = 503,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_RETRY, .mark_tried = true, .defer = true, .deferred_strike = true}},
    {"a second key's same 5xx clears the first: nobody is struck",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_SERVER,
      .status = 500,
      .free_request = true,
      .suspect = true,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_FAIL, .clear_suspect = true}},

    /* the key's proxy failed, not the key */
    {"a failed proxy before sending: the same request tries again, the key untouched",
     {.result = NET,
      .maybe_sent = false,
      .o = NP_NAI_NETWORK,
      .proxy_failed = true,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_RETRY, .retry = true, .unused = true}},
    {"a failed proxy after maybe sending: answered, the key untouched",
     {.result = NET,
      .maybe_sent = true,
      .o = NP_NAI_NETWORK,
      .proxy_failed = true,
      .free_request = true,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_FAIL, .unused = true}},
    {"a failed proxy's 5xx neither clears a suspect nor defers",
     {.result = OK,
      .maybe_sent = false,
      .o = NP_NAI_SERVER,
      .status = 502,
      .proxy_failed = true,
      .suspect = true,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_RETRY, .retry = true, .unused = true}},

    /* the client left */
    {"a cancelled generation rests its key",
     {.result = CANCEL,
      .maybe_sent = true,
      .o = NP_NAI_NETWORK,
      .status = 200,
      .locks = true,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_CANCELLED,
      .state = "cooling",
      .cooldown_s = 5,
      .note = RELAY_NOTE_CANCELLED}},
    {"a cancelled request on a route without the lock leaves the key as it was",
     {.result = CANCEL,
      .maybe_sent = true,
      .o = NP_NAI_NETWORK,
      .leased = true,
      .retries_left = true},
     {.next = RELAY_NEXT_CANCELLED}},

    /* V5 images: the allowance is read again after any 2xx that ends the request */
    {"V5 image 200: the allowance is read again",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_OK,
      .status = 200,
      .passing = true,
      .leased = true,
      .v5_image = true},
     {.next = RELAY_NEXT_ANSWER, .state = "active", .spend = true, .v5_check = true}},
    {"V5 image cut short after its 200: read again",
     {.result = NET,
      .maybe_sent = true,
      .o = NP_NAI_NETWORK,
      .status = 200,
      .passing = true,
      .opened = true,
      .leased = true,
      .v5_image = true},
     {.next = RELAY_NEXT_BROKEN,
      .strike = true,
      .state = "cooling",
      .cooldown_s = 15,
      .note = RELAY_NOTE_OUTCOME,
      .v5_check = true}},
    {"V5 image cancelled after its 200: read again",
     {.result = CANCEL,
      .maybe_sent = true,
      .o = NP_NAI_NETWORK,
      .status = 200,
      .locks = true,
      .leased = true,
      .v5_image = true},
     {.next = RELAY_NEXT_CANCELLED,
      .state = "cooling",
      .cooldown_s = 5,
      .note = RELAY_NOTE_CANCELLED,
      .v5_check = true}},
    {"V5 image retried after a 200 that broke unsent: not read (another key serves it)",
     {.result = NET,
      .maybe_sent = false,
      .o = NP_NAI_NETWORK,
      .status = 200,
      .passing = true,
      .free_request = true,
      .leased = true,
      .v5_image = true,
      .retries_left = true},
     {.next = RELAY_NEXT_RETRY,
      .retry = true,
      .strike = true,
      .state = "cooling",
      .cooldown_s = 15,
      .note = RELAY_NOTE_OUTCOME,
      .mark_tried = true}},
    {"V5 image 500: not read (nothing was made)",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_SERVER,
      .status = 500,
      .leased = true,
      .v5_image = true,
      .retries_left = true},
     {.next = RELAY_NEXT_FAIL,
      .strike = true,
      .state = "cooling",
      .cooldown_s = 15,
      .note = RELAY_NOTE_OUTCOME}},
    {"V5 image 200 without a lease: not read",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_OK,
      .status = 200,
      .passing = true,
      .v5_image = true},
     {.next = RELAY_NEXT_ANSWER, .state = "active", .spend = true}},
    {"an image that is not V5: not read",
     {.result = OK,
      .maybe_sent = true,
      .o = NP_NAI_OK,
      .status = 200,
      .passing = true,
      .leased = true},
     {.next = RELAY_NEXT_ANSWER, .state = "active", .spend = true}},
};

static void
check_row(const row *r)
{
    relay_decision d;
    memset(&d, 0xA5, sizeof(d)); /* every field must be written */
    relay_decide(&r->f, &cd, &d);
    const expect *e = &r->e;
    print_message("%s\n", r->name);
    assert_string_equal(relay_next_name(d.next), relay_next_name(e->next));
    assert_int_equal(d.action.retry, e->retry);
    assert_int_equal(d.action.strike, e->strike);
    if (e->state == NULL) {
        assert_null(d.action.state);
    } else {
        assert_non_null(d.action.state);
        assert_string_equal(d.action.state, e->state);
    }
    assert_int_equal(d.action.cooldown_s, e->cooldown_s);
    assert_int_equal(d.used, !e->unused);
    assert_int_equal(d.spend, e->spend);
    assert_int_equal(d.note, e->note);
    assert_int_equal(d.mark_tried, e->mark_tried);
    assert_int_equal(d.clear_suspect, e->clear_suspect);
    assert_int_equal(d.defer, e->defer);
    if (e->defer) {
        assert_int_equal(d.deferred.strike, e->deferred_strike);
        assert_string_equal(d.deferred.state, "cooling");
        assert_int_equal(d.deferred.cooldown_s, 15);
    }
    assert_int_equal(d.v5_check, e->v5_check);
}

static void
test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        check_row(&rows[i]);
    }
}

/* The double-billing rule on its own, over every outcome: a paid request that may have
 * reached NovelAI goes to another key only for the refusals that run nothing (401, 402, 403,
 * 409, 429); never after a 5xx or a broken transfer. */
static void
test_maybe_sent_never_retries_a_paid_generation(void **state)
{
    (void)state;
    for (int o = NP_NAI_OK; o <= NP_NAI_NETWORK; o++) {
        relay_facts f = {.result = o == NP_NAI_NETWORK ? NET : OK,
                         .maybe_sent = true,
                         .o = (np_novelai_outcome)o,
                         .status = o == NP_NAI_NETWORK ? 0 : 500,
                         .leased = true,
                         .retries_left = true};
        relay_decision d;
        relay_decide(&f, &cd, &d);
        bool refused_before_running = o == NP_NAI_INVALID || o == NP_NAI_EXHAUSTED ||
                                      o == NP_NAI_FORBIDDEN || o == NP_NAI_CONFLICT ||
                                      o == NP_NAI_LOCKED || o == NP_NAI_RATE;
        print_message("outcome %s\n", np_novelai_outcome_name((np_novelai_outcome)o));
        assert_int_equal(d.next == RELAY_NEXT_RETRY, refused_before_running);
        f.opened = true; /* once the answer is under way, nothing goes to another key */
        relay_decide(&f, &cd, &d);
        assert_int_not_equal(d.next, RELAY_NEXT_RETRY);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_maybe_sent_never_retries_a_paid_generation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
