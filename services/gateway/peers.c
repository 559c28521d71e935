/* The pool instances. */
#include "peers.h"

#include "np/dialset.h"
#include "settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gw_peer {
    char url[128];
    np_rpc_client *client;
    int users; /* streams and calls holding it */
    bool gone; /* no longer resolved: no new streams */
};

static gw_peer *
find(gw_peers *p, const char *url)
{
    for (int i = 0; i < p->n; i++) {
        if (strcmp(p->list[i]->url, url) == 0) {
            return p->list[i];
        }
    }
    return NULL;
}

/* add dials url; called with the lock held (dialing does not block: non-blocking dial). */
static np_err
add(gw_peers *p, const char *url)
{
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 8;
        gw_peer **l = realloc(p->list, (size_t)cap * sizeof(*l));
        if (l == NULL) {
            return NP_ERR_NOMEM;
        }
        p->list = l;
        p->cap = cap;
    }
    gw_peer *peer = calloc(1, sizeof(*peer));
    if (peer == NULL) {
        return NP_ERR_NOMEM;
    }
    snprintf(peer->url, sizeof(peer->url), "%s", url);
    np_err err = np_rpc_client_open(&peer->client, url, &p->opts);
    if (err != NP_ERR_OK) {
        free(peer);
        return err;
    }
    p->list[p->n++] = peer;
    return NP_ERR_OK;
}

/* prune closes vanished instances nobody uses any more; called with the lock held. */
static void
prune(gw_peers *p)
{
    for (int i = 0; i < p->n;) {
        gw_peer *peer = p->list[i];
        if (peer->gone && peer->users == 0) {
            np_rpc_client_close(peer->client);
            free(peer);
            p->list[i] = p->list[--p->n];
        } else {
            i++;
        }
    }
}

/* apply makes the list match the addresses in list (a comma list); called with the lock. */
static np_err
apply(gw_peers *p, char *list)
{
    for (int i = 0; i < p->n; i++) {
        p->list[i]->gone = true;
    }
    np_err err = NP_ERR_OK;
    char *save = NULL;
    for (char *u = strtok_r(list, ",", &save); u != NULL && err == NP_ERR_OK;
         u = strtok_r(NULL, ",", &save)) {
        gw_peer *peer = find(p, u);
        if (peer != NULL) {
            peer->gone = false;
        } else {
            err = add(p, u);
        }
    }
    prune(p);
    return err;
}

void
gw_peers_refresh(gw_peers *p)
{
    char list[4096];
    /* Resolving may block on DNS: never with the lock held. */
    if (!np_addr_expand(p->urls, list, sizeof(list))) {
        return; /* keep what we have: a failing resolver must not empty the list */
    }
    pthread_mutex_lock(&p->mu);
    apply(p, list);
    pthread_mutex_unlock(&p->mu);
}

static int64_t
period_ms(const gw_peers *p)
{
    return NP_SETTING_NOW(p->cfg, gw, POOL_RESOLVE_SECONDS) * 1000;
}

/* resolve_tick refreshes and reads the period again: the setting may have changed. */
static int64_t
resolve_tick(void *arg)
{
    gw_peers_refresh(arg);
    return period_ms(arg);
}

np_err
gw_peers_open(gw_peers *p, const np_config *cfg, const char *urls, const np_rpc_opts *opts,
              char *why, size_t whylen)
{
    char list[4096];
    memset(p, 0, sizeof(*p));
    p->cfg = cfg;
    p->opts = *opts;
    snprintf(p->urls, sizeof(p->urls), "%s", urls);
    pthread_mutex_init(&p->mu, NULL);
    if (!np_addr_expand(urls, list, sizeof(list))) {
        snprintf(why, whylen, "POOL_RPC_URL: cannot resolve %s", urls);
        return NP_ERR_CONFIG;
    }
    np_err err = apply(p, list);
    if (err == NP_ERR_OK) {
        err = np_ticker_start(&p->resolver, resolve_tick, p, period_ms(p));
    }
    if (err != NP_ERR_OK) {
        snprintf(why, whylen, "POOL_RPC_URL: cannot dial %s", urls);
        return err;
    }
    return NP_ERR_OK;
}

void
gw_peers_close(gw_peers *p)
{
    np_ticker_stop(p->resolver);
    p->resolver = NULL;
    for (int i = 0; i < p->n; i++) {
        np_rpc_client_close(p->list[i]->client);
        free(p->list[i]);
    }
    free(p->list);
    p->list = NULL;
    p->n = p->cap = 0;
    pthread_mutex_destroy(&p->mu);
}

gw_peer *
gw_peers_get(gw_peers *p, const gw_peer *avoid)
{
    pthread_mutex_lock(&p->mu);
    gw_peer *chosen = NULL;
    /* Passes: a connected instance other than avoid; any connected one; then, when none has
     * a live connection (start-up, or every instance down), as before without that test. An
     * instance with no live NNG connection is never sent a request while another has one, so
     * a dead instance costs no send timeout; it is chosen again once its connection is back. */
    for (int pass = 0; pass < 4 && chosen == NULL; pass++) {
        for (int k = 0; k < p->n && chosen == NULL; k++) {
            gw_peer *peer = p->list[(p->next + (unsigned)k) % (unsigned)p->n];
            bool connected = pass >= 2 || np_rpc_client_pipes(peer->client) > 0;
            if (!peer->gone && connected && (pass % 2 == 1 || peer != avoid)) {
                chosen = peer;
            }
        }
    }
    p->next++;
    if (chosen != NULL) {
        chosen->users++;
    }
    pthread_mutex_unlock(&p->mu);
    return chosen;
}

void
gw_peers_put(gw_peers *p, gw_peer *peer)
{
    if (peer == NULL) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    peer->users--;
    prune(p);
    pthread_mutex_unlock(&p->mu);
}

int
gw_peers_lend_all(gw_peers *p, gw_peer **out, int max)
{
    int n = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->n && n < max; i++) {
        if (!p->list[i]->gone) {
            p->list[i]->users++;
            out[n++] = p->list[i];
        }
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

np_rpc_client *
gw_peer_client(const gw_peer *peer)
{
    return peer->client;
}

int
gw_peers_count(gw_peers *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->n;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int
gw_peers_connected(gw_peers *p)
{
    pthread_mutex_lock(&p->mu);
    int n = 0;
    for (int i = 0; i < p->n; i++) {
        n += !p->list[i]->gone && np_rpc_client_pipes(p->list[i]->client) > 0;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}
