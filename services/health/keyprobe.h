/* One subscription probe of one contributed key: take the key's probe lease (so no two
 * probes of a key overlap, across instances), decrypt its token, GET
 * {NOVELAI_IMAGE_BASE}/user/subscription (through the key's proxy in proxy_pool mode),
 * decide the new state (keystate.h) and write it together with tier, Anlas and the V5
 * allowance, in one transaction that first gives the lease back; a prober whose lease was
 * taken over (it froze past the lease) finds it gone and its late result is discarded. */
#ifndef HEALTH_KEYPROBE_H
#define HEALTH_KEYPROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "np/config.h"
#include "np/db.h"
#include "np/errors.h"
#include "np/events.h"

typedef struct {
    np_db *db;
    const np_config *cfg;
    np_events *events;
    const char *holder; /* this instance's id, the lease holder */
} health_probe_env;

/* health_keyprobe_run probes key_id. forced: an admin's check (bad answers count at once,
 * and it waits up to 3 s for a running probe of the same key to finish).
 * On success *key_out (may be NULL) receives the key as the admin sees it (json_decref).
 * NP_ERR_NOT_FOUND: no such key; NP_ERR_CONFLICT: another probe of the key is running (not
 * forced, or it outlasted the wait); NP_ERR_DB; NP_ERR_CRYPTO: the token does not open. */
np_err health_keyprobe_run(const health_probe_env *env, int64_t key_id, bool forced,
                           json_t **key_out);

/* health_key_json reads key_id as the admin sees it (no token, no ciphertext). */
np_err health_key_json(PGconn *conn, int64_t key_id, json_t **out);

#endif
