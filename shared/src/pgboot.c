/* The private Postgres of single-node mode, driven through initdb and pg_ctl. */
#include "np/pgboot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "np/crypto.h"
#include "np/log.h"

struct np_pgboot {
    char bindir[256];
    char pgdir[700];
    char sockdir[700];
    uid_t uid; /* who runs postgres; 0 means: ourselves */
    gid_t gid;
};

/* find_bindir picks PG_BINDIR, else the newest /usr/lib/postgresql/N/bin, else PATH. */
static bool
find_bindir(char *out, size_t n)
{
    const char *env = getenv("PG_BINDIR");
    if (env != NULL && env[0] != '\0') {
        snprintf(out, n, "%s", env);
        return true;
    }
    int best = -1;
    DIR *d = opendir("/usr/lib/postgresql");
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            int v = (int)strtol(e->d_name, NULL, 10);
            char probe[300];
            snprintf(probe, sizeof(probe), "/usr/lib/postgresql/%s/bin/pg_ctl", e->d_name);
            if (v > best && access(probe, X_OK) == 0) {
                best = v;
            }
        }
        closedir(d);
    }
    if (best >= 0) {
        snprintf(out, n, "/usr/lib/postgresql/%d/bin", best);
        return true;
    }
    const char *path = getenv("PATH");
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", path ? path : "/usr/bin:/usr/local/bin");
    char *save = NULL;
    for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        char probe[4200];
        snprintf(probe, sizeof(probe), "%s/pg_ctl", p);
        if (access(probe, X_OK) == 0) {
            snprintf(out, n, "%s", p);
            return true;
        }
    }
    return false;
}

/* run executes argv as the cluster's user, in a new session (so a terminal's Ctrl-C does not
 * reach Postgres before we stop it ourselves), with output to logpath; returns exit code. */
static int
run(const np_pgboot *pg, const char *const argv[], const char *logpath)
{
    /* execv takes writable strings (POSIX kept the old prototype): copies, made before fork. */
    char words[4096], *args[16];
    size_t n = 0, used = 0;
    for (; argv[n] != NULL; n++) {
        size_t len = strlen(argv[n]) + 1;
        if (n + 1 >= sizeof(args) / sizeof(args[0]) || len > sizeof(words) - used) {
            return -1;
        }
        args[n] = memcpy(words + used, argv[n], len);
        used += len;
    }
    args[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        setsid();
        int fd = open(logpath ? logpath : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            dup2(nul, 0);
            close(nul);
        }
        if (pg->uid != 0) {
            if (setgroups(0, NULL) != 0 || setgid(pg->gid) != 0 || setuid(pg->uid) != 0) {
                _exit(126);
            }
        }
        execv(args[0], args);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* reachable tells whether the cluster's user can reach path (searching every parent). */
static bool
reachable(const np_pgboot *pg, const char *path)
{
    if (pg->uid == 0) {
        return true;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(pg->gid) != 0 || setuid(pg->uid) != 0) {
            _exit(1);
        }
        _exit(access(path, X_OK) == 0 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int
mkdirs(const char *path, mode_t mode)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

static bool
own_dir(const np_pgboot *pg, const char *dir)
{
    if (mkdirs(dir, 0700) != 0) {
        return false;
    }
    if (pg->uid != 0 && chown(dir, pg->uid, pg->gid) != 0) {
        return false;
    }
    return chmod(dir, 0700) == 0;
}

static bool
create_database(const char *sockdir, char *why, size_t whylen)
{
    const char *keys[] = {"host", "user", "dbname", NULL};
    const char *vals[] = {sockdir, "naipool", "postgres", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = 'naipool'");
        bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
        PQclear(r);
        if (!exists) {
            r = PQexec(c, "CREATE DATABASE naipool");
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
        }
    }
    if (!ok) {
        snprintf(why, whylen, "private Postgres: cannot create the database: %s",
                 PQerrorMessage(c));
    }
    PQfinish(c);
    return ok;
}

/* locate fills pg's binaries, user and folders for data_dir, creating DATA_DIR. */
static bool
locate(np_pgboot *pg, const char *data_dir, char *why, size_t whylen)
{
    if (!find_bindir(pg->bindir, sizeof(pg->bindir))) {
        snprintf(why, whylen,
                 "private Postgres: pg_ctl not found (install postgresql, or set "
                 "DATABASE_URL)");
        return false;
    }
    /* realpath() allocates: into a buffer of less than PATH_MAX, fortified builds abort. */
    char absdata[600];
    char *real = mkdirs(data_dir, 0755) == 0 ? realpath(data_dir, NULL) : NULL;
    if (real == NULL || strlen(real) >= sizeof(absdata)) {
        snprintf(why, whylen, "DATA_DIR: cannot create %s: %s", data_dir,
                 real == NULL ? strerror(errno) : "path too long");
        free(real);
        return false;
    }
    memcpy(absdata, real, strlen(real) + 1);
    free(real);
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (pw == NULL) {
            pw = getpwnam("nobody");
        }
        if (pw == NULL) {
            snprintf(why, whylen, "private Postgres: running as root and no `postgres` user");
            return false;
        }
        pg->uid = pw->pw_uid;
        pg->gid = pw->pw_gid;
    }
    snprintf(pg->pgdir, sizeof(pg->pgdir), "%s/pg", absdata);
    uint8_t h[32];
    char hex[65];
    np_sha256(absdata, strlen(absdata), h);
    np_hex(h, 8, hex);
    if (pg->uid != 0 && !reachable(pg, absdata)) {
        /* The postgres user cannot walk into DATA_DIR (a home folder under root, say): keep
         * the cluster where it can, named after DATA_DIR so each data dir keeps its own. */
        snprintf(pg->pgdir, sizeof(pg->pgdir), "/var/lib/naipool/%s/pg", hex);
        np_log_info("pgboot", "the postgres user cannot reach %s; cluster kept in %s", absdata,
                    pg->pgdir);
    }
    /* Unix socket paths are limited to ~107 bytes: use a short folder when needed. */
    snprintf(pg->sockdir, sizeof(pg->sockdir), "%s", pg->pgdir);
    if (strlen(pg->sockdir) > 80) {
        snprintf(pg->sockdir, sizeof(pg->sockdir), "/tmp/naipool-pg-%s", hex);
    }
    return true;
}

np_err
np_pgboot_start(np_pgboot **out, const char *data_dir, char *url, size_t urllen, char *why,
                size_t whylen)
{
    np_pgboot *pg = calloc(1, sizeof(*pg));
    if (pg == NULL) {
        return NP_ERR_NOMEM;
    }
    if (!locate(pg, data_dir, why, whylen)) {
        goto fail;
    }
    if (!own_dir(pg, pg->pgdir) || !own_dir(pg, pg->sockdir)) {
        snprintf(why, whylen, "private Postgres: cannot prepare %s: %s", pg->pgdir,
                 strerror(errno));
        goto fail;
    }
    char logpath[800], version[800], prog[300];
    snprintf(logpath, sizeof(logpath), "%s/postgres.log", pg->pgdir);
    snprintf(version, sizeof(version), "%s/PG_VERSION", pg->pgdir);
    if (access(version, F_OK) != 0) {
        np_log_info("pgboot", "creating a private Postgres cluster in %s", pg->pgdir);
        snprintf(prog, sizeof(prog), "%s/initdb", pg->bindir);
        const char *argv[] = {prog,    "-D", pg->pgdir, "-U",          "naipool",   "-A",
                              "trust", "-E", "UTF8",    "--no-locale", "--no-sync", NULL};
        if (run(pg, argv, NULL) != 0) {
            snprintf(why, whylen, "private Postgres: initdb failed in %s", pg->pgdir);
            goto fail;
        }
    }
    snprintf(prog, sizeof(prog), "%s/pg_ctl", pg->bindir);
    const char *status_argv[] = {prog, "status", "-D", pg->pgdir, NULL};
    if (run(pg, status_argv, NULL) != 0) {
        char opts[1200];
        snprintf(opts, sizeof(opts),
                 "-c listen_addresses='' -c unix_socket_directories='%s' "
                 "-c unix_socket_permissions=0700 -c max_connections=300 %s",
                 pg->sockdir, getenv("NP_PG_OPTIONS") ? getenv("NP_PG_OPTIONS") : "");
        const char *argv[] = {prog,      "start", "-w",    "-t", "60", "-D",
                              pg->pgdir, "-l",    logpath, "-o", opts, NULL};
        if (run(pg, argv, NULL) != 0) {
            snprintf(why, whylen, "private Postgres: pg_ctl start failed (see %s)", logpath);
            goto fail;
        }
    }
    if (!create_database(pg->sockdir, why, whylen)) {
        np_pgboot_stop(pg);
        return NP_ERR_DB;
    }
    snprintf(url, urllen, "postgresql:///naipool?host=%s&user=naipool", pg->sockdir);
    *out = pg;
    return NP_ERR_OK;
fail:
    free(pg);
    return NP_ERR_DB;
}

np_err
np_pgboot_stop_dir(const char *data_dir, char *why, size_t whylen)
{
    np_pgboot *pg = calloc(1, sizeof(*pg));
    if (pg == NULL) {
        return NP_ERR_NOMEM;
    }
    if (!locate(pg, data_dir, why, whylen)) {
        free(pg);
        return NP_ERR_DB;
    }
    np_pgboot_stop(pg);
    return NP_ERR_OK;
}

void
np_pgboot_stop(np_pgboot *pg)
{
    if (pg == NULL) {
        return;
    }
    char prog[300];
    snprintf(prog, sizeof(prog), "%s/pg_ctl", pg->bindir);
    const char *argv[] = {prog, "stop", "-D", pg->pgdir, "-m", "fast", "-w", "-t", "20", NULL};
    if (run(pg, argv, NULL) != 0) {
        np_log_warn("pgboot", "pg_ctl stop did not succeed for %s", pg->pgdir);
    }
    free(pg);
}
