/* The subscription probe: GET {base}/user/subscription with a contributed token, optionally
 * through an egress proxy. A blocking libcurl easy call, for worker threads only (never an NNG
 * callback, never the pool's curl thread). Pool probes on upload, health probes periodically
 * and on demand; both read the answer with the pure helpers of np/novelai.h. */
#ifndef NP_NOVELAI_PROBE_H
#define NP_NOVELAI_PROBE_H

#include <stdbool.h>

#include "np/novelai.h"

typedef struct {
    int status;  /* HTTP status; 0: no answer, or a 200 that was not understood */
    bool parsed; /* sub holds the parsed answer */
    np_novelai_sub sub;
    char error[160]; /* what went wrong, never the token */
} np_novelai_probe_result;

/* np_novelai_probe asks base + /user/subscription with token, through proxy when it is not
 * empty (a CONNECT tunnel; never an environment proxy otherwise). The outcome is in out. */
void np_novelai_probe(const char *base, const char *token, const char *proxy, long timeout_ms,
                      np_novelai_probe_result *out);

#endif
