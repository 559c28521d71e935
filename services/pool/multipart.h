/* Finding one named part of a multipart/form-data body (NovelAI's image routes put their JSON
 * in the part "request", beside the image parts), without copying anything. */
#ifndef POOL_MULTIPART_H
#define POOL_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

/* pool_multipart_is reports whether a Content-Type is multipart/form-data. */
bool pool_multipart_is(const char *ctype);

/* pool_multipart_find sets *part and *plen to the contents of the part called name (borrowed
 * from body). False, with a sentence in why, when the Content-Type has no usable boundary,
 * the body is malformed, or no such part exists. */
bool pool_multipart_find(const char *ctype, const void *body, size_t len, const char *name,
                         const void **part, size_t *plen, char *why, size_t whylen);

#endif
