/* Unit tests for the Anlas guard: request reading (JSON, multipart, bad input), the cost rule
 * and the owner's policy, with the reasons a refused client reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "anlas.h"

static const pool_key_policy opus = {
    .tier = 3, .active = true, .anlas = 1000, .max_per_request = -1};

static np_err
parse(pool_route_kind kind, const char *ctype, const char *body, pool_anlas_req *r, char *why)
{
    return pool_anlas_parse(kind, ctype, body, strlen(body), r, why, 256);
}

static void
test_parse_json(void **state)
{
    (void)state;
    pool_anlas_req r;
    char why[256];
    assert_int_equal(parse(POOL_KIND_IMAGE, "application/json",
                           "{\"input\":\"x\",\"model\":\"nai-diffusion-4-5-full\",\"action\":"
                           "\"generate\",\"parameters\":{\"width\":1024,\"height\":1024,"
                           "\"steps\":28,\"n_samples\":1}}",
                           &r, why),
                     NP_ERR_OK);
    assert_string_equal(r.model, "nai-diffusion-4-5-full");
    assert_int_equal(r.width, 1024);
    assert_false(r.v5);
    /* defaults */
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, "{\"model\":\"nai-diffusion-5-full\"}", &r, why),
                     NP_ERR_OK);
    assert_int_equal(r.width, 832);
    assert_int_equal(r.height, 1216);
    assert_int_equal(r.steps, 28);
    assert_true(r.v5);
}

static void
test_parse_bad(void **state)
{
    (void)state;
    pool_anlas_req r;
    char why[256];
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, "not json", &r, why), NP_ERR_BAD_JSON);
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, "[1,2]", &r, why), NP_ERR_BAD_JSON);
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, "", &r, why), NP_ERR_BAD_JSON);
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, "{\"input\":\"x\"}", &r, why), NP_ERR_INVALID);
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL,
                           "{\"model\":\"m\",\"parameters\":{\"width\":1000000000}}", &r, why),
                     NP_ERR_INVALID);
    assert_non_null(strstr(why, "width"));
    assert_int_equal(
        parse(POOL_KIND_IMAGE, NULL, "{\"model\":\"m\",\"parameters\":{\"steps\":-1}}", &r, why),
        NP_ERR_INVALID);
    assert_non_null(strstr(why, "steps"));
    assert_int_equal(
        parse(POOL_KIND_IMAGE, NULL, "{\"model\":\"m\",\"parameters\":{\"width\":100}}", &r, why),
        NP_ERR_INVALID);
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL,
                           "{\"model\":\"m\",\"parameters\":{\"width\":2048,\"height\":2048}}", &r,
                           why),
                     NP_ERR_INVALID);
    assert_int_equal(
        parse(POOL_KIND_IMAGE, NULL, "{\"model\":\"m\",\"parameters\":{\"steps\":28.5}}", &r, why),
        NP_ERR_INVALID);
    assert_int_equal(
        parse(POOL_KIND_IMAGE, NULL, "{\"model\":\"m\",\"action\":\"explode\"}", &r, why),
        NP_ERR_INVALID);
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, "{\"model\":\"m\",\"model\":\"n\"}", &r, why),
                     NP_ERR_BAD_JSON);
    assert_int_equal(parse(POOL_KIND_TEXT, NULL, "{\"input\":\"x\"}", &r, why), NP_ERR_INVALID);
    assert_int_equal(parse(POOL_KIND_AUGMENT, NULL,
                           "{\"req_type\":\"nuke\",\"width\":64,"
                           "\"height\":64}",
                           &r, why),
                     NP_ERR_INVALID);
    assert_int_equal(parse(POOL_KIND_FREE, NULL, "", &r, why), NP_ERR_OK);
}

static void
test_parse_multipart(void **state)
{
    (void)state;
    pool_anlas_req r;
    char why[256];
    const char *ct = "multipart/form-data; boundary=XyZ";
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; "
                       "filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n"
                       "--XyZ\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n"
                       "{\"model\":\"nai-diffusion-3\",\"parameters\":{\"steps\":40}}\r\n"
                       "--XyZ--\r\n";
    assert_int_equal(parse(POOL_KIND_IMAGE, ct, body, &r, why), NP_ERR_OK);
    assert_string_equal(r.model, "nai-diffusion-3");
    assert_int_equal(r.steps, 40);
    const char *noreq = "--XyZ\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc\r\n"
                        "--XyZ--\r\n";
    assert_int_equal(parse(POOL_KIND_IMAGE, ct, noreq, &r, why), NP_ERR_INVALID);
    assert_non_null(strstr(why, "request"));
    assert_int_equal(parse(POOL_KIND_IMAGE, "multipart/form-data", body, &r, why), NP_ERR_INVALID);
    assert_int_equal(parse(POOL_KIND_IMAGE, ct,
                           "--XyZ\r\nContent-Disposition: form-data; "
                           "name=\"request\"\r\n\r\n{\"model\":",
                           &r, why),
                     NP_ERR_INVALID);
    /* a part called xrequest is not the request part */
    const char *other = "--XyZ\r\nContent-Disposition: form-data; name=\"xrequest\"\r\n\r\n{}"
                        "\r\n--XyZ--\r\n";
    assert_int_equal(parse(POOL_KIND_IMAGE, ct, other, &r, why), NP_ERR_INVALID);
}

static pool_anlas_req
image(int64_t w, int64_t h, int64_t steps, int64_t n)
{
    pool_anlas_req r = {.kind = POOL_KIND_IMAGE,
                        .width = w,
                        .height = h,
                        .steps = steps,
                        .n_samples = n,
                        .strength = 1.0};
    snprintf(r.model, sizeof(r.model), "nai-diffusion-4-5-full");
    return r;
}

static void
test_cost_rule(void **state)
{
    (void)state;
    char why[256];
    int64_t cost;
    pool_anlas_req r = image(832, 1216, 28, 1);
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 0);
    /* the per-sample price of NOVELAI.md: r = 1011712, ceil(2.98 + 16.30) = 20 */
    assert_int_equal(pool_anlas_sample_cost(&r), 20);
    r = image(1024, 1024, 40, 1);
    assert_true(pool_anlas_cost(&r, &opus, why, sizeof(why)) > 0);
    assert_string_equal(why, "steps 40 > 28");
    r = image(1216, 1216, 28, 1);
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), pool_anlas_sample_cost(&r));
    assert_string_equal(why, "1216x1216 exceeds 1048576 pixels");
    r = image(832, 1216, 28, 2);
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 20);
    assert_string_equal(why, "n_samples 2: extra samples are billed");
    r = image(832, 1216, 28, 1);
    r.v5 = true;
    pool_key_policy neg = opus;
    neg.v5_negative = true;
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 0);
    assert_int_equal(pool_anlas_cost(&r, &neg, why, sizeof(why)), 30); /* ceil(20 * 1.5) */
    assert_string_equal(why, "V5 weekly allowance used up");
    pool_key_policy tablet = opus;
    tablet.tier = 1;
    r = image(832, 1216, 28, 1);
    assert_int_equal(pool_anlas_cost(&r, &tablet, why, sizeof(why)), 20);
    /* small images cost at least the 65536-pixel price, and never under 2 */
    r = image(64, 64, 1, 1);
    assert_int_equal(pool_anlas_sample_cost(&r), 2);
    /* free-only key refuses, with the reason */
    r = image(1024, 1024, 40, 1);
    assert_false(pool_anlas_fits(&r, &opus, &cost, why, sizeof(why)));
    assert_string_equal(why, "steps 40 > 28");
    /* paid allowed, under a cap and over a floor */
    pool_key_policy paid = opus;
    paid.allow_paid = true;
    assert_true(pool_anlas_fits(&r, &paid, &cost, why, sizeof(why)));
    assert_true(cost > 0);
    paid.max_per_request = cost - 1;
    assert_false(pool_anlas_fits(&r, &paid, &cost, why, sizeof(why)));
    assert_non_null(strstr(why, "allowed per request"));
    paid.max_per_request = -1;
    paid.floor = 995;
    assert_false(pool_anlas_fits(&r, &paid, &cost, why, sizeof(why)));
    assert_non_null(strstr(why, "floor"));
}

static void
test_cost_other_routes(void **state)
{
    (void)state;
    char why[256];
    pool_anlas_req r = {.kind = POOL_KIND_VIBE};
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 2);
    r.kind = POOL_KIND_UPSCALE;
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 1);
    r = (pool_anlas_req){.kind = POOL_KIND_AUGMENT, .width = 1024, .height = 1024, .strength = 1.0};
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 0);
    r.bg_removal = true;
    assert_true(pool_anlas_cost(&r, &opus, why, sizeof(why)) > 0);
    r.kind = POOL_KIND_TEXT;
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 0);
    r = image(832, 1216, 28, 1);
    r.refs = 2;
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 10);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_json),        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_parse_multipart),   cmocka_unit_test(test_cost_rule),
        cmocka_unit_test(test_cost_other_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
