/* Tests for the relay contract: each message written and read back, borrowed fields pointing
 * into the message, and the readers' refusals of malformed maps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "np/relaymsg.h"

/* parse parses w's bytes into m (which must be finished with np_wire_msg_fini). */
static void
parse(np_wire_msg *m, const np_wire_writer *w)
{
    assert_int_equal(np_wire_parse(m, w->sbuf.data, w->sbuf.size), NP_ERR_OK);
}

static bool
inside(const void *p, const np_wire_writer *w)
{
    const char *c = p;
    return c >= w->sbuf.data && c < w->sbuf.data + w->sbuf.size;
}

static void
fill_open(np_relay_open *o)
{
    memset(o, 0, sizeof(*o));
    o->method = "POST";
    o->method_len = 4;
    o->path = "/ai/generate-image";
    o->path_len = strlen(o->path);
    o->query = "a=1&b=%20";
    o->query_len = strlen(o->query);
    o->body = "{\"input\":\"\0x\"}";
    o->body_len = 14;
    snprintf(o->ip, sizeof(o->ip), "203.0.113.9");
    snprintf(o->rid, sizeof(o->rid), "gw-rid-1");
    o->user_id = 7;
    snprintf(o->role, sizeof(o->role), "user");
    o->relay_key_id = 3;
}

static void
test_open_round_trip(void **state)
{
    (void)state;
    np_relay_open in;
    fill_open(&in);
    assert_true(np_relay_open_add_header(&in, NP_RELAY_REQH_CONTENT_TYPE, "application/json", 16));
    assert_true(np_relay_open_add_header(&in, NP_RELAY_REQH_CORRELATION_ID, "corr-1", 6));
    assert_true(np_relay_open_add_header(&in, NP_RELAY_REQH_CONTENT_TYPE, "text/plain", 10));
    /* unfit values and names off the list are left out */
    assert_false(np_relay_open_add_header(&in, NP_RELAY_REQH_ACCEPT, "a\r\nx: y", 7));
    char big[NP_RELAY_REQ_VALUE_MAX];
    memset(big, 'a', sizeof(big));
    assert_false(np_relay_open_add_header(&in, NP_RELAY_REQH_ACCEPT, big, sizeof(big)));
    assert_true(np_relay_open_add_header(&in, NP_RELAY_REQH_ACCEPT, big, sizeof(big) - 1));
    assert_false(np_relay_open_add_header(&in, NP_RELAY_REQH_COUNT, "x", 1));
    assert_false(np_relay_open_add_header(&in, -1, "x", 1));
    assert_int_equal(in.nh, 4);

    np_wire_writer w;
    np_wire_writer_init(&w);
    np_relay_open_write(&w, &in);
    np_wire_msg m;
    parse(&m, &w);
    char op[32];
    assert_true(np_wire_get_cstr(m.root, "op", op, sizeof(op)));
    assert_string_equal(op, NP_RELAY_OP_OPEN);
    np_relay_open out;
    assert_int_equal(np_relay_open_read(m.root, &out), NP_ERR_OK);
    assert_int_equal(out.method_len, 4);
    assert_memory_equal(out.method, "POST", 4);
    assert_int_equal(out.path_len, in.path_len);
    assert_memory_equal(out.path, in.path, in.path_len);
    assert_int_equal(out.query_len, in.query_len);
    assert_memory_equal(out.query, in.query, in.query_len);
    assert_int_equal(out.body_len, 14);
    assert_memory_equal(out.body, in.body, 14);
    assert_true(inside(out.body, &w)); /* borrowed from the message, not copied */
    assert_true(inside(out.path, &w));
    assert_string_equal(out.ip, "203.0.113.9");
    assert_string_equal(out.rid, "gw-rid-1");
    assert_int_equal(out.user_id, 7);
    assert_string_equal(out.role, "user");
    assert_int_equal(out.relay_key_id, 3);
    assert_int_equal(out.nh, 4); /* in order, the duplicate Content-Type kept */
    assert_int_equal(out.h[0].name, NP_RELAY_REQH_CONTENT_TYPE);
    assert_memory_equal(out.h[0].value, "application/json", 16);
    assert_int_equal(out.h[1].name, NP_RELAY_REQH_CORRELATION_ID);
    assert_int_equal(out.h[2].name, NP_RELAY_REQH_CONTENT_TYPE);
    assert_memory_equal(out.h[2].value, "text/plain", 10);
    assert_int_equal(out.h[3].name, NP_RELAY_REQH_ACCEPT);
    assert_int_equal(out.h[3].len, NP_RELAY_REQ_VALUE_MAX - 1);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);

    /* an empty body, query and header list */
    fill_open(&in);
    in.body = NULL;
    in.body_len = 0;
    in.query = NULL;
    in.query_len = 0;
    np_wire_writer_init(&w);
    np_relay_open_write(&w, &in);
    parse(&m, &w);
    assert_int_equal(np_relay_open_read(m.root, &out), NP_ERR_OK);
    assert_int_equal(out.body_len, 0);
    assert_int_equal(out.query_len, 0);
    assert_int_equal(out.nh, 0);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
}

static void
test_header_lists(void **state)
{
    (void)state;
    assert_int_equal(np_relay_req_header_id("content-type", 12), NP_RELAY_REQH_CONTENT_TYPE);
    assert_int_equal(np_relay_req_header_id("x-initiated-at", 14), NP_RELAY_REQH_INITIATED_AT);
    assert_int_equal(np_relay_req_header_id("authorization", 13), -1);
    assert_int_equal(np_relay_req_header_id("content-typ", 11), -1);
    assert_int_equal(np_relay_req_header_id("Content-Type", 12), -1); /* H2O lowercases */
    for (int i = 0; i < NP_RELAY_REQH_COUNT; i++) {
        assert_non_null(np_relay_req_headers[i]);
    }
    for (int i = 0; i < NP_RELAY_RESH_COUNT; i++) {
        assert_non_null(np_relay_res_headers[i]);
    }
    assert_true(np_relay_req_value_ok("", 0));
    assert_false(np_relay_req_value_ok("a\0b", 3));
    assert_false(np_relay_req_value_ok("a\rb", 3));
}

/* A hand-written relay.open: the standard fields but omit, with key replace's value written
 * by fn instead, and extra (a key fn writes in full) added when not NULL. */
typedef void (*value_fn)(np_wire_writer *w);

static void
hand_open(np_wire_writer *w, const char *omit, const char *replace, value_fn fn, value_fn extra)
{
    static const char *const keys[] = {"op", "m", "p", "q", "b", "h", "ip", "rid", "u", NULL};
    np_wire_begin(w, 9 - (omit != NULL) + (extra != NULL));
    for (int i = 0; keys[i] != NULL; i++) {
        const char *k = keys[i];
        if (omit != NULL && strcmp(k, omit) == 0) {
            continue;
        }
        np_wire_key(w, k);
        if (replace != NULL && strcmp(k, replace) == 0) {
            fn(w);
        } else if (strcmp(k, "op") == 0) {
            np_wire_str(w, NULL, "relay.open");
        } else if (strcmp(k, "m") == 0) {
            np_wire_str(w, NULL, "POST");
        } else if (strcmp(k, "p") == 0) {
            np_wire_str(w, NULL, "/ai/generate");
        } else if (strcmp(k, "q") == 0) {
            np_wire_str(w, NULL, "");
        } else if (strcmp(k, "b") == 0) {
            np_wire_bin(w, NULL, "{}", 2);
        } else if (strcmp(k, "h") == 0) {
            msgpack_pack_map(&w->pk, 1);
            np_wire_str(w, NULL, "content-type");
            np_wire_str(w, NULL, "application/json");
        } else if (strcmp(k, "ip") == 0) {
            np_wire_str(w, NULL, "127.0.0.1");
        } else if (strcmp(k, "rid") == 0) {
            np_wire_str(w, NULL, "r1");
        } else {
            msgpack_pack_map(&w->pk, 3);
            np_wire_int(w, "id", 5);
            np_wire_str(w, "role", "user");
            np_wire_int(w, "kid", 0);
        }
    }
    if (extra != NULL) {
        extra(w);
    }
}

static np_err
read_hand_open(const char *omit, const char *replace, value_fn fn, value_fn extra, np_relay_open *o)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    hand_open(&w, omit, replace, fn, extra);
    np_wire_msg m;
    parse(&m, &w);
    np_err err = np_relay_open_read(m.root, o);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
    return err;
}

static void
v_int(np_wire_writer *w)
{
    np_wire_int(w, NULL, 1);
}
static void
v_str(np_wire_writer *w)
{
    np_wire_str(w, NULL, "x");
}
static void
v_nil(np_wire_writer *w)
{
    np_wire_nil(w, NULL);
}
static void
v_method8(np_wire_writer *w)
{
    np_wire_str(w, NULL, "PROPFIND");
}
static void
v_empty(np_wire_writer *w)
{
    np_wire_str(w, NULL, "");
}
static void
v_nul(np_wire_writer *w)
{
    np_wire_strn(w, NULL, "/a\0b", 4);
}
static void
v_path_long(np_wire_writer *w)
{
    char p[NP_RELAY_PATH_MAX + 1];
    memset(p, 'a', sizeof(p));
    np_wire_strn(w, NULL, p, sizeof(p));
}
static void
v_query_long(np_wire_writer *w)
{
    static char q[NP_RELAY_QUERY_MAX + 1];
    memset(q, 'a', sizeof(q));
    np_wire_strn(w, NULL, q, sizeof(q));
}
static void
v_query_max(np_wire_writer *w)
{
    static char q[NP_RELAY_QUERY_MAX];
    memset(q, 'a', sizeof(q));
    np_wire_strn(w, NULL, q, sizeof(q));
}
static void
v_rid_long(np_wire_writer *w)
{
    char r[64];
    memset(r, 'r', sizeof(r));
    np_wire_strn(w, NULL, r, sizeof(r));
}
static void
v_h_many(np_wire_writer *w)
{
    msgpack_pack_map(&w->pk, NP_RELAY_REQ_HDR_MAX + 1);
    for (int i = 0; i <= NP_RELAY_REQ_HDR_MAX; i++) {
        np_wire_str(w, "accept", "*/*");
    }
}
static void
v_h_int(np_wire_writer *w)
{
    msgpack_pack_map(&w->pk, 1);
    np_wire_int(w, "accept", 1);
}
static void
v_h_arr(np_wire_writer *w)
{
    msgpack_pack_array(&w->pk, 0);
}
static void
v_h_dropped(np_wire_writer *w)
{
    msgpack_pack_map(&w->pk, 4);
    np_wire_str(w, "authorization", "Bearer pst-secret");
    np_wire_str(w, "accept", "a\r\nb");
    np_wire_str(w, "Content-Type", "text/plain");
    np_wire_str(w, "x-initiated-at", "2026-12-03T00:00:00Z");
}
static void
v_u_anon(np_wire_writer *w)
{
    msgpack_pack_map(&w->pk, 3);
    np_wire_int(w, "id", 0);
    np_wire_str(w, "role", "user");
    np_wire_int(w, "kid", 0);
}
static void
v_u_kid(np_wire_writer *w)
{
    msgpack_pack_map(&w->pk, 3);
    np_wire_int(w, "id", 4);
    np_wire_str(w, "role", "user");
    np_wire_int(w, "kid", -1);
}
static void
v_u_norole(np_wire_writer *w)
{
    msgpack_pack_map(&w->pk, 2);
    np_wire_int(w, "id", 4);
    np_wire_int(w, "kid", 0);
}
static void
x_unknown(np_wire_writer *w)
{
    np_wire_str(w, "later", "a field a newer gateway adds");
}
static void
x_dup_p(np_wire_writer *w)
{
    np_wire_str(w, "p", "/user/subscription");
}
static void
x_int_key(np_wire_writer *w)
{
    msgpack_pack_int(&w->pk, 1);
    msgpack_pack_int(&w->pk, 2);
}

static void
test_open_refusals(void **state)
{
    (void)state;
    np_relay_open o;
    assert_int_equal(read_hand_open(NULL, NULL, NULL, NULL, &o), NP_ERR_OK);
    assert_int_equal(o.nh, 1);
    /* every field but op is needed */
    static const char *const needed[] = {"m", "p", "q", "b", "h", "ip", "rid", "u", NULL};
    for (int i = 0; needed[i] != NULL; i++) {
        assert_int_equal(read_hand_open(needed[i], NULL, NULL, NULL, &o), NP_ERR_WIRE);
    }
    /* wrong types */
    static const char *const strs[] = {"m", "p", "q", "b", "ip", "rid", NULL};
    for (int i = 0; strs[i] != NULL; i++) {
        assert_int_equal(read_hand_open(NULL, strs[i], v_int, NULL, &o), NP_ERR_WIRE);
        assert_int_equal(read_hand_open(NULL, strs[i], v_nil, NULL, &o), NP_ERR_WIRE);
    }
    assert_int_equal(read_hand_open(NULL, "h", v_str, NULL, &o), NP_ERR_WIRE);
    assert_int_equal(read_hand_open(NULL, "h", v_h_arr, NULL, &o), NP_ERR_WIRE);
    assert_int_equal(read_hand_open(NULL, "h", v_h_int, NULL, &o), NP_ERR_WIRE);
    assert_int_equal(read_hand_open(NULL, "u", v_str, NULL, &o), NP_ERR_WIRE);
    /* sizes */
    assert_int_equal(read_hand_open(NULL, "m", v_method8, NULL, &o), NP_ERR_WIRE);
    assert_int_equal(read_hand_open(NULL, "m", v_empty, NULL, &o), NP_ERR_WIRE);
    assert_int_equal(read_hand_open(NULL, "p", v_path_long, NULL, &o), NP_ERR_WIRE);
    assert_int_equal(read_hand_open(NULL, "p", v_nul, NULL, &o), NP_ERR_WIRE);
    assert_int_equal(read_hand_open(NULL, "q", v_query_long, NULL, &o), NP_ERR_WIRE);
    assert_int_equal(read_hand_open(NULL, "q", v_query_max, NULL, &o), NP_ERR_OK);
    assert_int_equal(read_hand_open(NULL, "rid", v_rid_long, NULL, &o), NP_ERR_WIRE);
    assert_int_equal(read_hand_open(NULL, "h", v_h_many, NULL, &o), NP_ERR_WIRE);
    /* the principal */
    assert_int_equal(read_hand_open(NULL, "u", v_u_anon, NULL, &o), NP_ERR_WIRE);
    assert_int_equal(read_hand_open(NULL, "u", v_u_kid, NULL, &o), NP_ERR_WIRE);
    assert_int_equal(read_hand_open(NULL, "u", v_u_norole, NULL, &o), NP_ERR_WIRE);
    /* a key twice, or a key that is no string */
    assert_int_equal(read_hand_open(NULL, NULL, NULL, x_dup_p, &o), NP_ERR_WIRE);
    assert_int_equal(read_hand_open(NULL, NULL, NULL, x_int_key, &o), NP_ERR_WIRE);
    /* unknown keys are tolerated */
    assert_int_equal(read_hand_open(NULL, NULL, NULL, x_unknown, &o), NP_ERR_OK);
    /* headers off the list, in another case, or unfit to send are dropped, not refused */
    assert_int_equal(read_hand_open(NULL, "h", v_h_dropped, NULL, &o), NP_ERR_OK);
    assert_int_equal(o.nh, 1);
    assert_int_equal(o.h[0].name, NP_RELAY_REQH_INITIATED_AT);
}

static void
test_chunk_round_trip(void **state)
{
    (void)state;
    np_relay_chunk in = {.status = 200, .data = "\x01\x02\x03", .len = 3, .more = true, .sid = 42};
    assert_true(np_relay_chunk_add_header(&in, NP_RELAY_RESH_CONTENT_TYPE, "text/event-stream"));
    assert_true(np_relay_chunk_add_header(&in, NP_RELAY_RESH_RATELIMIT_LIMIT, "1000"));
    assert_false(np_relay_chunk_add_header(&in, NP_RELAY_RESH_CONTENT_TYPE, "twice"));
    assert_false(np_relay_chunk_add_header(&in, NP_RELAY_RESH_RETRY_AFTER, ""));
    assert_false(np_relay_chunk_add_header(&in, NP_RELAY_RESH_RETRY_AFTER, NULL));
    assert_false(np_relay_chunk_add_header(&in, NP_RELAY_RESH_CONTENT_DISPOSITION, "a\nb"));
    assert_false(np_relay_chunk_add_header(&in, NP_RELAY_RESH_COUNT, "x"));
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_relay_chunk_write(&w, &in, true);
    np_wire_msg m;
    parse(&m, &w);
    np_relay_chunk out;
    assert_int_equal(np_relay_chunk_read(m.root, true, &out), NP_ERR_OK);
    assert_int_equal(out.err, NP_ERR_OK);
    assert_int_equal(out.status, 200);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, "\x01\x02\x03", 3);
    assert_true(inside(out.data, &w));
    assert_true(out.more);
    assert_int_equal(out.sid, 42);
    assert_int_equal(out.nh, 2);
    assert_int_equal(out.h[0].name, NP_RELAY_RESH_CONTENT_TYPE);
    assert_int_equal(out.h[0].len, 17);
    assert_memory_equal(out.h[0].value, "text/event-stream", 17);
    assert_int_equal(out.h[1].name, NP_RELAY_RESH_RATELIMIT_LIMIT);
    /* relay.next's answer carries neither status nor headers nor sid */
    assert_null(np_wire_get(m.root, "e"));
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);

    np_wire_writer_init(&w);
    np_relay_chunk_write(&w, &in, false);
    parse(&m, &w);
    assert_null(np_wire_get(m.root, "s"));
    assert_null(np_wire_get(m.root, "sid"));
    assert_int_equal(np_relay_chunk_read(m.root, false, &out), NP_ERR_OK);
    assert_int_equal(out.status, 0);
    assert_int_equal(out.nh, 0);
    assert_true(out.more);
    assert_int_equal(out.len, 3);
    /* a relay.next answer is no relay.open answer */
    assert_int_equal(np_relay_chunk_read(m.root, true, &out), NP_ERR_WIRE);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);

    /* the whole answer at once: no sid */
    np_relay_chunk whole = {.status = 404, .data = NULL, .len = 0, .more = false, .sid = 9};
    np_wire_writer_init(&w);
    np_relay_chunk_write(&w, &whole, true);
    parse(&m, &w);
    assert_null(np_wire_get(m.root, "sid"));
    assert_int_equal(np_relay_chunk_read(m.root, true, &out), NP_ERR_OK);
    assert_int_equal(out.status, 404);
    assert_false(out.more);
    assert_int_equal(out.sid, 0);
    assert_int_equal(out.len, 0);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
}

static void
test_chunk_error(void **state)
{
    (void)state;
    static const char why[] = "rate limit of 3 requests per minute reached";
    np_relay_chunk in = {.err = NP_ERR_RATE_LIMITED, .message = why, .message_len = strlen(why)};
    assert_true(np_relay_chunk_add_header(&in, NP_RELAY_RESH_RETRY_AFTER, "12"));
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_relay_chunk_write(&w, &in, true);
    np_wire_msg m;
    parse(&m, &w);
    char msg[128];
    assert_int_equal(np_wire_reply_error(m.root, msg, sizeof(msg)), NP_ERR_RATE_LIMITED);
    assert_string_equal(msg, why);
    np_relay_chunk out;
    assert_int_equal(np_relay_chunk_read(m.root, true, &out), NP_ERR_OK);
    assert_int_equal(out.err, NP_ERR_RATE_LIMITED);
    assert_int_equal(out.message_len, strlen(why));
    assert_memory_equal(out.message, why, strlen(why));
    assert_int_equal(out.nh, 1);
    assert_int_equal(out.h[0].name, NP_RELAY_RESH_RETRY_AFTER);
    assert_memory_equal(out.h[0].value, "12", 2);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);

    /* without a message: the error's own; an rpc-level error reply reads the same */
    np_relay_chunk bare = {.err = NP_ERR_NOT_FOUND};
    np_wire_writer_init(&w);
    np_relay_chunk_write(&w, &bare, false);
    parse(&m, &w);
    assert_int_equal(np_relay_chunk_read(m.root, false, &out), NP_ERR_OK);
    assert_int_equal(out.err, NP_ERR_NOT_FOUND);
    assert_int_equal(out.message_len, strlen(np_err_message(NP_ERR_NOT_FOUND)));
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);

    np_wire_writer_init(&w);
    np_wire_error(&w, NP_ERR_CONFLICT, "a relay.next is already waiting");
    parse(&m, &w);
    assert_int_equal(np_relay_chunk_read(m.root, true, &out), NP_ERR_OK);
    assert_int_equal(out.err, NP_ERR_CONFLICT);
    assert_int_equal(out.nh, 0);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
}

/* read_hand_chunk reads a chunk answer built by fn. */
static np_err
read_hand_chunk(value_fn fn, bool first)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    fn(&w);
    np_wire_msg m;
    parse(&m, &w);
    np_relay_chunk c;
    np_err err = np_relay_chunk_read(m.root, first, &c);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
    return err;
}

static void
c_status(np_wire_writer *w, int64_t s)
{
    np_wire_begin(w, 4);
    np_wire_int(w, "s", s);
    np_wire_key(w, "h");
    msgpack_pack_map(&w->pk, 0);
    np_wire_bin(w, "b", "", 0);
    np_wire_bool(w, "more", false);
}
static void
c_s99(np_wire_writer *w)
{
    c_status(w, 99);
}
static void
c_s600(np_wire_writer *w)
{
    c_status(w, 600);
}
static void
c_s200(np_wire_writer *w)
{
    c_status(w, 200);
}
static void
c_no_h(np_wire_writer *w)
{
    np_wire_begin(w, 3);
    np_wire_int(w, "s", 200);
    np_wire_bin(w, "b", "", 0);
    np_wire_bool(w, "more", false);
}
static void
c_more_no_sid(np_wire_writer *w)
{
    np_wire_begin(w, 4);
    np_wire_int(w, "s", 200);
    np_wire_key(w, "h");
    msgpack_pack_map(&w->pk, 0);
    np_wire_bin(w, "b", "", 0);
    np_wire_bool(w, "more", true);
}
static void
c_sid0(np_wire_writer *w)
{
    c_more_no_sid(w);
    /* the begin above counted 4 entries: this message has 5 */
    w->sbuf.data[0] = (char)(0x80 | 6);
    np_wire_int(w, "sid", 0);
}
static void
c_more_int(np_wire_writer *w)
{
    np_wire_begin(w, 2);
    np_wire_bin(w, "b", "", 0);
    np_wire_int(w, "more", 0);
}
static void
c_no_b(np_wire_writer *w)
{
    np_wire_begin(w, 1);
    np_wire_bool(w, "more", false);
}
static void
c_hdr(np_wire_writer *w, const char *name, const char *value, size_t n, int times)
{
    np_wire_begin(w, 4);
    np_wire_int(w, "s", 200);
    np_wire_key(w, "h");
    msgpack_pack_map(&w->pk, (uint32_t)times);
    for (int i = 0; i < times; i++) {
        np_wire_strn(w, name, value, n);
    }
    np_wire_bin(w, "b", "", 0);
    np_wire_bool(w, "more", false);
}
static void
c_hdr_cr(np_wire_writer *w)
{
    c_hdr(w, "content-type", "a\rb", 3, 1);
}
static void
c_hdr_nul(np_wire_writer *w)
{
    c_hdr(w, "retry-after", "1\0", 2, 1);
}
static void
c_hdr_twice(np_wire_writer *w)
{
    c_hdr(w, "retry-after", "1", 1, 2);
}
static void
c_hdr_unknown(np_wire_writer *w)
{
    c_hdr(w, "x-novel", "1", 1, 1);
}
static void
c_hdr_unknown_many(np_wire_writer *w)
{
    c_hdr(w, "x-novel", "1", 1, 33);
}
static void
c_hdr_long(np_wire_writer *w)
{
    char v[NP_RELAY_RES_VALUE_MAX];
    memset(v, 'v', sizeof(v));
    c_hdr(w, "content-disposition", v, sizeof(v), 1);
}
static void
c_err_unknown(np_wire_writer *w)
{
    np_wire_begin(w, 2);
    np_wire_str(w, "e", "no_such_code");
    np_wire_str(w, "m", "x");
}
static void
c_err_int(np_wire_writer *w)
{
    np_wire_begin(w, 2);
    np_wire_int(w, "e", 3);
    np_wire_str(w, "m", "x");
}
static void
c_err_h_bad(np_wire_writer *w)
{
    np_wire_begin(w, 3);
    np_wire_str(w, "e", "rate_limited");
    np_wire_str(w, "m", "x");
    np_wire_str(w, "h", "retry-after: 1");
}

static void
test_chunk_refusals(void **state)
{
    (void)state;
    assert_int_equal(read_hand_chunk(c_s200, true), NP_ERR_OK);
    assert_int_equal(read_hand_chunk(c_s99, true), NP_ERR_WIRE);
    assert_int_equal(read_hand_chunk(c_s600, true), NP_ERR_WIRE);
    assert_int_equal(read_hand_chunk(c_no_h, true), NP_ERR_WIRE);
    assert_int_equal(read_hand_chunk(c_no_h, false), NP_ERR_OK); /* relay.next ignores s */
    assert_int_equal(read_hand_chunk(c_more_no_sid, true), NP_ERR_WIRE);
    assert_int_equal(read_hand_chunk(c_more_no_sid, false), NP_ERR_OK);
    assert_int_equal(read_hand_chunk(c_sid0, true), NP_ERR_WIRE);
    assert_int_equal(read_hand_chunk(c_more_int, false), NP_ERR_WIRE);
    assert_int_equal(read_hand_chunk(c_no_b, false), NP_ERR_WIRE);
    assert_int_equal(read_hand_chunk(c_hdr_cr, true), NP_ERR_WIRE);
    assert_int_equal(read_hand_chunk(c_hdr_nul, true), NP_ERR_WIRE);
    assert_int_equal(read_hand_chunk(c_hdr_twice, true), NP_ERR_WIRE);
    assert_int_equal(read_hand_chunk(c_hdr_long, true), NP_ERR_WIRE);
    assert_int_equal(read_hand_chunk(c_hdr_unknown, true), NP_ERR_OK);
    assert_int_equal(read_hand_chunk(c_hdr_unknown_many, true), NP_ERR_WIRE);
    /* an error code this side does not know (a newer pool's) reads as an internal error */
    np_wire_writer w;
    np_wire_writer_init(&w);
    c_err_unknown(&w);
    np_wire_msg m;
    parse(&m, &w);
    np_relay_chunk c;
    assert_int_equal(np_relay_chunk_read(m.root, true, &c), NP_ERR_OK);
    assert_int_equal(c.err, NP_ERR_INTERNAL);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
    assert_int_equal(read_hand_chunk(c_err_int, true), NP_ERR_WIRE);
    assert_int_equal(read_hand_chunk(c_err_h_bad, true), NP_ERR_WIRE);
}

static void
test_sid_and_abort(void **state)
{
    (void)state;
    np_wire_writer w;
    np_wire_msg m;
    char op[32];
    np_relay_sid s = {.sid = 77}, so;
    for (int i = 0; i < 2; i++) {
        np_wire_writer_init(&w);
        if (i == 0) {
            np_relay_next_write(&w, &s);
        } else {
            np_relay_cancel_write(&w, &s);
        }
        parse(&m, &w);
        assert_true(np_wire_get_cstr(m.root, "op", op, sizeof(op)));
        assert_string_equal(op, i == 0 ? NP_RELAY_OP_NEXT : NP_RELAY_OP_CANCEL);
        assert_int_equal(np_relay_sid_read(m.root, &so), NP_ERR_OK);
        assert_int_equal(so.sid, 77);
        np_wire_msg_fini(&m);
        np_wire_writer_fini(&w);
    }
    np_relay_abort a = {.user_id = 12}, ao;
    snprintf(a.rid, sizeof(a.rid), "gw-9");
    np_wire_writer_init(&w);
    np_relay_abort_write(&w, &a);
    parse(&m, &w);
    assert_true(np_wire_get_cstr(m.root, "op", op, sizeof(op)));
    assert_string_equal(op, NP_RELAY_OP_ABORT);
    assert_int_equal(np_relay_abort_read(m.root, &ao), NP_ERR_OK);
    assert_string_equal(ao.rid, "gw-9");
    assert_int_equal(ao.user_id, 12);
    assert_int_equal(np_relay_sid_read(m.root, &so), NP_ERR_WIRE); /* no sid */
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);

    /* refusals: sid 0, a sid that is a string, uid 0, an empty rid */
    struct {
        const char *rid;
        int64_t sid, uid;
        bool sid_str;
    } bad[] = {{"r", 0, 1, false}, {"r", 1, 1, true}, {"r", -5, 0, false}, {"", 1, 1, false}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        np_wire_writer_init(&w);
        np_wire_begin(&w, 3);
        np_wire_str(&w, "rid", bad[i].rid);
        if (bad[i].sid_str) {
            np_wire_str(&w, "sid", "1");
        } else {
            np_wire_int(&w, "sid", bad[i].sid);
        }
        np_wire_int(&w, "uid", bad[i].uid);
        parse(&m, &w);
        if (i < 3) {
            assert_int_equal(np_relay_sid_read(m.root, &so), NP_ERR_WIRE);
        }
        if (i != 0 && i != 1) {
            assert_int_equal(np_relay_abort_read(m.root, &ao), NP_ERR_WIRE);
        } else {
            assert_int_equal(np_relay_abort_read(m.root, &ao), NP_ERR_OK);
        }
        np_wire_msg_fini(&m);
        np_wire_writer_fini(&w);
    }

    /* the empty answer */
    np_wire_writer_init(&w);
    np_relay_done_write(&w);
    parse(&m, &w);
    assert_int_equal(m.root->via.map.size, 1);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
}

/* A mixed-version deployment: what the writers write reads with the plain getters the
 * gateway and the pool used before the contract (np_wire_get_*), and the hand-written maps of
 * those versions read with the contract's readers (test_open_refusals, test_chunk_refusals). */
static void
test_earlier_readers(void **state)
{
    (void)state;
    np_relay_open in;
    fill_open(&in);
    assert_true(np_relay_open_add_header(&in, NP_RELAY_REQH_ACCEPT, "*/*", 3));
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_relay_open_write(&w, &in);
    np_wire_msg m;
    parse(&m, &w);
    char method[8], path[1100], ip[64], rid[64];
    const char *q;
    size_t qlen, blen;
    const void *b;
    int64_t uid, kid;
    const msgpack_object *u = np_wire_get_map(m.root, "u"), *h = np_wire_get_map(m.root, "h");
    assert_true(np_wire_get_cstr(m.root, "m", method, sizeof(method)) &&
                np_wire_get_cstr(m.root, "p", path, sizeof(path)) &&
                np_wire_get_str(m.root, "q", &q, &qlen) &&
                np_wire_get_bin(m.root, "b", &b, &blen) &&
                np_wire_get_cstr(m.root, "ip", ip, sizeof(ip)) &&
                np_wire_get_cstr(m.root, "rid", rid, sizeof(rid)) && u != NULL && h != NULL &&
                np_wire_get_int(u, "id", &uid) && np_wire_get_int(u, "kid", &kid));
    assert_string_equal(path, "/ai/generate-image");
    assert_int_equal(uid, 7);
    assert_int_equal(h->via.map.size, 1);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);

    np_relay_chunk c = {.status = 201, .data = "ab", .len = 2, .more = true, .sid = 5};
    assert_true(np_relay_chunk_add_header(&c, NP_RELAY_RESH_CONTENT_TYPE, "text/plain"));
    np_wire_writer_init(&w);
    np_relay_chunk_write(&w, &c, true);
    parse(&m, &w);
    int64_t status, sid;
    bool more;
    assert_int_equal(np_wire_reply_error(m.root, NULL, 0), NP_ERR_OK);
    assert_true(np_wire_get_int(m.root, "s", &status) && np_wire_get_bin(m.root, "b", &b, &blen) &&
                np_wire_get_bool(m.root, "more", &more) && np_wire_get_int(m.root, "sid", &sid));
    assert_int_equal(status, 201);
    assert_int_equal(sid, 5);
    assert_int_equal(np_wire_get_map(m.root, "h")->via.map.size, 1);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_round_trip), cmocka_unit_test(test_header_lists),
        cmocka_unit_test(test_open_refusals),   cmocka_unit_test(test_chunk_round_trip),
        cmocka_unit_test(test_chunk_error),     cmocka_unit_test(test_chunk_refusals),
        cmocka_unit_test(test_sid_and_abort),   cmocka_unit_test(test_earlier_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
