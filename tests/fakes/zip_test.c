/* Unit tests for the fake's PNG and ZIP writers: signatures, CRCs and the central directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "png.h"
#include "zip.h"

static uint32_t
le32(const unsigned char *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t
be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
test_png_is_valid_and_deterministic(void **state)
{
    (void)state;
    struct buf a, b, c;
    buf_init(&a, 4096);
    buf_init(&b, 4096);
    buf_init(&c, 4096);
    assert_true(png_build(&a, 7));
    assert_true(png_build(&b, 7));
    assert_true(png_build(&c, 8));
    assert_memory_equal(a.data, "\x89PNG\r\n\x1a\n", 8);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_true(a.len != c.len || memcmp(a.data, c.data, a.len) != 0);
    /* IHDR: length 13, then type + data covered by the CRC */
    assert_int_equal(be32(a.data + 8), 13);
    assert_int_equal(be32(a.data + 16), PNG_SIDE);
    assert_int_equal(be32(a.data + 8 + 4 + 4 + 13), (uint32_t)crc32(0L, a.data + 12, 4 + 13));
    assert_memory_equal(a.data + a.len - 8, "IEND", 4);
    buf_fini(&a);
    buf_fini(&b);
    buf_fini(&c);
}

static void
test_zip_layout(void **state)
{
    (void)state;
    static const unsigned char one[] = "first";
    static const unsigned char two[] = "second!";
    struct zip_entry entries[] = {
        {"image_0.png", one, sizeof(one) - 1},
        {"image_1.png", two, sizeof(two) - 1},
    };
    struct buf z;
    buf_init(&z, 4096);
    assert_true(zip_build(&z, entries, 2));
    assert_int_equal(le32(z.data), 0x04034b50);
    assert_int_equal(le32(z.data + 14), (uint32_t)crc32(0L, one, sizeof(one) - 1));
    assert_memory_equal(z.data + 30, "image_0.png", 11);
    assert_memory_equal(z.data + 41, one, sizeof(one) - 1);

    const unsigned char *eocd = z.data + z.len - 22;
    assert_int_equal(le32(eocd), 0x06054b50);
    assert_int_equal(eocd[10], 2); /* entries in total */
    uint32_t cd_size = le32(eocd + 12), cd_offset = le32(eocd + 16);
    assert_int_equal(cd_offset + cd_size, z.len - 22);
    const unsigned char *second = z.data + cd_offset + 46 + 11;
    assert_int_equal(le32(second), 0x02014b50);
    uint32_t local = le32(second + 42);
    assert_memory_equal(z.data + local + 30, "image_1.png", 11);
    buf_fini(&z);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_is_valid_and_deterministic),
        cmocka_unit_test(test_zip_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
