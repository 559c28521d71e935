/* Tests for the JSON pre-scan: what counts as a value, strings (escapes, long base64) that
 * cost one, the value and depth caps, and that np_json_parse_object refuses beyond them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "np/json.h"

static bool
scan(const char *s)
{
    char why[128];
    return np_json_prescan(s, strlen(s), why, sizeof(why));
}

/* array_of builds [v,v,...] with n elements. */
static char *
array_of(size_t n, const char *v)
{
    size_t vlen = strlen(v), len = 2 + n * (vlen + 1);
    char *s = malloc(len + 1);
    char *p = s;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        memcpy(p, v, vlen);
        p += vlen;
        *p++ = i + 1 < n ? ',' : ']';
    }
    *p = '\0';
    return s;
}

static void
test_value_cap(void **state)
{
    (void)state;
    /* The array itself is one value: NP_JSON_MAX_VALUES - 1 elements fit, one more does not. */
    char *ok = array_of(NP_JSON_MAX_VALUES - 1, "0");
    char *over = array_of(NP_JSON_MAX_VALUES, "0");
    char *lits = array_of(NP_JSON_MAX_VALUES, "true");
    assert_true(scan(ok));
    assert_false(scan(over));
    assert_false(scan(lits));
    char why[128];
    json_t *j = NULL;
    assert_int_equal(np_json_parse_object(over, strlen(over), &j, why, sizeof(why)),
                     NP_ERR_BAD_JSON);
    assert_non_null(strstr(why, "values"));
    assert_null(j);
    free(ok);
    free(over);
    free(lits);
}

static void
test_strings_cost_one(void **state)
{
    (void)state;
    /* A long string with escaped quotes and brackets inside is one value. */
    size_t n = 4u << 20;
    char *s = malloc(n + 64);
    int head = snprintf(s, 64, "{\"image\":\"");
    for (size_t i = 0; i < n; i++) {
        s[head + i] = "[{,0\\\"]}"[i % 8];
        if (s[head + i] == '\\') {
            s[head + i + 1] = '"';
            i++;
        }
    }
    snprintf(s + head + n, 64, "\"}");
    assert_true(scan(s));
    free(s);
    char *strs = array_of(NP_JSON_MAX_VALUES, "\"a\"");
    assert_false(scan(strs));
    free(strs);
}

static void
test_depth_cap(void **state)
{
    (void)state;
    char s[2 * NP_JSON_MAX_DEPTH + 8];
    memset(s, '[', NP_JSON_MAX_DEPTH);
    memset(s + NP_JSON_MAX_DEPTH, ']', NP_JSON_MAX_DEPTH);
    s[2 * NP_JSON_MAX_DEPTH] = '\0';
    assert_true(scan(s));
    /* One more level, even closed right away, is refused; siblings do not add depth. */
    char deeper[2 * NP_JSON_MAX_DEPTH + 8];
    deeper[0] = '[';
    memcpy(deeper + 1, s, 2 * NP_JSON_MAX_DEPTH);
    memcpy(deeper + 1 + 2 * NP_JSON_MAX_DEPTH, "]", 2);
    assert_false(scan(deeper));
    assert_true(scan("{\"a\":[1,2,{\"b\":[]}],\"c\":[[],[]]}"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_cap),
        cmocka_unit_test(test_strings_cost_one),
        cmocka_unit_test(test_depth_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
