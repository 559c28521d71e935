// The per-account slowdown (issue 11): failures on one name from every address together make
// an address that has failed on it wait a growing delay (1 s doubling; here 32 s after six
// failures, far longer than the test takes), while an address that has not failed is never
// held back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from './harness.mjs';
import { register, call, assertError } from './auth_helpers.mjs';

let stack;
before(async () => {
  stack = await startStack({ env: { TRUST_PROXY_HEADERS: 'true', AUTH_LOGIN_SLOWDOWN_AFTER: '1' } });
});
after(async () => {
  await stack?.stop();
});

const loginFrom = (ip, username, password) => call(stack, 'POST', '/auth/login', { json: { username, password }, ip });

test('addresses that failed wait; an address that did not is let through at once', async () => {
  const u = await register(stack, 'slow');
  // six addresses, one failure each: each first attempt is never delayed
  for (let i = 1; i <= 6; i++) {
    assertError(await loginFrom(`203.0.113.${i}`, u.username, 'wrong-password'), 401, 'unauthorized');
  }
  // an address that failed must now wait 2^(6-1) s, even with the right password
  const r = await loginFrom('203.0.113.1', u.username, u.password);
  assertError(r, 429, 'rate_limited');
  const wait = Number(r.headers.get('retry-after'));
  assert.ok(wait > 1 && wait <= 32, `Retry-After ${wait}`);
  // a clean address is not held back, and signs in
  const ok = await loginFrom('203.0.113.99', u.username, u.password);
  assert.equal(ok.status, 200, ok.text);
});
