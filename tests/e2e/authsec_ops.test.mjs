// Ops endpoints (issue 11): METRICS_TOKEN guards /metrics, and the merged text is reused for
// METRICS_CACHE_SECONDS instead of asking every instance on each scrape.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from './harness.mjs';
import { assertError } from './auth_helpers.mjs';

let stack;
before(async () => {
  stack = await startStack({ env: { METRICS_TOKEN: 'scrape-token-0123456789', METRICS_CACHE_SECONDS: '60' } });
});
after(async () => {
  await stack?.stop();
});

test('/metrics needs the METRICS_TOKEN when one is set', async () => {
  assertError(await stack.api('GET', '/metrics'), 401, 'unauthorized');
  assertError(await stack.api('GET', '/metrics', { headers: { authorization: 'Bearer wrong-token-0123456789' } }), 401);
  assertError(await stack.api('GET', '/metrics', { headers: { authorization: 'Bearer scrape-token-012345678' } }), 401);
  const r = await stack.api('GET', '/metrics', { headers: { authorization: 'Bearer scrape-token-0123456789' } });
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /naipool_auth_rpc_unauthenticated_total/);
});

test('the merged /metrics answer is reused within METRICS_CACHE_SECONDS', async () => {
  const auth = { authorization: 'Bearer scrape-token-0123456789' };
  const first = await stack.api('GET', '/metrics', { headers: auth });
  for (let i = 0; i < 5; i++) await stack.api('GET', '/healthz'); // counted by the gateway
  const second = await stack.api('GET', '/metrics', { headers: auth });
  assert.equal(second.status, 200);
  assert.equal(second.text, first.text);
});
