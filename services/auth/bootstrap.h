/* The first admin: at start-up, when the database has no admin (or ADMIN_FORCE_RESET=true),
 * the account ADMIN_USERNAME is created or reset with ADMIN_PASSWORD, or with a generated
 * password printed once to stdout as "Admin login: USER / PASSWORD". Instances starting at the
 * same time serialise on the admins advisory lock, so only one of them creates the admin. */
#ifndef AUTH_BOOTSTRAP_H
#define AUTH_BOOTSTRAP_H

#include <stddef.h>

#include "np/errors.h"
#include "service.h"

/* auth_bootstrap_admin makes sure an admin exists. NP_ERR_CONFIG when ADMIN_USERNAME or
 * ADMIN_PASSWORD break the account rules, NP_ERR_DB when the database fails; why says which. */
np_err auth_bootstrap_admin(auth_service *s, char *why, size_t whylen);

#endif
