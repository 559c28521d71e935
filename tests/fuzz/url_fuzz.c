/* Fuzz target for URL and query decoding (np/httpop.h): np_url_decode into a small and a
 * large buffer, np_query_get for a few names, and np_path_match against route patterns. The
 * input is split at its first NUL: before it the query (or path), after it a name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "np/httpop.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384) {
        return 0;
    }
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    size_t qlen = strlen(text); /* up to the first NUL */
    const char *name = qlen < size ? text + qlen + 1 : "limit";

    char small[8], big[256];
    if (np_url_decode(text, qlen, small, sizeof(small)) && strlen(small) >= sizeof(small)) {
        abort();
    }
    if (np_url_decode(text, qlen, big, sizeof(big)) && strlen(big) >= sizeof(big)) {
        abort();
    }
    static const char *const names[] = {"limit", "before", "status", "route", ""};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        (void)np_query_get(text, names[i], small, sizeof(small));
        (void)np_query_get(text, names[i], big, sizeof(big));
    }
    (void)np_query_get(text, name, big, sizeof(big));

    static const char *const patterns[] = {"/keys/{id}", "/admin/users/{id}/keys", "/keys", "/{id}",
                                           "/admin/proxies/{id}"};
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        int64_t id = 0;
        if (np_path_match(patterns[i], text, &id) && strstr(patterns[i], "{id}") != NULL &&
            id <= 0) {
            abort(); /* an id that matched must be a positive number */
        }
    }
    free(text);
    return 0;
}
