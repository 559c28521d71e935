/* Static files. Paths are checked twice: by their text (no dot segments, no hidden files)
 * and by where they resolve (realpath must stay inside WEB_DIR, so symlinks cannot escape). */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "respond.h"

#define MAX_STATIC_FILE (8u << 20)

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {NULL, NULL},
};

static const char *
type_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    for (int i = 0; dot != NULL && types[i].ext != NULL; i++) {
        if (strcmp(dot, types[i].ext) == 0) {
            return types[i].type;
        }
    }
    return "application/octet-stream";
}

bool
gw_static_path_ok(const char *path, size_t plen)
{
    if (plen == 0 || path[0] != '/' || plen > 256) {
        return false;
    }
    for (size_t i = 0; i < plen; i++) {
        char c = path[i];
        if (c == '\0' || c == '\\' || (unsigned char)c < 0x20) {
            return false;
        }
        /* a segment starting with '.' is either a dot segment or a hidden file */
        if (c == '.' && i > 0 && path[i - 1] == '/') {
            return false;
        }
    }
    return true;
}

static void
security_headers(gw_request *r)
{
    r->static_file = true;
    gw_add_header(r, "content-security-policy",
                  H2O_STRLIT("default-src 'self'; script-src 'self'; style-src 'self'; "
                             "img-src 'self' data: blob:; connect-src 'self'; "
                             "font-src 'self'; object-src 'none'; base-uri 'none'; "
                             "form-action 'self'; frame-ancestors 'none'"));
    gw_add_header(r, "x-content-type-options", H2O_STRLIT("nosniff"));
    gw_add_header(r, "referrer-policy", H2O_STRLIT("no-referrer"));
    gw_add_header(r, "x-frame-options", H2O_STRLIT("DENY"));
}

/* read_inside reads file rel under root into pool memory; false if missing or outside. */
static bool
read_inside(gw_request *r, const char *root, const char *rel, char **data, size_t *len)
{
    char joined[PATH_MAX], real[PATH_MAX];
    if ((size_t)snprintf(joined, sizeof(joined), "%s%s", root, rel) >= sizeof(joined) ||
        realpath(joined, real) == NULL) {
        return false;
    }
    size_t rootlen = strlen(root);
    if (strncmp(real, root, rootlen) != 0 || (real[rootlen] != '/' && real[rootlen] != '\0')) {
        return false;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= MAX_STATIC_FILE;
    if (ok) {
        *len = (size_t)st.st_size;
        *data = h2o_mem_alloc_pool(&r->req->pool, *len + 1);
        size_t got = 0;
        while (ok && got < *len) {
            ssize_t n = read(fd, *data + got, *len - got);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            ok = n > 0;
            got += n > 0 ? (size_t)n : 0;
        }
    }
    close(fd);
    return ok;
}

void
gw_static_serve(gw_request *r, const char *path, size_t plen)
{
    gw_gateway *gw = r->th->gw;
    char rel[300];
    if (!gw_static_path_ok(path, plen)) {
        gw_respond_err(r, NP_ERR_NOT_FOUND, "no such file");
        return;
    }
    snprintf(rel, sizeof(rel), "%.*s", (int)plen, path);
    if (rel[strlen(rel) - 1] == '/') {
        snprintf(rel + strlen(rel), sizeof(rel) - strlen(rel), "index.html");
    }
    char *data = NULL;
    size_t len = 0;
    if (!read_inside(r, gw->web_dir, rel, &data, &len)) {
        /* The UI routes in the browser (/#/...): unknown paths without an extension get the
         * app's page; anything that looks like a file is a plain 404. */
        const char *slash = strrchr(rel, '/');
        if (strchr(slash, '.') != NULL ||
            !read_inside(r, gw->web_dir, "/index.html", &data, &len)) {
            gw_respond_err(r, NP_ERR_NOT_FOUND, "no such file");
            return;
        }
        snprintf(rel, sizeof(rel), "/index.html");
    }
    security_headers(r);
    gw_add_header(r, "cache-control", H2O_STRLIT("no-cache"));
    gw_respond(r, 200, type_of(rel), data, len);
}
