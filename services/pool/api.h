/* The pool's REST routes (the "http" operation from the gateway): contributed keys for their
 * owners (/keys), every key for admins (/admin/keys), pool-wide figures (/admin/stats); and
 * the user.limits operation the auth service asks for GET /auth/me. */
#ifndef POOL_API_H
#define POOL_API_H

#include "keyprobe.h"
#include "np/config.h"
#include "np/crypto.h"
#include "np/db.h"
#include "np/events.h"
#include "np/httpop.h"
#include "np/rpc.h"
#include "proxies.h"
#include "relay.h"
#include "scheduler.h"

typedef struct {
    np_config *cfg;
    np_db *db;
    np_events *events;
    const uint8_t *enc_key; /* ENCRYPTION_KEY, 32 bytes */
    const uint8_t *fp_key;  /* the fingerprint key derived from ENCRYPTION_KEY, 32 bytes */
    pool_sched *sched;
    pool_relay *relay;
    pool_keyring *keyring; /* invalidated by every key change made here */
    pool_keyprobe *probes; /* the upload probes run here (keyprobe.h) */
    pool_proxies *proxies; /* the egress of an upload's probe in proxy_pool mode */
} pool_api;

/* pool_api_http answers one "http" request of the keys and stats ops, read and checked for
 * relay keys by the caller (rpc worker thread; blocking SQL). POST /keys is answered later,
 * from a probe thread, once its probe has run. */
void pool_api_http(const pool_api *a, np_rpc_call *call, const np_http_req *r);

/* pool_api_user_limits answers user.limits {uid} -> {rpm_limit, contributed_keys,
 * healthy_keys, rate_remaining, rate_reset_s}: the rate left now (nothing spent) and the seconds
 * until it is full again. */
void pool_api_user_limits(const pool_api *a, np_rpc_call *call, const msgpack_object *req);

#endif
