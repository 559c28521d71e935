/* The "authenticate" operation: turns a bearer credential (a relay key or a session JWT)
 * into the principal {uid, role, kid}, reading the current user row so that a disabled user,
 * a revoked key, a demotion or a password change takes effect on the next cache miss at the
 * gateway. Relay keys cost one HMAC and one indexed lookup, never argon2. */
#ifndef AUTH_PRINCIPAL_H
#define AUTH_PRINCIPAL_H

#include "np/wire.h"
#include "service.h"

/* auth_principal_answer answers the call: {uid, role, kid}, or an error reply {e, m}:
 * unauthorized (unknown, malformed, disabled or expired credential), forbidden (disabled
 * account), database_unavailable. Runs on an rpc worker. */
void auth_principal_answer(auth_service *s, np_rpc_call *call, const msgpack_object *req);

#endif
