/* One attempt of a relayed request on one key: the grant starts the transfer (scheduler
 * thread, or the rpc worker for a leaseless pick), its status is read (curl thread), and its
 * outcome decides between another key and the answer (curl thread). */
#include "relay_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/crypto.h"
#include "np/log.h"
#include "np/novelai.h"
#include "np/proxy.h"
#include "relay_decide.h"

/* ---- upstream callbacks (curl thread) ---- */

void
relay_on_headers(void *arg, pool_xfer *x)
{
    rreq *q = relay_rreq_of(arg, "relay_on_headers");
    if (q == NULL) {
        return;
    }
    pthread_mutex_lock(&q->mu);
    q->status = pool_xfer_status(x);
    snprintf(q->ctype, sizeof(q->ctype), "%s", pool_xfer_content_type(x));
    snprintf(q->cenc, sizeof(q->cenc), "%s", pool_xfer_content_encoding(x));
    snprintf(q->cdisp, sizeof(q->cdisp), "%s", pool_xfer_content_disposition(x));
    snprintf(q->retry, sizeof(q->retry), "%s", pool_xfer_retry_after(x));
    np_novelai_outcome o = np_novelai_classify(q->status, NULL, 0);
    /* 3: a 2xx or a client error passes; a key-level error is kept to be judged */
    relay_set_state(q, o == NP_NAI_OK || o == NP_NAI_CLIENT ? RELAY_PASSING : RELAY_JUDGING);
    q->stream_mode = strncmp(q->ctype, "text/event-stream", 17) == 0 ||
                     strncmp(q->ctype, "application/msgpack", 19) == 0;
    pthread_mutex_unlock(&q->mu);
}

/* ---- the upstream's answer (curl thread) ---- */

/* The answer once no other key will be tried after a key-level failure. */
static void
answer_failure(rreq *q, np_novelai_outcome o, np_err result)
{
    switch (o) {
    case NP_NAI_CLIENT:
    case NP_NAI_SERVER:
        /* NovelAI's own answer (a 5xx, or a client fault such as 403 "Model not allowed for
         * user tier"), as it sent it */
        np_buf_reset(&q->buf);
        np_buf_append(&q->buf, q->errbody.data != NULL ? q->errbody.data : "", q->errbody.len);
        q->bytes = q->errbody.len;
        relay_reply_open_ok(q,
                            relay_chunk_bytes(q) > q->buf.len ? relay_chunk_bytes(q) : q->buf.len);
        snprintf(q->error_class, sizeof(q->error_class), "%s", np_novelai_outcome_name(o));
        break;
    case NP_NAI_NETWORK:
        relay_reply_open_error(
            q, result == NP_ERR_UPSTREAM_TIMEOUT ? NP_ERR_UPSTREAM_TIMEOUT : NP_ERR_UPSTREAM, NULL,
            0);
        break;
    default: {
        char m[160];
        snprintf(m, sizeof(m), "no key could serve the request (last answer: %s)",
                 np_novelai_outcome_name(o));
        relay_reply_open_error(q, NP_ERR_NO_KEY, m, 5);
        snprintf(q->error_class, sizeof(q->error_class), "%s", np_novelai_outcome_name(o));
        break;
    }
    }
}

/* take_suspect (q->mu held): the deferred 5xx of an earlier key, to be applied (after
 * unlocking) because no second 5xx showed the request was at fault; false when none. */
static bool
take_suspect(rreq *q, pool_lease *lease, pool_release_info *info)
{
    if (!q->suspect) {
        return false;
    }
    q->suspect = false;
    *lease = q->suspect_lease;
    *info = q->suspect_info;
    return true;
}

/* unlock_settling unlocks q->mu and applies the deferred 5xx of an earlier key, if any (the
 * request ends without a second 5xx that would have cleared it). */
static void
unlock_settling(rreq *q)
{
    pool_lease lease;
    pool_release_info info;
    bool sus = take_suspect(q, &lease, &info);
    pthread_mutex_unlock(&q->mu);
    if (sus) {
        pool_sched_release(q->rl->d.sched, &lease, &info, NULL);
    }
}

/* defer_strike (q->mu held): the 5xx q's current key gave is judged when another key has
 * answered (deferred is what it would have done to the key); info is what the key gets now. */
static void
defer_strike(rreq *q, const pool_outcome_action *deferred, const pool_release_info *info,
             np_novelai_outcome o)
{
    q->suspect = true;
    q->suspect_lease = q->lease;
    np_wipe(q->suspect_lease.token, sizeof(q->suspect_lease.token));
    q->suspect_lease.slot = -1;
    q->suspect_info = *info;
    q->suspect_info.action = *deferred;
    snprintf(q->suspect_info.error, sizeof(q->suspect_info.error), "%s (HTTP %d)",
             np_novelai_outcome_name(o), q->status);
    q->suspect_info.used = false; /* the use is counted now */
}

/* facts_of (q->mu held): what relay_decide needs to know about the attempt that ended. */
static relay_facts
facts_of(rreq *q, pool_xfer *x, np_err result, bool maybe_sent, np_novelai_outcome o)
{
    return (relay_facts){
        .result = result,
        .maybe_sent = maybe_sent,
        .o = o,
        .status = q->status,
        .passing = relay_passing(q),
        .opened = q->state == RELAY_STREAMING,
        .locks = q->route->locks,
        .free_request = q->cost == 0,
        .proxy_failed = q->proxy_id > 0 && pool_xfer_proxy_failed(x),
        .suspect = q->suspect,
        .retries_left = q->attempts <= q->ps->MAX_RETRIES && q->w.ntried < POOL_MAX_TRIED,
        .leased = relay_attempt_running(q), /* the key is held while its transfer runs */
        .v5_image = q->need.v5 && q->need.kind == POOL_KIND_IMAGE,
    };
}

/* release_info: the key's release as d says, for q's attempt that ended with outcome o. */
static pool_release_info
release_info(const rreq *q, const relay_decision *d, np_novelai_outcome o)
{
    pool_release_info info = {.action = d->action, .used = d->used};
    snprintf(info.rid, sizeof(info.rid), "%s", q->rid);
    info.spent = d->spend ? q->cost : 0;
    if (d->note == RELAY_NOTE_OUTCOME) {
        snprintf(info.error, sizeof(info.error), "%s (HTTP %d)", np_novelai_outcome_name(o),
                 q->status);
    } else if (d->note == RELAY_NOTE_CANCELLED) {
        snprintf(info.error, sizeof(info.error), "cancelled by the client");
    }
    return info;
}

/* 5. DONE (curl thread): the transfer of the current attempt ended. First what happens next
 * (relay_decide: another key, or the end), then the answer, then the key's release. */
void
relay_on_done(void *arg, pool_xfer *x, np_err result, bool maybe_sent)
{
    rreq *q = relay_rreq_of(arg, "relay_on_done");
    if (q == NULL) {
        return;
    }
    pool_relay *rl = q->rl;
    pool_cooldowns cd;
    pool_cooldowns_read(rl->d.cfg, &cd);
    pool_waiter *retry = NULL;

    pthread_mutex_lock(&q->mu);
    np_novelai_outcome o = result == NP_ERR_OK
                               ? np_novelai_classify(q->status, q->errbody.data, q->errbody.len)
                               : NP_NAI_NETWORK;
    relay_facts f = facts_of(q, x, result, maybe_sent, o);
    relay_decision d;
    relay_decide(&f, &cd, &d);
    /* the stream's last answer is still due (to a relay.next not yet asked) unless cancelled */
    bool drain = q->state == RELAY_STREAMING && !q->cancelled;
    relay_set_state(q, RELAY_SETTLING);
    pool_release_info info = release_info(q, &d, o);
    if (d.clear_suspect) {
        np_log_write(NP_LOG_INFO, "pool", q->rid,
                     "key %lld answered HTTP %d as key %lld did: the request's fault, no "
                     "key is struck",
                     (long long)q->key_id, q->status, (long long)q->suspect_lease.key_id);
        q->suspect = false;
    }
    if (f.proxy_failed) {
        /* the key moves to another healthy proxy at once (its next transfer takes it) */
        if (np_proxy_failure_counts(rl->d.cfg, pool_xfer_proxy_code(x))) {
            pool_proxies_report_failure(rl->d.proxies, q->proxy_id);
        }
        np_log_write(NP_LOG_WARN, "pool", q->rid, "proxy %lld failed; key %lld moves on",
                     (long long)q->proxy_id, (long long)q->key_id);
    }
    switch (d.next) {
    case RELAY_NEXT_RETRY: {
        if (d.mark_tried) {
            q->w.tried[q->w.ntried++] = q->key_id;
        }
        if (d.defer) {
            defer_strike(q, &d.deferred, &info, o);
        }
        int64_t floor = np_now_ms() + 5000;
        q->w.deadline_ms = q->w.deadline_ms > floor ? q->w.deadline_ms : floor;
        retry = &q->w;
        np_log_write(NP_LOG_INFO, "pool", q->rid, "key %lld answered %s; trying another key",
                     (long long)q->key_id, np_novelai_outcome_name(o));
        break;
    }
    case RELAY_NEXT_CANCELLED:
        q->broken = true;
        relay_leave_slot(q);
        if (q->aborted) {
            relay_reply_client_closed(q);
        } else {
            if (q->open_call != NULL) {
                relay_reply_open_error(q, NP_ERR_CLOSED, NULL, 0);
            }
            snprintf(q->error_class, sizeof(q->error_class), "cancelled");
        }
        break;
    case RELAY_NEXT_ANSWER:
        if (o != NP_NAI_OK) {
            snprintf(q->error_class, sizeof(q->error_class), "%s", np_novelai_outcome_name(o));
        }
        relay_leave_slot(q);
        break;
    case RELAY_NEXT_BROKEN:
        /* a stream broke after its status went out: the client sees a short body */
        q->broken = true;
        snprintf(q->error_class, sizeof(q->error_class), "%s", np_novelai_outcome_name(o));
        relay_leave_slot(q);
        break;
    case RELAY_NEXT_FAIL:
        relay_leave_slot(q);
        answer_failure(q, o, result);
        break;
    }
    bool was_leased = f.leased;
    pool_lease lease = q->lease;
    np_wipe(q->lease.token, sizeof(q->lease.token));
    if (retry != NULL) {
        /* the next attempt starts clean */
        pool_xfer_release(q->x);
        q->x = NULL;
        q->status = 0;
        q->stream_mode = q->paused = false;
        np_buf_reset(&q->errbody);
        np_buf_reset(&q->buf);
        q->bytes = 0;
    } else if (q->open_call != NULL) {
        /* 4: the whole answer fitted (or was empty), or its first chunk goes now */
        drain = relay_reply_open_ok(q, relay_chunk_bytes(q));
    } else if (q->next_call != NULL) {
        np_rpc_call *c = q->next_call;
        q->next_call = NULL;
        bool last = true;
        if (q->broken && q->buf.len == 0) {
            np_rpc_reply_error(c, NP_ERR_UPSTREAM, "the upstream stream broke");
        } else {
            last = relay_reply_next(q, c, relay_chunk_bytes(q));
        }
        drain = !last;
        if (last) {
            pthread_mutex_unlock(&q->mu);
            relay_table_remove(rl, q);
            pthread_mutex_lock(&q->mu);
        }
    }
    if (retry == NULL) {
        relay_finish(q, drain ? RELAY_DRAINING : RELAY_DONE);
        unlock_settling(q);
    } else {
        relay_set_state(q, RELAY_QUEUED);
        pthread_mutex_unlock(&q->mu);
    }
    if (d.v5_check) {
        relay_v5check_start(rl, &lease, &info);
    } else if (was_leased) {
        pool_sched_release(rl->d.sched, &lease, &info, retry);
    } else if (retry != NULL) {
        relay_on_timeout(q, retry);
    }
    np_wipe(lease.token, sizeof(lease.token));
    if (retry == NULL) {
        relay_unref(q); /* the request's reference, which the transfer carried */
    }
}

/* ---- scheduler callbacks (scheduler thread) ---- */

void
relay_on_grant(void *arg, pool_waiter *w)
{
    rreq *q = relay_rreq_of(arg, "relay_on_grant");
    if (q == NULL) {
        return;
    }
    pool_relay *rl = q->rl;
    static const pool_xfer_cb cb = {relay_on_headers, relay_on_body, relay_on_done};
    pthread_mutex_lock(&q->mu);
    q->attempts++;
    q->lease = w->lease;
    np_wipe(w->lease.token, sizeof(w->lease.token));
    q->key_id = q->lease.key_id;
    q->cost = q->lease.cost;
    if (q->aborted) {
        /* the client left while the grant was under way: the key goes back unused */
        pool_release_info info = {.used = false};
        snprintf(info.rid, sizeof(info.rid), "%s", q->rid);
        pool_lease lease = q->lease;
        np_wipe(q->lease.token, sizeof(q->lease.token));
        relay_leave_slot(q);
        relay_reply_client_closed(q);
        relay_finish(q, RELAY_DONE);
        unlock_settling(q);
        pool_sched_release(rl->d.sched, &lease, &info, NULL);
        relay_unref(q); /* the request's own */
        return;
    }
    int64_t timeout_s = q->ps->UPSTREAM_TIMEOUT_SECONDS;
    bool stream = q->route->stream || q->need.stream;
    pool_xfer_spec spec = {
        .method = q->method,
        .url = q->url,
        .body = q->body,
        .headers = q->hdr_ptrs,
        .token = q->lease.token,
        .connect_timeout_ms = q->ps->UPSTREAM_CONNECT_TIMEOUT_SECONDS * 1000,
        .timeout_ms = stream ? 0 : timeout_s * 1000,
        .idle_timeout_s = stream ? q->ps->UPSTREAM_IDLE_TIMEOUT_SECONDS : timeout_s,
    };
    /* The key's egress: in proxy_pool mode its sticky proxy, and no request without one. */
    char proxy[1100] = "";
    int64_t proxy_id = 0;
    np_err perr = rl->d.proxies != NULL ? pool_proxies_for_key(rl->d.proxies, q->key_id, &proxy_id,
                                                               proxy, sizeof(proxy))
                                        : NP_ERR_OK;
    spec.proxy = proxy;
    q->proxy_id = proxy_id;
    pool_xfer_release(q->x);
    q->x = perr == NP_ERR_OK ? pool_xfer_new(&spec, &cb, q) : NULL;
    np_wipe(proxy, sizeof(proxy));
    if (!q->need.v5 || q->need.kind != POOL_KIND_IMAGE) {
        np_wipe(q->lease.token, sizeof(q->lease.token)); /* the transfer has its own copy */
    } /* else kept until on_done, for the V5 allowance check */
    /* The request's reference now rides with the transfer until on_done. */
    np_err err = perr != NP_ERR_OK ? perr
                 : q->x != NULL    ? pool_upstream_start(rl->d.up, q->x)
                                   : NP_ERR_NOMEM;
    if (err == NP_ERR_OK) {
        relay_set_state(q, RELAY_RUNNING); /* (on_headers waits for the lock) */
        pthread_mutex_unlock(&q->mu);
        return;
    }
    /* Nothing was sent: the key is unharmed. */
    pool_release_info info = {.used = false};
    snprintf(info.rid, sizeof(info.rid), "%s", q->rid);
    pool_lease lease = q->lease;
    relay_leave_slot(q);
    relay_reply_open_error(q, err == NP_ERR_CLOSED ? NP_ERR_CLOSED : NP_ERR_UPSTREAM, NULL, 0);
    relay_finish(q, RELAY_DONE);
    unlock_settling(q);
    pool_sched_release(rl->d.sched, &lease, &info, NULL);
    relay_unref(q); /* the request's own */
}

void
relay_on_timeout(void *arg, pool_waiter *w)
{
    rreq *q = relay_rreq_of(arg, "relay_on_timeout");
    (void)w;
    if (q == NULL) {
        return;
    }
    pthread_mutex_lock(&q->mu);
    relay_leave_slot(q);
    if (q->aborted) {
        relay_reply_client_closed(q);
    } else if (q->open_call != NULL) {
        relay_reply_open_error(q, NP_ERR_NO_KEY,
                               q->attempts > 0
                                   ? "no other key was free to retry the request"
                                   : "every eligible key stayed busy; try again shortly",
                               5);
    }
    relay_finish(q, RELAY_DONE);
    unlock_settling(q); /* no other key answered: an earlier 5xx stays its key's */
    relay_unref(q);     /* the request's own */
}
