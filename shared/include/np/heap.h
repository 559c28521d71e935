/* What malloc holds, for the metrics: how much of it is in use and how much it took from the
 * system (glibc's mallinfo2, summed over its arenas). Tuning and trimming are the naipool
 * process's own policy (services/cli/memtune.c). */
#ifndef NP_HEAP_H
#define NP_HEAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    size_t in_use; /* bytes in allocated blocks, arenas and own mappings together */
    size_t held;   /* bytes malloc took from the system: in use plus free inside the arenas */
} np_heap_usage;

/* np_heap_read fills u and returns true, or returns false where the C library has no such
 * reading (not glibc). It takes each arena's lock for the moment of its walk. */
bool np_heap_read(np_heap_usage *u);

#endif
