// The client address (issue 11): TRUSTED_PROXIES trusts loopback only by default, so a hop on
// a private network cannot pass for another client, and TRUSTED_PROXY_HOPS picks the entry a
// known number of proxies from the right. Seen through the per-address sign-in throttle
// (20 a minute): answers turn 429 only when the gateway saw the same client every time.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api } from './harness.mjs';
import { randomName } from './auth_helpers.mjs';

const stacks = [];
after(async () => {
  for (const s of stacks) await s.stop();
});

async function attempts(stack, xff, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = await api(stack.url, 'POST', '/auth/login', {
      json: { username: randomName('ip'), password: 'some-password' },
      headers: { 'x-forwarded-for': xff(i) },
    });
    out.push(r.status);
  }
  return out;
}

test('by default a private-network hop is not trusted: its X-Forwarded-For is not believed', async () => {
  const stack = await startStack({ env: { TRUST_PROXY_HEADERS: 'true' } });
  stacks.push(stack);
  // each request claims the same client behind a different 10.x "proxy": the 10.x address is
  // the client now, so no address reaches the limit
  const got = await attempts(stack, (i) => `203.0.113.70, 10.1.1.${i + 1}`, 22);
  assert.deepEqual([...new Set(got)], [401], got.join(','));
  // loopback (the harness itself) is still a trusted proxy
  const same = await attempts(stack, () => '203.0.113.71', 21);
  assert.equal(same[20], 429, same.join(','));
});

test('TRUSTED_PROXY_HOPS=2 takes the second entry from the right, whatever the proxies are', async () => {
  const stack = await startStack({ env: { TRUST_PROXY_HEADERS: 'true', TRUSTED_PROXY_HOPS: '2' } });
  stacks.push(stack);
  const got = await attempts(stack, (i) => `198.18.0.${i + 1}, 203.0.113.80, 198.51.100.${i + 1}`, 21);
  assert.deepEqual(got.slice(0, 20), Array(20).fill(401), got.join(','));
  assert.equal(got[20], 429, got.join(','));
});
