/* Reads a NovelAI request body: plain JSON, or multipart/form-data whose "request" part is JSON. */
#ifndef FAKE_BODY_H
#define FAKE_BODY_H

#include <jansson.h>
#include <stddef.h>

/* body_parse: the request JSON (new reference), or NULL with a message in err. content_type
 * may be NULL. *parts receives the number of multipart parts (0 for a JSON body). */
json_t *body_parse(const char *content_type, size_t content_type_len, const char *body, size_t len,
                   size_t *parts, char *err, size_t errlen);

#endif
