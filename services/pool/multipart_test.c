/* Unit tests for the strict multipart/form-data reader: Content-Type parameters (case,
 * quoting, one boundary), part names from Content-Disposition only, and every ambiguous body
 * refused with a sentence naming the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "multipart.h"

#define CD "Content-Disposition: form-data; name="
#define REQ(b) "--" b "\r\n" CD "\"request\"\r\n\r\n{\"a\":1}\r\n"

typedef struct {
    const char *what;
    const char *ctype;
    const char *body;
    const char *request; /* the request part's content when accepted; NULL: refused */
    const char *why;     /* a part of the sentence when refused */
} mp_case;

static const mp_case cases[] = {
    {"plain", "multipart/form-data; boundary=BBB", REQ("BBB") "--BBB--\r\n", "{\"a\":1}", NULL},
    {"media type and parameter names in any case", "Multipart/Form-Data; BOUNDARY=BBB",
     REQ("BBB") "--BBB--", "{\"a\":1}", NULL},
    {"quoted boundary", "multipart/form-data; boundary=\"B B:B\"", REQ("B B:B") "--B B:B--\r\n",
     "{\"a\":1}", NULL},
    {"quoted-pair in a boundary", "multipart/form-data; boundary=\"B\\BB\"",
     REQ("BBB") "--BBB--\r\n", "{\"a\":1}", NULL},
    {"xboundary is another parameter", "multipart/form-data; xboundary=AAA; boundary=BBB",
     "--BBB\r\n" CD "\"request\"\r\n\r\n{\"b\":2}\r\n--BBB--\r\n", "{\"b\":2}", NULL},
    {"boundary=x inside a quoted value", "multipart/form-data; x=\"boundary=AAA\"; boundary=BBB",
     REQ("BBB") "--BBB--\r\n", "{\"a\":1}", NULL},
    {"empty parameters and a charset", "multipart/form-data;; charset=utf-8; boundary=BBB;",
     REQ("BBB") "--BBB--\r\n", "{\"a\":1}", NULL},
    {"transport padding after a delimiter", "multipart/form-data; boundary=BBB",
     "--BBB  \r\n" CD "\"request\"\r\n\r\n{\"a\":1}\r\n--BBB--\r\n", "{\"a\":1}", NULL},
    {"name and filename quoted, other parts", "multipart/form-data; boundary=BBB",
     "--BBB\r\n" CD "\"image\"; filename=\"a;b.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n"
     "--BBB\r\ncontent-disposition: FORM-DATA; name=request\r\n\r\n{}\r\n--BBB--\r\n",
     "{}", NULL},
    {"two boundaries", "multipart/form-data; boundary=AAA; boundary=BBB", REQ("BBB") "--BBB--\r\n",
     NULL, "boundary twice"},
    {"two boundaries, other case", "multipart/form-data; boundary=AAA; Boundary=AAA",
     REQ("AAA") "--AAA--\r\n", NULL, "boundary twice"},
    {"no boundary", "multipart/form-data", REQ("BBB") "--BBB--\r\n", NULL, "boundary"},
    {"space before =", "multipart/form-data; boundary =BBB", REQ("BBB") "--BBB--\r\n", NULL,
     "malformed"},
    {"unterminated quote", "multipart/form-data; boundary=\"BBB", REQ("BBB") "--BBB--\r\n", NULL,
     "unterminated"},
    {"boundary with a character RFC 2046 forbids", "multipart/form-data; boundary=\"B@B\"",
     REQ("B@B") "--B@B--\r\n", NULL, "RFC 2046"},
    {"boundary over 70 characters",
     "multipart/form-data; "
     "boundary=12345678901234567890123456789012345678901234567890123456789012345678901",
     "--12345678901234567890123456789012345678901234567890123456789012345678901\r\n", NULL,
     "RFC 2046"},
    {"two request parts", "multipart/form-data; boundary=BBB", REQ("BBB") REQ("BBB") "--BBB--\r\n",
     NULL, "two parts named \"request\""},
    {"a part without Content-Disposition", "multipart/form-data; boundary=BBB",
     "--BBB\r\nContent-Type: application/json\r\n\r\n{}\r\n" REQ("BBB") "--BBB--\r\n", NULL,
     "no Content-Disposition"},
    {"a part without headers", "multipart/form-data; boundary=BBB",
     "--BBB\r\n\r\n{}\r\n" REQ("BBB") "--BBB--\r\n", NULL, "no Content-Disposition"},
    {"name only in another header", "multipart/form-data; boundary=BBB",
     "--BBB\r\nX-Note: name=\"request\"\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n"
     "{}\r\n--BBB--\r\n",
     "", NULL}, /* accepted, but it has no request part (checked below) */
    {"two Content-Disposition headers", "multipart/form-data; boundary=BBB",
     "--BBB\r\n" CD "\"x\"\r\n" CD "\"request\"\r\n\r\n{}\r\n--BBB--\r\n", NULL,
     "two Content-Disposition"},
    {"name given twice", "multipart/form-data; boundary=BBB",
     "--BBB\r\n" CD "\"x\"; name=\"request\"\r\n\r\n{}\r\n--BBB--\r\n", NULL, "names it twice"},
    {"name*=", "multipart/form-data; boundary=BBB",
     "--BBB\r\nContent-Disposition: form-data; name*=UTF-8''request\r\n\r\n{}\r\n--BBB--\r\n", NULL,
     "name*="},
    {"backslash in a name", "multipart/form-data; boundary=BBB",
     "--BBB\r\n" CD "\"req\\uest\"\r\n\r\n{}\r\n--BBB--\r\n", NULL, "backslash"},
    {"not form-data", "multipart/form-data; boundary=BBB",
     "--BBB\r\nContent-Disposition: attachment; name=\"request\"\r\n\r\n{}\r\n--BBB--\r\n", NULL,
     "not form-data"},
    {"no name", "multipart/form-data; boundary=BBB",
     "--BBB\r\nContent-Disposition: form-data\r\n\r\n{}\r\n--BBB--\r\n", NULL, "no name"},
    {"a transfer encoding", "multipart/form-data; boundary=BBB",
     "--BBB\r\n" CD "\"request\"\r\nContent-Transfer-Encoding: base64\r\n\r\ne30=\r\n--BBB--\r\n",
     NULL, "Content-Transfer-Encoding"},
    {"a folded header", "multipart/form-data; boundary=BBB",
     "--BBB\r\nContent-Disposition: form-data;\r\n name=\"request\"\r\n\r\n{}\r\n--BBB--\r\n", NULL,
     "header line"},
    {"a bare LF in headers", "multipart/form-data; boundary=BBB",
     "--BBB\r\n" CD "\"request\"\nX: y\r\n\r\n{}\r\n--BBB--\r\n", NULL, "header line"},
    {"a preamble", "multipart/form-data; boundary=BBB",
     "--AAA\r\n" CD "\"request\"\r\n\r\n{}\r\n--AAA--\r\n" REQ("BBB") "--BBB--\r\n", NULL,
     "begin with its boundary"},
    {"an epilogue with a part", "multipart/form-data; boundary=BBB",
     REQ("BBB") "--BBB--\r\n" REQ("BBB") "--BBB--\r\n", NULL, "after its closing boundary"},
    {"the boundary inside a part", "multipart/form-data; boundary=BBB",
     "--BBB\r\n" CD "\"request\"\r\n\r\n{}\r\n--BBBx\r\n--BBB--\r\n", NULL, "line end"},
    {"no closing boundary", "multipart/form-data; boundary=BBB",
     "--BBB\r\n" CD "\"request\"\r\n\r\n{}", NULL, "truncated"},
    {"headers never end", "multipart/form-data; boundary=BBB", "--BBB\r\n" CD "\"request\"\r\n",
     NULL, "headers"},
    {"empty body", "multipart/form-data; boundary=BBB", "", NULL, "begin with its boundary"},
    {"not multipart", "application/json", "{}", NULL, "not multipart"},
};

static void
test_cases(void **state)
{
    (void)state;
    pool_mp_body *b = malloc(sizeof(*b));
    assert_non_null(b);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const mp_case *c = &cases[i];
        char why[256] = "";
        bool ok = pool_multipart_parse(c->ctype, c->body, strlen(c->body), b, why, sizeof(why));
        if (c->request == NULL) {
            if (ok || strstr(why, c->why) == NULL) {
                fail_msg("%s: %s, want refused with \"%s\" (%s)", c->what,
                         ok ? "accepted" : "refused", c->why, why);
            }
            continue;
        }
        if (!ok) {
            fail_msg("%s: refused: %s", c->what, why);
        }
        const pool_mp_part *r = pool_multipart_get(b, "request");
        if (c->request[0] == '\0') {
            if (r != NULL) {
                fail_msg("%s: found a request part", c->what);
            }
            continue;
        }
        if (r == NULL || r->len != strlen(c->request) || memcmp(r->data, c->request, r->len)) {
            fail_msg("%s: request part is not %s", c->what, c->request);
        }
    }
    free(b);
}

static void
test_parts(void **state)
{
    (void)state;
    pool_mp_body *b = malloc(sizeof(*b));
    assert_non_null(b);
    char why[256];
    static const char body[] = "--B\r\n" CD "\"image\"; filename=\"i.png\"\r\n"
                               "Content-Type: image/png\r\n\r\n\0\r\n\1\r\n"
                               "--B\r\n" CD "\"request\"\r\n\r\n{}\r\n--B--\r\n";
    assert_true(pool_multipart_parse("multipart/form-data; boundary=B", body, sizeof(body) - 1, b,
                                     why, sizeof(why)));
    assert_int_equal(b->nparts, 2);
    assert_string_equal(b->parts[0].name, "image");
    assert_true(b->parts[0].has_filename);
    assert_string_equal(b->parts[0].ctype, "image/png");
    assert_int_equal(b->parts[0].len, 4); /* binary content, CRLF inside kept */
    assert_memory_equal(b->parts[0].data, "\0\r\n\1", 4);
    assert_false(b->parts[1].has_filename);
    /* more parts than the reader holds */
    char big[POOL_MP_MAX_PARTS * 64 + 64];
    size_t n = 0;
    for (int i = 0; i <= POOL_MP_MAX_PARTS; i++) {
        n += (size_t)snprintf(big + n, sizeof(big) - n, "--B\r\n" CD "\"p%d\"\r\n\r\nx\r\n", i);
    }
    n += (size_t)snprintf(big + n, sizeof(big) - n, "--B--");
    assert_false(
        pool_multipart_parse("multipart/form-data; boundary=B", big, n, b, why, sizeof(why)));
    assert_non_null(strstr(why, "more than"));
    free(b);
    /* pool_multipart_is reads the media type only */
    assert_true(pool_multipart_is("multipart/form-data ; boundary=x"));
    assert_false(pool_multipart_is("multipart/form-datax; boundary=x"));
    assert_false(pool_multipart_is(NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
