/* Unit tests for the checks of respond.c that guard what reaches a client: the X-Request-Id
 * echoed, the CORS origin list, the headers a service may set. They are file-local functions,
 * reached through the testing build (np/testing.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "respond.h"

#define S(lit) lit, sizeof(lit) - 1

static void
test_request_id(void **state)
{
    (void)state;
    assert_true(valid_rid(S("abc-DEF_123.x")));
    assert_true(valid_rid(S("123456789012345678901234567890123456"))); /* 36: a UUID */
    assert_false(valid_rid(S("1234567890123456789012345678901234567")));
    assert_false(valid_rid("", 0));
    /* nothing that could split a header, a log line or a JSON string */
    assert_false(valid_rid(S("a b")));
    assert_false(valid_rid(S("a\r\nSet-Cookie: x=1")));
    assert_false(valid_rid(S("a\"b")));
    assert_false(valid_rid(S("a/b")));
    /* the length given is what is checked, not up to a NUL */
    assert_true(valid_rid("ok\n", 2));
}

static void
test_origin_list(void **state)
{
    (void)state;
    gw_gateway gw;
    memset(&gw, 0, sizeof(gw));
    assert_false(origin_allowed(&gw, S("https://app.example"))); /* NULL: CORS off */

    char list[] = " https://app.example/ ,\thttps://b.example,http://localhost:5173";
    gw.cors_origins = list;
    assert_true(origin_allowed(&gw, S("https://app.example"))); /* its trailing slash ignored */
    assert_true(origin_allowed(&gw, S("https://b.example")));
    assert_true(origin_allowed(&gw, S("http://localhost:5173")));
    /* an entry is matched whole: no prefix, no suffix, no other scheme or port */
    assert_false(origin_allowed(&gw, S("https://app.example.evil")));
    assert_false(origin_allowed(&gw, S("https://app.exampl")));
    assert_false(origin_allowed(&gw, S("https://evil.b.example")));
    assert_false(origin_allowed(&gw, S("http://app.example")));
    assert_false(origin_allowed(&gw, S("http://localhost:5174")));
    assert_false(origin_allowed(&gw, S("null")));
    assert_false(origin_allowed(&gw, "", 0));

    char star[] = "https://a.example, *";
    gw.cors_origins = star;
    assert_true(origin_allowed(&gw, S("https://anything.example")));
    char empty[] = "";
    gw.cors_origins = empty;
    assert_false(origin_allowed(&gw, S("https://a.example")));
}

static void
test_service_headers(void **state)
{
    (void)state;
    assert_true(header_allowed(S("content-type")));
    assert_true(header_allowed(S("X-Next-Cursor")));
    assert_true(header_allowed(S("retry-after")));
    /* hop-by-hop, framing, and what the gateway itself owns: in any case */
    assert_false(header_allowed(S("Connection")));
    assert_false(header_allowed(S("transfer-encoding")));
    assert_false(header_allowed(S("Content-Length")));
    assert_false(header_allowed(S("X-Request-Id")));
    assert_false(header_allowed(S("x-novelaipool-node")));
    assert_false(header_allowed(S("SET-COOKIE")));
    assert_false(header_allowed(S("te")));
    /* a name that is not a plain token is refused, never passed through */
    assert_false(header_allowed(S("x-a\r\nset-cookie")));
    assert_false(header_allowed(S("x a")));
    assert_false(header_allowed(S("x:a")));
    assert_false(header_allowed("", 0));
    char long_name[66];
    memset(long_name, 'x', sizeof(long_name));
    assert_true(header_allowed(long_name, 64));
    assert_false(header_allowed(long_name, 65));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_origin_list),
        cmocka_unit_test(test_service_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
