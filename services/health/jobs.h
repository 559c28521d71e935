/* The leader's background work: each second the jobs thread checks leadership (the
 * heartbeat before acting), then queues the keys and proxies due for a probe to a bounded
 * pool of prober threads (HEALTH_CHECK_CONCURRENCY), spreading the periodic key probes
 * evenly over HEALTH_CHECK_INTERVAL_SECONDS; every minute it runs log retention (the audit
 * service's retention.run, batch by batch) and prunes nodes silent for a day. Followers
 * only keep trying to become leader. */
#ifndef HEALTH_JOBS_H
#define HEALTH_JOBS_H

#include "keyprobe.h"
#include "leader.h"
#include "np/rpc.h"

typedef struct health_jobs health_jobs;

/* health_jobs_start starts the jobs thread and the probers; env, leader and audit (the
 * client of AUDIT_RPC_URL) must outlive them. NP_ERR_NOMEM or NP_ERR_SYSTEM. */
np_err health_jobs_start(health_jobs **out, const health_probe_env *env, health_leader *leader,
                         np_rpc_client *audit);
/* health_jobs_stop waits for the running probes and stops every thread; NULL is accepted. */
void health_jobs_stop(health_jobs *j);

#endif
