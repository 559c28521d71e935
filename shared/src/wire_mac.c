/* Authenticated NNG messages: the trailer, its MAC and the replay windows. */
#include "np/wire_mac.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "np/clock.h"
#include "np/crypto.h"

#define SENDERS 256      /* senders remembered per guard (processes in the cluster) */
#define WINDOW_BITS 4096 /* counters accepted out of order behind the highest one seen */

static struct {
    bool enabled;
    uint8_t key[NP_HMAC_LEN];
    uint64_t sender;
    atomic_uint_fast64_t counter;
} auth;

typedef struct {
    uint64_t sender;
    uint64_t top; /* highest counter seen; 0: free slot */
    uint64_t bits[WINDOW_BITS / 64];
    int64_t seen_ms;
} peer;

struct np_wire_guard {
    pthread_mutex_t mu;
    peer peers[SENDERS];
    atomic_uint_fast64_t dropped;
};

static void
put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t
get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

np_err
np_wire_auth_setup(const char *secret)
{
    static const char label[] = "naipool internal messages v1";
    np_hmac_sha256(secret, strlen(secret), label, sizeof(label) - 1, auth.key);
    np_err err = np_random_bytes(&auth.sender, sizeof(auth.sender));
    atomic_store(&auth.counter, 0);
    auth.enabled = err == NP_ERR_OK;
    return err;
}

bool
np_wire_auth_enabled(void)
{
    return auth.enabled;
}

np_err
np_wire_seal(nng_msg *msg)
{
    if (!auth.enabled) {
        return NP_ERR_OK;
    }
    uint8_t head[24];
    put64(head, auth.sender);
    put64(head + 8, atomic_fetch_add(&auth.counter, 1) + 1);
    put64(head + 16, (uint64_t)np_wall_ms());
    if (nng_msg_append(msg, head, sizeof(head)) != 0) {
        return NP_ERR_NOMEM;
    }
    uint8_t mac[NP_HMAC_LEN];
    np_hmac_sha256(auth.key, sizeof(auth.key), nng_msg_body(msg), nng_msg_len(msg), mac);
    if (nng_msg_append(msg, mac, sizeof(mac)) != 0) {
        nng_msg_chop(msg, sizeof(head));
        return NP_ERR_NOMEM;
    }
    return NP_ERR_OK;
}

np_wire_guard *
np_wire_guard_new(void)
{
    np_wire_guard *g = calloc(1, sizeof(*g));
    if (g != NULL) {
        pthread_mutex_init(&g->mu, NULL);
    }
    return g;
}

void
np_wire_guard_free(np_wire_guard *g)
{
    if (g == NULL) {
        return;
    }
    pthread_mutex_destroy(&g->mu);
    free(g);
}

uint64_t
np_wire_guard_dropped(np_wire_guard *g)
{
    return g != NULL ? atomic_load(&g->dropped) : 0;
}

/* fresh records (sender, counter) and tells whether it was new. A sender not yet known takes
 * a free slot or the one heard from longest ago. */
static bool
fresh(np_wire_guard *g, uint64_t sender, uint64_t counter, int64_t now)
{
    peer *p = NULL, *victim = NULL;
    for (int i = 0; i < SENDERS && p == NULL; i++) {
        peer *q = &g->peers[i];
        if (q->top != 0 && q->sender == sender) {
            p = q;
        } else if (victim == NULL ||
                   (victim->top != 0 && (q->top == 0 || q->seen_ms < victim->seen_ms))) {
            victim = q;
        }
    }
    if (p == NULL) {
        p = victim;
        memset(p, 0, sizeof(*p));
        p->sender = sender;
    }
    p->seen_ms = now;
    if (counter > p->top) {
        uint64_t shift = counter - p->top;
        if (shift >= WINDOW_BITS) {
            memset(p->bits, 0, sizeof(p->bits));
        } else {
            /* Clear the bits of the counters the window now moves over. */
            for (uint64_t c = p->top + 1; c <= counter; c++) {
                p->bits[(c % WINDOW_BITS) / 64] &= ~(1ull << (c % 64));
            }
        }
        p->top = counter;
    } else if (p->top - counter >= WINDOW_BITS) {
        return false; /* too old to tell: refuse */
    }
    uint64_t *word = &p->bits[(counter % WINDOW_BITS) / 64];
    uint64_t bit = 1ull << (counter % 64);
    if (*word & bit) {
        return false;
    }
    *word |= bit;
    return true;
}

np_err
np_wire_open(np_wire_guard *g, nng_msg *msg)
{
    if (!auth.enabled) {
        return NP_ERR_OK;
    }
    size_t len = nng_msg_len(msg);
    const uint8_t *b = nng_msg_body(msg);
    bool ok = len >= NP_WIRE_MAC_TRAILER;
    if (ok) {
        uint8_t mac[NP_HMAC_LEN];
        np_hmac_sha256(auth.key, sizeof(auth.key), b, len - NP_HMAC_LEN, mac);
        ok = np_ct_equal(mac, b + len - NP_HMAC_LEN, NP_HMAC_LEN);
    }
    int64_t now = np_wall_ms();
    if (ok) {
        const uint8_t *t = b + len - NP_WIRE_MAC_TRAILER;
        int64_t ts = (int64_t)get64(t + 16);
        uint64_t counter = get64(t + 8);
        ok = counter != 0 && ts > now - NP_WIRE_MAC_WINDOW_MS && ts < now + NP_WIRE_MAC_WINDOW_MS;
        if (ok) {
            pthread_mutex_lock(&g->mu);
            ok = fresh(g, get64(t), counter, now);
            pthread_mutex_unlock(&g->mu);
        }
    }
    if (!ok) {
        atomic_fetch_add(&g->dropped, 1);
        return NP_ERR_UNAUTHORIZED;
    }
    nng_msg_chop(msg, NP_WIRE_MAC_TRAILER);
    return NP_ERR_OK;
}
