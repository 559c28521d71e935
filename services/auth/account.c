/* Sign-up, sign-in, the caller's own account, and password changes. */
#include "account.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jwt.h"
#include "limits.h"
#include "np/json.h"
#include "np/log.h"
#include "relaykeys.h"
#include "request.h"
#include "settings.h"
#include "throttle.h"
#include "users.h"

#define WRONG_CREDENTIALS "wrong username or password"

typedef enum { JOB_REGISTER, JOB_LOGIN, JOB_PASSWORD } job_kind;

/* One deferred request on the hashing pool. It owns copies of the passwords, wiped at the
 * end, and the rpc call, which it must answer. */
typedef struct {
    auth_service *s;
    np_rpc_call *call;
    job_kind kind;
    bool found;     /* login: the user exists (else the dummy hash is verified) */
    auth_user user; /* login, password: the account; register: filled on insert */
    char lower[AUTH_USERNAME_MAX + 1];
    char email[255];                            /* register: the optional e-mail, "" when none */
    char password[AUTH_PASSWORD_MAX_BYTES + 1]; /* login, register; old one for password */
    size_t pwlen;
    char new_password[AUTH_PASSWORD_MAX_BYTES + 1];
    size_t newlen;
    char rid[64];
    char ip[64];      /* the client's address, for the failure counts */
    bool revoke_keys; /* password: delete the user's relay keys too */
    int64_t revoked;  /* password: how many were deleted */
} job;

static void
job_free(job *j)
{
    if (j == NULL) {
        return;
    }
    np_wipe(j, sizeof(*j));
    free(j);
}

static void
emit_user(auth_service *s, const char *type, int64_t uid, const char *rid)
{
    json_t *f = json_pack("{s:s}", "rid", rid);
    if (uid > 0) {
        json_object_set_new(f, "user", json_integer((json_int_t)uid));
    }
    np_events_emit(s->base.events, type, f);
}

/* ---- the jobs, on the hashing pool ---- */

static void
run_register(job *j)
{
    auth_service *s = j->s;
    char hash[AUTH_HASH_MAX];
    np_err err = auth_password_hash(j->password, j->pwlen, hash, sizeof(hash));
    if (err != NP_ERR_OK) {
        np_http_reply_err(j->call, NP_ERR_INTERNAL, "the password could not be hashed");
        return;
    }
    PGconn *c = auth_db_get(s, j->call);
    if (c == NULL) {
        return;
    }
    err = auth_user_insert(c, j->user.username, j->email[0] ? j->email : NULL, hash, "user",
                           &j->user);
    auth_db_put(s, c);
    if (err == NP_ERR_CONFLICT) {
        np_http_reply_err(j->call, err, "this username or e-mail is taken");
        return;
    }
    if (err != NP_ERR_OK) {
        np_http_reply_err(j->call, err, NULL);
        return;
    }
    np_http_reply_json(j->call, 201,
                       json_pack("{s:I, s:s, s:s}", "id", (json_int_t)j->user.id, "username",
                                 j->user.username, "role", j->user.role),
                       NULL);
    emit_user(s, "auth.registered", j->user.id, j->rid);
}

/* upgrade_hash replaces an imported pbkdf2_sha256 hash (the earlier pool's) by an argon2id
 * hash of the password just verified. The session version stays: this is no password change. */
static np_err
upgrade_hash(job *j, PGconn *c)
{
    char hash[AUTH_HASH_MAX];
    np_err err = auth_password_hash(j->password, j->pwlen, hash, sizeof(hash));
    if (err == NP_ERR_OK) {
        err = auth_user_upgrade_hash(c, j->user.id, j->user.password_hash, hash);
    }
    np_wipe(hash, sizeof(hash));
    return err;
}

/* lockout_opts reads the lockout settings (they may change at run time). */
static auth_lockout_opts
lockout_opts(auth_service *s)
{
    auth_lockout_opts o = {
        .threshold = NP_SETTING_NOW(s->base.cfg, auth, AUTH_LOGIN_LOCKOUT_THRESHOLD),
        .minutes = NP_SETTING_NOW(s->base.cfg, auth, AUTH_LOGIN_LOCKOUT_MINUTES),
        .slow_after = NP_SETTING_NOW(s->base.cfg, auth, AUTH_LOGIN_SLOWDOWN_AFTER),
        .slow_max = NP_SETTING_NOW(s->base.cfg, auth, AUTH_LOGIN_SLOWDOWN_MAX_SECONDS),
    };
    return o;
}

/* reserve counts j's attempt as a failure of its (name, address) before the password is
 * checked, so parallel guesses cannot all pass a check made before the first failure is
 * stored. Answers (429 or a database error) and returns false when the attempt may not
 * check a password now. */
static bool
reserve(job *j)
{
    auth_service *s = j->s;
    PGconn *c = auth_db_get(s, j->call);
    if (c == NULL) {
        return false;
    }
    auth_lockout_opts o = lockout_opts(s);
    int64_t retry = 0;
    np_err err = auth_login_reserve(c, j->lower, j->ip, &o, &retry);
    auth_db_put(s, c);
    if (err == NP_ERR_LOCKED) {
        np_request_reply_retry(j->call, err,
                               "too many failed sign-ins for this account from this address; try "
                               "again later",
                               retry);
    } else if (err == NP_ERR_RATE_LIMITED) {
        np_request_reply_retry(
            j->call, err, "failed sign-ins for this account are slowed down; try again shortly",
            retry);
    } else if (err != NP_ERR_OK) {
        np_http_reply_err(j->call, err, NULL);
    }
    if (err == NP_ERR_LOCKED || err == NP_ERR_RATE_LIMITED) {
        emit_user(s, "auth.login_failed", j->found ? j->user.id : 0, j->rid);
    }
    return err == NP_ERR_OK;
}

static void
run_login(job *j)
{
    auth_service *s = j->s;
    if (!reserve(j)) {
        return;
    }
    /* Unknown names verify against a dummy hash, so both answers take as long. */
    bool ok = auth_password_verify(j->found ? j->user.password_hash : s->dummy_hash, j->password,
                                   j->pwlen) &&
              j->found;
    if (!ok) {
        /* The failure was counted by reserve. */
        np_http_reply_err(j->call, NP_ERR_UNAUTHORIZED, WRONG_CREDENTIALS);
        emit_user(s, "auth.login_failed", j->found ? j->user.id : 0, j->rid);
        return;
    }
    PGconn *c = auth_db_get(s, j->call);
    if (c == NULL) {
        return;
    }
    np_err err = auth_login_refund(c, j->lower, j->ip);
    if (err == NP_ERR_OK && auth_password_is_legacy(j->user.password_hash)) {
        err = upgrade_hash(j, c);
    }
    auth_db_put(s, c);
    if (err != NP_ERR_OK) {
        np_http_reply_err(j->call, err, NULL);
        return;
    }
    if (j->user.disabled) {
        np_http_reply_err(j->call, NP_ERR_FORBIDDEN, "this account is disabled");
        emit_user(s, "auth.login_failed", j->user.id, j->rid);
        return;
    }
    int64_t minutes = NP_SETTING_NOW(s->base.cfg, auth, ACCESS_TOKEN_EXPIRE_MINUTES);
    auth_claims claims = {.uid = j->user.id, .ver = j->user.token_version, .iat = time(NULL)};
    claims.exp = claims.iat + minutes * 60;
    np_buf tok;
    np_buf_init(&tok, AUTH_JWT_MAX);
    if (auth_jwt_sign(s->jwt_key, &claims, &tok) != NP_ERR_OK) {
        np_http_reply_err(j->call, NP_ERR_INTERNAL, NULL);
    } else {
        np_http_reply_json(j->call, 200,
                           json_pack("{s:s, s:s, s:I}", "access_token", tok.data, "token_type",
                                     "bearer", "expires_in", (json_int_t)(minutes * 60)),
                           NULL);
        emit_user(s, "auth.login_succeeded", j->user.id, j->rid);
    }
    np_wipe(tok.data, tok.len);
    np_buf_fini(&tok);
}

static void
run_password(job *j)
{
    auth_service *s = j->s;
    if (!reserve(j)) {
        return;
    }
    bool ok = auth_password_verify(j->user.password_hash, j->password, j->pwlen);
    char hash[AUTH_HASH_MAX];
    np_err err = NP_ERR_OK;
    if (!ok) {
        np_http_reply_err(j->call, NP_ERR_FORBIDDEN, "'old_password' is not the current password");
        return;
    }
    err = auth_password_hash(j->new_password, j->newlen, hash, sizeof(hash));
    if (err != NP_ERR_OK) {
        np_http_reply_err(j->call, NP_ERR_INTERNAL, "the password could not be hashed");
        return;
    }
    PGconn *c = auth_db_get(s, j->call);
    if (c == NULL) {
        np_wipe(hash, sizeof(hash));
        return;
    }
    /* The new password and the revocation in one transaction: keys minted by whoever knew
     * the old password must not outlive it. */
    err = np_db_exec(c, "BEGIN", 0, NULL, NULL);
    if (err == NP_ERR_OK) {
        err = auth_user_set_password(c, j->user.id, hash);
    }
    if (err == NP_ERR_OK && j->revoke_keys) {
        err = auth_relaykeys_revoke_all(c, j->user.id, &j->revoked);
    }
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, "COMMIT", 0, NULL, NULL);
    }
    if (err != NP_ERR_OK && PQtransactionStatus(c) != PQTRANS_IDLE) {
        np_db_exec(c, "ROLLBACK", 0, NULL, NULL);
    }
    np_wipe(hash, sizeof(hash));
    if (err == NP_ERR_OK) {
        err = auth_login_refund(c, j->lower, j->ip);
    }
    auth_db_put(s, c);
    if (err != NP_ERR_OK) {
        np_http_reply_err(j->call, err, NULL);
        return;
    }
    np_http_reply_json(j->call, 204, NULL, NULL);
    emit_user(s, "auth.password_changed", j->user.id, j->rid);
    if (j->revoked > 0) {
        emit_user(s, "auth.relay_keys_revoked", j->user.id, j->rid);
    }
}

static void
run_job(void *arg)
{
    job *j = arg;
    switch (j->kind) {
    case JOB_REGISTER: run_register(j); break;
    case JOB_LOGIN: run_login(j); break;
    case JOB_PASSWORD: run_password(j); break;
    }
    job_free(j);
}

/* submit hands j to the hashing pool, or answers 503 and frees it when the pool is full. */
static void
submit(auth_service *s, job *j)
{
    np_err err = auth_workpool_submit(s->hashers, run_job, j);
    if (err != NP_ERR_OK) {
        np_request_reply_retry(j->call, NP_ERR_UNAVAILABLE,
                               "too many sign-ins are being processed; try again shortly", 1);
        job_free(j);
    }
}

static job *
job_new(auth_service *s, np_rpc_call *call, job_kind kind, const np_http_req *r)
{
    job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        np_http_reply_err(call, NP_ERR_NOMEM, NULL);
        return NULL;
    }
    j->s = s;
    j->call = call;
    j->kind = kind;
    snprintf(j->rid, sizeof(j->rid), "%s", r->rid);
    snprintf(j->ip, sizeof(j->ip), "%s", r->ip);
    return j;
}

/* ---- the routes, on rpc workers ---- */

/* signup_extras reads what sign-up also accepts (the earlier pool's fields): an optional
 * e-mail, unique when given, and an optional confirm_password that must match. */
static bool
signup_extras(json_t *body, const char *pw, job *j, char *why, size_t whylen)
{
    const char *email = NULL, *confirm = NULL;
    if (np_json_str(body, "email", false, 0, sizeof(j->email) - 1, &email, NULL, why, whylen) !=
            NP_ERR_OK ||
        np_json_str(body, "confirm_password", false, 0, AUTH_PASSWORD_MAX_BYTES, &confirm, NULL,
                    why, whylen) != NP_ERR_OK) {
        return false;
    }
    if (confirm != NULL && strcmp(confirm, pw) != 0) {
        snprintf(why, whylen, "confirm_password does not match password");
        return false;
    }
    size_t elen = email != NULL ? strlen(email) : 0;
    if (elen > 0) {
        if (!auth_email_check(email, elen, why, whylen)) {
            return false;
        }
        memcpy(j->email, email, elen + 1);
    }
    return true;
}

/* credentials reads {username, password} (sign-up also {email?, confirm_password?}) and
 * checks the username's form; for sign-up it also checks the password rules. Answers 400 and
 * returns false on bad input. */
static bool
credentials(auth_service *s, np_rpc_call *call, const np_http_req *r, bool signup, job *j)
{
    static const char *const allowed[] = {"username", "password", NULL};
    static const char *const signup_allowed[] = {"username", "password", "email",
                                                 "confirm_password", NULL};
    json_t *body = NULL;
    const char *name = NULL, *pw = NULL;
    char why[256] = "";
    if (!np_request_body(call, r, signup ? signup_allowed : allowed, &body)) {
        return false;
    }
    bool ok = np_json_str(body, "username", true, 0, SIZE_MAX, &name, NULL, why, sizeof(why)) ==
                  NP_ERR_OK &&
              auth_username_check(name, strlen(name), why, sizeof(why)) &&
              np_json_str(body, "password", true, 1, AUTH_PASSWORD_MAX_BYTES, &pw, NULL, why,
                          sizeof(why)) == NP_ERR_OK;
    if (ok && signup) {
        ok = auth_password_check(pw, strlen(pw), name,
                                 NP_SETTING_NOW(s->base.cfg, auth, AUTH_PASSWORD_MIN_LENGTH), why,
                                 sizeof(why)) &&
             signup_extras(body, pw, j, why, sizeof(why));
    }
    if (ok) {
        snprintf(j->user.username, sizeof(j->user.username), "%s", name);
        auth_username_lower(name, j->lower, sizeof(j->lower));
        j->pwlen = strlen(pw);
        memcpy(j->password, pw, j->pwlen + 1);
    } else {
        np_http_reply_err(call, NP_ERR_INVALID, why);
    }
    json_decref(body);
    return ok;
}

/* begin opens a sign-up or sign-in: the job with its checked credentials, a connection and
 * the per-address throttle (*err). NULL when it already answered (nothing to free). */
static job *
begin(auth_service *s, np_rpc_call *call, job_kind kind, const np_http_req *r, PGconn **c,
      np_err *err, int64_t *retry)
{
    bool registering = kind == JOB_REGISTER;
    job *j = job_new(s, call, kind, r);
    if (j == NULL || !credentials(s, call, r, registering, j)) {
        job_free(j);
        return NULL;
    }
    *c = auth_db_get(s, call);
    if (*c == NULL) {
        job_free(j);
        return NULL;
    }
    *err = auth_throttle_hit(
        *c, registering ? "register" : "login", r->ip,
        registering ? NP_SETTING_NOW(s->base.cfg, auth, AUTH_REGISTER_RATE_LIMIT_PER_MINUTE)
                    : NP_SETTING_NOW(s->base.cfg, auth, AUTH_LOGIN_RATE_LIMIT_PER_MINUTE),
        retry);
    return j;
}

static void
do_register(auth_service *s, np_rpc_call *call, const np_http_req *r)
{
    if (!NP_SETTING_NOW(s->base.cfg, auth, ALLOW_REGISTRATION)) {
        np_http_reply_err(call, NP_ERR_REGISTRATION_CLOSED,
                          "registration is closed on this pool; ask an admin for an account");
        return;
    }
    PGconn *c;
    int64_t retry = 0;
    np_err err;
    job *j = begin(s, call, JOB_REGISTER, r, &c, &err, &retry);
    if (j == NULL) {
        return;
    }
    auth_user existing;
    if (err == NP_ERR_OK) {
        err = auth_user_by_name(c, j->user.username, &existing);
        err = err == NP_ERR_OK ? NP_ERR_CONFLICT : err == NP_ERR_NOT_FOUND ? NP_ERR_OK : err;
    }
    bool email_taken = false;
    if (err == NP_ERR_OK && j->email[0] != '\0') {
        err = auth_email_taken(c, j->email);
        email_taken = err == NP_ERR_CONFLICT;
    }
    auth_db_put(s, c);
    if (err == NP_ERR_RATE_LIMITED) {
        np_request_reply_retry(call, err, "too many sign-ups from this address; try again later",
                               retry);
    } else if (err == NP_ERR_CONFLICT) {
        np_http_reply_err(call, err,
                          email_taken ? "this e-mail is taken" : "this username is taken");
    } else if (err != NP_ERR_OK) {
        np_http_reply_err(call, err, NULL);
    } else {
        submit(s, j);
        return;
    }
    job_free(j);
}

static void
do_login(auth_service *s, np_rpc_call *call, const np_http_req *r)
{
    PGconn *c;
    int64_t retry = 0;
    np_err err;
    job *j = begin(s, call, JOB_LOGIN, r, &c, &err, &retry);
    if (j == NULL) {
        return;
    }
    if (err == NP_ERR_OK) {
        err = auth_user_by_name(c, j->lower, &j->user);
        j->found = err == NP_ERR_OK;
        err = err == NP_ERR_NOT_FOUND ? NP_ERR_OK : err;
    }
    auth_db_put(s, c);
    if (err == NP_ERR_RATE_LIMITED) {
        np_request_reply_retry(
            call, err, "too many sign-in attempts from this address; try again later", retry);
    } else if (err != NP_ERR_OK) {
        np_http_reply_err(call, err, NULL);
    } else {
        submit(s, j);
        return;
    }
    job_free(j);
}

static void
do_me(auth_service *s, np_rpc_call *call, const np_http_req *r)
{
    PGconn *c = auth_db_get(s, call);
    if (c == NULL) {
        return;
    }
    auth_user u;
    np_err err = auth_user_by_id(c, r->user_id, &u);
    auth_db_put(s, c);
    np_wipe(u.password_hash, sizeof(u.password_hash));
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, err,
                          err == NP_ERR_NOT_FOUND ? "this account no longer exists" : NULL);
        return;
    }
    json_t *out = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)u.id, "username", u.username,
                            "role", u.role, "created_at", u.created_at);
    auth_limits_fill(s->pool, (int)NP_SETTING_NOW(s->base.cfg, auth, AUTH_POOL_TIMEOUT_MS), u.id,
                     out);
    np_http_reply_json(call, 200, out, NULL);
}

static void
do_password(auth_service *s, np_rpc_call *call, const np_http_req *r)
{
    static const char *const allowed[] = {"old_password", "new_password", "revoke_relay_keys",
                                          NULL};
    json_t *body = NULL;
    const char *oldpw = NULL, *newpw = NULL;
    char why[256] = "";
    PGconn *c = NULL;
    bool has_revoke = false;
    job *j = job_new(s, call, JOB_PASSWORD, r);
    if (j == NULL || !np_request_body(call, r, allowed, &body)) {
        goto fail;
    }
    j->revoke_keys = true; /* on unless the caller says false */
    if (np_json_str(body, "old_password", true, 1, AUTH_PASSWORD_MAX_BYTES, &oldpw, NULL, why,
                    sizeof(why)) != NP_ERR_OK ||
        np_json_str(body, "new_password", true, 0, SIZE_MAX, &newpw, NULL, why, sizeof(why)) !=
            NP_ERR_OK ||
        np_json_bool(body, "revoke_relay_keys", false, &j->revoke_keys, &has_revoke, why,
                     sizeof(why)) != NP_ERR_OK) {
        np_http_reply_err(call, NP_ERR_INVALID, why);
        goto fail;
    }
    if ((c = auth_db_get(s, call)) == NULL) {
        goto fail;
    }
    np_err err = auth_user_by_id(c, r->user_id, &j->user);
    if (err == NP_ERR_OK) {
        auth_username_lower(j->user.username, j->lower, sizeof(j->lower));
        if (!auth_password_check(newpw, strlen(newpw), j->user.username,
                                 NP_SETTING_NOW(s->base.cfg, auth, AUTH_PASSWORD_MIN_LENGTH), why,
                                 sizeof(why))) {
            np_http_reply_err(call, NP_ERR_INVALID, why);
            goto fail;
        }
        if (strcmp(oldpw, newpw) == 0) {
            np_http_reply_err(call, NP_ERR_INVALID,
                              "'new_password' must differ from the current password");
            goto fail;
        }
    }
    auth_db_put(s, c);
    c = NULL;
    if (err != NP_ERR_OK) {
        np_http_reply_err(call, err,
                          err == NP_ERR_NOT_FOUND ? "this account no longer exists" : NULL);
        goto fail;
    }
    j->pwlen = strlen(oldpw);
    memcpy(j->password, oldpw, j->pwlen + 1);
    j->newlen = strlen(newpw);
    memcpy(j->new_password, newpw, j->newlen + 1);
    json_decref(body);
    submit(s, j);
    return;
fail:
    auth_db_put(s, c);
    json_decref(body);
    job_free(j);
}

void
auth_account_http(auth_service *s, np_rpc_call *call, const np_http_req *r)
{
    static const struct {
        bool signed_in;
        void (*fn)(auth_service *, np_rpc_call *, const np_http_req *);
    } ops[NP_OP__COUNT] = {
        [NP_OP_AUTH_REGISTER] = {false, do_register},
        [NP_OP_AUTH_LOGIN] = {false, do_login},
        [NP_OP_AUTH_ME] = {true, do_me},
        [NP_OP_AUTH_PASSWORD] = {true, do_password},
    };
    if (ops[r->op].fn == NULL) {
        np_http_reply_err(call, NP_ERR_NOT_FOUND, NULL);
    } else if (ops[r->op].signed_in && r->user_id <= 0) {
        np_http_reply_err(call, NP_ERR_UNAUTHORIZED, NULL);
    } else {
        ops[r->op].fn(s, call, r);
    }
}
