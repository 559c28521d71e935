/* Unit tests for the NovelAI helpers: token format, masking, subscription parsing and the
 * classification table of NOVELAI.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "np/novelai.h"

#define T32 "abcdefghijklmnopqrstuvwxyzABCDEF"

static bool
valid(const char *s)
{
    return np_novelai_token_valid(s, strlen(s));
}

static void
test_token_format(void **state)
{
    (void)state;
    assert_true(valid("pst-" T32));
    assert_true(valid("pst-" T32 "_-09"));
    assert_false(valid("pst-"
                       "abc"));           /* too short */
    assert_false(valid("pSt-" T32));      /* prefix is exact */
    assert_false(valid("ey" T32));        /* a login JWT */
    assert_false(valid("pst-" T32 "\n")); /* newline */
    assert_false(valid("pst-" T32 " x")); /* space */
    assert_false(valid("pst-" T32 "é"));  /* non-ASCII */
    char long_tok[200];
    memset(long_tok, 'a', sizeof(long_tok));
    memcpy(long_tok, "pst-", 4);
    assert_true(np_novelai_token_valid(long_tok, 4 + 128));
    assert_false(np_novelai_token_valid(long_tok, 4 + 129));
    assert_false(np_novelai_token_valid("pst-" T32 "\0zz", 4 + 32 + 3));
}

static void
test_mask(void **state)
{
    (void)state;
    char out[32];
    const char *t = "pst-ab"
                    "cdefghijklmnopqrstuvwxyzABCDyz";
    np_novelai_token_mask(t, strlen(t), out, sizeof(out));
    assert_string_equal(out, "pst-ab…yz");
    np_novelai_token_mask("nope", 4, out, sizeof(out));
    assert_string_equal(out, "pst-…");
}

static void
test_subscription(void **state)
{
    (void)state;
    const char *doc =
        "{\"tier\":3,\"active\":true,\"expiresAt\":1900000000,"
        "\"perks\":{\"unlimitedImageGeneration\":true},"
        "\"trainingStepsLeft\":{\"fixedTrainingStepsLeft\":900,"
        "\"purchasedTrainingSteps\":100},"
        "\"usage\":{\"percent\":100.0,\"isNegative\":true,\"timeUntilNextPercent\":5}}";
    np_novelai_sub s;
    assert_true(np_novelai_sub_parse(doc, strlen(doc), &s));
    assert_int_equal(s.tier, 3);
    assert_true(s.active);
    assert_int_equal(s.expires_at, 1900000000);
    assert_int_equal(s.anlas, 1000);
    assert_true(s.v5_negative);
    assert_true(s.unlimited_images);
    assert_string_equal(np_novelai_probe_state(200, &s), "active");
    s.active = false;
    assert_string_equal(np_novelai_probe_state(200, &s), "expired");
    assert_false(np_novelai_sub_parse("{\"active\":true}", 15, &s));
    assert_false(np_novelai_sub_parse("not json", 8, &s));
    assert_false(np_novelai_sub_parse("[1]", 3, &s));
    assert_string_equal(np_novelai_probe_state(401, &s), "invalid");
    assert_string_equal(np_novelai_probe_state(402, &s), "exhausted");
    assert_null(np_novelai_probe_state(500, &s));
    assert_null(np_novelai_probe_state(0, &s));
}

static void
test_classify(void **state)
{
    (void)state;
    static const char lock[] =
        "{\"statusCode\":429,\"message\":\"Concurrent generation is locked\"}";
    static const char cf[] = "<html>Too many requests</html>";
    assert_int_equal(np_novelai_classify(200, NULL, 0), NP_NAI_OK);
    assert_int_equal(np_novelai_classify(201, NULL, 0), NP_NAI_OK);
    assert_int_equal(np_novelai_classify(400, NULL, 0), NP_NAI_CLIENT);
    assert_int_equal(np_novelai_classify(404, NULL, 0), NP_NAI_CLIENT);
    assert_int_equal(np_novelai_classify(401, NULL, 0), NP_NAI_INVALID);
    assert_int_equal(np_novelai_classify(402, NULL, 0), NP_NAI_EXHAUSTED);
    assert_int_equal(np_novelai_classify(403, NULL, 0), NP_NAI_FORBIDDEN);
    static const char tier[] =
        "{\"statusCode\":403,\"message\":\"Model not allowed for user tier\"}";
    static const char ban[] = "{\"statusCode\":403,\"message\":\"Forbidden\"}";
    assert_int_equal(np_novelai_classify(403, tier, sizeof(tier) - 1), NP_NAI_CLIENT);
    assert_int_equal(np_novelai_classify(403, ban, sizeof(ban) - 1), NP_NAI_FORBIDDEN);
    assert_int_equal(np_novelai_classify(409, NULL, 0), NP_NAI_CONFLICT);
    assert_int_equal(np_novelai_classify(429, lock, sizeof(lock) - 1), NP_NAI_LOCKED);
    assert_int_equal(np_novelai_classify(429, cf, sizeof(cf) - 1), NP_NAI_RATE);
    assert_int_equal(np_novelai_classify(429, NULL, 0), NP_NAI_RATE);
    assert_int_equal(np_novelai_classify(500, NULL, 0), NP_NAI_SERVER);
    assert_int_equal(np_novelai_classify(503, NULL, 0), NP_NAI_SERVER);
    assert_int_equal(np_novelai_classify(0, NULL, 0), NP_NAI_NETWORK);
    assert_string_equal(np_novelai_outcome_name(NP_NAI_LOCKED), "locked");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_format),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_subscription),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
