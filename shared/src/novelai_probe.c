/* The subscription probe over libcurl. */
#include "np/novelai_probe.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "np/buf.h"
#include "np/crypto.h"

static size_t
on_write(char *p, size_t size, size_t n, void *arg)
{
    return np_buf_append(arg, p, size * n) == NP_ERR_OK ? size * n : 0;
}

void
np_novelai_probe(const char *base, const char *token, const char *proxy, long timeout_ms,
                 np_novelai_probe_result *out)
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
    if (proxy != NULL && proxy[0] != '\0') {
        curl_easy_setopt(e, CURLOPT_PROXY, proxy);
        curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never an environment proxy */
    }
    CURLcode rc = curl_easy_perform(e);
    if (rc != CURLE_OK) {
        snprintf(out->error, sizeof(out->error), "probe failed: %s", curl_easy_strerror(rc));
        goto cleanup;
    }
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    out->status = (int)code;
    if (code == 200) {
        out->parsed = np_novelai_sub_parse(body.data, body.len, &out->sub);
        if (!out->parsed) {
            snprintf(out->error, sizeof(out->error), "the subscription answer was not understood");
            out->status = 0;
        }
    } else {
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
