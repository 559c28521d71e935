/* Tests for the configuration store, its typed snapshots and the .env parser. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
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

/* A table as a service writes one, with its rows inline instead of in a .def file. */
#define T_SETTINGS(X)                                                                              \
    X(T_PORT, INT, "5002", 1, 65535, 0, "a port", NULL)                                            \
    X(T_FLAG, BOOL, "false", 0, 0, 0, "a switch", NULL)                                            \
    X(T_NAME, STR, "dflt", 0, 0, 0, "a name", NULL)                                                \
    X(T_SECRET, STR, "", 0, 0, NP_CFG_SECRET, "a secret", np_cfg_check_secret)                     \
    X(T_KEY, STR, "", 0, 0, NP_CFG_SECRET, "a key", np_cfg_check_b64key32)

typedef struct {
    T_SETTINGS(NP_CFG_FIELD)
} t_settings;

#define T_ROW(...) NP_CFG_ROW(t_settings, __VA_ARGS__)
static const np_cfg_spec table[] = {T_SETTINGS(T_ROW) NP_CFG_END};
static NP_CFG_TABLE(t, table);

static np_config *
load(const char *dotenv, np_err *err, char *why, size_t whylen)
{
    static const np_cfg_table *const tables[] = {&t_settings_table, NULL};
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
    /* the snapshot's fields hold the same: environment, then .env, then default */
    np_settings *snap = np_config_acquire(cfg);
    const t_settings *t = NP_SETTINGS_OF(snap, t);
    assert_string_equal(t->T_NAME, "from-env");
    assert_true(t->T_FLAG);
    assert_int_equal(t->T_PORT, 8080);
    assert_string_equal(t->T_SECRET, ""); /* no value: empty, never NULL */
    np_settings_release(snap);
    np_config_free(cfg);
    unsetenv("T_NAME");
}

/* Before any load the snapshot holds the defaults. */
static void
test_snapshot_of_defaults(void **state)
{
    (void)state;
    static const np_cfg_table *const tables[] = {&t_settings_table, NULL};
    np_config *cfg = np_config_new(tables);
    np_settings *snap = np_config_acquire(cfg);
    assert_int_equal(np_settings_version(snap), 0);
    assert_int_equal(NP_SETTINGS_OF(snap, t)->T_PORT, 5002);
    assert_false(NP_SETTINGS_OF(snap, t)->T_FLAG);
    assert_string_equal(NP_SETTINGS_OF(snap, t)->T_NAME, "dflt");
    np_settings_release(snap);
    assert_int_equal(NP_SETTING_NOW(cfg, t, T_PORT), 5002);
    np_config_free(cfg);
}

/* A change publishes a new snapshot; one held from before stays as it was until released. */
static void
test_change_publishes_and_held_stays(void **state)
{
    (void)state;
    np_err err;
    char why[256] = "";
    np_config *cfg = load("T_NAME=first\n", &err, why, sizeof(why));
    assert_int_equal(err, NP_ERR_OK);
    np_settings *old = np_config_acquire(cfg);
    const t_settings *was = NP_SETTINGS_OF(old, t);
    uint64_t v0 = np_settings_version(old);

    assert_int_equal(np_config_set(cfg, "T_NAME", "second", NP_CFG_SRC_DB, why, sizeof(why)),
                     NP_ERR_OK);
    assert_int_equal(np_config_set(cfg, "T_PORT", "99", NP_CFG_SRC_DB, why, sizeof(why)),
                     NP_ERR_OK);
    np_settings *now = np_config_acquire(cfg);
    assert_int_equal(np_settings_version(now), v0 + 2);
    assert_string_equal(NP_SETTINGS_OF(now, t)->T_NAME, "second");
    assert_int_equal(NP_SETTINGS_OF(now, t)->T_PORT, 99);
    assert_int_equal(NP_SETTING_NOW(cfg, t, T_PORT), 99);
    /* the held one: same values, its string still readable (ASan would see a freed one) */
    assert_string_equal(was->T_NAME, "first");
    assert_int_equal(was->T_PORT, 5002);

    /* a rejected value or an unchanged one publishes nothing */
    assert_int_equal(np_config_set(cfg, "T_PORT", "0", NP_CFG_SRC_DB, why, sizeof(why)),
                     NP_ERR_INVALID);
    assert_int_equal(np_config_set(cfg, "T_PORT", "99", NP_CFG_SRC_DB, why, sizeof(why)),
                     NP_ERR_OK);
    np_settings *same = np_config_acquire(cfg);
    assert_ptr_equal(same, now);
    np_settings_release(same);

    /* unset goes back to what the load found, in a new snapshot */
    assert_int_equal(np_config_unset(cfg, "T_NAME"), NP_ERR_OK);
    np_settings *back = np_config_acquire(cfg);
    assert_string_equal(NP_SETTINGS_OF(back, t)->T_NAME, "first");
    assert_int_equal(NP_SETTINGS_OF(back, t)->T_PORT, 99);
    assert_string_equal(NP_SETTINGS_OF(now, t)->T_NAME, "second");
    np_settings_release(back);
    np_settings_release(now);
    assert_string_equal(was->T_NAME, "first");
    np_settings_release(old);
    np_config_free(cfg);
}

/* Readers on several threads while a writer changes two settings many times: every snapshot
 * a reader holds keeps its values while held, and the values it sees never go back in time.
 * Under ASan a snapshot freed too early is a use after free. */
typedef struct {
    np_config *cfg;
    atomic_bool stop;
    atomic_long reads;
    atomic_int bad;
} race;

static void *
reader_main(void *arg)
{
    race *r = arg;
    int64_t last = 0;
    while (!atomic_load(&r->stop)) {
        np_settings *s = np_config_acquire(r->cfg);
        const t_settings *t = NP_SETTINGS_OF(s, t);
        int64_t port = t->T_PORT;
        char name[32];
        snprintf(name, sizeof(name), "%s", t->T_NAME);
        for (volatile int spin = 0; spin < 50; spin++) {
        }
        char expect[32];
        snprintf(expect, sizeof(expect), "n%lld", (long long)port);
        /* the writer sets T_PORT to i, then T_NAME to "n<i>": T_NAME lags by at most one */
        if (port < last || t->T_PORT != port || strcmp(t->T_NAME, name) != 0 ||
            (strcmp(name, expect) != 0 && strcmp(name, "dflt") != 0 &&
             strtoll(name + 1, NULL, 10) != port - 1)) {
            atomic_fetch_add(&r->bad, 1);
        }
        last = port;
        np_settings_release(s);
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

static void
test_concurrent_readers(void **state)
{
    (void)state;
    static const np_cfg_table *const tables[] = {&t_settings_table, NULL};
    race r = {.cfg = np_config_new(tables)};
    atomic_init(&r.stop, false);
    atomic_init(&r.reads, 0);
    atomic_init(&r.bad, 0);
    char why[128];
    assert_int_equal(np_config_set(r.cfg, "T_PORT", "1", NP_CFG_SRC_DB, why, sizeof(why)),
                     NP_ERR_OK);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &r), 0);
    }
    for (int i = 2; i <= 3000; i++) {
        char v[32];
        snprintf(v, sizeof(v), "%d", i);
        assert_int_equal(np_config_set(r.cfg, "T_PORT", v, NP_CFG_SRC_DB, why, sizeof(why)),
                         NP_ERR_OK);
        snprintf(v, sizeof(v), "n%d", i);
        assert_int_equal(np_config_set(r.cfg, "T_NAME", v, NP_CFG_SRC_DB, why, sizeof(why)),
                         NP_ERR_OK);
    }
    while (atomic_load(&r.reads) < 1000) {
        sched_yield();
    }
    atomic_store(&r.stop, true);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    assert_int_equal(atomic_load(&r.bad), 0);
    np_settings *s = np_config_acquire(r.cfg);
    assert_int_equal(NP_SETTINGS_OF(s, t)->T_PORT, 3000);
    assert_string_equal(NP_SETTINGS_OF(s, t)->T_NAME, "n3000");
    assert_int_equal(np_settings_version(s), 1 + 2 * 2999);
    np_settings_release(s);
    np_config_free(r.cfg);
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
        cmocka_unit_test(test_snapshot_of_defaults),
        cmocka_unit_test(test_change_publishes_and_held_stays),
        cmocka_unit_test(test_concurrent_readers),
        cmocka_unit_test(test_bad_values_name_the_setting),
        cmocka_unit_test(test_set_validates_and_masks),
        cmocka_unit_test(test_secret_from_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
