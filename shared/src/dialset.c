/* Dialing every instance behind a name, and following it as instances come and go. */
#include "np/dialset.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "np/clock.h"
#include "np/log.h"

#define MAX_DIALERS 256

typedef struct {
    char url[128];
    nng_dialer dialer;
    bool seen; /* still resolved in the latest round */
} entry;

struct np_dialset {
    nng_socket sock;
    char urls[1024];
    np_dial_tune tune;
    int resolve_seconds;
    entry list[MAX_DIALERS];
    int n;
    pthread_mutex_t mu;  /* the list */
    np_ticker *resolver; /* NULL: names are not followed */
};

/* expand_one appends the addresses of one URL to out. */
static bool
expand_one(const char *url, char *out, size_t outlen)
{
    char host[256], port[16];
    const char *rest = strncmp(url, "tcp://", 6) == 0 ? url + 6 : NULL;
    const char *colon = rest ? strrchr(rest, ':') : NULL;
    size_t hlen = colon ? (size_t)(colon - rest) : 0;
    struct in_addr probe4;
    bool literal = false;
    if (rest != NULL && colon != NULL && hlen > 0 && hlen < sizeof(host)) {
        memcpy(host, rest, hlen);
        host[hlen] = '\0';
        snprintf(port, sizeof(port), "%s", colon + 1);
        literal = inet_pton(AF_INET, host, &probe4) == 1 || host[0] == '[';
    }
    size_t used = strlen(out);
    if (rest == NULL || colon == NULL || hlen == 0 || literal || strcmp(host, "*") == 0) {
        return (size_t)snprintf(out + used, outlen - used, "%s%s", used ? "," : "", url) <
               outlen - used;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        return false;
    }
    bool ok = true;
    for (struct addrinfo *a = res; a != NULL && ok; a = a->ai_next) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, ip, sizeof(ip));
        char one[300];
        snprintf(one, sizeof(one), "tcp://%s:%s", ip, port);
        if (strstr(out, one) != NULL) {
            continue; /* getaddrinfo repeats an address per protocol */
        }
        used = strlen(out);
        ok = (size_t)snprintf(out + used, outlen - used, "%s%s", used ? "," : "", one) <
             outlen - used;
    }
    freeaddrinfo(res);
    return ok;
}

bool
np_addr_expand(const char *urls, char *out, size_t outlen)
{
    char copy[1024];
    snprintf(copy, sizeof(copy), "%s", urls);
    out[0] = '\0';
    char *save = NULL;
    for (char *u = strtok_r(copy, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save)) {
        if (!expand_one(u, out, outlen)) {
            return false;
        }
    }
    return out[0] != '\0';
}

/* has_names tells whether any address is a host name (only those need resolving again). */
static bool
has_names(const char *urls)
{
    char expanded[4096];
    return np_addr_expand(urls, expanded, sizeof(expanded)) ? strcmp(expanded, urls) != 0 : true;
}

/* add_dialer starts a dialer for url; called with the lock held. */
static int
add_dialer(np_dialset *d, const char *url)
{
    if (d->n == MAX_DIALERS) {
        return NNG_ENOMEM;
    }
    entry *e = &d->list[d->n];
    int rv = nng_dialer_create(&e->dialer, d->sock, url);
    if (rv != 0) {
        return rv;
    }
    if (d->tune != NULL) {
        d->tune(e->dialer, url);
    }
    rv = nng_dialer_start(e->dialer, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        nng_dialer_close(e->dialer);
        return rv;
    }
    snprintf(e->url, sizeof(e->url), "%s", url);
    e->seen = true;
    d->n++;
    return 0;
}

/* apply makes the dialers match list (a comma list of addresses); called with the lock. */
static int
apply(np_dialset *d, char *list)
{
    for (int i = 0; i < d->n; i++) {
        d->list[i].seen = false;
    }
    int rv = 0;
    char *save = NULL;
    for (char *u = strtok_r(list, ",", &save); u != NULL && rv == 0;
         u = strtok_r(NULL, ",", &save)) {
        bool known = false;
        for (int i = 0; i < d->n && !known; i++) {
            if (strcmp(d->list[i].url, u) == 0) {
                d->list[i].seen = known = true;
            }
        }
        if (!known) {
            rv = add_dialer(d, u);
        }
    }
    for (int i = 0; i < d->n;) {
        if (!d->list[i].seen) {
            nng_dialer_close(d->list[i].dialer); /* the instance is gone */
            d->list[i] = d->list[--d->n];
        } else {
            i++;
        }
    }
    return rv;
}

static int64_t
resolve_tick(void *arg)
{
    np_dialset *d = arg;
    char list[4096];
    bool ok = np_addr_expand(d->urls, list, sizeof(list)); /* DNS: never under the lock */
    pthread_mutex_lock(&d->mu);
    if (ok) {
        apply(d, list); /* a failing resolver keeps what we have */
    }
    pthread_mutex_unlock(&d->mu);
    return 0;
}

np_err
np_dialset_open(np_dialset **out, nng_socket sock, const char *urls, int resolve_seconds,
                np_dial_tune tune)
{
    np_dialset *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return NP_ERR_NOMEM;
    }
    d->sock = sock;
    d->tune = tune;
    d->resolve_seconds = resolve_seconds;
    snprintf(d->urls, sizeof(d->urls), "%s", urls);
    pthread_mutex_init(&d->mu, NULL);
    char list[4096];
    if (!np_addr_expand(urls, list, sizeof(list))) {
        /* Not resolvable yet (a Service without endpoints, DNS not ready): dial the names as
         * they are; NNG resolves them on each attempt. */
        np_log_warn("rpc", "cannot resolve %s yet; dialling it as it is", urls);
        snprintf(list, sizeof(list), "%s", urls);
    }
    pthread_mutex_lock(&d->mu);
    int rv = apply(d, list);
    pthread_mutex_unlock(&d->mu);
    if (rv == 0 && resolve_seconds > 0 && has_names(urls) &&
        np_ticker_start(&d->resolver, resolve_tick, d, (int64_t)resolve_seconds * 1000) !=
            NP_ERR_OK) {
        rv = NNG_ENOMEM;
    }
    if (rv != 0) {
        np_log_error("rpc", "cannot dial %s: %s", urls, nng_strerror(rv));
        np_dialset_close(d);
        return np_err_from_nng(rv);
    }
    *out = d;
    return NP_ERR_OK;
}

void
np_dialset_close(np_dialset *d)
{
    if (d == NULL) {
        return;
    }
    np_ticker_stop(d->resolver);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
