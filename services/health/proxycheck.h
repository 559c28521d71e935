/* Proxy probes by the health leader: a CONNECT through the proxy to the NovelAI image host
 * (its host and port from NOVELAI_IMAGE_BASE), latency recorded. Failures are classed (429
 * from the proxy, another refusal or 5xx, network) and cool the proxy after
 * PROXY_FAIL_THRESHOLD in a row, for the class's cooldown doubled per further failure (the
 * streak capped at PROXY_FAIL_STREAK_CAP), at most PROXY_COOLDOWN_MAX_SECONDS. */
#ifndef HEALTH_PROXYCHECK_H
#define HEALTH_PROXYCHECK_H

#include <stdint.h>

#include "keyprobe.h"

/* health_proxy_due lists the ids of proxies due for a probe (at most max) into ids. */
np_err health_proxy_due(const health_probe_env *env, int64_t *ids, int max, int *n);
/* health_proxy_probe probes proxy id and records the outcome. NP_ERR_NOT_FOUND, NP_ERR_DB. */
np_err health_proxy_probe(const health_probe_env *env, int64_t id);

#endif
