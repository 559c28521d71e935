/* The curl thread: one multi handle, a locked job queue, curl_multi_poll with
 * curl_multi_wakeup. See upstream.h for the state flow of a transfer. */
#include "upstream.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "np/crypto.h"
#include "np/list.h"
#include "np/log.h"

/* Set while a transfer is alive and checked by xfer_of on every entry from curl (a header,
 * a body chunk, a finished transfer), so a stale or foreign pointer is caught there. */
#define XFER_MAGIC 0x58464552u

struct pool_xfer {
    unsigned magic;
    atomic_int refs;
    CURL *easy;
    struct curl_slist *headers;
    pool_body *body;
    pool_xfer_cb cb;
    void *arg;
    /* curl thread only */
    np_list_node running; /* on the running list, while in_multi */
    bool in_multi;
    bool headers_told;
    bool done;
    bool via_proxy;    /* a proxy was set */
    bool proxy_failed; /* the transfer failed at that proxy (map_result) */
    long proxy_code;   /* the proxy's answer to CONNECT then (0: none) */
    int status;
    char ctype[160];
    char cenc[64];
    char cdisp[160]; /* Content-Disposition (a file name for downloads) */
    char retry[32];  /* Retry-After */
    char errbuf[CURL_ERROR_SIZE];
};

enum job_kind { JOB_START, JOB_RESUME, JOB_CANCEL };

typedef struct job {
    enum job_kind kind;
    pool_xfer *x; /* the job holds a reference */
    np_list_node link;
} job;

struct pool_upstream {
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t mu;
    np_list jobs; /* of job, FIFO; under mu */
    bool stopping;
    np_list running; /* of pool_xfer in the multi; curl thread only */
};

struct pool_body {
    atomic_int refs;
    size_t len;
    char data[];
};

pool_body *
pool_body_new(const void *data, size_t len)
{
    pool_body *b = malloc(sizeof(*b) + len);
    if (b == NULL) {
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->len = len;
    memcpy(b->data, data, len);
    return b;
}

pool_body *
pool_body_ref(pool_body *b)
{
    atomic_fetch_add(&b->refs, 1);
    return b;
}

void
pool_body_unref(pool_body *b)
{
    if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1) {
        free(b);
    }
}

size_t
pool_body_len(const pool_body *b)
{
    return b != NULL ? b->len : 0;
}

static void
xfer_ref(pool_xfer *x)
{
    atomic_fetch_add(&x->refs, 1);
}

static void
wipe_slist(struct curl_slist *l)
{
    for (; l != NULL; l = l->next) {
        np_wipe(l->data, strlen(l->data));
    }
}

void
pool_xfer_release(pool_xfer *x)
{
    if (x == NULL || atomic_fetch_sub(&x->refs, 1) != 1) {
        return;
    }
    curl_easy_cleanup(x->easy);
    wipe_slist(x->headers);
    curl_slist_free_all(x->headers);
    pool_body_unref(x->body);
    x->magic = 0;
    free(x);
}

/* xfer_of gives the live transfer arg points at, or NULL (logged; an assert in debug builds)
 * when it is not one: the caller then drops the call. */
static pool_xfer *
xfer_of(void *arg, const char *where)
{
    pool_xfer *x = arg;
    if (x == NULL || x->magic != XFER_MAGIC) {
        np_log_write(NP_LOG_ERROR, "pool", NULL,
                     "%s: not a live upstream transfer (%p); the call is dropped", where, arg);
        assert(!"upstream: a curl callback's argument is not a live pool_xfer");
        return NULL;
    }
    return x;
}

/* The headers are final when the status is not 1xx; before the first body byte (or the end)
 * the consumer learns them. */
static void
tell_headers(pool_xfer *x)
{
    if (x->headers_told) {
        return;
    }
    x->headers_told = true;
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    x->status = (int)code;
    if (x->cb.on_headers != NULL) {
        x->cb.on_headers(x->arg, x);
    }
}

static void
copy_value(char *out, size_t outlen, const char *v, size_t n)
{
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) {
        n--;
    }
    if (n >= outlen) {
        n = outlen - 1; /* an absurd header is cut, never overflowed */
    }
    memcpy(out, v, n);
    out[n] = '\0';
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
    pool_xfer *x = xfer_of(arg, "on_header");
    if (x == NULL) {
        return 0; /* aborts the transfer */
    }
    size_t len = size * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): forget the previous one's headers. */
        x->ctype[0] = x->cenc[0] = x->cdisp[0] = x->retry[0] = '\0';
    } else if (len > 13 && strncasecmp(p, "content-type:", 13) == 0) {
        copy_value(x->ctype, sizeof(x->ctype), p + 13, len - 13);
    } else if (len > 17 && strncasecmp(p, "content-encoding:", 17) == 0) {
        copy_value(x->cenc, sizeof(x->cenc), p + 17, len - 17);
    } else if (len > 20 && strncasecmp(p, "content-disposition:", 20) == 0) {
        copy_value(x->cdisp, sizeof(x->cdisp), p + 20, len - 20);
    } else if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        copy_value(x->retry, sizeof(x->retry), p + 12, len - 12);
    }
    return len;
}

static size_t
on_write(char *p, size_t size, size_t n, void *arg)
{
    pool_xfer *x = xfer_of(arg, "on_write");
    if (x == NULL) {
        return 0; /* aborts the transfer */
    }
    tell_headers(x);
    return x->cb.on_body(x->arg, p, size * n);
}

pool_xfer *
pool_xfer_new(const pool_xfer_spec *spec, const pool_xfer_cb *cb, void *arg)
{
    pool_xfer *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return NULL;
    }
    x->magic = XFER_MAGIC;
    atomic_init(&x->refs, 1);
    x->cb = *cb;
    x->arg = arg;
    x->easy = curl_easy_init();
    bool ok = x->easy != NULL;
    if (ok && spec->body != NULL) {
        x->body = pool_body_ref(spec->body);
    }
    for (int i = 0; ok && spec->headers != NULL && spec->headers[i] != NULL; i++) {
        struct curl_slist *l = curl_slist_append(x->headers, spec->headers[i]);
        ok = l != NULL;
        x->headers = ok ? l : x->headers;
    }
    /* curl adds these on its own; the upstream gets only what the allow-list let through. */
    static const char *const suppress[] = {"Expect:", "Accept-Encoding:", NULL};
    for (int i = 0; ok && suppress[i] != NULL; i++) {
        struct curl_slist *l = curl_slist_append(x->headers, suppress[i]);
        ok = l != NULL;
        x->headers = ok ? l : x->headers;
    }
    if (ok && spec->token != NULL) {
        char auth[300];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", spec->token);
        struct curl_slist *l = curl_slist_append(x->headers, auth);
        np_wipe(auth, sizeof(auth));
        ok = l != NULL;
        x->headers = ok ? l : x->headers;
    }
    if (!ok) {
        pool_xfer_release(x);
        return NULL;
    }
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, spec->url);
    curl_easy_setopt(e, CURLOPT_PROXY, spec->proxy != NULL ? spec->proxy : "");
    x->via_proxy = spec->proxy != NULL && spec->proxy[0] != '\0';
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "naipool/" NP_VERSION);
    if (strcmp(spec->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body != NULL ? x->body->data : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)pool_body_len(x->body));
        if (strcmp(spec->method, "POST") != 0) {
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, spec->method);
        }
    }
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, spec->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, spec->timeout_ms);
    if (spec->idle_timeout_s > 0) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, spec->idle_timeout_s);
    }
    return x;
}

bool
pool_xfer_proxy_failed(const pool_xfer *x)
{
    return x->proxy_failed;
}

long
pool_xfer_proxy_code(const pool_xfer *x)
{
    return x->proxy_code;
}

int
pool_xfer_status(const pool_xfer *x)
{
    return x->status;
}

const char *
pool_xfer_content_type(const pool_xfer *x)
{
    return x->ctype;
}

const char *
pool_xfer_content_encoding(const pool_xfer *x)
{
    return x->cenc;
}

const char *
pool_xfer_content_disposition(const pool_xfer *x)
{
    return x->cdisp;
}

const char *
pool_xfer_retry_after(const pool_xfer *x)
{
    return x->retry;
}

static np_err
post_job(pool_upstream *u, enum job_kind kind, pool_xfer *x)
{
    job *j = malloc(sizeof(*j));
    if (j == NULL) {
        return NP_ERR_NOMEM;
    }
    xfer_ref(x);
    j->kind = kind;
    j->x = x;
    pthread_mutex_lock(&u->mu);
    if (u->stopping) {
        pthread_mutex_unlock(&u->mu);
        pool_xfer_release(x);
        free(j);
        return NP_ERR_CLOSED;
    }
    np_list_push_back(&u->jobs, &j->link);
    pthread_mutex_unlock(&u->mu);
    curl_multi_wakeup(u->multi);
    return NP_ERR_OK;
}

np_err
pool_upstream_start(pool_upstream *u, pool_xfer *x)
{
    return post_job(u, JOB_START, x);
}

void
pool_upstream_resume(pool_upstream *u, pool_xfer *x)
{
    post_job(u, JOB_RESUME, x);
}

void
pool_upstream_cancel(pool_upstream *u, pool_xfer *x)
{
    post_job(u, JOB_CANCEL, x);
}

/* Ends a transfer on the curl thread: out of the multi, on_done once, the thread's reference
 * dropped. */
static void
finish(pool_upstream *u, pool_xfer *x, np_err result, bool maybe_sent)
{
    if (x->done) {
        return;
    }
    x->done = true;
    if (x->in_multi) {
        curl_multi_remove_handle(u->multi, x->easy);
        x->in_multi = false;
        np_list_remove(&x->running);
    }
    if (result != NP_ERR_CANCELED) {
        tell_headers(x);
    }
    x->cb.on_done(x->arg, x, result, maybe_sent);
    pool_xfer_release(x);
}

static void
run_jobs(pool_upstream *u, bool stopping)
{
    np_list batch; /* the jobs queued so far, taken in one go */
    np_list_init(&batch);
    pthread_mutex_lock(&u->mu);
    np_list_take(&batch, &u->jobs);
    pthread_mutex_unlock(&u->mu);
    job *j;
    while ((j = NP_LIST_ENTRY(np_list_pop_front(&batch), job, link)) != NULL) {
        pool_xfer *x = j->x;
        switch (j->kind) {
        case JOB_START:
            xfer_ref(x); /* the multi's reference, dropped in finish */
            if (!stopping && curl_multi_add_handle(u->multi, x->easy) == CURLM_OK) {
                x->in_multi = true;
                np_list_push_front(&u->running, &x->running);
            } else {
                finish(u, x, stopping ? NP_ERR_CANCELED : NP_ERR_UPSTREAM, false);
            }
            break;
        case JOB_RESUME:
            if (x->in_multi && !x->done) {
                /* may call on_write at once, with the bytes curl kept */
                curl_easy_pause(x->easy, CURLPAUSE_CONT);
            }
            break;
        case JOB_CANCEL:
            if (x->in_multi && !x->done) {
                finish(u, x, NP_ERR_CANCELED, true);
            }
            break;
        }
        pool_xfer_release(x); /* the job's reference */
        free(j);
    }
}

/* Whether a failed transfer through a proxy failed at the proxy rather than at NovelAI: the
 * proxy could not be resolved or reached (through a proxy, curl's only connection is to the
 * proxy), its handshake failed, or it refused the CONNECT tunnel. */
static bool
proxy_failure(pool_xfer *x, CURLcode rc)
{
    long code = 0;
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PROXY: return true;
    default:
        return x->status == 0 &&
               curl_easy_getinfo(x->easy, CURLINFO_HTTP_CONNECTCODE, &code) == CURLE_OK &&
               code >= 400;
    }
}

static void
map_result(pool_xfer *x, CURLcode rc, np_err *err, bool *maybe_sent)
{
    *maybe_sent = true;
    switch (rc) {
    case CURLE_OK: *err = NP_ERR_OK; return;
    case CURLE_OPERATION_TIMEDOUT: *err = NP_ERR_UPSTREAM_TIMEOUT; break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        *err = NP_ERR_UPSTREAM;
        *maybe_sent = false;
        break;
    default: *err = NP_ERR_UPSTREAM; break;
    }
    long sent = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &sent) == CURLE_OK && sent == 0 &&
        x->status == 0) {
        *maybe_sent = false;
    }
    x->proxy_failed = x->via_proxy && proxy_failure(x, rc);
    if (x->proxy_failed &&
        curl_easy_getinfo(x->easy, CURLINFO_HTTP_CONNECTCODE, &x->proxy_code) != CURLE_OK) {
        x->proxy_code = 0;
    }
    /* The message names the host at most; never a header. */
    np_log_warn("pool", "upstream transfer failed: %s (%s)", curl_easy_strerror(rc),
                x->errbuf[0] ? x->errbuf : "-");
}

static void *
thread_main(void *arg)
{
    pool_upstream *u = arg;
    for (;;) {
        run_jobs(u, false);
        pthread_mutex_lock(&u->mu);
        bool stop = u->stopping;
        pthread_mutex_unlock(&u->mu);
        if (stop) {
            break;
        }
        int running = 0;
        curl_multi_perform(u->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(u->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE) {
                continue;
            }
            char *priv = NULL;
            CURLcode rc = m->data.result;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            pool_xfer *x = xfer_of(priv, "transfer done");
            if (x == NULL) {
                continue;
            }
            np_err err;
            bool maybe_sent;
            if (rc != CURLE_OK) {
                tell_headers(x);
            }
            map_result(x, rc, &err, &maybe_sent);
            finish(u, x, err, maybe_sent);
        }
        curl_multi_poll(u->multi, NULL, 0, 1000, NULL);
    }
    /* Stopping: refuse what was queued, end what is still running. */
    run_jobs(u, true);
    while (!np_list_empty(&u->running)) {
        finish(u, NP_LIST_ENTRY(np_list_first(&u->running), pool_xfer, running), NP_ERR_CANCELED,
               true);
    }
    return NULL;
}

np_err
pool_upstream_open(pool_upstream **out)
{
    pool_upstream *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        return NP_ERR_NOMEM;
    }
    np_list_init(&u->jobs);
    np_list_init(&u->running);
    u->multi = curl_multi_init();
    if (u->multi == NULL) {
        free(u);
        return NP_ERR_NOMEM;
    }
    curl_multi_setopt(u->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(u->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, 256L);
    pthread_mutex_init(&u->mu, NULL);
    if (pthread_create(&u->thread, NULL, thread_main, u) != 0) {
        curl_multi_cleanup(u->multi);
        pthread_mutex_destroy(&u->mu);
        free(u);
        return NP_ERR_SYSTEM;
    }
    *out = u;
    return NP_ERR_OK;
}

void
pool_upstream_close(pool_upstream *u)
{
    if (u == NULL) {
        return;
    }
    pthread_mutex_lock(&u->mu);
    u->stopping = true;
    pthread_mutex_unlock(&u->mu);
    curl_multi_wakeup(u->multi);
    pthread_join(u->thread, NULL);
    curl_multi_cleanup(u->multi);
    pthread_mutex_destroy(&u->mu);
    free(u);
}
