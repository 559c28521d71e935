// Requests the pool refuses before any upstream call are still requests: each leaves a usage
// row (status and error code) the user sees in GET /logs. A client that leaves while its
// request waits for a key takes the request with it (499 client_closed, nothing upstream).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { until } from './harness.mjs';
import { poolStack, pstToken, contributor, imageBody } from './pool_helpers.mjs';

const key = pstToken();
let stack, user;

before(async () => {
  stack = await poolStack({ tokens: [{ token: key }], env: { BASE_RPM: '1000', MAX_RPM: '1000', USER_MAX_CONCURRENCY: '4' } });
  user = await contributor(stack, [key]); // free use only: the Anlas guard refuses paid requests
});
after(async () => { await stack?.stop(); });

const relay = (method, path, opts = {}) => stack.api(method, '/v1/novelai' + path, { token: user.token, ...opts });

test('a refused generation appears in the user\'s logs with its status and error', async () => {
  const r = await relay('POST', '/ai/generate-image', { json: imageBody({ steps: 40 }) });
  assert.equal(r.status, 402, r.text);
  assert.equal(r.json.error, 'anlas_protection');
  const rid = r.headers.get('x-request-id');
  const row = await until('the usage row of the refusal', async () => {
    const logs = await stack.api('GET', '/logs', { token: user.token });
    return logs.json.find((x) => x.request_id === rid);
  });
  assert.equal(row.status, 402);
  assert.equal(row.error, 'anlas_protection');
  assert.equal(row.route, '/ai/generate-image');
  assert.equal(row.model, 'nai-diffusion-4-5-full');
  assert.equal(row.steps, 40);
  const nf = await relay('GET', '/not/a/route');
  assert.equal(nf.status, 404);
  const nrid = nf.headers.get('x-request-id');
  const nrow = await until('the usage row of the 404', async () => {
    const logs = await stack.api('GET', '/logs', { token: user.token });
    return logs.json.find((x) => x.request_id === nrid);
  });
  assert.equal(nrow.error, 'not_allowed');
});

test('a refusal after the rate check carries X-RateLimit-Limit/Remaining/Reset', async () => {
  const r = await relay('POST', '/ai/generate-image', { json: imageBody({ steps: 40 }) });
  assert.equal(r.status, 402, r.text);
  assert.equal(r.headers.get('x-ratelimit-limit'), '1000');
  assert.match(r.headers.get('x-ratelimit-remaining') ?? '', /^\d+$/);
  assert.ok(Number(r.headers.get('x-ratelimit-remaining')) < 1000);
  assert.match(r.headers.get('x-ratelimit-reset') ?? '', /^\d+$/);
  // before the rate check (a path the relay does not serve) there are no figures to give
  const nf = await relay('GET', '/not/a/route');
  assert.equal(nf.status, 404);
  assert.equal(nf.headers.get('x-ratelimit-limit'), null);
});

/** queueDepth reads the pool's naipool_pool_queue_depth from /metrics. */
async function queueDepth() {
  const m = (await stack.api('GET', '/metrics')).text.match(/^naipool_pool_queue_depth\{[^}]*\} (\d+)$/m);
  return m ? Number(m[1]) : -1;
}

test('a queued request whose client leaves never reaches NovelAI and logs 499', async () => {
  await stack.fake.reset();
  await stack.fake.config({ latency_ms: 2000 });
  let first;
  try {
    // the only key is busy with a first generation; a second one waits for it
    first = relay('POST', '/ai/generate-image', { json: imageBody({ seed: 1 }) });
    await until('the first generation upstream', async () => (await stack.fake.stats()).in_flight === 1);
    const ac = new AbortController();
    const second = fetch(stack.url + '/v1/novelai/ai/generate-image', {
      method: 'POST', signal: ac.signal,
      headers: { authorization: 'Bearer ' + user.token, 'content-type': 'application/json' },
      body: JSON.stringify(imageBody({ seed: 2 })),
    }).catch((e) => e);
    await until('the second request queued', async () => (await queueDepth()) === 1);
    ac.abort();
    await second;
    const row = await until('the 499 usage row', async () => {
      const logs = await stack.api('GET', '/logs?limit=50', { token: user.token });
      return logs.json.find((x) => x.status === 499);
    });
    assert.equal(row.error, 'client_closed');
    assert.equal(await queueDepth(), 0);
  } finally {
    await stack.fake.config({ latency_ms: 0 });
  }
  assert.equal((await first).status, 200);
  // a later request is served next: the abandoned one never went upstream
  const third = await relay('POST', '/ai/generate-image', { json: imageBody({ seed: 3 }) });
  assert.equal(third.status, 200, third.text);
  const stats = await stack.fake.stats();
  const n = Object.values(stats.requests).reduce((a, r) => a + (r['/ai/generate-image'] || 0), 0);
  assert.equal(n, 2, JSON.stringify(stats.requests));
});
