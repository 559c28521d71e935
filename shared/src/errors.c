/* Lookups over the error table of errors.def. */
#include "np/errors.h"

#include <nng/nng.h>
#include <string.h>

static const struct {
    int status;
    const char *code;
    const char *msg;
} table[] = {
#define X(name, status, code, msg) {status, code, msg},
#include "np/errors.def"
#undef X
};

int
np_err_status(np_err err)
{
    return (unsigned)err < NP_ERR__COUNT ? table[err].status : 500;
}

const char *
np_err_code(np_err err)
{
    return (unsigned)err < NP_ERR__COUNT ? table[err].code : "internal";
}

const char *
np_err_message(np_err err)
{
    return (unsigned)err < NP_ERR__COUNT ? table[err].msg : "internal error";
}

np_err
np_err_from_code(const char *code)
{
    for (unsigned i = 0; i < NP_ERR__COUNT; i++) {
        if (strcmp(table[i].code, code) == 0) {
            return (np_err)i;
        }
    }
    return NP_ERR_INTERNAL;
}

np_err
np_err_from_nng(int rv)
{
    switch (rv) {
    case 0: return NP_ERR_OK;
    case NNG_ENOMEM: return NP_ERR_NOMEM;
    case NNG_ETIMEDOUT: return NP_ERR_TIMEOUT;
    case NNG_ECLOSED: return NP_ERR_CLOSED;
    case NNG_ECANCELED: return NP_ERR_CANCELED;
    case NNG_EMSGSIZE: return NP_ERR_TOO_LARGE;
    case NNG_ECONNREFUSED:
    case NNG_EUNREACHABLE:
    case NNG_EAGAIN: return NP_ERR_UNAVAILABLE;
    default: return NP_ERR_UNAVAILABLE;
    }
}
