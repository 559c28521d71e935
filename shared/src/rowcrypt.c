/* AES-256-GCM of row secrets with the row's identity as associated data. */
#include "np/rowcrypt.h"

#include <stdio.h>
#include <string.h>

static size_t
make_aad(const char *domain, int64_t id, uint8_t *aad, size_t cap)
{
    size_t d = strlen(domain);
    if (d + 8 > cap) {
        return 0;
    }
    memcpy(aad, domain, d);
    uint64_t u = (uint64_t)id;
    for (int i = 0; i < 8; i++) {
        aad[d + (size_t)i] = (uint8_t)(u >> (56 - 8 * i));
    }
    return d + 8;
}

np_err
np_row_seal(const uint8_t key[NP_KEY_LEN], const char *domain, int64_t id, const void *pt,
            size_t ptlen, np_buf *out)
{
    uint8_t aad[72];
    size_t n = make_aad(domain, id, aad, sizeof(aad));
    if (n == 0) {
        return NP_ERR_INTERNAL;
    }
    return np_aead_seal(key, aad, n, pt, ptlen, out);
}

np_err
np_row_open(const uint8_t key[NP_KEY_LEN], const char *domain, int64_t id, const void *sealed,
            size_t len, np_buf *out)
{
    uint8_t aad[72];
    size_t n = make_aad(domain, id, aad, sizeof(aad));
    if (n == 0) {
        return NP_ERR_INTERNAL;
    }
    return np_aead_open(key, aad, n, sealed, len, out);
}

np_err
np_row_key(const np_config *cfg, uint8_t key[NP_KEY_LEN])
{
    np_settings *snap = np_config_acquire(cfg);
    bool ok = np_key_parse(np_settings_common(snap)->ENCRYPTION_KEY, key);
    np_settings_release(snap);
    return ok ? NP_ERR_OK : NP_ERR_CONFIG;
}
