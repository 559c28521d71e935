/* Unit tests for the fake's body reader: JSON, and the "request" part of multipart/form-data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "body.h"

#define CT(s) s, sizeof(s) - 1

static void
test_json_body(void **state)
{
    (void)state;
    static const char body[] = "{\"model\":\"nai-diffusion-3\"}";
    size_t parts = 9;
    char err[128];
    json_t *v = body_parse(CT("application/json"), body, strlen(body), &parts, err, sizeof(err));
    assert_non_null(v);
    assert_int_equal(parts, 0);
    assert_string_equal(json_string_value(json_object_get(v, "model")), "nai-diffusion-3");
    json_decref(v);
    assert_null(body_parse(NULL, 0, "{nope", 5, &parts, err, sizeof(err)));
    assert_null(body_parse(NULL, 0, NULL, 0, &parts, err, sizeof(err)));
}

static void
test_multipart_request_part(void **state)
{
    (void)state;
    static const char body[] = "--XyZ\r\n"
                               "Content-Disposition: form-data; name=\"image\"; filename=\"a\"\r\n"
                               "Content-Type: application/octet-stream\r\n\r\n"
                               "\x89PNG--XyZ not a delimiter\r\n"
                               "--XyZ\r\n"
                               "Content-Disposition: form-data; name=\"request\"\r\n"
                               "Content-Type: application/json\r\n\r\n"
                               "{\"model\":\"nai-diffusion-4-5-full\"}\r\n"
                               "--XyZ--\r\n";
    size_t parts = 0;
    char err[128];
    json_t *v = body_parse(CT("multipart/form-data; boundary=\"XyZ\""), body, sizeof(body) - 1,
                           &parts, err, sizeof(err));
    assert_non_null(v);
    assert_int_equal(parts, 2);
    assert_string_equal(json_string_value(json_object_get(v, "model")), "nai-diffusion-4-5-full");
    json_decref(v);
}

static void
test_multipart_without_request(void **state)
{
    (void)state;
    static const char body[] = "--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n"
                               "xx\r\n--b--\r\n";
    size_t parts = 0;
    char err[128];
    assert_null(body_parse(CT("multipart/form-data; boundary=b"), body, sizeof(body) - 1, &parts,
                           err, sizeof(err)));
    assert_non_null(strstr(err, "request"));
    assert_null(
        body_parse(CT("multipart/form-data"), body, sizeof(body) - 1, &parts, err, sizeof(err)));
}

static void
test_multipart_read_like_a_dictionary(void **state)
{
    (void)state;
    /* xboundary is another parameter: the boundary is BBB; of two request parts the last wins */
    static const char body[] = "--AAA\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n"
                               "{\"steps\":1}\r\n--AAA--\r\n"
                               "--BBB\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n"
                               "{\"steps\":2}\r\n"
                               "--BBB\r\nX-Note: name=\"request\"\r\n"
                               "Content-Disposition: form-data; name=\"request\"\r\n\r\n"
                               "{\"steps\":50}\r\n--BBB--\r\n";
    size_t parts = 0;
    char err[128];
    json_t *v = body_parse(CT("multipart/form-data; xboundary=AAA; Boundary=BBB"), body,
                           sizeof(body) - 1, &parts, err, sizeof(err));
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "steps")), 50);
    json_decref(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_body),
        cmocka_unit_test(test_multipart_request_part),
        cmocka_unit_test(test_multipart_without_request),
        cmocka_unit_test(test_multipart_read_like_a_dictionary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
