/* Service tests of the audit service on real NNG sockets (inproc) and a real Postgres:
 * events stored exactly once and acknowledged (also with two audit instances side by side),
 * the log endpoints (ownership, fields, filters, pagination, bad input), the index the
 * user query uses, retention batches and the one-by-one fallback of a failing batch.
 * Postgres: NP_TEST_PG_URL (scripts/test), else a private cluster under /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "audit/logs.h"
#include "audit/sink.h"
#include "np/db.h"
#include "np/events.h"
#include "np/httpop.h"
#include "np/pgboot.h"
#include "np/rpc.h"

static char base_url[800];
static np_pgboot *own_pg;
static char own_dir[256];
static int tag_no;

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int
group_setup(void **state)
{
    const char *env = getenv("NP_TEST_PG_URL");
    if (env != NULL && env[0] != '\0') {
        snprintf(base_url, sizeof(base_url), "%s", env);
        return 0;
    }
    snprintf(own_dir, sizeof(own_dir), "/tmp/np-audit-test.XXXXXX");
    if (mkdtemp(own_dir) == NULL) {
        return -1;
    }
    chmod(own_dir, 0755);
    char why[512];
    if (np_pgboot_start(&own_pg, own_dir, base_url, sizeof(base_url), why, sizeof(why)) !=
        NP_ERR_OK) {
        fprintf(stderr, "cannot start Postgres: %s\n", why);
        return -1;
    }
    return 0;
}

static int
group_teardown(void **state)
{
    if (own_pg != NULL) {
        np_pgboot_stop(own_pg);
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", own_dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", own_dir);
        }
    }
    return 0;
}

/* fresh_db creates an empty database in the test cluster, migrates it and writes its URL. */
static void
fresh_db(char *url, size_t n)
{
    PGconn *c = PQconnectdb(base_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char name[64], sql[128];
    snprintf(name, sizeof(name), "audit_t_%d_%d", (int)getpid(), ++tag_no);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    const char *path = strstr(base_url, "///");
    assert_non_null(path);
    const char *rest = strchr(path + 3, '?');
    snprintf(url, n, "%.*s///%s%s", (int)(path - base_url), base_url, name, rest ? rest : "");
    np_db *db;
    char why[512];
    assert_int_equal(np_db_open(&db, url, 1, "audit-test", why, sizeof(why)), NP_ERR_OK);
    assert_int_equal(np_db_migrate(db, why, sizeof(why)), NP_ERR_OK);
    np_db_close(db);
}

/* make_cfg: a configuration for one audit instance (instance 1..n) or, with instance 0,
 * for a producer dialling every instance. */
static np_config *
make_cfg(const char *url, int tag, int instance, int instances)
{
    static const np_cfg_table *const tables[] = {&np_common_settings_table, &audit_settings_table,
                                                 NULL};
    np_config *cfg = np_config_new(tables);
    char why[512];
    assert_int_equal(np_config_load(cfg, NULL, why, sizeof(why)), NP_ERR_OK);
    char ev[256] = "", ack[256] = "", rpc[64];
    size_t evn = 0, ackn = 0;
    for (int i = 1; i <= instances; i++) {
        if (instance == 0 || instance == i) {
            evn += (size_t)snprintf(ev + evn, sizeof(ev) - evn, "%sinproc://ev-%d-%d",
                                    evn ? "," : "", tag, i);
            ackn += (size_t)snprintf(ack + ackn, sizeof(ack) - ackn, "%sinproc://ack-%d-%d",
                                     ackn ? "," : "", tag, i);
            assert_true(evn < sizeof(ev) && ackn < sizeof(ack));
        }
    }
    snprintf(rpc, sizeof(rpc), "inproc://audit-rpc-%d-%d", tag, instance);
    const char *kv[][2] = {
        {"DATABASE_URL", url},  {"EVENTS_URL", ev},          {"EVENTS_LISTEN", ev},
        {"ACKS_URL", ack},      {"ACKS_LISTEN", ack},        {"AUDIT_RPC_LISTEN", rpc},
        {"AUDIT_RPC_URL", rpc}, {"EVENTS_RESEND_MS", "200"}, {"EVENTS_DRAIN_MS", "0"},
        {"NODE_ID", "t"},       {"DB_POOL_SIZE", "4"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        assert_int_equal(np_config_set(cfg, kv[i][0], kv[i][1], NP_CFG_SRC_ENV, why, sizeof(why)),
                         NP_ERR_OK);
    }
    return cfg;
}

static int64_t
count(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

static void
exec_sql(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    }
    PQclear(r);
    PQfinish(c);
}

/* assert_order fails unless the query returns exactly the n ids, in that order. */
static void
assert_order(const char *url, const char *sql, const int64_t *ids, int n)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(strtoll(PQgetvalue(r, i, 0), NULL, 10), ids[i]);
    }
    PQclear(r);
    PQfinish(c);
}

/* wait_count polls until the query's number reaches want (bounded); returns the last. */
static int64_t
wait_count(const char *url, const char *sql, int64_t want)
{
    int64_t v = -1;
    for (int i = 0; i < 600 && v != want; i++) {
        v = count(url, sql);
        if (v != want) {
            sleep_ms(50);
        }
    }
    return v;
}

static bool
wait_drained(np_events *ev)
{
    for (int i = 0; i < 600; i++) {
        np_events_stats st;
        np_events_stats_read(ev, &st);
        if (st.depth == 0) {
            return true;
        }
        sleep_ms(50);
    }
    return false;
}

typedef struct {
    int status;
    json_t *body;
    char next[64];
} http_answer;

/* http_as calls audit's "http" operation as user uid with role, authenticated with relay key kid
 * (0: a signed-in session). */
static void
http_as(np_rpc_client *c, const char *path, const char *query, int64_t uid, const char *role,
        int64_t kid, http_answer *a)
{
    np_http_req r = {0};
    r.relay_key_id = kid;
    snprintf(r.method, sizeof(r.method), "GET");
    snprintf(r.path, sizeof(r.path), "%s", path);
    r.op = np_http_op_find(r.method, r.path);
    snprintf(r.query, sizeof(r.query), "%s", query);
    snprintf(r.rid, sizeof(r.rid), "rid");
    r.user_id = uid;
    snprintf(r.role, sizeof(r.role), "%s", role);
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_http_req_write(&w, &r);
    nng_msg *reply;
    assert_int_equal(np_rpc_client_call(c, &w, 10000, &reply), NP_ERR_OK);
    np_wire_writer_fini(&w);
    np_wire_msg m;
    assert_int_equal(np_wire_parse(&m, nng_msg_body(reply), nng_msg_len(reply)), NP_ERR_OK);
    int64_t s = 0;
    const void *b;
    size_t blen;
    assert_true(np_wire_get_int(m.root, "s", &s));
    assert_true(np_wire_get_bin(m.root, "b", &b, &blen));
    a->status = (int)s;
    a->body = json_loadb(b, blen, 0, NULL);
    a->next[0] = '\0';
    const msgpack_object *h = np_wire_get_map(m.root, "h");
    if (h != NULL) {
        np_wire_get_cstr(h, "X-Next-Cursor", a->next, sizeof(a->next));
    }
    np_wire_msg_fini(&m);
    nng_msg_free(reply);
}

/* http calls audit's "http" operation as user uid with role, signed in with a session. */
static void
http(np_rpc_client *c, const char *path, const char *query, int64_t uid, const char *role,
     http_answer *a)
{
    http_as(c, path, query, uid, role, 0, a);
}

static void
emit_usage(np_events *ev, int64_t user, int status, const char *ip)
{
    json_t *f = json_pack("{s:I, s:i, s:i, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:s}", "user_id",
                          (json_int_t)user, "relay_key_id", 70 + (int)user, "upstream_key_id", 900,
                          "route", status == 200 ? "/ai/generate-image" : "/ai/generate", "model",
                          "nai-diffusion-4-5-full", "width", 832, "height", 1216, "steps", 28,
                          "status", status, "latency_ms", 10, "request_id", "req", "ip", ip);
    np_events_emit(ev, "relay.finished", f);
}

static void
test_store_ack_and_query(void **state)
{
    char url[800];
    fresh_db(url, sizeof(url));
    int tag = ++tag_no;
    np_config *acfg = make_cfg(url, tag, 1, 1), *pcfg = make_cfg(url, tag, 0, 1);
    audit_service *audit;
    char why[512] = "";
    assert_int_equal(audit_start(&audit, acfg, why, sizeof(why)), NP_ERR_OK);
    np_events *ev;
    assert_int_equal(np_events_open(&ev, "pool", pcfg), NP_ERR_OK);
    /* user 1: 120 rows (every 4th an error), user 2: 30 rows, user 3: none. */
    for (int i = 0; i < 150; i++) {
        emit_usage(ev, i < 120 ? 1 : 2, i % 4 == 0 ? 429 : 200, "10.1.2.3");
    }
    np_events_emit(ev, "auth.login_failed",
                   json_pack("{s:s, s:s}", "username", "mallory", "password", "guess"));
    np_events_emit(
        ev, "admin.role_changed",
        json_pack("{s:i, s:i, s:s}", "actor_user_id", 9, "target_user_id", 2, "role", "admin"));
    assert_int_equal(wait_count(url, "SELECT count(*) FROM usage_logs", 150), 150);
    assert_int_equal(wait_count(url, "SELECT count(*) FROM audit_events", 2), 2);
    assert_true(wait_drained(ev));
    /* LOG_REQUEST_IP is off: no IP stored at all; no password either. */
    assert_int_equal(count(url, "SELECT count(*) FROM usage_logs WHERE ip IS NOT NULL"), 0);
    assert_int_equal(count(url, "SELECT count(*) FROM audit_events WHERE details::text LIKE "
                                "'%guess%'"),
                     0);
    assert_int_equal(count(url, "SELECT count(*) FROM audit_events WHERE actor_user_id = 9 AND "
                                "subject = 'user:2'"),
                     1);

    np_rpc_client *c;
    char rpc[64];
    snprintf(rpc, sizeof(rpc), "inproc://audit-rpc-%d-1", tag);
    assert_int_equal(np_rpc_client_open(&c, rpc, NULL), NP_ERR_OK);
    http_answer a;

    /* A user pages through exactly their own rows, newest first, without key ids or IPs. */
    char query[128] = "limit=50";
    int seen = 0, pages = 0;
    int64_t ids[120];
    for (;;) {
        http(c, "/logs", query, 1, "user", &a);
        assert_int_equal(a.status, 200);
        assert_true(json_is_array(a.body));
        size_t i;
        json_t *row;
        json_array_foreach(a.body, i, row)
        {
            assert_null(json_object_get(row, "upstream_key_id"));
            assert_null(json_object_get(row, "relay_key_id"));
            assert_null(json_object_get(row, "ip"));
            assert_null(json_object_get(row, "user_id"));
            assert_non_null(json_object_get(row, "time"));
            assert_int_equal(json_integer_value(json_object_get(row, "width")), 832);
            assert_true(seen < 120);
            ids[seen++] = json_integer_value(json_object_get(row, "id"));
        }
        pages++;
        json_decref(a.body);
        if (a.next[0] == '\0') {
            break;
        }
        snprintf(query, sizeof(query), "limit=50&before=%s", a.next);
    }
    assert_int_equal(seen, 120);
    assert_int_equal(pages, 3);
    /* Newest first, ties broken by id: exactly the database's (time, id) order. The shown
     * times have milliseconds only, so the order is checked on the stored microseconds. */
    assert_order(url, "SELECT id FROM usage_logs WHERE user_id = 1 ORDER BY time DESC, id DESC",
                 ids, seen);

    http(c, "/logs", "status=error&limit=500", 1, "user", &a);
    assert_int_equal(json_array_size(a.body), 30);
    json_decref(a.body);
    http(c, "/logs", "status=429&route=%2Fai%2Fgenerate", 1, "user", &a);
    assert_int_equal(json_array_size(a.body), 30);
    json_decref(a.body);
    http(c, "/logs", "since=2000-01-01&until=2001-01-01", 1, "user", &a);
    assert_int_equal(json_array_size(a.body), 0);
    json_decref(a.body);
    http(c, "/logs", "", 3, "user", &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(a.body), 0);
    json_decref(a.body);

    /* Bad input: 400 with a sentence. */
    static const char *const bad[] = {"limit=0", "limit=abc",  "before=123",      "status=teapot",
                                      "user=2",  "since=soon", "limit=1&limit=2", NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        http(c, "/logs", bad[i], 1, "user", &a);
        assert_int_equal(a.status, 400);
        assert_string_equal(json_string_value(json_object_get(a.body, "error")), "bad_request");
        assert_true(json_string_length(json_object_get(a.body, "message")) > 10);
        json_decref(a.body);
    }
    http(c, "/admin/logs", "", 1, "user", &a);
    assert_int_equal(a.status, 403);
    json_decref(a.body);

    /* A relay key reaches the relay only, even from inside the network (past the gateway). */
    const char *session_only[] = {"/logs", "/logs/stats", "/admin/logs", "/admin/audit"};
    for (size_t i = 0; i < sizeof(session_only) / sizeof(session_only[0]); i++) {
        http_as(c, session_only[i], "", 9, "admin", 77, &a);
        assert_int_equal(a.status, 403);
        assert_string_equal(json_string_value(json_object_get(a.body, "error")), "not_allowed");
        assert_non_null(strstr(json_string_value(json_object_get(a.body, "message")),
                               "use a signed-in session"));
        json_decref(a.body);
    }
    http(c, "/admin/audit", "", 1, "user", &a);
    assert_int_equal(a.status, 403);
    json_decref(a.body);

    /* Admins see everything, with key ids; no ip while LOG_REQUEST_IP is off. */
    http(c, "/admin/logs", "user=2&limit=500", 9, "admin", &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(a.body), 30);
    json_t *row0 = json_array_get(a.body, 0);
    assert_int_equal(json_integer_value(json_object_get(row0, "upstream_key_id")), 900);
    assert_int_equal(json_integer_value(json_object_get(row0, "user_id")), 2);
    assert_null(json_object_get(row0, "ip"));
    json_decref(a.body);
    http(c, "/admin/logs", "limit=500", 9, "admin", &a);
    assert_int_equal(json_array_size(a.body), 150);
    json_decref(a.body);

    /* Stats: per day and per status. */
    http(c, "/logs/stats", "days=3", 1, "user", &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_integer_value(json_object_get(a.body, "total")), 120);
    assert_int_equal(json_integer_value(json_object_get(a.body, "errors")), 30);
    assert_int_equal(json_array_size(json_object_get(a.body, "by_day")), 3);
    json_decref(a.body);
    http(c, "/logs/stats", "days=0", 1, "user", &a);
    assert_int_equal(a.status, 400);
    json_decref(a.body);

    /* The audit trail, with type prefix and actor filters. */
    http(c, "/admin/audit", "type=auth.", 9, "admin", &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(a.body), 1);
    json_t *ev0 = json_array_get(a.body, 0);
    assert_string_equal(json_string_value(json_object_get(ev0, "type")), "auth.login_failed");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(ev0, "details"), "password")),
        "[redacted]");
    json_decref(a.body);
    http(c, "/admin/audit", "user=9", 9, "admin", &a);
    assert_int_equal(json_array_size(a.body), 1);
    json_decref(a.body);
    http(c, "/admin/audit", "type=a%25", 9, "admin", &a);
    assert_int_equal(a.status, 400);
    json_decref(a.body);

    /* LOG_REQUEST_IP on: the IP is stored and shown to admins only. */
    assert_int_equal(np_config_set(acfg, "LOG_REQUEST_IP", "true", NP_CFG_SRC_DB, why, sizeof(why)),
                     NP_ERR_OK);
    emit_usage(ev, 3, 200, "192.0.2.7");
    assert_int_equal(wait_count(url, "SELECT count(*) FROM usage_logs WHERE user_id = 3", 1), 1);
    http(c, "/admin/logs", "user=3", 9, "admin", &a);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a.body, 0), "ip")),
                        "192.0.2.7");
    json_decref(a.body);
    http(c, "/logs", "", 3, "user", &a);
    assert_null(json_object_get(json_array_get(a.body, 0), "ip"));
    json_decref(a.body);

    np_rpc_client_close(c);
    np_events_close(ev);
    audit_stop(audit);
    np_config_free(acfg);
    np_config_free(pcfg);
}

/* sink_figure asks an audit instance for one figure of "audit.stats". */
static int64_t
sink_figure(np_rpc_client *c, const char *name)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 1);
    np_wire_str(&w, "op", "audit.stats");
    nng_msg *reply;
    assert_int_equal(np_rpc_client_call(c, &w, 5000, &reply), NP_ERR_OK);
    np_wire_writer_fini(&w);
    np_wire_msg m;
    assert_int_equal(np_wire_parse(&m, nng_msg_body(reply), nng_msg_len(reply)), NP_ERR_OK);
    int64_t v = -1;
    assert_true(np_wire_get_int(m.root, name, &v));
    np_wire_msg_fini(&m);
    nng_msg_free(reply);
    return v;
}

static void
test_two_audits_no_duplicates(void **state)
{
    char url[800];
    fresh_db(url, sizeof(url));
    int tag = ++tag_no;
    np_config *a1 = make_cfg(url, tag, 1, 2), *a2 = make_cfg(url, tag, 2, 2);
    np_config *pcfg = make_cfg(url, tag, 0, 2);
    audit_service *s1, *s2;
    char why[512] = "";
    assert_int_equal(audit_start(&s1, a1, why, sizeof(why)), NP_ERR_OK);
    assert_int_equal(audit_start(&s2, a2, why, sizeof(why)), NP_ERR_OK);
    np_events *ev;
    assert_int_equal(np_events_open(&ev, "pool", pcfg), NP_ERR_OK);
    np_rpc_client *c1, *c2;
    char rpc[64];
    snprintf(rpc, sizeof(rpc), "inproc://audit-rpc-%d-1", tag);
    assert_int_equal(np_rpc_client_open(&c1, rpc, NULL), NP_ERR_OK);
    snprintf(rpc, sizeof(rpc), "inproc://audit-rpc-%d-2", tag);
    assert_int_equal(np_rpc_client_open(&c2, rpc, NULL), NP_ERR_OK);
    /* Both instances hear the producer before the test starts (an audit trail event each
     * time, leaving usage_logs alone): pub/sub gives nothing to a pipe not yet connected. */
    bool both = false;
    for (int i = 0; i < 100 && !both; i++) {
        np_events_emit(ev, "admin.role_changed", json_pack("{s:i}", "target_user_id", 1));
        sleep_ms(50);
        both = sink_figure(c1, "received") > 0 && sink_figure(c2, "received") > 0;
    }
    assert_true(both);
    for (int i = 0; i < 1000; i++) {
        emit_usage(ev, 1 + i % 3, 200, "10.0.0.1");
    }
    assert_int_equal(wait_count(url, "SELECT count(*) FROM usage_logs", 1000), 1000);
    assert_true(wait_drained(ev));
    /* Let the slower instance finish what it received, then check nothing doubled. */
    int64_t dup_total = 0;
    for (int round = 0; round < 100; round++) {
        int64_t queue = 0;
        dup_total = 0;
        np_rpc_client *cs[] = {c1, c2};
        for (int i = 0; i < 2; i++) {
            queue += sink_figure(cs[i], "queue");
            dup_total += sink_figure(cs[i], "duplicates");
        }
        if (queue == 0 && dup_total > 0) {
            break;
        }
        sleep_ms(50);
    }
    assert_true(dup_total > 0); /* both instances stored the same events... */
    assert_int_equal(count(url, "SELECT count(*) FROM usage_logs"), 1000); /* ...once */
    assert_int_equal(count(url, "SELECT count(DISTINCT seq) FROM usage_logs"), 1000);
    np_rpc_client_close(c1);
    np_rpc_client_close(c2);
    np_events_close(ev);
    audit_stop(s1);
    audit_stop(s2);
    np_config_free(a1);
    np_config_free(a2);
    np_config_free(pcfg);
}

static void
assert_no_seq_scan(const char *url, const audit_logs_filter *f)
{
    audit_sql q;
    audit_sql_init(&q);
    audit_logs_sql(f, &q);
    char *sql = malloc(q.text.len + 16);
    snprintf(sql, q.text.len + 16, "EXPLAIN %s", q.text.data);
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexecParams(c, sql, q.n, NULL, q.v, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    char plan[8192] = "";
    size_t len = 0;
    for (int i = 0; i < PQntuples(r) && len < sizeof(plan); i++) {
        len += (size_t)snprintf(plan + len, sizeof(plan) - len, "%s\n", PQgetvalue(r, i, 0));
    }
    if (strstr(plan, "Seq Scan on usage_logs") != NULL) {
        fail_msg("the user query scans usage_logs sequentially:\n%s", plan);
    }
    if (getenv("NP_TEST_VERBOSE") != NULL) {
        fprintf(stderr, "%s\n", plan);
    }
    assert_non_null(strstr(plan, "Index"));
    PQclear(r);
    PQfinish(c);
    free(sql);
    audit_sql_fini(&q);
}

static void
test_user_query_uses_index(void **state)
{
    char url[800];
    fresh_db(url, sizeof(url));
    /* 100 users, 60,000 rows over 30 days, then fresh statistics. */
    exec_sql(url, "INSERT INTO usage_logs (producer_id, seq, time, user_id, route, status) "
                  "SELECT 'gen', g, now() - (g % 43200) * interval '1 minute', g % 100 + 1, "
                  "'/ai/generate-image', CASE WHEN g % 9 = 0 THEN 429 ELSE 200 END "
                  "FROM generate_series(1, 60000) g");
    exec_sql(url, "ANALYZE usage_logs");
    audit_logs_filter f;
    char why[256];
    assert_int_equal(audit_logs_filter_parse("", false, 42, &f, why, sizeof(why)), NP_ERR_OK);
    assert_no_seq_scan(url, &f);
    assert_int_equal(audit_logs_filter_parse("limit=500&before=1700000000000000_99&status=error",
                                             false, 42, &f, why, sizeof(why)),
                     NP_ERR_OK);
    assert_no_seq_scan(url, &f);
    assert_int_equal(audit_logs_filter_parse("since=2020-01-01&route=%2Fai%2Fgenerate-image", false,
                                             42, &f, why, sizeof(why)),
                     NP_ERR_OK);
    assert_no_seq_scan(url, &f);
}

static void
retention_call(np_rpc_client *c, int64_t days, int64_t batch, int64_t audit_days, int64_t *deleted,
               np_err *err)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, audit_days >= 0 ? 4 : 3);
    np_wire_str(&w, "op", "retention.run");
    np_wire_int(&w, "days", days);
    np_wire_int(&w, "batch", batch);
    if (audit_days >= 0) {
        np_wire_int(&w, "audit_days", audit_days);
    }
    nng_msg *reply;
    assert_int_equal(np_rpc_client_call(c, &w, 10000, &reply), NP_ERR_OK);
    np_wire_writer_fini(&w);
    np_wire_msg m;
    assert_int_equal(np_wire_parse(&m, nng_msg_body(reply), nng_msg_len(reply)), NP_ERR_OK);
    *err = np_wire_reply_error(m.root, NULL, 0);
    *deleted = -1;
    if (*err == NP_ERR_OK) {
        assert_true(np_wire_get_int(m.root, "deleted", deleted));
    }
    np_wire_msg_fini(&m);
    nng_msg_free(reply);
}

static void
test_retention_batches(void **state)
{
    char url[800];
    fresh_db(url, sizeof(url));
    exec_sql(url, "INSERT INTO usage_logs (producer_id, seq, time, user_id, status) "
                  "SELECT 'old', g, now() - interval '40 days' - g * interval '1 second', 1, 200 "
                  "FROM generate_series(1, 25) g");
    exec_sql(url, "INSERT INTO usage_logs (producer_id, seq, time, user_id, status) "
                  "SELECT 'new', g, now() - interval '29 days', 1, 200 "
                  "FROM generate_series(1, 7) g");
    exec_sql(url, "INSERT INTO audit_events (producer_id, seq, time, type) "
                  "SELECT 'old', g, now() - interval '400 days', 'key.state' "
                  "FROM generate_series(1, 3) g");
    int tag = ++tag_no;
    np_config *acfg = make_cfg(url, tag, 1, 1);
    audit_service *audit;
    char why[512] = "";
    assert_int_equal(audit_start(&audit, acfg, why, sizeof(why)), NP_ERR_OK);
    np_rpc_client *c;
    char rpc[64];
    snprintf(rpc, sizeof(rpc), "inproc://audit-rpc-%d-1", tag);
    assert_int_equal(np_rpc_client_open(&c, rpc, NULL), NP_ERR_OK);
    int64_t deleted;
    np_err err;
    retention_call(c, 30, 10, -1, &deleted, &err);
    assert_int_equal(err, NP_ERR_OK);
    assert_int_equal(deleted, 10);
    retention_call(c, 30, 10, -1, &deleted, &err);
    assert_int_equal(deleted, 10);
    retention_call(c, 30, 10, -1, &deleted, &err);
    assert_int_equal(deleted, 5);
    retention_call(c, 30, 10, -1, &deleted, &err);
    assert_int_equal(deleted, 0);
    assert_int_equal(count(url, "SELECT count(*) FROM usage_logs"), 7);
    assert_int_equal(count(url, "SELECT count(*) FROM audit_events"), 3);
    retention_call(c, 30, 10, 365, &deleted, &err);
    assert_int_equal(deleted, 3);
    /* Bad input changes nothing. */
    retention_call(c, 0, 10, -1, &deleted, &err);
    assert_int_equal(err, NP_ERR_INVALID);
    retention_call(c, 30, 0, -1, &deleted, &err);
    assert_int_equal(err, NP_ERR_INVALID);
    retention_call(c, 1, 100001, -1, &deleted, &err);
    assert_int_equal(err, NP_ERR_INVALID);
    retention_call(c, 1, 10, 36501, &deleted, &err);
    assert_int_equal(err, NP_ERR_INVALID);
    assert_int_equal(count(url, "SELECT count(*) FROM usage_logs"), 7);
    np_rpc_client_close(c);
    audit_stop(audit);
    np_config_free(acfg);
}

static void
test_batch_fallback(void **state)
{
    char url[800];
    fresh_db(url, sizeof(url));
    audit_event evs[3];
    audit_event *ptrs[3];
    for (int i = 0; i < 3; i++) {
        memset(&evs[i], 0, sizeof(evs[i]));
        snprintf(evs[i].producer, sizeof(evs[i].producer), "fb");
        evs[i].seq = i + 1;
        evs[i].time_us = 1700000000000000LL;
        snprintf(evs[i].type, sizeof(evs[i].type), i == 0 ? "relay.finished" : "key.state");
        ptrs[i] = &evs[i];
    }
    evs[0].fields = json_pack("{s:i, s:i}", "user_id", 1, "status", 200);
    /* jsonb refuses \u0000: this event fails the pipelined batch. */
    evs[1].fields = json_pack("{s:s%}", "note", "a\0b", (size_t)3);
    evs[2].fields = json_pack("{s:i}", "key_id", 4);
    PGconn *c = PQconnectdb(url);
    bool stored[3];
    audit_sink_stats st = {0};
    assert_int_equal(audit_batch_store(c, ptrs, 3, false, stored, &st), NP_ERR_OK);
    assert_true(stored[0] && stored[1] && stored[2]);
    assert_int_equal(st.usage_rows, 1);
    assert_int_equal(st.audit_rows, 2);
    assert_int_equal(count(url, "SELECT count(*) FROM audit_events WHERE seq = 2 AND "
                                "details ? 'note' AND type = 'key.state'"),
                     1);
    /* Again: already there, nothing doubles. */
    memset(&st, 0, sizeof(st));
    evs[1].fields = (json_decref(evs[1].fields), json_pack("{s:i}", "key_id", 5));
    assert_int_equal(audit_batch_store(c, ptrs, 3, false, stored, &st), NP_ERR_OK);
    assert_int_equal(st.duplicates, 3);
    assert_int_equal(count(url, "SELECT count(*) FROM usage_logs") +
                         count(url, "SELECT count(*) FROM audit_events"),
                     3);
    /* The connection is usable after pipeline mode. */
    PGresult *r = PQexec(c, "SELECT 1");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(c);
    for (int i = 0; i < 3; i++) {
        json_decref(evs[i].fields);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_ack_and_query),
        cmocka_unit_test(test_two_audits_no_duplicates),
        cmocka_unit_test(test_user_query_uses_index),
        cmocka_unit_test(test_retention_batches),
        cmocka_unit_test(test_batch_fallback),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
