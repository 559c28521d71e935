/* What a fuzz target defines: LLVMFuzzerTestOneInput, run by libFuzzer (`make fuzz`) or by
 * the replay driver (replay.c, under ctest), and optionally np_fuzz_tokens, the byte strings
 * its reader cares about (NULL-terminated), which the replay driver inserts into its seeds. */
#ifndef NP_FUZZ_H
#define NP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* weak: a target without tokens links too (the driver sees NULL) */
extern const char *const np_fuzz_tokens[] __attribute__((weak));

#endif
