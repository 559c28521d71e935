/* The subscription probe of a contributed key: GET {NOVELAI_IMAGE_BASE}/user/subscription,
 * a blocking libcurl easy call for the key-upload probe threads (keyprobe.h; never the curl
 * thread, never an NNG callback), read with the shared NovelAI helpers. */
#ifndef POOL_PROBE_H
#define POOL_PROBE_H

#include <stddef.h>

#include "np/novelai.h"

typedef struct {
    int status;         /* 0: no HTTP answer */
    np_novelai_sub sub; /* valid when status is 200 and parsed */
    const char *state;  /* np_novelai_probe_state; NULL: the probe said nothing */
    char error[160];    /* what went wrong, without the token */
} pool_probe_result;

/* pool_probe_run asks base + /user/subscription with token, through proxy unless it is NULL
 * or "" (then directly, never through an environment proxy); never fails as a function: the
 * outcome is in out. */
void pool_probe_run(const char *base, const char *token, const char *proxy, long timeout_ms,
                    pool_probe_result *out);

#endif
