/* Fuzz target for the Anlas cost model: an input is one byte choosing the route kind and the
 * key, a Content-Type line, "\n", then the body. Besides not faulting, the model must keep the
 * pool's promise: what it does not know is never free, a refusal says why, and a free-only
 * key is only ever given requests priced 0. Built for libFuzzer with clang (-DNP_FUZZ=ON,
 * `make fuzz`), and always as a replay program over tests/fuzz/corpus/cost (ctest). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pool/anlas.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const pool_route_kind kinds[] = {POOL_KIND_IMAGE, POOL_KIND_AUGMENT, POOL_KIND_UPSCALE,
                                            POOL_KIND_VIBE, POOL_KIND_TEXT};
    if (size < 2) {
        return 0;
    }
    pool_route_kind kind = kinds[(data[0] & 0x0f) % 5];
    pool_key_policy key = {.tier = (data[0] >> 4) & 3,
                           .active = (data[0] & 0x40) == 0,
                           .anlas = 1000,
                           .v5_negative = (data[0] & 0x80) != 0,
                           .max_per_request = -1};
    const uint8_t *nl = memchr(data + 1, '\n', size - 1 < 512 ? size - 1 : 512);
    if (nl == NULL) {
        return 0;
    }
    char ctype[512];
    memcpy(ctype, data + 1, (size_t)(nl - data - 1));
    ctype[nl - data - 1] = '\0';
    const uint8_t *body = nl + 1;
    size_t len = size - (size_t)(body - data);
    pool_anlas_req r;
    char why[256] = "";
    if (pool_anlas_parse(kind, ctype, body, len, NULL, &r, why, sizeof(why)) != NP_ERR_OK) {
        if (why[0] == '\0') {
            abort();
        }
        return 0;
    }
    char reason[256] = "";
    int64_t cost = pool_anlas_cost(&r, &key, reason, sizeof(reason));
    if (cost < 0 || (cost > 0 && reason[0] == '\0')) {
        abort();
    }
    if (r.unknown[0] != '\0' && kind != POOL_KIND_TEXT && cost == 0) {
        abort(); /* fail closed */
    }
    int64_t est;
    bool fits = pool_anlas_fits(&r, &key, &est, why, sizeof(why));
    if (est != cost || (fits && cost != 0 && kind != POOL_KIND_TEXT)) {
        abort(); /* a free-only key serves free requests only */
    }
    return 0;
}

/* for the replay driver (replay.c) */
const char *const np_fuzz_tokens[] = {
    "\"n_samples\":4,",
    "\"steps\":50,",
    "\"sm\":true,",
    "\"mask\":\"aGk=\",",
    "\"reference_image_multiple\":[\"aGk=\",\"aGk=\",\"aGk=\",\"aGk=\",\"aGk=\"],",
    "\"director_reference_images_cached\":[{\"cache_secret_key\":\"k\"}],",
    "\"inpaintImg2ImgStrength\":0.5,",
    "\"strength\":0.01,",
    "\"width\":16384,",
    "\"model\":\"nai-diffusion-5-full\",",
    "\"req_type\":\"bg-removal\",",
    "\"x\":1,",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\"",
    "\r\n--B\r\n",
    "boundary=",
    "\\u0000",
    NULL};
