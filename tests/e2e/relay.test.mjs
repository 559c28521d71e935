// The relay (/v1/novelai/...): every route of NOVELAI.md's table reaches the right upstream
// with the body byte for byte and only the allowed headers; answers (ZIP, JSON, binary,
// msgpack and SSE streams) come back byte-exact with their content type; streams arrive event
// by event; bad input never reaches NovelAI; and no token leaves the pool.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newUser } from './harness.mjs';
import {
  poolStack, pstToken, contributor, Seen, assertNoToken, imageBody, sha256, direct,
} from './pool_helpers.mjs';

const key = pstToken();
const seen = new Seen();
let stack, user;

before(async () => {
  stack = seen.wrap(await poolStack({ tokens: [{ token: key, anlas: 100000 }], env: { BASE_RPM: '1000', MAX_RPM: '1000' } }));
  // paid use allowed: encode-vibe and upscale are always billed
  user = await contributor(stack, [key], { allow_paid: true, max_anlas_per_request: 50 });
});
after(async () => {
  const logs = stack.proc.out + stack.proc.err;
  await stack?.stop();
  assertNoToken([...seen.bodies, logs], [key]);
});

const relay = (method, path, opts = {}) => stack.api(method, '/v1/novelai' + path, { token: user.token, ...opts });

/** The fake names each generation "fake-N"; blank N (same length) so two runs compare. */
function sameGen(buf) {
  return Buffer.from(buf.toString('latin1').replace(/fake-(\d+)/g, (m, n) => 'fake-' + '0'.repeat(n.length)), 'latin1');
}

/** Compares the relayed answer with the fake's own answer to the same request. */
async function sameAsDirect(method, path, opts = {}) {
  const upath = path.replace(/^\/generate-image$/, '/ai/generate-image');
  const d = await direct(stack.fake, method, upath, key, opts);
  const r = await relay(method, path, opts).catch((e) => { throw new Error(`${method} ${path}: ${e.message}`); });
  assert.equal(r.status, d.status, `${path}: ${r.text.slice(0, 200)}`);
  assert.equal(r.headers.get('content-type'), d.headers.get('content-type'), path);
  if (/^\/(oa|ai\/generate($|-stream))/.test(path)) {
    // text answers carry ids and timestamps of their own: compare them with digits blanked
    const blank = (b) => b.toString('utf8').replace(/\d+/g, '0');
    assert.equal(blank(r.bytes), blank(d.bytes), `${path}: body differs`);
  } else {
    assert.equal(r.bytes.length, d.bytes.length, `${path}: length differs`);
    assert.equal(sha256(sameGen(r.bytes)), sha256(sameGen(d.bytes)), `${path}: body differs`);
  }
  return r;
}

test('every route of the table answers byte-exact with its content type', async () => {
  const img = Buffer.alloc(64, 7).toString('base64');
  const cases = [
    ['POST', '/ai/generate-image', { json: imageBody() }, 'application/x-zip-compressed'],
    ['POST', '/generate-image', { json: imageBody({ seed: 7 }) }, 'application/x-zip-compressed'],
    ['POST', '/ai/generate-image', { json: imageBody(), headers: { accept: 'application/json' } }, 'application/json'],
    ['POST', '/ai/generate-image-stream', { json: imageBody({ stream: 'msgpack' }) }, 'application/msgpack'],
    ['POST', '/ai/generate-image-stream', { json: imageBody({ stream: 'sse' }) }, 'text/event-stream'],
    ['POST', '/ai/augment-image', { json: { req_type: 'lineart', width: 512, height: 512, image: img } }, 'application/x-zip-compressed'],
    ['POST', '/ai/upscale', { json: { image: img, width: 512, height: 512, scale: 4 } }, 'application/x-zip-compressed'],
    ['POST', '/ai/encode-vibe', { json: { image: img, model: 'nai-diffusion-4-5-full', information_extracted: 1 } }, 'application/binary'],
    ['GET', '/ai/generate-image/suggest-tags?model=nai-diffusion-4-5-full&prompt=blue&lang=en', {}, 'application/json'],
    ['POST', '/ai/generate', { json: { input: 'Once', model: 'kayra-v1', parameters: { max_length: 20 } } }, 'application/json'],
    ['POST', '/ai/generate-stream', { json: { input: 'Once', model: 'llama-3-erato-v1', parameters: {} } }, 'text/event-stream'],
    ['POST', '/oa/v1/completions', { json: { model: 'glm-4-6', prompt: 'Hi' } }, 'application/json'],
    ['POST', '/oa/v1/chat/completions', { json: { model: 'glm-4-6', messages: [{ role: 'user', content: 'Hi' }] } }, 'application/json'],
    ['POST', '/oa/v1/chat/completions', { json: { model: 'glm-4-6', stream: true, messages: [{ role: 'user', content: 'Hi' }] } }, 'text/event-stream'],
    ['GET', '/oa/v1/models', {}, 'application/json'],
    ['GET', '/ai/generate-voice?text=hello&seed=1&voice=-1&opus=false&version=v2', {}, 'audio/mpeg'],
  ];
  for (const [method, path, opts, ctype] of cases) {
    const r = await sameAsDirect(method, path, opts);
    assert.equal(r.status, 200, path);
    assert.ok(r.headers.get('content-type').startsWith(ctype), `${path}: ${r.headers.get('content-type')}`);
    assert.ok(r.headers.get('x-request-id'));
    assert.ok(r.headers.get('x-ratelimit-limit'), path);
  }
  const stats = await stack.fake.stats();
  assert.equal(stats.lock_violations, 0);
});

test('bodies go upstream byte for byte with only the allowed headers and the leased key', async () => {
  const body = JSON.stringify(imageBody({ seed: 9 })) + '   ';
  const r = await relay('POST', '/ai/generate-image', {
    body,
    headers: {
      'content-type': 'application/json', accept: 'application/json', 'x-correlation-id': 'corr-1',
      'x-initiated-at': '2026-01-01T00:00:00Z', cookie: 'session=secret', 'x-forwarded-host': 'evil',
      host: 'image.novelai.net', 'accept-encoding': 'gzip', 'x-custom': 'no',
    },
  });
  assert.equal(r.status, 200);
  const last = await stack.fake.last('/ai/generate-image');
  assert.equal(last.body_sha256, sha256(Buffer.from(body)));
  assert.equal(last.token, key);
  assert.equal(last.headers['x-correlation-id'], 'corr-1');
  assert.equal(last.headers['x-initiated-at'], '2026-01-01T00:00:00Z');
  assert.equal(last.headers.accept, 'application/json');
  for (const h of ['cookie', 'x-forwarded-host', 'accept-encoding', 'x-custom', 'x-request-id']) {
    assert.equal(last.headers[h], undefined, h);
  }
  assert.notEqual(last.host, 'image.novelai.net');
});

test('multipart bodies pass through untouched and are read for the Anlas guard', async () => {
  const boundary = '----naipool' + Date.now();
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, 0, 1, 2, 3, 255]);
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="request"\r\nContent-Type: application/json\r\n\r\n`),
    Buffer.from(JSON.stringify(imageBody({ seed: 11 }))),
    Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`),
    png,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const ct = `multipart/form-data; boundary=${boundary}`;
  const r = await relay('POST', '/ai/generate-image', { body, headers: { 'content-type': ct } });
  assert.equal(r.status, 200, r.text);
  const last = await stack.fake.last('/ai/generate-image');
  assert.equal(last.body_sha256, sha256(body));
  assert.equal(last.headers['content-type'], ct);
  // a multipart body with no request part never leaves
  const before = (await stack.fake.stats()).total;
  const bad = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"\r\n\r\nxx\r\n--${boundary}--\r\n`);
  const b = await relay('POST', '/ai/generate-image', { body: bad, headers: { 'content-type': ct } });
  assert.equal(b.status, 400);
  assert.match(b.json.message, /request/);
  assert.equal((await stack.fake.stats()).total, before);
});

test('a stream reaches the client event by event, before the upstream has finished', async () => {
  await stack.fake.config({ event_delay_ms: 400 });
  try {
    const res = await fetch(stack.url + '/v1/novelai/ai/generate-image-stream', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + user.token, 'content-type': 'application/json' },
      body: JSON.stringify(imageBody({ stream: 'sse', seed: 5 })),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body.getReader();
    const first = await reader.read();
    assert.match(Buffer.from(first.value).toString(), /^event: intermediate/);
    // the upstream is still generating: the later events have not been sent yet
    const stats = await stack.fake.stats();
    assert.equal(stats.in_flight, 1);
    let rest = Buffer.from(first.value);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest = Buffer.concat([rest, Buffer.from(value)]);
    }
    assert.match(rest.toString(), /event: final/);
  } finally {
    await stack.fake.config({ event_delay_ms: 0 });
  }
});

test('a client that leaves mid-stream cancels the upstream transfer', async () => {
  await stack.fake.config({ event_delay_ms: 300 });
  try {
    const ac = new AbortController();
    const res = await fetch(stack.url + '/v1/novelai/ai/generate-image-stream', {
      method: 'POST', signal: ac.signal,
      headers: { authorization: 'Bearer ' + user.token, 'content-type': 'application/json' },
      body: JSON.stringify(imageBody({ stream: 'msgpack', n_samples: 1, seed: 3 })),
    });
    const reader = res.body.getReader();
    await reader.read();
    ac.abort();
    // the fake sees the connection go: nothing stays in flight
    for (let i = 0; i < 100 && (await stack.fake.stats()).in_flight > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await stack.fake.stats()).in_flight, 0);
  } finally {
    await stack.fake.config({ event_delay_ms: 0 });
  }
  // the key rests briefly, then serves again
  let r;
  for (let i = 0; i < 40; i++) {
    r = await relay('POST', '/ai/generate-image', { json: imageBody() });
    if (r.status === 200) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  assert.equal(r.status, 200);
});

test('the pool answers models and a NovelAI-shaped subscription itself', async () => {
  let r = await relay('GET', '/models?detail=1');
  assert.equal(r.status, 200);
  assert.ok(r.json.models.some((m) => m.id === 'nai-diffusion-4-5-full' && m.type === 'image'));
  r = await relay('GET', '/user/subscription');
  assert.equal(r.status, 200);
  assert.equal(r.json.tier, 3);
  assert.equal(r.json.active, true);
  // NovelAI's fields only: the pool's rate is in the headers and on GET /auth/me
  assert.equal(r.json.rate, undefined);
  assert.ok(r.headers.get('x-ratelimit-remaining'));
});

test('bad input gets a clear 4xx and never reaches NovelAI', async () => {
  const before = (await stack.fake.stats()).total;
  const cases = [
    ['POST', '/user/login', { json: { key: 'x' } }, 404, 'not_allowed'],
    ['POST', '/user/create-persistent-token', { json: {} }, 404, 'not_allowed'],
    ['GET', '/user/keystore', {}, 404, 'not_allowed'],
    ['GET', '/ai/generate-image', {}, 404, 'not_allowed'],
    ['POST', '/ai/../user/login', { json: {} }, 404, 'not_allowed'],
    ['POST', '/ai/generate-image', { body: 'not json', headers: { 'content-type': 'application/json' } }, 400, 'bad_request'],
    ['POST', '/ai/generate-image', { json: [1, 2] }, 400, 'bad_request'],
    ['POST', '/ai/generate-image', { json: imageBody({ width: 1e9 }) }, 400, 'bad_request'],
    ['POST', '/ai/generate-image', { json: imageBody({ steps: -1 }) }, 400, 'bad_request'],
    ['POST', '/ai/generate-image', { json: imageBody({ n_samples: 100 }) }, 400, 'bad_request'],
    ['POST', '/ai/generate-image', { json: imageBody({}, { model: 'gpt-9' }) }, 400, 'bad_request'],
    ['POST', '/ai/generate', { json: { input: 'x' } }, 400, 'bad_request'],
  ];
  for (const [method, path, opts, status, code] of cases) {
    const r = await relay(method, path, opts);
    assert.equal(r.status, status, `${method} ${path}: ${r.text.slice(0, 200)}`);
    assert.equal(r.json.error, code, path);
    assert.equal(typeof r.json.message, 'string');
  }
  const r = await stack.api('POST', '/v1/novelai/ai/generate-image', { json: imageBody() });
  assert.equal(r.status, 401);
  assert.equal((await stack.fake.stats()).total, before);
});
