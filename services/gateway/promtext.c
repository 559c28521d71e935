/* Merging Prometheus text family by family. */
#include "promtext.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[128];
    const char *help, *type; /* the first source's lines, or NULL */
    size_t help_len, type_len;
    np_buf samples;
} family;

typedef struct {
    family *v;
    int n, cap;
} families;

/* name_len measures the metric name at the start of s (up to '{', ' ' or the end). */
static size_t
name_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] != '{' && s[i] != ' ' && s[i] != '\t') {
        i++;
    }
    return i;
}

static family *
find(families *fs, const char *name, size_t len)
{
    for (int i = 0; i < fs->n; i++) {
        if (strlen(fs->v[i].name) == len && memcmp(fs->v[i].name, name, len) == 0) {
            return &fs->v[i];
        }
    }
    return NULL;
}

static family *
find_or_add(families *fs, const char *name, size_t len)
{
    family *f = find(fs, name, len);
    if (f != NULL || len == 0 || len >= sizeof(f->name)) {
        return f;
    }
    if (fs->n == fs->cap) {
        int cap = fs->cap ? fs->cap * 2 : 32;
        family *v = realloc(fs->v, (size_t)cap * sizeof(*v));
        if (v == NULL) {
            return NULL;
        }
        fs->v = v;
        fs->cap = cap;
    }
    f = &fs->v[fs->n++];
    memset(f, 0, sizeof(*f));
    memcpy(f->name, name, len);
    np_buf_init(&f->samples, 0);
    return f;
}

/* owner finds the family a sample belongs to: the current one when the sample's name is the
 * family's or one of its histogram/summary series, else the family of the sample's name. */
static family *
owner(families *fs, family *cur, const char *name, size_t len)
{
    if (cur != NULL) {
        size_t fl = strlen(cur->name);
        static const char *const suffixes[] = {"", "_bucket", "_sum", "_count", NULL};
        for (int i = 0; suffixes[i] != NULL; i++) {
            size_t sl = strlen(suffixes[i]);
            if (len == fl + sl && memcmp(name, cur->name, fl) == 0 &&
                memcmp(name + fl, suffixes[i], sl) == 0) {
                return cur;
            }
        }
    }
    return find_or_add(fs, name, len);
}

/* add_text files the lines of one source under their families. */
static np_err
add_text(families *fs, const char *p, size_t n)
{
    family *cur = NULL;
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl != NULL ? (size_t)(nl - p) : n;
        const char *line = p;
        p += nl != NULL ? len + 1 : len;
        n -= nl != NULL ? len + 1 : len;
        if (len == 0) {
            continue;
        }
        if (line[0] == '#') {
            bool help = len > 7 && memcmp(line, "# HELP ", 7) == 0;
            bool type = len > 7 && memcmp(line, "# TYPE ", 7) == 0;
            if (!help && !type) {
                continue;
            }
            cur = find_or_add(fs, line + 7, name_len(line + 7, len - 7));
            if (cur == NULL) {
                return NP_ERR_NOMEM;
            }
            if (help && cur->help == NULL) {
                cur->help = line;
                cur->help_len = len;
            } else if (type && cur->type == NULL) {
                cur->type = line;
                cur->type_len = len;
            }
            continue;
        }
        family *f = owner(fs, cur, line, name_len(line, len));
        if (f == NULL) {
            return NP_ERR_NOMEM;
        }
        cur = f;
        if (np_buf_append(&f->samples, line, len) != NP_ERR_OK ||
            np_buf_append(&f->samples, "\n", 1) != NP_ERR_OK) {
            return NP_ERR_NOMEM;
        }
    }
    return NP_ERR_OK;
}

np_err
gw_promtext_merge(const np_buf *texts, int n, np_buf *out)
{
    families fs = {0};
    np_err err = NP_ERR_OK;
    for (int i = 0; i < n && err == NP_ERR_OK; i++) {
        if (texts[i].data != NULL) {
            err = add_text(&fs, texts[i].data, texts[i].len);
        }
    }
    for (int i = 0; i < fs.n; i++) {
        family *f = &fs.v[i];
        if (err == NP_ERR_OK && f->help != NULL) {
            err = np_buf_append(out, f->help, f->help_len);
            err = err == NP_ERR_OK ? np_buf_append(out, "\n", 1) : err;
        }
        if (err == NP_ERR_OK && f->type != NULL) {
            err = np_buf_append(out, f->type, f->type_len);
            err = err == NP_ERR_OK ? np_buf_append(out, "\n", 1) : err;
        }
        if (err == NP_ERR_OK && f->samples.len > 0) {
            err = np_buf_append(out, f->samples.data, f->samples.len);
        }
        np_buf_fini(&f->samples);
    }
    free(fs.v);
    return err;
}
