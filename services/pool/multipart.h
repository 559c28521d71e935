/* A strict multipart/form-data reader (RFC 7578 over RFC 2046). The Anlas guard prices a
 * multipart request from its "request" part, so the relay must read the body exactly as a
 * standards-correct server does, and refuse what two correct readers could read differently
 * (two boundaries, two parts of one name, a part without Content-Disposition, a preamble...).
 * Nothing is copied: parts point into the body, which is forwarded unchanged. */
#ifndef POOL_MULTIPART_H
#define POOL_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#define POOL_MP_MAX_PARTS 64
#define POOL_MP_MAX_NAME 128

typedef struct {
    char name[POOL_MP_MAX_NAME]; /* the name parameter of Content-Disposition */
    bool has_filename;
    char ctype[128]; /* the part's Content-Type, "" when it has none */
    const void *data;
    size_t len;
} pool_mp_part;

typedef struct {
    int nparts;
    pool_mp_part parts[POOL_MP_MAX_PARTS];
} pool_mp_body;

/* pool_multipart_is reports whether a Content-Type names multipart/form-data (the media type
 * only, case-insensitive; its parameters are read by pool_multipart_parse). */
bool pool_multipart_is(const char *ctype);

/* pool_multipart_boundary reads the one boundary parameter of a multipart Content-Type into
 * out. False, with a sentence in why, when the parameters are malformed, the boundary is
 * missing, given twice, or not a valid RFC 2046 boundary. */
bool pool_multipart_boundary(const char *ctype, char *out, size_t outlen, char *why, size_t whylen);

/* pool_multipart_parse reads every part of body (Content-Type ctype) into out. False, with a
 * sentence in why, when the body is malformed or ambiguous. */
bool pool_multipart_parse(const char *ctype, const void *body, size_t len, pool_mp_body *out,
                          char *why, size_t whylen);

/* pool_multipart_get returns the part called name, or NULL. */
const pool_mp_part *pool_multipart_get(const pool_mp_body *b, const char *name);

#endif
