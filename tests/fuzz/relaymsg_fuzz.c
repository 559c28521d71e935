/* Fuzz target for the readers of the relay contract (np/relaymsg.h): any bytes are parsed as
 * a message and given to every reader. Besides not faulting, what a reader accepts must keep
 * its promises: sizes within the contract's limits, borrowed fields inside the input, header
 * ids on their lists; and written again and read back it must read the same. Built for
 * libFuzzer with clang (-DNP_FUZZ=ON, `make fuzz`), and always as a replay program over
 * tests/fuzz/corpus/relaymsg (ctest), whose seeds relaymsg_seeds writes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "np/relaymsg.h"

static const uint8_t *in_data;
static size_t in_size;

static void
check(bool ok)
{
    if (!ok) {
        abort();
    }
}

/* within: n bytes at p lie inside the input (or n is 0). */
static bool
within(const void *p, size_t n)
{
    const uint8_t *b = p;
    return n == 0 || (b != NULL && b >= in_data && b + n <= in_data + in_size);
}

static bool
same(const void *a, size_t an, const void *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static bool
same_hdrs(const np_relay_hdr *a, int an, const np_relay_hdr *b, int bn)
{
    if (an != bn) {
        return false;
    }
    for (int i = 0; i < an; i++) {
        if (a[i].name != b[i].name || !same(a[i].value, a[i].len, b[i].value, b[i].len)) {
            return false;
        }
    }
    return true;
}

/* reparse parses what a writer wrote into m; the writers' output always parses. */
static void
reparse(np_wire_msg *m, const np_wire_writer *w)
{
    check(np_wire_parse(m, w->sbuf.data, w->sbuf.size) == NP_ERR_OK);
}

static void
open_case(const msgpack_object *root)
{
    np_relay_open o, back;
    if (np_relay_open_read(root, &o) != NP_ERR_OK) {
        return;
    }
    check(o.method_len > 0 && o.method_len <= NP_RELAY_METHOD_MAX &&
          within(o.method, o.method_len));
    check(o.path_len <= NP_RELAY_PATH_MAX && within(o.path, o.path_len));
    check(o.query_len <= NP_RELAY_QUERY_MAX && within(o.query, o.query_len));
    check(within(o.body, o.body_len));
    check(o.nh >= 0 && o.nh <= NP_RELAY_REQ_HDR_MAX && o.user_id > 0 && o.relay_key_id >= 0);
    for (int i = 0; i < o.nh; i++) {
        check(o.h[i].name >= 0 && o.h[i].name < NP_RELAY_REQH_COUNT);
        check(within(o.h[i].value, o.h[i].len) && np_relay_req_value_ok(o.h[i].value, o.h[i].len));
    }
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_relay_open_write(&w, &o);
    np_wire_msg m;
    reparse(&m, &w);
    check(np_relay_open_read(m.root, &back) == NP_ERR_OK);
    check(same(o.method, o.method_len, back.method, back.method_len) &&
          same(o.path, o.path_len, back.path, back.path_len) &&
          same(o.query, o.query_len, back.query, back.query_len) &&
          same(o.body, o.body_len, back.body, back.body_len) &&
          same_hdrs(o.h, o.nh, back.h, back.nh) && strcmp(o.ip, back.ip) == 0 &&
          strcmp(o.rid, back.rid) == 0 && strcmp(o.role, back.role) == 0 &&
          o.user_id == back.user_id && o.relay_key_id == back.relay_key_id);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
}

static void
chunk_case(const msgpack_object *root, bool first)
{
    np_relay_chunk c, back;
    if (np_relay_chunk_read(root, first, &c) != NP_ERR_OK) {
        return;
    }
    check(c.nh >= 0 && c.nh <= NP_RELAY_RESH_COUNT && within(c.data, c.len));
    for (int i = 0; i < c.nh; i++) {
        check(c.h[i].name >= 0 && c.h[i].name < NP_RELAY_RESH_COUNT && c.h[i].len > 0 &&
              c.h[i].len < NP_RELAY_RES_VALUE_MAX && within(c.h[i].value, c.h[i].len));
    }
    if (c.err != NP_ERR_OK) {
        check(within(c.message, c.message_len) && (first || c.nh == 0));
    } else if (first) {
        check(c.status >= 100 && c.status <= 599 && (!c.more || c.sid > 0));
    } else {
        check(c.status == 0 && c.nh == 0);
    }
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_relay_chunk_write(&w, &c, first);
    np_wire_msg m;
    reparse(&m, &w);
    check(np_relay_chunk_read(m.root, first, &back) == NP_ERR_OK);
    /* errors.def gives some errors one wire code (internal, bad_gateway...): the code must
     * survive, not the enum */
    check(strcmp(np_err_code(back.err), np_err_code(c.err)) == 0 &&
          same_hdrs(c.h, c.nh, back.h, back.nh));
    if (c.err != NP_ERR_OK) {
        /* an empty message is written as the error's own */
        check(c.message_len == 0 || same(c.message, c.message_len, back.message, back.message_len));
    } else {
        check(back.status == c.status && back.more == c.more && back.sid == c.sid &&
              same(c.data, c.len, back.data, back.len));
    }
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
}

static void
sid_case(const msgpack_object *root)
{
    np_relay_sid s, back;
    if (np_relay_sid_read(root, &s) != NP_ERR_OK) {
        return;
    }
    check(s.sid > 0);
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_relay_next_write(&w, &s);
    np_wire_msg m;
    reparse(&m, &w);
    check(np_relay_sid_read(m.root, &back) == NP_ERR_OK && back.sid == s.sid);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
}

static void
abort_case(const msgpack_object *root)
{
    np_relay_abort a, back;
    if (np_relay_abort_read(root, &a) != NP_ERR_OK) {
        return;
    }
    check(a.rid[0] != '\0' && a.user_id > 0);
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_relay_abort_write(&w, &a);
    np_wire_msg m;
    reparse(&m, &w);
    check(np_relay_abort_read(m.root, &back) == NP_ERR_OK && strcmp(a.rid, back.rid) == 0 &&
          back.user_id == a.user_id);
    np_wire_msg_fini(&m);
    np_wire_writer_fini(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in_data = data;
    in_size = size;
    np_wire_msg m;
    if (np_wire_parse(&m, data, size) == NP_ERR_OK) {
        open_case(m.root);
        chunk_case(m.root, true);
        chunk_case(m.root, false);
        sid_case(m.root);
        abort_case(m.root);
    }
    np_wire_msg_fini(&m);
    return 0;
}
