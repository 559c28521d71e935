/* The web UI's static files from WEB_DIR, with no way out of that folder. */
#ifndef GW_STATIC_H
#define GW_STATIC_H

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

/* gw_static_serve answers GET/HEAD for path (already normalised by H2O). */
void gw_static_serve(gw_request *r, const char *path, size_t plen);
/* gw_static_path_ok tells whether a request path may name a file (no "..", no NUL, no
 * backslash, no hidden files). Exposed for tests. */
bool gw_static_path_ok(const char *path, size_t plen);

#endif
