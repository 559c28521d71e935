/* Unit tests for argon2id password hashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "passwords.h"

static void
test_hash_then_verify(void **state)
{
    (void)state;
    char h[AUTH_HASH_MAX];
    assert_int_equal(auth_password_hash("correct horse", 13, h, sizeof(h)), NP_ERR_OK);
    assert_non_null(strstr(h, "$argon2id$v=19$m=19456,t=2,p=1$"));
    assert_true(auth_password_verify(h, "correct horse", 13));
    assert_false(auth_password_verify(h, "correct hors", 12));
    assert_false(auth_password_verify(h, "correct horsf", 13));
}

static void
test_salts_differ(void **state)
{
    (void)state;
    char a[AUTH_HASH_MAX], b[AUTH_HASH_MAX];
    assert_int_equal(auth_password_hash("same password", 13, a, sizeof(a)), NP_ERR_OK);
    assert_int_equal(auth_password_hash("same password", 13, b, sizeof(b)), NP_ERR_OK);
    assert_string_not_equal(a, b);
}

static void
test_rejects_foreign_or_broken_hashes(void **state)
{
    (void)state;
    char h[AUTH_HASH_MAX];
    assert_int_equal(auth_password_hash("pw-12345", 8, h, sizeof(h)), NP_ERR_OK);
    assert_false(auth_password_verify(NULL, "pw-12345", 8));
    assert_false(auth_password_verify("", "pw-12345", 8));
    assert_false(auth_password_verify("$argon2i$v=19$m=19456,t=2,p=1$abc$def", "pw-12345", 8));
    /* more memory than ours: refused without running argon2 */
    assert_false(
        auth_password_verify("$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaA", "pw-12345", 8));
    h[strlen(h) - 2] = h[strlen(h) - 2] == 'A' ? 'B' : 'A';
    assert_false(auth_password_verify(h, "pw-12345", 8));
}

static void
test_length_limits(void **state)
{
    (void)state;
    char big[AUTH_PASSWORD_MAX_BYTES + 2];
    memset(big, 'x', sizeof(big));
    char h[AUTH_HASH_MAX];
    assert_int_equal(auth_password_hash(big, AUTH_PASSWORD_MAX_BYTES + 1, h, sizeof(h)),
                     NP_ERR_INVALID);
    assert_int_equal(auth_password_hash(big, AUTH_PASSWORD_MAX_BYTES, h, sizeof(h)), NP_ERR_OK);
    assert_true(auth_password_verify(h, big, AUTH_PASSWORD_MAX_BYTES));
    char small[16];
    assert_int_equal(auth_password_hash("x", 1, small, sizeof(small)), NP_ERR_INVALID);
}

/* Vectors made with Python's hashlib.pbkdf2_hmac and passlib's ab64 alphabet, the format of
 * the earlier Python pool. */
static void
test_legacy_pbkdf2(void **state)
{
    (void)state;
    const char *h1 = "$pbkdf2-sha256$29000$MDEyMzQ1Njc4OWFiY2RlZg$"
                     "uJn0PcgV.qnf72TYLBR8zH4JF11wRV6qjdjjVTSJ3fY";
    const char *h2 = "$pbkdf2-sha256$1000$yMnKy8zNzs/Q0dLT1NXW1w$"
                     "8hGtsrfYIPlk49Q7EJHSz.MfTRfD9uJ/eO.9MXN96qM";
    assert_true(auth_password_is_legacy(h1));
    assert_true(auth_password_verify(h1, "old password 1", 14));
    assert_false(auth_password_verify(h1, "old password 2", 14));
    assert_false(auth_password_verify(h1, "old password", 12));
    assert_true(auth_password_verify(h2, "p", 1));
    assert_false(auth_password_verify(h2, "q", 1));
    /* tampered: hash changed, rounds changed, rounds out of range, broken shapes */
    assert_false(auth_password_verify("$pbkdf2-sha256$1000$yMnKy8zNzs/Q0dLT1NXW1w$"
                                      "8hGtsrfYIPlk49Q7EJHSz.MfTRfD9uJ/eO.9MXN96qN",
                                      "p", 1));
    assert_false(auth_password_verify("$pbkdf2-sha256$1001$yMnKy8zNzs/Q0dLT1NXW1w$"
                                      "8hGtsrfYIPlk49Q7EJHSz.MfTRfD9uJ/eO.9MXN96qM",
                                      "p", 1));
    assert_false(auth_password_verify("$pbkdf2-sha256$999999999$yMnKy8zNzs/Q0dLT1NXW1w$"
                                      "8hGtsrfYIPlk49Q7EJHSz.MfTRfD9uJ/eO.9MXN96qM",
                                      "p", 1));
    assert_false(auth_password_verify("$pbkdf2-sha256$1000$", "p", 1));
    assert_false(auth_password_verify("$pbkdf2-sha256$x$a$b", "p", 1));
    assert_false(auth_password_verify("$pbkdf2-sha256$1000$yMnK$8hG+", "p", 1));
    char h[AUTH_HASH_MAX];
    assert_int_equal(auth_password_hash("p", 1, h, sizeof(h)), NP_ERR_OK);
    assert_false(auth_password_is_legacy(h));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_then_verify),
        cmocka_unit_test(test_salts_differ),
        cmocka_unit_test(test_rejects_foreign_or_broken_hashes),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_legacy_pbkdf2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
