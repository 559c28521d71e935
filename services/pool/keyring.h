/* The keyring: this instance's copy of the usable keys (enabled, sealed, active or cooling),
 * so the hot path of a relayed request reads memory instead of Postgres. The relay asks it
 * for the Anlas guard and, for routes NovelAI runs without its generation lock
 * (suggest-tags, models, voice), for a key to use without a lease: the least recently picked
 * one that fits and is not cooling down. The uses of those keys are counted here and written
 * once a second (pool_keyring_flush) instead of once per request.
 *
 * The copy is at most POOL_KEYRING_TTL_MS old, and is dropped at once when a key changes:
 * key edits and releases that change a key's state announce themselves with
 * NOTIFY pool_keys 'k' (every instance's listener calls pool_keyring_invalidate), and this
 * instance's own edits invalidate it directly. A refusal is never decided on a stale copy:
 * the guard reloads before it refuses. */
#ifndef POOL_KEYRING_H
#define POOL_KEYRING_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "anlas.h"
#include "np/crypto.h"
#include "np/errors.h"
#include "scheduler.h"

#define POOL_KEYRING_TTL_MS 1000

/* One usable key as the copy holds it. */
typedef struct {
    int64_t id;
    pool_key_policy policy;
    int streak;            /* fail_streak */
    bool settled;          /* state 'active' and no failure streak */
    int64_t cool_until_ms; /* monotonic; 0 or past: not cooling down */
    uint64_t picked;       /* pick order: the smallest was picked least recently */
    int leased;            /* unexpired key_leases rows when it was read */
    unsigned char *sealed; /* the sealed token (keystore.h); owned, wiped when dropped */
    size_t sealed_len;
} pool_ring_key;

/* pool_usable_keys_read reads the usable keys (enabled, sealed, active or cooling) with c,
 * the one query of them that the keyring's copy and the scheduler's grant pass share: in
 * guard order (the most permissive key first: paid use allowed, higher tier, more Anlas),
 * picked ranking them by last use (1: used least recently), cool_until_ms counted from when
 * the answer came (monotonic), leased its unexpired lease rows. *out (malloc'd; free with
 * pool_ring_keys_free) holds *n keys. Blocking SQL. NP_ERR_DB, NP_ERR_NOMEM. */
np_err pool_usable_keys_read(PGconn *c, pool_ring_key **out, int *n);
/* pool_ring_keys_free wipes the sealed tokens of keys[0..n) and frees them; NULL accepted. */
void pool_ring_keys_free(pool_ring_key *keys, int n);

/* pool_keyring_new: an empty copy (loaded on first use); NULL on no memory. */
pool_keyring *pool_keyring_new(const uint8_t enc_key[NP_KEY_LEN]);
/* pool_keyring_free wipes and frees; NULL is accepted. */
void pool_keyring_free(pool_keyring *kr);

/* pool_keyring_invalidate drops the copy: the next reader reloads it. Any thread; never
 * waits on the database. */
void pool_keyring_invalidate(pool_keyring *kr);
/* pool_keyring_version changes with every invalidation (caches derived from key state, such
 * as the user limits, compare it). */
unsigned pool_keyring_version(pool_keyring *kr);

/* pool_keyring_refresh reloads the copy with c when it is stale (or always, with force).
 * rpc worker threads only (blocking SQL). NP_ERR_DB. */
np_err pool_keyring_refresh(pool_keyring *kr, PGconn *c, bool force);

/* pool_keyring_guard: whether some key may serve w at all (the Anlas guard of DESIGN.md
 * section 3), on the copy as it is. NP_ERR_NO_KEY or NP_ERR_ANLAS with the reason of the
 * most permissive key in why (the same answers as asking Postgres). */
np_err pool_keyring_guard(pool_keyring *kr, const pool_waiter *w, char *why, size_t whylen);

/* pool_keyring_pick gives w a key without a lease (w->lease, slot -1, token opened): the
 * least recently picked key that fits w, was not tried by it and is not cooling down. false
 * when none does now (the scheduler's queue then waits for one). */
bool pool_keyring_pick(pool_keyring *kr, pool_waiter *w);

/* pool_keyring_count_use counts one use of key id (a leaseless request that changed nothing
 * else); any thread, never waits on the database. */
void pool_keyring_count_use(pool_keyring *kr, int64_t id);
/* pool_keyring_flush writes the counted uses (uses_today, last_used_at) in one statement.
 * NP_ERR_DB (the counts are then lost: they are only figures). */
np_err pool_keyring_flush(pool_keyring *kr, PGconn *c);

/* pool_keyring_set replaces the copy with keys[0..n) (consumed: the array and each sealed
 * token, allocated with malloc), as a reload does; for tests. */
void pool_keyring_set(pool_keyring *kr, pool_ring_key *keys, int n);

#ifdef NP_TESTING
/* usable_keys_parse reads the rows of the usable-keys query as keys (a row with a cell that
 * does not read as its type is left out); now is the np_now_ms value cooldowns count from. */
np_err usable_keys_parse(const PGresult *res, int64_t now, pool_ring_key **out, int *nout);
#endif

#endif
