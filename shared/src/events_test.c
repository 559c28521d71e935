/* Tests of the events producer against a fake audit on inproc sockets: sequence numbers,
 * acknowledgements, re-sends, the in-flight window and outbox overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>

#include "np/events.h"
#include "np/wire.h"
#include "np_test_pipes.h"

typedef struct {
    np_config *cfg;
    nng_socket sub;   /* the fake audit's event socket */
    nng_socket pub;   /* its ack socket */
    atomic_int pipes; /* connections the producer made to the two */
} fixture;

static int fixture_no = 0;

static np_config *
make_cfg(const char *events, const char *acks, const char *outbox, const char *window,
         const char *resend)
{
    static const np_cfg_table *const tables[] = {&np_common_settings_table, NULL};
    np_config *cfg = np_config_new(tables);
    char why[256];
    assert_int_equal(np_config_load(cfg, NULL, why, sizeof(why)), NP_ERR_OK);
    const char *kv[][2] = {{"EVENTS_URL", events},        {"ACKS_URL", acks},
                           {"EVENTS_OUTBOX_MAX", outbox}, {"EVENTS_INFLIGHT_MAX", window},
                           {"EVENTS_RESEND_MS", resend},  {"EVENTS_DRAIN_MS", "0"},
                           {"NODE_ID", "test-node"}};
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        assert_int_equal(np_config_set(cfg, kv[i][0], kv[i][1], NP_CFG_SRC_ENV, why, sizeof(why)),
                         NP_ERR_OK);
    }
    return cfg;
}

static fixture *
fixture_new(const char *outbox, const char *window, const char *resend)
{
    fixture *f = calloc(1, sizeof(*f));
    char ev[64], ack[64];
    fixture_no++;
    snprintf(ev, sizeof(ev), "inproc://ev-test-%d", fixture_no);
    snprintf(ack, sizeof(ack), "inproc://ack-test-%d", fixture_no);
    assert_int_equal(nng_sub0_open(&f->sub), 0);
    assert_int_equal(np_test_count_pipes(f->sub, &f->pipes), 0);
    assert_int_equal(nng_socket_set(f->sub, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
    nng_socket_set_ms(f->sub, NNG_OPT_RECVTIMEO, 100);
    assert_int_equal(nng_listen(f->sub, ev, NULL, 0), 0);
    assert_int_equal(nng_pub0_open(&f->pub), 0);
    assert_int_equal(np_test_count_pipes(f->pub, &f->pipes), 0);
    assert_int_equal(nng_listen(f->pub, ack, NULL, 0), 0);
    f->cfg = make_cfg(ev, ack, outbox, window, resend);
    return f;
}

static void
fixture_free(fixture *f)
{
    nng_close(f->sub);
    nng_close(f->pub);
    np_config_free(f->cfg);
    free(f);
}

/* recv_batch receives one events message (waiting up to ~5 s) and stores its seqs; returns
 * how many, 0 on timeout. */
static size_t
recv_batch(fixture *f, char *producer, size_t plen, uint64_t *seqs, size_t max)
{
    for (int tries = 0; tries < 50; tries++) {
        nng_msg *msg;
        if (nng_recvmsg(f->sub, &msg, 0) != 0) {
            continue;
        }
        np_wire_msg m;
        assert_int_equal(np_wire_parse(&m, nng_msg_body(msg), nng_msg_len(msg)), NP_ERR_OK);
        assert_true(np_wire_get_cstr(m.root, "p", producer, plen));
        const msgpack_object *e = np_wire_get(m.root, "e");
        assert_non_null(e);
        assert_int_equal(e->type, MSGPACK_OBJECT_ARRAY);
        size_t n = 0;
        for (uint32_t i = 0; i < e->via.array.size && n < max; i++) {
            const msgpack_object *one = &e->via.array.ptr[i];
            assert_int_equal(one->type, MSGPACK_OBJECT_ARRAY);
            assert_int_equal(one->via.array.size, 4);
            assert_int_equal(one->via.array.ptr[2].type, MSGPACK_OBJECT_STR);
            assert_int_equal(one->via.array.ptr[3].type, MSGPACK_OBJECT_STR);
            seqs[n++] = one->via.array.ptr[0].via.u64;
        }
        np_wire_msg_fini(&m);
        nng_msg_free(msg);
        return n;
    }
    return 0;
}

static void
send_ack(fixture *f, const char *producer, uint64_t lo, uint64_t hi)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_wire_begin(&w, 2);
    np_wire_str(&w, "p", producer);
    np_wire_key(&w, "r");
    msgpack_pack_array(&w.pk, 1);
    msgpack_pack_array(&w.pk, 2);
    msgpack_pack_uint64(&w.pk, lo);
    msgpack_pack_uint64(&w.pk, hi);
    nng_msg *msg;
    assert_int_equal(nng_msg_alloc(&msg, 0), 0);
    nng_msg_append(msg, producer, strlen(producer));
    nng_msg_append(msg, "\n", 1);
    nng_msg_append(msg, w.sbuf.data, w.sbuf.size);
    assert_int_equal(nng_sendmsg(f->pub, msg, 0), 0);
    np_wire_writer_fini(&w);
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* wait_depth polls the producer's figures until depth reaches want, for up to ms. */
static bool
wait_depth(np_events *ev, uint64_t want, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        np_events_stats st;
        np_events_stats_read(ev, &st);
        if (st.depth == want) {
            return true;
        }
        sleep_ms(10);
    }
    return false;
}

/* ack_until acknowledges lo..hi until the outbox depth is want, as audit does: pub/sub loses
 * an ack sent before the producer's subscription is connected, and audit acknowledges again
 * whatever is re-sent. */
static bool
ack_until(fixture *f, np_events *ev, const char *producer, uint64_t lo, uint64_t hi, uint64_t want)
{
    for (int i = 0; i < 50; i++) {
        send_ack(f, producer, lo, hi);
        if (wait_depth(ev, want, 100)) {
            return true;
        }
    }
    return false;
}

static void
test_seq_and_ack(void **state)
{
    fixture *f = fixture_new("1000", "100", "60000");
    np_events *ev;
    assert_int_equal(np_events_open(&ev, "pool", f->cfg), NP_ERR_OK);
    assert_non_null(strstr(np_events_producer_id(ev), "pool.test-node."));
    assert_true(np_test_wait_pipes(&f->pipes, 2)); /* pub/sub drops what is sent before */
    for (int i = 0; i < 10; i++) {
        np_events_emit(ev, "key.state", json_pack("{s:i}", "key_id", i));
    }
    char producer[NP_EVENTS_ID_MAX];
    uint64_t seqs[300];
    size_t got = 0;
    while (got < 10) {
        size_t n = recv_batch(f, producer, sizeof(producer), seqs + got, 300 - got);
        assert_true(n > 0);
        got += n;
    }
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(seqs[i], i + 1);
    }
    assert_string_equal(producer, np_events_producer_id(ev));
    /* Acks for another producer are ignored; our own empty the outbox. */
    send_ack(f, "auth.other.000000", 1, 10);
    assert_true(ack_until(f, ev, producer, 1, 4, 6));
    assert_true(ack_until(f, ev, producer, 5, 10, 0));
    np_events_stats st;
    np_events_stats_read(ev, &st);
    assert_int_equal(st.emitted, 10);
    assert_int_equal(st.acked, 10);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.inflight, 0);
    np_events_close(ev);
    fixture_free(f);
}

static void
test_resend_until_acked(void **state)
{
    fixture *f = fixture_new("1000", "100", "50");
    np_events *ev;
    assert_int_equal(np_events_open(&ev, "auth", f->cfg), NP_ERR_OK);
    np_events_emit(ev, "auth.login_failed", json_pack("{s:s}", "username", "bob"));
    char producer[NP_EVENTS_ID_MAX];
    uint64_t seqs[8];
    /* Not acknowledged: the same event arrives again, several times. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(recv_batch(f, producer, sizeof(producer), seqs, 8), 1);
        assert_int_equal(seqs[0], 1);
    }
    assert_true(ack_until(f, ev, producer, 1, 1, 0));
    np_events_stats st;
    np_events_stats_read(ev, &st);
    assert_true(st.resent >= 2);
    np_events_close(ev);
    fixture_free(f);
}

static void
test_inflight_window(void **state)
{
    fixture *f = fixture_new("1000", "4", "50");
    np_events *ev;
    assert_int_equal(np_events_open(&ev, "pool", f->cfg), NP_ERR_OK);
    for (int i = 0; i < 10; i++) {
        np_events_emit(ev, "relay.finished", json_pack("{s:i}", "status", 200));
    }
    char producer[NP_EVENTS_ID_MAX];
    uint64_t seqs[16];
    /* Over several re-send rounds nothing beyond the window of 4 is ever sent. */
    for (int round = 0; round < 6; round++) {
        size_t n = recv_batch(f, producer, sizeof(producer), seqs, 16);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
            assert_true(seqs[i] >= 1 && seqs[i] <= 4);
        }
    }
    np_events_stats st;
    np_events_stats_read(ev, &st);
    assert_int_equal(st.inflight, 4);
    assert_int_equal(st.depth, 10);
    assert_true(ack_until(f, ev, producer, 1, 4, 6));
    /* The window moves: 5..8 come next. */
    bool saw_next = false;
    for (int round = 0; round < 20 && !saw_next; round++) {
        size_t n = recv_batch(f, producer, sizeof(producer), seqs, 16);
        for (size_t i = 0; i < n; i++) {
            assert_true(seqs[i] <= 8);
            saw_next = saw_next || seqs[i] >= 5;
        }
    }
    assert_true(saw_next);
    np_events_close(ev);
    fixture_free(f);
}

static void
test_overflow_counted(void **state)
{
    fixture *f = fixture_new("16", "4", "60000");
    np_events *ev;
    assert_int_equal(np_events_open(&ev, "health", f->cfg), NP_ERR_OK);
    for (int i = 0; i < 20; i++) {
        np_events_emit(ev, "key.state", json_pack("{s:i}", "key_id", i));
    }
    np_events_stats st;
    np_events_stats_read(ev, &st);
    assert_int_equal(st.emitted, 16);
    assert_int_equal(st.dropped, 4);
    assert_int_equal(st.depth, 16);
    assert_int_equal(st.capacity, 16);
    /* Acknowledging frees room again. */
    assert_true(ack_until(f, ev, st.producer_id, 1, 16, 0));
    np_events_emit(ev, "key.state", NULL);
    np_events_stats_read(ev, &st);
    assert_int_equal(st.emitted, 17);
    assert_int_equal(st.dropped, 4);
    np_events_close(ev);
    fixture_free(f);
}

static void
test_ids_unique_and_null_safe(void **state)
{
    fixture *f = fixture_new("1000", "100", "60000");
    np_events *a, *b;
    assert_int_equal(np_events_open(&a, "pool", f->cfg), NP_ERR_OK);
    assert_int_equal(np_events_open(&b, "pool", f->cfg), NP_ERR_OK);
    assert_string_not_equal(np_events_producer_id(a), np_events_producer_id(b));
    np_events_close(a);
    np_events_close(b);
    np_events_emit(NULL, "x", json_object()); /* consumed, no crash */
    np_events_stats st;
    np_events_stats_read(NULL, &st);
    assert_int_equal(st.emitted, 0);
    np_events_close(NULL);
    fixture_free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_and_ack),
        cmocka_unit_test(test_resend_until_acked),
        cmocka_unit_test(test_inflight_window),
        cmocka_unit_test(test_overflow_counted),
        cmocka_unit_test(test_ids_unique_and_null_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
