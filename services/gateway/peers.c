/* The pool instances. */
#include "peers.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
gw_peers_expand(const char *urls, char *out, size_t outlen)
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

np_err
gw_peers_open(gw_peers *p, const char *urls, const np_rpc_opts *opts, char *why, size_t whylen)
{
    char list[4096];
    memset(p, 0, sizeof(*p));
    if (!gw_peers_expand(urls, list, sizeof(list))) {
        snprintf(why, whylen, "POOL_RPC_URL: cannot resolve %s", urls);
        return NP_ERR_CONFIG;
    }
    int n = 1;
    for (const char *c = list; *c; c++) {
        n += *c == ',';
    }
    p->clients = calloc((size_t)n, sizeof(np_rpc_client *));
    if (p->clients == NULL) {
        return NP_ERR_NOMEM;
    }
    char *save = NULL;
    for (char *u = strtok_r(list, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save)) {
        np_err err = np_rpc_client_open(&p->clients[p->n], u, opts);
        if (err != NP_ERR_OK) {
            snprintf(why, whylen, "POOL_RPC_URL: cannot dial %s", u);
            gw_peers_close(p);
            return err;
        }
        p->n++;
    }
    return NP_ERR_OK;
}

void
gw_peers_close(gw_peers *p)
{
    for (int i = 0; i < p->n; i++) {
        np_rpc_client_close(p->clients[i]);
    }
    free(p->clients);
    p->clients = NULL;
    p->n = 0;
}

int
gw_peers_pick(gw_peers *p)
{
    return (int)(atomic_fetch_add(&p->next, 1) % (unsigned)p->n);
}
