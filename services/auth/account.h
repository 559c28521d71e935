/* The account routes: POST /auth/register, POST /auth/login, GET /auth/me and
 * POST /auth/password. Input checks, throttling and lookups run on the rpc worker; argon2id
 * and the writes that depend on it run as a job on the hashing pool, which answers the
 * deferred call. */
#ifndef AUTH_ACCOUNT_H
#define AUTH_ACCOUNT_H

#include "np/httpop.h"
#include "service.h"

/* auth_account_http answers one /auth/... request (r->op says which). */
void auth_account_http(auth_service *s, np_rpc_call *call, const np_http_req *r);

#endif
