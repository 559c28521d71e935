/* Tests for the configuration store and the .env parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "np/config.h"

typedef struct {
    char keys[16][64];
    char vals[16][256];
    int n;
} seen;

static void
collect(void *arg, const char *key, const char *value)
{
    seen *s = arg;
    snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
    snprintf(s->vals[s->n], sizeof(s->vals[0]), "%s", value);
    s->n++;
}

static void
test_dotenv_quoting(void **state)
{
    (void)state;
    const char *text = "# a comment\n"
                       "PLAIN=value\n"
                       "export EXPORTED=yes\n"
                       "SPACED = padded value   # trailing comment\n"
                       "SINGLE='literal $HOME \\n #not a comment'\n"
                       "DOUBLE=\"line\\nbreak \\\"q\\\"\"\n"
                       "HASH=a#b\n"
                       "EMPTY=\n"
                       "CRLF=x\r\n";
    seen s = {0};
    int bad = 0;
    assert_true(np_dotenv_parse(text, strlen(text), collect, &s, &bad));
    assert_int_equal(s.n, 8);
    assert_string_equal(s.keys[0], "PLAIN");
    assert_string_equal(s.vals[0], "value");
    assert_string_equal(s.keys[1], "EXPORTED");
    assert_string_equal(s.vals[2], "padded value");
    assert_string_equal(s.vals[3], "literal $HOME \\n #not a comment");
    assert_string_equal(s.vals[4], "line\nbreak \"q\"");
    assert_string_equal(s.vals[5], "a#b");
    assert_string_equal(s.vals[6], "");
    assert_string_equal(s.vals[7], "x");
}

static void
test_dotenv_bad_lines(void **state)
{
    (void)state;
    const char *cases[] = {"NOEQUALS\n", "1BAD=x\n", "OK=1\nUNTERMINATED=\"abc\n",
                           "OK=1\nX='a' junk\n", "=value\n"};
    const int lines[] = {1, 1, 2, 2, 1};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        seen s = {0};
        int bad = 0;
        assert_false(np_dotenv_parse(cases[i], strlen(cases[i]), collect, &s, &bad));
        assert_int_equal(bad, lines[i]);
    }
}

static const np_cfg_spec table[] = {
    {"T_PORT", NP_CFG_INT, "5002", 1, 65535, 0, "a port", NULL},
    {"T_FLAG", NP_CFG_BOOL, "false", 0, 0, 0, "a switch", NULL},
    {"T_NAME", NP_CFG_STR, "dflt", 0, 0, 0, "a name", NULL},
    {"T_SECRET", NP_CFG_STR, "", 0, 0, NP_CFG_SECRET, "a secret", np_cfg_check_secret},
    {"T_KEY", NP_CFG_STR, "", 0, 0, NP_CFG_SECRET, "a key", np_cfg_check_b64key32},
    NP_CFG_END,
};

static np_config *
load(const char *dotenv, np_err *err, char *why, size_t whylen)
{
    static const np_cfg_spec *const tables[] = {table, NULL};
    np_config *cfg = np_config_new(tables);
    char path[] = "/tmp/np-config-test-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs(dotenv, f);
    fclose(f);
    *err = np_config_load(cfg, path, why, whylen);
    unlink(path);
    return cfg;
}

static void
test_defaults_env_and_dotenv(void **state)
{
    (void)state;
    setenv("T_NAME", "from-env", 1);
    np_err err;
    char why[256] = "";
    np_config *cfg = load("T_NAME=from-dotenv\nT_FLAG=yes\nT_PORT=8080\n", &err, why, sizeof(why));
    assert_int_equal(err, NP_ERR_OK);
    char buf[64];
    assert_string_equal(np_config_str(cfg, "T_NAME", buf, sizeof(buf)), "from-env");
    assert_true(np_config_bool(cfg, "T_FLAG"));
    assert_int_equal(np_config_int(cfg, "T_PORT"), 8080);
    assert_true(np_config_is_set(cfg, "T_PORT"));
    assert_false(np_config_is_set(cfg, "T_SECRET"));
    np_config_free(cfg);
    unsetenv("T_NAME");
}

static void
test_bad_values_name_the_setting(void **state)
{
    (void)state;
    const char *cases[] = {"T_PORT=abc\n",         "T_PORT=70000\n",   "T_FLAG=maybe\n",
                           "T_SECRET=change-me\n", "T_SECRET=short\n", "T_KEY=not-base64!\n",
                           "T_KEY=c2hvcnQ\n"};
    const char *names[] = {"T_PORT", "T_PORT", "T_FLAG", "T_SECRET", "T_SECRET", "T_KEY", "T_KEY"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        np_err err;
        char why[256] = "";
        np_config *cfg = load(cases[i], &err, why, sizeof(why));
        assert_int_equal(err, NP_ERR_CONFIG);
        assert_non_null(strstr(why, names[i]));
        np_config_free(cfg);
    }
}

static void
test_set_validates_and_masks(void **state)
{
    (void)state;
    np_err err;
    char why[256] = "";
    np_config *cfg = load("T_SECRET=0123456789abcdef0123456789abcdefXYZ\n", &err, why, sizeof(why));
    assert_int_equal(err, NP_ERR_OK);
    assert_int_equal(np_config_set(cfg, "T_PORT", "-1", NP_CFG_SRC_DB, why, sizeof(why)),
                     NP_ERR_INVALID);
    assert_int_equal(np_config_int(cfg, "T_PORT"), 5002);
    assert_int_equal(np_config_set(cfg, "T_PORT", "99", NP_CFG_SRC_DB, why, sizeof(why)),
                     NP_ERR_OK);
    assert_int_equal(np_config_int(cfg, "T_PORT"), 99);
    assert_int_equal(np_config_set(cfg, "NOPE", "1", NP_CFG_SRC_DB, why, sizeof(why)),
                     NP_ERR_NOT_FOUND);
    np_config_free(cfg);
}

static void
test_secret_from_file(void **state)
{
    (void)state;
    char path[] = "/tmp/np-secret-test-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("0123456789abcdef0123456789abcdefFILE\n", f);
    fclose(f);
    setenv("T_SECRET_FILE", path, 1);
    np_err err;
    char why[256] = "";
    np_config *cfg = load("", &err, why, sizeof(why));
    assert_int_equal(err, NP_ERR_OK);
    char buf[64];
    assert_string_equal(np_config_str(cfg, "T_SECRET", buf, sizeof(buf)),
                        "0123456789abcdef0123456789abcdefFILE");
    np_config_free(cfg);
    unlink(path);
    cfg = load("", &err, why, sizeof(why)); /* the file is gone: one line naming it */
    assert_int_equal(err, NP_ERR_CONFIG);
    assert_non_null(strstr(why, "T_SECRET_FILE"));
    np_config_free(cfg);
    unsetenv("T_SECRET_FILE");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dotenv_quoting),
        cmocka_unit_test(test_dotenv_bad_lines),
        cmocka_unit_test(test_defaults_env_and_dotenv),
        cmocka_unit_test(test_bad_values_name_the_setting),
        cmocka_unit_test(test_set_validates_and_masks),
        cmocka_unit_test(test_secret_from_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
