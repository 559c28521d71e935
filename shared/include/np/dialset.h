/* Dialing every instance behind a name: a comma list of NNG addresses where a tcp address
 * with a host name stands for every IPv4 address the name resolves to (a headless Service on
 * Kubernetes gives one per pod). The names are resolved again every resolve_seconds: a new
 * instance gets a dialer, a vanished one loses its dialer. A req socket then spreads its
 * requests over every instance; a pub or sub socket reaches every one of them. */
#ifndef NP_DIALSET_H
#define NP_DIALSET_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>

#include "np/errors.h"

typedef struct np_dialset np_dialset;

/* np_dial_tune sets a new dialer's options before it starts (may be NULL). */
typedef void (*np_dial_tune)(nng_dialer d, const char *url);

/* np_dialset_open dials every address urls stands for on sock, without waiting for any to
 * answer; a name that does not resolve yet is dialled as it is (NNG resolves it and retries).
 * resolve_seconds 0 resolves only once. */
np_err np_dialset_open(np_dialset **out, nng_socket sock, const char *urls, int resolve_seconds,
                       np_dial_tune tune);
/* np_dialset_close stops re-resolving; the dialers close with the socket. NULL is accepted. */
void np_dialset_close(np_dialset *d);

/* np_addr_expand writes the comma list of addresses urls stands for into out; false when a
 * name does not resolve or out is too small. */
bool np_addr_expand(const char *urls, char *out, size_t outlen);

#endif
