/* The streaming buffer of a relayed request: bytes from the curl thread collect in it, the
 * first chunk answers relay.open, later ones answer relay.next (rpc workers), the transfer
 * pauses above the cap and resumes when drained; relay.cancel and the reaper end a stream. */
#include "relay_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/log.h"

bool
relay_reply_open_ok(rreq *q, size_t chunk)
{
    size_t n = q->buf.len < chunk ? q->buf.len : chunk;
    bool more = !(relay_upstream_ended(q) && n == q->buf.len);
    hdrs h = {.n = 0};
    relay_hdr_add(&h, NP_RELAY_RESH_CONTENT_TYPE, q->ctype);
    relay_hdr_add(&h, NP_RELAY_RESH_CONTENT_ENCODING, q->cenc);
    relay_hdr_add(&h, NP_RELAY_RESH_CONTENT_DISPOSITION, q->cdisp);
    relay_hdr_add(&h, NP_RELAY_RESH_RETRY_AFTER, q->retry);
    relay_hdr_rate(&h, &q->rate);
    q->last_touch_ms = np_now_ms();
    if (more) {
        /* in the table before the answer leaves: relay.next may come back at once */
        relay_table_add(q->rl, q);
    }
    relay_wire_open(q->open_call, q->status, &h, q->buf.data, n, more, q->sid);
    q->open_call = NULL;
    q->final_status = q->status;
    if (n > 0) {
        memmove(q->buf.data, q->buf.data + n, q->buf.len - n);
        q->buf.len -= n;
    }
    q->last_touch_ms = np_now_ms();
    if (more && q->state == RELAY_PASSING) {
        relay_set_state(q, RELAY_STREAMING); /* (once settling, relay_on_done moves it on) */
    }
    return more;
}

/* Answers the parked relay.next with up to one chunk; returns true when it was the last. */
bool
relay_reply_next(rreq *q, np_rpc_call *call, size_t chunk)
{
    size_t n = q->buf.len < chunk ? q->buf.len : chunk;
    bool more = !(relay_upstream_ended(q) && !q->broken && n == q->buf.len);
    relay_wire_next(call, q->buf.data, n, more);
    if (n > 0) {
        memmove(q->buf.data, q->buf.data + n, q->buf.len - n);
        q->buf.len -= n;
    }
    q->last_touch_ms = np_now_ms();
    return !more;
}

size_t
relay_chunk_bytes(const rreq *q)
{
    return (size_t)q->ps->STREAM_CHUNK_BYTES;
}

size_t
relay_buffer_cap(const rreq *q)
{
    return (size_t)q->ps->STREAM_BUFFER_BYTES;
}

size_t
relay_on_body(void *arg, const char *p, size_t n)
{
    rreq *q = relay_rreq_of(arg, "relay_on_body");
    if (q == NULL) {
        return 0; /* aborts the transfer */
    }
    pthread_mutex_lock(&q->mu);
    if (!relay_passing(q)) {
        size_t room = ERRBODY_MAX - q->errbody.len;
        np_buf_append(&q->errbody, p, n < room ? n : room);
        pthread_mutex_unlock(&q->mu);
        return n;
    }
    if (q->cancelled) {
        pthread_mutex_unlock(&q->mu);
        return n; /* the cancel job is on its way; drop the bytes */
    }
    if (q->buf.len > 0 && q->buf.len + n > relay_buffer_cap(q)) {
        q->paused = true;
        pthread_mutex_unlock(&q->mu);
        return CURL_WRITEFUNC_PAUSE;
    }
    if (np_buf_append(&q->buf, p, n) != NP_ERR_OK) {
        pthread_mutex_unlock(&q->mu);
        return 0; /* aborts the transfer: no memory */
    }
    q->bytes += n;
    size_t chunk = relay_chunk_bytes(q);
    bool ready = q->stream_mode || q->buf.len >= chunk;
    if (ready && q->open_call != NULL) {
        relay_reply_open_ok(q, chunk);
    } else if (ready && q->next_call != NULL) {
        np_rpc_call *c = q->next_call;
        q->next_call = NULL;
        relay_reply_next(q, c, chunk);
    }
    pthread_mutex_unlock(&q->mu);
    return n;
}

/* ---- relay.next and relay.cancel (rpc worker) ---- */

void
pool_relay_next(pool_relay *rl, np_rpc_call *call, const msgpack_object *req)
{
    int64_t sid;
    if (!relay_read_sid(req, &sid)) {
        np_rpc_reply_error(call, NP_ERR_WIRE, "relay.next needs sid");
        return;
    }
    rreq *q = relay_table_take(rl, sid);
    if (q == NULL) {
        np_rpc_reply_error(call, NP_ERR_NOT_FOUND, "no such stream (finished or reaped)");
        return;
    }
    bool last = false;
    pthread_mutex_lock(&q->mu);
    q->last_touch_ms = np_now_ms();
    if (q->next_call != NULL) {
        np_rpc_reply_error(call, NP_ERR_CONFLICT, "a relay.next is already waiting");
    } else if (q->buf.len > 0 || (relay_upstream_ended(q) && !q->broken)) {
        last = relay_reply_next(q, call, relay_chunk_bytes(q));
        if (q->paused && q->buf.len < relay_buffer_cap(q) / 2) {
            q->paused = false;
            pool_upstream_resume(rl->d.up, q->x);
        }
    } else if (relay_upstream_ended(q)) {
        np_rpc_reply_error(call, NP_ERR_UPSTREAM, "the upstream stream broke");
        last = true;
    } else {
        q->next_call = call; /* 6: answered when bytes come or the transfer ends */
    }
    if (last && q->state == RELAY_DRAINING) {
        relay_set_state(q, RELAY_DONE); /* (settling: relay_on_done, which answered, decides) */
    }
    pthread_mutex_unlock(&q->mu);
    if (last) {
        relay_table_remove(rl, q);
    }
    relay_unref(q);
}

/* Aborts a stream: its transfer (the key then cools down) and its parked relay.next. */
void
relay_abort_stream(pool_relay *rl, rreq *q)
{
    pthread_mutex_lock(&q->mu);
    q->cancelled = true;
    if (q->next_call != NULL) {
        np_rpc_reply_error(q->next_call, NP_ERR_CANCELED, NULL);
        q->next_call = NULL;
    }
    if (relay_attempt_running(q)) {
        pool_upstream_cancel(rl->d.up, q->x); /* relay_on_done ends it */
    } else if (q->state == RELAY_DRAINING) {
        relay_set_state(q, RELAY_DONE);
    }
    pthread_mutex_unlock(&q->mu);
    relay_table_remove(rl, q);
}

void
pool_relay_cancel(pool_relay *rl, np_rpc_call *call, const msgpack_object *req)
{
    int64_t sid;
    if (!relay_read_sid(req, &sid)) {
        np_rpc_reply_error(call, NP_ERR_WIRE, "relay.cancel needs sid");
        return;
    }
    rreq *q = relay_table_take(rl, sid);
    if (q != NULL) {
        relay_abort_stream(rl, q);
        relay_unref(q);
    }
    relay_reply_empty(call);
}

void
pool_relay_tick(void *arg)
{
    pool_relay *rl = arg;
    int64_t limit = NP_SETTING_NOW(rl->d.cfg, pool, STREAM_REAP_SECONDS) * 1000;
    int64_t now = np_now_ms();
    rreq *idle[64];
    int n = 0;
    pthread_mutex_lock(&rl->mu);
    for (int b = 0; b < TABLE_BUCKETS && n < 64; b++) {
        for (rreq *q = rl->table[b]; q != NULL && n < 64; q = q->hnext) {
            /* last_touch_ms and next_call are read without q->mu (atomics): a stale read only
             * delays the reaping by one tick. */
            if (q->next_call == NULL && now - q->last_touch_ms > limit) {
                relay_ref(q);
                idle[n++] = q;
            }
        }
    }
    pthread_mutex_unlock(&rl->mu);
    for (int i = 0; i < n; i++) {
        np_log_write(NP_LOG_INFO, "pool", idle[i]->rid, "reaping stream %lld: nobody read it",
                     (long long)idle[i]->sid);
        relay_abort_stream(rl, idle[i]);
        relay_unref(idle[i]);
    }
}
