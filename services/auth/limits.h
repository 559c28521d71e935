/* A user's rate and contribution figures, which belong to the pool service: auth asks pool
 * ("user.limits {uid}" -> {rpm_limit, contributed_keys, healthy_keys, rate_remaining,
 * rate_reset_s}) and shows nulls when pool does not answer, so GET /auth/me never fails because of
 * pool. */
#ifndef AUTH_LIMITS_H
#define AUTH_LIMITS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "np/rpc.h"

/* auth_limits_fill asks pool (blocking, up to timeout_ms; rpc workers only) and sets
 * rpm_limit, contributed_keys, healthy_keys, rate_remaining and rate_reset_s on obj, each null when
 * pool did not answer or answered something else. Returns whether pool answered. */
bool auth_limits_fill(np_rpc_client *pool, int timeout_ms, int64_t uid, json_t *obj);

/* auth_limits_nulls sets those fields to null. */
void auth_limits_nulls(json_t *obj);

#endif
