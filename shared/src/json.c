/* Strict JSON input checks. */
#include "np/json.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* scan counts the values and the deepest nesting of body, stopping at the first count past
 * max_values or depth past max_depth (false then). */
static bool
scan(const unsigned char *p, size_t len, size_t max_values, int max_depth, size_t *values_out,
     int *depth_out)
{
    size_t values = 0;
    int depth = 0, deepest = 0;
    bool in_str = false, in_lit = false, ok = true;
    for (size_t i = 0; i < len && ok; i++) {
        unsigned char c = p[i];
        if (in_str) {
            if (c == '\\') {
                i++; /* the escaped character cannot end the string */
            } else if (c == '"') {
                in_str = false;
            }
            continue;
        }
        bool lit = !(c == '"' || c == '[' || c == ']' || c == '{' || c == '}' || c == ',' ||
                     c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r');
        if (lit && !in_lit) {
            values++; /* a number or literal begins */
        }
        in_lit = lit;
        if (c == '"') {
            in_str = true;
            values++;
        } else if (c == '[' || c == '{') {
            values++;
            if (++depth > deepest) {
                deepest = depth;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
        ok = values <= max_values && deepest <= max_depth;
    }
    *values_out = values;
    *depth_out = deepest;
    return ok;
}

void
np_json_measure(const void *body, size_t len, size_t *values, int *depth)
{
    (void)scan(body, len, SIZE_MAX, INT_MAX, values, depth);
}

bool
np_json_prescan(const void *body, size_t len, char *why, size_t whylen)
{
    size_t values;
    int depth;
    if (scan(body, len, NP_JSON_MAX_VALUES, NP_JSON_MAX_DEPTH, &values, &depth)) {
        return true;
    }
    if (depth > NP_JSON_MAX_DEPTH) {
        snprintf(why, whylen, "the JSON nests deeper than %d levels", NP_JSON_MAX_DEPTH);
    } else {
        snprintf(why, whylen, "the JSON holds more than %u values", NP_JSON_MAX_VALUES);
    }
    return false;
}

np_err
np_json_parse_object(const void *body, size_t len, json_t **out, char *why, size_t whylen)
{
    json_error_t jerr;
    if (body == NULL || len == 0) {
        snprintf(why, whylen, "the body is empty; a JSON object is expected");
        return NP_ERR_BAD_JSON;
    }
    if (!np_json_prescan(body, len, why, whylen)) {
        return NP_ERR_BAD_JSON;
    }
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        snprintf(why, whylen, "the body is not valid JSON: %s (at byte %d)", jerr.text,
                 jerr.position);
        return NP_ERR_BAD_JSON;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(why, whylen, "the body must be a JSON object");
        return NP_ERR_BAD_JSON;
    }
    *out = j;
    return NP_ERR_OK;
}

bool
np_json_only_keys(json_t *obj, const char *const *allowed, char *why, size_t whylen)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        bool ok = false;
        for (int i = 0; allowed[i] != NULL && !ok; i++) {
            ok = strcmp(key, allowed[i]) == 0;
        }
        if (!ok) {
            snprintf(why, whylen, "unknown field '%.64s'", key);
            return false;
        }
    }
    return true;
}

static np_err
absent(const char *key, bool required, bool *present, char *why, size_t whylen)
{
    if (present != NULL) {
        *present = false;
    }
    if (required) {
        snprintf(why, whylen, "'%s' is required", key);
        return NP_ERR_INVALID;
    }
    return NP_ERR_OK;
}

np_err
np_json_str(const json_t *obj, const char *key, bool required, size_t minlen, size_t maxlen,
            const char **out, bool *present, char *why, size_t whylen)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return absent(key, required, present, why, whylen);
    }
    if (!json_is_string(v)) {
        snprintf(why, whylen, "'%s' must be a string", key);
        return NP_ERR_INVALID;
    }
    size_t n = json_string_length(v);
    if (n < minlen || n > maxlen) {
        snprintf(why, whylen, "'%s' must be %zu to %zu characters long", key, minlen, maxlen);
        return NP_ERR_INVALID;
    }
    *out = json_string_value(v);
    if (present != NULL) {
        *present = true;
    }
    return NP_ERR_OK;
}

np_err
np_json_int(const json_t *obj, const char *key, bool required, int64_t min, int64_t max,
            int64_t *out, bool *present, char *why, size_t whylen)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return absent(key, required, present, why, whylen);
    }
    if (!json_is_integer(v)) {
        snprintf(why, whylen, "'%s' must be a whole number", key);
        return NP_ERR_INVALID;
    }
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        snprintf(why, whylen, "'%s' must be between %lld and %lld", key, (long long)min,
                 (long long)max);
        return NP_ERR_INVALID;
    }
    *out = x;
    if (present != NULL) {
        *present = true;
    }
    return NP_ERR_OK;
}

np_err
np_json_bool(const json_t *obj, const char *key, bool required, bool *out, bool *present, char *why,
             size_t whylen)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return absent(key, required, present, why, whylen);
    }
    if (!json_is_boolean(v)) {
        snprintf(why, whylen, "'%s' must be true or false", key);
        return NP_ERR_INVALID;
    }
    *out = json_is_true(v);
    if (present != NULL) {
        *present = true;
    }
    return NP_ERR_OK;
}

bool
np_json_is_null(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v != NULL && json_is_null(v);
}
