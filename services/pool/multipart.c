/* The strict multipart/form-data reader. Header parameters follow RFC 9110 (token or
 * quoted-string values, case-insensitive names), the body RFC 2046 with RFC 7578's rules for
 * form data. Where correct readers could disagree the body is refused, never guessed at:
 * a preamble, an epilogue that is more than white space, a boundary string inside a part, two
 * parts of one name, a name with a backslash or in name*= form, a transfer encoding. */
#include "multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_BOUNDARY 70     /* RFC 2046 */
#define MAX_PARAM_VALUE 256 /* longer parameter values are refused */
#define MAX_HEADER_BLOCK 16384

bool
pool_multipart_is(const char *ctype)
{
    if (ctype == NULL) {
        return false;
    }
    size_t n = strcspn(ctype, ";");
    while (n > 0 && (ctype[n - 1] == ' ' || ctype[n - 1] == '\t')) {
        n--;
    }
    return n == 19 && strncasecmp(ctype, "multipart/form-data", 19) == 0;
}

static bool
is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *
skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    return p;
}

/* One parameter of a header value: *p is where the parameter list goes on (just after the
 * media type or disposition type). 1 with name and value filled, 0 at the end, -1 when
 * malformed (why says so). backslash is set when the value had a quoted-pair. */
static int
next_param(const char **p, const char *end, char *name, size_t namelen, char *value,
           size_t valuelen, bool *backslash, char *why, size_t whylen)
{
    const char *s = *p;
    for (;;) {
        s = skip_ows(s, end);
        if (s == end) {
            *p = s;
            return 0;
        }
        if (*s != ';') {
            snprintf(why, whylen, "a header parameter list is malformed (expected ';')");
            return -1;
        }
        s = skip_ows(s + 1, end);
        if (s < end && *s != ';') {
            break; /* RFC 9110 allows empty parameters: "a;;b=c;" */
        }
    }
    size_t n = 0;
    while (s < end && is_tchar((unsigned char)*s)) {
        if (n + 1 >= namelen) {
            snprintf(why, whylen, "a header parameter name is too long");
            return -1;
        }
        name[n++] = *s++;
    }
    name[n] = '\0';
    if (n == 0 || s == end || *s != '=') {
        snprintf(why, whylen, "a header parameter is malformed (expected name=value)");
        return -1;
    }
    s++;
    n = 0;
    *backslash = false;
    if (s < end && *s == '"') {
        s++;
        while (s < end && *s != '"') {
            unsigned char c = (unsigned char)*s;
            if (c == '\\') {
                *backslash = true;
                if (++s == end) {
                    break;
                }
                c = (unsigned char)*s;
            }
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                snprintf(why, whylen, "a header parameter value has a control character");
                return -1;
            }
            if (n + 1 >= valuelen) {
                snprintf(why, whylen, "a header parameter value is too long");
                return -1;
            }
            value[n++] = (char)c;
            s++;
        }
        if (s == end) {
            snprintf(why, whylen, "a header parameter has an unterminated quoted value");
            return -1;
        }
        s++;
    } else {
        while (s < end && is_tchar((unsigned char)*s)) {
            if (n + 1 >= valuelen) {
                snprintf(why, whylen, "a header parameter value is too long");
                return -1;
            }
            value[n++] = *s++;
        }
        if (n == 0) {
            snprintf(why, whylen, "a header parameter has an empty or malformed value");
            return -1;
        }
    }
    value[n] = '\0';
    *p = s;
    return 1;
}

/* Skips a "type/subtype" or a disposition token at the start of a header value; NULL when
 * there is none. */
static const char *
skip_type(const char *s, const char *end, bool slash)
{
    s = skip_ows(s, end);
    const char *t = s;
    while (s < end && is_tchar((unsigned char)*s)) {
        s++;
    }
    if (s == t) {
        return NULL;
    }
    if (!slash) {
        return s;
    }
    if (s == end || *s != '/') {
        return NULL;
    }
    t = ++s;
    while (s < end && is_tchar((unsigned char)*s)) {
        s++;
    }
    return s == t ? NULL : s;
}

static bool
valid_boundary(const char *b)
{
    size_t n = strlen(b);
    if (n == 0 || n > MAX_BOUNDARY || b[n - 1] == ' ') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              strchr("'()+_,-./:=? ", c) != NULL)) {
            return false;
        }
    }
    return true;
}

bool
pool_multipart_boundary(const char *ctype, char *out, size_t outlen, char *why, size_t whylen)
{
    if (!pool_multipart_is(ctype)) {
        snprintf(why, whylen, "the Content-Type is not multipart/form-data");
        return false;
    }
    const char *end = ctype + strlen(ctype);
    const char *p = skip_type(ctype, end, true);
    char name[64], value[MAX_PARAM_VALUE];
    bool bs = false;
    int found = 0, r;
    while ((r = next_param(&p, end, name, sizeof(name), value, sizeof(value), &bs, why, whylen)) ==
           1) {
        if (strcasecmp(name, "boundary") != 0) {
            continue;
        }
        if (++found > 1) {
            snprintf(why, whylen, "the Content-Type gives the multipart boundary twice");
            return false;
        }
        if (!valid_boundary(value) || strlen(value) >= outlen) {
            snprintf(why, whylen,
                     "the multipart boundary must be 1 to 70 characters that RFC 2046 allows");
            return false;
        }
        snprintf(out, outlen, "%s", value);
    }
    if (r < 0) {
        char inner[160];
        snprintf(inner, sizeof(inner), "%s", why);
        snprintf(why, whylen, "the Content-Type is malformed: %s", inner);
        return false;
    }
    if (found == 0) {
        snprintf(why, whylen, "a multipart body needs a Content-Type with a boundary parameter");
        return false;
    }
    return true;
}

/* Reads Content-Disposition's value into part; false with why when it is not form-data with
 * exactly one plain name. */
static bool
read_disposition(const char *v, const char *end, pool_mp_part *part, char *why, size_t whylen)
{
    const char *p = skip_type(v, end, false);
    if (p == NULL || (size_t)(p - skip_ows(v, end)) != 9 ||
        strncasecmp(skip_ows(v, end), "form-data", 9) != 0) {
        snprintf(why, whylen, "a multipart part's Content-Disposition is not form-data");
        return false;
    }
    char name[64], value[MAX_PARAM_VALUE];
    bool bs = false, named = false;
    int r;
    while ((r = next_param(&p, end, name, sizeof(name), value, sizeof(value), &bs, why, whylen)) ==
           1) {
        if (strcasecmp(name, "name*") == 0) {
            snprintf(why, whylen, "a multipart part name in name*= form is ambiguous");
            return false;
        }
        if (strcasecmp(name, "filename") == 0 || strcasecmp(name, "filename*") == 0) {
            part->has_filename = true;
            continue;
        }
        if (strcasecmp(name, "name") != 0) {
            continue;
        }
        if (named) {
            snprintf(why, whylen, "a multipart part's Content-Disposition names it twice");
            return false;
        }
        if (bs || value[0] == '\0' || strlen(value) >= sizeof(part->name)) {
            snprintf(why, whylen,
                     "a multipart part name is empty, too long or has a backslash (ambiguous)");
            return false;
        }
        memcpy(part->name, value, strlen(value) + 1);
        named = true;
    }
    if (r < 0) {
        return false;
    }
    if (!named) {
        snprintf(why, whylen, "a multipart part's Content-Disposition has no name");
        return false;
    }
    return true;
}

/* Reads one part's header block [h, hend) (lines separated by CRLF). */
static bool
read_headers(const char *h, const char *hend, pool_mp_part *part, char *why, size_t whylen)
{
    bool disposition = false, ctype = false;
    size_t blen = (size_t)(hend - h);
    if (memmem(h, blen, "\r\n ", 3) != NULL || memmem(h, blen, "\r\n\t", 3) != NULL) {
        snprintf(why, whylen, "a multipart part has a folded header line (obsolete, ambiguous)");
        return false;
    }
    while (h < hend) {
        const char *eol = memmem(h, (size_t)(hend - h), "\r\n", 2);
        if (eol == NULL) {
            eol = hend;
        }
        if (memchr(h, '\r', (size_t)(eol - h)) || memchr(h, '\n', (size_t)(eol - h)) ||
            memchr(h, '\0', (size_t)(eol - h)) || *h == ' ' || *h == '\t') {
            snprintf(why, whylen, "a multipart part has a malformed header line");
            return false;
        }
        const char *colon = h;
        while (colon < eol && is_tchar((unsigned char)*colon)) {
            colon++;
        }
        if (colon == h || colon == eol || *colon != ':') {
            snprintf(why, whylen, "a multipart part has a malformed header line");
            return false;
        }
        size_t nlen = (size_t)(colon - h);
        const char *v = skip_ows(colon + 1, eol);
        const char *vend = eol;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t')) {
            vend--;
        }
        if (nlen == 19 && strncasecmp(h, "Content-Disposition", nlen) == 0) {
            if (disposition) {
                snprintf(why, whylen, "a multipart part has two Content-Disposition headers");
                return false;
            }
            disposition = true;
            if (!read_disposition(v, vend, part, why, whylen)) {
                return false;
            }
        } else if (nlen == 12 && strncasecmp(h, "Content-Type", nlen) == 0) {
            if (ctype || (size_t)(vend - v) >= sizeof(part->ctype)) {
                snprintf(why, whylen, "a multipart part has two or an overlong Content-Type");
                return false;
            }
            ctype = true;
            snprintf(part->ctype, sizeof(part->ctype), "%.*s", (int)(vend - v), v);
        } else if (nlen == 25 && strncasecmp(h, "Content-Transfer-Encoding", nlen) == 0) {
            size_t vl = (size_t)(vend - v);
            if (!((vl == 4 && strncasecmp(v, "7bit", 4) == 0) ||
                  (vl == 4 && strncasecmp(v, "8bit", 4) == 0) ||
                  (vl == 6 && strncasecmp(v, "binary", 6) == 0))) {
                snprintf(why, whylen,
                         "a multipart part has a Content-Transfer-Encoding (not allowed in "
                         "form data)");
                return false;
            }
        }
        h = eol + 2;
    }
    if (!disposition) {
        snprintf(why, whylen, "a multipart part has no Content-Disposition header");
        return false;
    }
    return true;
}

bool
pool_multipart_parse(const char *ctype, const void *body, size_t len, pool_mp_body *out, char *why,
                     size_t whylen)
{
    char boundary[MAX_BOUNDARY + 1], delim[MAX_BOUNDARY + 5];
    out->nparts = 0;
    if (!pool_multipart_boundary(ctype, boundary, sizeof(boundary), why, whylen)) {
        return false;
    }
    size_t dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
    const char *b = body != NULL ? body : "";
    const char *end = b + len;
    /* No preamble: the body starts with the first delimiter (without its CRLF). */
    if (len < dlen - 2 || memcmp(b, delim + 2, dlen - 2) != 0) {
        snprintf(why, whylen, "the multipart body must begin with its boundary");
        return false;
    }
    const char *p = b + dlen - 2;
    for (;;) {
        /* p is just after a delimiter: "--" closes, else transport padding and CRLF. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
            p += 2;
            break;
        }
        p = skip_ows(p, end);
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            snprintf(why, whylen,
                     "the multipart body is malformed (a boundary is not followed by a line "
                     "end)");
            return false;
        }
        p += 2;
        if (out->nparts == POOL_MP_MAX_PARTS) {
            snprintf(why, whylen, "the multipart body has more than %d parts", POOL_MP_MAX_PARTS);
            return false;
        }
        pool_mp_part *part = &out->parts[out->nparts];
        memset(part, 0, sizeof(*part));
        const char *hend;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            hend = p; /* no headers at all */
        } else {
            size_t room = (size_t)(end - p);
            hend = memmem(p, room < MAX_HEADER_BLOCK ? room : MAX_HEADER_BLOCK, "\r\n\r\n", 4);
            if (hend == NULL) {
                snprintf(why, whylen, "a multipart part's headers are malformed or too long");
                return false;
            }
        }
        if (!read_headers(p, hend, part, why, whylen)) {
            return false;
        }
        const char *content = hend + (hend == p ? 2 : 4);
        const char *cend = memmem(content, (size_t)(end - content), delim, dlen);
        if (cend == NULL) {
            snprintf(why, whylen, "the multipart body is truncated (no closing boundary)");
            return false;
        }
        if (pool_multipart_get(out, part->name) != NULL) {
            snprintf(why, whylen, "the multipart body has two parts named \"%.64s\"", part->name);
            return false;
        }
        part->data = content;
        part->len = (size_t)(cend - content);
        out->nparts++;
        p = cend + dlen;
    }
    /* The epilogue: nothing but white space, so no reader finds a part there. */
    for (; p < end; p++) {
        if (*p != '\r' && *p != '\n' && *p != ' ' && *p != '\t') {
            snprintf(why, whylen, "the multipart body has data after its closing boundary");
            return false;
        }
    }
    return true;
}

const pool_mp_part *
pool_multipart_get(const pool_mp_body *b, const char *name)
{
    for (int i = 0; i < b->nparts; i++) {
        if (strcmp(b->parts[i].name, name) == 0) {
            return &b->parts[i];
        }
    }
    return NULL;
}
