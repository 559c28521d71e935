/* Strict JSON input checks over jansson: one object, no duplicate keys, no unknown fields,
 * typed fields with ranges, and a sentence saying what was wrong. */
#ifndef NP_JSON_H
#define NP_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "np/errors.h"

/* np_json_parse_object parses body as one JSON object (UTF-8, no duplicate keys, no NUL).
 * NP_ERR_BAD_JSON with a sentence in why otherwise. *out is the caller's (json_decref). */
np_err np_json_parse_object(const void *body, size_t len, json_t **out, char *why, size_t whylen);
/* A parsed JSON value costs jansson some 50-100 bytes however short its text ("0," is two
 * bytes), so a body is pre-scanned before it is parsed: at most NP_JSON_MAX_VALUES values
 * (strings, numbers, literals, arrays, objects; object keys count) and NP_JSON_MAX_DEPTH
 * levels of nesting. A parse then costs at most the body's size plus a bounded tree; long
 * strings (base64 images) count as one value each. */
#define NP_JSON_MAX_VALUES 100000u
#define NP_JSON_MAX_DEPTH 64
/* np_json_prescan counts the values and the nesting of body without allocating; false with a
 * sentence in why when either exceeds its cap. It does not validate (the parser does). */
bool np_json_prescan(const void *body, size_t len, char *why, size_t whylen);
/* np_json_measure is the pre-scan's count without caps: the values of body as the pre-scan
 * counts them, and its deepest nesting (json_fuzz checks that they bound the parsed tree). */
void np_json_measure(const void *body, size_t len, size_t *values, int *depth);
/* np_json_only_keys fails naming the first key of obj not in the NULL-terminated allowed (obj
 * is not const: jansson iterates only mutable objects). */
bool np_json_only_keys(json_t *obj, const char *const *allowed, char *why, size_t whylen);

/* Typed getters. Each returns NP_ERR_OK and sets *present (may be NULL) when the key is
 * absent and not required; NP_ERR_INVALID with a sentence when the type or range is off. */
np_err np_json_str(const json_t *obj, const char *key, bool required, size_t minlen, size_t maxlen,
                   const char **out, bool *present, char *why, size_t whylen);
np_err np_json_int(const json_t *obj, const char *key, bool required, int64_t min, int64_t max,
                   int64_t *out, bool *present, char *why, size_t whylen);
np_err np_json_bool(const json_t *obj, const char *key, bool required, bool *out, bool *present,
                    char *why, size_t whylen);
/* np_json_is_null: the key is present with value null (to clear an optional setting). */
bool np_json_is_null(const json_t *obj, const char *key);

#endif
