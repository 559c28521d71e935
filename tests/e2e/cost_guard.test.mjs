// The Anlas guard prices requests the way NovelAI bills them (NOVELAI.md) and reads multipart
// bodies the way a standards-correct server reads them: encoded vibes are free, cached
// character references are billed, bg-removal costs 65 at 832x1216, upscale is priced from
// its multipart "request" part, and a body two readers could read differently is refused.
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
const policy = async (json) => {
  const r = await stack.api('PATCH', `/keys/${keyId}`, { token: user.token, json });
  assert.equal(r.status, 200, r.text);
};


const encoded = Buffer.from('an encoded vibe, not an image').toString('base64');

test('two pre-encoded vibes in reference_image_multiple are free: served on a free-only key', async () => {
  const r = await relay('POST', '/ai/generate-image', {
    json: imageBody({ reference_image_multiple: [encoded, encoded], reference_strength_multiple: [0.6, 0.6] }),
  });
  assert.equal(r.status, 200, r.text);
});

test('director_reference_images_cached is billed: 402 naming the references', async () => {
  const r = await relay('POST', '/ai/generate-image', {
    json: imageBody({ director_reference_images_cached: [{ cache_secret_key: 'abc' }] }),
  });
  assert.equal(r.status, 402, r.text);
  assert.equal(r.json.error, 'anlas_protection');
  assert.match(r.json.message, /references/);
});

test('a field the cost model does not know is billed: 402 naming it', async () => {
  const r = await relay('POST', '/ai/generate-image', { json: imageBody({ turbo_mode: true }) });
  assert.equal(r.status, 402, r.text);
  assert.match(r.json.message, /parameters\.turbo_mode/);
});

const dear = JSON.stringify(imageBody({ steps: 50, n_samples: 4 }));
const cheap = JSON.stringify(imageBody());

test('xboundary=AAA; boundary=BBB with parts under both boundaries is refused 400', async () => {
  // A reader that takes xboundary for boundary prices the cheap AAA part; a correct one reads
  // BBB. The body is ambiguous (BBB's parts follow a preamble), so it is refused.
  const body = multipart('AAA', [['request', cheap]]) + multipart('BBB', [['request', dear]]);
  const r = await relay('POST', '/ai/generate-image', {
    body, headers: { 'content-type': 'multipart/form-data; xboundary=AAA; boundary=BBB' },
  });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, 'bad_request');
  assert.match(r.json.message, /boundary/);
  // the same parts under BBB alone: priced from BBB's request part (50 steps: billed)
  const clean = await relay('POST', '/ai/generate-image', {
    body: multipart('BBB', [['request', dear]]),
    headers: { 'content-type': 'multipart/form-data; xboundary=AAA; boundary=BBB' },
  });
  assert.equal(clean.status, 402, clean.text);
  assert.match(clean.json.message, /steps 50 > 28/);
});

test('two request parts, or two boundary parameters, are refused 400', async () => {
  let r = await relay('POST', '/ai/generate-image', {
    body: multipart('BBB', [['request', cheap], ['request', dear]]),
    headers: { 'content-type': 'multipart/form-data; boundary=BBB' },
  });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.message, /two parts named "request"/);
  r = await relay('POST', '/ai/generate-image', {
    body: multipart('BBB', [['request', cheap]]),
    headers: { 'content-type': 'multipart/form-data; boundary=AAA; boundary=BBB' },
  });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.message, /boundary twice/);
  r = await relay('POST', '/ai/generate-image', {
    body: multipart('BBB', [['request', 'steps=50']]),
    headers: { 'content-type': 'multipart/form-data; boundary=BBB' },
  });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.message, /not valid JSON/);
});

test('bg-removal costs 65 at 832x1216: a cap of 64 refuses it, 65 lets it through', async () => {
  const body = { req_type: 'bg-removal', width: 832, height: 1216, image: 'aGk=' };
  await policy({ allow_paid: true, max_anlas_per_request: 64 });
  try {
    let r = await relay('POST', '/ai/augment-image', { json: body });
    assert.equal(r.status, 402, r.text);
    assert.match(r.json.message, /65 Anlas > 64 allowed/);
    await policy({ max_anlas_per_request: 65 });
    r = await relay('POST', '/ai/augment-image', { json: body });
    assert.equal(r.status, 200, r.text);
  } finally {
    await policy({ allow_paid: false, max_anlas_per_request: null });
  }
});

test('multipart on /ai/upscale is priced from its request part', async () => {
  const ct = { 'content-type': 'multipart/form-data; boundary=UUU' };
  const up = (w, h) => multipart('UUU', [['request', JSON.stringify({ image: 'aGk=', width: w, height: h, scale: 4 })]]);
  await policy({ allow_paid: true, max_anlas_per_request: 1 });
  try {
    let r = await relay('POST', '/ai/upscale', { body: up(1024, 1024), headers: ct });
    assert.equal(r.status, 200, r.text);
    r = await relay('POST', '/ai/upscale', { body: up(1216, 1216), headers: ct });
    assert.equal(r.status, 402, r.text);
    assert.match(r.json.message, /2 Anlas > 1 allowed/);
  } finally {
    await policy({ allow_paid: false, max_anlas_per_request: null });
  }
  // never free: a free-only key refuses even the smallest
  const r = await relay('POST', '/ai/upscale', { body: up(512, 512), headers: ct });
  assert.equal(r.status, 402, r.text);
  assert.match(r.json.message, /upscaling is billed/);
});
