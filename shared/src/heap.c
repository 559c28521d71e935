/* malloc's own figures (np/heap.h). */
#include "np/heap.h"

#include <stdlib.h> /* defines __GLIBC__ where it is glibc */

#ifdef __GLIBC__
#include <malloc.h>
#endif

bool
np_heap_read(np_heap_usage *u)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    struct mallinfo2 mi = mallinfo2();
    u->in_use = mi.uordblks + mi.hblkhd;
    u->held = mi.arena + mi.hblkhd;
    return true;
#else
    u->in_use = 0;
    u->held = 0;
    return false;
#endif
}
