// The log endpoints through the gateway: a user sees only their own usage without key ids
// or IPs, pages with the X-Next-Cursor cursor, gets 400s for bad filters; admins see
// everything with upstream key ids (no ip while LOG_REQUEST_IP is off) and the audit trail;
// /metrics carries the events and audit figures.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, newUser, sleep, psql } from './harness.mjs';

let stack, alice, bob, adminToken;

before(async () => {
  stack = await startStack();
  alice = await newUser(stack, 'alice');
  bob = await newUser(stack, 'bob');
  for (const u of [alice, bob]) {
    const me = await stack.api('GET', '/auth/me', { token: u.token });
    assert.equal(me.status, 200);
    u.id = me.json.id;
  }
  adminToken = await stack.login(stack.admin.username, stack.admin.password);
  // Usage rows as audit writes them from relay.finished events (the relay path is tested
  // elsewhere): alice 3 (one error), bob 2.
  psql(stack.db, `INSERT INTO usage_logs (producer_id, seq, time, request_id, user_id,
      relay_key_id, upstream_key_id, route, model, width, height, steps, n_samples, status,
      error, latency_ms, bytes, node, ip) VALUES
    ('t', 1, now() - interval '3 minutes', 'r1', ${alice.id}, 1, 11, '/ai/generate-image', 'm', 832, 1216, 28, 1, 200, NULL, 900, 1000, 'n', NULL),
    ('t', 2, now() - interval '2 minutes', 'r2', ${alice.id}, 1, 12, '/ai/generate-image', 'm', 832, 1216, 28, 1, 429, 'concurrent_lock', 50, 10, 'n', NULL),
    ('t', 3, now() - interval '1 minutes', 'r3', ${alice.id}, 1, 11, '/ai/generate', 'm', NULL, NULL, NULL, NULL, 200, NULL, 70, 20, 'n', NULL),
    ('t', 4, now() - interval '1 minutes', 'r4', ${bob.id}, 2, 13, '/ai/generate-image', 'm', 832, 1216, 28, 1, 200, NULL, 800, 30, 'n', NULL),
    ('t', 5, now(), 'r5', ${bob.id}, 2, 13, '/ai/generate-image', 'm', 832, 1216, 28, 1, 200, NULL, 800, 30, 'n', NULL)`);
});

after(async () => { await stack?.stop(); });

test('a user sees only their own rows, newest first, without key ids or IPs', async () => {
  const r = await stack.api('GET', '/logs', { token: alice.token });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.map((x) => x.request_id), ['r3', 'r2', 'r1']);
  for (const row of r.json) {
    for (const k of ['upstream_key_id', 'relay_key_id', 'ip', 'user_id']) assert.ok(!(k in row), k);
    for (const k of ['time', 'route', 'model', 'width', 'height', 'steps', 'n_samples', 'status',
      'error', 'latency_ms', 'bytes']) assert.ok(k in row, k);
  }
  assert.equal(r.json[1].error, 'concurrent_lock');
});

test('keyset pagination with X-Next-Cursor, and filters', async () => {
  const p1 = await stack.api('GET', '/logs?limit=2', { token: alice.token });
  assert.equal(p1.json.length, 2);
  const next = p1.headers.get('x-next-cursor');
  assert.ok(next);
  const p2 = await stack.api('GET', `/logs?limit=2&before=${encodeURIComponent(next)}`, { token: alice.token });
  assert.deepEqual(p2.json.map((x) => x.request_id), ['r1']);
  assert.equal(p2.headers.get('x-next-cursor'), null);
  const errs = await stack.api('GET', '/logs?status=error', { token: alice.token });
  assert.deepEqual(errs.json.map((x) => x.request_id), ['r2']);
  const route = await stack.api('GET', '/logs?route=%2Fai%2Fgenerate', { token: alice.token });
  assert.deepEqual(route.json.map((x) => x.request_id), ['r3']);
  const old = await stack.api('GET', '/logs?until=2001-01-01T00:00:00Z', { token: alice.token });
  assert.deepEqual(old.json, []);
  const stats = await stack.api('GET', '/logs/stats?days=2', { token: alice.token });
  assert.equal(stats.status, 200);
  assert.equal(stats.json.total, 3);
  assert.equal(stats.json.errors, 1);
  assert.equal(stats.json.by_day.length, 2);
});

test('bad filters get 400 with a sentence and the error shape', async () => {
  for (const q of ['limit=0', 'limit=501', 'limit=x', 'before=12', 'status=maybe', `user=${bob.id}`,
    'since=later', 'colour=red', 'limit=1&limit=2']) {
    const r = await stack.api('GET', `/logs?${q}`, { token: alice.token });
    assert.equal(r.status, 400, q);
    assert.equal(r.json.error, 'bad_request', q);
    assert.ok(r.json.message.length > 10, q);
  }
  const s = await stack.api('GET', '/logs/stats?days=999', { token: alice.token });
  assert.equal(s.status, 400);
});

test('admins see everyone with key ids (no ip while LOG_REQUEST_IP is off); users get 403', async () => {
  assert.equal((await stack.api('GET', '/admin/logs', { token: alice.token })).status, 403);
  assert.equal((await stack.api('GET', '/admin/audit', { token: alice.token })).status, 403);
  const all = await stack.api('GET', '/admin/logs', { token: adminToken });
  assert.equal(all.status, 200);
  assert.equal(all.json.length, 5);
  const b = await stack.api('GET', `/admin/logs?user=${bob.id}`, { token: adminToken });
  assert.deepEqual(b.json.map((x) => x.upstream_key_id), [13, 13]);
  assert.ok(b.json.every((x) => !('ip' in x) && x.user_id === bob.id));
  assert.equal((await stack.api('GET', '/admin/logs?user=abc', { token: adminToken })).status, 400);
});

test('the audit trail lists what the services reported', async () => {
  // Whatever auth reported about the registrations and logins above is in the table; the
  // endpoint returns exactly those rows, newest first.
  let rows = [];
  for (let i = 0; i < 100; i++) {
    rows = psql(stack.db, 'SELECT count(*) FROM audit_events');
    if (Number(rows[0][0]) > 0) break;
    await sleep(50);
  }
  const n = Number(psql(stack.db, 'SELECT count(*) FROM audit_events')[0][0]);
  const r = await stack.api('GET', '/admin/audit?limit=500', { token: adminToken });
  assert.equal(r.status, 200);
  assert.equal(r.json.length, n);
  for (const row of r.json) {
    assert.equal(typeof row.type, 'string');
    assert.equal(typeof row.details, 'object');
    assert.ok(!JSON.stringify(row.details).includes(alice.password), 'no password in an event');
  }
  assert.equal((await stack.api('GET', '/admin/audit?type=Bad%20Type', { token: adminToken })).status, 400);
});

test('/metrics carries the event producers and the audit sink', async () => {
  const r = await stack.api('GET', '/metrics');
  assert.equal(r.status, 200);
  for (const name of ['naipool_auth_events_outbox_depth', 'naipool_pool_events_dropped_total',
    'naipool_audit_rows_inserted_total', 'naipool_audit_queue_depth']) {
    assert.match(r.text, new RegExp(`^${name}\\{`, 'm'), name);
  }
});
