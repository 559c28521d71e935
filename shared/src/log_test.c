/* Unit tests for the log's token scrubbing (np_log_redact). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "np/log.h"

static void
check(const char *in, const char *want, int want_found)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", in);
    int found = -1;
    size_t n = np_log_redact(buf, strlen(buf), &found);
    assert_int_equal(found, want_found);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
}

static void
test_redact(void **state)
{
    (void)state;
    check("upstream refused pst-0123456789abcdefABCDEF_-xyz for 402",
          "upstream refused pst-[redacted] for 402", 1);
    check("np-aaaaaaaaaaaaaaaaaaaaaaaa,np-bbbbbbbbbbbbbbbbbbbbbbbb", "np-[redacted],np-[redacted]",
          2);
    check("\"PST-ZZZZZZZZZZZZZZZZZZZZ\"", "\"PST-[redacted]\"", 1);
    /* too short to be a token, or part of a longer word: left alone */
    check("np-short pst-1234", "np-short pst-1234", 0);
    check("snp-aaaaaaaaaaaaaaaaaaaaaaaa", "snp-aaaaaaaaaaaaaaaaaaaaaaaa", 0);
    check("", "", 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
