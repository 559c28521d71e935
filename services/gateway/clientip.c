/* The client's address. */
#include "clientip.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* parse parses an IPv4 or IPv6 address into 16 bytes (IPv4 mapped); returns the address
 * family's bit length, or 0. */
static int
parse(const char *s, size_t n, unsigned char out[16])
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return 32;
    }
    if (inet_pton(AF_INET6, buf, out) == 1) {
        return 128;
    }
    return 0;
}

static bool
in_cidr(const unsigned char ip[16], int iplen, const char *cidr, size_t n)
{
    const char *slash = memchr(cidr, '/', n);
    unsigned char net[16];
    int netlen = parse(cidr, slash ? (size_t)(slash - cidr) : n, net);
    if (netlen == 0 || netlen != iplen) {
        return false;
    }
    /* The prefix length is 1 to 3 digits: "10.0.0.0/" or "/8x" is no network (it used to read
     * as /0, which trusts every address). */
    int bits = netlen;
    if (slash != NULL) {
        const char *d = slash + 1, *end = cidr + n;
        if (d == end || end - d > 3) {
            return false;
        }
        for (bits = 0; d < end; d++) {
            if (*d < '0' || *d > '9') {
                return false;
            }
            bits = bits * 10 + (*d - '0');
        }
    }
    if (bits > netlen) {
        return false;
    }
    int off = netlen == 32 ? 96 : 0;
    bits += off;
    for (int b = 0; b < bits; b++) {
        int byte = b / 8, mask = 0x80 >> (b % 8);
        if ((ip[byte] & mask) != (net[byte] & mask)) {
            return false;
        }
    }
    return true;
}

bool
gw_ip_in_list(const char *ip, const char *list)
{
    unsigned char a[16];
    int alen = parse(ip, strlen(ip), a);
    if (alen == 0 || list == NULL) {
        return false;
    }
    const char *p = list;
    while (*p) {
        while (*p == ' ') {
            p++;
        }
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && p[n - 1] == ' ') {
            n--;
        }
        if (n > 0 && in_cidr(a, alen, p, n)) {
            return true;
        }
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    return false;
}

static void
peer(gw_request *r, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t len = r->req->conn->callbacks->get_peername(r->req->conn, (struct sockaddr *)&ss);
    snprintf(out, outlen, "%s", "unknown");
    if (len == 0) {
        return;
    }
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)outlen);
    } else if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)outlen);
    }
}

/* entry reads the X-Forwarded-For entry xff[start, end) without its blanks into out; false
 * when it is no address. */
static bool
entry(const char *xff, size_t start, size_t end, char out[64])
{
    size_t a = start, b = end;
    while (a < b && (xff[a] == ' ' || xff[a] == '\t')) {
        a++;
    }
    while (b > a && (xff[b - 1] == ' ' || xff[b - 1] == '\t')) {
        b--;
    }
    unsigned char tmp[16];
    if (b == a || parse(xff + a, b - a, tmp) == 0) {
        return false;
    }
    snprintf(out, 64, "%.*s", (int)(b - a), xff + a);
    return true;
}

bool
gw_client_ip_pick(const char *peer, const char *xff, size_t xfflen, const char *trusted, char *out,
                  size_t outlen)
{
    snprintf(out, outlen, "%s", peer);
    /* A forwarded address counts only when it came through one of our proxies: a client
     * talking to us directly could write anything in the header. */
    if (xff == NULL || xfflen == 0 || !gw_ip_in_list(peer, trusted)) {
        return false;
    }
    /* Walk from the right: each hop appends the address it saw; the first one that is not
     * a trusted proxy is the client as far as we can know. */
    size_t end = xfflen;
    char chosen[64] = "";
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',') {
            start--;
        }
        if (!entry(xff, start, end, chosen) || !gw_ip_in_list(chosen, trusted)) {
            break; /* the client, or garbage: stop trusting what lies to the left */
        }
        end = start > 0 ? start - 1 : 0;
    }
    if (chosen[0] == '\0') {
        return false;
    }
    snprintf(out, outlen, "%s", chosen);
    return true;
}

bool
gw_client_ip_pick_hops(const char *peer, const char *xff, size_t xfflen, int hops, char *out,
                       size_t outlen)
{
    snprintf(out, outlen, "%s", peer);
    size_t end = xfflen;
    for (int hop = 1; xff != NULL && end > 0; hop++) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',') {
            start--;
        }
        if (hop == hops) {
            char chosen[64];
            if (!entry(xff, start, end, chosen)) {
                return false;
            }
            snprintf(out, outlen, "%s", chosen);
            return true;
        }
        if (start == 0) {
            break;
        }
        end = start - 1;
    }
    return false;
}

void
gw_client_ip(gw_request *r, char *out, size_t outlen)
{
    gw_gateway *gw = r->th->gw;
    char addr[64];
    peer(r, addr, sizeof(addr));
    snprintf(out, outlen, "%s", addr);
    if (!gw->trust_proxy) {
        return;
    }
    ssize_t i = h2o_find_header_by_str(&r->req->headers, H2O_STRLIT("x-forwarded-for"), -1);
    if (i >= 0) {
        h2o_iovec_t v = r->req->headers.entries[i].value;
        if (gw->proxy_hops > 0) {
            gw_client_ip_pick_hops(addr, v.base, v.len, gw->proxy_hops, out, outlen);
        } else {
            gw_client_ip_pick(addr, v.base, v.len, gw->trusted_proxies, out, outlen);
        }
    }
}
