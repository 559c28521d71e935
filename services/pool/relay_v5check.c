/* The V5 allowance read after a V5 image (curl thread); see the comment below. */
#include "relay_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/crypto.h"
#include "np/log.h"
#include "np/novelai.h"

/* ---- the V5 allowance check (curl thread) ----
 *
 * NovelAI does not refuse a V5 image once a key's weekly allowance is gone: it bills Anlas.
 * So after every V5 image a key served, its lease is held until GET /user/subscription has
 * been read with its token, and the release stores usage.isNegative and usage.percent: the
 * next request that could get the key is priced on the allowance as it is after this one.
 * A reading that fails counts as "used up" (fail closed) until the key's next probe. */

#define V5CHECK_BODY_MAX 65536
#define V5CHECK_MAGIC 0x56354348u

typedef struct {
    unsigned magic; /* V5CHECK_MAGIC while alive: every callback checks it (v5check_of) */
    pool_relay *rl;
    pool_lease lease; /* its token is wiped once the transfer has its own copy */
    pool_release_info info;
    pool_xfer *x;
    int status;
    np_buf body;
} v5check;

/* v5check_end releases the lease with what the check read, and frees c. */
static void
v5check_end(v5check *c, bool ok)
{
    np_novelai_sub sub;
    bool read = ok && c->status == 200 && np_novelai_sub_parse(c->body.data, c->body.len, &sub);
    c->info.v5_read = true;
    c->info.v5_negative = read ? sub.v5_negative : true;
    c->info.v5_percent = read ? sub.v5_percent : 0.0;
    if (!read) {
        np_log_write(NP_LOG_WARN, "pool", c->info.rid,
                     "key %lld: its V5 allowance could not be read after a V5 image (HTTP %d); "
                     "no free V5 image on it until its next probe",
                     (long long)c->lease.key_id, c->status);
    } else if (c->info.v5_negative) {
        np_log_write(NP_LOG_INFO, "pool", c->info.rid,
                     "key %lld: V5 allowance used up; it serves no more free V5 images",
                     (long long)c->lease.key_id);
    }
    pool_sched_release(c->rl->d.sched, &c->lease, &c->info, NULL);
    pool_xfer_release(c->x);
    np_buf_fini(&c->body);
    c->magic = 0;
    free(c);
}

/* v5check_of: the check behind a callback's arg; NULL (logged, asserted in debug builds)
 * when arg is not a live one. */
static v5check *
v5check_of(void *arg, const char *where)
{
    v5check *c = arg;
    if (c == NULL || c->magic != V5CHECK_MAGIC) {
        np_log_write(NP_LOG_ERROR, "pool", NULL,
                     "%s: not a live V5 allowance check (%p); the call is dropped", where, arg);
        assert(!"relay: a callback's argument is not a live v5check");
        return NULL;
    }
    return c;
}

static void
v5check_on_headers(void *arg, pool_xfer *x)
{
    v5check *c = v5check_of(arg, "v5check_on_headers");
    if (c != NULL) {
        c->status = pool_xfer_status(x);
    }
}

static size_t
v5check_on_body(void *arg, const char *p, size_t n)
{
    v5check *c = v5check_of(arg, "v5check_on_body");
    if (c == NULL) {
        return 0; /* aborts the transfer */
    }
    size_t room = V5CHECK_BODY_MAX - c->body.len;
    np_buf_append(&c->body, p, n < room ? n : room);
    return n;
}

static void
v5check_on_done(void *arg, pool_xfer *x, np_err result, bool maybe_sent)
{
    (void)x;
    (void)maybe_sent;
    v5check *c = v5check_of(arg, "v5check_on_done");
    if (c != NULL) {
        v5check_end(c, result == NP_ERR_OK);
    }
}

/* v5check_start reads the allowance of lease's key (consumed: it is released when the check
 * ends, with info). */
void
relay_v5check_start(pool_relay *rl, pool_lease *lease, const pool_release_info *info)
{
    static const pool_xfer_cb cb = {v5check_on_headers, v5check_on_body, v5check_on_done};
    static const char *const headers[] = {"accept: application/json", NULL};
    v5check *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        pool_release_info closed = *info;
        closed.v5_read = true;
        closed.v5_negative = true; /* fail closed */
        pool_sched_release(rl->d.sched, lease, &closed, NULL);
        return;
    }
    c->magic = V5CHECK_MAGIC;
    c->rl = rl;
    c->lease = *lease;
    np_wipe(lease->token, sizeof(lease->token));
    c->info = *info;
    np_buf_init(&c->body, V5CHECK_BODY_MAX);
    char base[1024], url[1100], proxy[1100] = "";
    NP_SETTING_COPY(rl->d.cfg, pool, NOVELAI_IMAGE_BASE, base, sizeof(base));
    snprintf(url, sizeof(url), "%s/user/subscription", base);
    int64_t proxy_id = 0;
    np_err err = rl->d.proxies != NULL ? pool_proxies_for_key(rl->d.proxies, c->lease.key_id,
                                                              &proxy_id, proxy, sizeof(proxy))
                                       : NP_ERR_OK;
    long timeout_ms =
        (long)NP_SETTING_NOW(rl->d.cfg, pool, UPSTREAM_CONNECT_TIMEOUT_SECONDS) * 1000;
    pool_xfer_spec spec = {
        .method = "GET",
        .url = url,
        .headers = headers,
        .token = c->lease.token,
        .connect_timeout_ms = timeout_ms,
        .timeout_ms = 2 * timeout_ms,
        .idle_timeout_s = timeout_ms / 1000,
        .proxy = proxy,
    };
    c->x = err == NP_ERR_OK ? pool_xfer_new(&spec, &cb, c) : NULL;
    np_wipe(proxy, sizeof(proxy));
    np_wipe(c->lease.token, sizeof(c->lease.token));
    if (c->x == NULL || pool_upstream_start(rl->d.up, c->x) != NP_ERR_OK) {
        v5check_end(c, false); /* nothing was asked: what is known is not enough */
    }
}
