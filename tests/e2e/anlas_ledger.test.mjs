// The fake upstream bills like NovelAI (its own reading of NOVELAI.md, tests/fakes) and keeps a
// per-token ledger of Anlas spent in /__stats. For each money case of issue 9 this file asserts
// that the ledger of a free-only key stays 0 (and a capped paid key is never billed above its
// cap), while free requests (plain, encoded vibes, up to four vibes) are served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { poolStack, pstToken, contributor, imageBody, multipart } from './pool_helpers.mjs';

const key = pstToken();
let stack, user, keyId;

before(async () => {
  stack = await poolStack({ tokens: [{ token: key }], env: { BASE_RPM: '1000', MAX_RPM: '1000' } });
  user = await contributor(stack, [key]); // free use only
  keyId = user.keys[0].id;
});
after(async () => { await stack?.stop(); });

const relay = (method, path, opts = {}) => stack.api(method, '/v1/novelai' + path, { token: user.token, ...opts });
const spent = async () => (await stack.fake.stats()).anlas_spent[key] ?? 0;
const policy = async (json) => {
  const r = await stack.api('PATCH', `/keys/${keyId}`, { token: user.token, json });
  assert.equal(r.status, 200, r.text);
};
/** paid runs fn with the key allowed to pay at most cap per request, then back to free-only. */
async function paid(cap, fn) {
  await policy({ allow_paid: true, max_anlas_per_request: cap });
  try { await fn(); } finally { await policy({ allow_paid: false, max_anlas_per_request: null }); }
}
const encoded = Buffer.from('an encoded vibe, not an image').toString('base64');

test('free requests are served and cost nothing: plain, two encoded vibes, four vibes', async () => {
  for (const params of [{}, { reference_image_multiple: [encoded, encoded], reference_strength_multiple: [0.6, 0.6] },
    { reference_image_multiple: [encoded, encoded, encoded, encoded], reference_strength_multiple: [0.5, 0.5, 0.5, 0.5] }]) {
    const r = await relay('POST', '/ai/generate-image', { json: imageBody(params) });
    assert.equal(r.status, 200, r.text);
  }
  assert.equal(await spent(), 0);
});

test('a cached character reference is not sent to a free-only key', async () => {
  const r = await relay('POST', '/ai/generate-image', {
    json: imageBody({ director_reference_images_cached: [{ cache_secret_key: 'abc', data: 'aGk=' }] }),
  });
  assert.notEqual(r.status, 200, r.text);
  assert.equal(await spent(), 0);
});

test('vibes beyond the fourth (plain and cached) are not sent to a free-only key', async () => {
  const cached = [1, 2, 3].map((i) => ({ cache_secret_key: 'v' + i }));
  const r = await relay('POST', '/ai/generate-image', {
    json: imageBody({ reference_image_multiple: [encoded, encoded], reference_image_multiple_cached: cached }),
  });
  assert.notEqual(r.status, 200, r.text);
  assert.equal(await spent(), 0);
});

test('ambiguous multipart bodies cost nothing: xboundary, two request parts', async () => {
  const dear = JSON.stringify(imageBody({ steps: 50, n_samples: 4 }));
  const cheap = JSON.stringify(imageBody());
  let r = await relay('POST', '/ai/generate-image', {
    body: multipart('AAA', [['request', cheap]]) + multipart('BBB', [['request', dear]]),
    headers: { 'content-type': 'multipart/form-data; xboundary=AAA; boundary=BBB' },
  });
  assert.notEqual(r.status, 200, r.text);
  r = await relay('POST', '/ai/generate-image', {
    body: multipart('BBB', [['request', cheap], ['request', dear]]),
    headers: { 'content-type': 'multipart/form-data; boundary=BBB' },
  });
  assert.notEqual(r.status, 200, r.text);
  assert.equal(await spent(), 0);
});

test('bg-removal (65 at 832x1216) is never billed above max_anlas_per_request, nor on free-only', async () => {
  const body = { req_type: 'bg-removal', width: 832, height: 1216, image: 'aGk=' };
  let r = await relay('POST', '/ai/augment-image', { json: body });
  assert.notEqual(r.status, 200, r.text);
  await paid(64, async () => {
    r = await relay('POST', '/ai/augment-image', { json: body });
    assert.notEqual(r.status, 200, r.text);
  });
  assert.equal(await spent(), 0);
});

test('upscale is priced by size: a 1216x1216 source (2 Anlas) is not billed under a cap of 1', async () => {
  const body = { image: 'aGk=', width: 1216, height: 1216, scale: 4 };
  let r = await relay('POST', '/ai/upscale', { json: body });
  assert.notEqual(r.status, 200, r.text);
  await paid(1, async () => {
    r = await relay('POST', '/ai/upscale', { json: body });
    assert.notEqual(r.status, 200, r.text);
  });
  assert.equal(await spent(), 0);
});

test('inpaint is priced by inpaintImg2ImgStrength, not strength: not billed under a small cap', async () => {
  // 40 steps is billed; with a mask NovelAI scales by inpaintImg2ImgStrength (default 1): 27,
  // where strength 0.01 would have priced it at the minimum, 2.
  const body = imageBody({ steps: 40, strength: 0.01, image: 'aGk=', mask: 'aGk=' }, { action: 'infill' });
  await paid(2, async () => {
    const r = await relay('POST', '/ai/generate-image', { json: body });
    assert.notEqual(r.status, 200, r.text);
  });
  assert.equal(await spent(), 0);
});

test('a vibe sent as an image is encoded and billed: refused on a free-only key, 2 on a paid one', async () => {
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
  const body = imageBody({ reference_image_multiple: [png], reference_strength_multiple: [0.6] });
  const r = await relay('POST', '/ai/generate-image', { json: body });
  assert.equal(r.status, 402, r.text);
  assert.equal(await spent(), 0);
  const before = await spent();
  await paid(10, async () => {
    const p = await relay('POST', '/ai/generate-image', { json: body });
    assert.equal(p.status, 200, p.text);
  });
  assert.equal(await spent() - before, 2, 'the fake billed the encoding the guard priced');
});
