/* What every auth HTTP handler does with its request and its answer: a strict JSON body, the
 * error shape, a database connection or a 503, Retry-After on 429 and 503. Each helper that
 * returns false (or NULL) has already answered the call. */
#ifndef AUTH_REQUEST_H
#define AUTH_REQUEST_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "np/httpop.h"
#include "service.h"

/* The largest body an auth route accepts (413 beyond). */
#define AUTH_BODY_MAX 65536

/* auth_body_read parses r's body as one JSON object holding only the allowed keys (a NULL
 * terminated list); the caller owns *out. On failure it answers 400 or 413 naming what was
 * wrong and returns false. */
bool auth_body_read(np_rpc_call *call, const np_http_req *r, const char *const *allowed,
                    json_t **out);

/* auth_reply_invalid answers 400 bad_request with the sentence why. */
void auth_reply_invalid(np_rpc_call *call, const char *why);
/* auth_reply_retry answers err (429 or 503) with a Retry-After of seconds. */
void auth_reply_retry(np_rpc_call *call, np_err err, const char *message, int64_t seconds);

/* auth_db_get lends a database connection, or answers 503 and returns NULL. */
PGconn *auth_db_get(auth_service *s, np_rpc_call *call);
void auth_db_put(auth_service *s, PGconn *c);

/* auth_id_text writes id in decimal into buf (24 bytes) and returns buf, for SQL parameters. */
char *auth_id_text(int64_t id, char buf[24]);

/* auth_json_time returns a JSON string for an ISO 8601 time, or null for an empty value. */
json_t *auth_json_time(const char *text);

#endif
