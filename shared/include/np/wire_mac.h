/* Authenticated messages between services: every NNG message carries a trailer
 *   sender (8 bytes) | counter (8) | time in ms (8) | HMAC-SHA256 (32)
 * appended to its body, the MAC taken over the body and the first 24 trailer bytes under a key
 * derived from INTERNAL_SECRET. A receiver drops a message whose MAC is wrong, whose time is
 * more than NP_WIRE_MAC_WINDOW_MS away from its own clock, or whose (sender, counter) it has
 * seen (a sliding window per sender), so a process that can reach a service port but does
 * not hold the secret can neither speak nor replay what it overheard. Without a secret
 * (np_wire_auth_setup never called: `naipool all` on inproc://) nothing is added or checked.
 * The trailer sits at the end so pub/sub topic prefixes still match. */
#ifndef NP_WIRE_MAC_H
#define NP_WIRE_MAC_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stdint.h>

#include "np/errors.h"

#define NP_WIRE_MAC_TRAILER 56
#define NP_WIRE_MAC_WINDOW_MS 30000

/* np_wire_auth_setup derives the process's message key from secret (INTERNAL_SECRET) and
 * picks this process's random sender id. Call once at start-up, before any socket opens. */
np_err np_wire_auth_setup(const char *secret);
/* np_wire_auth_enabled tells whether messages are sealed and checked. */
bool np_wire_auth_enabled(void);

/* np_wire_seal appends the trailer to msg (no-op when not enabled). NP_ERR_NOMEM. */
np_err np_wire_seal(nng_msg *msg);

/* One receiving socket's replay window and its count of dropped messages. */
typedef struct np_wire_guard np_wire_guard;
np_wire_guard *np_wire_guard_new(void);
void np_wire_guard_free(np_wire_guard *g);
/* np_wire_open checks msg's trailer and removes it (no-op when not enabled). NP_ERR_UNAUTHORIZED
 * when it is missing, forged, stale or replayed; the drop is counted. */
np_err np_wire_open(np_wire_guard *g, nng_msg *msg);
/* np_wire_guard_dropped returns how many messages g refused. */
uint64_t np_wire_guard_dropped(np_wire_guard *g);

#endif
