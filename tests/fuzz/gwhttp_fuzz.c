/* Fuzz target for the gateway's request-line and header handling: the bytes are read as an
 * HTTP/1.1 request head by H2O's own parser (picohttpparser, as the server does), the path
 * normalized as H2O does, then handed to what the gateway does with it: the route table
 * (gw_route_find, gw_route_is_api) and the client address from X-Forwarded-For
 * (gw_client_ip_pick). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <h2o.h>

#include "../../services/gateway/clientip.h"
#include "../../services/gateway/routes.h"
#include "fuzz.h"

/* From H2O's bundled picohttpparser (exported by libh2o, no public header). */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
                      const char **path, size_t *path_len, int *minor_version,
                      struct phr_header *headers, size_t *num_headers, size_t last_len);

#define TRUSTED "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) {
        return 0;
    }
    const char *method, *path;
    size_t mlen, plen, nh = 100;
    int minor;
    struct phr_header headers[100];
    int n = phr_parse_request((const char *)data, size, &method, &mlen, &path, &plen, &minor,
                              headers, &nh, 0);
    if (n <= 0) {
        return 0;
    }
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    size_t query_at = SIZE_MAX;
    size_t *norm = NULL;
    h2o_iovec_t norm_path = h2o_url_normalize_path(&pool, path, plen, &query_at, &norm);
    const char *allow = NULL;
    (void)gw_route_find(method, mlen, norm_path.base, norm_path.len, &allow);
    (void)gw_route_is_api(norm_path.base, norm_path.len);
    for (size_t i = 0; i < nh; i++) {
        if (headers[i].name_len == 15 && strncasecmp(headers[i].name, "x-forwarded-for", 15) == 0) {
            char ip[64];
            if (gw_client_ip_pick("127.0.0.1", headers[i].value, headers[i].value_len, TRUSTED, ip,
                                  sizeof(ip)) &&
                memchr(ip, '\0', sizeof(ip)) == NULL) {
                abort();
            }
            (void)gw_client_ip_pick("203.0.113.9", headers[i].value, headers[i].value_len, TRUSTED,
                                    ip, sizeof(ip));
        }
    }
    h2o_mem_clear_pool(&pool);
    return 0;
}
