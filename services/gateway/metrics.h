/* Gateway counters for /metrics: requests by route and status class, a latency histogram,
 * and requests in flight. Lock-free: loop threads only do atomic adds. */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "np/buf.h"

#define GW_METRIC_ROUTES 16
#define GW_METRIC_CODES 12
#define GW_LATENCY_BUCKETS 12

typedef struct {
    atomic_uint_fast64_t requests[GW_METRIC_ROUTES][GW_METRIC_CODES];
    atomic_uint_fast64_t latency[GW_METRIC_ROUTES][GW_LATENCY_BUCKETS + 1];
    atomic_uint_fast64_t latency_sum_us[GW_METRIC_ROUTES];
    atomic_int_fast64_t in_flight;
} gw_metrics;

/* gw_metrics_route_id maps a route group name to a slot (names are registered once). */
int gw_metrics_route_id(const char *group);
const char *gw_metrics_route_name(int id);
void gw_metrics_observe(gw_metrics *m, int route, int status, uint64_t latency_us);
/* gw_metrics_render appends the Prometheus text of the counters to out. */
void gw_metrics_render(const gw_metrics *m, np_buf *out);

#endif
