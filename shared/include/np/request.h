/* What every service's HTTP handlers do with a request before its own work: read a strict
 * JSON body, lend a database connection or answer 503, answer 429/503 with Retry-After.
 * The helpers that take the call answer it themselves when they fail (and return false or
 * NULL); np_request_body_parse only says what was wrong, for handlers that gather errors. */
#ifndef NP_REQUEST_H
#define NP_REQUEST_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "np/db.h"
#include "np/httpop.h"

/* np_request_body_parse parses r's body as one JSON object holding only the allowed keys (a
 * NULL-terminated list). *out is the caller's (json_decref). NP_ERR_TOO_LARGE beyond
 * NP_HTTP_BODY_MAX, NP_ERR_BAD_JSON or NP_ERR_INVALID otherwise, with a sentence in why. */
np_err np_request_body_parse(const np_http_req *r, const char *const *allowed, json_t **out,
                             char *why, size_t whylen);
/* np_request_body is np_request_body_parse that answers 400 or 413 itself on failure. */
bool np_request_body(np_rpc_call *call, const np_http_req *r, const char *const *allowed,
                     json_t **out);

/* np_request_reply_retry answers err (429 or 503) with message (NULL: err's own) and a
 * Retry-After of seconds (at least 1). */
void np_request_reply_retry(np_rpc_call *call, np_err err, const char *message, int64_t seconds);

/* np_request_db lends a connection of db, waiting up to wait_ms, or answers 503
 * database_unavailable with Retry-After: 5 and returns NULL. Give it back with
 * np_db_release. */
PGconn *np_request_db(np_rpc_call *call, np_db *db, int wait_ms);

#endif
