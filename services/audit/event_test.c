/* Tests of decoding events, mapping them to rows, redaction and acknowledgement ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "acks.h"
#include "event.h"
#include "np/wire.h"

/* pack_batch writes an events message like np_events does. */
static void
pack_batch(np_wire_writer *w, const char *producer, int n, const int64_t *seqs,
           const char *const *types, const char *const *fields)
{
    np_wire_begin(w, 2);
    np_wire_str(w, "p", producer);
    np_wire_key(w, "e");
    msgpack_pack_array(&w->pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        msgpack_pack_array(&w->pk, 4);
        msgpack_pack_int64(&w->pk, seqs[i]);
        msgpack_pack_int64(&w->pk, 1700000000000000LL);
        msgpack_pack_str(&w->pk, strlen(types[i]));
        msgpack_pack_str_body(&w->pk, types[i], strlen(types[i]));
        msgpack_pack_str(&w->pk, strlen(fields[i]));
        msgpack_pack_str_body(&w->pk, fields[i], strlen(fields[i]));
    }
}

static void
test_decode_and_usage_row(void **state)
{
    const int64_t seqs[] = {1, 2};
    const char *const types[] = {"relay.finished", "auth.login_failed"};
    const char *const fields[] = {
        "{\"user_id\":5,\"relay_key_id\":9,\"upstream_key_id\":3,\"route\":\"/ai/generate-image\","
        "\"model\":\"nai-diffusion-4-5-full\",\"width\":832,\"height\":1216,\"steps\":28,"
        "\"n_samples\":1,\"cost\":0,\"status\":200,\"latency_ms\":1234,\"bytes\":99,"
        "\"node\":\"n1\",\"retries\":1,\"error\":\"\",\"request_id\":\"rid-1\",\"ip\":\"10.0.0.9\","
        "\"width_bad\":\"x\"}",
        "{\"username\":\"bob\",\"password\":\"hunter2\",\"ip\":\"10.0.0.1\"}"};
    np_wire_writer w;
    np_wire_writer_init(&w);
    pack_batch(&w, "pool.n1.abcdef", 2, seqs, types, fields);
    np_list l;
    np_list_init(&l);
    size_t n;
    assert_int_equal(audit_batch_decode(w.sbuf.data, w.sbuf.size, &l, &n), NP_ERR_OK);
    np_wire_writer_fini(&w);
    assert_int_equal(n, 2);
    audit_event *head = NP_LIST_ENTRY(np_list_first(&l), audit_event, link);
    audit_event *second = NP_LIST_ENTRY(np_list_next(&l, &head->link), audit_event, link);
    assert_null(np_list_next(&l, &second->link));
    assert_true(audit_event_is_usage(head));
    assert_false(audit_event_is_usage(second));
    assert_string_equal(head->producer, "pool.n1.abcdef");
    assert_int_equal(second->seq, 2);

    audit_params p;
    audit_params_usage(&p, head, false);
    assert_int_equal(p.n, AUDIT_USAGE_NPARAMS);
    assert_string_equal(p.v[0], "pool.n1.abcdef");
    assert_string_equal(p.v[1], "1");
    assert_string_equal(p.v[3], "rid-1");
    assert_string_equal(p.v[4], "5");
    assert_string_equal(p.v[7], "/ai/generate-image");
    assert_string_equal(p.v[9], "832");
    assert_string_equal(p.v[14], "200");
    assert_null(p.v[15]); /* "error": "" is no error */
    assert_null(p.v[20]); /* LOG_REQUEST_IP off: no IP */
    audit_params_fini(&p);
    audit_params_usage(&p, head, true);
    assert_string_equal(p.v[20], "10.0.0.9");
    audit_params_fini(&p);

    /* The password never reaches a row, even though a producer sent it. */
    assert_int_equal(audit_params_audit(&p, second, false), NP_ERR_OK);
    assert_int_equal(p.n, AUDIT_AUDIT_NPARAMS);
    assert_string_equal(p.v[3], "auth.login_failed");
    assert_null(p.v[4]);
    assert_string_equal(p.v[5], "user:bob");
    assert_null(strstr(p.v[6], "hunter2"));
    assert_non_null(strstr(p.v[6], "[redacted]"));
    audit_params_fini(&p);
    audit_event_free_list(&l);
    assert_true(np_list_empty(&l));
}

static void
test_decode_rejects(void **state)
{
    np_list l;
    np_list_init(&l);
    size_t n;
    const int64_t zero[] = {0};
    const int64_t one[] = {1};
    const char *const ok_type[] = {"key.state"};
    const char *const bad_type[] = {"Key State"};
    const char *const fields[] = {"{}"};
    np_wire_writer w;
    np_wire_writer_init(&w);
    pack_batch(&w, "p1", 1, zero, ok_type, fields); /* seq 0 */
    assert_int_equal(audit_batch_decode(w.sbuf.data, w.sbuf.size, &l, &n), NP_ERR_WIRE);
    np_wire_writer_fini(&w);
    np_wire_writer_init(&w);
    pack_batch(&w, "p1", 1, one, bad_type, fields);
    assert_int_equal(audit_batch_decode(w.sbuf.data, w.sbuf.size, &l, &n), NP_ERR_WIRE);
    np_wire_writer_fini(&w);
    assert_int_equal(audit_batch_decode("\x81\xa1v\x01", 4, &l, &n), NP_ERR_WIRE);
    assert_int_equal(audit_batch_decode("", 0, &l, &n), NP_ERR_WIRE);
    /* Unreadable details are kept as a marker, not lost. */
    const char *const junk[] = {"{not json"};
    np_wire_writer_init(&w);
    pack_batch(&w, "p1", 1, one, ok_type, junk);
    assert_true(np_list_empty(&l)); /* a refused message appends nothing */
    assert_int_equal(audit_batch_decode(w.sbuf.data, w.sbuf.size, &l, &n), NP_ERR_OK);
    audit_event *e = NP_LIST_ENTRY(np_list_first(&l), audit_event, link);
    assert_true(json_is_true(json_object_get(e->fields, "unparsable")));
    audit_event_free_list(&l);
    np_wire_writer_fini(&w);
}

static void
test_subject_and_actor(void **state)
{
    audit_event e = {.producer = "x", .seq = 1};
    char s[256];
    snprintf(e.type, sizeof(e.type), "key.state");
    e.fields = json_pack("{s:i, s:s}", "key_id", 12, "state", "cooling");
    assert_true(audit_event_subject(&e, s, sizeof(s)));
    assert_string_equal(s, "key:12");
    assert_int_equal(audit_event_actor(&e), 0);
    json_decref(e.fields);
    snprintf(e.type, sizeof(e.type), "admin.role_changed");
    e.fields =
        json_pack("{s:i, s:i, s:s}", "actor_user_id", 1, "target_user_id", 4, "role", "admin");
    assert_true(audit_event_subject(&e, s, sizeof(s)));
    assert_string_equal(s, "user:4");
    assert_int_equal(audit_event_actor(&e), 1);
    json_decref(e.fields);
    snprintf(e.type, sizeof(e.type), "relay_key.created");
    e.fields = json_pack("{s:i, s:i}", "user_id", 3, "key_id", 8);
    assert_true(audit_event_subject(&e, s, sizeof(s)));
    assert_string_equal(s, "relay_key:8");
    assert_int_equal(audit_event_actor(&e), 3);
    json_decref(e.fields);
    e.fields = json_pack("{s:{s:[{s:s}]}}", "a", "b", "Token", "pst-xyz");
    assert_int_equal(audit_fields_redact(e.fields), 1);
    json_decref(e.fields);
}

/* Credentials under any field name, in strings and arrays, are scrubbed by their shape. */
static void
test_redact_by_value(void **state)
{
    (void)state;
    json_t *f =
        json_pack("{s:s, s:[s, s], s:{s:s}, s:s}", "note",
                  "key pst-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 here", "list",
                  "np-abcdefghijklmnopqrstuvwxyz012345", "harmless", "nested", "reason",
                  "upstream said PST-zzzzzzzzzzzzzzzzzzzzzzzz", "short", "np-abc and snp-not");
    assert_int_equal(audit_fields_redact(f), 3);
    assert_string_equal(json_string_value(json_object_get(f, "note")), "key pst-[redacted] here");
    assert_string_equal(json_string_value(json_array_get(json_object_get(f, "list"), 0)),
                        "np-[redacted]");
    assert_string_equal(json_string_value(json_array_get(json_object_get(f, "list"), 1)),
                        "harmless");
    assert_string_equal(json_string_value(json_object_get(json_object_get(f, "nested"), "reason")),
                        "upstream said PST-[redacted]");
    assert_string_equal(json_string_value(json_object_get(f, "short")), "np-abc and snp-not");
    json_decref(f);
}

typedef struct {
    int messages;
    char producers[4][32];
    int64_t ranges[4][8][2];
    int nranges[4];
} acks_seen;

static void
on_ack(void *arg, const char *producer, const void *msg, size_t len)
{
    acks_seen *a = arg;
    int m = a->messages++;
    snprintf(a->producers[m], sizeof(a->producers[m]), "%s", producer);
    size_t plen = strlen(producer);
    assert_memory_equal(msg, producer, plen);
    assert_int_equal(((const char *)msg)[plen], '\n');
    np_wire_msg wm;
    assert_int_equal(np_wire_parse(&wm, (const char *)msg + plen + 1, len - plen - 1), NP_ERR_OK);
    const msgpack_object *r = np_wire_get(wm.root, "r");
    for (uint32_t i = 0; i < r->via.array.size; i++) {
        a->ranges[m][i][0] = (int64_t)r->via.array.ptr[i].via.array.ptr[0].via.u64;
        a->ranges[m][i][1] = (int64_t)r->via.array.ptr[i].via.array.ptr[1].via.u64;
    }
    a->nranges[m] = (int)r->via.array.size;
    np_wire_msg_fini(&wm);
}

static void
test_ack_ranges(void **state)
{
    /* b: 5,3,4,4(dup),9; a: 1 -> a:[1,1]; b:[3,5],[9,9] */
    static const struct {
        const char *p;
        int64_t seq;
    } in[] = {{"b", 5}, {"b", 3}, {"a", 1}, {"b", 4}, {"b", 4}, {"b", 9}};
    audit_event evs[6];
    audit_event *ptrs[6];
    for (int i = 0; i < 6; i++) {
        memset(&evs[i], 0, sizeof(evs[i]));
        snprintf(evs[i].producer, sizeof(evs[i].producer), "%s", in[i].p);
        evs[i].seq = in[i].seq;
        ptrs[i] = &evs[i];
    }
    acks_seen a = {0};
    assert_int_equal(audit_acks_build(ptrs, 6, on_ack, &a), NP_ERR_OK);
    assert_int_equal(a.messages, 2);
    assert_string_equal(a.producers[0], "a");
    assert_int_equal(a.nranges[0], 1);
    assert_int_equal(a.ranges[0][0][0], 1);
    assert_string_equal(a.producers[1], "b");
    assert_int_equal(a.nranges[1], 2);
    assert_int_equal(a.ranges[1][0][0], 3);
    assert_int_equal(a.ranges[1][0][1], 5);
    assert_int_equal(a.ranges[1][1][0], 9);
    assert_int_equal(a.ranges[1][1][1], 9);
}

/* Random bytes and mutations of a valid message never crash the decoder, and whatever it
 * accepts is well formed (a deterministic replay; ASan and UBSan watch in `make test`). */
static void
test_decode_mutations(void **state)
{
    const int64_t seqs[] = {1, 2};
    const char *const types[] = {"relay.finished", "key.state"};
    const char *const fields[] = {"{\"user_id\":5,\"status\":200,\"route\":\"/x\"}",
                                  "{\"key_id\":1,\"token\":\"pst-x\"}"};
    np_wire_writer w;
    np_wire_writer_init(&w);
    pack_batch(&w, "pool.n1.abcdef", 2, seqs, types, fields);
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    char buf[512];
    for (int round = 0; round < 200000; round++) {
        size_t n = w.sbuf.size < sizeof(buf) ? w.sbuf.size : sizeof(buf);
        memcpy(buf, w.sbuf.data, n);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int flips = 1 + (int)(rng % 4);
        for (int f = 0; f < flips; f++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            buf[rng % n] = (char)(rng >> 24);
        }
        size_t len = round % 7 == 0 ? (size_t)(rng % n) : n;
        np_list l;
        np_list_init(&l);
        size_t count = 0;
        if (audit_batch_decode(buf, len, &l, &count) == NP_ERR_OK) {
            NP_LIST_FOREACH(&l, node)
            {
                audit_event *e = NP_CONTAINER_OF(node, audit_event, link);
                assert_true(e->seq > 0);
                assert_true(json_is_object(e->fields));
                audit_params p;
                audit_params_usage(&p, e, true);
                audit_params_fini(&p);
                assert_int_equal(audit_params_audit(&p, e, false), NP_ERR_OK);
                audit_params_fini(&p);
            }
        }
        audit_event_free_list(&l);
    }
    np_wire_writer_fini(&w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_and_usage_row), cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_subject_and_actor),    cmocka_unit_test(test_ack_ranges),
        cmocka_unit_test(test_decode_mutations),     cmocka_unit_test(test_redact_by_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
