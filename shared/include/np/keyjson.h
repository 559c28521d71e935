/* The one shape of a contributed key in every answer: SQL expressions that build it with
 * json_build_object over upstream_keys aliased k (and users aliased u for the admin form), so
 * GET /keys, GET /admin/keys (pool) and POST /admin/keys/{id}/check (health) answer alike.
 * Never the token nor its ciphertext. */
#ifndef NP_KEYJSON_H
#define NP_KEYJSON_H

/* The visible state: a key its owner or an admin switched off reads "disabled". */
#define NP_KEY_VISIBLE_STATE "CASE WHEN k.enabled THEN k.state ELSE 'disabled' END"

/* The owner's view of key k (json). */
#define NP_KEY_JSON                                                                                \
    "json_build_object('id', k.id, 'masked', k.masked, 'note', k.note, "                           \
    "'state', " NP_KEY_VISIBLE_STATE                                                               \
    ", 'enabled', k.enabled, 'tier', k.tier, 'active', k.sub_active, 'expires_at', "               \
    "k.expires_at, 'anlas', k.anlas, 'v5_allowance', json_build_object('percent', "                \
    "k.v5_percent, 'used_up', k.v5_negative), 'allow_paid', k.allow_paid, "                        \
    "'max_anlas_per_request', k.max_anlas_per_request, 'anlas_floor', k.anlas_floor, "             \
    "'fail_streak', k.fail_streak, 'cooldown_until', k.cooldown_until, 'last_checked_at', "        \
    "k.last_checked_at, 'last_error', k.last_error, 'uses_today', CASE WHEN k.uses_day = "         \
    "current_date THEN k.uses_today ELSE 0 END, 'last_used_at', k.last_used_at, "                  \
    "'created_at', k.created_at, 'spent', (SELECT json_build_object('today_anlas', "               \
    "coalesce(sum(s.anlas) FILTER (WHERE s.day = current_date), 0), 'today_paid_requests', "       \
    "coalesce(sum(s.paid_requests) FILTER (WHERE s.day = current_date), 0), 'days30_anlas', "      \
    "coalesce(sum(s.anlas), 0), 'days30_paid_requests', coalesce(sum(s.paid_requests), 0)) "       \
    "FROM key_spend s WHERE s.key_id = k.id AND s.day > current_date - 30))"

/* The admin's view (jsonb): the owner's plus who owns it and who disabled it; needs
 * "JOIN users u ON u.id = k.owner_id". */
#define NP_KEY_ADMIN_JSON                                                                          \
    "(" NP_KEY_JSON "::jsonb || jsonb_build_object('owner_id', k.owner_id, 'owner', "              \
    "u.username, 'disabled_by', k.disabled_by))"

/* The FROM clause NP_KEY_ADMIN_JSON reads. */
#define NP_KEY_ADMIN_FROM "upstream_keys k JOIN users u ON u.id = k.owner_id"

#endif
