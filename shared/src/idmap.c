/* The id map: open addressing with linear probing. Deleting shifts the following entries of
 * the run back, so there are no tombstones and a lookup stops at the first free slot. */
#include "np/idmap.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>

static size_t
slot_of(int64_t id, size_t cap)
{
    /* A 64-bit mix (splitmix64's finaliser): sequential ids spread over the table. */
    uint64_t x = (uint64_t)id;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (size_t)x & (cap - 1);
}

void
np_idmap_init(np_idmap *m)
{
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->n = 0;
}

void
np_idmap_fini(np_idmap *m)
{
    free(m->keys);
    free(m->vals);
    np_idmap_init(m);
}

static void
place(int64_t *keys, void **vals, size_t cap, int64_t id, void *val)
{
    size_t i = slot_of(id, cap);
    while (vals[i] != NULL && keys[i] != id) {
        i = (i + 1) & (cap - 1);
    }
    keys[i] = id;
    vals[i] = val;
}

static np_err
grow(np_idmap *m)
{
    size_t cap = m->cap == 0 ? 16 : m->cap * 2;
    int64_t *keys = calloc(cap, sizeof(*keys));
    void **vals = calloc(cap, sizeof(*vals));
    if (keys == NULL || vals == NULL) {
        free(keys);
        free(vals);
        return NP_ERR_NOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->vals[i] != NULL) {
            place(keys, vals, cap, m->keys[i], m->vals[i]);
        }
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return NP_ERR_OK;
}

static size_t
find(const np_idmap *m, int64_t id)
{
    if (m->cap == 0) {
        return SIZE_MAX;
    }
    for (size_t i = slot_of(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->vals[i] == NULL) {
            return SIZE_MAX;
        }
        if (m->keys[i] == id) {
            return i;
        }
    }
}

np_err
np_idmap_put(np_idmap *m, int64_t id, void *val)
{
    assert(val != NULL);
    size_t i = find(m, id);
    if (i != SIZE_MAX) {
        m->vals[i] = val;
        return NP_ERR_OK;
    }
    /* Keep the load under 3/4 so probe runs stay short. */
    if ((m->n + 1) * 4 > m->cap * 3) {
        np_err err = grow(m);
        if (err != NP_ERR_OK) {
            return err;
        }
    }
    place(m->keys, m->vals, m->cap, id, val);
    m->n++;
    return NP_ERR_OK;
}

void *
np_idmap_get(const np_idmap *m, int64_t id)
{
    size_t i = find(m, id);
    return i == SIZE_MAX ? NULL : m->vals[i];
}

void *
np_idmap_del(np_idmap *m, int64_t id)
{
    size_t i = find(m, id);
    if (i == SIZE_MAX) {
        return NULL;
    }
    void *val = m->vals[i];
    size_t mask = m->cap - 1;
    /* Backward shift: move each later entry of the run into the hole when its home slot does
     * not lie (cyclically) between the hole and where it sits. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->vals[j] != NULL; j = (j + 1) & mask) {
        size_t home = slot_of(m->keys[j], m->cap);
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            hole = j;
        }
    }
    m->vals[hole] = NULL;
    m->n--;
    return val;
}

size_t
np_idmap_count(const np_idmap *m)
{
    return m->n;
}
