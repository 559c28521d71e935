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

/* ---- upstream callbacks (curl thread) ---- */

void
relay_on_headers(void *arg, pool_xfer *x)
{
    rreq *q = arg;
    pthread_mutex_lock(&q->mu);
    q->status = pool_xfer_status(x);
    snprintf(q->ctype, sizeof(q->ctype), "%s", pool_xfer_content_type(x));
    snprintf(q->cenc, sizeof(q->cenc), "%s", pool_xfer_content_encoding(x));
    snprintf(q->cdisp, sizeof(q->cdisp), "%s", pool_xfer_content_disposition(x));
    snprintf(q->retry, sizeof(q->retry), "%s", pool_xfer_retry_after(x));
    np_novelai_outcome o = np_novelai_classify(q->status, NULL, 0);
    q->passing = o == NP_NAI_OK || o == NP_NAI_CLIENT;
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
        q->passing = true;
        np_buf_reset(&q->buf);
        np_buf_append(&q->buf, q->errbody.data != NULL ? q->errbody.data : "", q->errbody.len);
        q->bytes = q->errbody.len;
        relay_reply_open_ok(q, relay_chunk_bytes(q->rl) > q->buf.len ? relay_chunk_bytes(q->rl)
                                                                     : q->buf.len);
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
 * answered; meanwhile that key goes back unharmed (info becomes a plain use). */
static void
defer_strike(rreq *q, pool_release_info *info)
{
    q->suspect = true;
    q->suspect_lease = q->lease;
    np_wipe(q->suspect_lease.token, sizeof(q->suspect_lease.token));
    q->suspect_lease.slot = -1;
    q->suspect_info = *info;
    q->suspect_info.used = false; /* the use is counted now */
    info->action = (pool_outcome_action){0};
    info->error[0] = '\0';
}

void
relay_on_done(void *arg, pool_xfer *x, np_err result, bool maybe_sent)
{
    rreq *q = arg;
    pool_relay *rl = q->rl;
    pool_cooldowns cd;
    pool_cooldowns_read(rl->d.cfg, &cd);
    pool_release_info info = {.used = true};
    snprintf(info.rid, sizeof(info.rid), "%s", q->rid);
    pool_waiter *retry = NULL;
    bool failed = false;

    pthread_mutex_lock(&q->mu);
    q->up_done = true;
    np_novelai_outcome o = result == NP_ERR_OK
                               ? np_novelai_classify(q->status, q->errbody.data, q->errbody.len)
                               : NP_NAI_NETWORK;
    /* First what happens next (another key, or the end), then the answer. */
    if (result == NP_ERR_CANCELED) {
        /* 6: the client left mid-generation (or the service is stopping); only a generation
         * keeps NovelAI busy after that */
        if (q->route->locks) {
            pool_outcome_cancelled(&cd, &info.action);
            snprintf(info.error, sizeof(info.error), "cancelled by the client");
        }
        q->broken = true;
    } else if (result == NP_ERR_OK && q->passing) {
        pool_outcome_decide(o, true, q->cost == 0, &cd, &info.action);
        info.spent = o == NP_NAI_OK ? q->cost : 0;
        if (o != NP_NAI_OK) {
            snprintf(q->error_class, sizeof(q->error_class), "%s", np_novelai_outcome_name(o));
        }
    } else {
        bool proxy_failed = q->proxy_id > 0 && pool_xfer_proxy_failed(x);
        pool_outcome_decide(o, maybe_sent || q->opened, q->cost == 0, &cd, &info.action);
        snprintf(info.error, sizeof(info.error), "%s (HTTP %d)", np_novelai_outcome_name(o),
                 q->status);
        if (o == NP_NAI_CLIENT) {
            info.error[0] = '\0'; /* the request's fault: not the key's last error */
        }
        if (o == NP_NAI_SERVER && q->suspect && !proxy_failed) {
            /* a second key gave the same 5xx: the request is at fault, neither key is */
            np_log_write(NP_LOG_INFO, "pool", q->rid,
                         "key %lld answered HTTP %d as key %lld did: the request's fault, no "
                         "key is struck",
                         (long long)q->key_id, q->status, (long long)q->suspect_lease.key_id);
            q->suspect = false;
            info.action = (pool_outcome_action){0};
            info.error[0] = '\0';
        }
        if (proxy_failed) {
            /* The key's egress failed, not the key: the key moves to another healthy proxy
             * at once and keeps its state; a request that surely did not leave may try again
             * (the same key is fine: its next transfer takes the other proxy). */
            if (np_proxy_failure_counts(rl->d.cfg, pool_xfer_proxy_code(x))) {
                pool_proxies_report_failure(rl->d.proxies, q->proxy_id);
            }
            np_log_write(NP_LOG_WARN, "pool", q->rid, "proxy %lld failed; key %lld moves on",
                         (long long)q->proxy_id, (long long)q->key_id);
            info.action = (pool_outcome_action){.retry = !(maybe_sent || q->opened)};
            info.error[0] = '\0';
            info.used = false;
        }
        if (q->opened) {
            /* 5: a stream broke after its status went out: the client sees a short body */
            q->broken = true;
            snprintf(q->error_class, sizeof(q->error_class), "%s", np_novelai_outcome_name(o));
        } else if (info.action.retry && q->attempts <= np_config_int(rl->d.cfg, "MAX_RETRIES") &&
                   q->w.ntried < POOL_MAX_TRIED) {
            if (!proxy_failed) {
                q->w.tried[q->w.ntried++] = q->key_id;
            }
            if (o == NP_NAI_SERVER && !proxy_failed) {
                defer_strike(q, &info);
            }
            int64_t floor = now_ms() + 5000;
            q->w.deadline_ms = q->w.deadline_ms > floor ? q->w.deadline_ms : floor;
            retry = &q->w;
            np_log_write(NP_LOG_INFO, "pool", q->rid, "key %lld answered %s; trying another key",
                         (long long)q->key_id, np_novelai_outcome_name(o));
        } else {
            failed = true;
        }
    }
    if (retry == NULL) {
        relay_leave_slot(q);
    }
    if (result == NP_ERR_CANCELED) {
        if (q->aborted) {
            relay_reply_client_closed(q);
        } else {
            if (q->open_call != NULL) {
                relay_reply_open_error(q, NP_ERR_CLOSED, NULL, 0);
            }
            snprintf(q->error_class, sizeof(q->error_class), "cancelled");
        }
    } else if (failed) {
        answer_failure(q, o, result);
    }
    bool was_leased = q->leased;
    q->leased = false;
    pool_lease lease = q->lease;
    np_wipe(q->lease.token, sizeof(q->lease.token));
    /* a V5 image that may have been made (a 2xx, even if cut short) used up some allowance */
    bool v5_check = was_leased && retry == NULL && q->need.v5 && q->need.kind == POOL_KIND_IMAGE &&
                    q->status >= 200 && q->status < 300;
    if (retry != NULL) {
        /* the next attempt starts clean */
        pool_xfer_release(q->x);
        q->x = NULL;
        q->status = 0;
        q->passing = q->stream_mode = q->paused = q->up_done = false;
        np_buf_reset(&q->errbody);
        np_buf_reset(&q->buf);
        q->bytes = 0;
    } else if (q->open_call != NULL) {
        /* 4: the whole answer fitted (or was empty), or its first chunk goes now */
        relay_reply_open_ok(q, relay_chunk_bytes(rl));
    } else if (q->next_call != NULL) {
        np_rpc_call *c = q->next_call;
        q->next_call = NULL;
        bool last = true;
        if (q->broken && q->buf.len == 0) {
            np_rpc_reply_error(c, NP_ERR_UPSTREAM, "the upstream stream broke");
        } else {
            last = relay_reply_next(q, c, relay_chunk_bytes(rl));
        }
        if (last) {
            pthread_mutex_unlock(&q->mu);
            relay_table_remove(rl, q);
            pthread_mutex_lock(&q->mu);
        }
    }
    if (retry == NULL) {
        relay_finish(q);
        unlock_settling(q);
    } else {
        pthread_mutex_unlock(&q->mu);
    }
    if (v5_check) {
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
    rreq *q = arg;
    pool_relay *rl = q->rl;
    static const pool_xfer_cb cb = {relay_on_headers, relay_on_body, relay_on_done};
    pthread_mutex_lock(&q->mu);
    q->attempts++;
    q->leased = true;
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
        q->leased = false;
        relay_leave_slot(q);
        relay_reply_client_closed(q);
        relay_finish(q);
        unlock_settling(q);
        pool_sched_release(rl->d.sched, &lease, &info, NULL);
        relay_unref(q); /* the request's own */
        return;
    }
    int64_t timeout_s = np_config_int(rl->d.cfg, "UPSTREAM_TIMEOUT_SECONDS");
    bool stream = q->route->stream || q->need.stream;
    pool_xfer_spec spec = {
        .method = q->method,
        .url = q->url,
        .body = q->body,
        .headers = q->hdr_ptrs,
        .token = q->lease.token,
        .connect_timeout_ms = np_config_int(rl->d.cfg, "UPSTREAM_CONNECT_TIMEOUT_SECONDS") * 1000,
        .timeout_ms = stream ? 0 : timeout_s * 1000,
        .idle_timeout_s =
            stream ? np_config_int(rl->d.cfg, "UPSTREAM_IDLE_TIMEOUT_SECONDS") : timeout_s,
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
        pthread_mutex_unlock(&q->mu);
        return;
    }
    /* Nothing was sent: the key is unharmed. */
    pool_release_info info = {.used = false};
    snprintf(info.rid, sizeof(info.rid), "%s", q->rid);
    pool_lease lease = q->lease;
    q->leased = false;
    relay_leave_slot(q);
    relay_reply_open_error(q, err == NP_ERR_CLOSED ? NP_ERR_CLOSED : NP_ERR_UPSTREAM, NULL, 0);
    relay_finish(q);
    unlock_settling(q);
    pool_sched_release(rl->d.sched, &lease, &info, NULL);
    relay_unref(q); /* the request's own */
}

void
relay_on_timeout(void *arg, pool_waiter *w)
{
    rreq *q = arg;
    (void)w;
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
    relay_finish(q);
    unlock_settling(q); /* no other key answered: an earlier 5xx stays its key's */
    relay_unref(q);     /* the request's own */
}
