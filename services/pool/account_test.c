/* Unit tests for the synthesized account routes: NovelAI's live fields, exactly, and nothing
 * for other paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "account.h"

static const pool_account_free lim = {1048576, 1};

/* Whether obj has exactly the keys of names (NULL-terminated). */
static bool
exact_keys(const json_t *obj, const char *const *names)
{
    size_t n = 0;
    for (; names[n] != NULL; n++) {
        if (json_object_get(obj, names[n]) == NULL) {
            return false;
        }
    }
    return json_object_size(obj) == n;
}

static void
test_subscription(void **state)
{
    (void)state;
    json_t *s = pool_account_answer("/user/subscription", 1000, &lim);
    assert_non_null(s);
    static const char *const top[] = {"tier",
                                      "active",
                                      "expiresAt",
                                      "paymentProcessor",
                                      "accountType",
                                      "isGracePeriod",
                                      "isPaypal",
                                      "perks",
                                      "trainingStepsLeft",
                                      "usage",
                                      NULL};
    assert_true(exact_keys(s, top));
    assert_int_equal(json_integer_value(json_object_get(s, "tier")), 3);
    assert_true(json_is_true(json_object_get(s, "active")));
    assert_int_equal(json_integer_value(json_object_get(s, "expiresAt")), 1000 + 30 * 86400);
    json_t *limits = json_object_get(json_object_get(s, "perks"), "unlimitedImageGenerationLimits");
    assert_int_equal(json_array_size(limits), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(limits, 0), "resolution")),
                     1048576);
    assert_true(json_is_false(json_object_get(json_object_get(s, "usage"), "isNegative")));
    json_decref(s);
}

static void
test_data(void **state)
{
    (void)state;
    json_t *d = pool_account_answer("/user/data", 1000, &lim);
    static const char *const top[] = {"priority", "subscription", "keystore",
                                      "settings", "information",  NULL};
    assert_true(exact_keys(d, top));
    assert_true(json_is_null(json_object_get(json_object_get(d, "keystore"), "keystore")));
    json_t *p = pool_account_answer("/user/priority", 1000, &lim);
    assert_true(json_equal(p, json_object_get(d, "priority")));
    json_t *i = pool_account_answer("/user/information", 1000, &lim);
    assert_true(json_equal(i, json_object_get(d, "information")));
    json_decref(p);
    json_decref(i);
    json_decref(d);
    assert_null(pool_account_answer("/user/keystore", 1000, &lim));
    assert_null(pool_account_answer("/user/data/", 1000, &lim));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscription),
        cmocka_unit_test(test_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
