/* A minimal multipart/form-data reader: boundaries from the Content-Type, part headers up to
 * the blank line, contents up to the next delimiter. Bounds are checked at every step. */
#include "multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_BOUNDARY 200 /* RFC 2046 allows 70; leave room for odd clients */

bool
pool_multipart_is(const char *ctype)
{
    return ctype != NULL && strncasecmp(ctype, "multipart/form-data", 19) == 0;
}

static bool
boundary_of(const char *ctype, char *out, size_t outlen)
{
    const char *p = strcasestr(ctype, "boundary=");
    if (p == NULL) {
        return false;
    }
    p += 9;
    bool quoted = *p == '"';
    p += quoted;
    size_t n = 0;
    while (p[n] != '\0' && (quoted ? p[n] != '"' : (p[n] != ';' && p[n] != ' '))) {
        n++;
    }
    if (n == 0 || n >= outlen || (quoted && p[n] != '"')) {
        return false;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* Whether the part headers carry name="<name>" as a parameter of Content-Disposition. */
static bool
headers_name(const char *h, size_t len, const char *name)
{
    char needle[96];
    int n = snprintf(needle, sizeof(needle), "name=\"%s\"", name);
    if (n <= 0 || (size_t)n >= sizeof(needle)) {
        return false;
    }
    const char *p = h, *end = h + len;
    while (p < end) {
        const char *hit = memmem(p, (size_t)(end - p), needle, (size_t)n);
        if (hit == NULL) {
            return false;
        }
        if (hit == h || hit[-1] == ' ' || hit[-1] == ';') {
            return true;
        }
        p = hit + 1;
    }
    return false;
}

bool
pool_multipart_find(const char *ctype, const void *body, size_t len, const char *name,
                    const void **part, size_t *plen, char *why, size_t whylen)
{
    char boundary[MAX_BOUNDARY + 1], delim[MAX_BOUNDARY + 8];
    if (!pool_multipart_is(ctype) || !boundary_of(ctype, boundary, sizeof(boundary))) {
        snprintf(why, whylen, "a multipart body needs a Content-Type with a boundary");
        return false;
    }
    int dlen = snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
    const char *b = body != NULL ? body : "";
    const char *end = b + len;
    /* The first delimiter may start the body without the leading CRLF. */
    const char *p = (len >= (size_t)dlen - 2 && memcmp(b, delim + 2, (size_t)dlen - 2) == 0)
                        ? b + dlen - 2
                        : NULL;
    if (p == NULL) {
        p = memmem(b, len, delim, (size_t)dlen);
        p = p != NULL ? p + dlen : NULL;
    }
    while (p != NULL) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
            break; /* the closing delimiter */
        }
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            snprintf(why, whylen, "the multipart body is malformed");
            return false;
        }
        p += 2;
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (hend == NULL) {
            snprintf(why, whylen, "the multipart body is malformed");
            return false;
        }
        const char *content = hend + 4;
        const char *cend = memmem(content, (size_t)(end - content), delim, (size_t)dlen);
        if (cend == NULL) {
            snprintf(why, whylen, "the multipart body is truncated");
            return false;
        }
        if (headers_name(p, (size_t)(hend - p), name)) {
            *part = content;
            *plen = (size_t)(cend - content);
            return true;
        }
        p = cend + dlen;
    }
    snprintf(why, whylen, "the multipart body has no \"%s\" part", name);
    return false;
}
