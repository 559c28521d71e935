/* Malloc settings of the naipool process, so memory a burst needed goes back to the system.
 *
 * glibc serves a request of at least the mmap threshold (128 KiB at first) with a mapping of
 * its own, returned at free. But it raises that threshold to the size of each such block
 * freed (up to 32 MiB), and the trim threshold to twice it: after one argon2id hash (19 MiB,
 * auth/passwords.c) or one large body, every later block of that size comes from an arena
 * and stays resident when freed, in each arena that served one (the rpc workers of auth
 * each have theirs). Measured on `naipool all` (bench/README.md, part 3): 38 MB at start
 * (an argon2id hash at boot left 14 MB free in the main arena), 76 MB after 8 users signed
 * up and in, 136 MB resident after one 30 MiB body; with the threshold fixed, 20, 20 and
 * 21 MB. Setting it turns the adjustment off; the cost is a fresh mapping (and its page
 * faults) per large block, small beside the hash or the body that needs it.
 *
 * Small blocks stay in the arenas (one per thread group, 16 on 2 cores) when freed, and only
 * the top of each heap is trimmed on its own: after 10,000 requests waited and left, 96 of
 * 104 MB in the arenas were free and resident. The main thread, which only waits for a
 * signal, calls malloc_trim every CLI_TRIM_SECONDS, which gives those pages back (113 MB
 * resident -> 30 MB in that case); it takes each arena's lock for the moment of its walk. */
#include "memtune.h"

#include <stdlib.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#define CLI_MMAP_THRESHOLD (128 * 1024)

void
cli_malloc_tune(void)
{
#ifdef __GLIBC__
    if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL && getenv("GLIBC_TUNABLES") == NULL) {
        (void)mallopt(M_MMAP_THRESHOLD, CLI_MMAP_THRESHOLD);
    }
#endif
}

void
cli_malloc_trim(void)
{
#ifdef __GLIBC__
    (void)malloc_trim(0);
#endif
}
