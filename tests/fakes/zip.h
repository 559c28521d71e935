/* Writes stored (uncompressed) ZIP archives, the container NovelAI returns images in. */
#ifndef FAKE_ZIP_H
#define FAKE_ZIP_H

#include "buf.h"

struct zip_entry {
    const char *name;
    const unsigned char *data;
    size_t len;
};

/* zip_build: appends a ZIP holding the n entries to out; false if out is full. */
bool zip_build(struct buf *out, const struct zip_entry *entries, size_t n);

#endif
