/* Unit tests for the Anlas guard: request reading (JSON, multipart, bad input), the cost
 * model and the owner's policy, with the reasons a refused client reads. The price table's
 * figures are NOVELAI.md's measured prices and worked examples of its formula, written as
 * literal numbers (worked by hand from the formula, never by the code under test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "anlas.h"

static const pool_key_policy opus = {
    .tier = 3, .active = true, .anlas = 1000, .v5_percent = 64, .max_per_request = -1};
/* usage.percent 0.5: inside the default 1% margin (the owner may spend the rest meanwhile) */
static const pool_key_policy opus_v5_low = {
    .tier = 3, .active = true, .anlas = 1000, .v5_percent = 0.5, .max_per_request = -1};
/* never read (an import, a probe without usage): no free V5 image */
static const pool_key_policy opus_v5_unread = {
    .tier = 3, .active = true, .anlas = 1000, .max_per_request = -1};
static const pool_key_policy opus_v5_out = {
    .tier = 3, .active = true, .anlas = 1000, .v5_negative = true, .max_per_request = -1};
static const pool_key_policy tablet = {
    .tier = 1, .active = true, .anlas = 1000, .max_per_request = -1};

static np_err
parse(pool_route_kind kind, const char *ctype, const char *body, pool_anlas_req *r, char *why)
{
    return pool_anlas_parse(kind, ctype, body, strlen(body), NULL, r, why, 256);
}

#define M45 "\"model\":\"nai-diffusion-4-5-full\""
#define M5 "\"model\":\"nai-diffusion-5-full\""
#define M3 "\"model\":\"nai-diffusion-3\""
#define IMG(model, params)                                                                         \
    "{\"input\":\"x\"," model ",\"action\":\"generate\",\"parameters\":{" params "}}"
#define SZ "\"width\":832,\"height\":1216"
#define ENC "\"ZW5jb2RlZC12aWJl\"" /* an encoded vibe: opaque bytes, not an image */
#define CACHED "{\"cache_secret_key\":\"k\"}"
#define PNG_B64 "\"iVBORw0KGgoAAAANSUhEUgAAAEAAAABACAYAAAA\"" /* a 64x64 PNG's head */

typedef struct {
    const char *what;
    pool_route_kind kind;
    const char *body;
    const pool_key_policy *key;
    int64_t cost;
    const char *reason; /* a part of the reason when cost > 0 */
} price_case;

/* Per-sample price at 832x1216 (1,011,712 px): 28 steps ceil(2.99 + 16.30) = 20,
 * 50 steps ceil(2.99 + 29.10) = 33, 40 steps ceil(2.99 + 23.28) = 27. */
static const price_case prices[] = {
    {"free image on Opus", POOL_KIND_IMAGE, IMG(M45, SZ ",\"steps\":28,\"n_samples\":1"), &opus, 0,
     NULL},
    {"the same on Tablet", POOL_KIND_IMAGE, IMG(M45, SZ ",\"steps\":28"), &tablet, 20,
     "active Opus"},
    {"measured: 50 steps, 4 samples", POOL_KIND_IMAGE, IMG(M45, SZ ",\"steps\":50,\"n_samples\":4"),
     &opus, 132, "steps 50 > 28"},
    {"extra samples billed", POOL_KIND_IMAGE, IMG(M45, SZ ",\"n_samples\":2"), &opus, 20,
     "n_samples 2"},
    {"over the free area", POOL_KIND_IMAGE, IMG(M45, "\"width\":1216,\"height\":1216"), &opus, 29,
     "1216x1216 exceeds 1048576 pixels"},
    {"SMEA x1.2", POOL_KIND_IMAGE, IMG(M45, SZ ",\"steps\":40,\"sm\":true"), &opus, 33, "steps"},
    {"SMEA dyn x1.4", POOL_KIND_IMAGE, IMG(M45, SZ ",\"steps\":40,\"sm\":true,\"sm_dyn\":true"),
     &opus, 38, "steps"},
    {"img2img x strength", POOL_KIND_IMAGE,
     "{\"input\":\"x\"," M45 ",\"action\":\"img2img\",\"parameters\":{" SZ
     ",\"steps\":40,\"strength\":0.5,\"image\":\"aGk=\"}}",
     &opus, 14, "steps"},
    {"inpaint x inpaintImg2ImgStrength", POOL_KIND_IMAGE,
     "{\"input\":\"x\"," M45 ",\"action\":\"infill\",\"parameters\":{" SZ
     ",\"steps\":40,\"strength\":0.3,\"inpaintImg2ImgStrength\":0.5,\"image\":\"aGk=\","
     "\"mask\":\"aGk=\"}}",
     &opus, 14, "steps"},
    {"inpaint ignores strength (default 1)", POOL_KIND_IMAGE,
     "{\"input\":\"x\"," M45 ",\"action\":\"infill\",\"parameters\":{" SZ
     ",\"steps\":40,\"strength\":0.3,\"image\":\"aGk=\",\"mask\":\"aGk=\"}}",
     &opus, 27, "steps"},
    {"minimum 2", POOL_KIND_IMAGE, IMG(M45, "\"width\":64,\"height\":64,\"steps\":1"), &tablet, 2,
     "Opus"},
    {"V5 minimum: 2 x 1.5", POOL_KIND_IMAGE, IMG(M5, "\"width\":64,\"height\":64,\"steps\":1"),
     &tablet, 3, "Opus"},
    {"V5 free with allowance", POOL_KIND_IMAGE, IMG(M5, SZ), &opus, 0, NULL},
    {"V5 x1.5 when the allowance is out", POOL_KIND_IMAGE, IMG(M5, SZ), &opus_v5_out, 30,
     "V5 weekly allowance"},
    {"V5 billed within the allowance margin", POOL_KIND_IMAGE, IMG(M5, SZ), &opus_v5_low, 30,
     "within the 1.0% margin"},
    {"V5 billed when the allowance was never read", POOL_KIND_IMAGE, IMG(M5, SZ), &opus_v5_unread,
     30, "V5 weekly allowance at 0.0%"},
    {"V4.5 ignores the V5 allowance", POOL_KIND_IMAGE, IMG(M45, SZ), &opus_v5_low, 0, NULL},
    {"two character references", POOL_KIND_IMAGE,
     IMG(M45, SZ ",\"director_reference_images\":[\"aGk=\",\"aGk=\"]"), &opus, 10, "references"},
    {"cached references, per sample", POOL_KIND_IMAGE,
     IMG(M45, SZ ",\"n_samples\":2,\"director_reference_images_cached\":[" CACHED "," CACHED "]"),
     &opus, 40, "n_samples 2"},
    {"plain and cached references both count", POOL_KIND_IMAGE,
     IMG(M45, SZ ",\"director_reference_images\":[\"aGk=\"],"
                 "\"director_reference_images_cached\":[" CACHED "]"),
     &opus, 10, "references"},
    {"two encoded vibes are free", POOL_KIND_IMAGE,
     IMG(M45, SZ ",\"reference_image_multiple\":[" ENC "," ENC "]"), &opus, 0, NULL},
    {"four cached vibes are free", POOL_KIND_IMAGE,
     IMG(M45,
         SZ ",\"reference_image_multiple_cached\":[" CACHED "," CACHED "," CACHED "," CACHED "]"),
     &opus, 0, NULL},
    {"six vibes over both arrays: 2 beyond the 4th", POOL_KIND_IMAGE,
     IMG(M45, SZ ",\"reference_image_multiple\":[" ENC "," ENC "," ENC "],"
                 "\"reference_image_multiple_cached\":[" CACHED "," CACHED "," CACHED "]"),
     &opus, 4, "beyond the 4th"},
    {"five cached vibes", POOL_KIND_IMAGE,
     IMG(M45, SZ ",\"reference_image_multiple_cached\":[" CACHED "," CACHED "," CACHED "," CACHED
                 "," CACHED "]"),
     &opus, 2, "beyond the 4th"},
    {"V3 vibes carry no surcharge", POOL_KIND_IMAGE,
     IMG(M3, SZ ",\"reference_image_multiple\":[" PNG_B64 "," PNG_B64 "," PNG_B64 "," PNG_B64
                "," PNG_B64 "," PNG_B64 "]"),
     &opus, 0, NULL},
    {"a V4 vibe still an image is encoded (2)", POOL_KIND_IMAGE,
     IMG(M45, SZ ",\"reference_image_multiple\":[" PNG_B64 "]"), &opus, 2, "not encoded"},
    {"unknown parameter", POOL_KIND_IMAGE, IMG(M45, SZ ",\"turbo\":true"), &opus, 20,
     "parameters.turbo"},
    {"unknown top-level field", POOL_KIND_IMAGE,
     "{\"input\":\"x\"," M45 ",\"parameters\":{},\"extra\":1}", &opus, 20, "field extra"},
    {"unknown model", POOL_KIND_IMAGE, IMG("\"model\":\"nai-diffusion-6-full\"", SZ), &opus, 20,
     "model nai-diffusion-6-full"},
    {"cached entry of unknown shape", POOL_KIND_IMAGE,
     IMG(M45, SZ ",\"director_reference_images_cached\":[\"k\"]"), &opus, 25,
     "director_reference_images_cached"},
    {"measured: bg-removal at 832x1216", POOL_KIND_AUGMENT,
     "{\"req_type\":\"bg-removal\"," SZ ",\"image\":\"aGk=\"}", &opus, 65, "background removal"},
    {"colorize free on Opus", POOL_KIND_AUGMENT,
     "{\"req_type\":\"colorize\"," SZ ",\"image\":\"aGk=\",\"prompt\":\"\",\"defry\":0}", &opus, 0,
     NULL},
    {"declutter-keep-bubbles free on Opus", POOL_KIND_AUGMENT,
     "{\"req_type\":\"declutter-keep-bubbles\"," SZ ",\"image\":\"aGk=\"}", &opus, 0, NULL},
    {"a tool on Tablet: a V3 image at 28 steps", POOL_KIND_AUGMENT,
     "{\"req_type\":\"lineart\"," SZ ",\"image\":\"aGk=\"}", &tablet, 20, "Opus"},
    {"a tool beyond the free area", POOL_KIND_AUGMENT,
     "{\"req_type\":\"sketch\",\"width\":1216,\"height\":1216,\"image\":\"aGk=\"}", &opus, 29,
     "pixels"},
    {"a tool with an unknown field", POOL_KIND_AUGMENT,
     "{\"req_type\":\"emotion\"," SZ ",\"image\":\"aGk=\",\"level\":3}", &opus, 20, "field level"},
    {"upscale up to 1,048,576 px", POOL_KIND_UPSCALE,
     "{\"image\":\"aGk=\",\"width\":1024,\"height\":1024,\"scale\":4}", &opus, 1, "upscal"},
    {"upscale up to 1,747,627 px", POOL_KIND_UPSCALE,
     "{\"image\":\"aGk=\",\"width\":1216,\"height\":1216,\"scale\":4}", &opus, 2, "upscal"},
    {"upscale up to 2,446,678 px", POOL_KIND_UPSCALE,
     "{\"image\":\"aGk=\",\"width\":1472,\"height\":1472,\"scale\":2}", &opus, 3, "upscal"},
    {"upscale up to 3,145,728 px", POOL_KIND_UPSCALE,
     "{\"image\":\"aGk=\",\"width\":1536,\"height\":2048,\"scale\":2}", &opus, 4, "upscal"},
    {"upscale sized from the PNG", POOL_KIND_UPSCALE,
     "{\"image\":" PNG_B64 ",\"model\":\"m\",\"declared_blur_sigma\":0}", &opus, 1, "64x64"},
    {"upscale of unknown size: the most", POOL_KIND_UPSCALE, "{\"image\":\"aGk=\",\"model\":\"m\"}",
     &opus, 4, "size unknown"},
    {"upscale of an absurd PNG size: the most", POOL_KIND_UPSCALE,
     "{\"image\":\"iVBORw0KGgoAAAANSUhEUv//////////\",\"model\":\"m\"}", &opus, 4, "size unknown"},
    {"encode-vibe", POOL_KIND_VIBE, "{\"image\":\"aGk=\"," M45 ",\"information_extracted\":1}",
     &opus, 2, "vibe encoding"},
};

static void
test_price_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(prices) / sizeof(prices[0]); i++) {
        const price_case *c = &prices[i];
        pool_anlas_req r;
        char why[256] = "", reason[256] = "";
        np_err err = parse(c->kind, "application/json", c->body, &r, why);
        if (err != NP_ERR_OK) {
            fail_msg("%s: parse failed: %s", c->what, why);
        }
        int64_t cost = pool_anlas_cost(&r, c->key, reason, sizeof(reason));
        if (cost != c->cost || (c->reason != NULL && strstr(reason, c->reason) == NULL)) {
            fail_msg("%s: cost %lld (%s), want %lld (%s)", c->what, (long long)cost, reason,
                     (long long)c->cost, c->reason != NULL ? c->reason : "free");
        }
    }
}

static void
test_parse_json(void **state)
{
    (void)state;
    pool_anlas_req r;
    char why[256];
    assert_int_equal(parse(POOL_KIND_IMAGE, "application/json",
                           "{\"input\":\"x\",\"model\":\"nai-diffusion-4-5-full\",\"action\":"
                           "\"generate\",\"parameters\":{\"width\":1024,\"height\":1024,"
                           "\"steps\":28,\"n_samples\":1}}",
                           &r, why),
                     NP_ERR_OK);
    assert_string_equal(r.model, "nai-diffusion-4-5-full");
    assert_int_equal(r.width, 1024);
    assert_false(r.v5);
    assert_string_equal(r.unknown, "");
    /* defaults */
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, "{\"model\":\"nai-diffusion-5-full\"}", &r, why),
                     NP_ERR_OK);
    assert_int_equal(r.width, 832);
    assert_int_equal(r.height, 1216);
    assert_int_equal(r.steps, 28);
    assert_true(r.v5);
}

static void
test_free_limits(void **state)
{
    (void)state;
    pool_anlas_req r;
    char why[256];
    const char *body = IMG(M45, SZ ",\"steps\":28,\"n_samples\":2");
    /* the settings move the free limits: 2 free samples, 20 steps at most */
    pool_anlas_limits lim = {1048576, 20, 2};
    assert_int_equal(
        pool_anlas_parse(POOL_KIND_IMAGE, NULL, body, strlen(body), &lim, &r, why, sizeof(why)),
        NP_ERR_OK);
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 40);
    assert_string_equal(why, "steps 28 > 20");
    lim.steps = 28;
    assert_int_equal(
        pool_anlas_parse(POOL_KIND_IMAGE, NULL, body, strlen(body), &lim, &r, why, sizeof(why)),
        NP_ERR_OK);
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 0);
}

static void
test_parse_bad(void **state)
{
    (void)state;
    pool_anlas_req r;
    char why[256];
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, "not json", &r, why), NP_ERR_BAD_JSON);
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, "[1,2]", &r, why), NP_ERR_BAD_JSON);
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, "", &r, why), NP_ERR_BAD_JSON);
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, "{\"input\":\"x\"}", &r, why), NP_ERR_INVALID);
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL,
                           "{\"model\":\"m\",\"parameters\":{\"width\":1000000000}}", &r, why),
                     NP_ERR_INVALID);
    assert_non_null(strstr(why, "width"));
    assert_int_equal(
        parse(POOL_KIND_IMAGE, NULL, "{\"model\":\"m\",\"parameters\":{\"steps\":-1}}", &r, why),
        NP_ERR_INVALID);
    assert_non_null(strstr(why, "steps"));
    assert_int_equal(
        parse(POOL_KIND_IMAGE, NULL, "{\"model\":\"m\",\"parameters\":{\"width\":100}}", &r, why),
        NP_ERR_INVALID);
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL,
                           "{\"model\":\"m\",\"parameters\":{\"width\":2048,\"height\":2048}}", &r,
                           why),
                     NP_ERR_INVALID);
    assert_int_equal(
        parse(POOL_KIND_IMAGE, NULL, "{\"model\":\"m\",\"parameters\":{\"steps\":28.5}}", &r, why),
        NP_ERR_INVALID);
    assert_int_equal(
        parse(POOL_KIND_IMAGE, NULL, "{\"model\":\"m\",\"action\":\"explode\"}", &r, why),
        NP_ERR_INVALID);
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL,
                           "{\"model\":\"m\",\"action\":\"img2img\",\"parameters\":"
                           "{\"strength\":3}}",
                           &r, why),
                     NP_ERR_INVALID);
    assert_non_null(strstr(why, "strength"));
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL,
                           "{\"model\":\"m\",\"parameters\":{\"reference_image_multiple\":\"x\"}}",
                           &r, why),
                     NP_ERR_INVALID);
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, "{\"model\":\"m\",\"model\":\"n\"}", &r, why),
                     NP_ERR_BAD_JSON);
    assert_int_equal(parse(POOL_KIND_TEXT, NULL, "{\"input\":\"x\"}", &r, why), NP_ERR_INVALID);
    assert_int_equal(parse(POOL_KIND_AUGMENT, NULL,
                           "{\"req_type\":\"nuke\",\"width\":64,"
                           "\"height\":64}",
                           &r, why),
                     NP_ERR_INVALID);
    assert_int_equal(parse(POOL_KIND_FREE, NULL, "", &r, why), NP_ERR_OK);
}

#define CT "multipart/form-data; boundary=XyZ"
#define PART(name, content)                                                                        \
    "--XyZ\r\nContent-Disposition: form-data; name=\"" name "\"\r\n\r\n" content "\r\n"
#define END "--XyZ--\r\n"
#define REQ50 "{\"input\":\"x\"," M45 ",\"parameters\":{\"steps\":50,\"n_samples\":4}}"

static void
test_parse_multipart(void **state)
{
    (void)state;
    pool_anlas_req r;
    char why[256];
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; "
                       "filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n"
                       "--XyZ\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n"
                       "{\"model\":\"nai-diffusion-3\",\"parameters\":{\"steps\":40}}\r\n"
                       "--XyZ--\r\n";
    assert_int_equal(parse(POOL_KIND_IMAGE, CT, body, &r, why), NP_ERR_OK);
    assert_string_equal(r.model, "nai-diffusion-3");
    assert_int_equal(r.steps, 40);
    assert_int_equal(parse(POOL_KIND_IMAGE, CT, PART("image", "abc") END, &r, why), NP_ERR_INVALID);
    assert_non_null(strstr(why, "request"));
    assert_int_equal(parse(POOL_KIND_IMAGE, "multipart/form-data", body, &r, why), NP_ERR_INVALID);
    assert_int_equal(parse(POOL_KIND_IMAGE, CT,
                           "--XyZ\r\nContent-Disposition: form-data; "
                           "name=\"request\"\r\n\r\n{\"model\":",
                           &r, why),
                     NP_ERR_INVALID);
    /* a part called xrequest is not the request part */
    assert_int_equal(parse(POOL_KIND_IMAGE, CT, PART("xrequest", "{}") END, &r, why),
                     NP_ERR_INVALID);
    /* xboundary is not boundary: BBB is the one a correct reader uses */
    const char *two =
        "--BBB\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n" REQ50 "\r\n--BBB--\r\n";
    assert_int_equal(
        parse(POOL_KIND_IMAGE, "multipart/form-data; xboundary=AAA; boundary=BBB", two, &r, why),
        NP_ERR_OK);
    assert_int_equal(r.steps, 50);
    assert_int_equal(r.n_samples, 4);
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 132);
    /* a request part that is not JSON */
    assert_int_equal(parse(POOL_KIND_IMAGE, CT, PART("request", "steps=50") END, &r, why),
                     NP_ERR_INVALID);
    assert_non_null(strstr(why, "\"request\" part is not valid JSON"));
    assert_int_equal(
        parse(POOL_KIND_IMAGE, CT,
              "--XyZ\r\nContent-Disposition: form-data; name=\"request\"\r\nContent-Type: "
              "text/csv\r\n\r\n{}\r\n--XyZ--\r\n",
              &r, why),
        NP_ERR_INVALID);
    assert_non_null(strstr(why, "must be JSON"));
    /* a mask part makes it an inpaint: inpaintImg2ImgStrength, not strength */
    assert_int_equal(parse(POOL_KIND_IMAGE, CT,
                           PART("request", "{" M45 ",\"action\":\"infill\",\"parameters\":{" SZ
                                           ",\"steps\":40,\"strength\":0.3}}") PART("mask", "m")
                               END,
                           &r, why),
                     NP_ERR_OK);
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 27);
    /* the tools, upscale and encode-vibe take the same form */
    assert_int_equal(parse(POOL_KIND_AUGMENT, CT,
                           PART("request", "{\"req_type\":\"bg-removal\"," SZ "}")
                               PART("image", "i") END,
                           &r, why),
                     NP_ERR_OK);
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 65);
    static const char up[] = PART(
        "request", "{\"model\":\"m\",\"declared_blur_sigma\":0}") "--XyZ\r\nContent-Disposition: "
                                                                  "form-data; name=\"image\"; "
                                                                  "filename=\"i."
                                                                  "png\"\r\n\r\n\x89PNG\r\n\x1a\n\0"
                                                                  "\0\0\rIHDR\0\0\x05\0"
                                                                  "\0\0\x04\0\r\n" END;
    assert_int_equal(
        pool_anlas_parse(POOL_KIND_UPSCALE, CT, up, sizeof(up) - 1, NULL, &r, why, sizeof(why)),
        NP_ERR_OK);
    assert_int_equal(r.width, 1280);
    assert_int_equal(r.height, 1024);
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 2);
    assert_int_equal(parse(POOL_KIND_VIBE, CT, PART("request", "{" M45 "}") END, &r, why),
                     NP_ERR_OK);
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 2);
    assert_int_equal(parse(POOL_KIND_TEXT, CT, PART("request", "{}") END, &r, why), NP_ERR_INVALID);
}

static void
test_policy(void **state)
{
    (void)state;
    char why[256];
    int64_t cost;
    pool_anlas_req r;
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, IMG(M45, SZ ",\"steps\":40"), &r, why),
                     NP_ERR_OK);
    /* free-only key refuses, with the reason */
    assert_false(pool_anlas_fits(&r, &opus, &cost, why, sizeof(why)));
    assert_string_equal(why, "steps 40 > 28");
    assert_int_equal(cost, 27);
    /* paid allowed, under a cap and over a floor */
    pool_key_policy paid = opus;
    paid.allow_paid = true;
    assert_true(pool_anlas_fits(&r, &paid, &cost, why, sizeof(why)));
    paid.max_per_request = 26;
    assert_false(pool_anlas_fits(&r, &paid, &cost, why, sizeof(why)));
    assert_non_null(strstr(why, "allowed per request"));
    paid.max_per_request = -1;
    paid.floor = 995;
    assert_false(pool_anlas_fits(&r, &paid, &cost, why, sizeof(why)));
    assert_non_null(strstr(why, "floor"));
    /* bg-removal (65) does not fit a cap of 64 */
    assert_int_equal(
        parse(POOL_KIND_AUGMENT, NULL, "{\"req_type\":\"bg-removal\"," SZ "}", &r, why), NP_ERR_OK);
    paid.floor = 0;
    paid.max_per_request = 64;
    assert_false(pool_anlas_fits(&r, &paid, &cost, why, sizeof(why)));
    assert_int_equal(cost, 65);
    /* an unknown field never reaches a free-only key, and says why */
    assert_int_equal(parse(POOL_KIND_IMAGE, NULL, IMG(M45, SZ ",\"turbo\":1"), &r, why), NP_ERR_OK);
    assert_false(pool_anlas_fits(&r, &opus, &cost, why, sizeof(why)));
    assert_non_null(strstr(why, "parameters.turbo"));
    /* text is never priced here */
    r = (pool_anlas_req){.kind = POOL_KIND_TEXT};
    assert_int_equal(pool_anlas_cost(&r, &opus, why, sizeof(why)), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_price_table),     cmocka_unit_test(test_parse_json),
        cmocka_unit_test(test_free_limits),     cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_parse_multipart), cmocka_unit_test(test_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
