/* Writing answers: the headers every response carries, the HTTP error shape, JSON bodies. */
#ifndef GW_RESPOND_H
#define GW_RESPOND_H

#include "np/errors.h"
#include "server.h"

/* gw_request_new prepares the per-request context (request id, route group, start time). */
gw_request *gw_request_new(h2o_req_t *req, int route_group);

/* gw_respond sends a whole body (copied into the request pool) with status and type. */
void gw_respond(gw_request *r, int status, const char *ctype, const char *body, size_t len);
/* gw_respond_err sends err's answer from errors.def: its status and {"error": its code,
 * "message": message, or errors.def's message when message is NULL or empty}. Every error
 * answer of the gateway goes through here. */
void gw_respond_err(gw_request *r, np_err err, const char *message);
/* gw_add_header adds a response header (name lowercase), copying value. */
void gw_add_header(gw_request *r, const char *name, const char *value, size_t len);
/* gw_common_headers adds X-Request-Id, X-NovelAIPool-Node and CORS headers; every path that
 * starts a response calls it once. */
void gw_common_headers(gw_request *r);
/* gw_observe records the request in the metrics (call when the answer starts). */
void gw_observe(gw_request *r, int status);
/* gw_status_reason returns the reason phrase for a status. */
const char *gw_status_reason(int status);

#include "np/wire.h"

/* gw_apply_headers copies a service's header map {name: value} onto the response, keeping
 * only names a service may set (never hop-by-hop headers or Content-Length). Returns the
 * content type found, or NULL. */
void gw_apply_headers(gw_request *r, const msgpack_object *h);

#ifdef NP_TESTING
/* Internals (np/testing.h), for respond_test.c: a client's X-Request-Id worth echoing; an
 * Origin in CORS_ALLOW_ORIGINS; a header name a service may set on the response. */
bool valid_rid(const char *s, size_t n);
bool origin_allowed(const gw_gateway *gw, const char *origin, size_t n);
bool header_allowed(const char *name, size_t n);
#endif
#endif
