/* Gateway counters and their Prometheus rendering. */
#include "metrics.h"

#include <string.h>

#include "np/heap.h"

/* Route groups: a fixed list so that metric labels stay bounded whatever paths arrive. */
static const char *const groups[GW_METRIC_ROUTES] = {"other",  "healthz", "readyz",      "metrics",
                                                     "static", "auth",    "client_keys", "keys",
                                                     "logs",   "admin",   "relay",       NULL};

static const int codes[GW_METRIC_CODES] = {200, 201, 204, 400, 401, 402,
                                           403, 404, 413, 429, 500, 503};

/* Upper bounds of the latency buckets, in microseconds. */
static const uint64_t bounds_us[GW_LATENCY_BUCKETS] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000};

int
gw_metrics_route_id(const char *group)
{
    for (int i = 0; i < GW_METRIC_ROUTES && groups[i] != NULL; i++) {
        if (strcmp(groups[i], group) == 0) {
            return i;
        }
    }
    return 0;
}

const char *
gw_metrics_route_name(int id)
{
    return id >= 0 && id < GW_METRIC_ROUTES && groups[id] ? groups[id] : "other";
}

static int
code_slot(int status)
{
    for (int i = 0; i < GW_METRIC_CODES; i++) {
        if (codes[i] == status) {
            return i;
        }
    }
    /* everything else is counted under its class: 2xx as 200, 4xx as 400, 5xx as 500 */
    return status >= 500 ? 10 : status >= 400 ? 3 : 0;
}

void
gw_metrics_observe(gw_metrics *m, int route, int status, uint64_t latency_us)
{
    if (route < 0 || route >= GW_METRIC_ROUTES) {
        route = 0;
    }
    atomic_fetch_add(&m->requests[route][code_slot(status)], 1);
    int b = 0;
    while (b < GW_LATENCY_BUCKETS && latency_us > bounds_us[b]) {
        b++;
    }
    atomic_fetch_add(&m->latency[route][b], 1);
    atomic_fetch_add(&m->latency_sum_us[route], latency_us);
}

void
gw_metrics_render(const gw_metrics *m, np_buf *out)
{
    np_buf_puts(out, "# HELP naipool_http_requests_total HTTP requests by route group and "
                     "status.\n# TYPE naipool_http_requests_total counter\n");
    for (int r = 0; r < GW_METRIC_ROUTES && groups[r]; r++) {
        for (int c = 0; c < GW_METRIC_CODES; c++) {
            uint64_t v = atomic_load(&m->requests[r][c]);
            if (v > 0) {
                np_buf_printf(out, "naipool_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                              groups[r], codes[c], (unsigned long long)v);
            }
        }
    }
    np_buf_puts(out, "# HELP naipool_http_request_duration_seconds Latency of HTTP requests "
                     "(relay streams: until the answer started).\n"
                     "# TYPE naipool_http_request_duration_seconds histogram\n");
    for (int r = 0; r < GW_METRIC_ROUTES && groups[r]; r++) {
        uint64_t cum = 0;
        for (int b = 0; b <= GW_LATENCY_BUCKETS; b++) {
            cum += atomic_load(&m->latency[r][b]);
        }
        if (cum == 0) {
            continue;
        }
        cum = 0;
        for (int b = 0; b < GW_LATENCY_BUCKETS; b++) {
            cum += atomic_load(&m->latency[r][b]);
            np_buf_printf(out,
                          "naipool_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                          "%llu\n",
                          groups[r], (double)bounds_us[b] / 1e6, (unsigned long long)cum);
        }
        cum += atomic_load(&m->latency[r][GW_LATENCY_BUCKETS]);
        np_buf_printf(out,
                      "naipool_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                      "%llu\n",
                      groups[r], (unsigned long long)cum);
        np_buf_printf(out, "naipool_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
                      groups[r], (double)atomic_load(&m->latency_sum_us[r]) / 1e6);
        np_buf_printf(out, "naipool_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                      groups[r], (unsigned long long)cum);
    }
    np_buf_printf(out,
                  "# HELP naipool_http_in_flight Requests being served.\n"
                  "# TYPE naipool_http_in_flight gauge\nnaipool_http_in_flight %lld\n",
                  (long long)atomic_load(&m->in_flight));
    np_heap_usage heap;
    if (np_heap_read(&heap)) {
        np_buf_printf(out,
                      "# HELP naipool_process_heap_bytes What malloc holds in this process: "
                      "in_use by live blocks, held from the system (in use and free).\n"
                      "# TYPE naipool_process_heap_bytes gauge\n"
                      "naipool_process_heap_bytes{state=\"in_use\"} %zu\n"
                      "naipool_process_heap_bytes{state=\"held\"} %zu\n",
                      heap.in_use, heap.held);
    }
}
