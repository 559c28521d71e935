/* The auth service's request helpers: its database with its wait, SQL id text, JSON times.
 * What every service does (strict JSON bodies, Retry-After, a 503 without a database) is in
 * np/request.h. auth_db_get has answered the call when it returns NULL. */
#ifndef AUTH_REQUEST_H
#define AUTH_REQUEST_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "np/httpop.h"
#include "np/request.h"
#include "service.h"

/* auth_db_get lends a database connection, or answers 503 and returns NULL. */
PGconn *auth_db_get(auth_service *s, np_rpc_call *call);
void auth_db_put(auth_service *s, PGconn *c);

/* auth_id_text writes id in decimal into buf (24 bytes) and returns buf, for SQL parameters. */
char *auth_id_text(int64_t id, char buf[24]);

/* auth_json_time returns a JSON string for an ISO 8601 time, or null for an empty value. */
json_t *auth_json_time(const char *text);

#endif
