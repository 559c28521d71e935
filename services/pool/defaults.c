/* Defaults filled into a client's request (defaults.h). */
#include "defaults.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

/* A model name here is a plain word: no character JSON would have to escape. */
static bool
plain(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\') {
            return false;
        }
    }
    return true;
}

/* An escaped name (\\u006d...) is read the way the cost model reads it. */
static bool
names_model(const char *b, size_t blen)
{
    json_t *j = json_loadb(b, blen, 0, NULL);
    bool named = j == NULL || !json_is_object(j) || json_object_get(j, "model") != NULL;
    json_decref(j);
    return named;
}

np_err
pool_default_model(const char *ctype, const void *body, size_t blen, const char *model, char **out,
                   size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    const char *b = body;
    if (model[0] == '\0' || !plain(model) || strncasecmp(ctype, "application/json", 16) != 0) {
        return NP_ERR_OK;
    }
    /* Any "model" text at all (a member, or a string value) leaves the body alone: the cost
     * model then reads it as the client sent it. Only a body that surely names no model is
     * changed, so nothing the client wrote is hidden from pricing. */
    if (memmem(b, blen, "\"model\"", 7) != NULL ||
        (memmem(b, blen, "\\u", 2) != NULL && names_model(b, blen))) {
        return NP_ERR_OK;
    }
    size_t i = 0;
    while (i < blen && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) {
        i++;
    }
    if (i == blen || b[i] != '{') {
        return NP_ERR_OK;
    }
    size_t j = i + 1;
    while (j < blen && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r' || b[j] == '\n')) {
        j++;
    }
    bool empty = j < blen && b[j] == '}';
    char member[160];
    int n = snprintf(member, sizeof(member), "\"model\":\"%s\"%s", model, empty ? "" : ",");
    if (n < 0 || (size_t)n >= sizeof(member)) {
        return NP_ERR_OK;
    }
    char *nb = malloc(blen + (size_t)n);
    if (nb == NULL) {
        return NP_ERR_NOMEM;
    }
    memcpy(nb, b, i + 1);
    memcpy(nb + i + 1, member, (size_t)n);
    memcpy(nb + i + 1 + n, b + i + 1, blen - i - 1);
    *out = nb;
    *outlen = blen + (size_t)n;
    return NP_ERR_OK;
}
