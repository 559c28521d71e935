/* The auth service's insides shared by its modules: the service object every handler works
 * with. Public life cycle in auth.h; this header is for the service's own modules. */
#ifndef AUTH_SERVICE_H
#define AUTH_SERVICE_H

#include <stdint.h>

#include "auth.h"
#include "flusher.h"
#include "np/crypto.h"
#include "np/httpop.h"
#include "np/service.h"
#include "passwords.h"
#include "workpool.h"

struct auth_service {
    np_service base;                /* config, database, events, rpc server */
    uint8_t jwt_key[NP_KEY_LEN];    /* np_key_derive(SECRET_KEY, "jwt") */
    uint8_t relay_key[NP_KEY_LEN];  /* np_key_derive(SECRET_KEY, "relay-key") */
    char dummy_hash[AUTH_HASH_MAX]; /* verified for unknown users, so they cost the same */
    auth_workpool *hashers;         /* argon2id and the writes that follow it */
    auth_flusher *flusher;          /* batched last_used_at, throttle pruning */
    np_rpc_client *pool;            /* user.limits */
};

/* The database wait of a handler before it answers 503. */
#define AUTH_DB_WAIT_MS 3000

/* Handlers read settings when they run (NP_SETTING_NOW(s->base.cfg, auth, NAME), settings.h),
 * so values an admin changes at run time apply to the next request. */

#endif
