// Contributed keys (/keys, /admin/keys, user.limits through /auth/me): persistent tokens only,
// probed on upload, sealed at rest, duplicates refused whoever added them, owners edit and
// withdraw (the ciphertext is gone), admins see every key, and no token ever comes back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newUser } from './harness.mjs';
import { psql } from './auth_helpers.mjs';
import { poolStack, pstToken, contributor, Seen, assertNoToken } from './pool_helpers.mjs';

const good = pstToken(), expired = pstToken(), revoked = pstToken(), tablet = pstToken();
const all = [good, expired, revoked, tablet];
const seen = new Seen();
let stack;

before(async () => {
  stack = seen.wrap(await poolStack({
    tokens: [
      { token: good, tier: 3, anlas: 777, v5_negative: true },
      { token: expired, active: false },
      { token: revoked, behaviour: 'invalid' },
      { token: tablet, tier: 1 },
    ],
    env: { REQUIRE_OPUS_TIER: 'false' }, // Tablet keys may join (compat_settings tests the default)
  }));
});
after(async () => {
  const logs = stack.proc.out + stack.proc.err;
  await stack?.stop();
  assertNoToken([...seen.bodies, logs], all);
});

test('a contributed key is probed, sealed, shown masked, and states follow the probe', async () => {
  const u = await newUser(stack, 'owner');
  let r = await stack.api('POST', '/keys', { token: u.token, json: { token: good, note: 'main' } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.state, 'active');
  assert.equal(r.json.tier, 3);
  assert.equal(r.json.anlas, 777);
  assert.equal(r.json.v5_allowance.used_up, true);
  assert.equal(r.json.note, 'main');
  assert.equal(r.json.masked, `pst-${good.slice(4, 6)}…${good.slice(-2)}`);
  assert.equal(r.json.allow_paid, false);
  const id = r.json.id;
  // at rest: ciphertext (nonce | ct | tag), a 32-byte fingerprint, never the token
  const [[ct, fp, masked]] = psql(stack.db,
    `SELECT encode(ciphertext, 'hex'), length(fingerprint), masked FROM upstream_keys WHERE id = ${id}`);
  assert.equal(ct.length, 2 * (12 + good.length + 16));
  assert.ok(!Buffer.from(ct, 'hex').toString('latin1').includes(good.slice(4)));
  assert.equal(fp, '32');
  assert.ok(masked.startsWith('pst-'));
  const dump = psql(stack.db, 'SELECT row_to_json(k)::text FROM upstream_keys k').flat().join('\n');
  assert.ok(!dump.includes(good.slice(4)));

  for (const [token, state] of [[expired, 'expired'], [revoked, 'invalid'], [tablet, 'active']]) {
    r = await stack.api('POST', '/keys', { token: u.token, json: { token } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.state, state, token === tablet ? 'a Tablet key is usable for paid work' : state);
  }
  r = await stack.api('GET', '/keys', { token: u.token });
  assert.equal(r.status, 200);
  assert.equal(r.json.length, 4);
  for (const k of r.json) {
    for (const f of ['id', 'masked', 'note', 'state', 'tier', 'anlas', 'v5_allowance', 'allow_paid',
      'fail_streak', 'cooldown_until', 'last_checked_at', 'last_error', 'uses_today', 'created_at']) {
      assert.ok(f in k, f);
    }
  }
  // user.limits through /auth/me: 2 healthy (good, tablet) of 4 contributed
  r = await stack.api('GET', '/auth/me', { token: u.token });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.contributed_keys, 4);
  assert.equal(r.json.healthy_keys, 2);
  assert.equal(r.json.rpm_limit, Math.min(60, 5 + 10 * 2));
});

test('a key already in the pool is refused with 409, whoever added it, without saying who', async () => {
  const other = await newUser(stack, 'other');
  const r = await stack.api('POST', '/keys', { token: other.token, json: { token: good } });
  assert.equal(r.status, 409);
  assert.equal(r.json.error, 'conflict');
  assert.ok(!/owner|user/i.test(r.json.message));
  const mine = await stack.api('GET', '/keys', { token: other.token });
  assert.equal(mine.json.some((k) => k.masked.endsWith(good.slice(-2)) && k.tier === 3), false);
});

test('bad uploads get 400 and store nothing', async () => {
  const u = await newUser(stack, 'bad');
  const before = psql(stack.db, 'SELECT count(*) FROM upstream_keys')[0][0];
  const cases = [
    { token: 'ey' + 'a'.repeat(60) },
    { token: 'pst-short' },
    { token: good + '\n' },
    { token: good.slice(0, 20) + '\nX-Evil: 1' + good.slice(20) },
    { token: 'pst-' + 'a'.repeat(129) },
    { token: 'pst-' + 'a'.repeat(40) + ' ' },
    { token: 42 },
    {},
    { token: pstToken(), max_anlas_per_request: -1 },
    { token: pstToken(), anlas_floor: 'lots' },
    { token: pstToken(), surprise: true },
    { token: pstToken(), note: 'two\nlines' },
  ];
  for (const json of cases) {
    const r = await stack.api('POST', '/keys', { token: u.token, json });
    assert.equal(r.status, 400, JSON.stringify(json) + ' ' + r.text);
    assert.equal(r.json.error, 'bad_request');
    assert.equal(typeof r.json.message, 'string');
  }
  let r = await stack.api('POST', '/keys', { token: u.token, body: 'not json', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 400);
  assert.equal(psql(stack.db, 'SELECT count(*) FROM upstream_keys')[0][0], before);
  r = await stack.api('POST', '/keys', { json: { token: pstToken() } });
  assert.equal(r.status, 401);
});

test('owners edit their keys; others cannot see or touch them', async () => {
  const t = pstToken();
  await stack.fake.addTokens([{ token: t }]);
  const u = await contributor(stack, [t]);
  const id = u.keys[0].id;
  let r = await stack.api('PATCH', `/keys/${id}`, { token: u.token,
    json: { note: 'paid ok', allow_paid: true, max_anlas_per_request: 20, anlas_floor: 100 } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.allow_paid, true);
  assert.equal(r.json.max_anlas_per_request, 20);
  assert.equal(r.json.anlas_floor, 100);
  assert.equal(r.json.note, 'paid ok');
  r = await stack.api('PATCH', `/keys/${id}`, { token: u.token, json: { max_anlas_per_request: null } });
  assert.equal(r.json.max_anlas_per_request, null);
  r = await stack.api('PATCH', `/keys/${id}`, { token: u.token, json: { enabled: false } });
  assert.equal(r.json.state, 'disabled');
  r = await stack.api('PATCH', `/keys/${id}`, { token: u.token, json: { enabled: true } });
  assert.equal(r.json.state, 'active');
  r = await stack.api('PATCH', `/keys/${id}`, { token: u.token, json: { token: pstToken() } });
  assert.equal(r.status, 400);
  r = await stack.api('PATCH', `/keys/${id}`, { token: u.token, json: { anlas_floor: -5 } });
  assert.equal(r.status, 400);
  const stranger = await newUser(stack, 'stranger');
  r = await stack.api('PATCH', `/keys/${id}`, { token: stranger.token, json: { note: 'mine now' } });
  assert.equal(r.status, 404);
  r = await stack.api('DELETE', `/keys/${id}`, { token: stranger.token });
  assert.equal(r.status, 404);
  r = await stack.api('GET', '/keys', { token: stranger.token });
  assert.deepEqual(r.json, []);
});

test('admins list every key with its owner and may disable one; the owner cannot undo it', async () => {
  const t = pstToken();
  await stack.fake.addTokens([{ token: t }]);
  const u = await contributor(stack, [t]);
  const id = u.keys[0].id;
  const admin = await stack.login(stack.admin.username, stack.admin.password);
  let r = await stack.api('GET', '/admin/keys', { token: u.token });
  assert.equal(r.status, 403);
  r = await stack.api('GET', '/admin/keys', { token: admin });
  assert.equal(r.status, 200);
  const row = r.json.find((k) => k.id === id);
  assert.equal(row.owner, u.username);
  r = await stack.api('PATCH', `/admin/keys/${id}`, { token: admin, json: { enabled: false } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'disabled');
  assert.equal(r.json.disabled_by, 'admin');
  r = await stack.api('PATCH', `/admin/keys/${id}`, { token: admin, json: { note: 'x' } });
  assert.equal(r.status, 400);
  r = await stack.api('PATCH', `/keys/${id}`, { token: u.token, json: { enabled: true } });
  assert.equal(r.status, 403);
  r = await stack.api('GET', '/admin/stats', { token: admin });
  assert.equal(r.status, 200);
  assert.ok(r.json.keys_by_state.disabled >= 1);
  assert.equal(typeof r.json.queue_depth, 'number');
  assert.equal(r.json.per_minute.length, 60);
  r = await stack.api('GET', '/admin/config', { token: admin });
  assert.ok([200, 404].includes(r.status));
});

test('withdrawing a key deletes its ciphertext', async () => {
  const t = pstToken();
  await stack.fake.addTokens([{ token: t }]);
  const u = await contributor(stack, [t]);
  const id = u.keys[0].id;
  assert.equal(psql(stack.db, `SELECT count(*) FROM upstream_keys WHERE id = ${id} AND ciphertext IS NOT NULL`)[0][0], '1');
  const r = await stack.api('DELETE', `/keys/${id}`, { token: u.token });
  assert.equal(r.status, 204);
  assert.equal(psql(stack.db, `SELECT count(*) FROM upstream_keys WHERE id = ${id}`)[0][0], '0');
  assert.equal((await stack.api('DELETE', `/keys/${id}`, { token: u.token })).status, 404);
  // withdrawn, the same token may be contributed again
  const again = await stack.api('POST', '/keys', { token: u.token, json: { token: t } });
  assert.equal(again.status, 201);
});
