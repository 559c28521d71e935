/* Unit tests for the relay's allow-list: exact matches only, the routes of #9 item 6, and the
 * old upscale body sent to the API host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "allowlist.h"

static void
test_find(void **state)
{
    (void)state;
    assert_non_null(pool_route_find("GET", "/ai/generate-voice"));
    const pool_route *v = pool_route_find("POST", "/ai/generate-voice");
    assert_non_null(v);
    assert_int_equal(v->host, POOL_HOST_API);
    assert_int_equal(v->kind, POOL_KIND_FREE);
    const pool_route *t = pool_route_find("POST", "/oa/v1/internal/token-count");
    assert_non_null(t);
    assert_int_equal(t->host, POOL_HOST_TEXT);
    assert_int_equal(pool_route_find("GET", "/user/data")->kind, POOL_KIND_ACCOUNT);
    assert_int_equal(pool_route_find("GET", "/user/priority")->kind, POOL_KIND_ACCOUNT);
    assert_int_equal(pool_route_find("GET", "/user/information")->kind, POOL_KIND_ACCOUNT);
    assert_null(pool_route_find("POST", "/user/data"));
    assert_null(pool_route_find("GET", "/user/keystore"));
    assert_null(pool_route_find("GET", "//user/data"));
    assert_null(pool_route_find("GET", "/user/data/"));
}

static void
test_upscale_body(void **state)
{
    (void)state;
    const pool_route *up = pool_route_find("POST", "/ai/upscale");
    assert_int_equal(up->host, POOL_HOST_IMAGE);
    static const char old[] = "{\"image\":\"AAAA\",\"width\":512,\"height\":768,\"scale\":4}";
    const pool_route *r = pool_route_for_body(up, "application/json", old, strlen(old));
    assert_int_equal(r->host, POOL_HOST_API);
    assert_string_equal(r->upstream, "/ai/upscale");
    assert_int_equal(r->kind, POOL_KIND_UPSCALE);
    assert_true(r->locks);
    /* the current body, a body with a model, or anything else stays on the image host */
    static const char cur[] = "{\"image\":\"AAAA\",\"model\":\"m\",\"declared_blur_sigma\":0}";
    assert_ptr_equal(pool_route_for_body(up, "application/json", cur, strlen(cur)), up);
    static const char both[] =
        "{\"image\":\"A\",\"model\":\"m\",\"width\":1,\"height\":1,\"scale\":2}";
    assert_ptr_equal(pool_route_for_body(up, "application/json", both, strlen(both)), up);
    assert_ptr_equal(pool_route_for_body(up, "multipart/form-data; boundary=x", old, strlen(old)),
                     up);
    assert_ptr_equal(pool_route_for_body(up, "application/json", "{", 1), up);
    /* other routes are never moved */
    const pool_route *img = pool_route_find("POST", "/ai/generate-image");
    assert_ptr_equal(pool_route_for_body(img, "application/json", old, strlen(old)), img);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_upscale_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
