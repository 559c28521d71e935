/* Building acknowledgement messages from a committed batch. */
#include "acks.h"

#include <stdlib.h>
#include <string.h>

#include "np/wire.h"

static int
by_producer_seq(const void *a, const void *b)
{
    const audit_event *x = *(audit_event *const *)a, *y = *(audit_event *const *)b;
    int c = strcmp(x->producer, y->producer);
    if (c != 0) {
        return c;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* emit packs ranges[0..n) of producer into one message and hands it to fn. */
static np_err
emit(const char *producer, const int64_t (*ranges)[2], size_t n, audit_acks_fn fn, void *arg)
{
    np_wire_writer w;
    np_wire_writer_init(&w);
    size_t plen = strlen(producer);
    /* The topic first: producers subscribe to "<their id>\n". */
    msgpack_sbuffer_write(&w.sbuf, producer, plen);
    msgpack_sbuffer_write(&w.sbuf, "\n", 1);
    np_wire_begin(&w, 2);
    np_wire_str(&w, "p", producer);
    np_wire_key(&w, "r");
    msgpack_pack_array(&w.pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array(&w.pk, 2);
        msgpack_pack_int64(&w.pk, ranges[i][0]);
        msgpack_pack_int64(&w.pk, ranges[i][1]);
    }
    np_err err = w.sbuf.data != NULL ? NP_ERR_OK : NP_ERR_NOMEM;
    if (err == NP_ERR_OK) {
        fn(arg, producer, w.sbuf.data, w.sbuf.size);
    }
    np_wire_writer_fini(&w);
    return err;
}

np_err
audit_acks_build(audit_event *const *evs, size_t n, audit_acks_fn fn, void *arg)
{
    if (n == 0) {
        return NP_ERR_OK;
    }
    np_err err = NP_ERR_OK;
    audit_event **sorted = malloc(n * sizeof(*sorted));
    int64_t(*ranges)[2] = malloc(AUDIT_ACK_RANGES_MAX * sizeof(*ranges));
    if (sorted == NULL || ranges == NULL) {
        err = NP_ERR_NOMEM;
        goto done;
    }
    memcpy(sorted, evs, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), by_producer_seq);
    size_t nr = 0;
    for (size_t i = 0; i < n && err == NP_ERR_OK; i++) {
        const audit_event *e = sorted[i];
        if (nr > 0 && e->seq <= ranges[nr - 1][1] + 1) {
            if (e->seq > ranges[nr - 1][1]) {
                ranges[nr - 1][1] = e->seq;
            }
        } else {
            if (nr == AUDIT_ACK_RANGES_MAX) {
                err = emit(e->producer, (const int64_t(*)[2])ranges, nr, fn, arg);
                nr = 0;
            }
            ranges[nr][0] = ranges[nr][1] = e->seq;
            nr++;
        }
        bool last = i + 1 == n || strcmp(sorted[i + 1]->producer, e->producer) != 0;
        if (last && err == NP_ERR_OK) {
            err = emit(e->producer, (const int64_t(*)[2])ranges, nr, fn, arg);
            nr = 0;
        }
    }
done:
    free(ranges);
    free(sorted);
    return err;
}
