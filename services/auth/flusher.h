/* The auth service's background thread. It records when relay keys were last used without
 * one database write per request: authentications only note the key id in memory, and every
 * few seconds one UPDATE stamps all noted keys. It also prunes old throttle windows. */
#ifndef AUTH_FLUSHER_H
#define AUTH_FLUSHER_H

#include <stddef.h>
#include <stdint.h>

#include "np/buf.h"
#include "np/db.h"
#include "np/errors.h"

/* The most ids kept between two flushes; beyond it ids are dropped until the next flush
 * (last_used_at is a hint, not an audit record). */
#define AUTH_FLUSHER_MAX_IDS 65536

typedef struct auth_flusher auth_flusher;

/* auth_flusher_new starts the thread, flushing every interval_ms on db (borrowed: it must
 * outlive the flusher). NULL on no memory or when the thread cannot start. */
auth_flusher *auth_flusher_new(np_db *db, int interval_ms);
/* auth_flusher_note records that relay key kid was just used. Never blocks on I/O. */
void auth_flusher_note(auth_flusher *f, int64_t kid);
/* auth_flusher_free stops the thread after a last flush; NULL is accepted. */
void auth_flusher_free(auth_flusher *f);

/* auth_ids_unique sorts ids and removes duplicates; returns the new count. */
size_t auth_ids_unique(int64_t *ids, size_t n);
/* auth_ids_array appends ids as a Postgres array literal ("{1,2,3}") to out. */
np_err auth_ids_array(const int64_t *ids, size_t n, np_buf *out);

#endif
