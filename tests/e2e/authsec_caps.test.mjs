// Caps that hold under parallel requests (issue 11): a user's relay keys (AUTH_MAX_RELAY_KEYS)
// and contributed NovelAI keys (MAX_CONTRIBUTED_KEYS_PER_USER), each checked with 20 creates
// sent at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, pstToken, psql } from './harness.mjs';
import { register } from './auth_helpers.mjs';

const tokens = Array.from({ length: 20 }, () => pstToken());
let stack;

before(async () => {
  stack = await startStack({
    tokens: tokens.map((token) => ({ token, tier: 3, anlas: 1000 })),
    env: { TRUST_PROXY_HEADERS: 'true', AUTH_MAX_RELAY_KEYS: '5', MAX_CONTRIBUTED_KEYS_PER_USER: '3',
      KEY_UPLOADS_PER_HOUR: '0' },
  });
});
after(async () => {
  await stack?.stop();
});

test('20 parallel relay-key creates at a cap of 5 make exactly 5 keys', async () => {
  const u = await register(stack, 'rk');
  const all = await Promise.all(Array.from({ length: 20 },
    (_, i) => stack.api('POST', '/client-keys', { token: u.token, json: { name: 'k' + i } })));
  const statuses = all.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 201).length, 5, statuses.join(','));
  assert.equal(statuses.filter((s) => s === 409).length, 15, statuses.join(','));
  assert.equal(psql(stack.db, `SELECT count(*) FROM relay_keys WHERE user_id = ${u.id}`)[0][0], '5');
});

test('20 parallel key contributions at a cap of 3 store exactly 3 keys', async () => {
  const u = await register(stack, 'ck');
  const all = await Promise.all(tokens.map(
    (token) => stack.api('POST', '/keys', { token: u.token, json: { token } })));
  const statuses = all.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 201).length, 3, statuses.join(','));
  const refused = all.filter((r) => r.status !== 201);
  assert.equal(refused.length, 17);
  for (const r of refused) {
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error, 'limit_reached', r.text);
  }
  assert.equal(psql(stack.db, `SELECT count(*) FROM upstream_keys WHERE owner_id = ${u.id}`)[0][0], '3');
  // an admin is not capped
  const admin = await stack.login(stack.admin.username, stack.admin.password);
  const r = await stack.api('POST', '/keys', { token: admin, json: { token: pstToken() } });
  assert.equal(r.status, 201, r.text);
});
