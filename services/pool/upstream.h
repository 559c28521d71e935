/* The upstream HTTP client: one thread drives one libcurl multi handle for the life of the
 * process (so connections, TLS sessions and HTTP/2 streams are reused), and every other
 * thread talks to it through a locked job queue plus curl_multi_wakeup. Bytes pass through
 * untouched (no Accept-Encoding), and a consumer that cannot take more pauses its transfer.
 *
 * State flow of one transfer:
 *   1. pool_xfer_new (any thread): the easy handle is configured; one reference, the caller's.
 *   2. pool_upstream_start: queued; the curl thread adds it to the multi (its own reference).
 *   3. on the curl thread: on_headers once the status is known (before the first body byte,
 *      or before on_done for an empty body); on_body for each piece, which the consumer takes
 *      whole or refuses with CURL_WRITEFUNC_PAUSE (curl keeps it and offers it again).
 *   4. pool_upstream_resume (any thread): the curl thread unpauses the transfer.
 *   5. completion, a timeout, or pool_upstream_cancel: the curl thread removes the handle and
 *      calls on_done exactly once, then drops its reference.
 * Callbacks run on the curl thread and must not block (no database, no waiting). */
#ifndef POOL_UPSTREAM_H
#define POOL_UPSTREAM_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "np/errors.h"

typedef struct pool_upstream pool_upstream;
typedef struct pool_xfer pool_xfer;

typedef struct {
    void (*on_headers)(void *arg, pool_xfer *x);
    /* returns n (taken) or CURL_WRITEFUNC_PAUSE (not taken; offered again after resume) */
    size_t (*on_body)(void *arg, const char *p, size_t n);
    /* result: NP_ERR_OK (a whole answer), NP_ERR_UPSTREAM (connection or protocol failure),
     * NP_ERR_UPSTREAM_TIMEOUT, or NP_ERR_CANCELED. maybe_sent is false only when the request
     * surely never reached the upstream (no connection was made). */
    void (*on_done)(void *arg, pool_xfer *x, np_err result, bool maybe_sent);
} pool_xfer_cb;

/* A request body shared by a relayed request and each of its transfers (a retry on another
 * key sends it again), so that the pool holds one copy of it. pool_body_new copies data once
 * and returns it with one reference, NULL on no memory; pool_body_ref adds a reference and
 * returns b; pool_body_unref drops one (NULL accepted) and frees the body with the last. */
typedef struct pool_body pool_body;
pool_body *pool_body_new(const void *data, size_t len);
pool_body *pool_body_ref(pool_body *b);
void pool_body_unref(pool_body *b);
size_t pool_body_len(const pool_body *b);

typedef struct {
    const char *method; /* "GET" or "POST" */
    const char *url;
    pool_body *body; /* NULL: none; the transfer keeps a reference until it is released */
    const char *const *headers; /* "Name: value" lines, NULL-terminated; copied */
    const char *token;          /* sent as Authorization: Bearer; wiped from memory after */
    long connect_timeout_ms;
    long timeout_ms;     /* whole transfer; 0: none */
    long idle_timeout_s; /* abort when no byte arrived for this long; 0: none */
    const char *proxy;   /* CURLOPT_PROXY (pool_proxies_for_key; copied); NULL or
                          * "": a direct connection, never an environment proxy */
} pool_xfer_spec;

/* pool_upstream_open starts the curl thread. */
np_err pool_upstream_open(pool_upstream **out);
/* pool_upstream_close cancels every transfer (on_done runs with NP_ERR_CANCELED), stops the
 * thread and frees; NULL is accepted. */
void pool_upstream_close(pool_upstream *u);

/* pool_xfer_new builds a transfer; NULL on no memory. cb and arg must outlive on_done. */
pool_xfer *pool_xfer_new(const pool_xfer_spec *spec, const pool_xfer_cb *cb, void *arg);
/* pool_xfer_release drops the caller's reference; NULL is accepted. */
void pool_xfer_release(pool_xfer *x);

/* pool_upstream_start hands x to the curl thread (which takes its own reference). On an
 * error on_done is not called. */
np_err pool_upstream_start(pool_upstream *u, pool_xfer *x);
/* pool_upstream_resume: the consumer has room again; unpause. */
void pool_upstream_resume(pool_upstream *u, pool_xfer *x);
/* pool_upstream_cancel aborts the transfer (on_done runs with NP_ERR_CANCELED unless it has
 * already finished). */
void pool_upstream_cancel(pool_upstream *u, pool_xfer *x);

/* pool_xfer_proxy_failed: the transfer went through a proxy and failed at the proxy
 * (unresolvable, unreachable, handshake failed, tunnel refused); read it from on_done. */
bool pool_xfer_proxy_failed(const pool_xfer *x);
/* pool_xfer_proxy_code: the proxy's answer to CONNECT when it failed (0: none). */
long pool_xfer_proxy_code(const pool_xfer *x);
/* Set before on_headers; read them from on_headers on or later. */
int pool_xfer_status(const pool_xfer *x);
const char *pool_xfer_content_type(const pool_xfer *x);     /* "" when absent */
const char *pool_xfer_content_encoding(const pool_xfer *x); /* "" when absent */
/* The two other headers passed back to the client (NOVELAI.md); "" when absent, cut at 159
 * and 31 bytes. */
const char *pool_xfer_content_disposition(const pool_xfer *x);
const char *pool_xfer_retry_after(const pool_xfer *x);

#endif
