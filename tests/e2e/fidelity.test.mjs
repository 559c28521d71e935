// The relay is NovelAI as clients know it (#9 item 6): the account routes answer in NovelAI's
// live shapes without foreign fields (the pool's own figures are on /auth/me); TTS works by GET
// with 1,000 CJK characters in the query and by POST; the old upscale body goes to the host
// that took it; token counting is relayed; Content-Disposition and Retry-After come back from
// upstream; a base URL with a trailing slash works; CORS works with the documented example
// value. TTS and the old upscale go to NOVELAI_API_BASE, a second fake here, so the host each
// request reached is visible.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { startFake } from './harness.mjs';
import { poolStack, pstToken, contributor, Seen, assertNoToken, imageBody, sha256 } from './pool_helpers.mjs';

const key = pstToken();
const tokens = [{ token: key, anlas: 100000 }];
const seen = new Seen();
// The example value of docs/API section 6, as an operator would paste it.
const CORS_EXAMPLE = 'https://app.example.com, http://localhost:5173';
let stack, apiFake, user;

before(async () => {
  apiFake = await startFake({ tokens });
  stack = seen.wrap(await poolStack({
    tokens,
    env: {
      BASE_RPM: '1000', MAX_RPM: '1000', NOVELAI_API_BASE: apiFake.url,
      CORS_ALLOW_ORIGINS: CORS_EXAMPLE, MAX_RETRIES: '0',
    },
  }));
  // paid use allowed: upscale is always billed
  user = await contributor(stack, [key], { allow_paid: true, max_anlas_per_request: 50 });
});

after(async () => {
  const logs = stack.proc.out + stack.proc.err;
  await stack?.stop();
  await apiFake?.stop();
  assertNoToken([...seen.bodies, logs], [key]);
});

const relay = (method, path, opts = {}) => stack.api(method, '/v1/novelai' + path, { token: user.token, ...opts });

/** Requests the suite on a raw socket, so Origin and the preflight headers go as written. */
function raw(method, path, headers) {
  const u = new URL(stack.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** How many requests a fake saw on route (all tokens). */
async function seenOn(fake, route) {
  const s = await fake.stats();
  return Object.values(s.requests).reduce((n, r) => n + (r[route] || 0), 0);
}

/** The first 24 bytes of a PNG of w x h (what a size reader looks at), and some filler. */
function pngB64(w, h) {
  const b = Buffer.alloc(64);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).copy(b, 0);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(w, 16);
  b.writeUInt32BE(h, 20);
  return b.toString('base64');
}

const SUBSCRIPTION_FIELDS = ['accountType', 'active', 'expiresAt', 'isGracePeriod', 'isPaypal',
  'paymentProcessor', 'perks', 'tier', 'trainingStepsLeft', 'usage'];
const PERKS = ['contextTokens', 'maxPriorityActions', 'moduleTrainingSteps', 'startPriority',
  'unlimitedImageGeneration', 'unlimitedImageGenerationLimits', 'unlimitedMaxPriority'];

function assertSubscription(s) {
  assert.deepEqual(Object.keys(s).sort(), SUBSCRIPTION_FIELDS);
  assert.deepEqual(Object.keys(s.perks).sort(), PERKS);
  assert.deepEqual(Object.keys(s.trainingStepsLeft).sort(), ['fixedTrainingStepsLeft', 'purchasedTrainingSteps']);
  assert.deepEqual(Object.keys(s.usage).sort(), ['isNegative', 'percent', 'timeUntilNextPercent']);
  assert.equal(s.tier, 3);
  assert.equal(s.active, true);
  assert.ok(Number.isInteger(s.expiresAt) && s.expiresAt > Date.now() / 1000);
  assert.equal(s.usage.isNegative, false);
  assert.deepEqual(s.perks.unlimitedImageGenerationLimits, [{ resolution: 1048576, maxPrompts: 1 }]);
}

test('/user/subscription has NovelAI live fields only; the rate is in headers and on /auth/me', async () => {
  const r = await relay('GET', '/user/subscription');
  assert.equal(r.status, 200, r.text);
  assertSubscription(r.json);
  assert.equal(r.headers.get('x-ratelimit-limit'), '1000');
  assert.ok(r.headers.get('x-ratelimit-remaining'));
  const me = await stack.api('GET', '/auth/me', { token: user.token });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.rpm_limit, 1000);
  assert.ok(Number.isInteger(me.json.rate_remaining) && me.json.rate_remaining <= 1000, me.text);
  assert.ok(Number.isInteger(me.json.rate_reset_s) && me.json.rate_reset_s >= 0, me.text);
  assert.equal(await seenOn(stack.fake, '/user/subscription'), 1, 'only the key probe asked upstream');
});

test('/user/data, /user/priority and /user/information answer in NovelAI shape, synthesized', async () => {
  const before = (await stack.fake.stats()).total;
  const p = await relay('GET', '/user/priority');
  assert.equal(p.status, 200, p.text);
  assert.deepEqual(Object.keys(p.json).sort(), ['maxPriorityActions', 'nextRefillAt', 'taskPriority']);
  const i = await relay('GET', '/user/information');
  assert.equal(i.status, 200, i.text);
  assert.deepEqual(Object.keys(i.json).sort(), ['accountCreatedAt', 'emailVerificationLetterSent',
    'emailVerified', 'trialActionsLeft', 'trialActivated', 'trialImagesLeft']);
  const d = await relay('GET', '/user/data');
  assert.equal(d.status, 200, d.text);
  assert.deepEqual(Object.keys(d.json).sort(), ['information', 'keystore', 'priority', 'settings', 'subscription']);
  assertSubscription(d.json.subscription);
  assert.deepEqual(Object.keys(d.json.priority).sort(), Object.keys(p.json).sort());
  assert.deepEqual(d.json.information, i.json);
  assert.deepEqual(d.json.keystore, { keystore: null, changeIndex: 0 });
  assert.equal(typeof d.json.settings, 'string');
  // nothing of a contributor's account left the pool: no key was asked
  assert.equal((await stack.fake.stats()).total, before);
  // still only GET, and still nothing else under /user
  assert.equal((await relay('POST', '/user/data', { json: {} })).status, 404);
  assert.equal((await relay('GET', '/user/keystore')).status, 404);
});

test('TTS by GET carries 1,000 URL-encoded CJK characters to the API host', async () => {
  const text = '这是一个很长的中文句子用来测试语音合成'.repeat(60).slice(0, 1000);
  assert.equal(text.length, 1000);
  const query = `text=${encodeURIComponent(text)}&seed=kurumuz&voice=-1&opus=false&version=v2`;
  assert.ok(query.length > 9000);
  const r = await relay('GET', '/ai/generate-voice?' + query);
  assert.equal(r.status, 200, r.text.slice(0, 200));
  assert.equal(r.headers.get('content-type'), 'audio/mpeg');
  const last = await apiFake.last('/ai/generate-voice');
  assert.equal(last.method, 'GET');
  assert.equal(last.query, query, 'the query arrived byte for byte');
  assert.equal(await seenOn(stack.fake, '/ai/generate-voice'), 0, 'not the image host');
});

test('the relay takes queries up to 16,384 bytes and answers 414 beyond', async () => {
  const head = 'seed=1&voice=-1&opus=false&version=v2&text=';
  const at = (n) => head + 'a'.repeat(n - head.length);
  const ok = await relay('GET', '/ai/generate-voice?' + at(16384));
  assert.notEqual(ok.status, 414, ok.text.slice(0, 200));
  assert.equal((await apiFake.last('/ai/generate-voice')).query.length, 16384);
  const long = await relay('GET', '/ai/generate-voice?' + at(16385));
  assert.equal(long.status, 414, long.text.slice(0, 200));
  assert.equal(long.json.error, 'uri_too_long');
});

test('TTS by POST /ai/generate-voice with a JSON body', async () => {
  const body = JSON.stringify({ text: '你好，世界', seed: 'kurumuz', voice: -1, opus: true, version: 'v2' });
  const r = await relay('POST', '/ai/generate-voice', { body, headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 200, r.text.slice(0, 200));
  assert.equal(r.headers.get('content-type'), 'audio/webm');
  const last = await apiFake.last('/ai/generate-voice');
  assert.equal(last.method, 'POST');
  assert.equal(last.body_sha256, sha256(Buffer.from(body)));
  // a body that is not one JSON object never leaves
  const n = await seenOn(apiFake, '/ai/generate-voice');
  const bad = await relay('POST', '/ai/generate-voice', { body: 'text=hi', headers: { 'content-type': 'application/json' } });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json.error, 'bad_request');
  assert.equal(await seenOn(apiFake, '/ai/generate-voice'), n);
});

test('Content-Disposition comes back from upstream', async () => {
  const r = await relay('GET', '/ai/generate-voice?text=hello&seed=1&voice=-1&opus=false&version=v2');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-disposition'), 'attachment; filename="voice.mp3"');
});

test("upscale's old body {image, width, height, scale} goes to the API host, the current one to the image host", async () => {
  const old = { image: pngB64(512, 768), width: 512, height: 768, scale: 4 };
  const r = await relay('POST', '/ai/upscale', { json: old });
  assert.equal(r.status, 200, r.text.slice(0, 200));
  assert.equal(r.headers.get('content-type'), 'application/x-zip-compressed');
  assert.equal(await seenOn(apiFake, '/ai/upscale'), 1);
  assert.equal(await seenOn(stack.fake, '/ai/upscale'), 0);
  const current = { image: pngB64(512, 768), model: 'nai-diffusion-4-5-full', declared_blur_sigma: 0 };
  await relay('POST', '/ai/upscale', { json: current });
  assert.equal(await seenOn(stack.fake, '/ai/upscale'), 1);
  assert.equal(await seenOn(apiFake, '/ai/upscale'), 1);
});

test('POST /oa/v1/internal/token-count is relayed to the text host', async () => {
  const body = { model: 'glm-4-6', prompt: 'Once upon a time, there was a lighthouse.' };
  const r = await relay('POST', '/oa/v1/internal/token-count', { json: body });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { length: 11 });
  const last = await stack.fake.last('/oa/v1/internal/token-count');
  assert.equal(last.body_sha256, sha256(Buffer.from(JSON.stringify(body))));
});

test('a base URL ending in a slash works', async () => {
  const r = await relay('POST', '//ai/generate-image', { json: imageBody({ seed: 11 }) });
  assert.equal(r.status, 200, r.text.slice(0, 200));
  assert.equal(r.headers.get('content-type'), 'application/x-zip-compressed');
  const last = await stack.fake.last('/ai/generate-image');
  assert.equal(last.path, '/ai/generate-image');
  const s = await relay('GET', '//user/subscription');
  assert.equal(s.status, 200, s.text);
  assertSubscription(s.json);
  // only the leading slashes are forgiven
  assert.equal((await relay('POST', '/ai//generate-image', { json: imageBody() })).status, 404);
});

test('CORS for a browser client with the documented example value', async () => {
  for (const origin of ['http://localhost:5173', 'https://app.example.com']) {
    const pre = await raw('OPTIONS', '/v1/novelai/ai/generate-image', {
      origin, 'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type, x-correlation-id',
    });
    assert.equal(pre.status, 204, origin);
    assert.equal(pre.headers['access-control-allow-origin'], origin);
    assert.match(pre.headers['access-control-allow-methods'], /POST/);
    for (const h of ['Authorization', 'Content-Type', 'x-correlation-id']) {
      assert.ok(pre.headers['access-control-allow-headers'].includes(h), h);
    }
  }
  const get = await raw('GET', '/v1/novelai/ai/generate-voice?text=hi&seed=1&voice=-1&opus=false&version=v2', {
    origin: 'http://localhost:5173', authorization: 'Bearer ' + user.token,
  });
  assert.equal(get.status, 200);
  assert.equal(get.headers['access-control-allow-origin'], 'http://localhost:5173');
  const exposed = get.headers['access-control-expose-headers'].split(/,\s*/);
  for (const h of ['Content-Disposition', 'Retry-After', 'X-RateLimit-Remaining']) assert.ok(exposed.includes(h), h);
  // an origin not listed gets no CORS headers
  const other = await raw('OPTIONS', '/v1/novelai/ai/generate-image', { origin: 'https://evil.example' });
  assert.equal(other.headers['access-control-allow-origin'], undefined);
});

// Last: the 503 cools the only key down.
test('Retry-After comes back from upstream', async () => {
  const r = await relay('GET', '/ai/generate-image/suggest-tags?model=nai-diffusion-4-5-full&prompt=FAKE_UNAVAILABLE&lang=en');
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json.message, 'Service Unavailable', 'NovelAI\'s own answer');
  assert.equal(r.headers.get('retry-after'), '17');
});
