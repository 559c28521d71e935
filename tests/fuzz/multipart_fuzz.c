/* Fuzz target for the pool's strict multipart/form-data reader. An input is a Content-Type
 * line, "\n", then the body. Besides not faulting, the reader must keep its promises on
 * whatever it accepts: every part lies inside the body, has a name, and no two parts share
 * one. Built for libFuzzer with clang (-DNP_FUZZ=ON, `make fuzz`), and always as a replay
 * program over tests/fuzz/corpus/multipart (ctest). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pool/multipart.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 512 ? size : 512);
    if (nl == NULL) {
        return 0;
    }
    char ctype[512];
    memcpy(ctype, data, (size_t)(nl - data));
    ctype[nl - data] = '\0';
    const uint8_t *body = nl + 1;
    size_t len = size - (size_t)(body - data);
    static pool_mp_body b;
    char why[256];
    if (!pool_multipart_parse(ctype, body, len, &b, why, sizeof(why))) {
        if (why[0] == '\0') {
            abort(); /* a refusal always says why */
        }
        return 0;
    }
    for (int i = 0; i < b.nparts; i++) {
        const uint8_t *p = b.parts[i].data;
        if (p < body || p + b.parts[i].len > body + len || b.parts[i].name[0] == '\0') {
            abort();
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(b.parts[i].name, b.parts[j].name) == 0) {
                abort();
            }
        }
    }
    return 0;
}

/* for the replay driver (replay.c) */
const char *const np_fuzz_tokens[] = {"boundary=",
                                      "; ",
                                      "\"",
                                      "\\",
                                      "\r\n",
                                      "\r\n\r\n",
                                      "--",
                                      "\r\n--B",
                                      "\r\n--BBB--",
                                      "Content-Disposition: form-data; name=\"request\"\r\n",
                                      "name=",
                                      "filename=",
                                      "Content-Type: ",
                                      "Content-Transfer-Encoding: base64\r\n",
                                      "\t",
                                      "\n",
                                      "\0",
                                      NULL};
