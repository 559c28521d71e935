// Requests the pool refuses before any upstream call are still requests: each leaves a usage
// row (status and error code) the user sees in GET /logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { until } from './harness.mjs';
import { poolStack, pstToken, contributor, imageBody } from './pool_helpers.mjs';

const key = pstToken();
let stack, user;

before(async () => {
  stack = await poolStack({ tokens: [{ token: key }], env: { BASE_RPM: '1000', MAX_RPM: '1000' } });
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
