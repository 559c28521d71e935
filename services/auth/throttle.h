/* Login and registration throttling, kept in Postgres so every auth instance shares it.
 *
 * - Per client address bucket (an IPv4 address or an IPv6 /64, auth_throttle_addr): a fixed
 *   one-minute window of sign-in or sign-up requests (table auth_throttle).
 * - Per (account name, address bucket): failed sign-ins; the pair locks once it reaches a
 *   threshold, so failures from one address never lock the account for another.
 * - Per account name: every address's failures together drive a growing delay, which holds
 *   back only addresses that have failed on that name themselves.
 * A password check reserves its failure slot before the hash runs (auth_login_reserve) and
 * gives it back when the password was right (auth_login_refund), so parallel guesses cannot
 * all pass the check first. Names are throttled whether or not an account has them, so a
 * refusal tells nothing about which accounts exist. Times come from the database clock, the
 * one every instance shares (tables and functions: migration 0009). */
#ifndef AUTH_THROTTLE_H
#define AUTH_THROTTLE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "np/errors.h"

/* AUTH_ADDR_MAX is the size of an address bucket's text. */
#define AUTH_ADDR_MAX 64

/* auth_throttle_addr writes the bucket of the textual client address ip into out: the
 * address itself for IPv4 (also when written IPv4-mapped), its /64 for IPv6 ("2001:db8:1:2::/64"),
 * and the text unchanged for anything else ("unknown"). */
void auth_throttle_addr(const char *ip, char out[AUTH_ADDR_MAX]);

/* auth_throttle_hit counts one request in the bucket "<kind>-ip:<address bucket of ip>" and
 * answers NP_ERR_RATE_LIMITED with *retry_after (seconds) when the window holds more than
 * limit requests; limit 0 turns the check off. NP_ERR_DB on database failure. */
np_err auth_throttle_hit(PGconn *c, const char *kind, const char *ip, int64_t limit,
                         int64_t *retry_after);

/* The settings of one reservation. */
typedef struct {
    int64_t threshold;  /* failures that lock a (name, address) pair; 0: no lock */
    int64_t minutes;    /* how long failures count */
    int64_t slow_after; /* account failures before the delay starts; 0: no delay */
    int64_t slow_max;   /* the longest delay, seconds */
} auth_lockout_opts;

/* auth_login_reserve counts an attempt on name (lower case) from ip as a failure before its
 * password is checked. NP_ERR_LOCKED when this address has reached the threshold on name,
 * NP_ERR_RATE_LIMITED when it has failed on name and the account's delay has not passed;
 * *retry_after then holds the wait in seconds. NP_ERR_DB on database failure. */
np_err auth_login_reserve(PGconn *c, const char *name, const char *ip, const auth_lockout_opts *o,
                          int64_t *retry_after);
/* auth_login_refund gives the reserved slot back after a right password: this address's
 * failures on name are forgotten. */
np_err auth_login_refund(PGconn *c, const char *name, const char *ip);
/* auth_lockout_clear forgets every failure counted on name (an admin's reset). */
np_err auth_lockout_clear(PGconn *c, const char *name);

/* auth_throttle_prune deletes windows and failures older than a day. */
np_err auth_throttle_prune(PGconn *c);

#endif
