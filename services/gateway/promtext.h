/* Merging Prometheus text from several sources into one exposition. Each source (the gateway,
 * every pool instance, one instance of each other service) writes whole families, but two
 * instances of one service write the same families: the exposition format wants every family
 * once, its HELP and TYPE once, and all its samples together. */
#ifndef GW_PROMTEXT_H
#define GW_PROMTEXT_H

#include <stddef.h>

#include "np/buf.h"

/* gw_promtext_merge appends to out the n texts merged family by family, families in the order
 * they first appear, samples in source order. A sample line with no HELP or TYPE of its own
 * forms a family of its name; comment lines other than HELP and TYPE are dropped. */
np_err gw_promtext_merge(const np_buf *texts, int n, np_buf *out);

#endif
