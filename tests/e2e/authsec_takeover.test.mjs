// After a takeover (issue 11): a password change revokes the user's relay keys unless asked
// not to, an admin can revoke a user's relay keys, and API answers carry nosniff and a strict
// Content-Security-Policy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, psql, sleep } from './harness.mjs';
import { register, assertError } from './auth_helpers.mjs';

let stack;

before(async () => {
  stack = await startStack({ env: { TRUST_PROXY_HEADERS: 'true' } });
});
after(async () => {
  await stack?.stop();
});

async function mintKey(token) {
  const r = await stack.api('POST', '/client-keys', { token, json: { name: 'k' } });
  assert.equal(r.status, 201, r.text);
  return r.json.key;
}

/** keyWorks waits out the gateway's short credential cache, then asks /auth/me with key. */
async function keyWorks(key) {
  for (let i = 0; i < 60; i++) {
    const r = await stack.api('GET', '/auth/me', { token: key });
    if (r.status !== 200) return false;
    await sleep(100);
  }
  return true;
}

test('a password change revokes every relay key by default', async () => {
  const u = await register(stack, 'pw');
  const key = await mintKey(u.token);
  await mintKey(u.token);
  assert.equal((await stack.api('GET', '/auth/me', { token: key })).status, 200);
  const r = await stack.api('POST', '/auth/password',
    { token: u.token, json: { old_password: u.password, new_password: u.password + '-new' } });
  assert.equal(r.status, 204, r.text);
  assert.equal(psql(stack.db, `SELECT count(*) FROM relay_keys WHERE user_id = ${u.id}`)[0][0], '0');
  assert.equal(await keyWorks(key), false, 'the old relay key still works');
});

test('revoke_relay_keys: false keeps them; a non-boolean is refused', async () => {
  const u = await register(stack, 'keep');
  await mintKey(u.token);
  assertError(await stack.api('POST', '/auth/password', {
    token: u.token, json: { old_password: u.password, new_password: u.password + '-x', revoke_relay_keys: 'yes' },
  }), 400, 'bad_request');
  const r = await stack.api('POST', '/auth/password', {
    token: u.token, json: { old_password: u.password, new_password: u.password + '-new', revoke_relay_keys: false },
  });
  assert.equal(r.status, 204, r.text);
  assert.equal(psql(stack.db, `SELECT count(*) FROM relay_keys WHERE user_id = ${u.id}`)[0][0], '1');
});

test('an admin revokes a user\'s relay keys; a user may not', async () => {
  const u = await register(stack, 'victim');
  const key = await mintKey(u.token);
  assertError(await stack.api('DELETE', `/admin/users/${u.id}/relay-keys`, { token: u.token }), 403);
  const admin = await stack.login(stack.admin.username, stack.admin.password);
  const r = await stack.api('DELETE', `/admin/users/${u.id}/relay-keys`, { token: admin });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { revoked: 1 });
  assert.equal(await keyWorks(key), false);
  assertError(await stack.api('DELETE', '/admin/users/999999999/relay-keys', { token: admin }), 404, 'not_found');
});

test('API answers carry nosniff and a Content-Security-Policy that allows nothing', async () => {
  const u = await register(stack, 'hdr');
  for (const r of [
    await stack.api('GET', '/auth/me', { token: u.token }),
    await stack.api('GET', '/auth/me'),
    await stack.api('GET', '/auth/no-such-route'),
    await stack.api('GET', '/healthz'),
  ]) {
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', `status ${r.status}`);
    assert.equal(r.headers.get('content-security-policy'), "default-src 'none'; sandbox", `status ${r.status}`);
  }
});
