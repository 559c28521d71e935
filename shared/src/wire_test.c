/* Tests for the wire envelopes: round trip, version and type checks, malformed input, and
 * the capped buffers they rest on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "np/buf.h"
#include "np/httpop.h"
#include "np/wire.h"

static void
test_round_trip(void **state)
{
    (void)state;
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 5);
    np_wire_str(&w, "op", "relay.open");
    np_wire_int(&w, "n", -42);
    np_wire_bool(&w, "more", true);
    np_wire_bin(&w, "b", "\0\1\2", 3);
    np_wire_int(&w, "big", INT64_MAX);
    np_wire_msg m;
    assert_int_equal(np_wire_parse(&m, w.sbuf.data, w.sbuf.size), NP_ERR_OK);
    char op[32];
    int64_t n, big;
    bool more;
    const void *p;
    size_t len;
    assert_true(np_wire_get_cstr(m.root, "op", op, sizeof(op)));
    assert_string_equal(op, "relay.open");
    assert_true(np_wire_get_int(m.root, "n", &n));
    assert_int_equal(n, -42);
    assert_true(np_wire_get_int(m.root, "big", &big));
    assert_true(big == INT64_MAX);
    assert_true(np_wire_get_bool(m.root, "more", &more) && more);
    assert_true(np_wire_get_bin(m.root, "b", &p, &len));
    assert_int_equal(len, 3);
    /* wrong types and missing keys are refused */
    assert_false(np_wire_get_int(m.root, "op", &n));
    assert_false(np_wire_get_bool(m.root, "n", &more));
    assert_false(np_wire_get_cstr(m.root, "missing", op, sizeof(op)));
    assert_false(np_wire_get_cstr(m.root, "op", op, 4)); /* too long for the buffer */
    assert_int_equal(np_wire_reply_error(m.root, NULL, 0), NP_ERR_OK);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
}

/* The zone of a parsed message holds its objects, not msgpack-c's 8 KiB default chunk; a
 * message with more objects than a small zone parses whole. */
static void
test_zone_sized(void **state)
{
    (void)state;
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 2);
    np_wire_str(&w, "op", "relay.open");
    char body[4096];
    memset(body, 'x', sizeof(body));
    np_wire_bin(&w, "b", body, sizeof(body));
    np_wire_msg m;
    assert_int_equal(np_wire_parse(&m, w.sbuf.data, w.sbuf.size), NP_ERR_OK);
    assert_true(m.up.zone->chunk_size <= 6 * sizeof(msgpack_object)); /* 3 pairs; bin in place */
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);

    np_wire_writer_init(&w);
    np_wire_begin(&w, 1);
    np_wire_key(&w, "a");
    msgpack_pack_array(&w.pk, 3000);
    for (int i = 0; i < 3000; i++) {
        msgpack_pack_int(&w.pk, i);
    }
    assert_int_equal(np_wire_parse(&m, w.sbuf.data, w.sbuf.size), NP_ERR_OK);
    const msgpack_object *a = np_wire_get(m.root, "a");
    assert_non_null(a);
    assert_int_equal(a->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(a->via.array.size, 3000);
    assert_int_equal(a->via.array.ptr[2999].via.u64, 2999);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
}

static void
test_error_reply(void **state)
{
    (void)state;
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_error(&w, NP_ERR_RATE_LIMITED, "slow down");
    np_wire_msg m;
    assert_int_equal(np_wire_parse(&m, w.sbuf.data, w.sbuf.size), NP_ERR_OK);
    char msg[64];
    assert_int_equal(np_wire_reply_error(m.root, msg, sizeof(msg)), NP_ERR_RATE_LIMITED);
    assert_string_equal(msg, "slow down");
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
}

static void
test_malformed(void **state)
{
    (void)state;
    np_wire_msg m;
    /* empty, truncated, trailing bytes, not a map, no version, wrong version */
    assert_int_equal(np_wire_parse(&m, "", 0), NP_ERR_WIRE);
    np_wire_msg_fini(&m);
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 1);
    np_wire_str(&w, "op", "ping");
    for (size_t cut = 1; cut < w.sbuf.size; cut++) {
        assert_int_equal(np_wire_parse(&m, w.sbuf.data, cut), NP_ERR_WIRE);
        np_wire_msg_fini(&m);
    }
    char extra[64];
    memcpy(extra, w.sbuf.data, w.sbuf.size);
    extra[w.sbuf.size] = 0x01;
    assert_int_equal(np_wire_parse(&m, extra, w.sbuf.size + 1), NP_ERR_WIRE);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
    const unsigned char array[] = {0x91, 0x01};                    /* [1] */
    const unsigned char nov[] = {0x81, 0xa2, 'o', 'p', 0xa1, 'x'}; /* {op:"x"} */
    const unsigned char v2[] = {0x81, 0xa1, 'v', 0x02};            /* {v:2} */
    assert_int_equal(np_wire_parse(&m, array, sizeof(array)), NP_ERR_WIRE);
    np_wire_msg_fini(&m);
    assert_int_equal(np_wire_parse(&m, nov, sizeof(nov)), NP_ERR_WIRE);
    np_wire_msg_fini(&m);
    assert_int_equal(np_wire_parse(&m, v2, sizeof(v2)), NP_ERR_WIRE);
    np_wire_msg_fini(&m);
    /* a huge declared length must not allocate or read past the end */
    const unsigned char huge[] = {0x81, 0xa1, 'v', 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(np_wire_parse(&m, huge, sizeof(huge)), NP_ERR_WIRE);
    np_wire_msg_fini(&m);
}

static void
test_http_request_round_trip(void **state)
{
    (void)state;
    np_http_req in = {0}, out;
    snprintf(in.method, sizeof(in.method), "PATCH");
    snprintf(in.path, sizeof(in.path), "/client-keys/7");
    in.op = NP_OP_CLIENT_KEY_UPDATE;
    snprintf(in.query, sizeof(in.query), "a=1");
    in.body = "{}";
    in.body_len = 2;
    snprintf(in.ip, sizeof(in.ip), "127.0.0.1");
    snprintf(in.rid, sizeof(in.rid), "abc");
    in.user_id = 5;
    snprintf(in.role, sizeof(in.role), "user");
    in.relay_key_id = 9;
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_http_req_write(&w, &in);
    np_wire_msg m;
    assert_int_equal(np_wire_parse(&m, w.sbuf.data, w.sbuf.size), NP_ERR_OK);
    assert_int_equal(np_http_req_read(m.root, &out), NP_ERR_OK);
    assert_string_equal(out.method, "PATCH");
    assert_string_equal(out.path, "/client-keys/7");
    assert_int_equal(out.op, NP_OP_CLIENT_KEY_UPDATE);
    assert_int_equal(out.id, 7); /* the {id} of the op's pattern */
    assert_int_equal(out.user_id, 5);
    assert_int_equal(out.relay_key_id, 9);
    assert_int_equal(out.body_len, 2);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
}

/* read_op writes an "http" request for method, path and op and reads it back. */
static np_err
read_op(const char *method, const char *path, int op, np_http_req *out)
{
    np_http_req in = {0};
    snprintf(in.method, sizeof(in.method), "%s", method);
    snprintf(in.path, sizeof(in.path), "%s", path);
    in.op = (np_http_op)op;
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_http_req_write(&w, &in);
    np_wire_msg m;
    assert_int_equal(np_wire_parse(&m, w.sbuf.data, w.sbuf.size), NP_ERR_OK);
    np_err err = np_http_req_read(m.root, out);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
    return err;
}

static void
test_http_op_checked(void **state)
{
    (void)state;
    np_http_req out;
    assert_int_equal(read_op("GET", "/keys", NP_OP_KEYS_LIST, &out), NP_ERR_OK);
    assert_int_equal(out.op, NP_OP_KEYS_LIST);
    assert_int_equal(out.id, 0);
    assert_int_equal(read_op("POST", "/admin/keys/12/toggle", NP_OP_ADMIN_KEY_TOGGLE, &out),
                     NP_ERR_OK);
    assert_int_equal(out.id, 12);
    /* No op, an unknown one, one past the table, or one that names another method or path:
     * refused, so a service never guesses what the gateway meant. */
    assert_int_equal(read_op("GET", "/keys", NP_OP_NONE, &out), NP_ERR_WIRE);
    assert_int_equal(read_op("GET", "/keys", 63, &out), NP_ERR_WIRE);
    assert_int_equal(read_op("GET", "/keys", NP_OP__COUNT, &out), NP_ERR_WIRE);
    assert_int_equal(read_op("GET", "/keys", -1, &out), NP_ERR_WIRE);
    assert_int_equal(read_op("POST", "/keys", NP_OP_KEYS_LIST, &out), NP_ERR_WIRE);
    assert_int_equal(read_op("GET", "/logs", NP_OP_KEYS_LIST, &out), NP_ERR_WIRE);
    assert_int_equal(read_op("DELETE", "/keys/0", NP_OP_KEY_DELETE, &out), NP_ERR_WIRE);
    /* np_http_op_find, for callers without a route table. */
    assert_int_equal(np_http_op_find("PATCH", "/admin/proxies/3"), NP_OP_ADMIN_PROXY_UPDATE);
    assert_int_equal(np_http_op_find("GET", "/admin/users/3"), NP_OP_NONE);
    assert_string_equal(np_http_op_pattern(NP_OP_ADMIN_USER_REVOKE_KEYS),
                        "/admin/users/{id}/relay-keys");
    assert_null(np_http_op_method(NP_OP_NONE));
}

static void
test_path_and_query(void **state)
{
    (void)state;
    int64_t id = 0;
    assert_true(np_path_match("/keys/{id}", "/keys/42", &id));
    assert_int_equal(id, 42);
    assert_true(np_path_match("/admin/keys/{id}/check", "/admin/keys/7/check", &id));
    assert_false(np_path_match("/keys/{id}", "/keys/", &id));
    assert_false(np_path_match("/keys/{id}", "/keys/0", &id));
    assert_false(np_path_match("/keys/{id}", "/keys/-1", &id));
    assert_false(np_path_match("/keys/{id}", "/keys/1x", &id));
    assert_false(np_path_match("/keys/{id}", "/keys/99999999999999999999", &id));
    assert_false(np_path_match("/keys", "/keys/", NULL));
    char v[32];
    assert_true(np_query_get("limit=10&route=%2Fai%2Fx&q=a+b", "route", v, sizeof(v)));
    assert_string_equal(v, "/ai/x");
    assert_true(np_query_get("limit=10&q=a+b", "q", v, sizeof(v)));
    assert_string_equal(v, "a b");
    assert_false(np_query_get("limit=10", "lim", v, sizeof(v)));
    assert_false(np_query_get("x=%zz", "x", v, sizeof(v)));
    assert_false(np_query_get("x=%00", "x", v, sizeof(v)));
    assert_false(np_query_get("x=0123456789012345678901234567890123456789", "x", v, sizeof(v)));
}

static void
test_buffer_cap(void **state)
{
    (void)state;
    np_buf b;
    np_buf_init(&b, 10);
    assert_int_equal(np_buf_append(&b, "0123456789", 10), NP_ERR_OK);
    assert_int_equal(np_buf_append(&b, "x", 1), NP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 10);
    assert_int_equal(np_buf_reserve(&b, SIZE_MAX - 3), NP_ERR_TOO_LARGE);
    np_buf_fini(&b);
    np_buf_init(&b, 0);
    np_buf_json_str(&b, "a\"b\\c\n\x01", 7);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
    np_buf_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_malformed),       cmocka_unit_test(test_http_request_round_trip),
        cmocka_unit_test(test_path_and_query),  cmocka_unit_test(test_buffer_cap),
        cmocka_unit_test(test_http_op_checked), cmocka_unit_test(test_zone_sized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
