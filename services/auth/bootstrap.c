/* Creating or resetting the first admin at start-up. */
#include "bootstrap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "np/db.h"
#include "np/log.h"
#include "settings.h"
#include "throttle.h"
#include "users.h"

/* admins_count counts admin rows; -1 on error. */
static int64_t
admins_count(PGconn *c)
{
    PGresult *res = NULL;
    int64_t n = -1;
    if (np_db_exec(c, "SELECT count(*) FROM users WHERE role = 'admin'", 0, NULL, &res) ==
        NP_ERR_OK) {
        np_db_row row = np_db_row_at(res, 0);
        n = np_db_int(&row, 0);
        n = row.err == NP_ERR_OK ? n : -1;
    }
    PQclear(res);
    return n;
}

/* store creates the admin or resets its password, role and state (ending its sessions). */
static np_err
store(PGconn *c, const char *name, const char *hash, int64_t *uid)
{
    char lower[AUTH_USERNAME_MAX + 1];
    const char *params[] = {name, hash};
    PGresult *res = NULL;
    np_err err = np_db_exec(c,
                            "UPDATE users SET password_hash = $2, role = 'admin', "
                            "disabled = false, token_version = token_version + 1 "
                            "WHERE lower(username) = lower($1) RETURNING id",
                            2, params, &res);
    if (err == NP_ERR_OK && PQntuples(res) == 0) {
        PQclear(res);
        res = NULL;
        err = np_db_exec(c,
                         "INSERT INTO users (username, password_hash, role) "
                         "VALUES ($1, $2, 'admin') RETURNING id",
                         2, params, &res);
    }
    if (err == NP_ERR_OK) {
        np_db_row row = np_db_row_at(res, 0);
        *uid = np_db_int(&row, 0);
        err = row.err;
    }
    if (err == NP_ERR_OK) {
        auth_username_lower(name, lower, sizeof(lower));
        err = auth_lockout_clear(c, lower);
    }
    PQclear(res);
    return err;
}

/* show_password hands a generated password to the operator: into DATA_DIR/admin-password
 * (mode 0600), and on standard output only when that is a terminal; otherwise (a container
 * whose output goes to log storage) only the file's path is printed. */
static void
show_password(const np_config *cfg, const char *name, const char *password)
{
    char dir[512], path[600];
    np_settings *snap = np_config_acquire(cfg);
    snprintf(dir, sizeof(dir), "%s", np_settings_common(snap)->DATA_DIR);
    np_settings_release(snap);
    snprintf(path, sizeof(path), "%s/admin-password", dir);
    mkdir(dir, 0700);
    unlink(path); /* a new file, so the mode below holds whoever made the old one */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool saved = fd >= 0 && dprintf(fd, "%s\n", password) > 0;
    if (fd >= 0) {
        saved = close(fd) == 0 && saved;
    }
    if (isatty(STDOUT_FILENO)) {
        fprintf(stdout, "Admin login: %s / %s\n", name, password);
    } else if (saved) {
        fprintf(stdout, "Admin login: %s, password in %s\n", name, path);
    } else {
        np_log_error("auth",
                     "the generated admin password could not be written to %s: set "
                     "ADMIN_PASSWORD and ADMIN_FORCE_RESET=true to choose one",
                     path);
    }
    fflush(stdout);
}

np_err
auth_bootstrap_admin(auth_service *s, char *why, size_t whylen)
{
    np_config *cfg = s->base.cfg;
    char name[128], password[AUTH_PASSWORD_MAX_BYTES + 2] = "", hash[AUTH_HASH_MAX];
    char reason[200] = "";
    np_settings *snap = np_config_acquire(cfg);
    const auth_settings *as = NP_SETTINGS_OF(snap, auth);
    bool force = as->ADMIN_FORCE_RESET;
    int64_t min_length = as->AUTH_PASSWORD_MIN_LENGTH;
    bool generated = false;
    int64_t uid = 0;
    np_err err = NP_ERR_OK;
    PGconn *c = NULL;
    snprintf(name, sizeof(name), "%s", as->ADMIN_USERNAME);
    snprintf(password, sizeof(password), "%s", as->ADMIN_PASSWORD);
    np_settings_release(snap);
    if (!auth_username_check(name, strlen(name), reason, sizeof(reason))) {
        snprintf(why, whylen, "ADMIN_USERNAME: %s", reason);
        err = NP_ERR_CONFIG;
        goto done;
    }
    if (password[0] != '\0' && !auth_password_check(password, strlen(password), name, min_length,
                                                    reason, sizeof(reason))) {
        snprintf(why, whylen, "ADMIN_PASSWORD: %s", reason);
        err = NP_ERR_CONFIG;
        goto done;
    }
    c = np_db_acquire(s->base.db, 10000);
    if (c == NULL) {
        snprintf(why, whylen, "auth: the database cannot be reached to check the first admin");
        err = NP_ERR_DB;
        goto done;
    }
    err = np_db_exec(c, "BEGIN", 0, NULL, NULL);
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, "SELECT pg_advisory_xact_lock(" AUTH_ADMIN_LOCK ")", 0, NULL, NULL);
    }
    int64_t admins = err == NP_ERR_OK ? admins_count(c) : -1;
    if (admins < 0) {
        err = NP_ERR_DB;
    } else if (admins > 0 && !force) {
        if (password[0] != '\0') {
            np_log_info("auth", "an admin exists: ADMIN_PASSWORD is not applied (set "
                                "ADMIN_FORCE_RESET=true to reset the admin's password)");
        }
    } else {
        if (password[0] == '\0') {
            err = np_token_new("", 96, password, sizeof(password));
            generated = err == NP_ERR_OK;
        }
        if (err == NP_ERR_OK) {
            err = auth_password_hash(password, strlen(password), hash, sizeof(hash));
        }
        if (err == NP_ERR_OK) {
            err = store(c, name, hash, &uid);
        }
    }
    if (err == NP_ERR_OK) {
        err = np_db_exec(c, "COMMIT", 0, NULL, NULL);
    } else {
        PQclear(PQexec(c, "ROLLBACK"));
        snprintf(why, whylen, "auth: the first admin could not be created (%s)",
                 np_err_message(err));
    }
    np_db_release(s->base.db, c);
    if (err == NP_ERR_OK && uid > 0) {
        np_log_info("auth", "admin account '%s' %s", name, force ? "reset" : "created");
        np_events_emit(s->base.events, "auth.admin_bootstrapped",
                       json_pack("{s:I, s:b}", "user", (json_int_t)uid, "reset", force));
        if (generated) {
            show_password(cfg, name, password);
        }
    }
done:
    np_wipe(password, sizeof(password));
    np_wipe(hash, sizeof(hash));
    return err;
}
