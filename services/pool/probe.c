/* The blocking subscription probe used when a key is contributed. */
#include "probe.h"

#include <stdio.h>
#include <string.h>

#include "np/novelai_probe.h"

void
pool_probe_run(const char *base, const char *token, const char *proxy, long timeout_ms,
               pool_probe_result *out)
{
    memset(out, 0, sizeof(*out));
    np_novelai_probe_result r;
    np_novelai_probe(base, token, proxy, timeout_ms, &r);
    out->status = r.status;
    out->sub = r.sub;
    snprintf(out->error, sizeof(out->error), "%s", r.error);
    if (r.status != 0) {
        out->state = np_novelai_probe_state(out->status, &out->sub);
    }
}
