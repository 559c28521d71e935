/* Reads a NovelAI request body: plain JSON, or multipart/form-data whose "request" part is JSON,
 * read as a server that keeps fields in a dictionary reads it (NOVELAI.md, web-protocol
 * requests): its own reading, independent of the pool's strict reader. */
#include "body.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_BOUNDARY 200

/* Finds the boundary parameter of a multipart Content-Type the way a server that reads the
 * parameters into a dictionary does: parameters split on ';', the name compared whole and
 * case-insensitively (so "xboundary" is not "boundary"), a quoted value unquoted, the last
 * of two wins. False if absent or too long. */
static bool
find_boundary(const char *ct, size_t ct_len, char *out, size_t outlen)
{
    const char *p = memchr(ct, ';', ct_len);
    const char *end = ct + ct_len;
    bool found = false;
    while (p != NULL && p < end) {
        p++; /* past ';' */
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        const char *eq = p;
        while (eq < end && *eq != '=' && *eq != ';') {
            eq++;
        }
        const char *v = eq < end && *eq == '=' ? eq + 1 : eq;
        size_t n = 0;
        bool quoted = v < end && *v == '"';
        if (quoted) {
            v++;
        }
        while (v + n < end && (quoted ? v[n] != '"' : v[n] != ';' && v[n] != ' ')) {
            n++;
        }
        if ((size_t)(eq - p) == 8 && strncasecmp(p, "boundary", 8) == 0 && n > 0 && n < outlen) {
            memcpy(out, v, n);
            out[n] = '\0';
            found = true;
        }
        p = memchr(v + n, ';', (size_t)(end - (v + n)));
    }
    return found;
}

/* Whether a part's header block names it "request": only its Content-Disposition header
 * counts (form-data; name="request"), not the text of any other header. */
static bool
part_is_request(const char *headers, size_t len)
{
    static const char cd[] = "content-disposition:";
    static const char needle[] = "name=\"request\"";
    const char *p = headers, *end = headers + len;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        const char *line_end = eol != NULL ? eol : end;
        size_t n = (size_t)(line_end - p);
        if (n > sizeof(cd) - 1 && strncasecmp(p, cd, sizeof(cd) - 1) == 0) {
            for (size_t i = sizeof(cd) - 1; i + sizeof(needle) - 1 <= n; i++) {
                if (memcmp(p + i, needle, sizeof(needle) - 1) == 0 &&
                    (p[i - 1] == ' ' || p[i - 1] == ';')) {
                    return true;
                }
            }
        }
        p = line_end + 2;
    }
    return false;
}

static json_t *
parse_multipart(const char *boundary, const char *body, size_t len, size_t *parts, char *err,
                size_t errlen)
{
    char delim[MAX_BOUNDARY + 8];
    int dlen = snprintf(delim, sizeof(delim), "--%s", boundary);
    const char *end = body + len;
    const char *p = memmem(body, len, delim, (size_t)dlen);
    json_t *request = NULL;

    *parts = 0;
    while (p != NULL) {
        p += dlen;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
            break; /* closing delimiter */
        }
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            break;
        }
        p += 2;
        const char *hdr_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (hdr_end == NULL) {
            break;
        }
        const char *content = hdr_end + 4;
        char next_delim[MAX_BOUNDARY + 8];
        int nlen = snprintf(next_delim, sizeof(next_delim), "\r\n%s", delim);
        const char *content_end =
            memmem(content, (size_t)(end - content), next_delim, (size_t)nlen);
        if (content_end == NULL) {
            break;
        }
        (*parts)++;
        if (part_is_request(p, (size_t)(hdr_end - p))) {
            /* a dictionary of fields keeps the last "request" part */
            json_error_t jerr;
            json_decref(request);
            request = json_loadb(content, (size_t)(content_end - content), 0, &jerr);
            if (request == NULL) {
                snprintf(err, errlen, "request part: %s", jerr.text);
                return NULL;
            }
        }
        p = content_end + 2;
    }
    if (request == NULL) {
        snprintf(err, errlen, "multipart body has no \"request\" part");
    }
    return request;
}

json_t *
body_parse(const char *content_type, size_t content_type_len, const char *body, size_t len,
           size_t *parts, char *err, size_t errlen)
{
    static const char multipart[] = "multipart/form-data";
    *parts = 0;
    if (body == NULL) {
        body = ""; /* H2O leaves the entity NULL when there is none */
        len = 0;
    }
    if (content_type != NULL && content_type_len >= sizeof(multipart) - 1 &&
        strncasecmp(content_type, multipart, sizeof(multipart) - 1) == 0) {
        char boundary[MAX_BOUNDARY + 1];
        if (!find_boundary(content_type, content_type_len, boundary, sizeof(boundary))) {
            snprintf(err, errlen, "multipart body without a usable boundary");
            return NULL;
        }
        return parse_multipart(boundary, body, len, parts, err, errlen);
    }
    json_error_t jerr;
    json_t *v = json_loadb(body, len, 0, &jerr);
    if (v == NULL) {
        snprintf(err, errlen, "Invalid JSON: %s", jerr.text);
    }
    return v;
}
