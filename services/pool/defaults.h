/* Defaults the pool fills into a client's request before pricing it (the old pool's
 * NOVELAI_DEFAULT_MODEL). The result is what is priced and what is sent. */
#ifndef POOL_DEFAULTS_H
#define POOL_DEFAULTS_H

#include <stddef.h>

#include "np/errors.h"

/* pool_default_model: a JSON object body without a "model" member gets "model": model as its
 * first member, in a new malloc'd buffer (*out, *outlen); *out NULL: the body is left as it
 * is (it names a model, is not a JSON object, or model is empty). NP_ERR_NOMEM only. */
np_err pool_default_model(const char *ctype, const void *body, size_t blen, const char *model,
                          char **out, size_t *outlen);

#endif
