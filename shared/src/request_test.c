/* Unit tests for the shared request helpers: a strict body is one JSON object of allowed keys
 * within NP_HTTP_BODY_MAX, and each refusal says which rule it broke. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "np/request.h"

static np_err
parse(const char *body, size_t len, json_t **out, char *why, size_t whylen)
{
    static const char *const allowed[] = {"name", "enabled", NULL};
    np_http_req r = {0};
    r.body = body;
    r.body_len = len;
    return np_request_body_parse(&r, allowed, out, why, whylen);
}

static void
test_body_parse(void **state)
{
    (void)state;
    json_t *j = NULL;
    char why[256] = "";
    const char *ok = "{\"name\":\"a\",\"enabled\":true}";
    assert_int_equal(parse(ok, strlen(ok), &j, why, sizeof(why)), NP_ERR_OK);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "a");
    json_decref(j);

    const char *extra = "{\"name\":\"a\",\"role\":\"admin\"}";
    assert_int_equal(parse(extra, strlen(extra), &j, why, sizeof(why)), NP_ERR_INVALID);
    assert_null(j);
    assert_non_null(strstr(why, "role"));

    assert_int_equal(parse("[1]", 3, &j, why, sizeof(why)), NP_ERR_BAD_JSON);
    assert_int_equal(parse("{\"name\":", 8, &j, why, sizeof(why)), NP_ERR_BAD_JSON);
    assert_null(j);

    size_t big = NP_HTTP_BODY_MAX + 1;
    char *body = malloc(big);
    assert_non_null(body);
    memset(body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    assert_int_equal(parse(body, big, &j, why, sizeof(why)), NP_ERR_TOO_LARGE);
    assert_null(j);
    free(body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
