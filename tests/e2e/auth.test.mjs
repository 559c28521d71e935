// Accounts, sessions, relay keys and admin users, end to end: every row of HTTP-API.md's
// Accounts, Relay keys and /admin/users tables, their error rows, and the cache-TTL promises
// (a revoked key, a disabled user or a changed password stops working within the TTL).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from './harness.mjs';
import {
  freshIp, call, randomName, randomPassword, register, loginOk, assertError, pollUntil,
  craftJwt, tokenVersion, countRows, eventSeen, recordedText, psql,
} from './auth_helpers.mjs';

let stack;
let admin; // { token, id }
const secrets = []; // every password and token handed out, to prove none is ever recorded

before(async () => {
  stack = await startStack({ env: { TRUST_PROXY_HEADERS: 'true', AUTH_LAST_USED_FLUSH_MS: '200' } });
  const token = await loginOk(stack, stack.admin.username, stack.admin.password);
  const me = await call(stack, 'GET', '/auth/me', { token });
  admin = { token, id: me.json.id };
  secrets.push(stack.admin.password, token);
});
after(async () => { await stack?.stop(); });

async function user(prefix) {
  const u = await register(stack, prefix);
  secrets.push(u.password, u.token);
  return u;
}

async function newKey(token, name = 'k') {
  const r = await call(stack, 'POST', '/client-keys', { token, json: { name } });
  assert.equal(r.status, 201, r.text);
  secrets.push(r.json.key);
  return r.json;
}

// ---- Accounts ----

test('register answers 201 {id, username, role}; names are unique ignoring case', async () => {
  const username = randomName('Reg');
  const password = randomPassword();
  let r = await call(stack, 'POST', '/auth/register', { json: { username, password }, ip: freshIp() });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(Object.keys(r.json).sort(), ['id', 'role', 'username']);
  assert.equal(r.json.username, username);
  assert.equal(r.json.role, 'user');
  assert.ok(Number.isInteger(r.json.id) && r.json.id > 0);
  r = await call(stack, 'POST', '/auth/register',
    { json: { username: username.toLowerCase(), password }, ip: freshIp() });
  assertError(r, 409, 'conflict');
  const rows = psql(stack.db, `SELECT password_hash FROM users WHERE lower(username) = lower('${username}')`);
  assert.equal(rows.length, 1);
  assert.match(rows[0][0], /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.ok(!rows[0][0].includes(password));
  secrets.push(password);
});

test('bad registrations get 400 with a sentence and write nothing', async () => {
  const before = countRows(stack, 'users');
  const buckets = () => psql(stack.db, "SELECT count(*) FROM auth_throttle WHERE bucket LIKE 'register-ip:%'")[0][0];
  const bucketsBefore = buckets();
  const name = randomName('bad');
  const cases = [
    { json: { username: 'ab', password: 'long-enough-1' }, why: /username/ },
    { json: { username: 'a'.repeat(33), password: 'long-enough-1' }, why: /username/ },
    { json: { username: 'a'.repeat(10240), password: 'long-enough-1' }, why: /username/ },
    { json: { username: 'has space', password: 'long-enough-1' }, why: /username/ },
    { json: { username: 'caf\u00e9_x', password: 'long-enough-1' }, why: /username/ },
    { json: { username: 42, password: 'long-enough-1' }, why: /username/ },
    { json: { username: name, password: 'short' }, why: /at least 8/ },
    { json: { username: name, password: name.toUpperCase() }, why: /username/ },
    { json: { username: name, password: 'x'.repeat(257) }, why: /password/ },
    { json: { username: name, password: 12345678 }, why: /password/ },
    { json: { username: name }, why: /password.*required/ },
    { json: { password: 'long-enough-1' }, why: /username.*required/ },
    { json: { username: name, password: 'long-enough-1', role: 'admin' }, why: /unknown field 'role'/ },
    { body: '{"username": "x", "password": ', why: /JSON/ },
    { body: '[1, 2]', why: /object/ },
    { body: '', why: /empty/ },
    { body: `{"username":"${name}","username":"${name}2","password":"long-enough-1"}`, why: /JSON|duplicate/ },
    { body: Buffer.concat([Buffer.from('{"username":"'), Buffer.from([0xff, 0xfe]),
      Buffer.from(`","password":"long-enough-1"}`)]), why: /JSON|UTF-8/ },
    { body: `{"username":"${name}\\u0000x","password":"long-enough-1"}`, why: /JSON|NUL|username/ },
  ];
  for (const c of cases) {
    const r = await call(stack, 'POST', '/auth/register', { ...c, ip: freshIp() });
    assertError(r, 400, 'bad_request');
    assert.match(r.json.message, c.why, `${JSON.stringify(c.json ?? String(c.body)).slice(0, 80)} -> ${r.json.message}`);
  }
  assert.equal(countRows(stack, 'users'), before);
  // each case came from a fresh address: a counted one would have made a throttle row
  assert.equal(buckets(), bucketsBefore);
});

test('login answers {access_token, token_type, expires_in} with an HS256 JWT', async () => {
  const u = await user('login');
  const r = await call(stack, 'POST', '/auth/login',
    { json: { username: u.username.toUpperCase(), password: u.password }, ip: freshIp() });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json).sort(), ['access_token', 'expires_in', 'token_type']);
  assert.equal(r.json.token_type, 'bearer');
  assert.equal(r.json.expires_in, 1440 * 60);
  const [h, p] = r.json.access_token.split('.');
  assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url')), { alg: 'HS256', typ: 'JWT' });
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  assert.equal(claims.sub, String(u.id));
  assert.ok(claims.exp - claims.iat === 1440 * 60);
  secrets.push(r.json.access_token);
});

test('a wrong password and an unknown user get the same answer', async () => {
  const u = await user('same');
  const wrong = await call(stack, 'POST', '/auth/login',
    { json: { username: u.username, password: 'not-the-password' }, ip: freshIp() });
  const unknown = await call(stack, 'POST', '/auth/login',
    { json: { username: randomName('ghost'), password: 'not-the-password' }, ip: freshIp() });
  assertError(wrong, 401, 'unauthorized');
  assert.equal(unknown.status, wrong.status);
  assert.deepEqual(unknown.json, wrong.json);
  assert.equal(unknown.headers.get('content-type'), wrong.headers.get('content-type'));
});

test('bad login input gets 400 and is not counted as a failure', async () => {
  const u = await user('badlogin');
  const lower = u.username.toLowerCase();
  for (const json of [{ username: u.username }, { username: u.username, password: '' },
    { username: u.username, password: 'x', extra: 1 }, { username: 'a'.repeat(10240), password: 'x' }]) {
    assertError(await call(stack, 'POST', '/auth/login', { json, ip: freshIp() }), 400, 'bad_request');
  }
  assert.equal(psql(stack.db, `SELECT count(*) FROM auth_throttle WHERE bucket = 'lock:${lower}'`)[0][0], '0');
});

test('GET /auth/me answers the account with pool figures (or null)', async () => {
  const u = await user('me');
  const r = await call(stack, 'GET', '/auth/me', { token: u.token });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json).sort(),
    ['contributed_keys', 'created_at', 'healthy_keys', 'id', 'rate_remaining', 'rate_reset_s', 'role',
      'rpm_limit', 'username']);
  assert.equal(r.json.id, u.id);
  assert.equal(r.json.username, u.username);
  assert.equal(r.json.role, 'user');
  assert.match(r.json.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  for (const k of ['rpm_limit', 'contributed_keys', 'healthy_keys', 'rate_remaining', 'rate_reset_s']) {
    assert.ok(r.json[k] === null || Number.isInteger(r.json[k]), `${k}: ${r.json[k]}`);
  }
  assertError(await call(stack, 'GET', '/auth/me'), 401, 'unauthorized');
});

test('bad Authorization headers get 401 in the error shape with a reason', async () => {
  const u = await user('hdr');
  const [h, p, s] = u.token.split('.');
  const flipped = (str, i) => str.slice(0, i) + (str[i] === 'A' ? 'B' : 'A') + str.slice(i + 1);
  const other = JSON.parse(Buffer.from(p, 'base64url'));
  other.sub = String(admin.id);
  const cases = [
    [{}, /missing/i],
    [{ authorization: '' }, /empty|missing/i],
    [{ authorization: u.token }, /Bearer/],
    [{ authorization: 'Bearer' }, /Bearer|credential/],
    [{ authorization: 'Bearer    ' }, /credential|Bearer/],
    [{ authorization: 'Basic dXNlcjpwdw==' }, /Bearer/],
    [{ authorization: `Bearer ${h}.${p}` }, /malformed|session/],
    [{ authorization: `Bearer ${u.token.slice(0, -10)}` }, /signature|session/],
    [{ authorization: `Bearer ${h}.${flipped(p, 5)}.${s}` }, /signature|malformed|session/],
    [{ authorization: `Bearer ${h}.${Buffer.from(JSON.stringify(other)).toString('base64url')}.${s}` }, /signature/],
    [{ authorization: `Bearer ${h}.${p}.${flipped(s, 3)}` }, /signature/],
    [{ authorization: 'Bearer np-short' }, /relay key/],
    [{ authorization: 'Bearer np-' + 'A'.repeat(33) }, /relay key/],
    [{ authorization: 'Bearer hello' }, /neither|credential/],
  ];
  for (const [headers, why] of cases) {
    const r = await call(stack, 'GET', '/auth/me', { headers });
    assertError(r, 401, 'unauthorized');
    assert.match(r.json.message, why, `${JSON.stringify(headers).slice(0, 60)} -> ${r.json.message}`);
  }
});

test('session tokens: only HS256 under our key, within exp/nbf/iat, at the current version', async () => {
  const u = await user('jwt');
  const now = Math.floor(Date.now() / 1000);
  const tv = tokenVersion(stack, u.id);
  const claims = { sub: String(u.id), tv, iat: now - 10, exp: now + 600 };
  const hs256 = { alg: 'HS256', typ: 'JWT' };
  // a token crafted with the stack's key is accepted: the cases below fail for their reason
  assert.equal((await call(stack, 'GET', '/auth/me', { token: craftJwt(stack, hs256, claims) })).status, 200);
  const bad = [
    craftJwt(stack, hs256, claims, { secret: 'another-secret-of-the-same-length-ok-yes' }),
    craftJwt(stack, { alg: 'HS512', typ: 'JWT' }, claims, { alg: 'sha512' }),
    craftJwt(stack, { alg: 'HS512', typ: 'JWT' }, claims),
    craftJwt(stack, { alg: 'none', typ: 'JWT' }, claims).replace(/[^.]+$/, ''),
    craftJwt(stack, { alg: 'none' }, claims),
    craftJwt(stack, hs256, { ...claims, exp: now - 5 }),
    craftJwt(stack, hs256, { ...claims, nbf: now + 3600 }),
    craftJwt(stack, hs256, { ...claims, iat: now + 3600 }),
    craftJwt(stack, hs256, { ...claims, tv: tv + 1 }),
    craftJwt(stack, hs256, { ...claims, sub: u.id }),
    craftJwt(stack, hs256, { sub: String(u.id), tv, iat: now }),
  ];
  for (const token of bad) {
    assertError(await call(stack, 'GET', '/auth/me', { token }), 401, 'unauthorized');
  }
});

test('changing the password needs the old one and ends earlier sessions', async () => {
  const u = await user('pw');
  const second = await loginOk(stack, u.username, u.password);
  assertError(await call(stack, 'POST', '/auth/password',
    { token: u.token, json: { old_password: 'wrong-password', new_password: 'a-new-password-1' } }), 403, 'forbidden');
  assertError(await call(stack, 'POST', '/auth/password',
    { token: u.token, json: { old_password: u.password, new_password: 'short' } }), 400, 'bad_request');
  assertError(await call(stack, 'POST', '/auth/password',
    { token: u.token, json: { old_password: u.password, new_password: u.username } }), 400, 'bad_request');
  assertError(await call(stack, 'POST', '/auth/password',
    { token: u.token, json: { old_password: u.password } }), 400, 'bad_request');
  assertError(await call(stack, 'POST', '/auth/password',
    { token: u.token, json: { old_password: u.password, new_password: 'a-new-password-1', x: 1 } }), 400, 'bad_request');
  assertError(await call(stack, 'POST', '/auth/password',
    { json: { old_password: u.password, new_password: 'a-new-password-1' } }), 401, 'unauthorized');
  const hash = psql(stack.db, `SELECT password_hash FROM users WHERE id = ${u.id}`)[0][0];
  const newPassword = randomPassword();
  secrets.push(newPassword);
  const r = await call(stack, 'POST', '/auth/password',
    { token: u.token, json: { old_password: u.password, new_password: newPassword } });
  assert.equal(r.status, 204, r.text);
  assert.notEqual(psql(stack.db, `SELECT password_hash FROM users WHERE id = ${u.id}`)[0][0], hash);
  // both earlier sessions stop working within the gateway's cache TTL
  for (const token of [u.token, second]) {
    await pollUntil(async () => (await call(stack, 'GET', '/auth/me', { token })).status === 401,
      10000, 'old session refused');
  }
  assertError(await call(stack, 'POST', '/auth/login',
    { json: { username: u.username, password: u.password }, ip: freshIp() }), 401, 'unauthorized');
  const fresh = await loginOk(stack, u.username, newPassword);
  assert.equal((await call(stack, 'GET', '/auth/me', { token: fresh })).status, 200);
});

// ---- Relay keys ----

test('relay keys: create shows the key once; the database keeps only an HMAC and a prefix', async () => {
  const u = await user('keys');
  const k = await newKey(u.token, 'laptop');
  assert.deepEqual(Object.keys(k).sort(), ['created_at', 'enabled', 'id', 'key', 'last_used_at', 'name', 'prefix']);
  assert.match(k.key, /^np-[A-Za-z0-9]{33,}$/);
  assert.equal(k.name, 'laptop');
  assert.ok(k.key.startsWith(k.prefix) && k.prefix.length < 12 && k.prefix.length > 3);
  const row = psql(stack.db, `SELECT encode(key_hash, 'hex'), prefix, name FROM relay_keys WHERE id = ${k.id}`)[0];
  assert.equal(row[0].length, 64);
  assert.equal(row[1], k.prefix);
  const dump = psql(stack.db, `SELECT row_to_json(k)::text FROM relay_keys k WHERE id = ${k.id}`)[0][0];
  assert.ok(!dump.includes(k.key.slice(3)), 'the key is not stored');
  const list = await call(stack, 'GET', '/client-keys', { token: u.token });
  assert.equal(list.status, 200);
  assert.equal(list.json.length, 1);
  assert.deepEqual(Object.keys(list.json[0]).sort(), ['created_at', 'enabled', 'id', 'last_used_at', 'name', 'prefix']);
  assert.ok(!list.text.includes(k.key));
  // the key authenticates; the relay accepts it (whatever the pool answers, not 401/403)
  assert.equal((await call(stack, 'GET', '/auth/me', { token: k.key })).json.id, u.id);
  const relay = await call(stack, 'GET', '/v1/novelai/models', { token: k.key });
  assert.ok(relay.status !== 401 && relay.status !== 403, `relay answered ${relay.status}: ${relay.text}`);
});

test('relay keys: PATCH renames and toggles; bad input 400; other users see 404', async () => {
  const u = await user('patch');
  const other = await user('other');
  const k = await newKey(u.token, 'one');
  let r = await call(stack, 'PATCH', `/client-keys/${k.id}`, { token: u.token, json: { name: 'renamed' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.name, 'renamed');
  assert.equal(r.json.enabled, true);
  assert.equal(r.json.key, undefined);
  for (const json of [{}, { name: '' }, { name: 'x'.repeat(65) }, { name: 'a\nb' }, { enabled: 'no' },
    { name: 5 }, { key: 'np-x' }]) {
    assertError(await call(stack, 'PATCH', `/client-keys/${k.id}`, { token: u.token, json }), 400, 'bad_request');
  }
  // (an empty body is the earlier pool's request: a rotation, see oldapi.test.mjs)
  assertError(await call(stack, 'POST', '/client-keys', { token: u.token, json: { name: '' } }), 400, 'bad_request');
  assertError(await call(stack, 'POST', '/client-keys', { token: u.token, json: { name: 'r', rotate: 'yes' } }), 400, 'bad_request');
  assertError(await call(stack, 'POST', '/client-keys', { token: u.token, body: 'nope' }), 400, 'bad_request');
  assertError(await call(stack, 'PATCH', `/client-keys/${k.id}`, { token: other.token, json: { name: 'mine' } }), 404, 'not_found');
  assertError(await call(stack, 'DELETE', `/client-keys/${k.id}`, { token: other.token }), 404, 'not_found');
  assertError(await call(stack, 'PATCH', '/client-keys/999999999', { token: u.token, json: { name: 'x' } }), 404, 'not_found');
  assertError(await call(stack, 'GET', '/client-keys'), 401, 'unauthorized');
  assert.equal(psql(stack.db, `SELECT name FROM relay_keys WHERE id = ${k.id}`)[0][0], 'renamed');
  r = await call(stack, 'PATCH', `/client-keys/${k.id}`, { token: u.token, json: { enabled: false, name: 'off' } });
  assert.equal(r.status, 200);
  assert.equal(r.json.enabled, false);
});

test('a disabled relay key stops working within the cache TTL, and works again when enabled', async () => {
  const u = await user('toggle');
  const k = await newKey(u.token);
  assert.equal((await call(stack, 'GET', '/auth/me', { token: k.key })).status, 200);
  await call(stack, 'PATCH', `/client-keys/${k.id}`, { token: u.token, json: { enabled: false } });
  const r = await pollUntil(async () => {
    const x = await call(stack, 'GET', '/auth/me', { token: k.key });
    return x.status === 401 ? x : null;
  }, 10000, 'disabled key refused');
  assertError(r, 401, 'unauthorized');
  await call(stack, 'PATCH', `/client-keys/${k.id}`, { token: u.token, json: { enabled: true } });
  await pollUntil(async () => (await call(stack, 'GET', '/auth/me', { token: k.key })).status === 200,
    10000, 'enabled key accepted');
});

test('a deleted relay key stops working within the cache TTL', async () => {
  const u = await user('del');
  const k = await newKey(u.token);
  assert.equal((await call(stack, 'GET', '/auth/me', { token: k.key })).status, 200);
  const r = await call(stack, 'DELETE', `/client-keys/${k.id}`, { token: u.token });
  assert.equal(r.status, 204);
  assert.equal(psql(stack.db, `SELECT count(*) FROM relay_keys WHERE id = ${k.id}`)[0][0], '0');
  await pollUntil(async () => (await call(stack, 'GET', '/auth/me', { token: k.key })).status === 401,
    10000, 'deleted key refused');
  assertError(await call(stack, 'DELETE', `/client-keys/${k.id}`, { token: u.token }), 404, 'not_found');
});

test('last_used_at is recorded (batched) after a key is used', async () => {
  const u = await user('used');
  const k = await newKey(u.token);
  assert.equal(k.last_used_at, null);
  assert.equal((await call(stack, 'GET', '/auth/me', { token: k.key })).status, 200);
  const key = await pollUntil(async () => {
    const list = await call(stack, 'GET', '/client-keys', { token: u.token });
    return list.json.find((x) => x.id === k.id && x.last_used_at !== null);
  }, 10000, 'last_used_at set');
  assert.match(key.last_used_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

// ---- Admin ----

test('non-admins get 403 on /admin/users; admins get the list', async () => {
  const u = await user('plain');
  assertError(await call(stack, 'GET', '/admin/users', { token: u.token }), 403, 'forbidden');
  assertError(await call(stack, 'PATCH', `/admin/users/${u.id}`, { token: u.token, json: { role: 'admin' } }), 403, 'forbidden');
  assertError(await call(stack, 'GET', '/admin/users'), 401, 'unauthorized');
  const r = await call(stack, 'GET', '/admin/users?limit=500', { token: admin.token });
  assert.equal(r.status, 200, r.text);
  const me = r.json.find((x) => x.id === u.id);
  assert.equal(me.username, u.username);
  for (const k of ['id', 'username', 'role', 'disabled', 'rpm_override', 'created_at', 'relay_keys',
    'last_used_at', 'rpm_limit', 'contributed_keys', 'healthy_keys']) {
    assert.ok(k in me, k);
  }
  assert.ok(!r.text.includes('argon2'), 'no password hashes');
  // usage over the last day, from the usage log
  assert.equal(me.requests_24h, 0);
  psql(stack.db, `INSERT INTO usage_logs (producer_id, seq, time, user_id, route, status) VALUES
    ('t-usage', 1, now() - interval '1 hour', ${u.id}, '/ai/generate-image', 200),
    ('t-usage', 2, now() - interval '2 hours', ${u.id}, '/ai/generate-image', 402),
    ('t-usage', 3, now() - interval '3 hours', ${u.id}, '/ai/generate-image', 200),
    ('t-usage', 4, now() - interval '2 days', ${u.id}, '/ai/generate-image', 200)`);
  const again = (await call(stack, 'GET', '/admin/users?limit=500', { token: admin.token })).json
    .find((x) => x.id === u.id);
  assert.equal(again.requests_24h, 3);
  assert.equal(again.errors_24h, 1);
  const q = await call(stack, 'GET', `/admin/users?q=${u.username.slice(0, 9)}`, { token: admin.token });
  assert.ok(q.json.some((x) => x.id === u.id));
  assertError(await call(stack, 'GET', '/admin/users?limit=0', { token: admin.token }), 400, 'bad_request');
  assertError(await call(stack, 'GET', '/admin/users?limit=abc', { token: admin.token }), 400, 'bad_request');
});

test('admins change role and rpm_override; bad input 400; unknown user 404', async () => {
  const u = await user('promo');
  for (const json of [{}, { role: 'root' }, { disabled: 'yes' }, { rpm_override: -1 },
    { rpm_override: 1.5 }, { rpm_override: '10' }, { username: 'x' }]) {
    assertError(await call(stack, 'PATCH', `/admin/users/${u.id}`, { token: admin.token, json }), 400, 'bad_request');
  }
  assertError(await call(stack, 'PATCH', '/admin/users/999999999', { token: admin.token, json: { role: 'admin' } }), 404, 'not_found');
  let r = await call(stack, 'PATCH', `/admin/users/${u.id}`, { token: admin.token, json: { rpm_override: 7 } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.rpm_override, 7);
  assert.equal(psql(stack.db, `SELECT rpm_override FROM users WHERE id = ${u.id}`)[0][0], '7');
  r = await call(stack, 'PATCH', `/admin/users/${u.id}`, { token: admin.token, json: { rpm_override: null } });
  assert.equal(r.json.rpm_override, null);
  r = await call(stack, 'PATCH', `/admin/users/${u.id}`, { token: admin.token, json: { role: 'admin' } });
  assert.equal(r.status, 200);
  assert.equal(r.json.role, 'admin');
  // the promotion reaches the gateway within the cache TTL
  await pollUntil(async () => (await call(stack, 'GET', '/admin/users', { token: u.token })).status === 200,
    10000, 'new admin accepted');
  r = await call(stack, 'PATCH', `/admin/users/${u.id}`, { token: admin.token, json: { role: 'user' } });
  assert.equal(r.json.role, 'user');
  await pollUntil(async () => (await call(stack, 'GET', '/admin/users', { token: u.token })).status === 403,
    10000, 'demoted admin refused');
  await eventSeen(stack, 'admin.role_changed');
});

test('the last admin cannot be demoted or disabled', async () => {
  const others = psql(stack.db, "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled")[0][0];
  assert.equal(others, '1', 'this test expects the bootstrap admin to be the only admin');
  assertError(await call(stack, 'PATCH', `/admin/users/${admin.id}`, { token: admin.token, json: { role: 'user' } }), 409, 'conflict');
  assertError(await call(stack, 'PATCH', `/admin/users/${admin.id}`, { token: admin.token, json: { disabled: true } }), 409, 'conflict');
  assert.equal(psql(stack.db, `SELECT role, disabled FROM users WHERE id = ${admin.id}`)[0].join(), 'admin,f');
  // with a second admin, the first may step down
  const u = await user('second');
  await call(stack, 'PATCH', `/admin/users/${u.id}`, { token: admin.token, json: { role: 'admin' } });
  const token2 = await pollUntil(async () => {
    const t = await loginOk(stack, u.username, u.password);
    return (await call(stack, 'GET', '/admin/users', { token: t })).status === 200 ? t : null;
  }, 10000, 'second admin');
  let r = await call(stack, 'PATCH', `/admin/users/${admin.id}`, { token: token2, json: { role: 'user' } });
  assert.equal(r.status, 200, r.text);
  assertError(await call(stack, 'PATCH', `/admin/users/${u.id}`, { token: token2, json: { role: 'user' } }), 409, 'conflict');
  r = await call(stack, 'PATCH', `/admin/users/${admin.id}`, { token: token2, json: { role: 'admin' } });
  assert.equal(r.status, 200);
  await pollUntil(async () => (await call(stack, 'GET', '/admin/users', { token: admin.token })).status === 200,
    10000, 'first admin back');
  r = await call(stack, 'PATCH', `/admin/users/${u.id}`, { token: admin.token, json: { role: 'user' } });
  assert.equal(r.status, 200);
});

test("a disabled user's relay key and sessions stop working within the TTL; sign-in is refused", async () => {
  const u = await user('dis');
  const k = await newKey(u.token);
  assert.equal((await call(stack, 'GET', '/auth/me', { token: k.key })).status, 200);
  assert.equal((await call(stack, 'GET', '/auth/me', { token: u.token })).status, 200);
  let r = await call(stack, 'PATCH', `/admin/users/${u.id}`, { token: admin.token, json: { disabled: true } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.disabled, true);
  r = await pollUntil(async () => {
    const x = await call(stack, 'GET', '/auth/me', { token: k.key });
    return x.status === 403 ? x : null;
  }, 10000, 'relay key of a disabled user refused');
  assertError(r, 403, 'forbidden');
  const relay = await pollUntil(async () => {
    const x = await call(stack, 'GET', '/v1/novelai/models', { token: k.key });
    return x.status === 403 || x.status === 401 ? x : null;
  }, 10000, 'relay refused');
  assert.ok(relay.json.error);
  await pollUntil(async () => [401, 403].includes((await call(stack, 'GET', '/auth/me', { token: u.token })).status),
    10000, 'session of a disabled user refused');
  assertError(await call(stack, 'POST', '/auth/login', { json: { username: u.username, password: u.password }, ip: freshIp() }), 403, 'forbidden');
  assertError(await call(stack, 'POST', '/auth/login', { json: { username: u.username, password: 'wrong-wrong' }, ip: freshIp() }), 401, 'unauthorized');
  // enabled again: the key works, the session from before does not (its version is gone)
  await call(stack, 'PATCH', `/admin/users/${u.id}`, { token: admin.token, json: { disabled: false } });
  await pollUntil(async () => (await call(stack, 'GET', '/auth/me', { token: k.key })).status === 200,
    10000, 'key works again');
  assertError(await call(stack, 'GET', '/auth/me', { token: u.token }), 401, 'unauthorized');
  await eventSeen(stack, 'admin.user_disabled');
});

// ---- Events, and what is never recorded ----

test('events are recorded with ids only, and no password, token or key appears anywhere', async () => {
  const u = await user('ev');
  const k = await newKey(u.token);
  await call(stack, 'DELETE', `/client-keys/${k.id}`, { token: u.token });
  await call(stack, 'POST', '/auth/login', { json: { username: u.username, password: 'wrong-password' }, ip: freshIp() });
  for (const type of ['auth.registered', 'auth.login_succeeded', 'auth.login_failed',
    'auth.relay_key_created', 'auth.relay_key_revoked']) {
    await eventSeen(stack, type);
  }
  const text = recordedText(stack);
  for (const s of secrets) {
    assert.ok(!text.includes(s), 'a secret was recorded');
  }
  assert.ok(!text.includes('wrong-password'));
});
