/* Builds tiny valid PNG images whose colours follow a seed, standing in for generated art. */
#include "png.h"

#include <string.h>
#include <zlib.h>

static bool
put_chunk(struct buf *out, const char type[4], const unsigned char *data, size_t len)
{
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (len > 0) {
        crc = crc32(crc, data, (uInt)len);
    }
    return buf_append_be32(out, (uint32_t)len) && buf_append(out, type, 4) &&
           buf_append(out, data, len) && buf_append_be32(out, (uint32_t)crc);
}

bool
png_build(struct buf *out, uint32_t seed)
{
    static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    /* Each row: filter byte 0, then RGB pixels. */
    unsigned char raw[PNG_SIDE * (1 + PNG_SIDE * 3)];
    uint32_t x = seed * 2654435761u + 1;
    for (int row = 0; row < PNG_SIDE; row++) {
        unsigned char *p = raw + row * (1 + PNG_SIDE * 3);
        p[0] = 0;
        for (int col = 0; col < PNG_SIDE; col++) {
            /* xorshift keeps the pixels deterministic for a given seed */
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            p[1 + col * 3] = (unsigned char)x;
            p[2 + col * 3] = (unsigned char)(x >> 8);
            p[3 + col * 3] = (unsigned char)(x >> 16);
        }
    }
    unsigned char zbuf[512];
    uLongf zlen = sizeof(zbuf);
    if (compress2(zbuf, &zlen, raw, sizeof(raw), 6) != Z_OK) {
        return false;
    }
    unsigned char ihdr[13] = {0, 0, 0, PNG_SIDE, 0, 0, 0, PNG_SIDE, 8, 2, 0, 0, 0};
    return buf_append(out, signature, sizeof(signature)) &&
           put_chunk(out, "IHDR", ihdr, sizeof(ihdr)) && put_chunk(out, "IDAT", zbuf, zlen) &&
           put_chunk(out, "IEND", NULL, 0);
}
