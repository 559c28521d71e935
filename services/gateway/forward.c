/* The REST routes. */
#include "forward.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "call.h"
#include "clientip.h"
#include "np/httpop.h"
#include "respond.h"

typedef struct {
    const gw_route *route;
    gw_then then;
} authorize_ctx;

np_rpc_client *
gw_service_client(gw_gateway *gw, gw_service svc)
{
    switch (svc) {
    case GW_SVC_AUTH: return gw->auth;
    case GW_SVC_POOL: return gw->pool;
    case GW_SVC_AUDIT: return gw->audit;
    case GW_SVC_HEALTH: return gw->health;
    default: return NULL;
    }
}

static void
on_principal(gw_request *r, np_err err, const char *message, const gw_principal *p, void *arg)
{
    authorize_ctx *a = arg;
    if (err != NP_ERR_OK) {
        gw_respond_err(r, err, message);
        return;
    }
    /* A relay key is what users paste into third-party tools: it reaches the relay only, so a
     * leaked one cannot change keys, mint relay keys or act as an admin. */
    if (p->relay_key_id != 0 && a->route->auth != GW_AUTH_RELAY) {
        gw_respond_err(r, NP_ERR_SESSION_REQUIRED, NULL);
        return;
    }
    if (a->route->auth == GW_AUTH_ADMIN && strcmp(p->role, "admin") != 0) {
        gw_respond_err(r, NP_ERR_FORBIDDEN, "this needs the admin role");
        return;
    }
    a->then(r, a->route, p);
}

void
gw_authorize(gw_request *r, const gw_route *route, gw_then then)
{
    if (route->auth == GW_AUTH_PUBLIC) {
        then(r, route, NULL);
        return;
    }
    authorize_ctx *a = h2o_mem_alloc_pool(&r->req->pool, sizeof(*a));
    a->route = route;
    a->then = then;
    gw_auth_resolve(r, on_principal, a);
}

static void
on_answer(gw_call *call)
{
    gw_request *r = call->r;
    if (call->err != NP_ERR_OK) {
        gw_respond_err(r, call->err == NP_ERR_WIRE ? NP_ERR_WIRE : NP_ERR_UNAVAILABLE,
                       call->err == NP_ERR_TIMEOUT ? "the service did not answer in time"
                                                   : "the service is unavailable");
        return;
    }
    char message[256];
    np_err err = np_wire_reply_error(call->msg.root, message, sizeof(message));
    if (err != NP_ERR_OK) {
        gw_respond_err(r, err, message);
        return;
    }
    int64_t status;
    const void *body;
    size_t len;
    char ctype[128] = "";
    if (!np_wire_get_int(call->msg.root, "s", &status) || status < 200 || status > 599 ||
        !np_wire_get_bin(call->msg.root, "b", &body, &len)) {
        gw_respond_err(r, NP_ERR_WIRE, NULL);
        return;
    }
    np_wire_get_cstr(call->msg.root, "ct", ctype, sizeof(ctype));
    gw_apply_headers(r, np_wire_get_map(call->msg.root, "h"));
    gw_respond(r, (int)status, ctype, body, len);
}

static void
send_http(gw_request *r, const gw_route *route, const void *principal)
{
    const gw_principal *p = principal;
    h2o_req_t *req = r->req;
    np_http_req hr;
    memset(&hr, 0, sizeof(hr));
    hr.op = gw_route_op(route, req->method.base, req->method.len);
    snprintf(hr.method, sizeof(hr.method), "%.*s", (int)req->method.len, req->method.base);
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    if (plen >= sizeof(hr.path) || req->path.len - plen > sizeof(hr.query)) {
        gw_respond_err(r, NP_ERR_URI_TOO_LONG, NULL);
        return;
    }
    snprintf(hr.path, sizeof(hr.path), "%.*s", (int)plen, req->path.base);
    if (req->query_at != SIZE_MAX) {
        snprintf(hr.query, sizeof(hr.query), "%.*s", (int)(req->path.len - plen - 1),
                 req->path.base + plen + 1);
    }
    hr.body = req->entity.base;
    hr.body_len = req->entity.base ? req->entity.len : 0;
    gw_client_ip(r, hr.ip, sizeof(hr.ip));
    snprintf(hr.rid, sizeof(hr.rid), "%s", r->rid);
    if (p != NULL) {
        hr.user_id = p->user_id;
        snprintf(hr.role, sizeof(hr.role), "%s", p->role);
        hr.relay_key_id = p->relay_key_id;
    }
    gw_call *call = gw_call_new(r, on_answer, NULL, NULL);
    if (call == NULL) {
        gw_respond_err(r, NP_ERR_NOMEM, NULL);
        return;
    }
    np_wire_writer w;
    np_wire_writer_init(&w);
    np_http_req_write(&w, &hr);
    gw_call_start(call, gw_service_client(r->th->gw, route->svc), &w, r->th->gw->rpc_timeout_ms);
    np_wire_writer_fini(&w);
}

void
gw_forward(gw_request *r, const gw_route *route)
{
    gw_authorize(r, route, send_http);
}
