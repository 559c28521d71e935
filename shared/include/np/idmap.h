/* A map from int64 ids to pointers (open addressing, linear probing, backward-shift
 * deletion): O(1) lookups of sessions, transfers or keys by id. The map borrows the pointers;
 * it owns only its table. Not thread-safe: the owner locks. */
#ifndef NP_IDMAP_H
#define NP_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "np/errors.h"

typedef struct {
    int64_t *keys;
    void **vals; /* NULL marks a free slot */
    size_t cap;  /* a power of two, or 0 before the first put */
    size_t n;
} np_idmap;

/* np_idmap_init / np_idmap_fini: caller-owned storage; fini frees the table, not the values. */
void np_idmap_init(np_idmap *m);
void np_idmap_fini(np_idmap *m);

/* np_idmap_put maps id to val (not NULL), replacing an earlier value; NP_ERR_NOMEM when the
 * table cannot grow (the map is unchanged). */
np_err np_idmap_put(np_idmap *m, int64_t id, void *val);
/* np_idmap_get returns the value of id, NULL when absent. */
void *np_idmap_get(const np_idmap *m, int64_t id);
/* np_idmap_del removes id and returns its value, NULL when absent. */
void *np_idmap_del(np_idmap *m, int64_t id);
/* np_idmap_count returns how many ids are mapped. */
size_t np_idmap_count(const np_idmap *m);

#endif
