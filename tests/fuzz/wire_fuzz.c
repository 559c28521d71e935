/* Fuzz target for the decoders that read bytes from other processes: the wire envelope, the
 * "http" operation and error replies. Built as a libFuzzer target with clang
 * (-DNP_FUZZ=ON), and always as a replay program that feeds it a seeded stream of mutated
 * valid messages, so every test run exercises it under ASan. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np/httpop.h"
#include "np/json.h"
#include "np/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    np_wire_msg m;
    if (np_wire_parse(&m, data, size) == NP_ERR_OK) {
        np_http_req r;
        (void)np_http_req_read(m.root, &r);
        char msg[128];
        (void)np_wire_reply_error(m.root, msg, sizeof(msg));
        char op[64];
        (void)np_wire_get_cstr(m.root, "op", op, sizeof(op));
    }
    np_wire_msg_fini(&m);
    json_t *j = NULL;
    char why[256];
    if (np_json_parse_object(data, size, &j, why, sizeof(why)) == NP_ERR_OK) {
        json_decref(j);
    }
    return 0;
}

#ifndef NP_LIBFUZZER
/* xorshift: a fixed seed keeps the replay deterministic. */
static uint64_t
next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int
main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    np_http_req in = {0};
    snprintf(in.method, sizeof(in.method), "POST");
    snprintf(in.path, sizeof(in.path), "/auth/login");
    in.op = NP_OP_AUTH_LOGIN;
    in.body = "{\"username\":\"a\",\"password\":\"b\"}";
    in.body_len = strlen(in.body);
    in.user_id = 3;
    snprintf(in.role, sizeof(in.role), "user");
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_http_req_write(&w, &in);
    uint8_t buf[1024];
    size_t base = w.sbuf.size < sizeof(buf) ? w.sbuf.size : sizeof(buf);
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (long i = 0; i < rounds; i++) {
        memcpy(buf, w.sbuf.data, base);
        size_t len = base;
        int flips = (int)(next(&seed) % 6) + 1;
        for (int f = 0; f < flips; f++) {
            buf[next(&seed) % len] = (uint8_t)next(&seed);
        }
        if (next(&seed) % 4 == 0) {
            len = next(&seed) % (len + 1); /* truncations */
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    np_wire_writer_fini(&w);
    printf("%ld inputs decoded without a fault\n", rounds);
    return 0;
}
#endif
