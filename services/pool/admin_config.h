/* GET and PUT /admin/config: the runtime settings. GET lists every setting with its value
 * (secrets masked), type, source (default, environment, database) and whether an admin may
 * change it online. PUT {KEY: value, ...} (numbers as JSON numbers, switches as JSON
 * booleans, null to go back to the environment or default) checks every key first and
 * answers 400 naming each key that is unknown, read-only or invalid, changing nothing; then
 * writes all of them in one transaction (the config table's trigger NOTIFYs every process),
 * applies them here at once, and records one config.changed event per key (who, key, old and
 * new value). Blocking SQL: rpc worker threads only. */
#ifndef POOL_ADMIN_CONFIG_H
#define POOL_ADMIN_CONFIG_H

#include <stdbool.h>

#include "np/httpop.h"
#include "np/service.h"

/* pool_admin_config_serve answers r when its op is one of /admin/config and returns true;
 * false (and nothing answered) for any other op. The caller has checked that r comes from an admin.
 */
bool pool_admin_config_serve(np_service *svc, np_rpc_call *call, const np_http_req *r);

/* pool_admin_config_value turns a JSON value into the setting's text form, checking its JSON
 * type against the setting's type; false with a sentence in why otherwise. */
bool pool_admin_config_value(const np_cfg_spec *spec, const json_t *v, char *out, size_t outlen,
                             char *why, size_t whylen);

#endif
