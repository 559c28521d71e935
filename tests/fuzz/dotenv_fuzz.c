/* Fuzz target for .env parsing (np_dotenv_parse): any bytes, parsed or refused, never read
 * out of bounds; every key handed to the callback is a non-empty C string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "np/config.h"

static void
on_pair(void *arg, const char *key, const char *value)
{
    size_t *pairs = arg;
    if (key[0] == '\0') {
        abort(); /* a pair without a key: the parser let a bad line through */
    }
    (void)strlen(value);
    (*pairs)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pairs = 0;
    int bad = 0;
    (void)np_dotenv_parse((const char *)data, size, on_pair, &pairs, &bad);
    return 0;
}
