/* Unit tests for the username and password rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "users.h"

static bool
name_ok(const char *n)
{
    char why[128] = "";
    bool ok = auth_username_check(n, strlen(n), why, sizeof(why));
    assert_true(ok || why[0] != '\0');
    return ok;
}

static bool
pw_ok(const char *pw, const char *user)
{
    char why[128] = "";
    bool ok = auth_password_check(pw, strlen(pw), user, 8, why, sizeof(why));
    assert_true(ok || why[0] != '\0');
    return ok;
}

static void
test_usernames(void **state)
{
    (void)state;
    assert_true(name_ok("abc"));
    assert_true(name_ok("Alice_B.c-9"));
    assert_true(name_ok("abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
    assert_false(name_ok("ab"));
    assert_false(name_ok("abcdefghijklmnopqrstuvwxyz0123456")); /* 33 */
    assert_false(name_ok("with space"));
    assert_false(name_ok("semi;colon"));
    assert_false(name_ok("caf\xc3\xa9"));
    assert_false(name_ok(""));
    char big[10240];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(name_ok(big));
    char lower[40];
    auth_username_lower("MiXeD.Case-1", lower, sizeof(lower));
    assert_string_equal(lower, "mixed.case-1");
}

static void
test_passwords(void **state)
{
    (void)state;
    assert_true(pw_ok("12345678", "alice"));
    assert_false(pw_ok("1234567", "alice"));
    /* characters, not bytes: seven two-byte characters are too short */
    assert_false(pw_ok("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "alice"));
    assert_true(pw_ok("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "alice"));
    assert_false(pw_ok("longusername", "LongUserName"));
    assert_true(pw_ok("longusername1", "longusername"));
    char big[AUTH_PASSWORD_MAX_BYTES + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(pw_ok(big, "alice")); /* 257 bytes */
    big[AUTH_PASSWORD_MAX_BYTES] = '\0';
    assert_true(pw_ok(big, "alice")); /* 256 bytes */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usernames),
        cmocka_unit_test(test_passwords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
