/* Login and registration throttling, kept in Postgres (table auth_throttle) so every auth
 * instance shares it: a fixed one-minute window of hits per client IP, and per account name
 * a count of failed sign-ins that locks the name for a while once it reaches a threshold.
 * Names are throttled whether or not an account has them, so a lockout tells nothing about
 * which accounts exist. Times come from the database clock, the one every instance shares. */
#ifndef AUTH_THROTTLE_H
#define AUTH_THROTTLE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "np/errors.h"

/* auth_throttle_hit counts one request in the bucket "<kind>:<ip>" and answers
 * NP_ERR_RATE_LIMITED with *retry_after (seconds) when the window holds more than limit
 * requests; limit 0 turns the check off. NP_ERR_DB on database failure. */
np_err auth_throttle_hit(PGconn *c, const char *kind, const char *ip, int64_t limit,
                         int64_t *retry_after);

/* auth_lockout_check answers NP_ERR_LOCKED with *retry_after when the name (lower case) has
 * threshold failures, the last less than minutes ago; threshold 0 turns lockout off. */
np_err auth_lockout_check(PGconn *c, const char *name, int64_t threshold, int64_t minutes,
                          int64_t *retry_after);
/* auth_lockout_fail counts one failure for name; a failure more than minutes after the
 * previous one starts the count again. *failures receives the new count. */
np_err auth_lockout_fail(PGconn *c, const char *name, int64_t minutes, int64_t *failures);
/* auth_lockout_clear forgets the failures of name (after a successful sign-in or a reset). */
np_err auth_lockout_clear(PGconn *c, const char *name);

/* auth_throttle_prune deletes windows older than a day. */
np_err auth_throttle_prune(PGconn *c);

#endif
