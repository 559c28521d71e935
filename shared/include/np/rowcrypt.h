/* Secrets stored in a table row (a contributed token, a proxy URL with credentials):
 * AES-256-GCM under ENCRYPTION_KEY with associated data binding the ciphertext to its row, so
 * a ciphertext copied onto another row does not open. The associated data is the domain text
 * followed by the row id as 8 bytes big-endian; upstream_keys uses the empty domain (just
 * the 8 bytes, as 0003_pool.sql says), proxies use "proxy:". */
#ifndef NP_ROWCRYPT_H
#define NP_ROWCRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "np/buf.h"
#include "np/config.h"
#include "np/crypto.h"
#include "np/errors.h"

#define NP_ROW_DOMAIN_KEY ""
#define NP_ROW_DOMAIN_PROXY "proxy:"

/* np_row_seal writes nonce | ciphertext | tag of pt into out. NP_ERR_CRYPTO on failure. */
np_err np_row_seal(const uint8_t key[NP_KEY_LEN], const char *domain, int64_t id, const void *pt,
                   size_t ptlen, np_buf *out);
/* np_row_open reverses np_row_seal into out (wipe it after use); NP_ERR_CRYPTO when the data,
 * the domain or the id do not match. */
np_err np_row_open(const uint8_t key[NP_KEY_LEN], const char *domain, int64_t id,
                   const void *sealed, size_t len, np_buf *out);
/* np_row_key reads ENCRYPTION_KEY from cfg into key (wipe it after use); NP_ERR_CONFIG when
 * it is unset or malformed. */
np_err np_row_key(const np_config *cfg, uint8_t key[NP_KEY_LEN]);

#endif
