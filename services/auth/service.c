/* The auth service's life cycle, its settings, and its operation dispatch (the router). */
#include "auth.h"
#include "settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "admin.h"
#include "bootstrap.h"
#include "np/log.h"
#include "principal.h"
#include "relaykeys.h"
#include "service.h"
#include "users.h"

static bool
check_username(const char *value, char *why, size_t whylen)
{
    return auth_username_check(value, strlen(value), why, whylen);
}

#define RT NP_CFG_RUNTIME

#define NP_SETTING(...) NP_CFG_ROW(auth_settings, __VA_ARGS__)
const np_cfg_spec auth_config[] = {
#include "settings.def"
    NP_CFG_END,
};
#undef NP_SETTING
NP_CFG_TABLE(auth, auth_config);

static void
on_http(auth_service *s, np_rpc_call *call, const msgpack_object *req)
{
    np_http_req r;
    if (np_http_req_read(req, &r) != NP_ERR_OK) {
        np_rpc_reply_error(call, NP_ERR_WIRE, "malformed http request");
        return;
    }
    /* The module answering each op the gateway routes here (np/httpops.def). */
    typedef void (*http_fn)(auth_service *, np_rpc_call *, const np_http_req *);
    static const http_fn modules[NP_OP__COUNT] = {
        [NP_OP_AUTH_REGISTER] = auth_account_http,
        [NP_OP_AUTH_LOGIN] = auth_account_http,
        [NP_OP_AUTH_ME] = auth_account_http,
        [NP_OP_AUTH_PASSWORD] = auth_account_http,
        [NP_OP_CLIENT_KEYS_LIST] = auth_relaykeys_http,
        [NP_OP_CLIENT_KEYS_CREATE] = auth_relaykeys_http,
        [NP_OP_CLIENT_KEY_UPDATE] = auth_relaykeys_http,
        [NP_OP_CLIENT_KEY_DELETE] = auth_relaykeys_http,
        [NP_OP_ADMIN_USERS_LIST] = auth_admin_http,
        [NP_OP_ADMIN_USER_UPDATE] = auth_admin_http,
        [NP_OP_ADMIN_USER_REVOKE_KEYS] = auth_admin_http,
    };
    if (r.op != NP_OP_AUTH_ME && np_http_refuse_relay_key(call, &r)) {
        return;
    }
    if (modules[r.op] == NULL) {
        np_http_reply_err(call, NP_ERR_NOT_FOUND, NULL);
    } else if (modules[r.op] == auth_relaykeys_http && r.user_id <= 0) {
        np_http_reply_err(call, NP_ERR_UNAUTHORIZED, NULL);
    } else {
        modules[r.op](s, call, &r);
    }
}

static void
on_call(void *arg, np_rpc_call *call, const char *op, const msgpack_object *req)
{
    auth_service *s = arg;
    if (strcmp(op, "authenticate") == 0) {
        auth_principal_answer(s, call, req);
    } else if (strcmp(op, "http") == 0) {
        on_http(s, call, req);
    } else if (strcmp(op, "ping") == 0) {
        np_service_reply_ping(&s->base, call);
    } else {
        np_rpc_reply_error(call, NP_ERR_NOT_FOUND, "unknown operation");
    }
}

/* derive_keys derives the signing and hashing keys from SECRET_KEY and wipes the secret. */
static np_err
derive_keys(auth_service *s)
{
    np_settings *snap = np_config_acquire(s->base.cfg);
    const char *secret = np_settings_common(snap)->SECRET_KEY;
    size_t n = strlen(secret);
    np_key_derive(secret, n, "jwt", s->jwt_key);
    np_key_derive(secret, n, "relay-key", s->relay_key);
    np_settings_release(snap); /* the last reference wipes it */
    return n > 0 ? NP_ERR_OK : NP_ERR_CONFIG;
}

/* dummy_hash hashes a random password nobody knows, verified for unknown usernames. */
static np_err
dummy_hash(auth_service *s)
{
    char pw[40];
    np_err err = np_token_new("", 128, pw, sizeof(pw));
    if (err == NP_ERR_OK) {
        err = auth_password_hash(pw, strlen(pw), s->dummy_hash, sizeof(s->dummy_hash));
    }
    np_wipe(pw, sizeof(pw));
    return err;
}

np_err
auth_start(auth_service **out, np_config *cfg, char *why, size_t whylen)
{
    auth_service *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NP_ERR_NOMEM;
    }
    np_settings *snap = NULL;
    np_err err = np_service_open(&s->base, "auth", cfg, why, whylen);
    if (err != NP_ERR_OK) {
        goto fail;
    }
    if ((err = derive_keys(s)) != NP_ERR_OK) {
        snprintf(why, whylen, "SECRET_KEY: auth needs it to sign sessions and hash relay keys");
        goto fail;
    }
    if ((err = dummy_hash(s)) != NP_ERR_OK) {
        snprintf(why, whylen, "auth: argon2id does not work here (%s)", np_err_message(err));
        goto fail;
    }
    snap = np_config_acquire(cfg);
    const auth_settings *as = NP_SETTINGS_OF(snap, auth);
    const np_common_settings *cs = np_settings_common(snap);
    s->hashers = auth_workpool_new((int)as->AUTH_HASH_WORKERS, (int)as->AUTH_HASH_QUEUE);
    s->flusher = auth_flusher_new(s->base.db, (int)as->AUTH_LAST_USED_FLUSH_MS);
    if (s->hashers == NULL || s->flusher == NULL) {
        err = NP_ERR_NOMEM;
        snprintf(why, whylen, "auth: cannot start its worker threads");
        goto fail;
    }
    if ((err = np_rpc_client_open(&s->pool, cs->POOL_RPC_URL, NULL)) != NP_ERR_OK) {
        snprintf(why, whylen, "POOL_RPC_URL: auth cannot dial %s", cs->POOL_RPC_URL);
        goto fail;
    }
    if ((err = auth_bootstrap_admin(s, why, whylen)) != NP_ERR_OK) {
        goto fail;
    }
    np_rpc_opts opts = {.recv_max = NP_HTTP_RECV_MAX, .workers = (int)as->AUTH_RPC_WORKERS};
    err = np_service_listen(&s->base, "AUTH_RPC_LISTEN", cs->AUTH_RPC_LISTEN, &opts, on_call, s,
                            why, whylen);
    if (err != NP_ERR_OK) {
        goto fail;
    }
    np_settings_release(snap);
    *out = s;
    return NP_ERR_OK;
fail:
    np_settings_release(snap);
    auth_stop(s);
    return err;
}

void
auth_stop(auth_service *s)
{
    if (s == NULL) {
        return;
    }
    /* 1. Finish the queued sign-ins (their answers need the rpc server); new ones get 503.
     * 2. Stop answering, which waits for the rpc workers.
     * 3. Flush the last relay-key uses, then free the rest. */
    if (s->hashers != NULL) {
        auth_workpool_stop(s->hashers);
    }
    np_rpc_server_close(s->base.rpc);
    s->base.rpc = NULL;
    auth_flusher_free(s->flusher);
    auth_workpool_free(s->hashers);
    np_rpc_client_close(s->pool);
    np_service_close(&s->base);
    np_wipe(s->jwt_key, sizeof(s->jwt_key));
    np_wipe(s->relay_key, sizeof(s->relay_key));
    free(s);
}
