/* The admin routes of the auth service: GET /admin/users and PATCH /admin/users/{id}
 * {role?, disabled?, rpm_override?}. The gateway lets only admins through; these handlers
 * check the caller's role again against the database, and refuse to demote or disable the
 * last active admin (changes to admins are serialised by an advisory lock). */
#ifndef AUTH_ADMIN_H
#define AUTH_ADMIN_H

#include <libpq-fe.h>

#include "np/errors.h"
#include "np/httpop.h"
#include "service.h"

/* The advisory lock key held while admins are counted and changed (also by bootstrap). */
#define AUTH_ADMIN_LOCK "7236837729129018689"

/* auth_admin_http answers one /admin/users request. */
void auth_admin_http(auth_service *s, np_rpc_call *call, const np_http_req *r);

#endif
