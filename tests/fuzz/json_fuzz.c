/* Fuzz target for the JSON pre-scan (np_json_prescan, np/json.h) that bounds what a body may
 * cost jansson: any bytes are measured and, when jansson parses them, the parsed tree must not
 * hold more values or nest deeper than the pre-scan counted (else a body could pass the caps
 * and still build a larger tree); np_json_parse_object accepts only objects the pre-scan
 * passed. Built for libFuzzer with clang (-DNP_FUZZ=ON, `make fuzz`), and always as a replay
 * program over tests/fuzz/corpus/json (ctest). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "np/json.h"

/* tree counts v's values (an object's keys count, as in the pre-scan) into *values and returns
 * its nesting (a scalar 0, an empty array 1). */
static int
tree(json_t *v, size_t *values)
{
    (*values)++;
    int deepest = 0;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            int d = tree(e, values);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e)
        {
            (*values)++;
            int d = tree(e, values);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t counted;
    int nested;
    np_json_measure(data, size, &counted, &nested);
    char why[256] = "";
    bool passes = np_json_prescan(data, size, why, sizeof(why));
    if (passes != (counted <= NP_JSON_MAX_VALUES && nested <= NP_JSON_MAX_DEPTH) ||
        (!passes && why[0] == '\0')) {
        abort(); /* the pre-scan and its measure disagree, or a refusal says nothing */
    }
    json_error_t jerr;
    json_t *j =
        json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (j != NULL) {
        size_t values = 0;
        if (tree(j, &values) > nested || values > counted) {
            abort(); /* the tree is larger than the pre-scan said */
        }
        json_decref(j);
    }
    json_t *o = NULL;
    if (np_json_parse_object(data, size, &o, why, sizeof(why)) == NP_ERR_OK) {
        if (!passes || !json_is_object(o)) {
            abort();
        }
        json_decref(o);
    }
    return 0;
}

/* for the replay driver (replay.c) */
const char *const np_fuzz_tokens[] = {"\"",   "\\",   "\\\"", "\\u0000", "\\ud800", "[", "]",
                                      "{",    "}",    ",",    ":",       "\"k\":",  "0", "-1e9",
                                      "true", "null", " ",    "\t",      "\n",      NULL};
