/* Fuzz target for the decoders that read bytes from other processes: the wire envelope, the
 * "http" operation and error replies. Built as a libFuzzer target with clang
 * (-DNP_FUZZ=ON), and always as a replay program over tests/fuzz/corpus/wire (ctest), valid
 * messages the driver mutates, so every test run exercises it under ASan. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "np/httpop.h"
#include "np/json.h"
#include "np/wire.h"

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
