/* The blocking subscription probe used when a key is contributed. */
#include "probe.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "np/buf.h"
#include "np/crypto.h"

static size_t
on_write(char *p, size_t size, size_t n, void *arg)
{
    np_buf *b = arg;
    return np_buf_append(b, p, size * n) == NP_ERR_OK ? size * n : 0;
}

void
pool_probe_run(const char *base, const char *token, long timeout_ms, pool_probe_result *out)
{
    memset(out, 0, sizeof(*out));
    char url[600], auth[300];
    snprintf(url, sizeof(url), "%s/user/subscription", base);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    np_buf body;
    np_buf_init(&body, 1u << 20);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    CURL *e = curl_easy_init();
    if (e == NULL || h == NULL) {
        snprintf(out->error, sizeof(out->error), "out of memory");
        goto cleanup;
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "naipool/" NP_VERSION);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(e);
    if (rc != CURLE_OK) {
        snprintf(out->error, sizeof(out->error), "probe failed: %s", curl_easy_strerror(rc));
        goto cleanup;
    }
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    out->status = (int)code;
    if (code == 200 && !np_novelai_sub_parse(body.data, body.len, &out->sub)) {
        snprintf(out->error, sizeof(out->error), "the subscription answer was not understood");
        out->status = 0;
        goto cleanup;
    }
    out->state = np_novelai_probe_state(out->status, &out->sub);
    if (code != 200) {
        snprintf(out->error, sizeof(out->error), "subscription probe answered HTTP %ld", code);
    }
cleanup:
    curl_easy_cleanup(e);
    if (h != NULL) {
        np_wipe(h->data, strlen(h->data));
    }
    curl_slist_free_all(h);
    np_wipe(auth, sizeof(auth));
    np_buf_fini(&body);
}
