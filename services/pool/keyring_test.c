/* Unit tests for the keyring's memory side: leaseless picks (least recently picked first,
 * never a tried, cooling, unfit or undecryptable key), the guard's answers and reasons on the
 * copy, and invalidation dropping the copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keyring.h"
#include "keystore.h"
#include "np/clock.h"

static const uint8_t enc_key[NP_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static const pool_key_policy opus = {
    .tier = 3, .active = true, .anlas = 1000, .v5_percent = 64, .max_per_request = -1};
static const pool_key_policy scroll = {
    .tier = 2, .active = true, .anlas = 1000, .max_per_request = -1};

/* A key of the copy whose token is "pst-<id>", sealed as the keystore seals it. */
static pool_ring_key
ring_key(int64_t id, pool_key_policy policy, uint64_t picked)
{
    char token[32];
    snprintf(token, sizeof(token), "pst-%lld", (long long)id);
    np_buf sealed;
    np_buf_init(&sealed, 0);
    assert_int_equal(pool_keystore_seal(enc_key, id, token, strlen(token), &sealed), NP_ERR_OK);
    pool_ring_key k = {.id = id, .policy = policy, .settled = true, .picked = picked};
    k.sealed = malloc(sealed.len);
    memcpy(k.sealed, sealed.data, sealed.len);
    k.sealed_len = sealed.len;
    np_buf_fini(&sealed);
    return k;
}

/* A keyring holding keys 1..3 (Opus, Scroll, Opus); key 2 was used least recently. */
static pool_keyring *
three_keys(void)
{
    pool_keyring *kr = pool_keyring_new(enc_key);
    pool_ring_key *keys = calloc(3, sizeof(*keys));
    keys[0] = ring_key(1, opus, 2);
    keys[1] = ring_key(2, scroll, 1);
    keys[2] = ring_key(3, opus, 3);
    pool_keyring_set(kr, keys, 3);
    return kr;
}

static void
waiter(pool_waiter *w, pool_anlas_req *need, pool_route_kind kind)
{
    memset(w, 0, sizeof(*w));
    memset(need, 0, sizeof(*need));
    need->kind = kind;
    need->free = POOL_ANLAS_LIMITS_DEFAULT;
    w->need = need;
    w->leaseless = true;
}

static void
test_pick_order(void **state)
{
    (void)state;
    pool_keyring *kr = three_keys();
    pool_waiter w;
    pool_anlas_req need;
    waiter(&w, &need, POOL_KIND_FREE);
    /* least recently picked first, then each picked key goes to the back */
    int64_t want[] = {2, 1, 3, 2, 1};
    for (int i = 0; i < 5; i++) {
        assert_true(pool_keyring_pick(kr, &w));
        assert_int_equal(w.lease.key_id, want[i]);
        assert_int_equal(w.lease.slot, -1);
        assert_true(w.lease.settled);
        char token[32];
        snprintf(token, sizeof(token), "pst-%lld", (long long)want[i]);
        assert_string_equal(w.lease.token, token);
    }
    pool_keyring_free(kr);
}

static void
test_pick_skips(void **state)
{
    (void)state;
    pool_keyring *kr = three_keys();
    pool_waiter w;
    pool_anlas_req need;
    waiter(&w, &need, POOL_KIND_FREE);
    /* a key this request already tried */
    w.tried[w.ntried++] = 2;
    assert_true(pool_keyring_pick(kr, &w));
    assert_int_equal(w.lease.key_id, 1);
    /* a model only Opus serves: key 2 (Scroll) never */
    waiter(&w, &need, POOL_KIND_TEXT);
    w.need_opus = true;
    for (int i = 0; i < 4; i++) {
        assert_true(pool_keyring_pick(kr, &w));
        assert_int_not_equal(w.lease.key_id, 2);
    }
    /* every key tried: none */
    waiter(&w, &need, POOL_KIND_FREE);
    for (int64_t id = 1; id <= 3; id++) {
        w.tried[w.ntried++] = id;
    }
    assert_false(pool_keyring_pick(kr, &w));
    pool_keyring_free(kr);
}

static void
test_pick_cooling_and_broken(void **state)
{
    (void)state;
    pool_keyring *kr = pool_keyring_new(enc_key);
    pool_ring_key *keys = calloc(3, sizeof(*keys));
    keys[0] = ring_key(1, opus, 1);
    keys[0].cool_until_ms = np_now_ms() + 60000; /* resting for a minute */
    keys[1] = ring_key(2, opus, 2);
    keys[1].sealed[keys[1].sealed_len - 1] ^= 1; /* tampered: does not open */
    keys[2] = ring_key(3, opus, 3);
    keys[2].settled = false;
    pool_keyring_set(kr, keys, 3);
    pool_waiter w;
    pool_anlas_req need;
    waiter(&w, &need, POOL_KIND_FREE);
    for (int i = 0; i < 3; i++) {
        assert_true(pool_keyring_pick(kr, &w));
        assert_int_equal(w.lease.key_id, 3);
        assert_false(w.lease.settled);
    }
    pool_keyring_free(kr);
}

static void
test_guard(void **state)
{
    (void)state;
    char why[200] = "";
    pool_waiter w;
    pool_anlas_req need;
    pool_keyring *kr = pool_keyring_new(enc_key);
    waiter(&w, &need, POOL_KIND_FREE);
    assert_int_equal(pool_keyring_guard(kr, &w, why, sizeof(why)), NP_ERR_NO_KEY);
    assert_string_equal(why, "the pool has no usable key right now");
    pool_keyring_free(kr);

    kr = three_keys();
    assert_int_equal(pool_keyring_guard(kr, &w, why, sizeof(why)), NP_ERR_OK);
    /* Opus-only text model, no Opus key: the first (most permissive) key's reason */
    pool_ring_key *keys = calloc(1, sizeof(*keys));
    keys[0] = ring_key(2, scroll, 1);
    pool_keyring_set(kr, keys, 1);
    waiter(&w, &need, POOL_KIND_TEXT);
    snprintf(need.model, sizeof(need.model), "llama-3-erato-v1");
    w.need_opus = true;
    assert_int_equal(pool_keyring_guard(kr, &w, why, sizeof(why)), NP_ERR_NO_KEY);
    assert_string_equal(why, "no key may serve this request: model llama-3-erato-v1 needs an "
                             "Opus key");
    /* an image that costs Anlas on a key whose owner allows none */
    waiter(&w, &need, POOL_KIND_IMAGE);
    need.width = need.height = 1024;
    need.steps = 40;
    need.n_samples = 1;
    need.strength = 1.0;
    assert_int_equal(pool_keyring_guard(kr, &w, why, sizeof(why)), NP_ERR_ANLAS);
    assert_non_null(strstr(why, "steps 40 > 28"));
    pool_keyring_free(kr);
}

static void
test_invalidate(void **state)
{
    (void)state;
    pool_keyring *kr = three_keys();
    unsigned v = pool_keyring_version(kr);
    pool_keyring_invalidate(kr);
    assert_int_not_equal(pool_keyring_version(kr), v);
    pool_waiter w;
    pool_anlas_req need;
    waiter(&w, &need, POOL_KIND_FREE);
    assert_false(pool_keyring_pick(kr, &w)); /* nothing until the next reload */
    pool_keyring_count_use(kr, 7);           /* counting needs no copy */
    pool_keyring_free(kr);
}

/* The usable-keys query's columns, in order (keyring.c, USABLE_KEYS_SQL). */
enum {
    C_ID,
    C_TIER,
    C_ACTIVE,
    C_ANLAS,
    C_V5_NEGATIVE,
    C_ALLOW_PAID,
    C_MAX_PER_REQUEST,
    C_FLOOR,
    C_STREAK,
    C_SETTLED,
    C_COOL_MS,
    C_PICKED,
    C_CIPHERTEXT,
    C_V5_PERCENT,
    C_LEASED,
    C_N
};

/* Row i of res: a good key id, with cell col replaced by bad (NULL: a NULL cell) unless col
 * is -1. */
static void
usable_row(PGresult *res, int i, int64_t id, int col, const char *bad)
{
    char id_s[24];
    snprintf(id_s, sizeof(id_s), "%lld", (long long)id);
    const char *v[C_N] = {id_s, "3", "t", "1000", "f",       "t",    "-1", "50",
                          "0",  "t", "0", "2",    "\\x0102", "64.5", "1"};
    for (int c = 0; c < C_N; c++) {
        const char *cell = c == col ? bad : v[c];
        char buf[32] = ""; /* PQsetvalue copies the value but takes a char * */
        if (cell != NULL) {
            snprintf(buf, sizeof(buf), "%s", cell);
        }
        assert_int_equal(PQsetvalue(res, i, c, buf, cell != NULL ? (int)strlen(buf) : -1), 1);
    }
}

/* Every cell is read as its type: a row with a cell that is not (a word for a number, a NULL,
 * a bool that is neither t nor f) is left out instead of read as 0 or false. */
static void
test_usable_keys_parse(void **state)
{
    (void)state;
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    assert_non_null(res);
    PGresAttDesc attrs[C_N];
    char name[] = "c"; /* PQsetResultAttrs copies the names */
    memset(attrs, 0, sizeof(attrs));
    for (int c = 0; c < C_N; c++) {
        attrs[c].name = name;
        attrs[c].format = 0;
        attrs[c].typlen = -1;
        attrs[c].atttypmod = -1;
    }
    assert_int_equal(PQsetResultAttrs(res, C_N, attrs), 1);
    usable_row(res, 0, 7, -1, NULL);
    usable_row(res, 1, 8, C_TIER, "three");
    usable_row(res, 2, 9, C_ALLOW_PAID, "yes");
    usable_row(res, 3, 10, C_ANLAS, NULL);
    usable_row(res, 4, 11, C_V5_PERCENT, "");
    usable_row(res, 5, 12, -1, NULL);

    pool_ring_key *keys = NULL;
    int n = -1;
    assert_int_equal(usable_keys_parse(res, 5000, &keys, &n), NP_ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(keys[0].id, 7);
    assert_int_equal(keys[1].id, 12);
    const pool_ring_key *k = &keys[0];
    assert_int_equal(k->policy.tier, 3);
    assert_true(k->policy.active);
    assert_int_equal(k->policy.anlas, 1000);
    assert_false(k->policy.v5_negative);
    assert_true(k->policy.allow_paid);
    assert_int_equal(k->policy.max_per_request, -1);
    assert_int_equal(k->policy.floor, 50);
    assert_true(k->policy.v5_percent > 64.4 && k->policy.v5_percent < 64.6);
    assert_true(k->settled);
    assert_int_equal(k->cool_until_ms, 0);
    assert_int_equal(k->picked, 2);
    assert_int_equal(k->leased, 1);
    assert_int_equal(k->sealed_len, 2);
    assert_int_equal(k->sealed[0], 1);
    assert_int_equal(k->sealed[1], 2);
    pool_ring_keys_free(keys, n);
    PQclear(res);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_order),
        cmocka_unit_test(test_pick_skips),
        cmocka_unit_test(test_pick_cooling_and_broken),
        cmocka_unit_test(test_guard),
        cmocka_unit_test(test_invalidate),
        cmocka_unit_test(test_usable_keys_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
