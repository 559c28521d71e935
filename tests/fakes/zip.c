/* Writes stored (uncompressed) ZIP archives, the container NovelAI returns images in. */
#include "zip.h"

#include <string.h>
#include <zlib.h>

/* 1980-01-01 00:00 in MS-DOS format: fixed so identical inputs give identical archives. */
#define DOS_TIME 0
#define DOS_DATE ((0 << 9) | (1 << 5) | 1)

static bool
put_header(struct buf *out, uint32_t signature, bool central, const struct zip_entry *e,
           uint32_t crc, uint32_t offset)
{
    uint16_t name_len = (uint16_t)strlen(e->name);
    bool ok = buf_append_le32(out, signature);
    if (central) {
        ok = ok && buf_append_le16(out, 20); /* version made by */
    }
    ok = ok && buf_append_le16(out, 20) /* version needed */
         && buf_append_le16(out, 0)     /* flags */
         && buf_append_le16(out, 0)     /* method: stored */
         && buf_append_le16(out, DOS_TIME) && buf_append_le16(out, DOS_DATE) &&
         buf_append_le32(out, crc) && buf_append_le32(out, (uint32_t)e->len) &&
         buf_append_le32(out, (uint32_t)e->len) && buf_append_le16(out, name_len) &&
         buf_append_le16(out, 0); /* extra length */
    if (central) {
        ok = ok && buf_append_le16(out, 0) /* comment length */
             && buf_append_le16(out, 0)    /* disk number */
             && buf_append_le16(out, 0)    /* internal attributes */
             && buf_append_le32(out, 0)    /* external attributes */
             && buf_append_le32(out, offset);
    }
    return ok && buf_append(out, e->name, name_len);
}

bool
zip_build(struct buf *out, const struct zip_entry *entries, size_t n)
{
    uint32_t crcs[64];
    uint32_t offsets[64];
    size_t start = out->len;

    if (n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        crcs[i] = (uint32_t)crc32(crc32(0L, Z_NULL, 0), entries[i].data, (uInt)entries[i].len);
        offsets[i] = (uint32_t)(out->len - start);
        if (!put_header(out, 0x04034b50, false, &entries[i], crcs[i], 0) ||
            !buf_append(out, entries[i].data, entries[i].len)) {
            return false;
        }
    }
    size_t cd_start = out->len - start;
    for (size_t i = 0; i < n; i++) {
        if (!put_header(out, 0x02014b50, true, &entries[i], crcs[i], offsets[i])) {
            return false;
        }
    }
    size_t cd_len = out->len - start - cd_start;
    return buf_append_le32(out, 0x06054b50) && buf_append_le16(out, 0) && buf_append_le16(out, 0) &&
           buf_append_le16(out, (uint16_t)n) && buf_append_le16(out, (uint16_t)n) &&
           buf_append_le32(out, (uint32_t)cd_len) && buf_append_le32(out, (uint32_t)cd_start) &&
           buf_append_le16(out, 0);
}
