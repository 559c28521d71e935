// The earlier Python pool's HTTP API (SEED-COMPAT.md "Its HTTP API"): each case replays the
// request an old client or script sends, beside today's API, and checks it does what it did
// there. Relay keys keep their scope on the old paths too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { psql } from './harness.mjs';
import { poolStack, pstToken, imageBody, assertNoToken, Seen } from './pool_helpers.mjs';

const tokens = [pstToken(), pstToken()];
const seen = new Seen();
let stack, admin;

before(async () => {
  stack = seen.wrap(await poolStack({ tokens: tokens.map((token) => ({ token })) }));
  admin = await stack.login(stack.admin.username, stack.admin.password);
});

after(async () => {
  const logs = stack.proc.out + stack.proc.err;
  await stack.stop();
  assertNoToken([...seen.bodies, logs], tokens);
});

const name = (p = 'old') => `${p}_${randomBytes(4).toString('hex')}`;
const pw = () => 'pw-' + randomBytes(12).toString('base64url');

/** oldUser signs up the way the old web page did and signs in. */
async function oldUser(extra = {}) {
  const username = name();
  const password = pw();
  const r = await stack.api('POST', '/auth/register', {
    json: { username, email: `${username}@example.org`, password, confirm_password: password, ...extra },
  });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.id, username, password, token: await stack.login(username, password) };
}

test('POST /auth/register {username, email, password, confirm_password}: stored, e-mail unique', async () => {
  const u = await oldUser();
  assert.deepEqual(psql(stack.db, `SELECT email FROM users WHERE id = ${u.id}`), [[`${u.username}@example.org`]]);
  // the same e-mail (any case) again: 409; a mismatched confirmation or a bad e-mail: 400
  let r = await stack.api('POST', '/auth/register', {
    json: { username: name(), email: `${u.username.toUpperCase()}@EXAMPLE.org`, password: pw() },
  });
  assert.equal(r.status, 409, r.text);
  assert.match(r.json.message, /e-mail/);
  const p = pw();
  r = await stack.api('POST', '/auth/register', { json: { username: name(), password: p, confirm_password: p + 'x' } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.message, /confirm_password/);
  r = await stack.api('POST', '/auth/register', { json: { username: name(), password: p, email: 'no at sign' } });
  assert.equal(r.status, 400, r.text);
  // without e-mail, and with an empty one (the old form sent ""), as today
  r = await stack.api('POST', '/auth/register', { json: { username: name(), password: pw() } });
  assert.equal(r.status, 201, r.text);
  r = await stack.api('POST', '/auth/register', { json: { username: name(), password: p, email: '', confirm_password: p } });
  assert.equal(r.status, 201, r.text);
  // sign-in still takes only username and password
  r = await stack.api('POST', '/auth/login', { json: { username: u.username, password: u.password, email: 'x@y.z' } });
  assert.equal(r.status, 400, r.text);
});

test('POST /keys {api_key, verify_now} contributes a key; GET /keys and DELETE /keys/{id} as before', async () => {
  const u = await oldUser();
  const r = await stack.api('POST', '/keys', { token: u.token, json: { api_key: tokens[0], verify_now: true } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.state, 'active');
  const both = await stack.api('POST', '/keys', { token: u.token, json: { api_key: tokens[1], token: tokens[1] } });
  assert.equal(both.status, 400, both.text);
  const list = await stack.api('GET', '/keys', { token: u.token });
  assert.equal(list.json.length, 1);
  assert.equal((await stack.api('DELETE', `/keys/${r.json.id}`, { token: u.token })).status, 204);
});

test('POST /client-keys {rotate} revokes the other relay keys; {} is the old default (rotate)', async () => {
  const u = await oldUser();
  const a = await stack.api('POST', '/client-keys', { token: u.token, json: { name: 'a' } });
  const b = await stack.api('POST', '/client-keys', { token: u.token, json: { name: 'b', rotate: false } });
  assert.equal(a.status, 201, a.text);
  assert.equal(b.status, 201, b.text);
  assert.equal(b.json.revoked, undefined);
  const c = await stack.api('POST', '/client-keys', { token: u.token, json: { name: 'c', rotate: true } });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.json.revoked, 2);
  let list = await stack.api('GET', '/client-keys', { token: u.token });
  assert.deepEqual(list.json.map((k) => k.name), ['c']);
  assert.equal((await stack.api('GET', '/auth/me', { token: a.json.key })).status, 401);
  assert.equal((await stack.api('GET', '/auth/me', { token: c.json.key })).status, 200);
  // the old client sends no name: rotate defaults to true there
  const d = await stack.api('POST', '/client-keys', { token: u.token, json: {} });
  assert.equal(d.status, 201, d.text);
  assert.equal(d.json.revoked, 1);
  list = await stack.api('GET', '/client-keys', { token: u.token });
  assert.deepEqual(list.json.map((k) => k.id), [d.json.id]);
  // PATCH {is_active}
  let p = await stack.api('PATCH', `/client-keys/${d.json.id}`, { token: u.token, json: { is_active: false } });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.enabled, false);
  assert.equal((await stack.api('GET', '/auth/me', { token: d.json.key })).status, 401);
  p = await stack.api('PATCH', `/client-keys/${d.json.id}`, { token: u.token, json: { is_active: true, enabled: false } });
  assert.equal(p.status, 400, p.text);
  assert.equal((await stack.api('DELETE', `/client-keys/${d.json.id}`, { token: u.token })).status, 204);
  // bad rotate
  p = await stack.api('POST', '/client-keys', { token: u.token, json: { name: 'x', rotate: 'yes' } });
  assert.equal(p.status, 400, p.text);
});

test('GET /v1/novelai/models answers a list of ids; ?detail=1 the objects; generate-image relays', async () => {
  const u = await oldUser();
  assert.equal((await stack.api('POST', '/keys', { token: u.token, json: { api_key: tokens[1], verify_now: true } })).status, 201);
  const k = await stack.api('POST', '/client-keys', { token: u.token, json: {} });
  let r = await stack.api('GET', '/v1/novelai/models', { token: k.json.key });
  assert.equal(r.status, 200, r.text);
  assert.ok(Array.isArray(r.json));
  assert.ok(r.json.includes('nai-diffusion-4-5-full'));
  assert.ok(r.json.every((m) => typeof m === 'string'));
  r = await stack.api('GET', '/v1/novelai/models?detail=1', { token: k.json.key });
  assert.ok(r.json.models.some((m) => m.id === 'nai-diffusion-4-5-full' && m.type === 'image'));
  r = await stack.api('POST', '/v1/novelai/generate-image', { token: k.json.key, json: imageBody() });
  assert.equal(r.status, 200, r.text);
  const stats = await stack.fake.stats();
  assert.ok((stats.requests[tokens[1]]?.['/ai/generate-image'] ?? 0) >= 1);
});

test('old admin paths: users {manual_rpm, is_active}, keys toggle, config {key, value}, health-check, proxy-pool', async () => {
  const u = await oldUser();
  let r = await stack.api('PATCH', `/admin/users/${u.id}`, { token: admin, json: { manual_rpm: 7, is_active: false } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(psql(stack.db, `SELECT rpm_override, disabled FROM users WHERE id = ${u.id}`), [['7', 't']]);
  r = await stack.api('PATCH', `/admin/users/${u.id}`, { token: admin, json: { manual_rpm: null, is_active: true } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(psql(stack.db, `SELECT rpm_override IS NULL, disabled FROM users WHERE id = ${u.id}`), [['t', 'f']]);
  r = await stack.api('PATCH', `/admin/users/${u.id}`, { token: admin, json: { manual_rpm: 1, rpm_override: 2 } });
  assert.equal(r.status, 400, r.text);

  const keys = await stack.api('GET', '/admin/keys', { token: admin });
  assert.ok(keys.json.length >= 1, keys.text);
  const id = keys.json[0].id;
  const was = keys.json[0].enabled;
  r = await stack.api('POST', `/admin/keys/${id}/toggle`, { token: admin });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.enabled, !was);
  r = await stack.api('POST', `/admin/keys/${id}/toggle`, { token: admin });
  assert.equal(r.json.enabled, was);
  r = await stack.api('POST', '/admin/keys/999999/toggle', { token: admin });
  assert.equal(r.status, 404, r.text);

  r = await stack.api('POST', '/admin/config', { token: admin, json: { key: 'MAX_RPM', value: '77' } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(psql(stack.db, `SELECT value FROM config WHERE key = 'MAX_RPM'`), [['77']]);
  r = await stack.api('POST', '/admin/config', { token: admin, json: { key: 'MAX_RPM', value: 77 } });
  assert.equal(r.status, 400, r.text);
  r = await stack.api('POST', '/admin/config', { token: admin, json: { key: 'NO_SUCH', value: '1' } });
  assert.equal(r.status, 400, r.text);

  r = await stack.api('POST', '/admin/health-check', { token: admin });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.checked + r.json.failed, keys.json.length);

  r = await stack.api('GET', '/admin/proxy-pool', { token: admin });
  assert.equal(r.status, 200, r.text);
  const today = await stack.api('GET', '/admin/proxies', { token: admin });
  assert.deepEqual(r.json, today.json);
  r = await stack.api('POST', '/admin/proxy-pool', { token: admin, json: {} });
  assert.equal(r.status, 405, r.text);

  // users are refused on every old admin path (u's session ended when it was disabled)
  const plain = await oldUser();
  for (const [m, p] of [['POST', `/admin/keys/${id}/toggle`], ['POST', '/admin/config'], ['POST', '/admin/health-check'], ['GET', '/admin/proxy-pool']]) {
    r = await stack.api(m, p, { token: plain.token, json: m === 'POST' ? {} : undefined });
    assert.equal(r.status, 403, `${m} ${p}: ${r.text}`);
  }
});

test('a relay key stays a relay key on the old paths', async () => {
  const u = await oldUser();
  const k = await stack.api('POST', '/client-keys', { token: u.token, json: { name: 'k' } });
  for (const [m, p, json] of [
    ['POST', '/keys', { api_key: pstToken(), verify_now: true }],
    ['POST', '/client-keys', { rotate: true }],
    ['PATCH', `/client-keys/${k.json.id}`, { is_active: false }],
    ['POST', '/admin/health-check', undefined],
    ['GET', '/admin/proxy-pool', undefined],
  ]) {
    const r = await stack.api(m, p, { token: k.json.key, json });
    assert.equal(r.status, 403, `${m} ${p}: ${r.text}`);
  }
  assert.equal((await stack.api('GET', '/client-keys', { token: u.token })).json.length, 1);
});
